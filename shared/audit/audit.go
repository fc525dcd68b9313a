// Package audit keeps the append-only, hash-chained audit log of each tenant
// (AUD-01, AUD-02): every entry carries the hash of the one before it, so
// changing, removing or reordering any stored entry breaks the chain, and
// Verify names the first entry where it breaks.
//
// Entries carry no plaintext personal data (AUD-03): actors that look like
// e-mail addresses or phone numbers are recorded as digests, and callers put
// only identifiers and digests in Target and Detail.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"github.com/alto/alto/shared/store"
)

// Store is the part of the storage port the audit log needs.
type Store interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

// Entry is one audit record.
type Entry struct {
	Seq    int64             `json:"seq"`
	Time   time.Time         `json:"time"`
	Type   string            `json:"type"`             // e.g. "auth.login", "audit.read"
	Actor  string            `json:"actor"`            // the subject that acted, or "system"
	Target string            `json:"target,omitempty"` // what was acted on: an ID or a digest
	Detail map[string]string `json:"detail,omitempty"` // identifiers and counts only
	Prev   string            `json:"prev"`             // hash of the entry before; "" for the first
	Hash   string            `json:"hash"`             // hash of this entry, Prev included
}

// Entry types that other packages act on.
const (
	// CrossTenantAccess records a request for another tenant's object; the
	// caller was answered 404 (ACC-03) and detectors watch for these.
	CrossTenantAccess = "access.cross_tenant"
	// ExportCreated records an export with its size in bytes (decimal) in
	// the "bytes" detail; the export-volume detector watches these.
	ExportCreated = "export.created"
)

// ErrConflict is returned by Append when it lost the race for the next
// sequence number too many times in a row.
var ErrConflict = errors.New("audit: too much contention appending")

const (
	partition = "AUDIT"
	entryPfx  = "E#"
)

// Log is the audit log. It may be used concurrently; the tenant comes from
// the context.
type Log struct {
	store Store
	now   func() time.Time
}

// New returns the audit log kept in s. now may be nil (time.Now).
func New(s Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: s, now: now}
}

// Append chains e after the tenant's last entry and stores it; Seq, Time,
// Prev and Hash are set here. Returns the stored entry. When another writer
// takes the next sequence number first, Append waits a random while and
// tries again; it returns ErrConflict if it keeps losing, and ctx's error if
// ctx ends while it waits.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	if e.Type == "" {
		return Entry{}, errors.New("audit: append: entry has no type")
	}
	e.Actor = Actor(e.Actor)
	for attempt := 0; attempt < 50; attempt++ {
		head, err := l.Head(ctx)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Entry{}, err
		}
		e.Seq, e.Prev = head.Seq+1, head.Hash
		e.Time = l.now().UTC()
		if e.Time.Before(head.Time) {
			e.Time = head.Time // keep time monotonic along the chain
		}
		e.Hash = ""
		e.Hash = hashOf(e)
		data, err := json.Marshal(e)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: encode entry: %w", err)
		}
		_, err = l.store.Put(ctx, store.Item{PK: partition, SK: seqKey(e.Seq), Data: data}, store.IfAbsent)
		if errors.Is(err, store.ErrConditionFailed) {
			// Another writer took this sequence number. Wait a random,
			// growing while before reading the head again, so writers that
			// collided spread out instead of colliding again in lockstep.
			if err := pause(ctx, attempt); err != nil {
				return Entry{}, fmt.Errorf("audit: append %s: %w", e.Type, err)
			}
			continue
		}
		if err != nil {
			return Entry{}, fmt.Errorf("audit: append %s: %w", e.Type, err)
		}
		return e, nil
	}
	return Entry{}, ErrConflict
}

// pause waits after the lost attempt (0, 1, ...): a random duration up to
// 1ms, doubled per attempt to at most 64ms. Returns ctx's error if ctx ends
// first.
func pause(ctx context.Context, attempt int) error {
	t := time.NewTimer(rand.N(time.Millisecond << min(attempt, 6)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Head returns the tenant's last entry. Returns store.ErrNotFound if the
// log is empty.
func (l *Log) Head(ctx context.Context) (Entry, error) {
	page, err := l.store.Query(ctx, store.Query{PK: partition, Prefix: entryPfx, Limit: 1, Reverse: true})
	if err != nil {
		return Entry{}, fmt.Errorf("audit: head: %w", err)
	}
	if len(page.Items) == 0 {
		return Entry{}, store.ErrNotFound
	}
	var e Entry
	if err := json.Unmarshal(page.Items[0].Data, &e); err != nil {
		return Entry{}, fmt.Errorf("audit: head entry unreadable: %w", err)
	}
	return e, nil
}

// Filter selects entries for List. Zero fields select everything.
type Filter struct {
	Type     string // exact type, or a prefix ending in "." ("auth.")
	From, To time.Time
	Cursor   string
	Limit    int
}

// List returns entries matching f, oldest first, at most f.Limit of them,
// and the cursor of the next page ("" at the end).
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, string, error) {
	limit := f.Limit
	if limit <= 0 || limit > store.MaxLimit {
		limit = store.DefaultLimit
	}
	var out []Entry
	cursor := f.Cursor
	for len(out) < limit {
		page, err := l.store.Query(ctx, store.Query{PK: partition, Prefix: entryPfx, Cursor: cursor, Limit: limit - len(out)})
		if err != nil {
			return nil, "", fmt.Errorf("audit: list: %w", err)
		}
		for _, it := range page.Items {
			var e Entry
			if err := json.Unmarshal(it.Data, &e); err != nil {
				return nil, "", fmt.Errorf("audit: list: entry %s unreadable: %w", it.SK, err)
			}
			if !f.To.IsZero() && e.Time.After(f.To) {
				return out, "", nil // entries are in time order: nothing later matches
			}
			if f.matches(e) {
				out = append(out, e)
			}
		}
		cursor = page.Next
		if cursor == "" {
			break
		}
	}
	return out, cursor, nil
}

func (f Filter) matches(e Entry) bool {
	if f.Type != "" {
		if strings.HasSuffix(f.Type, ".") {
			if !strings.HasPrefix(e.Type, f.Type) {
				return false
			}
		} else if e.Type != f.Type {
			return false
		}
	}
	return f.From.IsZero() || !e.Time.Before(f.From)
}

// Result is what Verify found.
type Result struct {
	OK          bool   `json:"ok"`
	Entries     int64  `json:"entries"`
	Head        string `json:"head,omitempty"`
	FirstBroken int64  `json:"firstBroken,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// Verify walks the tenant's whole chain in order and checks every entry's
// hash, its link to the entry before and the sequence without gaps. A
// broken chain is a Result with OK false, not an error; errors are reserved
// for failures to read.
func (l *Log) Verify(ctx context.Context) (Result, error) {
	var prev Entry
	var n int64
	cursor := ""
	for {
		page, err := l.store.Query(ctx, store.Query{PK: partition, Prefix: entryPfx, Cursor: cursor, Limit: store.MaxLimit})
		if err != nil {
			return Result{}, fmt.Errorf("audit: verify: %w", err)
		}
		for _, it := range page.Items {
			want := n + 1
			broken := func(reason string) (Result, error) {
				return Result{OK: false, Entries: n, FirstBroken: want, Reason: reason}, nil
			}
			var e Entry
			if err := json.Unmarshal(it.Data, &e); err != nil {
				return broken("entry is unreadable")
			}
			switch {
			case it.SK != seqKey(want) || e.Seq != want:
				return broken("sequence gap: entry missing or out of place")
			case e.Prev != prev.Hash:
				return broken("entry does not link to the one before")
			case e.Hash != hashOf(e):
				return broken("entry content does not match its hash")
			}
			prev, n = e, want
		}
		if page.Next == "" {
			return Result{OK: true, Entries: n, Head: prev.Hash}, nil
		}
		cursor = page.Next
	}
}

// hashOf is the entry's chain hash: SHA-256 over its JSON form with Hash
// empty (Prev included, so each hash covers the whole chain before it).
func hashOf(e Entry) string {
	e.Hash = ""
	data, _ := json.Marshal(e) // an Entry always encodes
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func seqKey(seq int64) string { return entryPfx + fmt.Sprintf("%020d", seq) }

var (
	opaqueID   = regexp.MustCompile(`^[A-Za-z0-9._:|-]{1,128}$`)
	longDigits = regexp.MustCompile(`[0-9]{7,}`)
)

// Actor returns how an acting subject is recorded: as itself when it is an
// opaque identifier, as a digest when it could be personal data (an e-mail
// address, a phone number, anything unusual).
func Actor(sub string) string {
	if sub == "" {
		return "system"
	}
	if opaqueID.MatchString(sub) && !longDigits.MatchString(sub) {
		return sub
	}
	sum := sha256.Sum256([]byte(sub))
	return "sha256:" + hex.EncodeToString(sum[:8])
}
