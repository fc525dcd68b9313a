package scim_test

import (
	"context"
	"encoding/json"
	"github.com/alto/alto/shared/clocktest"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/directory"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/scim"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

// clock is the tests' settable clock.
type clock = clocktest.Clock

type env struct {
	store  *bolt.Store
	audit  *audit.Log
	dirs   *directory.Directory
	tokens *scim.Tokens
	mux    *http.ServeMux
	clock  *clock
}

// newEnv serves the SCIM routes over a real bbolt store and key ring. The
// test plays the HTTP layer: it scopes each request to the credential's
// tenant, as the API does after checking the bearer token.
func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	clk := clocktest.At(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	db, err := bolt.Open(filepath.Join(dir, "alto.db"), bolt.Options{Now: clk.Now})
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
	st := db.Store()
	log := audit.New(st, clk.Now)
	e := &env{store: st, audit: log, clock: clk, mux: http.NewServeMux(),
		dirs:   directory.New(directory.Config{Store: st, Keys: seal.NewKeyring(master, keysets), Audit: log, Now: clk.Now}),
		tokens: &scim.Tokens{Store: st, Audit: log, Now: clk.Now}}
	srv := &scim.Server{Directory: e.dirs, BaseURL: "https://alto.example"}
	for _, rt := range srv.Routes() {
		e.mux.Handle(rt.Method+" "+rt.Path, rt.Handler)
	}
	return e
}

var owner = scim.Credential{Org: "acme", RotatedBy: auth.Owner}

// do serves one SCIM request as cred (no credential when cred.Org is "").
func (e *env) do(t *testing.T, cred scim.Credential, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", scim.MediaType)
	}
	if cred.Org != "" {
		r = r.WithContext(scim.WithCredential(tenant.With(r.Context(), cred.Org), cred))
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	if ct := w.Header().Get("Content-Type"); w.Code != http.StatusNoContent && ct != scim.MediaType {
		t.Errorf("%s %s: Content-Type = %q, want %s", method, path, ct, scim.MediaType)
	}
	return w
}

type user struct {
	Schemas    []string `json:"schemas"`
	ID         string   `json:"id"`
	UserName   string   `json:"userName"`
	ExternalID string   `json:"externalId"`
	Active     bool     `json:"active"`
	Name       struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
	} `json:"name"`
	Emails []struct {
		Value   string `json:"value"`
		Type    string `json:"type"`
		Primary bool   `json:"primary"`
	} `json:"emails"`
	Alto struct {
		Role   string `json:"role"`
		Branch string `json:"branch"`
		Dept   string `json:"dept"`
	} `json:"urn:ietf:params:scim:schemas:extension:alto:2.0:User"`
	Meta struct {
		ResourceType string `json:"resourceType"`
		Location     string `json:"location"`
		Version      string `json:"version"`
	} `json:"meta"`
}

type list struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []user   `json:"Resources"`
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	return v
}

// oktaCreate is the body Okta posts to create a user.
const oktaCreate = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:alto:2.0:User"],
  "userName": "jane.doe@acme.example",
  "name": {"givenName": "Jane", "familyName": "Doe"},
  "emails": [{"primary": true, "value": "jane.doe@acme.example", "type": "work"}],
  "displayName": "Jane Doe",
  "locale": "en-US",
  "externalId": "00u1okta",
  "groups": [],
  "password": "ignored-by-alto",
  "active": true,
  "urn:ietf:params:scim:schemas:extension:alto:2.0:User": {"role": "manager", "branch": "north", "dept": "sales"}
}`

func (e *env) create(t *testing.T, cred scim.Credential, body string) user {
	t.Helper()
	w := e.do(t, cred, "POST", "/scim/v2/Users", body)
	if w.Code != http.StatusCreated {
		t.Fatalf("create = %d %s", w.Code, w.Body)
	}
	return decode[user](t, w)
}

func TestACC07_SCIMUserLifecycleAsOktaAndEntraSendIt(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, owner, "POST", "/scim/v2/Users", oktaCreate)
	if w.Code != http.StatusCreated {
		t.Fatalf("create = %d %s", w.Code, w.Body)
	}
	u := decode[user](t, w)
	if u.ID == "" || !u.Active || u.UserName != "jane.doe@acme.example" || u.Alto.Role != "manager" || u.Alto.Branch != "north" ||
		u.Meta.ResourceType != "User" || u.Meta.Version != `W/"1"` {
		t.Errorf("created = %+v", u)
	}
	if loc := w.Header().Get("Location"); loc != "https://alto.example/scim/v2/Users/"+u.ID || u.Meta.Location != loc {
		t.Errorf("Location = %q, meta.location = %q", loc, u.Meta.Location)
	}

	// The identity provider finds the user before changing it.
	for _, f := range []string{`userName eq "jane.doe@acme.example"`, `userName eq "JANE.DOE@acme.example"`,
		`USERNAME EQ "jane.doe@acme.example"`, `externalId eq "00u1okta"`} {
		w := e.do(t, owner, "GET", "/scim/v2/Users?filter="+queryEscape(f)+"&startIndex=1&count=100", "")
		got := decode[list](t, w)
		if w.Code != 200 || got.TotalResults != 1 || len(got.Resources) != 1 || got.Resources[0].ID != u.ID || got.Schemas[0] != scim.ListSchema {
			t.Errorf("filter %s = %d %+v, want the user", f, w.Code, got)
		}
	}
	w = e.do(t, owner, "GET", "/scim/v2/Users?filter="+queryEscape(`userName eq "nobody@acme.example"`), "")
	if got := decode[list](t, w); w.Code != 200 || got.TotalResults != 0 || got.Resources == nil {
		t.Errorf("filter for nobody = %d %s, want 200 with an empty list", w.Code, w.Body)
	}

	patches := []struct {
		name, body string
		check      func(u user) bool
	}{
		{"Okta deactivates", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
			func(u user) bool { return !u.Active }},
		{"Entra reactivates with a string", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}`,
			func(u user) bool { return u.Active }},
		{"Entra deactivates with a boolean path", `{"Operations":[{"op":"Replace","path":"active","value":false}]}`,
			func(u user) bool { return !u.Active }},
		{"Entra sets the work address", `{"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"jane@acme.example"}]}`,
			func(u user) bool {
				return len(u.Emails) == 1 && u.Emails[0].Value == "jane@acme.example" && u.Emails[0].Type == "work"
			}},
		{"extension attribute by path", `{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:alto:2.0:User:role","value":"Admin"}]}`,
			func(u user) bool { return u.Alto.Role == "admin" && u.Alto.Branch == "north" }},
		{"several attributes without a path", `{"Operations":[{"op":"add","value":{"name.givenName":"Janet","urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"dept":"ops"},"active":true}}]}`,
			func(u user) bool {
				return u.Name.GivenName == "Janet" && u.Name.FamilyName == "Doe" && u.Alto.Dept == "ops" && u.Active
			}},
		{"remove by path", `{"Operations":[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:alto:2.0:User:branch"},{"op":"remove","path":"externalId"}]}`,
			func(u user) bool { return u.Alto.Branch == "" && u.ExternalID == "" }},
	}
	for _, p := range patches {
		t.Run(p.name, func(t *testing.T) {
			w := e.do(t, owner, "PATCH", "/scim/v2/Users/"+u.ID, p.body)
			if w.Code != 200 {
				t.Fatalf("PATCH = %d %s", w.Code, w.Body)
			}
			if got := decode[user](t, w); !p.check(got) {
				t.Errorf("after PATCH: %s", w.Body)
			}
		})
	}

	// Okta replaces the whole profile with PUT; what it leaves out is gone.
	w = e.do(t, owner, "PUT", "/scim/v2/Users/"+u.ID, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"id":"`+u.ID+`","userName":"jane.doe@acme.example","externalId":"00u1okta","name":{"givenName":"Jane"},"active":true}`)
	got := decode[user](t, w)
	if w.Code != 200 || got.Name.GivenName != "Jane" || got.Name.FamilyName != "" || len(got.Emails) != 0 || got.Alto.Role != "" || !got.Active {
		t.Errorf("PUT = %d %s", w.Code, w.Body)
	}

	if w := e.do(t, owner, "DELETE", "/scim/v2/Users/"+u.ID, ""); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", w.Code, w.Body)
	}
	if w := e.do(t, owner, "GET", "/scim/v2/Users/"+u.ID, ""); w.Code != http.StatusNotFound {
		t.Errorf("GET after DELETE = %d, want 404", w.Code)
	}
}

func queryEscape(s string) string {
	r := strings.NewReplacer(" ", "%20", `"`, "%22", "@", "%40")
	return r.Replace(s)
}

type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType"`
	Detail   string   `json:"detail"`
}

func TestACC07_SCIMErrorsUseTheSCIMErrorFormat(t *testing.T) {
	e := newEnv(t)
	u := e.create(t, owner, oktaCreate)
	cases := []struct {
		name, method, path, body string
		cred                     scim.Credential
		status                   int
		scimType                 string
	}{
		{"no credential", "GET", "/scim/v2/Users", "", scim.Credential{}, 401, ""},
		{"unsupported filter", "GET", "/scim/v2/Users?filter=" + queryEscape(`displayName co "Jane"`), "", owner, 400, "invalidFilter"},
		{"filter on another attribute", "GET", "/scim/v2/Users?filter=" + queryEscape(`emails eq "x"`), "", owner, 400, "invalidFilter"},
		{"bad count", "GET", "/scim/v2/Users?count=ten", "", owner, 400, "invalidValue"},
		{"not JSON", "POST", "/scim/v2/Users", "{", owner, 400, "invalidSyntax"},
		{"no userName", "POST", "/scim/v2/Users", `{"active":true}`, owner, 400, "invalidValue"},
		{"active not a boolean", "POST", "/scim/v2/Users", `{"userName":"x","active":"maybe"}`, owner, 400, "invalidValue"},
		{"taken userName", "POST", "/scim/v2/Users", `{"userName":"JANE.DOE@acme.example"}`, owner, 409, "uniqueness"},
		{"unknown user", "GET", "/scim/v2/Users/nope", "", owner, 404, ""},
		{"remove without path", "PATCH", "/scim/v2/Users/" + u.ID, `{"Operations":[{"op":"remove"}]}`, owner, 400, "noTarget"},
		{"remove userName", "PATCH", "/scim/v2/Users/" + u.ID, `{"Operations":[{"op":"remove","path":"userName"}]}`, owner, 400, "mutability"},
		{"unknown op", "PATCH", "/scim/v2/Users/" + u.ID, `{"Operations":[{"op":"move","path":"userName","value":"x"}]}`, owner, 400, "invalidSyntax"},
		{"no operations", "PATCH", "/scim/v2/Users/" + u.ID, `{"Operations":[]}`, owner, 400, "invalidValue"},
		{"bad path", "PATCH", "/scim/v2/Users/" + u.ID, `{"Operations":[{"op":"replace","path":"name..x]","value":"x"}]}`, owner, 400, "invalidPath"},
		{"invalid role", "PATCH", "/scim/v2/Users/" + u.ID, `{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:alto:2.0:User:role","value":"security"}]}`, owner, 400, "invalidValue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, tc.cred, tc.method, tc.path, tc.body)
			got := decode[scimError](t, w)
			if w.Code != tc.status || got.Status != strconv.Itoa(tc.status) || got.ScimType != tc.scimType {
				t.Fatalf("= %d %s, want %d with scimType %q", w.Code, w.Body, tc.status, tc.scimType)
			}
			if len(got.Schemas) != 1 || got.Schemas[0] != scim.ErrorSchema || got.Detail == "" {
				t.Errorf("error body = %s, want the SCIM error schema and a detail", w.Body)
			}
			if strings.Contains(got.Detail, "jane") || strings.Contains(strings.ToLower(got.Detail), "bolt") {
				t.Errorf("detail %q repeats a value or leaks internals", got.Detail)
			}
		})
	}
	r := httptest.NewRequest("POST", "/scim/v2/Users", strings.NewReader(`{"userName":"x"}`))
	r.Header.Set("Content-Type", "text/plain")
	r = r.WithContext(scim.WithCredential(tenant.With(r.Context(), "acme"), owner))
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	if w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body = %d, want 415", w.Code)
	}
}

func TestListPaging(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		e.create(t, owner, `{"userName":"`+name+`@acme.example"}`)
	}
	cases := []struct {
		query                  string
		total, start, returned int
	}{
		{"", 5, 1, 5},
		{"?startIndex=2&count=2", 5, 2, 2},
		{"?startIndex=5&count=10", 5, 5, 1},
		{"?startIndex=9", 5, 9, 0},
		{"?startIndex=0&count=1", 5, 1, 1},
		{"?count=0", 5, 1, 0},
		{"?count=-3", 5, 1, 0},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			w := e.do(t, owner, "GET", "/scim/v2/Users"+tc.query, "")
			got := decode[list](t, w)
			if w.Code != 200 || got.TotalResults != tc.total || got.StartIndex != tc.start || len(got.Resources) != tc.returned || got.ItemsPerPage != tc.returned {
				t.Errorf("= %d total %d start %d items %d; want total %d start %d items %d",
					w.Code, got.TotalResults, got.StartIndex, len(got.Resources), tc.total, tc.start, tc.returned)
			}
			if tc.query == "?startIndex=2&count=2" {
				for _, u := range got.Resources {
					seen[u.ID] = true
				}
			}
		})
	}
	if len(seen) != 2 {
		t.Errorf("page 2 held %d distinct users, want 2", len(seen))
	}
}

// TestACC02_AdminMadeTokenCannotTouchOwners keeps role grants with owners
// (the matrix gives GrantRoles to owners only): a SCIM token an admin
// rotated cannot make, change or remove an owner.
func TestACC02_AdminMadeTokenCannotTouchOwners(t *testing.T) {
	e := newEnv(t)
	admin := scim.Credential{Org: "acme", RotatedBy: auth.Admin}
	own := e.create(t, owner, `{"userName":"boss@acme.example","urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"owner"}}`)
	rep := e.create(t, admin, `{"userName":"rep@acme.example","urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"rep"}}`)
	cases := []struct{ name, method, path, body string }{
		{"create an owner", "POST", "/scim/v2/Users", `{"userName":"new@acme.example","urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"owner"}}`},
		{"promote to owner", "PATCH", "/scim/v2/Users/" + rep.ID, `{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:alto:2.0:User:role","value":"owner"}]}`},
		{"deactivate an owner", "PATCH", "/scim/v2/Users/" + own.ID, `{"Operations":[{"op":"replace","value":{"active":false}}]}`},
		{"replace an owner", "PUT", "/scim/v2/Users/" + own.ID, `{"userName":"boss@acme.example"}`},
		{"delete an owner", "DELETE", "/scim/v2/Users/" + own.ID, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if w := e.do(t, admin, tc.method, tc.path, tc.body); w.Code != http.StatusForbidden {
				t.Errorf("= %d %s, want 403", w.Code, w.Body)
			}
		})
	}
	got, err := e.dirs.Get(tenant.With(context.Background(), "acme"), own.ID)
	if err != nil || !got.Active || got.Role != auth.Owner {
		t.Errorf("owner after refused writes = %+v, %v; want unchanged", got, err)
	}
	// An owner's token may.
	if w := e.do(t, owner, "PATCH", "/scim/v2/Users/"+rep.ID, `{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:alto:2.0:User:role","value":"owner"}]}`); w.Code != 200 {
		t.Errorf("owner's token promoting = %d %s, want 200", w.Code, w.Body)
	}
}

func TestACC03_SCIMCredentialSeesOnlyItsTenant(t *testing.T) {
	e := newEnv(t)
	u := e.create(t, owner, oktaCreate)
	globex := scim.Credential{Org: "globex", RotatedBy: auth.Owner}
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/scim/v2/Users/" + u.ID, ""},
		{"PATCH", "/scim/v2/Users/" + u.ID, `{"Operations":[{"op":"replace","value":{"active":false}}]}`},
		{"PUT", "/scim/v2/Users/" + u.ID, `{"userName":"x"}`},
		{"DELETE", "/scim/v2/Users/" + u.ID, ""},
	} {
		if w := e.do(t, globex, tc.method, tc.path, tc.body); w.Code != http.StatusNotFound {
			t.Errorf("globex %s = %d, want 404", tc.method, w.Code)
		}
	}
	for _, q := range []string{"", "?filter=" + queryEscape(`userName eq "jane.doe@acme.example"`), "?filter=" + queryEscape(`externalId eq "00u1okta"`)} {
		w := e.do(t, globex, "GET", "/scim/v2/Users"+q, "")
		if got := decode[list](t, w); got.TotalResults != 0 || strings.Contains(w.Body.String(), "jane") {
			t.Errorf("globex list%s = %s, want nothing of acme", q, w.Body)
		}
	}
	got, err := e.dirs.Get(tenant.With(context.Background(), "acme"), u.ID)
	if err != nil || !got.Active {
		t.Errorf("acme's user after globex's attempts = %+v, %v; want it untouched", got, err)
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, owner, "GET", "/scim/v2/ServiceProviderConfig", "")
	var cfg struct {
		Schemas []string
		Patch   struct{ Supported bool }
		Filter  struct {
			Supported  bool
			MaxResults int
		}
		Bulk                  struct{ Supported bool }
		AuthenticationSchemes []struct{ Type string }
	}
	json.Unmarshal(w.Body.Bytes(), &cfg)
	if w.Code != 200 || cfg.Schemas[0] != scim.ConfigSchema || !cfg.Patch.Supported || !cfg.Filter.Supported ||
		cfg.Filter.MaxResults != scim.MaxResults || cfg.Bulk.Supported || cfg.AuthenticationSchemes[0].Type != "oauthbearertoken" {
		t.Errorf("ServiceProviderConfig = %d %s", w.Code, w.Body)
	}
	var schemas struct {
		TotalResults int
		Resources    []struct {
			ID         string
			Attributes []struct{ Name string }
		}
	}
	w = e.do(t, owner, "GET", "/scim/v2/Schemas", "")
	json.Unmarshal(w.Body.Bytes(), &schemas)
	if w.Code != 200 || schemas.TotalResults != 2 || schemas.Resources[0].ID != scim.UserSchema || schemas.Resources[1].ID != scim.ExtensionSchema ||
		schemas.Resources[1].Attributes[0].Name != "role" {
		t.Errorf("Schemas = %d %s", w.Code, w.Body)
	}
	var types struct {
		Resources []struct {
			ID, Endpoint, Schema string
			SchemaExtensions     []struct{ Schema string }
		}
	}
	w = e.do(t, owner, "GET", "/scim/v2/ResourceTypes", "")
	json.Unmarshal(w.Body.Bytes(), &types)
	if w.Code != 200 || types.Resources[0].Endpoint != "/Users" || types.Resources[0].SchemaExtensions[0].Schema != scim.ExtensionSchema {
		t.Errorf("ResourceTypes = %d %s", w.Code, w.Body)
	}
}
