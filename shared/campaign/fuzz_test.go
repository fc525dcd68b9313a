package campaign

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

// FuzzParseToken feeds arbitrary strings to the public opt-out endpoint's
// token check, seeded with a genuine token. It must never panic, must
// refuse only with ErrBadToken, and may accept only a token naming exactly
// the tenant, contact and campaign its keys signed.
func FuzzParseToken(f *testing.F) {
	dir := f.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "alto.db"), bolt.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	master, err := localkeys.LoadOrCreateMaster(filepath.Join(dir, "master.json"))
	if err != nil {
		f.Fatal(err)
	}
	keysets, err := localkeys.OpenDir(filepath.Join(dir, "keysets"))
	if err != nil {
		f.Fatal(err)
	}
	s := &Service{Store: db.Store(), Keys: seal.NewKeyring(master, keysets), Audit: audit.New(db.Store(), nil)}
	ctx := tenant.With(f.Context(), "acme")
	camp, err := s.Create(ctx, Campaign{Name: "n", Channel: "email", Template: "Hi",
		Sender: Sender{Name: "Acme", PostalAddress: "1 Market St, San Francisco"}, Reason: "you asked"}, "u1")
	if err != nil {
		f.Fatal(err)
	}
	tok, err := s.token(ctx, "c_000000_contact", camp.ID)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("Z2xvYmV4LmNfMDAwMDAwX0EuY21w.AAAA")
	f.Add("")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		tctx, contactID, campaignID, err := s.ParseToken(t.Context(), tok)
		if err != nil {
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("ParseToken refused with %v, want ErrBadToken", err)
			}
			return
		}
		org, _ := tenant.From(tctx)
		if org != "acme" || contactID != "c_000000_contact" || campaignID != camp.ID {
			t.Fatalf("ParseToken accepted %q as %s/%s/%s: only acme/c_000000_contact/%s was signed", tok, org, contactID, campaignID, camp.ID)
		}
	})
}
