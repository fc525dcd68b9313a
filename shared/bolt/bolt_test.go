package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/alto/alto/shared/clocktest"
	"go.etcd.io/bbolt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/queuetest"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/storetest"
	"github.com/alto/alto/shared/tenant"
)

// clock is the tests' settable clock.
type clock = clocktest.Clock

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		clk := newClock()
		db := open(t, filepath.Join(t.TempDir(), "alto.db"), clk)
		return storetest.Harness{Store: db.Store(), Now: clk.Now, Advance: clk.Advance}
	})
}

func TestQueue(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, cfgs []queue.Config) queuetest.Harness {
		clk := newClock()
		path := filepath.Join(t.TempDir(), "alto.db")
		db := open(t, path, clk)
		q := queues(t, db, cfgs...)
		return queuetest.Harness{
			Queues:  q,
			Now:     clk.Now,
			Advance: clk.Advance,
			Reopen: func() queuetest.Queues {
				if err := db.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				db = open(t, path, clk)
				return queues(t, db, cfgs...)
			},
		}
	})
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alto.db")
	open(t, path, newClock())
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %v, want %v", got, os.FileMode(0o600))
	}
	// bbolt's lock is a flock: a second open in this process stands in for
	// a second process.
	if db, err := bolt.Open(path, bolt.Options{}); !errors.Is(err, bolt.ErrInUse) {
		if err == nil {
			db.Close()
		}
		t.Errorf("second Open: error = %v, want ErrInUse", err)
	}
}

func TestStoreDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alto.db")
	clk := newClock()
	db := open(t, path, clk)
	ctx := tenant.With(t.Context(), "acme")
	it := store.Item{PK: "P", SK: "s", Index: "h", Data: []byte("kept"), ExpiresAt: clk.Now().Add(time.Hour)}
	if _, err := db.Store().Put(ctx, it, store.Always); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, err := open(t, path, clk).Store().Get(ctx, store.Key{PK: "P", SK: "s"})
	if err != nil {
		t.Fatalf("Get after reopening: %v", err)
	}
	if string(got.Data) != "kept" || got.Version != 1 || got.Index != "h" || !got.ExpiresAt.Equal(it.ExpiresAt) {
		t.Errorf("Get after reopening = %+v, want %+v at version 1", got, it)
	}
}

func TestStoreDeleteExpired(t *testing.T) {
	clk := newClock()
	s := open(t, filepath.Join(t.TempDir(), "alto.db"), clk).Store()
	for _, org := range []tenant.ID{"acme", "globex"} {
		ctx := tenant.With(t.Context(), org)
		for i := range 3 {
			it := store.Item{PK: "P", SK: fmt.Sprint(i), Index: "h", ExpiresAt: clk.Now().Add(time.Duration(i+1) * time.Minute)}
			if _, err := s.Put(ctx, it, store.Always); err != nil {
				t.Fatalf("Put: %v", err)
			}
		}
		if _, err := s.Put(ctx, store.Item{PK: "P", SK: "forever"}, store.Always); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if _, err := s.DeleteExpired(t.Context(), 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("DeleteExpired(0) error = %v, want ErrInvalid", err)
	}
	clk.Advance(2 * time.Minute) // items 0 and 1 of each tenant have expired
	for _, want := range []int{3, 1, 0} {
		got, err := s.DeleteExpired(t.Context(), 3)
		if err != nil || got != want {
			t.Errorf("DeleteExpired(3) = %d, %v; want %d", got, err, want)
		}
	}
	for _, org := range []tenant.ID{"acme", "globex"} {
		page, err := s.Query(tenant.With(t.Context(), org), store.Query{PK: "P"})
		if err != nil || len(page.Items) != 2 {
			t.Errorf("%s: Query = %d items, %v; want 2", org, len(page.Items), err)
		}
	}
}

func TestStoreRejects(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "alto.db"), newClock()).Store()
	ctx := tenant.With(t.Context(), "acme")
	if _, err := s.Put(ctx, store.Item{PK: "P", SK: "a\x00b"}, store.Always); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Put with NUL in SK: error = %v, want ErrInvalid", err)
	}
	if err := s.BatchPut(ctx, []store.Item{{PK: "P1", SK: "1"}, {PK: "P1", SK: "2"}, {PK: "P2", SK: "1"}}); err != nil {
		t.Fatalf("BatchPut: %v", err)
	}
	page, err := s.Query(ctx, store.Query{PK: "P1", Limit: 1})
	if err != nil || page.Next == "" {
		t.Fatalf("Query = Next %q, %v; want a cursor", page.Next, err)
	}
	for _, q := range []store.Query{
		{PK: "P2", Cursor: page.Next},
		{PK: "P1", Prefix: "2", Cursor: page.Next},
		{Index: "P1", Cursor: page.Next},
	} {
		if _, err := s.Query(ctx, q); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Query(%+v) with another query's cursor: error = %v, want ErrInvalid", q, err)
		}
	}
}

func TestQueueDeleteExpired(t *testing.T) {
	clk := newClock()
	q := queues(t, open(t, filepath.Join(t.TempDir(), "alto.db"), clk),
		queue.Config{Name: "short", Retention: time.Hour},
		queue.Config{Name: "long", Retention: 3 * time.Hour})
	for _, name := range []string{"short", "long"} {
		if _, err := q.Send(t.Context(), name, []queue.Message{{Body: []byte("a")}, {Body: []byte("b")}}, 0); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if _, err := q.Receive(t.Context(), "short", 1, 0); err != nil {
		t.Fatalf("Receive: %v", err)
	}
	clk.Advance(2 * time.Hour)
	for _, want := range []int{2, 0} {
		if got, err := q.DeleteExpired(t.Context()); err != nil || got != want {
			t.Errorf("DeleteExpired = %d, %v; want %d", got, err, want)
		}
	}
	ds, err := q.Receive(t.Context(), "long", 10, 0)
	if err != nil || len(ds) != 2 {
		t.Errorf("Receive from the longer-lived queue = %d messages, %v; want 2", len(ds), err)
	}
}

func TestQueuesConfig(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "alto.db"), newClock())
	tests := []struct {
		name string
		cfgs []queue.Config
	}{
		{"no name", []queue.Config{{}}},
		{"twice", []queue.Config{{Name: "q"}, {Name: "q"}}},
		{"negative retention", []queue.Config{{Name: "q", Retention: -time.Second}}},
		{"visibility too long", []queue.Config{{Name: "q", Visibility: 13 * time.Hour}}},
		{"max receives without dead letter", []queue.Config{{Name: "q", MaxReceives: 3}}},
		{"unknown dead letter", []queue.Config{{Name: "q", MaxReceives: 3, DeadLetter: "dlq"}}},
		{"own dead letter", []queue.Config{{Name: "q", MaxReceives: 3, DeadLetter: "q"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := db.Queues(tt.cfgs...); err == nil {
				t.Errorf("Queues(%+v): no error", tt.cfgs)
			}
		})
	}
}

// BenchmarkPutBaseline is a bare bbolt transaction putting the same 1 KiB:
// the floor (one fsync) that BenchmarkPut is measured against.
func BenchmarkPutBaseline(b *testing.B) {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	data := make([]byte, 1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		err := db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("items"))
			if err != nil {
				return err
			}
			return bk.Put([]byte("CONTACT#"+fmt.Sprint(i%1000)), data)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPut(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "alto.db"), newClock()).Store()
	ctx := tenant.With(b.Context(), "acme")
	data := make([]byte, 1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		it := store.Item{PK: "CONTACT#" + fmt.Sprint(i%1000), SK: "PROFILE", Index: "hmac", Data: data}
		if _, err := s.Put(ctx, it, store.Always); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQuery(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "alto.db"), newClock()).Store()
	ctx := tenant.With(b.Context(), "acme")
	items := make([]store.Item, 1000)
	for i := range items {
		items[i] = store.Item{PK: "P", SK: fmt.Sprintf("%04d", i), Data: make([]byte, 1024)}
	}
	if err := s.BatchPut(ctx, items); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		page, err := s.Query(ctx, store.Query{PK: "P", Prefix: "0", Limit: 100})
		if err != nil || len(page.Items) != 100 {
			b.Fatalf("Query = %d items, %v", len(page.Items), err)
		}
	}
}

// BenchmarkQueueSendReceive measures one message through a queue: send,
// receive and delete.
func BenchmarkQueueSendReceive(b *testing.B) {
	q := queues(b, open(b, filepath.Join(b.TempDir(), "alto.db"), newClock()), queue.Config{Name: "q"})
	ctx := b.Context()
	msg := []queue.Message{{Body: make([]byte, 1024), Attributes: map[string]string{"tenant": "acme"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.Send(ctx, "q", msg, 0); err != nil {
			b.Fatal(err)
		}
		ds, err := q.Receive(ctx, "q", 1, 0)
		if err != nil || len(ds) != 1 {
			b.Fatalf("Receive = %d messages, %v", len(ds), err)
		}
		if err := q.Delete(ctx, "q", ds[0].Receipt); err != nil {
			b.Fatal(err)
		}
	}
}

func newClock() *clock {
	return clocktest.At(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

// open opens the data file at path and closes it when tb ends.
func open(tb testing.TB, path string, clk *clock) *bolt.DB {
	tb.Helper()
	db, err := bolt.Open(path, bolt.Options{Now: clk.Now})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func queues(tb testing.TB, db *bolt.DB, cfgs ...queue.Config) *bolt.Queue {
	tb.Helper()
	q, err := db.Queues(cfgs...)
	if err != nil {
		tb.Fatalf("Queues: %v", err)
	}
	return q
}

func TestPRG02_DeleteTenantRemovesOnlyThatTenant(t *testing.T) {
	clk := newClock()
	s := open(t, filepath.Join(t.TempDir(), "alto.db"), clk).Store()
	acme, other := tenant.With(t.Context(), "acme"), tenant.With(t.Context(), "acme-b")
	for _, ctx := range []context.Context{acme, other} {
		var items []store.Item
		for i := 0; i < 250; i++ {
			items = append(items, store.Item{PK: fmt.Sprintf("P%d", i%7), SK: fmt.Sprint(i), Index: "ix",
				ExpiresAt: clk.Now().Add(time.Hour)})
		}
		if err := s.BatchPut(ctx, items); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for {
		n, err := s.DeleteTenant(acme, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n > 100 {
			t.Fatalf("one step removed %d items, want at most 100", n)
		}
		if total += n; n == 0 {
			break
		}
	}
	if total != 250 {
		t.Errorf("removed %d items, want 250", total)
	}
	if page, _ := s.Query(acme, store.Query{Index: "ix"}); len(page.Items) != 0 {
		t.Errorf("acme's index still finds %d items", len(page.Items))
	}
	page, err := s.Query(other, store.Query{Index: "ix", Limit: 1000})
	if err != nil || len(page.Items) != 250 {
		t.Errorf("the other tenant has %d items (%v), want 250 untouched", len(page.Items), err)
	}
	if _, err := s.DeleteTenant(t.Context(), 10); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("without a tenant: %v, want ErrNoTenant", err)
	}
}
