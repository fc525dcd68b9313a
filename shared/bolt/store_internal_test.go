package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// TestStoreEntriesConsistent checks that the index and expiry buckets hold
// one entry per indexed or expiring item, through overwrites, deletes and
// DeleteExpired: the suite cannot see entries left behind.
func TestStoreEntriesConsistent(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	db, err := Open(filepath.Join(t.TempDir(), "alto.db"), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s, ctx := db.Store(), tenant.With(t.Context(), "acme")
	for _, it := range []store.Item{
		{PK: "P", SK: "1", Index: "a", ExpiresAt: now.Add(time.Hour)},
		{PK: "P", SK: "1", Index: "b", ExpiresAt: now.Add(2 * time.Hour)}, // moves both entries
		{PK: "P", SK: "2", Index: "a"},
		{PK: "P", SK: "3", ExpiresAt: now.Add(-time.Minute)},
		{PK: "P", SK: "4", Index: "c", ExpiresAt: now.Add(time.Hour)},
	} {
		if _, err := s.Put(ctx, it, store.Always); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if err := s.Delete(ctx, store.Key{PK: "P", SK: "4"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkCounts(t, db, "after puts and a delete", 3, 2, 2)

	now = now.Add(3 * time.Hour)
	if n, err := s.DeleteExpired(t.Context(), 10); err != nil || n != 2 {
		t.Errorf("DeleteExpired = %d, %v; want 2", n, err)
	}
	checkCounts(t, db, "after DeleteExpired", 1, 1, 0)
}

func checkCounts(t *testing.T, db *DB, when string, items, index, expiry int) {
	t.Helper()
	err := db.db.View(func(tx *bbolt.Tx) error {
		for _, c := range []struct {
			bucket []byte
			want   int
		}{{itemsBucket, items}, {indexBucket, index}, {expiryBucket, expiry}} {
			if got := tx.Bucket(c.bucket).Stats().KeyN; got != c.want {
				t.Errorf("%s: bucket %s has %d keys, want %d", when, c.bucket, got, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
