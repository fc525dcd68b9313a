package httpapi

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/directory"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

// benchAuthed measures one authenticated request (GET /v1/me) through the
// whole middleware chain, with or without the tenant's user directory
// deciding (ACC-07). The directory's lookups are cached, so after the
// first request the difference is the cache hit.
func benchAuthed(b *testing.B, withDirectory bool) {
	dir := b.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "alto.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	iss, err := auth.LoadOrCreateIssuer(filepath.Join(dir, "issuer.pem"), "alto-local", "alto")
	if err != nil {
		b.Fatal(err)
	}
	keys, err := auth.KeysFromJWKS(iss.JWKS())
	if err != nil {
		b.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Issuer: "alto-local", Audience: "alto", Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	st := db.Store()
	cfg := Config{Verifier: v, Audit: audit.New(st, nil), Logins: st}
	if withDirectory {
		master, err := localkeys.LoadOrCreateMaster(filepath.Join(dir, "master.json"))
		if err != nil {
			b.Fatal(err)
		}
		keysets, err := localkeys.OpenDir(filepath.Join(dir, "keysets"))
		if err != nil {
			b.Fatal(err)
		}
		dirs := directory.New(directory.Config{Store: st, Keys: seal.NewKeyring(master, keysets), Audit: cfg.Audit})
		_, err = dirs.Create(tenant.With(context.Background(), "acme"),
			directory.User{UserName: "jane@acme.example", ExternalID: "00u-jane", Active: true, Role: auth.Manager, Branch: "north"})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Directory = dirs
	}
	api := New(cfg)
	tok, err := iss.Mint(auth.Principal{Sub: "00u-jane", Org: "acme", Role: auth.Rep}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	serve := func() {
		r := httptest.NewRequest("GET", "/v1/me", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("GET /v1/me = %d %s", w.Code, w.Body)
		}
	}
	serve() // the log-in is audited once, and the directory's lookup cached
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
}

// BenchmarkAuthedRequestBaseline is a request of a tenant without a
// directory: the token's claims are trusted.
func BenchmarkAuthedRequestBaseline(b *testing.B) { benchAuthed(b, false) }

// BenchmarkAuthedRequest is the same request of a tenant whose directory
// decides the principal.
func BenchmarkAuthedRequest(b *testing.B) { benchAuthed(b, true) }
