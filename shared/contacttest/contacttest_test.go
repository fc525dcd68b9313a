package contacttest_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/contacttest"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// TestSeedStoresFindableSealedContacts seeds a tenant in two runs (one
// with an audit log) and reads it back through the contact service: every
// contact is there once, found by its e-mail, and the audit chain holds
// one entry per audited contact.
func TestSeedStoresFindableSealedContacts(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "alto.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	master, err := localkeys.LoadOrCreateMaster(filepath.Join(dir, "master.json"))
	if err != nil {
		t.Fatal(err)
	}
	keysets, err := localkeys.OpenDir(filepath.Join(dir, "keysets"))
	if err != nil {
		t.Fatal(err)
	}
	keys := seal.NewKeyring(master, keysets)
	st := db.Store()
	log := audit.New(st, nil)
	ctx := tenant.With(context.Background(), "acme")

	const first, second = 2500, 700 // more than one batch, and a partial one
	if err := contacttest.Seed(ctx, st, keys, nil, 0, first); err != nil {
		t.Fatal(err)
	}
	if err := contacttest.Seed(ctx, st, keys, log, first, second); err != nil {
		t.Fatal(err)
	}
	svc := &contact.Service{Store: st, Keys: keys, Audit: log}
	seen, cursor := map[string]bool{}, ""
	for {
		page, next, err := svc.List(ctx, auth.Scope{All: true}, cursor, store.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			if seen[c.Email] {
				t.Fatalf("%s listed twice", c.ID)
			}
			seen[c.Email] = true
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if got, want := len(seen), first+second; got != want {
		t.Errorf("contacts = %d, want %d", got, want)
	}
	for _, i := range []int{0, first - 1, first, first + second - 1} {
		email := contacttest.Person(i).Email
		found, err := svc.Find(ctx, auth.Scope{All: true}, contact.KindEmail, email)
		if err != nil || len(found) != 1 || found[0].LastName != contacttest.Person(i).LastName {
			t.Errorf("find person %d = %+v, %v; want exactly them", i, found, err)
		}
	}
	res, err := log.Verify(ctx)
	if err != nil || !res.OK || res.Entries != second {
		t.Errorf("audit chain = %+v, %v; want intact with %d entries", res, err, second)
	}
}
