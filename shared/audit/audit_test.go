package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/alto/alto/shared/clocktest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/fsblob"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// clock is the tests' settable clock.
type clock = clocktest.Clock

func newClock() *clock {
	return clocktest.At(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
}

// fixture is an audit log kept in a real embedded store.
type fixture struct {
	log   *audit.Log
	store *bolt.Store
	clock *clock
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	clk := newClock()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	s := db.Store()
	return fixture{log: audit.New(s, clk.Now), store: s, clock: clk}
}

func acme() context.Context { return tenant.With(context.Background(), "acme") }

// entryKey is where the log keeps entry seq: the layout an attacker with
// access to the table would see.
func entryKey(seq int64) store.Key {
	return store.Key{PK: "AUDIT", SK: fmt.Sprintf("E#%020d", seq)}
}

// chainHash is the chain hash an attacker who knows the (public) algorithm
// would compute: SHA-256 over the entry's JSON with Hash empty.
func chainHash(t *testing.T, e audit.Entry) string {
	t.Helper()
	e.Hash = ""
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("encode entry: %v", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// appendAll appends es in order, advancing the clock a minute before each,
// and returns the stored entries.
func (f fixture) appendAll(t *testing.T, ctx context.Context, es ...audit.Entry) []audit.Entry {
	t.Helper()
	out := make([]audit.Entry, 0, len(es))
	for _, e := range es {
		f.clock.Advance(time.Minute)
		got, err := f.log.Append(ctx, e)
		if err != nil {
			t.Fatalf("Append(%s): %v", e.Type, err)
		}
		out = append(out, got)
	}
	return out
}

// appendN appends n entries of type "data.read" with Detail {"n": i}.
func (f fixture) appendN(t *testing.T, ctx context.Context, n int) []audit.Entry {
	t.Helper()
	es := make([]audit.Entry, n)
	for i := range es {
		es[i] = audit.Entry{Type: "data.read", Actor: "u-1", Target: "c-42", Detail: map[string]string{"n": fmt.Sprint(i + 1)}}
	}
	return f.appendAll(t, ctx, es...)
}

// listAll pages through the whole log of ctx with f, failing t if a page
// holds more than f.Limit entries.
func (f fixture) listAll(t *testing.T, ctx context.Context, flt audit.Filter) []audit.Entry {
	t.Helper()
	var all []audit.Entry
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("List: still paging after %d pages", page)
		}
		es, next, err := f.log.List(ctx, flt)
		if err != nil {
			t.Fatalf("List(%+v): %v", flt, err)
		}
		if flt.Limit > 0 && len(es) > flt.Limit {
			t.Errorf("List(limit %d) page %d holds %d entries, want at most %d", flt.Limit, page, len(es), flt.Limit)
		}
		all = append(all, es...)
		if next == "" {
			return all
		}
		flt.Cursor = next
	}
}

func seqs(es []audit.Entry) []int64 {
	out := make([]int64, 0, len(es))
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

// checkChain fails t unless es are entries 1..len(es) of one chain.
func checkChain(t *testing.T, es []audit.Entry) {
	t.Helper()
	prev := audit.Entry{}
	for i, e := range es {
		if want := int64(i + 1); e.Seq != want {
			t.Fatalf("entry %d: seq = %d, want %d", i, e.Seq, want)
		}
		if e.Prev != prev.Hash {
			t.Errorf("entry %d: prev = %q, want the hash of entry %d %q", e.Seq, e.Prev, prev.Seq, prev.Hash)
		}
		if e.Time.Before(prev.Time) {
			t.Errorf("entry %d: time %v is before entry %d's %v", e.Seq, e.Time, prev.Seq, prev.Time)
		}
		prev = e
	}
}

func TestAUD01_AppendChainsEntries(t *testing.T) {
	f := newFixture(t)
	ctx := acme()

	if _, err := f.log.Head(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Head of an empty log: err = %v, want %v", err, store.ErrNotFound)
	}

	var stored []audit.Entry
	add := func(e audit.Entry) audit.Entry {
		t.Helper()
		got, err := f.log.Append(ctx, e)
		if err != nil {
			t.Fatalf("Append(%+v): %v", e, err)
		}
		stored = append(stored, got)
		return got
	}

	t0 := f.clock.Now()
	first := add(audit.Entry{Type: "auth.login", Actor: "u-1"})
	if first.Seq != 1 || first.Prev != "" {
		t.Errorf("first entry: seq %d, prev %q; want seq 1, prev empty", first.Seq, first.Prev)
	}
	if !first.Time.Equal(t0) {
		t.Errorf("first entry: time = %v, want the clock's %v", first.Time, t0)
	}
	if first.Hash != chainHash(t, first) {
		t.Errorf("first entry: hash = %q, want %q", first.Hash, chainHash(t, first))
	}

	f.clock.Advance(time.Hour)
	second := add(audit.Entry{Type: "settings.change", Actor: "u-1", Target: "workspace", Detail: map[string]string{"field": "retention"}})
	if !second.Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("second entry: time = %v, want %v", second.Time, t0.Add(time.Hour))
	}

	// The clock goes backwards (an NTP step): time stays monotonic.
	f.clock.Advance(-3 * time.Hour)
	third := add(audit.Entry{Type: "data.export", Actor: "u-2"})
	if !third.Time.Equal(second.Time) {
		t.Errorf("entry after the clock went back: time = %v, want the previous entry's %v", third.Time, second.Time)
	}
	f.clock.Advance(time.Minute)
	fourth := add(audit.Entry{Type: "data.export", Actor: "u-2"})
	if !fourth.Time.Equal(second.Time) {
		t.Errorf("entry while the clock is still behind: time = %v, want %v", fourth.Time, second.Time)
	}
	if third.Hash == fourth.Hash {
		t.Errorf("entries 3 and 4 with the same content share hash %q, want distinct hashes", third.Hash)
	}
	checkChain(t, stored)

	head, err := f.log.Head(ctx)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if head.Seq != fourth.Seq || head.Hash != fourth.Hash || !head.Time.Equal(fourth.Time) {
		t.Errorf("Head = seq %d hash %q time %v, want seq %d hash %q time %v",
			head.Seq, head.Hash, head.Time, fourth.Seq, fourth.Hash, fourth.Time)
	}

	t.Run("entry without type is refused", func(t *testing.T) {
		got, err := f.log.Append(ctx, audit.Entry{Actor: "u-1", Target: "c-42"})
		if err == nil {
			t.Fatalf("Append without type = %+v, nil error; want an error", got)
		}
		head, err := f.log.Head(ctx)
		if err != nil {
			t.Fatalf("Head: %v", err)
		}
		if head.Seq != fourth.Seq {
			t.Errorf("Head after a refused append: seq %d, want %d", head.Seq, fourth.Seq)
		}
	})

	t.Run("actor", func(t *testing.T) {
		tests := []struct {
			name, sub string
			digest    bool
		}{
			{"e-mail address", "jane@example.com", true},
			{"phone number", "+15551234567", true},
			{"phone digits only", "15551234567", true},
			{"phone with spaces", "+1 555 123 4567", true},
			{"digits inside an ID", "user-5551234567", true},
			{"name with a space", "Jane Doe", true},
			{"opaque ID", "u-7f3a9c", false},
			{"ULID", "01HZX3K4M5N6P7Q8R9S0T1V2W3", false},
			{"IdP subject", "auth0|5f7c8ec7c33c6c004bbafe82", false},
			{"service", "svc:purge-worker", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := audit.Actor(tt.sub)
				if !tt.digest {
					if got != tt.sub {
						t.Errorf("Actor(%q) = %q, want it kept", tt.sub, got)
					}
					return
				}
				sum := sha256.Sum256([]byte(tt.sub))
				if want := "sha256:" + hex.EncodeToString(sum[:8]); got != want {
					t.Errorf("Actor(%q) = %q, want %q", tt.sub, got, want)
				}
			})
		}
		if got := audit.Actor(""); got != "system" {
			t.Errorf(`Actor("") = %q, want "system"`, got)
		}
	})

	t.Run("stored actor carries no plaintext PII", func(t *testing.T) {
		tests := []struct {
			sub, want string
		}{
			{"jane@example.com", audit.Actor("jane@example.com")},
			{"+15551234567", audit.Actor("+15551234567")},
			{"u-7f3a9c", "u-7f3a9c"},
			{"", "system"},
		}
		for _, tt := range tests {
			e, err := f.log.Append(ctx, audit.Entry{Type: "auth.login", Actor: tt.sub})
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if e.Actor != tt.want {
				t.Errorf("Append(actor %q): actor = %q, want %q", tt.sub, e.Actor, tt.want)
			}
			it, err := f.store.Get(ctx, entryKey(e.Seq))
			if err != nil {
				t.Fatalf("Get entry %d: %v", e.Seq, err)
			}
			if tt.sub != "" && tt.want != tt.sub && bytes.Contains(it.Data, []byte(tt.sub)) {
				t.Errorf("stored entry %d holds the plaintext actor %q: %s", e.Seq, tt.sub, it.Data)
			}
			if !bytes.Contains(it.Data, []byte(`"actor":"`+tt.want+`"`)) {
				t.Errorf("stored entry %d = %s, want actor %q", e.Seq, it.Data, tt.want)
			}
		}
	})

	res, err := f.log.Verify(ctx)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !res.OK || res.Entries != 8 {
		t.Errorf("Verify = %+v, want OK with 8 entries", res)
	}
}

func TestAUD01_ConcurrentAppendsKeepOneChain(t *testing.T) {
	const writers, each = 8, 25
	f := newFixture(t)
	ctx := acme()

	var wg sync.WaitGroup
	got := make([][]int64, writers)
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e, err := f.log.Append(ctx, audit.Entry{Type: "data.read", Actor: fmt.Sprintf("u-%d", w), Detail: map[string]string{"i": fmt.Sprint(i)}})
				if err != nil {
					errs <- err
					return
				}
				got[w] = append(got[w], e.Seq)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Append: %v", err)
	}

	// Every append got its own sequence number, in order per writer.
	taken := map[int64]int{}
	for w, ss := range got {
		for i, s := range ss {
			if other, dup := taken[s]; dup {
				t.Errorf("seq %d returned to writers %d and %d", s, other, w)
			}
			taken[s] = w
			if i > 0 && s <= ss[i-1] {
				t.Errorf("writer %d: seq %d after %d, want increasing", w, s, ss[i-1])
			}
		}
	}

	all := f.listAll(t, ctx, audit.Filter{Limit: 1000})
	if len(all) != writers*each {
		t.Fatalf("List: %d entries, want %d", len(all), writers*each)
	}
	checkChain(t, all)

	res, err := f.log.Verify(ctx)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := (audit.Result{OK: true, Entries: writers * each, Head: all[len(all)-1].Hash}); res != want {
		t.Errorf("Verify = %+v, want %+v", res, want)
	}
}

// losingStore is a store on which every conditional put loses the race, as
// if another writer always took the next sequence number first.
type losingStore struct{ audit.Store }

func (losingStore) Put(context.Context, store.Item, store.Cond) (store.Item, error) {
	return store.Item{}, store.ErrConditionFailed
}

func TestAUD01_AppendStopsWaitingWhenContextEnds(t *testing.T) {
	f := newFixture(t)
	l := audit.New(losingStore{f.store}, f.clock.Now)
	ctx, cancel := context.WithCancel(acme())
	cancel()
	_, err := l.Append(ctx, audit.Entry{Type: "data.read"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Append with an ended context on a contended log: err = %v, want %v", err, context.Canceled)
	}
}

func TestAUD01_ListFiltersAndPages(t *testing.T) {
	f := newFixture(t)
	ctx := acme()
	types := []string{
		"auth.login", "data.read", "auth.logout", "authz.grant", "auth.login",
		"data.export", "auth", "auth.login", "data.read", "settings.change",
		"auth.logout", "data.read", "auth.login",
	}
	es := make([]audit.Entry, len(types))
	for i, typ := range types {
		es[i] = audit.Entry{Type: typ, Actor: "u-1"}
	}
	all := f.appendAll(t, ctx, es...) // one minute apart
	at := func(seq int) time.Time { return all[seq-1].Time }

	// want is the reference filter, written independently of List.
	want := func(flt audit.Filter) []int64 {
		out := []int64{}
		for _, e := range all {
			switch {
			case flt.Type != "" && strings.HasSuffix(flt.Type, ".") && !strings.HasPrefix(e.Type, flt.Type):
			case flt.Type != "" && !strings.HasSuffix(flt.Type, ".") && e.Type != flt.Type:
			case !flt.From.IsZero() && e.Time.Before(flt.From):
			case !flt.To.IsZero() && e.Time.After(flt.To):
			default:
				out = append(out, e.Seq)
			}
		}
		return out
	}

	tests := []struct {
		name string
		flt  audit.Filter
		want []int64 // spelled out, and checked against the reference filter
	}{
		{"everything", audit.Filter{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}},
		{"exact type", audit.Filter{Type: "auth.login"}, []int64{1, 5, 8, 13}},
		{"exact type is not a prefix", audit.Filter{Type: "auth"}, []int64{7}},
		{"type prefix", audit.Filter{Type: "auth."}, []int64{1, 3, 5, 8, 11, 13}},
		{"type prefix of nothing", audit.Filter{Type: "incident."}, []int64{}},
		{"from inclusive", audit.Filter{From: at(10)}, []int64{10, 11, 12, 13}},
		{"to inclusive", audit.Filter{To: at(3)}, []int64{1, 2, 3}},
		{"from and to", audit.Filter{From: at(4), To: at(6)}, []int64{4, 5, 6}},
		{"from between entries", audit.Filter{From: at(4).Add(time.Second), To: at(6).Add(-time.Second)}, []int64{5}},
		{"type and bounds", audit.Filter{Type: "data.", From: at(2).Add(time.Second), To: at(12)}, []int64{6, 9, 12}},
		{"to before the first entry", audit.Filter{To: at(1).Add(-time.Second)}, []int64{}},
		{"from after the last entry", audit.Filter{From: at(13).Add(time.Second)}, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ref := want(tt.flt); !reflect.DeepEqual(ref, tt.want) {
				t.Fatalf("test table disagrees with the reference filter: %v, want %v", tt.want, ref)
			}
			for _, limit := range []int{0, 1, 2, 3, 5, 13, 14, 1000} {
				flt := tt.flt
				flt.Limit = limit
				got := seqs(f.listAll(t, ctx, flt))
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("List(limit %d) = seqs %v, want %v", limit, got, tt.want)
				}
			}
		})
	}

	t.Run("cursor moves on", func(t *testing.T) {
		page1, next, err := f.log.List(ctx, audit.Filter{Type: "auth.", Limit: 2})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if got, want := seqs(page1), []int64{1, 3}; !reflect.DeepEqual(got, want) {
			t.Errorf("page 1 = %v, want %v", got, want)
		}
		if next == "" {
			t.Fatal("page 1: no cursor, want one")
		}
		page2, _, err := f.log.List(ctx, audit.Filter{Type: "auth.", Limit: 2, Cursor: next})
		if err != nil {
			t.Fatalf("List page 2: %v", err)
		}
		if got, want := seqs(page2), []int64{5, 8}; !reflect.DeepEqual(got, want) {
			t.Errorf("page 2 = %v, want %v", got, want)
		}
	})

	t.Run("last page has no cursor", func(t *testing.T) {
		es, next, err := f.log.List(ctx, audit.Filter{Limit: len(all)})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(es) != len(all) {
			t.Errorf("List(limit %d): %d entries, want %d", len(all), len(es), len(all))
		}
		// A full page may still carry a cursor; following it must give
		// nothing more.
		if next != "" {
			more, again, err := f.log.List(ctx, audit.Filter{Limit: len(all), Cursor: next})
			if err != nil || len(more) != 0 || again != "" {
				t.Errorf("List after the last entry = %v, %q, %v; want nothing", seqs(more), again, err)
			}
		}
	})

	t.Run("entries come back as stored", func(t *testing.T) {
		got := f.listAll(t, ctx, audit.Filter{Limit: 4})
		for i := range got {
			if got[i].Hash != all[i].Hash || !got[i].Time.Equal(all[i].Time) || got[i].Type != all[i].Type || got[i].Prev != all[i].Prev {
				t.Errorf("entry %d = %+v, want %+v", i+1, got[i], all[i])
			}
		}
	})
}

func TestAUD02_VerifyFindsTampering(t *testing.T) {
	// mutate edits the stored item at seq through the store port, as someone
	// with write access to the table could.
	mutate := func(t *testing.T, s store.Store, ctx context.Context, seq int64, edit func(data []byte) []byte) {
		t.Helper()
		it, err := s.Get(ctx, entryKey(seq))
		if err != nil {
			t.Fatalf("Get entry %d: %v", seq, err)
		}
		it.Data = edit(bytes.Clone(it.Data))
		if _, err := s.Put(ctx, it, store.Always); err != nil {
			t.Fatalf("Put entry %d: %v", seq, err)
		}
	}
	// rewrite decodes entry seq, lets edit change it, recomputes its hash
	// and stores it back.
	rewrite := func(t *testing.T, s store.Store, ctx context.Context, seq int64, edit func(e *audit.Entry)) {
		t.Helper()
		mutate(t, s, ctx, seq, func(data []byte) []byte {
			var e audit.Entry
			if err := json.Unmarshal(data, &e); err != nil {
				t.Fatalf("decode entry %d: %v", seq, err)
			}
			if e.Hash != chainHash(t, e) {
				t.Fatalf("entry %d: the test's hash %q differs from the stored %q; chainHash is out of date", seq, chainHash(t, e), e.Hash)
			}
			edit(&e)
			e.Hash = chainHash(t, e)
			out, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("encode entry %d: %v", seq, err)
			}
			return out
		})
	}

	tests := []struct {
		name   string
		tamper func(t *testing.T, s store.Store, ctx context.Context)
		want   int64 // first broken entry
	}{
		{
			name: "flipped byte in entry 4's type",
			tamper: func(t *testing.T, s store.Store, ctx context.Context) {
				mutate(t, s, ctx, 4, func(data []byte) []byte {
					i := bytes.Index(data, []byte(`"type":"`))
					if i < 0 {
						t.Fatalf("entry 4 has no type: %s", data)
					}
					data[i+len(`"type":"`)] ^= 0x20 // "data.read" -> "Data.read"
					return data
				})
			},
			want: 4,
		},
		{
			// Entry 7 is consistent with itself and links to entry 6; what
			// no longer holds is entry 8's link to it. Verify names the
			// first entry that fails a check: 8, whose Prev is the old hash
			// of 7. (The chain cannot tell a rewritten 7 from a rewritten
			// Prev in 8; either way the break is at the link into 8.)
			name: "detail of entry 7 changed, hash recomputed",
			tamper: func(t *testing.T, s store.Store, ctx context.Context) {
				rewrite(t, s, ctx, 7, func(e *audit.Entry) { e.Detail["n"] = "0" })
			},
			want: 8,
		},
		{
			name: "prev of entry 2 changed, hash recomputed",
			tamper: func(t *testing.T, s store.Store, ctx context.Context) {
				rewrite(t, s, ctx, 2, func(e *audit.Entry) { e.Prev = strings.Repeat("0", 64) })
			},
			want: 2,
		},
		{
			name: "first entry given a prev, hash recomputed",
			tamper: func(t *testing.T, s store.Store, ctx context.Context) {
				rewrite(t, s, ctx, 1, func(e *audit.Entry) { e.Prev = strings.Repeat("0", 64) })
			},
			want: 1,
		},
		{
			name: "entry 5 deleted",
			tamper: func(t *testing.T, s store.Store, ctx context.Context) {
				if err := s.Delete(ctx, entryKey(5)); err != nil {
					t.Fatalf("Delete: %v", err)
				}
			},
			want: 5,
		},
		{
			name: "head made unreadable",
			tamper: func(t *testing.T, s store.Store, ctx context.Context) {
				mutate(t, s, ctx, 10, func([]byte) []byte { return []byte("not json") })
			},
			want: 10,
		},
		{
			name: "entries 3 and 6 swapped",
			tamper: func(t *testing.T, s store.Store, ctx context.Context) {
				a, err := s.Get(ctx, entryKey(3))
				if err != nil {
					t.Fatalf("Get entry 3: %v", err)
				}
				b, err := s.Get(ctx, entryKey(6))
				if err != nil {
					t.Fatalf("Get entry 6: %v", err)
				}
				a.Data, b.Data = b.Data, a.Data
				for _, it := range []store.Item{a, b} {
					if _, err := s.Put(ctx, it, store.Always); err != nil {
						t.Fatalf("Put %s: %v", it.SK, err)
					}
				}
			},
			want: 3,
		},
		{
			name: "seq of entry 6 changed to 60, hash recomputed",
			tamper: func(t *testing.T, s store.Store, ctx context.Context) {
				rewrite(t, s, ctx, 6, func(e *audit.Entry) { e.Seq = 60 })
			},
			want: 6,
		},
		{
			// The entry is intact but no longer where its sequence number
			// says; the next Append would collide with it forever.
			name: "head moved to the next key",
			tamper: func(t *testing.T, s store.Store, ctx context.Context) {
				it, err := s.Get(ctx, entryKey(10))
				if err != nil {
					t.Fatalf("Get entry 10: %v", err)
				}
				if err := s.Delete(ctx, entryKey(10)); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				it.SK = entryKey(11).SK
				if _, err := s.Put(ctx, it, store.IfAbsent); err != nil {
					t.Fatalf("Put: %v", err)
				}
			},
			want: 10,
		},
		{
			name: "copy of the head stored past a gap",
			tamper: func(t *testing.T, s store.Store, ctx context.Context) {
				it, err := s.Get(ctx, entryKey(10))
				if err != nil {
					t.Fatalf("Get entry 10: %v", err)
				}
				it.SK = entryKey(12).SK
				if _, err := s.Put(ctx, it, store.IfAbsent); err != nil {
					t.Fatalf("Put: %v", err)
				}
			},
			want: 11,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := acme()
			f.appendN(t, ctx, 10)
			tt.tamper(t, f.store, ctx)

			got, err := f.log.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Reason == "" {
				t.Errorf("Verify = %+v, want a reason", got)
			}
			got.Reason = ""
			if want := (audit.Result{OK: false, Entries: tt.want - 1, FirstBroken: tt.want}); got != want {
				t.Errorf("Verify = %+v, want %+v", got, want)
			}
		})
	}

	t.Run("empty log", func(t *testing.T) {
		f := newFixture(t)
		got, err := f.log.Verify(acme())
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if want := (audit.Result{OK: true}); got != want {
			t.Errorf("Verify = %+v, want %+v", got, want)
		}
	})

	t.Run("untouched chain", func(t *testing.T) {
		f := newFixture(t)
		ctx := acme()
		es := f.appendN(t, ctx, 10)
		got, err := f.log.Verify(ctx)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if want := (audit.Result{OK: true, Entries: 10, Head: es[9].Hash}); got != want {
			t.Errorf("Verify = %+v, want %+v", got, want)
		}
	})

	t.Run("store rewritten with identical bytes", func(t *testing.T) {
		f := newFixture(t)
		ctx := acme()
		es := f.appendN(t, ctx, 10)
		for seq := int64(1); seq <= 10; seq++ {
			mutate(t, f.store, ctx, seq, func(data []byte) []byte { return data })
		}
		got, err := f.log.Verify(ctx)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if want := (audit.Result{OK: true, Entries: 10, Head: es[9].Hash}); got != want {
			t.Errorf("Verify = %+v, want %+v", got, want)
		}
	})
}

func TestAUD03_ACC03_TenantChainsAreSeparate(t *testing.T) {
	f := newFixture(t)
	ctxA := tenant.With(context.Background(), "acme")
	ctxG := tenant.With(context.Background(), "globex")
	ctxP := tenant.WithPlatform(context.Background())

	// Interleave the tenants' appends.
	var a, g, p []audit.Entry
	for i := range 6 {
		a = append(a, f.appendAll(t, ctxA, audit.Entry{Type: "data.read", Actor: "u-acme", Target: fmt.Sprintf("acme-%d", i)})...)
		if i%2 == 0 {
			g = append(g, f.appendAll(t, ctxG, audit.Entry{Type: "data.read", Actor: "u-globex", Target: fmt.Sprintf("globex-%d", i)})...)
		}
		if i == 3 {
			p = append(p, f.appendAll(t, ctxP, audit.Entry{Type: "notice.sent", Target: "subprocessors"})...)
		}
	}
	for _, tc := range []struct {
		name string
		es   []audit.Entry
	}{{"acme", a}, {"globex", g}, {"platform", p}} {
		t.Run("chain of "+tc.name, func(t *testing.T) {
			checkChain(t, tc.es) // each starts at seq 1 with no prev
		})
	}

	t.Run("list shows only the tenant's entries", func(t *testing.T) {
		tests := []struct {
			name   string
			ctx    context.Context
			actor  string
			wantN  int
			filter audit.Filter
		}{
			{"acme", ctxA, "u-acme", len(a), audit.Filter{}},
			{"acme paged", ctxA, "u-acme", len(a), audit.Filter{Limit: 2}},
			{"globex", ctxG, "u-globex", len(g), audit.Filter{}},
			{"globex by type", ctxG, "u-globex", len(g), audit.Filter{Type: "data."}},
			{"platform", ctxP, "system", len(p), audit.Filter{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := f.listAll(t, tt.ctx, tt.filter)
				if len(got) != tt.wantN {
					t.Errorf("List: %d entries, want %d", len(got), tt.wantN)
				}
				for _, e := range got {
					if e.Actor != tt.actor {
						t.Errorf("List: entry %d of actor %q (target %q), want only %q", e.Seq, e.Actor, e.Target, tt.actor)
					}
				}
			})
		}
	})

	t.Run("cursor does not cross tenants", func(t *testing.T) {
		_, next, err := f.log.List(ctxA, audit.Filter{Limit: 1})
		if err != nil || next == "" {
			t.Fatalf("List(acme, limit 1): cursor %q, %v; want a cursor", next, err)
		}
		es, _, err := f.log.List(ctxG, audit.Filter{Cursor: next})
		if err == nil {
			t.Errorf("List(globex, acme's cursor) = %d entries, nil error; want an error", len(es))
		}
	})

	t.Run("tampering in one tenant leaves the other intact", func(t *testing.T) {
		if err := f.store.Delete(ctxA, entryKey(2)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		gotA, err := f.log.Verify(ctxA)
		if err != nil {
			t.Fatalf("Verify(acme): %v", err)
		}
		if gotA.OK || gotA.FirstBroken != 2 {
			t.Errorf("Verify(acme) = %+v, want broken at 2", gotA)
		}
		for _, tc := range []struct {
			name string
			ctx  context.Context
			es   []audit.Entry
		}{{"globex", ctxG, g}, {"platform", ctxP, p}} {
			got, err := f.log.Verify(tc.ctx)
			if err != nil {
				t.Fatalf("Verify(%s): %v", tc.name, err)
			}
			want := audit.Result{OK: true, Entries: int64(len(tc.es)), Head: tc.es[len(tc.es)-1].Hash}
			if got != want {
				t.Errorf("Verify(%s) = %+v, want %+v", tc.name, got, want)
			}
		}
	})

	t.Run("no tenant, no log", func(t *testing.T) {
		ctx := context.Background()
		if _, err := f.log.Append(ctx, audit.Entry{Type: "data.read"}); !errors.Is(err, tenant.ErrNoTenant) {
			t.Errorf("Append: err = %v, want %v", err, tenant.ErrNoTenant)
		}
		if _, err := f.log.Head(ctx); !errors.Is(err, tenant.ErrNoTenant) {
			t.Errorf("Head: err = %v, want %v", err, tenant.ErrNoTenant)
		}
		if _, _, err := f.log.List(ctx, audit.Filter{}); !errors.Is(err, tenant.ErrNoTenant) {
			t.Errorf("List: err = %v, want %v", err, tenant.ErrNoTenant)
		}
		if _, err := f.log.Verify(ctx); !errors.Is(err, tenant.ErrNoTenant) {
			t.Errorf("Verify: err = %v, want %v", err, tenant.ErrNoTenant)
		}
	})
}

// TestRET05_TrimRemovesOldEntriesAndKeepsTheChain checks the retention
// sweep's side of the audit log: only entries older than the cutoff are
// due, never the head; after a trim the kept chain still verifies from the
// anchor; a trim interrupted before its deletion, and run again, ends the
// same; and tampering with the first kept entry is still caught.
func TestRET05_TrimRemovesOldEntriesAndKeepsTheChain(t *testing.T) {
	f := newFixture(t)
	ctx := acme()
	old := f.appendN(t, ctx, 5)
	f.clock.Advance(24 * time.Hour)
	cutoff := f.clock.Now()
	f.clock.Advance(time.Hour)
	kept := f.appendN(t, ctx, 3)

	due, err := f.log.Due(ctx, cutoff, 100)
	if err != nil {
		t.Fatalf("Due: %v", err)
	}
	if len(due) != len(old) || due[0] != entryKey(1) || due[len(due)-1] != entryKey(old[len(old)-1].Seq) {
		t.Fatalf("Due = %v, want the %d entries before the cutoff, oldest first", due, len(old))
	}
	if got, _ := f.log.Due(ctx, cutoff, 2); len(got) != 2 {
		t.Errorf("Due with limit 2 = %d keys, want 2", len(got))
	}
	if got, _ := f.log.Due(ctx, f.clock.Now().Add(time.Hour), 100); len(got) != len(old)+len(kept)-1 {
		t.Errorf("Due after every entry = %d keys, want all but the head (%d)", len(got), len(old)+len(kept)-1)
	}

	// A trim that moved the anchor but crashed before deleting: entries
	// at or below the anchor are skipped, the chain verifies.
	if err := f.log.Trim(ctx, due[:2]); err != nil {
		t.Fatalf("Trim: %v", err)
	}
	if _, err := f.store.Put(ctx, store.Item{PK: "AUDIT", SK: entryKey(1).SK, Data: mustJSON(t, old[0])}, store.Always); err != nil {
		t.Fatal(err)
	}
	res, err := f.log.Verify(ctx)
	if err != nil || !res.OK || res.TrimmedThrough != 2 || res.Entries != int64(len(old)+len(kept)-2) {
		t.Fatalf("Verify after a partial trim = %+v, %v; want ok from entry 3", res, err)
	}
	if err := f.log.Trim(ctx, due); err != nil {
		t.Fatalf("Trim again: %v", err)
	}
	if err := f.log.Trim(ctx, due); err != nil { // a repeat changes nothing
		t.Fatalf("Trim a third time: %v", err)
	}
	got := f.listAll(t, ctx, audit.Filter{})
	if !reflect.DeepEqual(seqs(got), seqs(kept)) {
		t.Errorf("entries after trim = %v, want %v", seqs(got), seqs(kept))
	}
	res, err = f.log.Verify(ctx)
	if err != nil || !res.OK || res.Entries != int64(len(kept)) || res.TrimmedThrough != old[len(old)-1].Seq || res.Head != kept[len(kept)-1].Hash {
		t.Errorf("Verify after trim = %+v, %v; want ok over the %d kept entries", res, err, len(kept))
	}
	if _, err := f.log.Append(ctx, audit.Entry{Type: "after.trim"}); err != nil {
		t.Fatalf("Append after trim: %v", err)
	}
	if res, _ := f.log.Verify(ctx); !res.OK {
		t.Errorf("Verify after an append = %+v, want ok", res)
	}

	// The first kept entry must still link to the anchor.
	forged := kept[0]
	forged.Prev = strings.Repeat("0", 64)
	forged.Hash = chainHash(t, forged)
	if _, err := f.store.Put(ctx, store.Item{PK: "AUDIT", SK: entryKey(forged.Seq).SK, Data: mustJSON(t, forged)}, store.Always); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.log.Verify(ctx); res.OK || res.FirstBroken != forged.Seq {
		t.Errorf("Verify with a forged first entry = %+v, want broken at %d", res, forged.Seq)
	}
	if err := f.log.Trim(ctx, []store.Key{{PK: "CONTACT", SK: "x"}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Trim of a non-entry: error = %v, want ErrInvalid", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAUD02_DigestsInWriteOnceStorageCatchWhatTheChainCannot checks the
// vault's digests: a removed tail, a chain rewritten with consistent
// hashes and a moved anchor all verify as broken, while the retention
// sweep's own trims still verify.
func TestAUD02_DigestsInWriteOnceStorageCatchWhatTheChainCannot(t *testing.T) {
	setup := func(t *testing.T) fixture {
		f := newFixture(t)
		vault, err := fsblob.New(t.TempDir(), fsblob.Options{Secret: make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		f.log.Vault = vault
		ctx := acme()
		f.appendN(t, ctx, 5)
		if d, err := f.log.WriteDigest(ctx); err != nil || d.Seq != 5 {
			t.Fatalf("WriteDigest = %+v, %v; want the head at 5", d, err)
		}
		if _, err := f.log.WriteDigest(ctx); err != nil { // again: nothing rewritten
			t.Fatalf("WriteDigest again: %v", err)
		}
		f.appendN(t, ctx, 2)
		if res, err := f.log.Verify(ctx); err != nil || !res.OK || res.Entries != 7 {
			t.Fatalf("Verify = %+v, %v; want ok over 7 entries", res, err)
		}
		return f
	}
	ctx := acme()
	tests := []struct {
		name   string
		tamper func(t *testing.T, f fixture)
		broken int64 // 0: still verifies
	}{
		{"tail removed through a digest", func(t *testing.T, f fixture) {
			f.store.BatchDelete(ctx, []store.Key{entryKey(5), entryKey(6), entryKey(7)})
		}, 5},
		{"chain rewritten with consistent hashes", func(t *testing.T, f fixture) {
			es := f.listAll(t, ctx, audit.Filter{})
			prev := ""
			for _, e := range es {
				if e.Seq == 2 {
					e.Actor = "someone-else"
				}
				e.Prev = prev
				e.Hash = chainHash(t, e)
				prev = e.Hash
				if _, err := f.store.Put(ctx, store.Item{PK: "AUDIT", SK: entryKey(e.Seq).SK, Data: mustJSON(t, e)}, store.Always); err != nil {
					t.Fatal(err)
				}
			}
		}, 5},
		{"anchor moved outside retention", func(t *testing.T, f fixture) {
			es := f.listAll(t, ctx, audit.Filter{})
			f.store.Put(ctx, store.Item{PK: "AUDIT", SK: "ANCHOR", Data: mustJSON(t, map[string]any{"seq": 3, "hash": es[2].Hash})}, store.Always)
			f.store.BatchDelete(ctx, []store.Key{entryKey(1), entryKey(2), entryKey(3)})
		}, 1},
		{"retention's own trim", func(t *testing.T, f fixture) {
			if err := f.log.Trim(ctx, []store.Key{entryKey(1), entryKey(2), entryKey(3)}); err != nil {
				t.Fatal(err)
			}
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			tc.tamper(t, f)
			res, err := f.log.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tc.broken == 0 && !res.OK {
				t.Errorf("Verify = %+v, want ok", res)
			}
			if tc.broken != 0 && (res.OK || res.FirstBroken != tc.broken) {
				t.Errorf("Verify = %+v, want broken at %d", res, tc.broken)
			}
		})
	}
}
