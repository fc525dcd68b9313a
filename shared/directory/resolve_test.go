package directory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/directory"
	"github.com/alto/alto/shared/tenant"
)

func TestACC07_ResolveMakesTheDirectoryAuthoritative(t *testing.T) {
	e := newEnv(t)
	ctx := acme()
	token := auth.Principal{Sub: "00u1okta", Org: "acme", Role: auth.Owner, Branch: "b0", Dept: "d0"}

	// Without a directory the claims stand.
	if got, err := e.dirs.Resolve(ctx, token); err != nil || got != token {
		t.Fatalf("no directory: Resolve = %+v, %v; want the token's claims", got, err)
	}

	u := mustCreate(t, e.dirs, ctx, jane()) // manager of north/sales
	mustCreate(t, e.dirs, ctx, directory.User{UserName: "norole@acme.example", Active: true})
	mustCreate(t, e.dirs, ctx, directory.User{UserName: "off@acme.example", Active: false, Role: auth.Admin})
	cases := []struct {
		name    string
		sub     string
		want    auth.Principal
		refused bool
	}{
		{"by externalId: the directory's role and scope", "00u1okta",
			auth.Principal{Sub: "00u1okta", Org: "acme", Role: auth.Manager, Branch: "north", Dept: "sales"}, false},
		{"by userName, any case", "JANE.doe@acme.example",
			auth.Principal{Sub: "JANE.doe@acme.example", Org: "acme", Role: auth.Manager, Branch: "north", Dept: "sales"}, false},
		{"no role in the directory: the claims stand", "norole@acme.example",
			auth.Principal{Sub: "norole@acme.example", Org: "acme", Role: auth.Owner, Branch: "b0", Dept: "d0"}, false},
		{"deactivated", "off@acme.example", auth.Principal{}, true},
		{"not provisioned", "stranger@acme.example", auth.Principal{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := token
			p.Sub = tc.sub
			got, err := e.dirs.Resolve(ctx, p)
			if tc.refused {
				if !errors.Is(err, auth.ErrUnauthenticated) {
					t.Fatalf("Resolve = %+v, %v; want ErrUnauthenticated", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}

	// Deleting the user refuses its subject at once.
	if err := e.dirs.Delete(ctx, u.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dirs.Resolve(ctx, token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("after delete: Resolve = %v, want ErrUnauthenticated", err)
	}
	// Another tenant without a directory is untouched.
	globex := tenant.With(context.Background(), "globex")
	other := auth.Principal{Sub: "00u1okta", Org: "globex", Role: auth.Rep}
	if got, err := e.dirs.Resolve(globex, other); err != nil || got != other {
		t.Errorf("globex: Resolve = %+v, %v; want its claims", got, err)
	}
}

// TestACC07_DeprovisioningTakesEffectAtOnceInProcessAndWithinTheCacheTTLAcrossProcesses
// says how fast a deprovisioning takes effect: through the same process,
// on the very next Resolve; through another process (another Lambda
// instance), once the cache TTL has passed, and not a moment later.
func TestACC07_DeprovisioningTakesEffectAtOnceInProcessAndWithinTheCacheTTLAcrossProcesses(t *testing.T) {
	const ttl = 10 * time.Second
	e := newEnv(t)
	ctx := acme()
	here, there := e.newDirectory(ttl), e.newDirectory(ttl)
	u := mustCreate(t, here, ctx, jane())
	p := auth.Principal{Sub: "00u1okta", Org: "acme", Role: auth.Rep}
	for _, d := range []*directory.Directory{here, there} {
		if _, err := d.Resolve(ctx, p); err != nil {
			t.Fatalf("active user refused: %v", err)
		}
	}

	deactivate := func(active bool) {
		t.Helper()
		if _, err := here.Update(ctx, u.ID, func(u directory.User) (directory.User, error) {
			u.Active = active
			return u, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	deactivate(false)
	if _, err := here.Resolve(ctx, p); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("same process, next call: Resolve = %v, want ErrUnauthenticated at once", err)
	}
	// The other process still holds its cached lookup...
	e.clock.Advance(ttl - time.Second)
	if _, err := there.Resolve(ctx, p); err != nil {
		t.Errorf("other process within the TTL: Resolve = %v; its cache may still allow (this bounds the delay)", err)
	}
	// ...and refuses once the TTL has passed.
	e.clock.Advance(time.Second)
	if _, err := there.Resolve(ctx, p); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("other process after the TTL: Resolve = %v, want ErrUnauthenticated", err)
	}

	// A role change applies to the next call in this process too.
	deactivate(true)
	if _, err := here.Update(ctx, u.ID, func(u directory.User) (directory.User, error) {
		u.Role, u.Branch = auth.Admin, "south"
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := here.Resolve(ctx, p)
	if err != nil || got.Role != auth.Admin || got.Branch != "south" {
		t.Errorf("after a role change: Resolve = %+v, %v; want admin of south", got, err)
	}
}

// TestResolveWithoutCacheReadsEveryTime checks the cache can be turned off.
func TestResolveWithoutCacheReadsEveryTime(t *testing.T) {
	e := newEnv(t)
	ctx := acme()
	here, there := e.newDirectory(-1), e.newDirectory(-1)
	u := mustCreate(t, here, ctx, jane())
	p := auth.Principal{Sub: "00u1okta", Org: "acme", Role: auth.Rep}
	if _, err := there.Resolve(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := here.Delete(ctx, u.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := there.Resolve(ctx, p); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("uncached, other process: Resolve = %v, want ErrUnauthenticated at once", err)
	}
}

// TestResolveOfAShreddedTenantLeavesTheDecisionToThePurge checks that a
// purged tenant's tokens are not answered with a server error here: the
// purge decides what they may still do.
func TestResolveOfAShreddedTenantLeavesTheDecisionToThePurge(t *testing.T) {
	e := newEnv(t)
	ctx := acme()
	mustCreate(t, e.dirs, ctx, jane())
	if err := e.keys.Shred(ctx); err != nil {
		t.Fatal(err)
	}
	p := auth.Principal{Sub: "00u1okta", Org: "acme", Role: auth.Owner}
	if got, err := e.newDirectory(0).Resolve(ctx, p); err != nil || got != p {
		t.Errorf("Resolve after shredding = %+v, %v; want the claims unchanged", got, err)
	}
}
