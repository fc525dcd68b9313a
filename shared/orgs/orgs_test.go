package orgs_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/orgs"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

func openStore(t *testing.T) *bolt.Store {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "alto.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Store()
}

func TestRegisterAndList(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	a, b := orgs.New(st, nil), orgs.New(st, nil) // two processes over one store
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a
			if i%2 == 1 {
				r = b
			}
			if err := r.Register(ctx, tenant.ID(fmt.Sprintf("org-%02d", i%15))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var got []tenant.ID
	cursor := ""
	for {
		ids, next, err := a.List(ctx, cursor, 4)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids...)
		if next == "" {
			break
		}
		cursor = next
	}
	var want []tenant.ID
	for i := range 15 {
		want = append(want, tenant.ID(fmt.Sprintf("org-%02d", i)))
	}
	if !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	var all []tenant.ID
	if err := b.All(ctx, func(id tenant.ID) error { all = append(all, id); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all, want) {
		t.Errorf("All = %v, want %v", all, want)
	}
}

func TestRegisterRefusesInvalid(t *testing.T) {
	r := orgs.New(openStore(t), nil)
	for _, id := range []tenant.ID{"", tenant.Platform, "Has Caps", "a/b"} {
		if err := r.Register(context.Background(), id); err == nil {
			t.Errorf("Register(%q) succeeded, want an error", id)
		}
	}
	if _, _, err := r.List(context.Background(), "", store.MaxLimit+1); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("List with limit above the maximum = %v, want store.ErrInvalid", err)
	}
}

// TestRegistryIsPlatformScoped checks that tenants never see the registry
// in their own scope.
func TestRegistryIsPlatformScoped(t *testing.T) {
	st := openStore(t)
	r := orgs.New(st, nil)
	if err := r.Register(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	page, err := st.Query(tenant.With(context.Background(), "acme"), store.Query{PK: "ORG"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Errorf("tenant scope sees %d registry items, want 0", len(page.Items))
	}
}
