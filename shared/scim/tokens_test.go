package scim_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/scim"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

func TestACC07_SCIMTokenIsShownOnceStoredHashedAndRotatedAtOnce(t *testing.T) {
	e := newEnv(t)
	acme := tenant.With(context.Background(), "acme")
	ownerP := auth.Principal{Sub: "u-owner", Org: "acme", Role: auth.Owner}

	first, at, err := e.tokens.Rotate(acme, ownerP)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, scim.TokenPrefix) || len(first) != len(scim.TokenPrefix)+43 || !at.Equal(e.clock.Now()) {
		t.Fatalf("token %q at %v, want the prefix, 256 random bits and the rotation time", first[:len(scim.TokenPrefix)], at)
	}
	cred, err := e.tokens.Authenticate(context.Background(), first)
	if err != nil || cred != (scim.Credential{Org: "acme", RotatedBy: auth.Owner}) {
		t.Fatalf("Authenticate = %+v, %v; want acme's owner-made credential", cred, err)
	}

	// Only hashes are stored, in the tenant and in the platform index.
	for _, k := range []struct {
		ctx context.Context
		pk  string
	}{{acme, "SCIM"}, {tenant.WithPlatform(context.Background()), "SCIMTOKEN"}} {
		page, err := e.store.Query(k.ctx, store.Query{PK: k.pk})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("%s items = %d (%v), want 1", k.pk, len(page.Items), err)
		}
		it := page.Items[0]
		secret := strings.TrimPrefix(first, scim.TokenPrefix)
		if strings.Contains(it.SK+string(it.Data), secret) {
			t.Errorf("%s stores the token itself", k.pk)
		}
	}

	second, _, err := e.tokens.Rotate(acme, auth.Principal{Sub: "u-admin", Org: "acme", Role: auth.Admin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tokens.Authenticate(context.Background(), first); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("the rotated-out token = %v, want ErrUnauthenticated at once", err)
	}
	if cred, err := e.tokens.Authenticate(context.Background(), second); err != nil || cred.RotatedBy != auth.Admin {
		t.Errorf("the new token = %+v, %v; want an admin-made credential", cred, err)
	}
	page, _ := e.store.Query(tenant.WithPlatform(context.Background()), store.Query{PK: "SCIMTOKEN"})
	if len(page.Items) != 1 {
		t.Errorf("platform index holds %d entries, want only the current token's", len(page.Items))
	}

	for name, tok := range map[string]string{
		"empty":          "",
		"a JWT":          "eyJhbGciOiJFUzI1NiJ9.e30.sig",
		"right shape":    scim.TokenPrefix + strings.Repeat("A", 43),
		"longer":         second + "x",
		"another prefix": "xxxx_scim_" + strings.TrimPrefix(second, scim.TokenPrefix),
	} {
		if _, err := e.tokens.Authenticate(context.Background(), tok); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("%s: Authenticate = %v, want ErrUnauthenticated", name, err)
		}
	}

	entries, _, err := e.audit.List(acme, audit.Filter{Type: "scim.token_rotated"})
	if err != nil || len(entries) != 2 || entries[0].Actor != "u-owner" || entries[1].Detail["role"] != "admin" {
		t.Errorf("audit = %+v (%v), want both rotations with their actors", entries, err)
	}
}

// TestACC03_SCIMTokensAreTenantScoped checks each token finds its own
// tenant, and a stale index entry pointing elsewhere opens nothing.
func TestACC03_SCIMTokensAreTenantScoped(t *testing.T) {
	e := newEnv(t)
	tokens := map[tenant.ID]string{}
	for _, org := range []tenant.ID{"acme", "globex"} {
		tok, _, err := e.tokens.Rotate(tenant.With(context.Background(), org), auth.Principal{Sub: "u", Org: string(org), Role: auth.Owner})
		if err != nil {
			t.Fatal(err)
		}
		tokens[org] = tok
	}
	for org, tok := range tokens {
		if cred, err := e.tokens.Authenticate(context.Background(), tok); err != nil || cred.Org != org {
			t.Errorf("%s's token = %+v, %v; want %s", org, cred, err, org)
		}
	}
}

func TestConcurrentRotationsLeaveOneWorkingToken(t *testing.T) {
	e := newEnv(t)
	acme := tenant.With(context.Background(), "acme")
	var wg sync.WaitGroup
	results := make([]string, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, _, err := e.tokens.Rotate(acme, auth.Principal{Sub: "u", Org: "acme", Role: auth.Owner})
			if err != nil && !errors.Is(err, scim.ErrRotating) {
				t.Error(err)
			}
			results[i] = tok
		}()
	}
	wg.Wait()
	working := 0
	for _, tok := range results {
		if tok == "" {
			continue
		}
		if _, err := e.tokens.Authenticate(context.Background(), tok); err == nil {
			working++
		}
	}
	if working != 1 {
		t.Errorf("%d tokens work after concurrent rotations, want exactly 1", working)
	}
}
