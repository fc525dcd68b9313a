package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/store"
)

var _ ingest.Tally = (*Service)(nil)

// Rejected is the outcome of a row that was not taken in.
const Rejected contact.Outcome = "rejected"

// blockLines is how many consecutive lines share one block of outcomes: one
// conditional put records a row (or a chunk of rejected rows), and a report
// reads one item per blockLines lines.
const blockLines = 1024

// block holds the outcomes of the lines [n*blockLines, (n+1)*blockLines) of
// an import: which lines have one (so a redelivered row counts once), the
// counts, and the first errors.
type block struct {
	Seen       []byte     `json:"seen"` // bit (line % blockLines)
	Created    int        `json:"created,omitempty"`
	Updated    int        `json:"updated,omitempty"`
	Duplicates int        `json:"duplicates,omitempty"`
	Suppressed int        `json:"suppressed,omitempty"`
	Rejected   int        `json:"rejected,omitempty"`
	Errors     []RowError `json:"errors,omitempty"` // at most MaxErrors
	ErrorCount int        `json:"errorCount,omitempty"`
}

// outcome is what became of one line.
type outcome struct {
	line   int
	result contact.Outcome
	errors []RowError
}

// Row records what became of line of import importID, once: a second report
// of the same line changes nothing. A rejected row's reason is kept among
// the import's errors. It implements ingest.Tally and may be called
// concurrently; returns the store's error if recording fails (the caller
// retries).
func (s *Service) Row(ctx context.Context, importID string, line int, result contact.Outcome, reason string) error {
	o := outcome{line: line, result: result}
	if result == Rejected || reason != "" {
		o.result = Rejected
		o.errors = []RowError{{Line: line, Reason: reason}}
	}
	return s.tally(ctx, importID, []outcome{o})
}

// tally records outcomes, one conditional put per block they touch.
func (s *Service) tally(ctx context.Context, id string, outs []outcome) error {
	byBlock := map[int][]outcome{}
	var order []int
	for _, o := range outs {
		if o.line < 1 {
			return fmt.Errorf("imports: tally %s: line %d: want 1 or more", id, o.line)
		}
		n := o.line / blockLines
		if _, ok := byBlock[n]; !ok {
			order = append(order, n)
		}
		byBlock[n] = append(byBlock[n], o)
	}
	for _, n := range order {
		if err := s.tallyBlock(ctx, id, n, byBlock[n]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) tallyBlock(ctx context.Context, id string, n int, outs []outcome) error {
	k := store.Key{PK: rowsPK + id, SK: fmt.Sprintf("%09d", n)}
	for attempt := 0; attempt < 50; attempt++ {
		var b block
		it, err := s.Store.Get(ctx, k)
		cond := store.IfVersion
		switch {
		case errors.Is(err, store.ErrNotFound):
			cond = store.IfAbsent
		case err != nil:
			return fmt.Errorf("imports: tally %s: %w", id, err)
		default:
			if err := json.Unmarshal(it.Data, &b); err != nil {
				return fmt.Errorf("imports: tally %s: decode: %w", id, err)
			}
		}
		if len(b.Seen) != blockLines/8 {
			b.Seen = make([]byte, blockLines/8)
		}
		changed := false
		for _, o := range outs {
			bit := o.line % blockLines
			if b.Seen[bit/8]&(1<<(bit%8)) != 0 {
				continue // counted before: a redelivery
			}
			b.Seen[bit/8] |= 1 << (bit % 8)
			changed = true
			switch o.result {
			case contact.Created:
				b.Created++
			case contact.Updated:
				b.Updated++
			case contact.Duplicate:
				b.Duplicates++
			case contact.Suppressed:
				b.Suppressed++
			default:
				b.Rejected++
			}
			b.ErrorCount += len(o.errors)
			if room := MaxErrors - len(b.Errors); room > 0 {
				b.Errors = append(b.Errors, o.errors[:min(room, len(o.errors))]...)
			}
		}
		if !changed {
			return nil
		}
		data, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("imports: tally %s: encode: %w", id, err)
		}
		_, err = s.Store.Put(ctx, store.Item{PK: k.PK, SK: k.SK, Data: data, Version: it.Version,
			ExpiresAt: s.now().Add(ReportRetention)}, cond)
		if errors.Is(err, store.ErrConditionFailed) {
			// Another consumer recorded a row of this block meanwhile.
			if err := pause(ctx, attempt); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("imports: tally %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("imports: tally %s: %w", id, store.ErrConditionFailed)
}

// pause waits a random, growing while after a lost race (at most 50ms).
func pause(ctx context.Context, attempt int) error {
	t := time.NewTimer(rand.N(time.Millisecond << min(attempt, 5)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// report adds the outcomes of import id to imp and returns how many rows
// have one.
func (s *Service) report(ctx context.Context, id string, imp *Import) (int, error) {
	cursor := ""
	for {
		page, err := s.Store.Query(ctx, store.Query{PK: rowsPK + id, Cursor: cursor, Limit: store.MaxLimit})
		if err != nil {
			return 0, fmt.Errorf("imports: report %s: %w", id, err)
		}
		for _, it := range page.Items {
			var b block
			if err := json.Unmarshal(it.Data, &b); err != nil {
				return 0, fmt.Errorf("imports: report %s: decode: %w", id, err)
			}
			imp.Created += b.Created
			imp.Updated += b.Updated
			imp.Duplicates += b.Duplicates
			imp.Suppressed += b.Suppressed
			imp.Rejected += b.Rejected
			sort.SliceStable(b.Errors, func(i, j int) bool { return b.Errors[i].Line < b.Errors[j].Line })
			room := MaxErrors - len(imp.Errors)
			shown := min(room, len(b.Errors))
			imp.Errors = append(imp.Errors, b.Errors[:shown]...)
			imp.MoreErrors += b.ErrorCount - shown
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	imp.Accepted = imp.Created + imp.Updated + imp.Duplicates + imp.Suppressed
	return imp.Accepted + imp.Rejected, nil
}
