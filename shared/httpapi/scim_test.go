package httpapi

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/directory"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/notice"
	"github.com/alto/alto/shared/orgs"
	"github.com/alto/alto/shared/outbox"
	"github.com/alto/alto/shared/scim"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

type accountsHarness struct {
	*harness
	dirs   *directory.Directory
	outbox *outbox.Outbox
}

// newAccountsHarness is the API with the user directory, SCIM and notices
// over the harness's real store, a key ring, the outbox folder and the
// tenant registry.
func newAccountsHarness(t *testing.T, mod func(*Config)) *accountsHarness {
	t.Helper()
	ah := &accountsHarness{}
	ah.harness = newHarness(t, func(c *Config) {
		dir := t.TempDir()
		st := c.Logins.(*bolt.Store)
		master, err := localkeys.LoadOrCreateMaster(filepath.Join(dir, "master.json"))
		if err != nil {
			t.Fatal(err)
		}
		keysets, err := localkeys.OpenDir(filepath.Join(dir, "keysets"))
		if err != nil {
			t.Fatal(err)
		}
		if ah.outbox, err = outbox.New(filepath.Join(dir, "outbox"), outbox.Options{Now: c.Now}); err != nil {
			t.Fatal(err)
		}
		registry := orgs.New(st, c.Now)
		ah.dirs = directory.New(directory.Config{Store: st, Keys: seal.NewKeyring(master, keysets), Audit: c.Audit, Now: c.Now})
		c.Directory, c.Tenants = ah.dirs, registry
		c.SCIM = &scim.Server{Directory: ah.dirs, BaseURL: "https://alto.example"}
		c.SCIMTokens = &scim.Tokens{Store: st, Audit: c.Audit, Now: c.Now}
		c.Notices = &notice.Service{Store: st, Mailer: ah.outbox, Audit: c.Audit, Tenants: registry,
			Recipients: ah.dirs.OwnersAndAdmins, Now: c.Now}
		if mod != nil {
			mod(c)
		}
	})
	return ah
}

// send serves one request with a JSON or SCIM body.
func (h *accountsHarness) send(t *testing.T, method, path, token, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.10:5555"
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.api.ServeHTTP(w, r)
	checkAgainstSpec(t, r, w)
	return w
}

func (h *accountsHarness) scim(t *testing.T, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	return h.send(t, method, path, token, scim.MediaType, body)
}

// scimToken has an owner (or admin) of org make the tenant's SCIM token.
func (h *accountsHarness) scimToken(t *testing.T, org string, role auth.Role) string {
	t.Helper()
	w := h.do(t, "POST", "/v1/settings/scim-token", h.token(t, org, role), nil)
	var got scimTokenAnswer
	json.Unmarshal(w.Body.Bytes(), &got)
	if w.Code != http.StatusCreated || !strings.HasPrefix(got.Token, scim.TokenPrefix) {
		t.Fatalf("rotate SCIM token = %d %s", w.Code, w.Body)
	}
	return got.Token
}

// jwt signs a token for sub in org with the role claim.
func (h *accountsHarness) jwt(t *testing.T, org, sub string, role auth.Role, ttl time.Duration) string {
	t.Helper()
	tok, err := h.issuer.Sign(h.claims(org, role, func(c *auth.Claims) {
		c.Subject, c.ID = sub, "jti-"+org+"-"+sub
		c.ExpiresAt.Time = h.clock.Now().Add(ttl)
	}))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type scimUser struct {
	ID     string `json:"id"`
	Active bool   `json:"active"`
	Alto   struct {
		Role   string `json:"role"`
		Branch string `json:"branch"`
	} `json:"urn:ietf:params:scim:schemas:extension:alto:2.0:User"`
}

func (h *accountsHarness) provision(t *testing.T, token, body string) scimUser {
	t.Helper()
	w := h.scim(t, "POST", "/scim/v2/Users", token, body)
	if w.Code != http.StatusCreated {
		t.Fatalf("provision = %d %s", w.Code, w.Body)
	}
	var u scimUser
	json.Unmarshal(w.Body.Bytes(), &u)
	return u
}

func (h *accountsHarness) me(t *testing.T, token string) (int, auth.Principal) {
	t.Helper()
	w := h.do(t, "GET", "/v1/me", token, nil)
	var p auth.Principal
	json.Unmarshal(w.Body.Bytes(), &p)
	return w.Code, p
}

const ownerUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u-owner","externalId":"00u-owner",
	"emails":[{"value":"owner@acme.example","primary":true}],"active":true,
	"urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"owner"}}`

const janeUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane@acme.example","externalId":"00u-jane",
	"name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"value":"jane@acme.example","type":"work","primary":true}],"active":true,
	"urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"rep"}}`

// TestACC07_SCIMFlowRefusesTheDeprovisionedUsersNextRequest runs the flow
// an identity provider runs: make the SCIM token, create a user, find them
// by userName, PATCH active:false; the user's still-valid JWT is refused
// on the very next request, long before its exp; re-activation restores
// access; a role change applies to the next request; delete refuses again.
func TestACC07_SCIMFlowRefusesTheDeprovisionedUsersNextRequest(t *testing.T) {
	h := newAccountsHarness(t, nil)
	token := h.scimToken(t, "acme", auth.Owner)
	h.provision(t, token, ownerUser)
	h.provision(t, token, janeUser)

	// Jane's token says admin; the directory says rep, and decides.
	jane := h.jwt(t, "acme", "00u-jane", auth.Admin, 10*time.Minute)
	if code, p := h.me(t, jane); code != 200 || p.Role != auth.Rep {
		t.Fatalf("jane's first request = %d %+v, want 200 as rep (the directory's role)", code, p)
	}

	w := h.scim(t, "GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "jane@acme.example"`), token, "")
	var found struct {
		TotalResults int
		Resources    []scimUser
	}
	json.Unmarshal(w.Body.Bytes(), &found)
	if w.Code != 200 || found.TotalResults != 1 {
		t.Fatalf("find jane = %d %s", w.Code, w.Body)
	}
	id := found.Resources[0].ID

	patch := func(body string) {
		t.Helper()
		if w := h.scim(t, "PATCH", "/scim/v2/Users/"+id, token, body); w.Code != 200 {
			t.Fatalf("PATCH = %d %s", w.Code, w.Body)
		}
	}
	patch(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
	h.clock.Advance(time.Second) // jane's token has most of its 10 minutes left
	w = h.do(t, "GET", "/v1/me", jane, nil)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("deprovisioned user's next request = %d, want 401 at once, before exp", w.Code)
	}
	decodeProblem(t, w)
	failed, _, _ := h.audit.List(tenant.WithPlatform(context.Background()), audit.Filter{Type: "auth.failed"})
	if len(failed) == 0 || !strings.Contains(failed[len(failed)-1].Detail["reason"], "deactivated") {
		t.Errorf("auth.failed = %+v, want the refusal audited with its reason", failed)
	}

	patch(`{"Operations":[{"op":"Replace","path":"active","value":"True"}]}`)
	if code, _ := h.me(t, jane); code != 200 {
		t.Errorf("after re-activation = %d, want 200", code)
	}

	patch(`{"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"manager","branch":"north","dept":"sales"}}}]}`)
	if code, p := h.me(t, jane); code != 200 || p.Role != auth.Manager || p.Branch != "north" || p.Dept != "sales" {
		t.Errorf("after a role change = %d %+v, want manager of north/sales on the next request", code, p)
	}
	// The role matrix follows the directory's role: a manager may not read the audit log.
	if w := h.do(t, "GET", "/v1/audit", jane, nil); w.Code != http.StatusForbidden {
		t.Errorf("manager reading the audit log = %d, want 403", w.Code)
	}

	if w := h.scim(t, "DELETE", "/scim/v2/Users/"+id, token, ""); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", w.Code, w.Body)
	}
	if code, _ := h.me(t, jane); code != http.StatusUnauthorized {
		t.Errorf("deleted user's next request = %d, want 401", code)
	}
	// Someone the directory never heard of is refused too; the owner is not.
	if code, _ := h.me(t, h.jwt(t, "acme", "mallory", auth.Owner, time.Minute)); code != http.StatusUnauthorized {
		t.Errorf("unprovisioned subject = %d, want 401", code)
	}
	if code, p := h.me(t, h.jwt(t, "acme", "00u-owner", auth.Rep, time.Minute)); code != 200 || p.Role != auth.Owner {
		t.Errorf("owner = %d %+v, want 200 as owner", code, p)
	}
	// A tenant without a directory keeps trusting its tokens' claims.
	if code, p := h.me(t, h.jwt(t, "globex", "anyone", auth.Admin, time.Minute)); code != 200 || p.Role != auth.Admin {
		t.Errorf("tenant without a directory = %d %+v, want 200 as admin", code, p)
	}
}

// TestACC03_SCIMTokenOfOneTenantCannotSeeOrChangeAnothersUsers shows a
// SCIM token reaches only its own tenant's directory.
func TestACC03_SCIMTokenOfOneTenantCannotSeeOrChangeAnothersUsers(t *testing.T) {
	h := newAccountsHarness(t, nil)
	acme, globex := h.scimToken(t, "acme", auth.Owner), h.scimToken(t, "globex", auth.Admin)
	jane := h.provision(t, acme, janeUser)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/scim/v2/Users/" + jane.ID, ""},
		{"PUT", "/scim/v2/Users/" + jane.ID, `{"userName":"taken@globex.example"}`},
		{"PATCH", "/scim/v2/Users/" + jane.ID, `{"Operations":[{"op":"replace","value":{"active":false}}]}`},
		{"DELETE", "/scim/v2/Users/" + jane.ID, ""},
	} {
		if w := h.scim(t, tc.method, tc.path, globex, tc.body); w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), "jane") {
			t.Errorf("globex %s acme's user = %d %s, want 404 and nothing of hers", tc.method, w.Code, w.Body)
		}
	}
	for _, q := range []string{"", "?filter=" + url.QueryEscape(`userName eq "jane@acme.example"`), "?filter=" + url.QueryEscape(`externalId eq "00u-jane"`)} {
		w := h.scim(t, "GET", "/scim/v2/Users"+q, globex, "")
		if w.Code != 200 || strings.Contains(w.Body.String(), "jane") || !strings.Contains(w.Body.String(), `"totalResults":0`) {
			t.Errorf("globex list%s = %d %s, want an empty list", q, w.Code, w.Body)
		}
	}
	// Jane is untouched and still works.
	if code, _ := h.me(t, h.jwt(t, "acme", "00u-jane", auth.Rep, time.Minute)); code != 200 {
		t.Errorf("jane after globex's attempts = %d, want 200", code)
	}
	// Globex provisioning the same userName does not touch acme's.
	h.provision(t, globex, janeUser)
	if u, err := h.dirs.Get(tenant.With(context.Background(), "acme"), jane.ID); err != nil || !u.Active {
		t.Errorf("acme's jane = %+v, %v", u, err)
	}
}

func TestACC07_SCIMTokenAuthenticationAndErrors(t *testing.T) {
	h := newAccountsHarness(t, func(c *Config) { c.PerTenant = Rate{PerSecond: 0.001, Burst: 5} })
	first := h.scimToken(t, "acme", auth.Owner)
	second := h.scimToken(t, "acme", auth.Admin) // rotation: first stops working
	cases := []struct {
		name, token string
		status      int
	}{
		{"no token", "", 401},
		{"a JWT is not a SCIM token", h.token(t, "acme", auth.Owner), 401},
		{"the rotated-out token", first, 401},
		{"the current token", second, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := h.scim(t, "GET", "/scim/v2/ServiceProviderConfig", tc.token, "")
			if w.Code != tc.status {
				t.Fatalf("= %d %s, want %d", w.Code, w.Body, tc.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != scim.MediaType {
				t.Errorf("Content-Type = %q, want %s", ct, scim.MediaType)
			}
			if tc.status == 401 && (!strings.Contains(w.Body.String(), scim.ErrorSchema) || w.Header().Get("WWW-Authenticate") == "") {
				t.Errorf("401 = %s, want a SCIM error with a Bearer challenge", w.Body)
			}
			for k, v := range secureHeaderWant {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	// The tenant's rate limit applies to its SCIM client: 5 at once.
	var last *httptest.ResponseRecorder
	for range 5 {
		last = h.scim(t, "GET", "/scim/v2/Schemas", second, "")
	}
	if last.Code != http.StatusTooManyRequests || last.Header().Get("Retry-After") == "" || !strings.Contains(last.Body.String(), scim.ErrorSchema) {
		t.Errorf("over the tenant's limit = %d %s, want a SCIM 429 with Retry-After", last.Code, last.Body)
	}
}

func TestSCIMRoutesWithoutSCIMAnswer404(t *testing.T) {
	h := newHarness(t, nil)
	r := httptest.NewRequest("GET", "/scim/v2/Users", nil)
	w := httptest.NewRecorder()
	h.api.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != scim.MediaType {
		t.Errorf("SCIM without a directory = %d %s, want a SCIM 404", w.Code, w.Header().Get("Content-Type"))
	}
}

func TestNTC01_NoticeRoutes(t *testing.T) {
	h := newAccountsHarness(t, nil)
	security := h.jwt(t, "alto-ops", "sec-1", auth.Security, time.Minute)
	// Two tenants with directories, known to the registry by their log-ins.
	tenants := map[string]string{"acme": "owner@acme.example", "globex": "boss@globex.example"}
	for org, addr := range tenants {
		tok := h.scimToken(t, org, auth.Owner)
		h.provision(t, tok, `{"userName":"u-owner","emails":[{"value":"`+addr+`"}],"urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"owner"}}`)
		h.provision(t, tok, `{"userName":"rep@`+org+`.example","urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"rep"}}`)
	}
	post := func(days int) *httptest.ResponseRecorder {
		at := h.clock.Now().Add(time.Duration(days) * 24 * time.Hour).Format(time.RFC3339)
		return h.send(t, "POST", "/v1/notices", security, "application/json",
			`{"kind":"policy","title":"Privacy policy v3","text":"Log retention drops to 60 days.","effectiveAt":"`+at+`"}`)
	}
	w := post(29)
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("29 days ahead = %d %s, want 422", w.Code, w.Body)
	}
	if p := decodeProblem(t, w); len(p.Errors) != 1 || p.Errors[0].Field != "effectiveAt" {
		t.Errorf("problem = %+v, want a field error on effectiveAt", p)
	}
	if msgs, _ := h.outbox.Messages(); len(msgs) != 0 {
		t.Errorf("a refused notice left %d messages in the outbox", len(msgs))
	}
	w = post(30)
	if w.Code != http.StatusCreated {
		t.Fatalf("30 days ahead = %d %s, want 201", w.Code, w.Body)
	}
	msgs, err := h.outbox.Messages()
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, m := range msgs {
		to = append(to, m.To...)
	}
	slices.Sort(to)
	if want := []string{"boss@globex.example", "owner@acme.example"}; !slices.Equal(to, want) {
		t.Errorf("outbox recipients = %v, want every tenant's owner once: %v", to, want)
	}

	rep := h.jwt(t, "acme", "rep@acme.example", auth.Rep, time.Minute)
	for _, path := range []string{"/v1/notices", "/v1/subprocessors"} {
		if w := h.do(t, "GET", path, rep, nil); w.Code != 200 {
			t.Errorf("rep GET %s = %d, want 200", path, w.Code)
		}
	}
	var page noticePage
	json.Unmarshal(h.do(t, "GET", "/v1/notices", rep, nil).Body.Bytes(), &page)
	if len(page.Items) != 1 || page.Items[0].AnnouncedAt.IsZero() {
		t.Errorf("notices = %+v, want the announced notice", page.Items)
	}
	owner := h.jwt(t, "acme", "u-owner", auth.Owner, time.Minute)
	if w := h.send(t, "POST", "/v1/notices", owner, "application/json", `{}`); w.Code != http.StatusForbidden {
		t.Errorf("owner posting a notice = %d, want 403", w.Code)
	}
}

// TestAUD01_ProvisioningTokenRotationAndNoticesAreAudited checks the audit
// trail of this capability: who made the SCIM token, every change the
// identity provider made (named by field, never by value) and the notice.
func TestAUD01_ProvisioningTokenRotationAndNoticesAreAudited(t *testing.T) {
	h := newAccountsHarness(t, nil)
	token := h.scimToken(t, "acme", auth.Admin)
	jane := h.provision(t, token, janeUser)
	h.scim(t, "PATCH", "/scim/v2/Users/"+jane.ID, token, `{"Operations":[{"op":"replace","value":{"active":false}}]}`)
	h.scim(t, "DELETE", "/scim/v2/Users/"+jane.ID, token, "")
	security := h.jwt(t, "alto-ops", "sec-1", auth.Security, time.Minute)
	at := h.clock.Now().Add(31 * 24 * time.Hour).Format(time.RFC3339)
	if w := h.send(t, "POST", "/v1/notices", security, "application/json",
		`{"kind":"policy","title":"Policy v4","text":"t","effectiveAt":"`+at+`"}`); w.Code != http.StatusCreated {
		t.Fatalf("post notice = %d %s", w.Code, w.Body)
	}

	acme, _, err := h.audit.List(tenant.With(context.Background(), "acme"), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range acme {
		if e.Type == "auth.login" {
			continue
		}
		got = append(got, e.Type+" "+e.Actor+" "+e.Detail["changed"])
		if s := e.Target + e.Actor + strings.Join(slices.Collect(maps.Values(e.Detail)), " "); strings.Contains(s, "jane") || strings.Contains(s, "00u-jane") {
			t.Errorf("audit entry %+v carries personal data", e)
		}
	}
	want := []string{"scim.token_rotated u-admin ", "directory.user_created scim ", "directory.user_updated scim active",
		"directory.user_deleted scim ", "notice.delivered system "}
	if !slices.Equal(got, want) {
		t.Errorf("acme's audit = %q, want %q", got, want)
	}
	platform, _, _ := h.audit.List(tenant.WithPlatform(context.Background()), audit.Filter{Type: "notice."})
	if len(platform) != 2 || platform[0].Type != "notice.posted" || platform[0].Actor != "sec-1" || platform[1].Type != "notice.announced" {
		t.Errorf("platform audit = %+v, want the notice posted by sec-1 and announced", platform)
	}
}
