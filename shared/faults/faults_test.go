package faults_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/clocktest"
	"github.com/alto/alto/shared/faults"
	"github.com/alto/alto/shared/keysettest"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/queuetest"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/storetest"
	"github.com/alto/alto/shared/tenant"
)

// openDB opens a bbolt database in a temporary folder.
func openDB(t *testing.T, clk *clocktest.Clock) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "alto.db"), bolt.Options{Now: clk.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The wrappers, unarmed, keep their ports' contracts: a flow run through
// them behaves as without them.
func TestStoreKeepsTheContractUnarmed(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		clk := clocktest.At(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
		return storetest.Harness{Store: &faults.Store{Next: openDB(t, clk).Store(), In: &faults.Injector{}},
			Now: clk.Now, Advance: clk.Advance}
	})
}

func TestQueuesKeepTheContractUnarmed(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, cfgs []queue.Config) queuetest.Harness {
		clk := clocktest.At(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
		q, err := openDB(t, clk).Queues(cfgs...)
		if err != nil {
			t.Fatal(err)
		}
		return queuetest.Harness{Queues: &faults.Queues{Next: q, In: &faults.Injector{}}, Now: clk.Now, Advance: clk.Advance}
	})
}

func TestKeysetsKeepTheContractUnarmed(t *testing.T) {
	keysettest.TestKeysetStore(t, func(t *testing.T) seal.KeysetStore {
		d, err := localkeys.OpenDir(filepath.Join(t.TempDir(), "keysets"))
		if err != nil {
			t.Fatal(err)
		}
		return &faults.Keysets{Next: d, In: &faults.Injector{}}
	})
}

// TestInjectorFailsTheArmedCallAsItsModeSays puts three items through a
// real store with the second put armed, and reads them back unarmed.
func TestInjectorFailsTheArmedCallAsItsModeSays(t *testing.T) {
	ctx := tenant.With(context.Background(), "acme")
	cases := []struct {
		mode faults.Mode
		// errs says which of the three puts fail; stored which items exist
		// after them.
		errs, stored []bool
	}{
		{faults.Before, []bool{false, true, false}, []bool{true, false, true}},
		{faults.After, []bool{false, true, false}, []bool{true, true, true}},
		{faults.Crash, []bool{false, true, true}, []bool{true, false, false}},
	}
	for _, tc := range cases {
		t.Run(tc.mode.String(), func(t *testing.T) {
			in := &faults.Injector{}
			st := &faults.Store{Next: openDB(t, clocktest.At(time.Now())).Store(), In: in}
			in.Arm(2, tc.mode)
			keys := []string{"a", "b", "c"}
			for i, k := range keys {
				_, err := st.Put(ctx, store.Item{PK: "P", SK: k}, store.Always)
				if got := err != nil; got != tc.errs[i] {
					t.Errorf("put %s: error %v, want failure %v", k, err, tc.errs[i])
				}
				if err != nil && !errors.Is(err, faults.ErrInjected) {
					t.Errorf("put %s: error %v, want one wrapping ErrInjected", k, err)
				}
			}
			if got, want := in.Fired(), "call 2 (store.Put), "+tc.mode.String(); got != want {
				t.Errorf("Fired = %q, want %q", got, want)
			}
			in.Recover()
			for i, k := range keys {
				_, err := st.Get(ctx, store.Key{PK: "P", SK: k})
				if got := err == nil; got != tc.stored[i] {
					t.Errorf("after the puts, %s stored = %v (%v), want %v", k, got, err, tc.stored[i])
				}
			}
			if got, want := in.Calls(), 6; got != want {
				t.Errorf("Calls = %d, want %d", got, want)
			}
			want := []string{"store.Put", "store.Put", "store.Put", "store.Get", "store.Get", "store.Get"}
			if got := in.Trace(); !slices.Equal(got, want) {
				t.Errorf("Trace = %q, want %q", got, want)
			}
			in.Reset()
			if in.Calls() != 0 || in.Fired() != "" {
				t.Errorf("after Reset: Calls %d, Fired %q, want 0 and none", in.Calls(), in.Fired())
			}
		})
	}
}
