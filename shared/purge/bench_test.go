package purge_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/contacttest"
	"github.com/alto/alto/shared/fsblob"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

// purgeWorld is one tenant of n contacts, each with its contact.created
// audit entry (as ingest leaves them), and a few files, on the embedded
// adapters: ready to be purged once.
type purgeWorld struct {
	dir   string
	db    *bolt.DB
	store *bolt.Store
	keys  *shredClock
	blobs *fsblob.Store
	audit *audit.Log
}

// shredClock is the key ring, noting when Shred returned: from then on
// nothing of the tenant can be read.
type shredClock struct {
	*seal.Keyring
	shredded time.Time
}

func (k *shredClock) Shred(ctx context.Context) error {
	err := k.Keyring.Shred(ctx)
	k.shredded = time.Now()
	return err
}

// purgeFiles is how many files the seeded tenant keeps (import reports,
// export archives).
const purgeFiles = 20

// newPurgeWorld seeds a tenant of n contacts in a new folder. Seeding runs
// without fsync (a million audit entries are a million transactions); the
// database is then reopened with fsync, as the server runs it, for what
// the benchmark measures.
func newPurgeWorld(b *testing.B, n int) *purgeWorld {
	b.Helper()
	dir, err := os.MkdirTemp("", "alto-purge-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	master, err := localkeys.LoadOrCreateMaster(filepath.Join(dir, "master.json"))
	if err != nil {
		b.Fatal(err)
	}
	keysets, err := localkeys.OpenDir(filepath.Join(dir, "keysets"))
	if err != nil {
		b.Fatal(err)
	}
	w := &purgeWorld{dir: dir, keys: &shredClock{Keyring: seal.NewKeyring(master, keysets)}}
	path := filepath.Join(dir, "alto.db")
	db, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := tenant.With(context.Background(), "acme")
	if err := contacttest.Seed(ctx, db.Store(), w.keys, audit.New(db.Store(), nil), 0, n); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if w.db, err = bolt.Open(path, bolt.Options{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.db.Close() })
	w.store = w.db.Store()
	w.audit = audit.New(w.store, nil)
	if w.blobs, err = fsblob.New(filepath.Join(dir, "blobs"), fsblob.Options{Secret: make([]byte, 32)}); err != nil {
		b.Fatal(err)
	}
	for i := range purgeFiles {
		if _, err := w.blobs.Put(ctx, fmt.Sprintf("exports/exp_%02d/archive.zip", i), strings.NewReader("archive")); err != nil {
			b.Fatal(err)
		}
	}
	return w
}

// readable reports whether the tenant's contacts can still be opened.
func (w *purgeWorld) readable(b *testing.B, ctx context.Context) bool {
	b.Helper()
	svc := &contact.Service{Store: w.store, Keys: w.keys, Audit: w.audit}
	_, _, err := svc.List(ctx, auth.Scope{All: true}, "", 10)
	if err != nil && !errors.Is(err, seal.ErrShredded) {
		b.Fatal(err)
	}
	return err == nil
}

var purgeSizes = []struct {
	name string
	n    int
}{{"10k", 10_000}, {"1M", 1_000_000}}

// BenchmarkWorkspacePurge purges a workspace of 10k and of 1M contacts
// (PRG-02, ENC-04) as the API and the sweep do: purge.Service.Request,
// then Step(1,000) until nothing is left. ns/op is the whole purge.
// unreadable-ms is the time from the request until the keys are gone,
// which must not grow with the workspace; request-ms the whole request
// (it also verifies the audit chain for the confirmation's digest);
// deleted-items/s the physical deletion rate of the steps, records and
// files together. Every iteration seeds a new workspace, untimed.
func BenchmarkWorkspacePurge(b *testing.B) {
	for _, size := range purgeSizes {
		b.Run(size.name, func(b *testing.B) {
			var unreadable, request, deleting time.Duration
			deleted := 0
			b.StopTimer()
			for range b.N {
				w := newPurgeWorld(b, size.n)
				ctx := tenant.With(context.Background(), "acme")
				svc := &purge.Service{Keys: w.keys, Store: w.store, Data: w.store, Blobs: w.blobs, Audit: w.audit}
				if !w.readable(b, ctx) {
					b.Fatal("the seeded workspace is unreadable")
				}
				b.StartTimer()
				start := time.Now()
				p, err := svc.Request(ctx, "acme", "owner@example.com", "bench")
				requested := time.Now()
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if w.readable(b, ctx) {
					b.Fatal("the workspace is readable after the purge request")
				}
				b.StartTimer()
				steps := time.Now()
				for {
					n, err := svc.Step(ctx, 1000)
					if err != nil {
						b.Fatal(err)
					}
					if n == 0 {
						break
					}
				}
				b.StopTimer()
				end := time.Now()
				unreadable += w.keys.shredded.Sub(start)
				request += requested.Sub(start)
				deleting += end.Sub(steps)
				if left, err := w.store.DeleteTenant(ctx, 1); err != nil || left != 0 {
					b.Fatalf("records left after the purge: %d (%v)", left, err)
				}
				got, err := svc.Get(ctx, p.ID)
				if err != nil || got.Status != purge.Done || got.Deleted["blobs"] != purgeFiles || got.Deleted["items"] < 3*size.n {
					b.Fatalf("purge = %+v, %v; want done with %d files and at least %d records", got, err, purgeFiles, 3*size.n)
				}
				deleted += got.Deleted["items"] + got.Deleted["blobs"]
			}
			b.ReportMetric(float64(unreadable.Milliseconds())/float64(b.N), "unreadable-ms")
			b.ReportMetric(float64(request.Milliseconds())/float64(b.N), "request-ms")
			b.ReportMetric(float64(deleted)/deleting.Seconds(), "deleted-items/s")
			b.ReportMetric(float64(deleted)/float64(b.N), "items")
		})
	}
}

// BenchmarkWorkspacePurgeBaseline is the bare work under a purge of the
// same workspaces: destroy the keys, then delete the tenant's records
// 1,000 at a time (bolt.Store.DeleteTenant) and its files, with no purge
// record, audit digest or confirmation.
func BenchmarkWorkspacePurgeBaseline(b *testing.B) {
	for _, size := range purgeSizes {
		b.Run(size.name, func(b *testing.B) {
			b.StopTimer()
			for range b.N {
				w := newPurgeWorld(b, size.n)
				ctx := tenant.With(context.Background(), "acme")
				b.StartTimer()
				if err := w.keys.Shred(ctx); err != nil {
					b.Fatal(err)
				}
				for {
					n, err := w.store.DeleteTenant(ctx, 1000)
					if err != nil {
						b.Fatal(err)
					}
					if n == 0 {
						break
					}
				}
				page, err := w.blobs.List(ctx, "", "", purgeFiles)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range page.Objects {
					if err := w.blobs.Delete(ctx, o.Key); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
			}
		})
	}
}
