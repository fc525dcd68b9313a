package subject_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/subject"
	"github.com/alto/alto/shared/tenant"
)

const (
	ada = "ada@example.com"
	bob = "bob@example.com"
)

// seed submits contacts of org through the API and ingests them.
func seed(t *testing.T, w *stacktest.World, org string, contacts ...string) {
	t.Helper()
	tok := w.Token(t, org, auth.Principal{Role: auth.Owner})
	rec := w.Do(t, "POST", "/v1/contacts", tok, `{"contacts":[`+strings.Join(contacts, ",")+`]}`)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST /v1/contacts = %d %s", rec.Code, rec.Body)
	}
	w.Drain(t, ingest.Queue)
}

// contactJSON is a contact with consent to e-mail.
func contactJSON(email, first string) string {
	return `{"email":"` + email + `","firstName":"` + first + `","company":"Acme","consent":{"email":"granted","basis":"consent"}}`
}

// request posts a subject request and returns the response.
func request(t *testing.T, w *stacktest.World, org, body string) (int, subject.Request, string) {
	t.Helper()
	rec := w.Do(t, "POST", "/v1/subject-requests", w.Token(t, org, auth.Principal{Role: auth.Owner}), body)
	var r subject.Request
	if rec.Code == http.StatusAccepted {
		r = stacktest.Decode[subject.Request](t, rec)
	}
	return rec.Code, r, rec.Body.String()
}

// get reads request id of org through the API.
func get(t *testing.T, w *stacktest.World, org, path string) subject.Request {
	t.Helper()
	rec := w.Do(t, "GET", path, w.Token(t, org, auth.Principal{Role: auth.Admin}), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
	}
	return stacktest.Decode[subject.Request](t, rec)
}

// find returns the contact of org with email.
func find(t *testing.T, w *stacktest.World, org, email string) contact.Contact {
	t.Helper()
	cs, err := w.Stack.Contacts.Find(stacktest.Ctx(org), auth.Scope{All: true}, contact.KindEmail, email)
	if err != nil || len(cs) != 1 {
		t.Fatalf("find %s: %v %v", email, cs, err)
	}
	return cs[0]
}

// raw returns every stored item of the request partitions of org and of
// the platform's indexes, as one byte string.
func raw(t *testing.T, w *stacktest.World, org string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, q := range []struct {
		ctx context.Context
		pk  string
	}{{stacktest.Ctx(org), "DSR"}, {stacktest.Ctx(org), "EXPORT"}, {tenant.WithPlatform(context.Background()), "DSRDUE"}} {
		page, err := w.Stack.Store.Query(q.ctx, store.Query{PK: q.pk, Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			b.WriteString(it.SK)
			b.Write(it.Data)
		}
	}
	return b.Bytes()
}

// TestDSR01_EveryKind files one request of each kind about Ada and checks
// its due date, its status history, what it did and its audit entries.
func TestDSR01_EveryKind(t *testing.T) {
	tests := []struct {
		kind       string
		extra      string
		wantStatus string // right after the request
		finalize   func(t *testing.T, w *stacktest.World, r subject.Request)
		check      func(t *testing.T, w *stacktest.World, r subject.Request)
	}{
		{kind: subject.Access, wantStatus: subject.Received,
			finalize: func(t *testing.T, w *stacktest.World, _ subject.Request) { w.Drain(t, jobs.Queue) },
			check: func(t *testing.T, w *stacktest.World, r subject.Request) {
				if r.Download == nil || r.Result == nil || r.Result.Contacts != 1 {
					t.Errorf("access request = %+v, want one contact and a download", r)
				}
			}},
		{kind: subject.Portability, wantStatus: subject.Received,
			finalize: func(t *testing.T, w *stacktest.World, _ subject.Request) { w.Drain(t, jobs.Queue) },
			check: func(t *testing.T, w *stacktest.World, r subject.Request) {
				if r.Download == nil {
					t.Errorf("portability request = %+v, want a download", r)
				}
			}},
		{kind: subject.Rectification, extra: `,"changes":{"firstName":"Adele","company":"Analytical Engines"}`, wantStatus: subject.Done,
			check: func(t *testing.T, w *stacktest.World, r subject.Request) {
				c := find(t, w, "acme", ada)
				if c.FirstName != "Adele" || c.Company != "Analytical Engines" {
					t.Errorf("rectified contact = %+v, want Adele of Analytical Engines", c)
				}
				es := w.Audited(t, "acme", "contact.rectified")
				if len(es) != 1 || es[0].Target != c.ID || es[0].Detail["before"] == "" || es[0].Detail["before"] == es[0].Detail["after"] {
					t.Errorf("contact.rectified entries = %+v, want one with differing before/after digests", es)
				}
			}},
		{kind: subject.Erasure, wantStatus: subject.Received,
			finalize: func(t *testing.T, w *stacktest.World, r subject.Request) {
				// What the purge capability does.
				ctx := stacktest.Ctx("acme")
				ref, err := w.Stack.Subjects.OpenSubject(ctx, r.ID)
				if err != nil || ref.Email != ada {
					t.Fatalf("OpenSubject = %+v, %v; want Ada's e-mail", ref, err)
				}
				for _, st := range []string{subject.Running, subject.Done} {
					if _, err := w.Stack.Subjects.Advance(ctx, r.ID, st, &subject.Result{Contacts: 1}, ""); err != nil {
						t.Fatalf("Advance to %s: %v", st, err)
					}
				}
				if _, err := w.Stack.Subjects.Advance(ctx, r.ID, subject.Running, nil, ""); err == nil {
					t.Error("Advance from done to running succeeded, want ErrTransition")
				}
			}},
		{kind: subject.Restriction, wantStatus: subject.Done,
			check: func(t *testing.T, w *stacktest.World, r subject.Request) {
				if c := find(t, w, "acme", ada); !c.Restricted {
					t.Errorf("contact after restriction = %+v, want restricted", c)
				}
				if es := w.Audited(t, "acme", "contact.restricted"); len(es) != 1 || es[0].Detail["request"] != r.ID {
					t.Errorf("contact.restricted entries = %+v, want one naming the request", es)
				}
			}},
		{kind: subject.Objection, wantStatus: subject.Done,
			check: func(t *testing.T, w *stacktest.World, r subject.Request) {
				if c := find(t, w, "acme", ada); !c.Objected {
					t.Errorf("contact after objection = %+v, want objected", c)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			w := stacktest.New(t)
			seed(t, w, "acme", contactJSON(ada, "Ada"), contactJSON(bob, "Bob"))
			created := w.Clock.Now()
			code, r, body := request(t, w, "acme", `{"type":"`+tc.kind+`","subject":{"email":"ADA@example.com"}`+tc.extra+`}`)
			if code != http.StatusAccepted {
				t.Fatalf("POST = %d %s, want 202", code, body)
			}
			if r.ID == "" || r.Status != tc.wantStatus || !r.DueAt.Equal(created.Add(7*24*time.Hour)) {
				t.Errorf("answer = %+v, want status %s due 7 days after %v", r, tc.wantStatus, created)
			}
			w.Clock.Advance(time.Minute)
			if tc.finalize != nil {
				tc.finalize(t, w, r)
			}
			got := get(t, w, "acme", "/v1/subject-requests/"+r.ID)
			if got.Status != subject.Done {
				t.Errorf("status = %s, want done", got.Status)
			}
			if first, last := got.History[0], got.History[len(got.History)-1]; first.Status != subject.Received ||
				!first.At.Equal(created) || last.Status != subject.Done || last.At.Before(first.At) {
				t.Errorf("history = %+v, want received at creation ... done", got.History)
			}
			if tc.check != nil {
				tc.check(t, w, got)
			}
			c := find(t, w, "acme", ada)
			if len(got.ContactIDs) != 1 || got.ContactIDs[0] != c.ID {
				t.Errorf("contactIds = %v, want Ada's %s", got.ContactIDs, c.ID)
			}
			es := w.Audited(t, "acme", "subject_request.")
			if len(es) < 2 || es[0].Type != "subject_request.created" || es[0].Target != r.ID || es[0].Detail["type"] != tc.kind ||
				es[len(es)-1].Type != "subject_request.done" {
				t.Errorf("audit = %+v, want created ... done for %s", es, r.ID)
			}
			// No plaintext subject in the audit log or the stored request.
			all := w.Audited(t, "acme", "")
			b, _ := json.Marshal(all)
			if stored := raw(t, w, "acme"); bytes.Contains(bytes.ToLower(stored), []byte(ada)) || bytes.Contains(b, []byte(ada)) {
				t.Errorf("the subject's e-mail is stored or audited in plaintext")
			}
		})
	}
}

// TestDSR01_DueDateNeverBeyondTheLegalCap checks the default of 7 days, a
// shorter setting, and a setting past 30 days that is capped.
func TestDSR01_DueDateNeverBeyondTheLegalCap(t *testing.T) {
	tests := []struct {
		name  string
		dueIn time.Duration
		want  time.Duration
	}{
		{"default", 0, 7 * 24 * time.Hour},
		{"shorter", 3 * 24 * time.Hour, 3 * 24 * time.Hour},
		{"capped", 45 * 24 * time.Hour, 30 * 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := stacktest.New(t)
			w.Stack.Subjects.DueIn = tc.dueIn
			_, r, body := request(t, w, "acme", `{"type":"erasure","subject":{"phone":"+14155552671"}}`)
			if got := r.DueAt.Sub(r.CreatedAt); got != tc.want {
				t.Errorf("dueAt - createdAt = %v (%s), want %v", got, body, tc.want)
			}
		})
	}
}

// TestDSR01_UnknownSubjectCompletesWithAnEmptyResult: a subject nobody
// holds gives the same answer shape as one that exists, and the request
// completes with nothing found.
func TestDSR01_UnknownSubjectCompletesWithAnEmptyResult(t *testing.T) {
	w := stacktest.New(t)
	seed(t, w, "acme", contactJSON(ada, "Ada"))
	for _, kind := range []string{subject.Access, subject.Restriction, subject.Objection} {
		t.Run(kind, func(t *testing.T) {
			code, r, body := request(t, w, "acme", `{"type":"`+kind+`","subject":{"email":"nobody@example.com"}}`)
			if code != http.StatusAccepted {
				t.Fatalf("POST = %d %s, want 202", code, body)
			}
			w.Drain(t, jobs.Queue)
			got := get(t, w, "acme", "/v1/subject-requests/"+r.ID)
			if got.Status != subject.Done || got.Result == nil || got.Result.Contacts != 0 || got.Result.Changed != 0 {
				t.Errorf("request = %+v, want done with no contact", got)
			}
		})
	}
	if c := find(t, w, "acme", ada); c.Restricted || c.Objected {
		t.Errorf("Ada was flagged by requests about someone else: %+v", c)
	}
}

// TestDSR01_InvalidRequestsAre422AndWriteNothing covers the field errors.
func TestDSR01_InvalidRequestsAre422AndWriteNothing(t *testing.T) {
	w := stacktest.New(t)
	seed(t, w, "acme", contactJSON(ada, "Ada"))
	tests := []struct{ name, body, field string }{
		{"unknown type", `{"type":"deletion","subject":{"email":"ada@example.com"}}`, "type"},
		{"no subject", `{"type":"access","subject":{}}`, "subject"},
		{"two identifiers", `{"type":"access","subject":{"email":"ada@example.com","phone":"+14155552671"}}`, "subject"},
		{"bad e-mail", `{"type":"access","subject":{"email":"not-an-address"}}`, "subject.email"},
		{"bad phone", `{"type":"access","subject":{"phone":"12"}}`, "subject.phone"},
		{"garbage key", `{"type":"access","subject":{"email":"ada@example.com"},"recipientKey":"ssh-ed25519 AAAA"}`, "recipientKey"},
		{"key on restriction", `{"type":"restriction","subject":{"email":"ada@example.com"},"recipientKey":"age1x"}`, "recipientKey"},
		{"rectification without changes", `{"type":"rectification","subject":{"email":"ada@example.com"}}`, "changes"},
		{"changes on access", `{"type":"access","subject":{"email":"ada@example.com"},"changes":{"firstName":"X"}}`, "changes"},
		{"invalid change", `{"type":"rectification","subject":{"email":"ada@example.com"},"changes":{"email":"nope"}}`, "changes.email"},
		{"unchangeable field", `{"type":"rectification","subject":{"email":"ada@example.com"},"changes":{"id":"x"}}`, "changes.id"},
		{"unknown field", `{"type":"access","subject":{"email":"ada@example.com"},"why":"x"}`, "why"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := request(t, w, "acme", tc.body)
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("POST = %d %s, want 422", code, body)
			}
			var p struct {
				Errors []struct{ Field, Reason string }
			}
			json.Unmarshal([]byte(body), &p)
			found := false
			for _, e := range p.Errors {
				found = found || (e.Field == tc.field && e.Reason != "")
			}
			if !found {
				t.Errorf("errors = %+v, want one for %s", p.Errors, tc.field)
			}
			if strings.Contains(body, "ada@example.com") || strings.Contains(body, "not-an-address") {
				t.Errorf("the problem echoes the input: %s", body)
			}
		})
	}
	if got := raw(t, w, "acme"); len(got) != 0 {
		t.Errorf("invalid requests stored something: %s", got)
	}
	if es := w.Audited(t, "acme", "subject_request."); len(es) != 0 {
		t.Errorf("invalid requests were audited as created: %+v", es)
	}
	if c := find(t, w, "acme", ada); c.FirstName != "Ada" {
		t.Errorf("contact changed by refused requests: %+v", c)
	}
}

// TestDSR01_OnlyOwnersAndAdmins: other roles get 403.
func TestDSR01_OnlyOwnersAndAdmins(t *testing.T) {
	w := stacktest.New(t)
	for _, role := range []auth.Role{auth.Manager, auth.Rep, auth.Security} {
		for _, rt := range []struct{ method, path, body string }{
			{"POST", "/v1/subject-requests", `{"type":"access","subject":{"email":"ada@example.com"}}`},
			{"GET", "/v1/subject-requests", ""},
			{"POST", "/v1/exports", `{}`},
		} {
			tok := w.Token(t, "acme", auth.Principal{Role: role, Branch: "b1"})
			if rec := w.Do(t, rt.method, rt.path, tok, rt.body); rec.Code != http.StatusForbidden {
				t.Errorf("%s %s as %s = %d, want 403", rt.method, rt.path, role, rec.Code)
			}
		}
	}
}

// TestACC03_AnotherTenantsRequestIs404 reads requests and exports of acme
// as globex, and names acme's contact as globex's subject.
func TestACC03_AnotherTenantsRequestIs404(t *testing.T) {
	w := stacktest.New(t)
	seed(t, w, "acme", contactJSON(ada, "Ada"))
	_, r, _ := request(t, w, "acme", `{"type":"erasure","subject":{"email":"ada@example.com"}}`)
	rec := w.Do(t, "POST", "/v1/exports", w.Token(t, "acme", auth.Principal{Role: auth.Owner}), "")
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST /v1/exports = %d %s", rec.Code, rec.Body)
	}
	exp := stacktest.Decode[subject.Request](t, rec)
	globex := w.Token(t, "globex", auth.Principal{Role: auth.Owner})
	for _, path := range []string{"/v1/subject-requests/" + r.ID, "/v1/exports/" + exp.ID,
		"/v1/subject-requests/" + exp.ID, "/v1/exports/" + r.ID} {
		rec := w.Do(t, "GET", path, globex, "")
		if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), r.ID) {
			t.Errorf("GET %s as globex = %d %s, want a bare 404", path, rec.Code, rec.Body)
		}
	}
	if rec := w.Do(t, "GET", "/v1/subject-requests", globex, ""); strings.Contains(rec.Body.String(), r.ID) {
		t.Errorf("globex's list shows acme's request: %s", rec.Body)
	}
	id := find(t, w, "acme", ada).ID
	code, _, body := request(t, w, "globex", `{"type":"access","subject":{"contactId":"`+id+`"}}`)
	if code != http.StatusNotFound {
		t.Errorf("globex's request about acme's contact = %d %s, want 404", code, body)
	}
	if es := w.Audited(t, string(tenant.Platform), audit.CrossTenantAccess); len(es) != 1 || es[0].Detail["org"] != "globex" {
		t.Errorf("platform cross-tenant entries = %+v, want one by globex", es)
	}
}

// TestDSR01_ListNewestFirstWithCursor pages through requests.
func TestDSR01_ListNewestFirstWithCursor(t *testing.T) {
	w := stacktest.New(t)
	var ids []string
	for i := range 3 {
		w.Clock.Advance(time.Second)
		_, r, body := request(t, w, "acme", `{"type":"erasure","subject":{"email":"p`+string(rune('a'+i))+`@example.com"}}`)
		if r.ID == "" {
			t.Fatalf("POST: %s", body)
		}
		ids = append(ids, r.ID)
	}
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	var got []string
	cursor := ""
	for range 5 {
		rec := w.Do(t, "GET", "/v1/subject-requests?limit=2&cursor="+url.QueryEscape(cursor), tok, "")
		page := stacktest.Decode[struct {
			Items      []subject.Request
			NextCursor string
		}](t, rec)
		for _, r := range page.Items {
			got = append(got, r.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{ids[2], ids[1], ids[0]}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("listed %v, want newest first %v", got, want)
	}
	if rec := w.Do(t, "GET", "/v1/subject-requests?cursor=zzz", tok, ""); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("bad cursor = %d, want 422", rec.Code)
	}
}

// TestAUD01_SubjectRequestsAndExportsAreAudited follows a restriction and a
// workspace export through the audit log: each step has its entry, by the
// right actor, naming identifiers only.
func TestAUD01_SubjectRequestsAndExportsAreAudited(t *testing.T) {
	w := stacktest.New(t)
	seed(t, w, "acme", contactJSON(ada, "Ada"))
	_, r, _ := request(t, w, "acme", `{"type":"restriction","subject":{"email":"ada@example.com"}}`)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	exp := stacktest.Decode[subject.Request](t, w.Do(t, "POST", "/v1/exports", tok, ""))
	w.Drain(t, jobs.Queue)
	link := get(t, w, "acme", "/v1/exports/"+exp.ID).Download.URL
	if status, _ := fetch(t, w, link); status != http.StatusOK {
		t.Fatalf("download = %d", status)
	}
	adaID := find(t, w, "acme", ada).ID
	want := []struct{ typ, actor, target string }{
		{"subject_request.created", "u-owner", r.ID},
		{"contact.restricted", "u-owner", adaID},
		{"subject_request.done", "system", r.ID},
		{"export.requested", "u-admin", exp.ID},
		{"export.running", "system", exp.ID},
		{"export.done", "system", exp.ID},
		{audit.ExportCreated, "u-admin", exp.ID},
		{"export.downloaded", "download-link", exp.ID},
	}
	var got []audit.Entry
	for _, e := range w.Audited(t, "acme", "") {
		if strings.HasPrefix(e.Type, "subject_request.") || strings.HasPrefix(e.Type, "export.") || e.Type == "contact.restricted" {
			got = append(got, e)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("entries = %+v, want %d", got, len(want))
	}
	for i, e := range got {
		if e.Type != want[i].typ || e.Actor != want[i].actor || e.Target != want[i].target {
			t.Errorf("entry %d = %s by %s on %s, want %+v", i, e.Type, e.Actor, e.Target, want[i])
		}
		if b, _ := json.Marshal(e); bytes.Contains(b, []byte("ada@")) {
			t.Errorf("entry %s carries the subject's e-mail", e.Type)
		}
	}
	if res, err := w.Stack.Audit.Verify(stacktest.Ctx("acme")); err != nil || !res.OK {
		t.Errorf("audit chain = %+v, %v; want intact", res, err)
	}
}

// TestMain removes the benchmarks' seeded worlds.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, w := range benchWorlds {
		w.db.Close()
		os.RemoveAll(w.dir)
	}
	os.Exit(code)
}
