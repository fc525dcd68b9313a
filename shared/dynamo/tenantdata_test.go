package dynamo_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alto/alto/shared/dynamo"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// TestPRG02_DeleteTenantRemovesOnlyThatTenant fills three tenants, one
// whose name extends another's, across partitions (with expired and
// indexed items), and deletes one of them in small steps: every step
// deletes at most its limit, the steps add up to the tenant's items, the
// last reports 0, and the other tenants and the shredded tenant's keyset
// tombstone stay.
func TestPRG02_DeleteTenantRemovesOnlyThatTenant(t *testing.T) {
	client, table := newTable(t)
	s := dynamo.New(client, table, dynamo.Options{})
	keysets := dynamo.NewKeysets(client, table)
	fill := func(org tenant.ID, n int) {
		t.Helper()
		ctx := tenant.With(t.Context(), org)
		var items []store.Item
		for i := range n {
			it := store.Item{PK: fmt.Sprintf("P#%d", i%3), SK: fmt.Sprintf("S#%03d", i), Data: []byte("x")}
			if i%4 == 0 {
				it.Index = fmt.Sprintf("ix%d", i)
			}
			if i%5 == 0 {
				it.ExpiresAt = time.Now().Add(-time.Hour)
			}
			items = append(items, it)
		}
		if err := s.BatchPut(ctx, items); err != nil {
			t.Fatalf("BatchPut %s: %v", org, err)
		}
	}
	fill("acme", 23)
	fill("acme2", 9)
	fill("beta", 11)
	if err := keysets.Create(t.Context(), "acme", []byte("wrapped")); err != nil {
		t.Fatal(err)
	}
	if err := keysets.Destroy(t.Context(), "acme"); err != nil {
		t.Fatal(err)
	}

	acme := tenant.With(t.Context(), "acme")
	total, steps := 0, 0
	for ; steps < 20; steps++ {
		n, err := s.DeleteTenant(acme, 5)
		if err != nil {
			t.Fatalf("DeleteTenant step %d: %v", steps, err)
		}
		if n > 5 {
			t.Errorf("step %d deleted %d, want at most 5", steps, n)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != 23 {
		t.Errorf("deleted %d items in %d steps, want 23", total, steps)
	}
	for _, tc := range []struct {
		org  tenant.ID
		want int
	}{{"acme", 0}, {"acme2", 9}, {"beta", 11}} {
		ctx := tenant.With(t.Context(), tc.org)
		n := 0
		for p := range 3 {
			page, err := s.Query(ctx, store.Query{PK: fmt.Sprintf("P#%d", p), Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			n += len(page.Items)
		}
		live := tc.want - (tc.want+4)/5 // items i%5==0 are expired and hidden
		if tc.want == 0 {
			live = 0
		}
		if n != live {
			t.Errorf("tenant %s: %d live items left, want %d", tc.org, n, live)
		}
	}
	if _, err := keysets.Get(t.Context(), "acme"); !errors.Is(err, seal.ErrShredded) {
		t.Errorf("keyset of acme after the purge: %v, want the tombstone (ErrShredded)", err)
	}
	if _, err := s.DeleteTenant(t.Context(), 5); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("DeleteTenant without a tenant: %v, want ErrNoTenant", err)
	}
	if _, err := s.DeleteTenant(acme, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("DeleteTenant(0): %v, want ErrInvalid", err)
	}
}
