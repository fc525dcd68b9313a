package purge_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/tenant"
)

// calls records the order of the purge's calls to its ports.
type calls []string

// orderKeys is a hand-written purge.Keys that records shredding.
type orderKeys struct{ calls *calls }

func (k orderKeys) Shred(context.Context) error { *k.calls = append(*k.calls, "shred"); return nil }
func (k orderKeys) Seal(_ context.Context, _, _ string, pt []byte) ([]byte, error) {
	return pt, nil
}
func (k orderKeys) Open(_ context.Context, _, _ string, ct []byte) ([]byte, error) { return ct, nil }

// orderChain is a hand-written purge.Chain that records verification.
type orderChain struct{ calls *calls }

func (c orderChain) Append(_ context.Context, e audit.Entry) (audit.Entry, error) { return e, nil }
func (c orderChain) Verify(context.Context) (audit.Result, error) {
	*c.calls = append(*c.calls, "verify")
	return audit.Result{OK: true, Entries: 1_000_000, Head: "head"}, nil
}

// TestENC04_PurgeShredsBeforeWalkingTheAuditChain checks that nothing
// that grows with the workspace runs before the keys are destroyed: the
// audit chain (a million entries for a million contacts) is verified for
// the confirmation's digest after the shred, not before.
func TestENC04_PurgeShredsBeforeWalkingTheAuditChain(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "alto.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var got calls
	svc := &purge.Service{Keys: orderKeys{&got}, Store: db.Store(), Data: db.Store(), Audit: orderChain{&got}}
	p, err := svc.Request(tenant.With(context.Background(), "acme"), "acme", "owner@example.com", "u-owner")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"shred", "verify"}; !slices.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	if p.AuditHead != "head" || p.AuditEntries != 1_000_000 {
		t.Errorf("purge digest = %q over %d entries, want the verified head", p.AuditHead, p.AuditEntries)
	}
}
