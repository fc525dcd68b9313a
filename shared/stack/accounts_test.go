package stack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/notice"
)

// call serves one request through the stack's API.
func call(t *testing.T, st *Stack, method, path, token, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:1234"
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	st.API.ServeHTTP(w, r)
	return w
}

func mint(t *testing.T, st *Stack, p auth.Principal) string {
	t.Helper()
	tok, err := st.Issuer.Mint(p, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestNTC01_NoticeReachesEveryTenantsOwnersInTheOutbox runs NTC-01 on the
// assembled stack: a tenant whose owners come from its SCIM directory and
// one whose only addresses are its notification settings; a notice 29
// days ahead is refused, one 30 days ahead lands in the outbox for both,
// and the hourly sweep sends the reminder a week before, once.
func TestNTC01_NoticeReachesEveryTenantsOwnersInTheOutbox(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st, err := Open(Config{Data: t.TempDir(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// acme provisions its owner through SCIM.
	acmeOwner := mint(t, st, auth.Principal{Sub: "00u-owner", Org: "acme", Role: auth.Owner})
	w := call(t, st, "POST", "/v1/settings/scim-token", acmeOwner, "", "")
	var tok struct{ Token string }
	json.Unmarshal(w.Body.Bytes(), &tok)
	if w.Code != http.StatusCreated {
		t.Fatalf("scim token = %d %s", w.Code, w.Body)
	}
	w = call(t, st, "POST", "/scim/v2/Users", tok.Token, "application/scim+json",
		`{"userName":"ann@acme.example","externalId":"00u-owner","emails":[{"value":"ann@acme.example","primary":true}],
		  "urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"owner"}}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("provision = %d %s", w.Code, w.Body)
	}
	// globex has no directory: its notification settings name its owner.
	globexOwner := mint(t, st, auth.Principal{Sub: "g-owner", Org: "globex", Role: auth.Owner})
	w = call(t, st, "PUT", "/v1/settings/notifications", globexOwner, "application/json", `{"emails":["owner@globex.example"]}`)
	if w.Code != http.StatusOK {
		t.Fatalf("settings = %d %s", w.Code, w.Body)
	}

	security := mint(t, st, auth.Principal{Sub: "sec-1", Org: "alto-ops", Role: auth.Security})
	post := func(ahead time.Duration) *httptest.ResponseRecorder {
		at := clock().Add(ahead).Format(time.RFC3339)
		return call(t, st, "POST", "/v1/notices", security, "application/json",
			`{"kind":"subprocessor","title":"New e-mail provider","text":"Notices will be sent through Postmark.","effectiveAt":"`+at+`",
			  "subprocessor":{"action":"add","name":"Postmark","purpose":"e-mail delivery","location":"United States"}}`)
	}
	if w := post(29 * 24 * time.Hour); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("29 days ahead = %d %s, want 422", w.Code, w.Body)
	}
	if w := post(30 * 24 * time.Hour); w.Code != http.StatusCreated {
		t.Fatalf("30 days ahead = %d %s, want 201", w.Code, w.Body)
	}
	recipients := func() map[string]int {
		msgs, err := st.Outbox.Messages()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, m := range msgs {
			if strings.Contains(m.Subject, "New e-mail provider") {
				for _, to := range m.To {
					got[to]++
				}
			}
		}
		return got
	}
	want := map[string]int{"ann@acme.example": 1, "owner@globex.example": 1}
	if got := recipients(); !equalCounts(got, want) {
		t.Errorf("outbox after the notice = %v, want %v", got, want)
	}

	var sweep Schedule
	for _, s := range st.Schedules() {
		if s.Name == "sweep" {
			sweep = s
		}
	}
	for _, day := range []int{22, 23, 23, 24} { // days after posting; the reminder is due on day 23
		mu.Lock()
		now = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC).Add(time.Duration(day) * 24 * time.Hour)
		mu.Unlock()
		if err := sweep.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if day == 22 {
			if got := recipients(); !equalCounts(got, want) {
				t.Errorf("day 22: outbox = %v, want no reminder yet", got)
			}
		}
	}
	want = map[string]int{"ann@acme.example": 2, "owner@globex.example": 2}
	if got := recipients(); !equalCounts(got, want) {
		t.Errorf("after the reminder = %v, want one notice and one reminder each: %v", got, want)
	}

	// Any role reads the sub-processor list with the change's date.
	rep := mint(t, st, auth.Principal{Sub: "g-rep", Org: "globex", Role: auth.Rep})
	w = call(t, st, "GET", "/v1/subprocessors", rep, "", "")
	var list struct{ Items []notice.Processor }
	json.Unmarshal(w.Body.Bytes(), &list)
	i := slices.IndexFunc(list.Items, func(p notice.Processor) bool { return p.Name == "Postmark" })
	if w.Code != 200 || i < 0 || !list.Items[i].Since.Equal(time.Date(2026, 12, 23, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("subprocessors = %d %s, want Postmark from its effective date", w.Code, w.Body)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestACC01_IdentityProviderFromConfig wires an external identity
// provider as ALTO_ISSUER, ALTO_AUDIENCE and ALTO_JWKS_URL set it: its
// tokens are accepted, the local issuer's no longer are.
func TestACC01_IdentityProviderFromConfig(t *testing.T) {
	idp, err := auth.LoadOrCreateIssuer(filepath.Join(t.TempDir(), "idp.pem"), "https://idp.example/oauth2/default", "api://alto")
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(idp.JWKS())
	}))
	defer jwks.Close()

	st, err := Open(Config{Data: t.TempDir(), Issuer: "https://idp.example/oauth2/default", Audience: "api://alto", JWKSURL: jwks.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := auth.Principal{Sub: "00u-jane", Org: "acme", Role: auth.Admin}
	fromIdP, err := idp.Mint(p, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if w := call(t, st, "GET", "/v1/me", fromIdP, "", ""); w.Code != 200 {
		t.Errorf("identity provider's token = %d %s, want 200", w.Code, w.Body)
	}
	if w := call(t, st, "GET", "/v1/me", mint(t, st, p), "", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("local issuer's token = %d, want 401 once an identity provider is configured", w.Code)
	}

	for name, cfg := range map[string]Config{
		"no issuer":        {Audience: "a", JWKSURL: "https://idp.example/keys"},
		"no audience":      {Issuer: "i", JWKSURL: "https://idp.example/keys"},
		"plain http":       {Issuer: "i", Audience: "a", JWKSURL: "http://idp.example/keys"},
		"not a URL at all": {Issuer: "i", Audience: "a", JWKSURL: "::"},
	} {
		cfg.Data = t.TempDir()
		if st, err := Open(cfg); err == nil {
			st.Close()
			t.Errorf("%s: Open succeeded, want a configuration error", name)
		}
	}
}
