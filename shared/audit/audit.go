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
	BatchDelete(ctx context.Context, keys []store.Key) error
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
	// anchorSK holds the sequence number and hash of the last entry the
	// retention sweep removed (RET-05): the chain goes on from there.
	anchorSK = "ANCHOR"
)

// Log is the audit log. It may be used concurrently; the tenant comes from
// the context.
type Log struct {
	store Store
	now   func() time.Time
	// Vault, when set, keeps the chain's periodic digests in write-once
	// storage (AUD-02); Verify then holds the chain against them. Set it
	// before first use.
	Vault Vault
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
	// TrimmedThrough is the last entry the retention sweep removed; the
	// chain is verified from the one after it.
	TrimmedThrough int64 `json:"trimmedThrough,omitempty"`
}

// Verify walks the tenant's chain in order and checks every entry's hash,
// its link to the entry before and the sequence without gaps. Where the
// retention sweep removed the oldest entries (RET-05), the chain starts
// after the anchor it left: the first kept entry must link to the last
// removed one. Entries counts the entries checked. A broken chain is a
// Result with OK false, not an error; errors are reserved for failures to
// read.
func (l *Log) Verify(ctx context.Context) (Result, error) {
	anchor, err := l.anchor(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("audit: verify: %w", err)
	}
	sealed, err := l.sealed(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("audit: verify: %w", err)
	}
	if l.Vault != nil {
		recorded, err := l.lastVaultAnchor(ctx)
		if err != nil {
			return Result{}, fmt.Errorf("audit: verify: %w", err)
		}
		switch {
		case recorded == anchor:
		case recorded.Seq > anchor.Seq:
			// A trim recorded its anchor and stopped before moving it: the
			// entry is still there and must match.
			sealed[recorded.Seq] = recorded.Hash
		default:
			return Result{OK: false, FirstBroken: recorded.Seq + 1, TrimmedThrough: anchor.Seq,
				Reason: "the chain's start differs from the one recorded in write-once storage"}, nil
		}
	}
	prev := Entry{Seq: anchor.Seq, Hash: anchor.Hash}
	var n int64
	cursor := ""
	for {
		page, err := l.store.Query(ctx, store.Query{PK: partition, Prefix: entryPfx, Cursor: cursor, Limit: store.MaxLimit})
		if err != nil {
			return Result{}, fmt.Errorf("audit: verify: %w", err)
		}
		for _, it := range page.Items {
			if it.SK <= seqKey(anchor.Seq) {
				continue // removed by a sweep that has not finished deleting
			}
			want := prev.Seq + 1
			broken := func(reason string) (Result, error) {
				return Result{OK: false, Entries: n, FirstBroken: want, Reason: reason, TrimmedThrough: anchor.Seq}, nil
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
			case sealed[e.Seq] != "" && sealed[e.Seq] != e.Hash:
				return broken("entry differs from its digest in write-once storage")
			}
			prev = e
			n++
		}
		if page.Next == "" {
			if n == 0 && anchor.Seq > 0 {
				return Result{OK: false, FirstBroken: anchor.Seq + 1, TrimmedThrough: anchor.Seq,
					Reason: "the chain's head is missing: retention never removes it"}, nil
			}
			// A digest beyond the last entry: the chain's tail was removed.
			for seq := range sealed {
				if seq > prev.Seq {
					return Result{OK: false, Entries: n, FirstBroken: prev.Seq + 1, TrimmedThrough: anchor.Seq,
						Reason: "entries sealed in write-once storage are missing from the end of the chain"}, nil
				}
			}
			return Result{OK: true, Entries: n, Head: prev.Hash, TrimmedThrough: anchor.Seq}, nil
		}
		cursor = page.Next
	}
}

// anchor is where the kept chain starts: the last entry removed by
// retention, or the zero anchor of a chain never trimmed.
type anchor struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func (l *Log) anchor(ctx context.Context) (anchor, error) {
	it, err := l.store.Get(ctx, store.Key{PK: partition, SK: anchorSK})
	if errors.Is(err, store.ErrNotFound) {
		return anchor{}, nil
	}
	if err != nil {
		return anchor{}, err
	}
	var a anchor
	if err := json.Unmarshal(it.Data, &a); err != nil {
		return anchor{}, fmt.Errorf("anchor unreadable: %w", err)
	}
	return a, nil
}

// Due returns the keys of up to limit of the tenant's oldest entries
// written before cutoff, oldest first, for the retention sweep (RET-05).
// The newest entry is never due: the chain always keeps its head.
func (l *Log) Due(ctx context.Context, cutoff time.Time, limit int) ([]store.Key, error) {
	head, err := l.Head(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []store.Key
	page, err := l.store.Query(ctx, store.Query{PK: partition, Prefix: entryPfx, Limit: min(limit, store.MaxLimit)})
	if err != nil {
		return nil, fmt.Errorf("audit: due: %w", err)
	}
	for _, it := range page.Items {
		var e Entry
		if err := json.Unmarshal(it.Data, &e); err != nil {
			return nil, fmt.Errorf("audit: due: entry %s unreadable: %w", it.SK, err)
		}
		if e.Seq >= head.Seq || !e.Time.Before(cutoff) {
			break
		}
		keys = append(keys, store.Key{PK: partition, SK: it.SK})
	}
	return keys, nil
}

// Trim removes the entries at keys (a prefix of the chain, as Due returns
// it). It first moves the anchor to the newest of them, so the chain
// verifies from there whether or not the deletion completes; running it
// again after a crash finishes the job.
func (l *Log) Trim(ctx context.Context, keys []store.Key) error {
	if len(keys) == 0 {
		return nil
	}
	last := keys[0]
	for _, k := range keys {
		if k.PK != partition || !strings.HasPrefix(k.SK, entryPfx) {
			return fmt.Errorf("audit: trim: %s/%s is not an entry: %w", k.PK, k.SK, store.ErrInvalid)
		}
		if k.SK > last.SK {
			last = k
		}
	}
	it, err := l.store.Get(ctx, last)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Deleted by an earlier run, which moved the anchor first.
	case err != nil:
		return fmt.Errorf("audit: trim: %w", err)
	default:
		var e Entry
		if err := json.Unmarshal(it.Data, &e); err != nil {
			return fmt.Errorf("audit: trim: entry %s unreadable: %w", it.SK, err)
		}
		cur, err := l.anchor(ctx)
		if err != nil {
			return fmt.Errorf("audit: trim: %w", err)
		}
		if e.Seq > cur.Seq {
			if err := l.vaultAnchor(ctx, anchor{Seq: e.Seq, Hash: e.Hash}); err != nil {
				return fmt.Errorf("audit: trim: record anchor: %w", err)
			}
			data, _ := json.Marshal(anchor{Seq: e.Seq, Hash: e.Hash})
			if _, err := l.store.Put(ctx, store.Item{PK: partition, SK: anchorSK, Data: data}, store.Always); err != nil {
				return fmt.Errorf("audit: trim: move anchor: %w", err)
			}
		}
	}
	if err := l.store.BatchDelete(ctx, keys); err != nil {
		return fmt.Errorf("audit: trim: %w", err)
	}
	return nil
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
