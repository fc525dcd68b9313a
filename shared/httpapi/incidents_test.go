package httpapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/orgs"
	"github.com/alto/alto/shared/outbox"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/webhook"
)

// incidentHarness is the API harness with the incident service over the
// same store, an outbox folder and the tenant registry.
type incidentHarness struct {
	*harness
	outbox *outbox.Outbox
	orgs   *orgs.Registry
}

func newIncidentHarness(t *testing.T) *incidentHarness {
	t.Helper()
	ih := &incidentHarness{}
	ih.harness = newHarness(t, func(c *Config) {
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
		if ih.outbox, err = outbox.New(filepath.Join(dir, "outbox"), outbox.Options{Now: c.Now}); err != nil {
			t.Fatal(err)
		}
		ih.orgs = orgs.New(st, c.Now)
		svc, err := incident.New(incident.Config{Store: st, Audit: c.Audit, Keys: seal.NewKeyring(master, keysets),
			Mailer: ih.outbox, Webhooks: webhook.New(webhook.Options{Now: c.Now}), Alarms: outbox.NewAlarms(c.Audit, nil),
			Orgs: ih.orgs, Now: c.Now, SecurityTeam: []string{"security@alto.example"}})
		if err != nil {
			t.Fatal(err)
		}
		c.Incidents, c.Tenants = svc, ih.orgs
	})
	return ih
}

func (h *incidentHarness) mailTo(t *testing.T, addr string) []notify.Email {
	t.Helper()
	all, err := h.outbox.Messages()
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Email
	for _, m := range all {
		if slices.Contains(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

func (h *incidentHarness) json(t *testing.T, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	var w *httptest.ResponseRecorder
	if body == "" {
		w = h.do(t, method, path, token, nil)
	} else {
		r := strings.NewReader(body)
		req := httptest.NewRequest(method, path, r)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.RemoteAddr = "192.0.2.10:5555"
		w = httptest.NewRecorder()
		h.api.ServeHTTP(w, req)
		checkAgainstSpec(t, req, w)
	}
	return w
}

type incidentJSON struct {
	ID           string          `json:"id"`
	Status       string          `json:"status"`
	AffectedOrgs json.RawMessage `json:"affectedOrgs"`
	Overdue      []string        `json:"overdue"`
	OpenedAt     string          `json:"openedAt"`
	Holds        []any           `json:"holds"`
	RCA          *struct{}       `json:"rca"`
}

// TestINC01_IncidentRoutes drives the incident routes as the security
// role and as the owners of affected and unaffected tenants.
func TestINC01_IncidentRoutes(t *testing.T) {
	h := newIncidentHarness(t)
	acme, globex, initech := h.token(t, "acme", auth.Owner), h.token(t, "globex", auth.Admin), h.token(t, "initech", auth.Owner)
	sec := h.token(t, "alto-security", auth.Security)
	for tok, email := range map[string]string{acme: "owner@acme.example", globex: "admin@globex.example", initech: "owner@initech.example"} {
		w := h.json(t, "PUT", "/v1/settings/notifications", tok, `{"emails":["`+email+`"]}`)
		if w.Code != 200 || strings.Contains(w.Body.String(), "webhookSecret\"") {
			t.Fatalf("PUT settings = %d %s", w.Code, w.Body)
		}
	}
	detected := h.clock.Now().Add(-time.Hour).Format(time.RFC3339)
	w := h.json(t, "POST", "/v1/incidents", sec, `{"title":"Bucket exposed","severity":"high","detectedAt":"`+detected+
		`","affectedOrgs":["acme","globex"],"description":"A bucket policy allowed listing."}`)
	if w.Code != 201 {
		t.Fatalf("POST /v1/incidents = %d %s", w.Code, w.Body)
	}
	var inc incidentJSON
	json.Unmarshal(w.Body.Bytes(), &inc)
	for _, addr := range []string{"owner@acme.example", "admin@globex.example"} {
		if n := len(h.mailTo(t, addr)); n != 1 {
			t.Errorf("%s got %d notices, want 1", addr, n)
		}
	}
	if n := len(h.mailTo(t, "owner@initech.example")); n != 0 {
		t.Errorf("unaffected initech got %d notices", n)
	}

	// Owners and admins of affected tenants read it, naming only themselves.
	for tok, org := range map[string]string{acme: "acme", globex: "globex"} {
		w = h.do(t, "GET", "/v1/incidents", tok, nil)
		var page struct{ Items []incidentJSON }
		json.Unmarshal(w.Body.Bytes(), &page)
		if w.Code != 200 || len(page.Items) != 1 || string(page.Items[0].AffectedOrgs) != `["`+org+`"]` {
			t.Errorf("%s lists %d %s, want the incident naming only %s", org, w.Code, w.Body, org)
		}
		if strings.Contains(w.Body.String(), "openedBy") || strings.Contains(w.Body.String(), "holds") {
			t.Errorf("%s sees the security team's fields: %s", org, w.Body)
		}
		if w = h.do(t, "GET", "/v1/incidents/"+inc.ID, tok, nil); w.Code != 200 {
			t.Errorf("%s GET its incident = %d", org, w.Code)
		}
	}
	// Another tenant: 404 and an empty list (ACC-03).
	if w = h.do(t, "GET", "/v1/incidents/"+inc.ID, initech, nil); w.Code != 404 {
		t.Errorf("initech GET another tenant's incident = %d, want 404", w.Code)
	}
	decodeProblem(t, w)
	if w = h.do(t, "GET", "/v1/incidents", initech, nil); w.Code != 200 || strings.Contains(w.Body.String(), inc.ID) {
		t.Errorf("initech list = %d %s, want empty", w.Code, w.Body)
	}
	// Tenants read only; managers and reps not at all.
	if w = h.json(t, "POST", "/v1/incidents/"+inc.ID+"/updates", acme, `{"status":"resolved","message":"no"}`); w.Code != 403 {
		t.Errorf("owner posting an update = %d, want 403", w.Code)
	}
	if w = h.do(t, "GET", "/v1/incidents", h.token(t, "acme", auth.Manager), nil); w.Code != 403 {
		t.Errorf("manager listing incidents = %d, want 403", w.Code)
	}

	// The security role updates, holds, resolves and publishes the RCA.
	if w = h.json(t, "POST", "/v1/incidents/"+inc.ID+"/rca", sec, `{"document":"early"}`); w.Code != 409 {
		t.Errorf("RCA before resolution = %d, want 409", w.Code)
	}
	until := h.clock.Now().Add(time.Hour).Format(time.RFC3339)
	if w = h.json(t, "POST", "/v1/incidents/"+inc.ID+"/hold", sec, `{"reason":"court order 5","until":"`+until+`"}`); w.Code != 201 {
		t.Errorf("hold = %d %s", w.Code, w.Body)
	}
	if w = h.json(t, "POST", "/v1/incidents/"+inc.ID+"/updates", sec, `{"status":"resolved","message":"Fixed."}`); w.Code != 201 {
		t.Fatalf("update = %d %s", w.Code, w.Body)
	}
	if n := len(h.mailTo(t, "owner@acme.example")); n != 1 {
		t.Errorf("under the hold acme got %d messages, want still 1", n)
	}
	if w = h.json(t, "POST", "/v1/incidents/"+inc.ID+"/rca", sec, `{"document":"The cause."}`); w.Code != 201 {
		t.Errorf("RCA = %d %s", w.Code, w.Body)
	}
	if w = h.json(t, "POST", "/v1/incidents/"+inc.ID+"/updates", sec, `{"status":"investigating","message":"x"}`); w.Code != 409 {
		t.Errorf("update after resolution = %d, want 409", w.Code)
	}
	w = h.do(t, "GET", "/v1/incidents/"+inc.ID, sec, nil)
	json.Unmarshal(w.Body.Bytes(), &inc)
	if w.Code != 200 || inc.Status != "resolved" || inc.RCA == nil || len(inc.Holds) != 1 || inc.OpenedAt == "" {
		t.Errorf("security GET = %d %s", w.Code, w.Body)
	}
	if w = h.do(t, "GET", "/v1/incidents/inc-nope", sec, nil); w.Code != 404 {
		t.Errorf("GET unknown incident = %d, want 404", w.Code)
	}
}

// TestINC01_AllReachesRegisteredTenants: a tenant is registered on its
// first log-in, and an incident affecting all of them reaches each; the
// security role's own org is no tenant.
func TestINC01_AllReachesRegisteredTenants(t *testing.T) {
	h := newIncidentHarness(t)
	for _, org := range []string{"acme", "globex"} {
		tok := h.token(t, org, auth.Owner)
		if w := h.json(t, "PUT", "/v1/settings/notifications", tok, `{"emails":["owner@`+org+`.example"]}`); w.Code != 200 {
			t.Fatalf("PUT settings = %d %s", w.Code, w.Body)
		}
	}
	sec := h.token(t, "alto-security", auth.Security)
	if w := h.do(t, "GET", "/v1/me", sec, nil); w.Code != 200 {
		t.Fatal(w.Code)
	}
	var got []tenant.ID
	if err := h.orgs.All(context.Background(), func(id tenant.ID) error { got = append(got, id); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []tenant.ID{"acme", "globex"}) {
		t.Errorf("registered tenants = %v, want acme and globex", got)
	}
	w := h.json(t, "POST", "/v1/incidents", sec, `{"title":"Key service outage","severity":"critical","detectedAt":"`+
		h.clock.Now().Format(time.RFC3339)+`","affectedOrgs":"all"}`)
	if w.Code != 201 || !strings.Contains(w.Body.String(), `"affectedOrgs":"all"`) {
		t.Fatalf("POST all = %d %s", w.Code, w.Body)
	}
	for _, addr := range []string{"owner@acme.example", "owner@globex.example"} {
		if n := len(h.mailTo(t, addr)); n != 1 {
			t.Errorf("%s got %d notices, want 1", addr, n)
		}
	}
}

func TestIncidentRoutesRefuseBadInput(t *testing.T) {
	h := newIncidentHarness(t)
	sec, owner := h.token(t, "alto-security", auth.Security), h.token(t, "acme", auth.Owner)
	now := h.clock.Now().Format(time.RFC3339)
	tests := []struct {
		name, method, path, token, body string
		status                          int
		field                           string
	}{
		{"not JSON", "POST", "/v1/incidents", sec, `{"title":`, 400, ""},
		{"unknown field", "POST", "/v1/incidents", sec, `{"title":"x","colour":"red"}`, 422, "colour"},
		{"bad severity", "POST", "/v1/incidents", sec, `{"title":"x","severity":"urgent","detectedAt":"` + now + `","affectedOrgs":["acme"]}`, 422, "severity"},
		{"bad time", "POST", "/v1/incidents", sec, `{"title":"x","severity":"low","detectedAt":"yesterday","affectedOrgs":["acme"]}`, 422, "detectedAt"},
		{"bad orgs", "POST", "/v1/incidents", sec, `{"title":"x","severity":"low","detectedAt":"` + now + `","affectedOrgs":5}`, 422, "affectedOrgs"},
		{"no orgs", "POST", "/v1/incidents", sec, `{"title":"x","severity":"low","detectedAt":"` + now + `"}`, 422, "affectedOrgs"},
		{"empty hold", "POST", "/v1/incidents", sec, `{"title":"x","severity":"low","detectedAt":"` + now + `","affectedOrgs":["acme"],"hold":{}}`, 422, "hold"},
		{"bad limit", "GET", "/v1/incidents?limit=1000", sec, "", 422, "limit"},
		{"bad cursor", "GET", "/v1/incidents?cursor=nonsense", owner, "", 422, "cursor"},
		{"bad email", "PUT", "/v1/settings/notifications", owner, `{"emails":["nobody"]}`, 422, "emails[0]"},
		{"http webhook", "PUT", "/v1/settings/notifications", owner, `{"emails":[],"webhookUrl":"http://hooks.acme.example"}`, 422, "webhookUrl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := h.json(t, tt.method, tt.path, tt.token, tt.body)
			if w.Code != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, w.Code, w.Body, tt.status)
			}
			p := decodeProblem(t, w)
			if tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field) {
				t.Errorf("errors = %+v, want one on %s", p.Errors, tt.field)
			}
		})
	}
	if items, _ := h.store.Query(tenant.WithPlatform(context.Background()), store.Query{PK: "INCIDENT"}); len(items.Items) != 0 {
		t.Errorf("refused requests stored %d incidents", len(items.Items))
	}
}

// TestINC01_WebhookSecretShownOnce: the PUT that sets a webhook returns
// its secret; reads never show it again.
func TestINC01_WebhookSecretShownOnce(t *testing.T) {
	h := newIncidentHarness(t)
	owner := h.token(t, "acme", auth.Owner)
	w := h.json(t, "PUT", "/v1/settings/notifications", owner, `{"emails":["owner@acme.example"],"webhookUrl":"https://hooks.acme.example/alto"}`)
	var got struct {
		WebhookSecret    string `json:"webhookSecret"`
		WebhookSecretSet bool   `json:"webhookSecretSet"`
	}
	json.Unmarshal(w.Body.Bytes(), &got)
	if w.Code != 200 || !strings.HasPrefix(got.WebhookSecret, incident.SecretPrefix) || !got.WebhookSecretSet {
		t.Fatalf("PUT = %d %s, want a new secret", w.Code, w.Body)
	}
	w = h.do(t, "GET", "/v1/settings/notifications", owner, nil)
	if w.Code != 200 || strings.Contains(w.Body.String(), got.WebhookSecret) || !strings.Contains(w.Body.String(), `"webhookSecretSet":true`) {
		t.Errorf("GET = %d %s, want the secret set but not shown", w.Code, w.Body)
	}
	if w = h.do(t, "GET", "/v1/settings/notifications", h.token(t, "acme", auth.Rep), nil); w.Code != 403 {
		t.Errorf("rep reading the settings = %d, want 403", w.Code)
	}
}
