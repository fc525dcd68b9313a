package forms_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/forms"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/stacktest"
)

const definition = `{"name":"Spring webinar","fields":["email","firstName","lastName","company"],
	"consentText":"Yes, e-mail me about the webinar and related offers.","consentVersion":"2026-03"}`

func createForm(t *testing.T, w *stacktest.World, org string) forms.Form {
	t.Helper()
	tok := w.Token(t, org, auth.Principal{Role: auth.Admin})
	rec := w.Do(t, "POST", "/v1/forms", tok, definition)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /v1/forms = %d %s, want 201", rec.Code, rec.Body)
	}
	return stacktest.Decode[forms.Form](t, rec)
}

func TestING03_APublicSubmissionRecordsConsentAndIsQueued(t *testing.T) {
	w := stacktest.New(t)
	f := createForm(t, w, "acme")
	if f.ID == "" || strings.Contains(f.ID, "acme") || !strings.HasSuffix(f.SubmitURL, "/v1/forms/"+f.ID+"/submissions") {
		t.Fatalf("form = %+v, want an ID that does not name the tenant and its submit URL", f)
	}
	body := `{"email":"Ada@Example.com","firstName":"Ada","lastName":"Lovelace","company":"Engines","consent":true}`
	rec := w.Do(t, "POST", "/v1/forms/"+f.ID+"/submissions", "", body)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("submission = %d %s, want 202", rec.Code, rec.Body)
	}
	form := "email=grace%40example.com&firstName=Grace&consent=on"
	rec = w.Do(t, "POST", "/v1/forms/"+f.ID+"/submissions", "", form, "Content-Type", "application/x-www-form-urlencoded")
	if rec.Code != http.StatusAccepted {
		t.Fatalf("HTML form post = %d %s, want 202", rec.Code, rec.Body)
	}
	if n := w.Drain(t, ingest.Queue); n != 2 {
		t.Fatalf("queued = %d, want 2", n)
	}
	got := w.Contacts(t, "acme")
	if len(got) != 2 {
		t.Fatalf("contacts = %+v, want 2", got)
	}
	for _, c := range got {
		cs := c.Consent
		if cs.Email != contact.Granted || cs.Call != contact.Unknown || cs.Basis != "form" || cs.TextVersion != "2026-03" ||
			!cs.CapturedAt.Equal(w.Clock.Now()) || len(cs.IPDigest) < 32 || strings.Contains(cs.IPDigest, "192.0.2") {
			t.Errorf("consent of %s = %+v, want granted by form 2026-03 now, with a digest of the address", c.Email, cs)
		}
	}
	if got[0].Consent.IPDigest != got[1].Consent.IPDigest {
		t.Error("two submissions from one address have different digests")
	}
	for _, c := range w.Contacts(t, "acme") {
		if c.Email == "ada@example.com" && (c.LastName != "Lovelace" || c.Company != "Engines") {
			t.Errorf("ada = %+v", c)
		}
	}
	if n := len(w.Audited(t, "acme", "contact.created")); n != 2 {
		t.Errorf("contact.created entries = %d, want 2", n)
	}
}

func TestING03_ASubmissionWithoutConsentOrWithForeignFieldsIsRefused(t *testing.T) {
	w := stacktest.New(t)
	f := createForm(t, w, "acme")
	path := "/v1/forms/" + f.ID + "/submissions"
	cases := []struct {
		name, body, ctype string
		status            int
		field             string
	}{
		{"no consent", `{"email":"a@example.com"}`, "", 422, "consent"},
		{"consent false", `{"email":"a@example.com","consent":false}`, "", 422, "consent"},
		{"consent a string", `{"email":"a@example.com","consent":"yes"}`, "", 422, "consent"},
		{"form post without consent", "email=a%40example.com", "application/x-www-form-urlencoded", 422, "consent"},
		{"a field the form lacks", `{"email":"a@example.com","phone":"+14155552671","consent":true}`, "", 422, "phone"},
		{"an unknown field", `{"email":"a@example.com","shoeSize":"44","consent":true}`, "", 422, "shoeSize"},
		{"a value not text", `{"email":"a@example.com","firstName":7,"consent":true}`, "", 422, "firstName"},
		{"a bad e-mail", `{"email":"secret-not-an-email","consent":true}`, "", 422, "email"},
		{"not an object", `[1]`, "", 422, ""},
		{"text body", `email=a`, "text/plain", 415, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{}
			if tc.ctype != "" {
				hdr = append(hdr, "Content-Type", tc.ctype)
			}
			w.Clock.Advance(time.Second) // stay under the public rate limit
			rec := w.Do(t, "POST", path, "", tc.body, hdr...)
			if rec.Code != tc.status {
				t.Fatalf("status = %d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.field != "" && !strings.Contains(rec.Body.String(), `"field":"`+tc.field+`"`) {
				t.Errorf("problem = %s, want an error on %s", rec.Body, tc.field)
			}
			if strings.Contains(rec.Body.String(), "secret-not") {
				t.Errorf("problem echoes the value: %s", rec.Body)
			}
		})
	}
	for _, id := range []string{"f_aaaaaaaaaaaaaaaaaaaaaaaa", "acme", "../x"} {
		w.Clock.Advance(time.Second)
		if rec := w.Do(t, "POST", "/v1/forms/"+id+"/submissions", "", `{"email":"a@example.com","consent":true}`); rec.Code != http.StatusNotFound {
			t.Errorf("unknown form %s = %d, want 404", id, rec.Code)
		}
	}
	if n := w.Drain(t, ingest.Queue); n != 0 {
		t.Errorf("queued = %d, want nothing from refused submissions", n)
	}
}

func TestING03_FormsAreDefinedByOwnersAndAdminsOfTheirTenant(t *testing.T) {
	w := stacktest.New(t)
	mine := createForm(t, w, "acme")
	createForm(t, w, "globex")
	for _, role := range []auth.Role{auth.Manager, auth.Rep} {
		tok := w.Token(t, "acme", auth.Principal{Role: role, Branch: "north"})
		if rec := w.Do(t, "POST", "/v1/forms", tok, definition); rec.Code != http.StatusForbidden {
			t.Errorf("%s defining a form = %d, want 403", role, rec.Code)
		}
	}
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	rec := w.Do(t, "GET", "/v1/forms", owner, "")
	page := stacktest.Decode[struct{ Items []forms.Form }](t, rec)
	if rec.Code != 200 || len(page.Items) != 1 || page.Items[0].ID != mine.ID || page.Items[0].ConsentVersion != "2026-03" {
		t.Errorf("acme's forms = %d %+v, want only its own", rec.Code, page.Items)
	}
	bad := []struct{ body, field string }{
		{`{"name":"x","fields":["firstName"],"consentText":"ok","consentVersion":"v1"}`, "fields"},
		{`{"name":"x","fields":["email","password"],"consentText":"ok","consentVersion":"v1"}`, "fields[1]"},
		{`{"name":"x","fields":["email","email"],"consentText":"ok","consentVersion":"v1"}`, "fields[1]"},
		{`{"name":"x","fields":["email"],"consentText":"","consentVersion":"v1"}`, "consentText"},
		{`{"name":"x","fields":["email"],"consentText":"ok","consentVersion":"v 1"}`, "consentVersion"},
		{`{"name":"","fields":["email"],"consentText":"ok","consentVersion":"v1"}`, "name"},
		{`{"name":"x","fields":["email"],"consentText":"ok","consentVersion":"v1","owner":"me"}`, "owner"},
	}
	for _, tc := range bad {
		rec := w.Do(t, "POST", "/v1/forms", owner, tc.body)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"`+tc.field+`"`) {
			t.Errorf("POST %s = %d %s, want 422 on %s", tc.body, rec.Code, rec.Body, tc.field)
		}
	}
}

func TestING03_PublicSubmissionsAreRateLimitedPerAddress(t *testing.T) {
	w := stacktest.New(t) // the stack's default public rate
	f := createForm(t, w, "acme")
	submit := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/forms/"+f.ID+"/submissions", strings.NewReader(`{"email":"a@example.com","consent":true}`))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = addr + ":4444"
		rec := httptest.NewRecorder()
		w.Stack.API.ServeHTTP(rec, r)
		return rec
	}
	var last *httptest.ResponseRecorder
	accepted := 0
	for i := 0; i < 50; i++ {
		if last = submit("203.0.113.9"); last.Code != http.StatusAccepted {
			break
		}
		accepted++
	}
	retry, _ := strconv.Atoi(last.Header().Get("Retry-After"))
	if last.Code != http.StatusTooManyRequests || retry < 1 || accepted == 0 || accepted >= 50 {
		t.Fatalf("after %d accepted: %d with Retry-After %q, want 429 with a wait", accepted, last.Code, last.Header().Get("Retry-After"))
	}
	if rec := submit("203.0.113.10"); rec.Code != http.StatusAccepted {
		t.Errorf("another address = %d, want 202: the limit is per address", rec.Code)
	}
	w.Clock.Advance(time.Duration(retry) * time.Second)
	if rec := submit("203.0.113.9"); rec.Code != http.StatusAccepted {
		t.Errorf("after Retry-After = %d, want 202", rec.Code)
	}
}
