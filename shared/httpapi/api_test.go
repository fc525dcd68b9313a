package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/alto/alto/shared/clocktest"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alto/alto"
	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/forms"
	"github.com/alto/alto/shared/fsblob"
	"github.com/alto/alto/shared/imports"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/retention"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/subject"
	"github.com/alto/alto/shared/tenant"
)

// clock is the tests' settable clock.
type clock = clocktest.Clock

type harness struct {
	api    *API
	issuer *auth.Issuer
	store  *bolt.Store
	audit  *audit.Log
	clock  *clock
}

// newHarness builds the API over a real bbolt store in a temp folder, with
// rates high enough not to interfere unless a test sets them.
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	clk := clocktest.At(time.Now().UTC().Truncate(time.Second))
	db, err := bolt.Open(filepath.Join(dir, "alto.db"), bolt.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	iss, err := auth.LoadOrCreateIssuer(filepath.Join(dir, "issuer.pem"), "alto-local", "alto")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.KeysFromJWKS(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Issuer: "alto-local", Audience: "alto", Keys: keys, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	st := db.Store()
	log := audit.New(st, clk.Now)
	master, err := localkeys.LoadOrCreateMaster(filepath.Join(dir, "master.json"))
	if err != nil {
		t.Fatal(err)
	}
	keysets, err := localkeys.OpenDir(filepath.Join(dir, "keysets"))
	if err != nil {
		t.Fatal(err)
	}
	ring := seal.NewKeyring(master, keysets)
	queues, err := db.Queues(append(append(ingest.Queues(), campaign.Queues()...), jobs.Queues()...)...)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"), fsblob.Options{Now: clk.Now, Secret: make([]byte, 32), BaseURL: "https://alto.example"})
	if err != nil {
		t.Fatal(err)
	}
	producer := &ingest.Producer{Queue: queues, Keys: ring}
	contacts := &contact.Service{Store: st, Keys: ring, Audit: log, Now: clk.Now}
	cfg := Config{Verifier: v, Audit: log, Logins: st, JWKS: iss.JWKS(), OpenAPI: alto.OpenAPI, Now: clk.Now,
		Contacts: contacts, OptOuts: contacts,
		Campaigns: &campaign.Service{Store: st, Keys: ring, Contacts: contacts, Queue: queues,
			Personalizer: campaign.Templates{}, Audit: log, Now: clk.Now},
		Ingress:     &ingest.Producer{Queue: queues, Keys: ring},
		Idempotency: st,
		Purges:      &purge.Service{Keys: ring, Store: st, Data: st, Audit: log, Now: clk.Now},
		Retention:   &retention.Service{Store: st, Audit: log, Keys: ring, Now: clk.Now},
		Imports: &imports.Service{Store: st, Blobs: blobs, Keys: ring, Ingress: producer, Jobs: &jobs.Producer{Queue: queues},
			Audit: log, Now: clk.Now},
		Forms: &forms.Service{Store: st, Keys: ring, Ingress: producer, Audit: log, Now: clk.Now}}
	cfg.Subjects = &subject.Service{Store: st, Keys: ring, Contacts: contacts, Campaigns: cfg.Campaigns, Audit: log,
		Blobs: blobs, Jobs: &jobs.Producer{Queue: queues}, Now: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	return &harness{api: New(cfg), issuer: iss, store: st, audit: log, clock: clk}
}

func (h *harness) token(t *testing.T, org string, role auth.Role) string {
	t.Helper()
	tok, err := h.issuer.Sign(h.claims(org, role, nil))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (h *harness) claims(org string, role auth.Role, mod func(*auth.Claims)) auth.Claims {
	now := h.clock.Now()
	c := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "alto-local", Subject: "u-" + string(role), Audience: jwt.ClaimStrings{"alto"},
			ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
			ID: "jti-" + org + "-" + string(role),
		},
		Org: org, Role: string(role),
	}
	if mod != nil {
		mod(&c)
	}
	return c
}

// do serves one request and returns the recorded response.
func (h *harness) do(t *testing.T, method, path, token string, body io.Reader) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, body)
	r.RemoteAddr = "192.0.2.10:5555"
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.api.ServeHTTP(w, r)
	checkAgainstSpec(t, r, w)
	return w
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type = %q, want application/problem+json (body %s)", ct, w.Body)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	if p.Status != w.Code || p.Title == "" || p.Type == "" {
		t.Errorf("problem = %+v, want status %d with type and title", p, w.Code)
	}
	return p
}

func TestHealthAndMe(t *testing.T) {
	h := newHarness(t, nil)
	w := h.do(t, "GET", "/healthz", "", nil)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
		t.Errorf("healthz = %d %s", w.Code, w.Body)
	}
	tok, _ := h.issuer.Sign(h.claims("acme", auth.Manager, func(c *auth.Claims) { c.Branch, c.Dept = "north", "sales" }))
	w = h.do(t, "GET", "/v1/me", tok, nil)
	var got auth.Principal
	json.Unmarshal(w.Body.Bytes(), &got)
	want := auth.Principal{Sub: "u-manager", Org: "acme", Role: auth.Manager, Branch: "north", Dept: "sales"}
	if w.Code != 200 || got != want {
		t.Errorf("me = %d %+v, want 200 %+v", w.Code, got, want)
	}
}

func TestACC01_BadTokensGet401ProblemJSON(t *testing.T) {
	h := newHarness(t, nil)
	sign := func(mod func(*auth.Claims)) string {
		tok, err := h.issuer.Sign(h.claims("acme", auth.Owner, mod))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, h.claims("acme", auth.Owner, nil))
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, h.claims("acme", auth.Owner, nil))
	hsTok, _ := hs.SignedString(h.issuer.PublicKeyDER())

	cases := map[string]string{
		"no token":      "",
		"expired":       sign(func(c *auth.Claims) { c.ExpiresAt = jwt.NewNumericDate(h.clock.Now().Add(-time.Hour)) }),
		"alg none":      noneTok,
		"HS256 pub key": hsTok,
		"wrong aud":     sign(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"someone-else"} }),
		"wrong iss":     sign(func(c *auth.Claims) { c.Issuer = "https://evil.example" }),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			w := h.do(t, "GET", "/v1/me", tok, nil)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", w.Code)
			}
			decodeProblem(t, w)
			if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
			}
			if tok != "" && strings.Contains(w.Body.String(), tok) {
				t.Error("the problem echoes the token")
			}
		})
	}
	// Each refusal is in the platform's audit log, with a digest of the
	// address and never the address itself.
	entries, _, err := h.audit.List(tenant.WithPlatform(context.Background()), audit.Filter{Type: "auth.failed"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(cases) {
		t.Errorf("auth.failed entries = %d, want %d", len(entries), len(cases))
	}
	for _, e := range entries {
		if strings.Contains(e.Detail["source"], "192.0.2.10") || !strings.HasPrefix(e.Detail["source"], "ip:") {
			t.Errorf("source = %q, want a digest of the address", e.Detail["source"])
		}
	}
}

var secureHeaderWant = map[string]string{
	"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
	"X-Content-Type-Options":    "nosniff",
	"X-Frame-Options":           "DENY",
	"Content-Security-Policy":   "default-src 'none'; frame-ancestors 'none'",
	"Referrer-Policy":           "no-referrer",
	"Cache-Control":             "no-store",
}

func TestACC05_SecureHeadersOnEveryResponse(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBody = 16 })
	h.api.mux.Handle("POST /test/echo", h.api.publicRoute(func(w http.ResponseWriter, r *http.Request) error {
		_, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	h.api.mux.Handle("GET /test/panic", h.api.publicRoute(func(http.ResponseWriter, *http.Request) error {
		panic("boom: secret internals")
	}))
	owner, rep := h.token(t, "acme", auth.Owner), h.token(t, "acme", auth.Rep)
	cases := []struct {
		name, method, path, token string
		body                      string
		status                    int
	}{
		{"ok", "GET", "/healthz", "", "", 200},
		{"jwks", "GET", "/.well-known/jwks.json", "", "", 200},
		{"authed", "GET", "/v1/me", owner, "", 200},
		{"unauthenticated", "GET", "/v1/me", "", "", 401},
		{"forbidden", "GET", "/v1/audit", rep, "", 403},
		{"unknown path", "GET", "/v1/nothing-here", owner, "", 404},
		{"wrong method", "DELETE", "/v1/me", owner, "", 405},
		{"body too large", "POST", "/test/echo", "", strings.Repeat("x", 17), 413},
		{"bad query", "GET", "/v1/audit?from=yesterday", owner, "", 422},
		{"panic", "GET", "/test/panic", "", "", 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			h.api.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			for k, v := range secureHeaderWant {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if w.Code >= 400 {
				p := decodeProblem(t, w)
				if strings.Contains(w.Body.String(), "boom") || strings.Contains(w.Body.String(), "bolt") {
					t.Errorf("problem leaks internals: %+v", p)
				}
			}
			if tc.status == 405 && w.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestACC04_RateLimitsAnswer429WithRetryAfter(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.PerIP = Rate{PerSecond: 1, Burst: 3} })
		for i := 0; i < 3; i++ {
			if w := h.do(t, "GET", "/healthz", "", nil); w.Code != 200 {
				t.Fatalf("request %d = %d, want 200", i, w.Code)
			}
		}
		w := h.do(t, "GET", "/healthz", "", nil)
		if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
			t.Fatalf("over the limit = %d Retry-After %q, want 429 and 1", w.Code, w.Header().Get("Retry-After"))
		}
		decodeProblem(t, w)
		h.clock.Advance(time.Second)
		if w := h.do(t, "GET", "/healthz", "", nil); w.Code != 200 {
			t.Errorf("after Retry-After = %d, want 200", w.Code)
		}
	})
	t.Run("per tenant", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.PerTenant = Rate{PerSecond: 0.5, Burst: 2} })
		acme, other := h.token(t, "acme", auth.Owner), h.token(t, "globex", auth.Owner)
		h.do(t, "GET", "/v1/me", acme, nil)
		h.do(t, "GET", "/v1/me", acme, nil)
		w := h.do(t, "GET", "/v1/me", acme, nil)
		if w.Code != 429 || w.Header().Get("Retry-After") != "2" {
			t.Fatalf("tenant over its limit = %d Retry-After %q, want 429 and 2", w.Code, w.Header().Get("Retry-After"))
		}
		if w := h.do(t, "GET", "/v1/me", other, nil); w.Code != 200 {
			t.Errorf("another tenant = %d, want 200: limits are per tenant", w.Code)
		}
	})
	t.Run("public endpoints", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Public = Rate{PerSecond: 1, Burst: 1} })
		h.do(t, "GET", "/healthz", "", nil)
		if w := h.do(t, "GET", "/healthz", "", nil); w.Code != 429 {
			t.Errorf("public endpoint over its limit = %d, want 429", w.Code)
		}
	})
}

func TestACC02_RouteRolesFollowTheMatrix(t *testing.T) {
	h := newHarness(t, nil)
	for _, rt := range h.api.Routes() {
		if rt.Action == "" {
			continue
		}
		for _, role := range auth.Roles {
			w := h.do(t, rt.Method, rt.Path, h.token(t, "acme", role), nil)
			allowed := auth.Allowed(role, rt.Action)
			if allowed && w.Code == http.StatusForbidden || !allowed && w.Code != http.StatusForbidden {
				t.Errorf("%s %s as %s = %d, matrix allows: %v", rt.Method, rt.Path, role, w.Code, allowed)
			}
		}
	}
	ctx := tenant.With(context.Background(), "acme")
	denied, _, err := h.audit.List(ctx, audit.Filter{Type: "access.denied"})
	if err != nil || len(denied) == 0 {
		t.Errorf("refusals audited = %d (%v), want some", len(denied), err)
	}
}

func TestAUD01_FirstUseOfATokenIsAuditedOnce(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.token(t, "acme", auth.Admin)
	for i := 0; i < 3; i++ {
		h.do(t, "GET", "/v1/me", tok, nil)
	}
	// A new process (empty memory) over the same store records nothing new.
	h2 := &harness{api: New(h.api.cfg), issuer: h.issuer, clock: h.clock}
	h2.do(t, "GET", "/v1/me", tok, nil)

	ctx := tenant.With(context.Background(), "acme")
	logins, _, err := h.audit.List(ctx, audit.Filter{Type: "auth.login"})
	if err != nil {
		t.Fatal(err)
	}
	if len(logins) != 1 || logins[0].Actor != "u-admin" {
		t.Fatalf("logins = %+v, want exactly one by u-admin", logins)
	}
	w := h.do(t, "GET", "/v1/audit?type=audit.", tok, nil)
	if w.Code != 200 {
		t.Fatalf("audit list = %d %s", w.Code, w.Body)
	}
	reads, _, _ := h.audit.List(ctx, audit.Filter{Type: "audit.read"})
	if len(reads) != 1 {
		t.Errorf("audit.read entries = %d, want 1: reading the audit log is itself audited", len(reads))
	}
}

func TestACC03_AuditOfOneTenantIsInvisibleToAnother(t *testing.T) {
	h := newHarness(t, nil)
	acme, globex := h.token(t, "acme", auth.Owner), h.token(t, "globex", auth.Owner)
	h.do(t, "GET", "/v1/me", acme, nil)
	w := h.do(t, "GET", "/v1/audit", globex, nil)
	var page struct{ Items []audit.Entry }
	json.Unmarshal(w.Body.Bytes(), &page)
	if len(page.Items) != 1 || page.Items[0].Type != "auth.login" {
		t.Fatalf("globex sees %+v, want only its own log-in", page.Items)
	}
	res, err := h.audit.Verify(tenant.With(context.Background(), "acme"))
	if err != nil || !res.OK || res.Entries != 1 {
		t.Errorf("acme chain = %+v (%v), want 1 entry, unaffected by globex", res, err)
	}
}

func TestAUD02_VerifyNamesTheTamperedEntry(t *testing.T) {
	h := newHarness(t, nil)
	ctx := tenant.With(context.Background(), "acme")
	for i := 0; i < 5; i++ {
		if _, err := h.audit.Append(ctx, audit.Entry{Type: "test.event", Actor: "u1"}); err != nil {
			t.Fatal(err)
		}
	}
	tok := h.token(t, "acme", auth.Owner) // its log-in is entry 6
	var res audit.Result
	w := h.do(t, "GET", "/v1/audit/verify", tok, nil)
	json.Unmarshal(w.Body.Bytes(), &res)
	if w.Code != 200 || !res.OK || res.Entries != 6 || res.Head == "" {
		t.Fatalf("verify = %d %+v, want ok with 6 entries", w.Code, res)
	}

	// Flip one byte of entry 3 where it is stored.
	k := store.Key{PK: "AUDIT", SK: "E#00000000000000000003"}
	it, err := h.store.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(it.Data, []byte(`"test.event"`)) + 2
	it.Data[i] ^= 0x01
	if _, err := h.store.Put(ctx, it, store.Always); err != nil {
		t.Fatal(err)
	}

	w = h.do(t, "GET", "/v1/audit/verify", tok, nil)
	res = audit.Result{}
	json.Unmarshal(w.Body.Bytes(), &res)
	if w.Code != 200 || res.OK || res.FirstBroken != 3 || res.Reason == "" {
		t.Errorf("verify after tampering = %d %+v, want ok false, firstBroken 3 and a reason", w.Code, res)
	}
}
