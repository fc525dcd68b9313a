package directory_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/alto/alto/shared/clocktest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/directory"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// clock is the tests' settable clock.
type clock = clocktest.Clock

type env struct {
	dir    string
	store  *bolt.Store
	keys   *seal.Keyring
	audit  *audit.Log
	clock  *clock
	dirs   *directory.Directory
	dbPath string
}

// newEnv opens a real bbolt store and key ring in a temporary folder.
func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	clk := clocktest.At(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	dbPath := filepath.Join(dir, "alto.db")
	db, err := bolt.Open(dbPath, bolt.Options{Now: clk.Now})
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
	e := &env{dir: dir, store: db.Store(), keys: seal.NewKeyring(master, keysets), clock: clk, dbPath: dbPath}
	e.audit = audit.New(e.store, clk.Now)
	e.dirs = e.newDirectory(0)
	return e
}

// newDirectory is another process's Directory over the same store.
func (e *env) newDirectory(ttl time.Duration) *directory.Directory {
	return directory.New(directory.Config{Store: e.store, Keys: e.keys, Audit: e.audit, Now: e.clock.Now, CacheTTL: ttl})
}

func acme() context.Context { return tenant.With(context.Background(), "acme") }

func jane() directory.User {
	return directory.User{
		UserName: "Jane.Doe@acme.example", ExternalID: "00u1okta", DisplayName: "Jane Doe",
		Name:   directory.Name{GivenName: "Jane", FamilyName: "Doe"},
		Emails: []directory.Email{{Value: "jane.doe@acme.example", Type: "work", Primary: true}},
		Active: true, Role: auth.Manager, Branch: "north", Dept: "sales",
	}
}

func mustCreate(t *testing.T, d *directory.Directory, ctx context.Context, u directory.User) directory.User {
	t.Helper()
	got, err := d.Create(ctx, u)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return got
}

func TestCreateFindUpdateDelete(t *testing.T) {
	e := newEnv(t)
	ctx := acme()
	u := mustCreate(t, e.dirs, ctx, jane())
	if u.ID == "" || u.Version != 1 || !u.Created.Equal(e.clock.Now()) {
		t.Fatalf("created = %+v, want an ID, version 1 and the creation time", u)
	}
	got, err := e.dirs.Get(ctx, u.ID)
	if err != nil || !equalUsers(got, u) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, u)
	}
	for _, name := range []string{"jane.doe@acme.example", "JANE.DOE@ACME.EXAMPLE", "Jane.Doe@acme.example"} {
		if got, err := e.dirs.FindByUserName(ctx, name); err != nil || got.ID != u.ID {
			t.Errorf("FindByUserName(%q) = %s, %v; want %s (userName is case-insensitive)", name, got.ID, err, u.ID)
		}
	}
	if got, err := e.dirs.FindByExternalID(ctx, "00u1okta"); err != nil || got.ID != u.ID {
		t.Errorf("FindByExternalID = %s, %v; want %s", got.ID, err, u.ID)
	}
	if _, err := e.dirs.FindByExternalID(ctx, "00U1OKTA"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("FindByExternalID with another case = %v, want ErrNotFound (externalId is case-exact)", err)
	}

	e.clock.Advance(time.Minute)
	next, err := e.dirs.Update(ctx, u.ID, func(cur directory.User) (directory.User, error) {
		cur.UserName, cur.ExternalID, cur.Role = "jane@acme.example", "", auth.Admin
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next.Version != 2 || !next.Modified.Equal(e.clock.Now()) || !next.Created.Equal(u.Created) {
		t.Errorf("updated = %+v, want version 2, modified now, created kept", next)
	}
	if _, err := e.dirs.FindByUserName(ctx, "jane.doe@acme.example"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("old userName still finds the user: %v", err)
	}
	if _, err := e.dirs.FindByExternalID(ctx, "00u1okta"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("removed externalId still finds the user: %v", err)
	}
	if got, err := e.dirs.FindByUserName(ctx, "jane@acme.example"); err != nil || got.Role != auth.Admin {
		t.Errorf("new userName = %+v, %v; want the user as admin", got, err)
	}
	// The old values are free for another user now.
	other := jane()
	mustCreate(t, e.dirs, ctx, other)

	if err := e.dirs.Delete(ctx, u.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dirs.Get(ctx, u.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := e.dirs.Delete(ctx, u.ID, nil); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	users, total, err := e.dirs.List(ctx, 0, 10)
	if err != nil || total != 1 || len(users) != 1 || users[0].UserName != other.UserName {
		t.Errorf("List = %d users of %d (%v), want only the other user", len(users), total, err)
	}
}

func equalUsers(a, b directory.User) bool {
	return a.ID == b.ID && a.UserName == b.UserName && a.ExternalID == b.ExternalID && a.Name == b.Name &&
		slices.Equal(a.Emails, b.Emails) && a.Active == b.Active && a.Role == b.Role &&
		a.Branch == b.Branch && a.Dept == b.Dept && a.Version == b.Version
}

func TestUniqueness(t *testing.T) {
	e := newEnv(t)
	ctx := acme()
	first := mustCreate(t, e.dirs, ctx, jane())
	cases := map[string]func(u *directory.User){
		"same userName in another case": func(u *directory.User) { u.ExternalID = "other"; u.UserName = strings.ToUpper(u.UserName) },
		"same externalId":               func(u *directory.User) { u.UserName = "someone@acme.example" },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			u := jane()
			mod(&u)
			if _, err := e.dirs.Create(ctx, u); !errors.Is(err, directory.ErrConflict) {
				t.Errorf("Create = %v, want ErrConflict", err)
			}
		})
	}
	second := mustCreate(t, e.dirs, ctx, directory.User{UserName: "bob@acme.example", Active: true})
	_, err := e.dirs.Update(ctx, second.ID, func(u directory.User) (directory.User, error) {
		u.UserName = "JANE.DOE@acme.example"
		return u, nil
	})
	if !errors.Is(err, directory.ErrConflict) {
		t.Errorf("Update to a taken userName = %v, want ErrConflict", err)
	}
	if got, _ := e.dirs.FindByUserName(ctx, "jane.doe@acme.example"); got.ID != first.ID {
		t.Errorf("the refused update moved the handle to %s", got.ID)
	}
}

func TestConcurrentCreatesOfOneUserName(t *testing.T) {
	e := newEnv(t)
	ctx := acme()
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, conflicts := 0, 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := jane()
			u.ExternalID = fmt.Sprintf("ext-%d", i)
			_, err := e.dirs.Create(ctx, u)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case errors.Is(err, directory.ErrConflict):
				conflicts++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if created != 1 || conflicts != 7 {
		t.Errorf("created %d, conflicts %d; want 1 and 7", created, conflicts)
	}
}

// TestStaleHandlesAreTakenOver checks that a write interrupted after
// claiming a handle does not block the value for good.
func TestStaleHandlesAreTakenOver(t *testing.T) {
	e := newEnv(t)
	ctx := acme()
	u := mustCreate(t, e.dirs, ctx, jane())
	// A crash between deleting the record and its handles leaves both
	// handles behind.
	if err := e.store.Delete(ctx, store.Key{PK: "USER", SK: u.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dirs.FindByUserName(ctx, u.UserName); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("a stale handle finds %v, want ErrNotFound", err)
	}
	// Within a minute the handle may belong to a write under way.
	if _, err := e.dirs.Create(ctx, jane()); !errors.Is(err, directory.ErrConflict) {
		t.Errorf("Create over a fresh handle = %v, want ErrConflict", err)
	}
	e.clock.Advance(time.Minute)
	again, err := e.dirs.Create(ctx, jane())
	if err != nil {
		t.Fatalf("Create over stale handles = %v, want success", err)
	}
	if got, err := e.dirs.FindByExternalID(ctx, "00u1okta"); err != nil || got.ID != again.ID {
		t.Errorf("FindByExternalID = %s, %v; want the new user", got.ID, err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(*directory.User)
		field string
	}{
		{"no userName", func(u *directory.User) { u.UserName = "" }, "userName"},
		{"padded userName", func(u *directory.User) { u.UserName = " x " }, "userName"},
		{"control character", func(u *directory.User) { u.DisplayName = "a\nb" }, "displayName"},
		{"long name", func(u *directory.User) { u.Name.GivenName = strings.Repeat("x", 257) }, "name.givenName"},
		{"bad e-mail", func(u *directory.User) { u.Emails[0].Value = "not an address" }, "emails[0].value"},
		{"two primaries", func(u *directory.User) {
			u.Emails = append(u.Emails, directory.Email{Value: "b@x.example", Primary: true})
		}, "emails"},
		{"security role", func(u *directory.User) { u.Role = auth.Security }, directory.ExtensionSchema + ":role"},
		{"unknown role", func(u *directory.User) { u.Role = "root" }, directory.ExtensionSchema + ":role"},
		{"bad branch", func(u *directory.User) { u.Branch = "north branch" }, directory.ExtensionSchema + ":branch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := jane()
			tc.mod(&u)
			errs := directory.Validate(u)
			if len(errs) != 1 || errs[0].Field != tc.field {
				t.Fatalf("Validate = %v, want one error on %s", errs, tc.field)
			}
		})
	}
	if errs := directory.Validate(jane()); len(errs) != 0 {
		t.Errorf("Validate(valid) = %v", errs)
	}
	e := newEnv(t)
	bad := jane()
	bad.UserName = ""
	var errs valid.Errors
	if _, err := e.dirs.Create(acme(), bad); !errors.As(err, &errs) {
		t.Errorf("Create(invalid) = %v, want valid.Errors", err)
	}
	if ok, _ := e.dirs.Exists(acme()); ok {
		t.Error("a refused create gave the tenant a directory")
	}
}

// TestENC02_DirectoryStoresNoPlaintextPII looks for the user's personal
// data in the database file itself and in the audit log.
func TestENC02_DirectoryStoresNoPlaintextPII(t *testing.T) {
	e := newEnv(t)
	ctx := acme()
	u := mustCreate(t, e.dirs, ctx, jane())
	if _, err := e.dirs.Update(ctx, u.ID, func(u directory.User) (directory.User, error) {
		u.Active = false
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	entries, _, err := e.audit.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	for _, en := range entries {
		fmt.Fprintf(&log, "%+v\n", en)
	}
	for _, pii := range []string{"jane.doe@acme.example", "Jane.Doe@acme.example", "00u1okta", "Jane Doe", `"Doe"`} {
		if bytes.Contains(raw, []byte(pii)) {
			t.Errorf("the database file contains %q", pii)
		}
		if strings.Contains(log.String(), pii) {
			t.Errorf("the audit log contains %q", pii)
		}
	}
	if len(entries) != 2 || entries[0].Type != "directory.user_created" || entries[1].Detail["changed"] != "active" {
		t.Errorf("audit = %+v, want a creation and an update naming the changed field", entries)
	}
}

func TestACC03_DirectoryIsTenantScoped(t *testing.T) {
	e := newEnv(t)
	u := mustCreate(t, e.dirs, acme(), jane())
	globex := tenant.With(context.Background(), "globex")
	if _, err := e.dirs.Get(globex, u.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("another tenant's Get = %v, want ErrNotFound", err)
	}
	if _, err := e.dirs.FindByUserName(globex, u.UserName); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("another tenant's FindByUserName = %v, want ErrNotFound", err)
	}
	if _, err := e.dirs.Update(globex, u.ID, func(u directory.User) (directory.User, error) { return u, nil }); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("another tenant's Update = %v, want ErrNotFound", err)
	}
	if err := e.dirs.Delete(globex, u.ID, nil); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("another tenant's Delete = %v, want ErrNotFound", err)
	}
	if users, total, err := e.dirs.List(globex, 0, 10); err != nil || total != 0 || len(users) != 0 {
		t.Errorf("another tenant lists %d of %d (%v), want none", len(users), total, err)
	}
	// The same userName is free in another tenant.
	mustCreate(t, e.dirs, globex, jane())
	if _, err := e.dirs.Get(acme(), u.ID); err != nil {
		t.Errorf("acme's user after globex wrote its own: %v", err)
	}
}

func TestOwnersAndAdmins(t *testing.T) {
	e := newEnv(t)
	ctx := acme()
	if got, err := e.dirs.OwnersAndAdmins(ctx); err != nil || len(got) != 0 {
		t.Fatalf("without a directory = %v, %v; want none", got, err)
	}
	users := []directory.User{
		{UserName: "owner@acme.example", Active: true, Role: auth.Owner},
		{UserName: "o2", Active: true, Role: auth.Owner, Emails: []directory.Email{{Value: "b@acme.example"}, {Value: "o2@acme.example", Primary: true}}},
		{UserName: "admin", Active: true, Role: auth.Admin, Emails: []directory.Email{{Value: "admin@acme.example"}}},
		{UserName: "gone@acme.example", Active: false, Role: auth.Admin},
		{UserName: "rep@acme.example", Active: true, Role: auth.Rep},
		{UserName: "noaddress", Active: true, Role: auth.Owner},
	}
	for _, u := range users {
		mustCreate(t, e.dirs, ctx, u)
	}
	got, err := e.dirs.OwnersAndAdmins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"admin@acme.example", "o2@acme.example", "owner@acme.example"}
	if !slices.Equal(got, want) {
		t.Errorf("OwnersAndAdmins = %v, want %v", got, want)
	}

	if err := e.keys.Shred(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := e.dirs.OwnersAndAdmins(ctx); err != nil || len(got) != 0 {
		t.Errorf("after shredding = %v, %v; want none and no error", got, err)
	}
}
