package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/httpapi"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/scim"
	"github.com/alto/alto/shared/stack"
	"github.com/alto/alto/shared/stacktest"
)

// marker is planted in every free-text field of the victim tenant (acme):
// no answer to another tenant may carry it, nor any of acme's IDs.
const marker = "zq7"

// victim is what acme (and a purged third tenant, initech) hold, as the
// IDs and tokens a foreign tenant (globex) will aim at.
type victim struct {
	contacts   []string // contact IDs
	campaign   string
	optOut     string // a real opt-out token of one of acme's drafts
	download   string // the token of the download link of acme's export
	importID   string
	form       string
	request    string // a subject request
	export     string // a workspace export
	incident   string // an incident that concerns acme only
	scimUser   string // a user of acme's directory
	scimToken  string // acme's SCIM bearer token
	purge      string // initech's workspace purge
	globexCamp string // globex's own campaign, to enqueue acme's contacts into
}

// markers are the strings no foreign answer may hold. The incident's are
// apart: the platform's security role may see every incident.
func (v victim) markers() []string {
	return append(slices.Clone(v.contacts), marker, v.campaign, v.importID, v.form, v.request, v.export, v.scimUser, v.purge)
}

func (v victim) incidentMarkers() []string { return []string{v.incident, "ykw9"} }

// probe is one request of the sweep and what it must get.
type probe struct {
	path, body string
	// foreign is the status for a globex caller the role matrix lets in:
	// 404 for an object of acme's, 2xx for globex's own collections, 422
	// for a body naming acme (a purge confirmation).
	foreign int
	// security, when set, is the status for the platform's security role
	// instead (platform data such as incidents is not any tenant's).
	security int
	// own, when set, is the status of the same request made afterwards by
	// the owner of the object (ownOrg, default acme; the security role for
	// routes only it may call): the control proving the foreign 404 was
	// not a malformed request.
	own    int
	ownOrg string
	// bodyHas, when set, must appear in the foreign answer.
	bodyHas string
}

// probes names the request(s) of each route. Every route the router lists
// must have an entry: a new route fails the sweep until it is added here.
func probes(v victim, now time.Time) map[string][]probe {
	c0 := v.contacts[0]
	future := now.Add(40 * 24 * time.Hour).Format(time.RFC3339)
	scimUser := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"intruder@globex.example","active":true}`
	return map[string][]probe{
		"GET /healthz":                  {{path: "/healthz", foreign: 200}},
		"GET /.well-known/jwks.json":    {{path: "/.well-known/jwks.json", foreign: 200}},
		"GET /v1/openapi.yaml":          {{path: "/v1/openapi.yaml", foreign: 200}},
		"GET /v1/me":                    {{path: "/v1/me", foreign: 200}},
		"GET /v1/audit":                 {{path: "/v1/audit?limit=1000", foreign: 200}},
		"GET /v1/audit/verify":          {{path: "/v1/audit/verify", foreign: 200}},
		"POST /v1/contacts":             {{path: "/v1/contacts", body: `{"email":"someone@globex.example","consent":{"email":"granted"}}`, foreign: 202}},
		"GET /v1/contacts":              {{path: "/v1/contacts", foreign: 200}, {path: "/v1/contacts?email=ada." + marker + "@acme-example.com", foreign: 200}},
		"GET /v1/contacts/{id}":         {{path: "/v1/contacts/" + c0, foreign: 404, own: 200}},
		"PATCH /v1/contacts/{id}":       {{path: "/v1/contacts/" + c0, body: `{"firstName":"Mallory"}`, foreign: 404, own: 200}},
		"DELETE /v1/contacts/{id}":      {{path: "/v1/contacts/" + v.contacts[2], foreign: 404, own: 204}},
		"POST /v1/campaigns":            {{path: "/v1/campaigns", body: campaignBody("Globex spring", "1 Globex Way"), foreign: 201}},
		"GET /v1/campaigns/{id}":        {{path: "/v1/campaigns/" + v.campaign, foreign: 404, own: 200}},
		"GET /v1/campaigns/{id}/drafts": {{path: "/v1/campaigns/" + v.campaign + "/drafts", foreign: 404, own: 200}},
		"POST /v1/campaigns/{id}/enqueue": {
			{path: "/v1/campaigns/" + v.campaign + "/enqueue", body: `{"all":true}`, foreign: 404, own: 202},
			{path: "/v1/campaigns/" + v.globexCamp + "/enqueue", body: `{"contactIds":["` + strings.Join(v.contacts, `","`) + `"]}`,
				foreign: 202, bodyHas: `"queued":0`},
		},
		"GET /v1/optout/{token}":  {{path: "/v1/optout/" + v.optOut, foreign: 200}},
		"POST /v1/optout/{token}": {{path: "/v1/optout/" + v.optOut + "x", foreign: 404}},
		"POST /v1/imports":        {{path: "/v1/imports", body: `{"filename":"globex.csv"}`, foreign: 201}},
		"GET /v1/imports/{id}":    {{path: "/v1/imports/" + v.importID, foreign: 404, own: 200}},
		"POST /v1/forms": {{path: "/v1/forms", body: `{"name":"Globex form","fields":["email"],"consentText":"Yes.","consentVersion":"1"}`,
			foreign: 201}},
		"GET /v1/forms": {{path: "/v1/forms", foreign: 200}},
		"POST /v1/forms/{id}/submissions": {{path: "/v1/forms/" + v.form + "/submissions",
			body: `{"email":"visitor@globex.example","consent":true}`, foreign: 202}},
		"POST /v1/workspace/purge":      {{path: "/v1/workspace/purge", body: `{"confirm":"acme","email":"boss@globex.example"}`, foreign: 422}},
		"GET /v1/workspace/purge/{id}":  {{path: "/v1/workspace/purge/" + v.purge, foreign: 404, own: 200, ownOrg: "initech"}},
		"GET /v1/settings/retention":    {{path: "/v1/settings/retention", foreign: 200}},
		"PUT /v1/settings/retention":    {{path: "/v1/settings/retention", body: `{}`, foreign: 200}},
		"PUT /v1/workspace/contract":    {{path: "/v1/workspace/contract", body: `{"endsAt":null}`, foreign: 200}},
		"POST /v1/workspace/terminate":  {{path: "/v1/workspace/terminate", body: `{"confirm":"acme","email":"boss@globex.example"}`, foreign: 422}},
		"POST /v1/workspace/reactivate": {{path: "/v1/workspace/reactivate", foreign: 409}},
		"POST /v1/incidents": {{path: "/v1/incidents", body: `{"title":"Globex disk","severity":"low","detectedAt":"` +
			now.Add(-time.Hour).Format(time.RFC3339) + `","affectedOrgs":["globex"],"description":"A disk filled up."}`, foreign: 201}},
		"GET /v1/incidents":      {{path: "/v1/incidents", foreign: 200}},
		"GET /v1/incidents/{id}": {{path: "/v1/incidents/" + v.incident, foreign: 404, security: 200, own: 200}},
		"POST /v1/incidents/{id}/updates": {{path: "/v1/incidents/" + v.incident + "/updates",
			body: `{"status":"resolved","message":"Fixed."}`, foreign: 201}},
		"POST /v1/incidents/{id}/hold": {{path: "/v1/incidents/" + v.incident + "/hold",
			body: `{"reason":"court order","until":"` + future + `"}`, foreign: 201}},
		"POST /v1/incidents/{id}/rca": {{path: "/v1/incidents/" + v.incident + "/rca", body: `{"document":"Root cause: a bad policy."}`,
			foreign: 201}},
		"GET /v1/settings/notifications": {{path: "/v1/settings/notifications", foreign: 200}},
		"PUT /v1/settings/notifications": {{path: "/v1/settings/notifications", body: `{"emails":["sec@globex.example"]}`, foreign: 200}},
		"POST /v1/subject-requests": {{path: "/v1/subject-requests", body: `{"type":"access","subject":{"contactId":"` + c0 + `"}}`,
			foreign: 404, own: 202}},
		"GET /v1/subject-requests":      {{path: "/v1/subject-requests", foreign: 200}},
		"GET /v1/subject-requests/{id}": {{path: "/v1/subject-requests/" + v.request, foreign: 404, own: 200}},
		"POST /v1/exports":              {{path: "/v1/exports", foreign: 202}},
		"GET /v1/exports/{id}":          {{path: "/v1/exports/" + v.export, foreign: 404, own: 200}},
		"GET /v1/downloads/{token}":     {{path: "/v1/downloads/" + v.download + "x", foreign: 404}},
		"POST /v1/settings/scim-token":  {{path: "/v1/settings/scim-token", foreign: 201}},
		"GET /v1/subprocessors":         {{path: "/v1/subprocessors", foreign: 200}},
		"GET /v1/notices":               {{path: "/v1/notices", foreign: 200}},
		"POST /v1/notices": {{path: "/v1/notices", body: `{"kind":"policy","title":"Policy v4","text":"Shorter logs.","effectiveAt":"` +
			future + `"}`, foreign: 201}},
		"GET /scim/v2/Users":                 {{path: "/scim/v2/Users", foreign: 200}, {path: "/scim/v2/Users?filter=" + `userName%20eq%20%22jane.` + marker + `%40acme-example.com%22`, foreign: 200}},
		"POST /scim/v2/Users":                {{path: "/scim/v2/Users", body: scimUser, foreign: 201}},
		"GET /scim/v2/Users/{id}":            {{path: "/scim/v2/Users/" + v.scimUser, foreign: 404, own: 200}},
		"PUT /scim/v2/Users/{id}":            {{path: "/scim/v2/Users/" + v.scimUser, body: scimUser, foreign: 404, own: 200}},
		"PATCH /scim/v2/Users/{id}":          {{path: "/scim/v2/Users/" + v.scimUser, body: `{"Operations":[{"op":"replace","value":{"active":false}}]}`, foreign: 404, own: 200}},
		"DELETE /scim/v2/Users/{id}":         {{path: "/scim/v2/Users/" + v.scimUser, foreign: 404, own: 204}},
		"GET /scim/v2/ServiceProviderConfig": {{path: "/scim/v2/ServiceProviderConfig", foreign: 200}},
		"GET /scim/v2/Schemas":               {{path: "/scim/v2/Schemas", foreign: 200}},
		"GET /scim/v2/ResourceTypes":         {{path: "/scim/v2/ResourceTypes", foreign: 200}},
	}
}

func campaignBody(name, address string) string {
	return fmt.Sprintf(`{"name":%q,"channel":"email","template":"Hello {{.FirstName}} at {{.Company}}!",
		"sender":{"name":%q,"postalAddress":%q},"reason":"you asked about our pricing"}`, name, name, address)
}

// TestACC03_EveryRouteGivesAForeignTenantNothing is the tenant half of the
// authorization matrix (OWASP API1, API3): every route the router lists is
// called by every role of a foreign tenant (globex) against the objects of
// another (acme): contacts, campaigns, drafts, imports, forms, subject
// requests, exports, incidents, directory users, a purge. Each answer must
// be 403 where the role matrix refuses, 404 for an object of acme's, the
// caller's own (empty) data for a collection, and no answer may carry any
// of acme's IDs or the marker planted in every free-text field. Afterwards
// acme's data is unchanged, and each refused request, made by acme itself,
// succeeds: the 404s were tenancy, not malformed requests.
func TestACC03_EveryRouteGivesAForeignTenantNothing(t *testing.T) {
	unlimited := &httpapi.Rate{}
	w := stacktest.Open(t, func(c *stack.Config) { c.PerTenant, c.PerIP, c.Public = unlimited, unlimited, unlimited })
	v := plantVictim(t, w)
	before := acmeFingerprint(t, w, v)

	globex := map[auth.Role]string{}
	for _, role := range auth.Roles {
		// Scoped like acme's records, so a missing tenant check could not
		// hide behind a branch or owner mismatch.
		globex[role] = w.Token(t, "globex", auth.Principal{Role: role, Branch: "north", Dept: "sales"})
	}
	table := probes(v, w.Clock.Now())
	routes := w.Stack.API.Routes()
	// JWT routes first, then public ones, then SCIM (whose POST gives
	// globex a directory, which would refuse the tokens above).
	slices.SortStableFunc(routes, func(a, b httpapi.Route) int { return kind(a) - kind(b) })
	seen := map[string]bool{}
	var globexSCIM string
	for _, rt := range routes {
		name := rt.Method + " " + rt.Path
		seen[name] = true
		ps, ok := table[name]
		if !ok {
			t.Errorf("%s has no probe: add it to probes so the tenancy sweep covers it", name)
			continue
		}
		for _, p := range ps {
			switch kind(rt) {
			case jwtRoute:
				for _, role := range auth.Roles {
					want := p.foreign
					switch {
					case !auth.Allowed(role, rt.Action):
						want = http.StatusForbidden
					case role == auth.Security && p.security != 0:
						want = p.security
					}
					rec := send(t, w, rt.Method, p.path, globex[role], p.body)
					checkForeign(t, name+" as globex "+string(role), rec, want, p.bodyHas, v, role == auth.Security)
				}
			case publicRoute:
				rec := send(t, w, rt.Method, p.path, globex[auth.Owner], p.body)
				checkForeign(t, name+" (public) with globex's token", rec, p.foreign, p.bodyHas, v, false)
			case scimRoute:
				if globexSCIM == "" {
					globexSCIM = rotateSCIMToken(t, w, globex[auth.Owner])
				}
				rec := send(t, w, rt.Method, p.path, globexSCIM, p.body)
				checkForeign(t, name+" with globex's SCIM token", rec, p.foreign, p.bodyHas, v, false)
			}
		}
	}
	for name := range table {
		if !seen[name] {
			t.Logf("probe %s: no such route in this build", name)
		}
	}

	if after := acmeFingerprint(t, w, v); after != before {
		t.Errorf("acme's data changed under globex's requests:\nbefore %s\nafter  %s", before, after)
	}

	// The controls: acme itself gets what globex did not. Deletions last.
	type control struct {
		name string
		rt   httpapi.Route
		p    probe
	}
	var controls []control
	for _, rt := range routes {
		for _, p := range table[rt.Method+" "+rt.Path] {
			if p.own != 0 {
				controls = append(controls, control{rt.Method + " " + rt.Path, rt, p})
			}
		}
	}
	slices.SortStableFunc(controls, func(a, b control) int {
		return boolInt(a.rt.Method == "DELETE") - boolInt(b.rt.Method == "DELETE")
	})
	for _, c := range controls {
		tok := ""
		switch {
		case kind(c.rt) == scimRoute:
			tok = v.scimToken
		case auth.Allowed(auth.Owner, c.rt.Action):
			org := c.p.ownOrg
			if org == "" {
				org = "acme"
			}
			tok = w.Token(t, org, auth.Principal{Role: auth.Owner})
		default:
			tok = w.Token(t, "secops", auth.Principal{Role: auth.Security})
		}
		if rec := send(t, w, c.rt.Method, c.p.path, tok, c.p.body); rec.Code != c.p.own {
			t.Errorf("control: %s by its own tenant = %d %s, want %d", c.name, rec.Code, rec.Body, c.p.own)
		}
	}
}

// Kinds of route, in the order the sweep takes them.
const (
	jwtRoute = iota
	publicRoute
	scimRoute
)

func kind(rt httpapi.Route) int {
	switch {
	case rt.Action != "":
		return jwtRoute
	case strings.HasPrefix(rt.Path, scim.Root):
		return scimRoute
	}
	return publicRoute
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkForeign checks one answer to globex: its status, and that it holds
// nothing of acme's (incidents excepted for the platform's security role).
func checkForeign(t *testing.T, what string, rec *httptest.ResponseRecorder, want int, bodyHas string, v victim, platform bool) {
	t.Helper()
	if rec.Code != want {
		t.Errorf("%s = %d %s, want %d", what, rec.Code, truncate(rec.Body.String()), want)
	}
	body := strings.ToLower(rec.Body.String())
	markers := v.markers()
	if !platform {
		markers = append(markers, v.incidentMarkers()...)
	}
	for _, m := range markers {
		if m != "" && strings.Contains(body, strings.ToLower(m)) {
			t.Errorf("%s: the answer carries acme's %q: %s", what, m, truncate(rec.Body.String()))
		}
	}
	if bodyHas != "" && want < 300 && !strings.Contains(rec.Body.String(), bodyHas) {
		t.Errorf("%s = %s, want it to hold %s", what, truncate(rec.Body.String()), bodyHas)
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// send serves one request: a JSON body, or a SCIM one on SCIM routes.
func send(t *testing.T, w *stacktest.World, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	if strings.HasPrefix(path, scim.Root) && body != "" {
		return w.Do(t, method, path, token, body, "Content-Type", scim.MediaType)
	}
	return w.Do(t, method, path, token, body)
}

func rotateSCIMToken(t *testing.T, w *stacktest.World, owner string) string {
	t.Helper()
	rec := w.Do(t, "POST", "/v1/settings/scim-token", owner, "")
	if rec.Code != http.StatusCreated {
		t.Fatalf("rotate SCIM token = %d %s", rec.Code, rec.Body)
	}
	return stacktest.Decode[struct{ Token string }](t, rec).Token
}

// must serves a request and fails the test unless it answers status.
func must(t *testing.T, w *stacktest.World, status int, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := send(t, w, method, path, token, body)
	if rec.Code != status {
		t.Fatalf("setup: %s %s = %d %s, want %d", method, path, rec.Code, rec.Body, status)
	}
	return rec
}

type withID struct{ ID string }

// plantVictim fills acme with one of everything, marked; purges initech;
// gives globex a campaign of its own.
func plantVictim(t *testing.T, w *stacktest.World) victim {
	t.Helper()
	var v victim
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	contacts := `{"contacts":[` +
		`{"email":"ada.` + marker + `@acme-example.com","firstName":"Ada` + marker + `","lastName":"Lovelace` + marker + `","company":"` + marker + ` Engines","ownerId":"u-rep","branch":"north","dept":"sales","consent":{"email":"granted"}},` +
		`{"email":"grace.` + marker + `@acme-example.com","firstName":"Grace` + marker + `","ownerId":"u-rep","branch":"north","dept":"sales","consent":{"email":"granted"},"attributes":{"note":"` + marker + `"}},` +
		`{"phone":"+14155550123","lastName":"Hopper` + marker + `","ownerId":"u-rep","branch":"north","dept":"sales"}]}`
	must(t, w, 202, "POST", "/v1/contacts", owner, contacts)
	w.Drain(t, "ingress")
	list := stacktest.Decode[struct{ Items []withID }](t, must(t, w, 200, "GET", "/v1/contacts", owner, ""))
	for _, c := range list.Items {
		v.contacts = append(v.contacts, c.ID)
	}
	if len(v.contacts) != 3 {
		t.Fatalf("setup: acme has %d contacts, want 3", len(v.contacts))
	}

	v.campaign = stacktest.Decode[withID](t, must(t, w, 201, "POST", "/v1/campaigns", owner, campaignBody("Spring "+marker, "1 "+marker+" Street"))).ID
	must(t, w, 202, "POST", "/v1/campaigns/"+v.campaign+"/enqueue", owner, `{"all":true}`)
	w.Drain(t, campaign.Queue)
	drafts := stacktest.Decode[struct{ Items []campaign.Draft }](t, must(t, w, 200, "GET", "/v1/campaigns/"+v.campaign+"/drafts", owner, ""))
	if len(drafts.Items) == 0 {
		t.Fatal("setup: no drafts")
	}
	m := regexp.MustCompile(`/v1/optout/([^>]+)>`).FindStringSubmatch(drafts.Items[0].ListUnsubscribe)
	if m == nil {
		t.Fatalf("setup: no opt-out link in %q", drafts.Items[0].ListUnsubscribe)
	}
	v.optOut = m[1]

	v.importID = stacktest.Decode[withID](t, must(t, w, 201, "POST", "/v1/imports", owner, `{"filename":"`+marker+`.csv"}`)).ID
	v.form = stacktest.Decode[withID](t, must(t, w, 201, "POST", "/v1/forms", owner,
		`{"name":"Webinar `+marker+`","fields":["email"],"consentText":"Yes, `+marker+`.","consentVersion":"1"}`)).ID
	v.request = stacktest.Decode[withID](t, must(t, w, 202, "POST", "/v1/subject-requests", owner,
		`{"type":"access","subject":{"contactId":"`+v.contacts[1]+`"}}`)).ID
	v.export = stacktest.Decode[withID](t, must(t, w, 202, "POST", "/v1/exports", owner, "")).ID
	w.Drain(t, jobs.Queue)
	exp := must(t, w, 200, "GET", "/v1/exports/"+v.export, owner, "").Body.String()
	if m := regexp.MustCompile(`/v1/downloads/([^"?]+)`).FindStringSubmatch(exp); m != nil {
		v.download = m[1]
	}
	must(t, w, 200, "PUT", "/v1/settings/notifications", owner, `{"emails":["security.`+marker+`@acme-example.com"]}`)

	security := w.Token(t, "secops", auth.Principal{Role: auth.Security})
	v.incident = stacktest.Decode[withID](t, must(t, w, 201, "POST", "/v1/incidents", security,
		`{"title":"Ykw9 bucket exposed","severity":"high","detectedAt":"`+w.Clock.Now().Add(-time.Hour).Format(time.RFC3339)+
			`","affectedOrgs":["acme"],"description":"Only acme's ykw9 bucket."}`)).ID

	// acme's directory last: from now on it decides who acme's tokens are.
	v.scimToken = rotateSCIMToken(t, w, owner)
	for _, u := range []string{
		`{"userName":"u-owner","emails":[{"value":"owner.` + marker + `@acme-example.com"}],"active":true,` +
			`"urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"owner"}}`,
		`{"userName":"jane.` + marker + `@acme-example.com","name":{"givenName":"Jane` + marker + `"},"active":true,` +
			`"urn:ietf:params:scim:schemas:extension:alto:2.0:User":{"role":"rep"}}`,
	} {
		v.scimUser = stacktest.Decode[withID](t, must(t, w, 201, "POST", "/scim/v2/Users", v.scimToken,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],`+u[1:])).ID
	}

	initech := w.Token(t, "initech", auth.Principal{Role: auth.Owner})
	v.purge = stacktest.Decode[withID](t, must(t, w, 202, "POST", "/v1/workspace/purge", initech,
		`{"confirm":"initech","email":"boss.`+marker+`@initech-example.com"}`)).ID

	v.globexCamp = stacktest.Decode[withID](t, must(t, w, 201, "POST", "/v1/campaigns",
		w.Token(t, "globex", auth.Principal{Role: auth.Owner}), campaignBody("Globex fall", "2 Globex Way"))).ID
	return v
}

// acmeFingerprint is what acme's owner reads of its data, to compare
// before and after the sweep. (Incidents are left out: the security role
// may change them; exports too: each read signs a new link.)
func acmeFingerprint(t *testing.T, w *stacktest.World, v victim) string {
	t.Helper()
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	var b strings.Builder
	for _, path := range []string{"/v1/contacts", "/v1/campaigns/" + v.campaign, "/v1/campaigns/" + v.campaign + "/drafts",
		"/v1/imports/" + v.importID, "/v1/forms", "/v1/settings/notifications"} {
		fmt.Fprintf(&b, "%s: %s\n", path, must(t, w, 200, "GET", path, owner, "").Body)
	}
	fmt.Fprintf(&b, "scim: %s\n", must(t, w, 200, "GET", "/scim/v2/Users", v.scimToken, "").Body)
	for _, id := range v.contacts {
		fmt.Fprintf(&b, "%s: %s\n", id, must(t, w, 200, "GET", "/v1/contacts/"+id, owner, "").Body)
	}
	for _, path := range []string{"/v1/subject-requests/" + v.request, "/v1/exports/" + v.export} {
		r := stacktest.Decode[struct{ Status string }](t, must(t, w, 200, "GET", path, owner, ""))
		fmt.Fprintf(&b, "%s: %s\n", path, r.Status)
	}
	return b.String()
}
