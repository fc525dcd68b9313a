package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/poller"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/tenant"
)

type submitResult struct {
	Accepted int `json:"accepted"`
	Rejected []struct {
		Index  int `json:"index"`
		Errors []struct{ Field, Reason string }
	} `json:"rejected"`
}

func TestING01_BatchIsValidatedPerRecordAndQueuedBefore202(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	body := `{"contacts":[
		{"email":"Ada@Example.com","firstName":"  Ada ","lastName":"Lovelace","consent":{"email":"granted"}},
		{"email":"not-an-email"},
		{"phone":"(415) 555-2671","country":"us"},
		{"firstName":"nobody"},
		{"email":"grace@example.com","timeZone":"Mars/Olympus"},
		{"email":"linus@example.com","shoeSize":44}
	]}`
	rec := w.Do(t, "POST", "/v1/contacts", tok, body)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status = %d %s, want 202", rec.Code, rec.Body)
	}
	res := stacktest.Decode[submitResult](t, rec)
	if res.Accepted != 2 || len(res.Rejected) != 4 {
		t.Fatalf("result = %+v, want 2 accepted, 4 rejected", res)
	}
	wantFields := map[int]string{1: "email", 3: "email", 4: "timeZone", 5: "shoeSize"}
	for _, rj := range res.Rejected {
		if len(rj.Errors) == 0 || rj.Errors[0].Field != wantFields[rj.Index] || rj.Errors[0].Reason == "" {
			t.Errorf("rejection %d = %+v, want field %q with a reason", rj.Index, rj.Errors, wantFields[rj.Index])
		}
		if strings.Contains(rec.Body.String(), "not-an-email") {
			t.Error("the answer echoes a rejected value")
		}
	}
	// Durably queued: the messages are there before any consumer ran.
	if n := w.Drain(t, ingest.Queue); n != 2 {
		t.Errorf("queued messages = %d, want 2", n)
	}
	got := w.Contacts(t, "acme")
	if len(got) != 2 {
		t.Fatalf("contacts = %d, want 2", len(got))
	}
	emails := map[string]contact.Contact{}
	for _, c := range got {
		emails[c.Email+c.Phone] = c
	}
	if c := emails["ada@example.com"]; c.FirstName != "Ada" || c.Consent.Email != contact.Granted || c.Consent.Call != contact.Unknown {
		t.Errorf("ada = %+v, want normalized name and consent", c)
	}
	if _, ok := emails["+14155552671"]; !ok {
		t.Errorf("phone not normalized to E.164: %+v", got)
	}
}

func TestING01_LimitsAndBadBodies(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	many := `{"contacts":[` + strings.TrimSuffix(strings.Repeat(`{"email":"a@example.com"},`, 501), ",") + `]}`
	cases := []struct {
		name, body, ctype string
		status            int
	}{
		{"501 contacts", many, "application/json", 422},
		{"empty batch", `{"contacts":[]}`, "application/json", 422},
		{"single invalid", `{"email":"nope"}`, "application/json", 422},
		{"not json", `{"email":`, "application/json", 400},
		{"not an object", `[1,2]`, "application/json", 422},
		{"text body", `{"email":"a@example.com"}`, "text/plain", 415},
		{"single valid", `{"email":"a@example.com"}`, "application/json", 202},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := w.Do(t, "POST", "/v1/contacts", tok, tc.body, "Content-Type", tc.ctype)
			if rec.Code != tc.status {
				t.Fatalf("status = %d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("error content type = %q", rec.Header().Get("Content-Type"))
			}
		})
	}
	if n := w.Drain(t, ingest.Queue); n != 1 {
		t.Errorf("queued = %d, want only the valid single contact", n)
	}
}

func TestING01_IdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	body := `{"contacts":[{"email":"a@example.com"},{"email":"bad"}]}`
	first := w.Do(t, "POST", "/v1/contacts", tok, body, "Idempotency-Key", "k-1")
	again := w.Do(t, "POST", "/v1/contacts", tok, body, "Idempotency-Key", "k-1")
	if first.Code != 202 || again.Code != 202 || first.Body.String() != again.Body.String() {
		t.Fatalf("replay = %d %s, want the first answer %d %s", again.Code, again.Body, first.Code, first.Body)
	}
	if n := w.Drain(t, ingest.Queue); n != 1 {
		t.Errorf("queued = %d, want 1: a replay queues nothing", n)
	}
	other := w.Do(t, "POST", "/v1/contacts", tok, `{"email":"b@example.com"}`, "Idempotency-Key", "k-1")
	if other.Code != http.StatusConflict {
		t.Errorf("same key, other body = %d, want 409", other.Code)
	}
	w.Clock.Advance(24*time.Hour + time.Second)
	tok = w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	later := w.Do(t, "POST", "/v1/contacts", tok, body, "Idempotency-Key", "k-1")
	if later.Code != 202 || w.Drain(t, ingest.Queue) != 1 {
		t.Errorf("after 24h the key is forgotten: status %d", later.Code)
	}
}

// deliverTwice runs one batch through the consumer twice, as an at-least-
// once queue may.
func TestING05_RedeliveryChangesNothing(t *testing.T) {
	w := stacktest.New(t)
	ctx := tenant.With(context.Background(), "acme")
	p := &ingest.Producer{Queue: w.Stack.Queues, Keys: w.Stack.Keys}
	c := contact.Contact{Email: "ada@example.com", LastName: "Lovelace", Consent: contact.Consent{Email: "granted", Call: "unknown"}}
	if err := p.Send(ctx, []ingest.Submission{{Contact: c, Via: "api", Actor: "u1"}}); err != nil {
		t.Fatal(err)
	}
	ds, err := w.Stack.Queues.Receive(ctx, ingest.Queue, 10, time.Second)
	if err != nil || len(ds) != 1 {
		t.Fatalf("receive = %d, %v", len(ds), err)
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: ds[0].ID, Body: string(ds[0].Body)}}}
	for i := 0; i < 3; i++ {
		res, err := w.Stack.Ingest.HandleSQS(context.Background(), ev)
		if err != nil || len(res.BatchItemFailures) != 0 {
			t.Fatalf("delivery %d: %+v %v", i, res, err)
		}
	}
	if got := w.Contacts(t, "acme"); len(got) != 1 {
		t.Errorf("contacts = %d, want 1", len(got))
	}
	if got := w.Audited(t, "acme", "contact.created"); len(got) != 1 {
		t.Errorf("contact.created entries = %d, want 1", len(got))
	}
}

func TestING05_PoisonMessageGoesToDeadLetterWithReason(t *testing.T) {
	w := stacktest.New(t)
	ctx := tenant.With(context.Background(), "acme")
	p := &ingest.Producer{Queue: w.Stack.Queues, Keys: w.Stack.Keys}
	good := []ingest.Submission{
		{Contact: contact.Contact{Email: "a@example.com"}, Via: "api"},
		{Contact: contact.Contact{Email: "b@example.com"}, Via: "api"},
	}
	if err := p.Send(ctx, good[:1]); err != nil {
		t.Fatal(err)
	}
	poison := []queue.Message{
		{Body: []byte(`{"v":1,"org":"acme","sealed":"AAAA"}`)},   // cannot be opened
		{Body: []byte(`not json`)},                               // not a message
		{Body: []byte(`{"v":1,"org":"../etc","sealed":"AAAA"}`)}, // no valid tenant
	}
	if _, err := w.Stack.Queues.Send(ctx, ingest.Queue, poison, 0); err != nil {
		t.Fatal(err)
	}
	// A submission that was valid when queued but is not now (a rule changed).
	if err := p.Send(ctx, []ingest.Submission{{Contact: contact.Contact{Email: "broken"}, Via: "api"}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(ctx, good[1:]); err != nil {
		t.Fatal(err)
	}
	w.Drain(t, ingest.Queue)
	got := w.Contacts(t, "acme")
	if len(got) != 2 {
		t.Errorf("contacts = %d, want the 2 good neighbours", len(got))
	}
	dead, err := w.Stack.Queues.Receive(ctx, ingest.DeadLetterQueue, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 4 {
		t.Fatalf("dead letters = %d, want 4", len(dead))
	}
	for _, d := range dead {
		if d.Attributes["reason"] == "" {
			t.Errorf("dead letter %s has no reason", d.Body)
		}
		if strings.Contains(d.Attributes["reason"], "broken") {
			t.Errorf("reason echoes personal data: %q", d.Attributes["reason"])
		}
	}
	if n := w.Drain(t, ingest.Queue); n != 0 {
		t.Errorf("%d messages came back after dead-lettering", n)
	}
}

// flaky fails every upsert of one e-mail address, as a store outage for
// one item would.
type flaky struct {
	ingest.Contacts
	bad string
}

func (f flaky) Upsert(ctx context.Context, c contact.Contact, actor string, d map[string]string) (string, contact.Outcome, error) {
	if c.Email == f.bad {
		return "", "", errors.New("store unavailable")
	}
	return f.Contacts.Upsert(ctx, c, actor, d)
}

func TestING05_RepeatedFailureEndsInDeadLetterAndNeighboursAreStoredOnce(t *testing.T) {
	w := stacktest.New(t)
	ctx := tenant.With(context.Background(), "acme")
	consumer := *w.Stack.Ingest
	consumer.Contacts = flaky{Contacts: w.Stack.Contacts, bad: "fails@example.com"}
	pl := &poller.Poller{Queue: w.Stack.Queues, Name: ingest.Queue, Handler: consumer.HandleSQS}
	p := &ingest.Producer{Queue: w.Stack.Queues, Keys: w.Stack.Keys}
	var subs []ingest.Submission
	for _, e := range []string{"a@example.com", "fails@example.com", "b@example.com"} {
		subs = append(subs, ingest.Submission{Contact: contact.Contact{Email: e}, Via: "api"})
	}
	if err := p.Send(ctx, subs); err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= ingest.MaxReceives; i++ {
		if _, err := pl.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		w.Clock.Advance(time.Minute + time.Second) // the failed one becomes visible again
	}
	if got := w.Contacts(t, "acme"); len(got) != 2 {
		t.Errorf("contacts = %d, want the 2 neighbours", len(got))
	}
	if got := w.Audited(t, "acme", "contact.created"); len(got) != 2 {
		t.Errorf("contact.created = %d, want each neighbour once", len(got))
	}
	dead, _ := w.Stack.Queues.Receive(ctx, ingest.DeadLetterQueue, 10, time.Minute)
	if len(dead) != 1 {
		t.Errorf("dead letters = %d, want the failing message", len(dead))
	}
}

func TestING04_ErasedSubjectIsNotResurrected(t *testing.T) {
	w := stacktest.New(t)
	ctx := tenant.With(context.Background(), "acme")
	if err := w.Stack.Contacts.Suppress(ctx, contact.Contact{Email: "gone@example.com", Phone: "+14155552671"}); err != nil {
		t.Fatal(err)
	}
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	w.Do(t, "POST", "/v1/contacts", tok, `{"contacts":[{"email":"Gone@Example.com"},{"phone":"+1 415 555 2671"},{"email":"kept@example.com"}]}`)
	w.Drain(t, ingest.Queue)
	got := w.Contacts(t, "acme")
	if len(got) != 1 || got[0].Email != "kept@example.com" {
		t.Errorf("contacts = %+v, want only kept@example.com", got)
	}
}

func TestRET09_ResyncSkipsWhatItHasAndNeverDuplicates(t *testing.T) {
	w := stacktest.New(t)
	ctx := tenant.With(context.Background(), "acme")
	c := contact.Contact{Email: "a@example.com", Source: "hubspot", SourceID: "123", Title: "CTO"}
	c, _ = contact.Normalize(c, "")
	id, out, err := w.Stack.Contacts.Upsert(ctx, c, "sync", nil)
	if err != nil || out != contact.Created {
		t.Fatalf("first = %s %v", out, err)
	}
	if _, out, _ := w.Stack.Contacts.Upsert(ctx, c, "sync", nil); out != contact.Duplicate {
		t.Errorf("same content again = %s, want duplicate", out)
	}
	c.Title = "CEO"
	id2, out, _ := w.Stack.Contacts.Upsert(ctx, c, "sync", nil)
	if out != contact.Updated || id2 != id {
		t.Errorf("changed content = %s on %s, want updated on %s", out, id2, id)
	}
	if got := w.Contacts(t, "acme"); len(got) != 1 || got[0].Title != "CEO" {
		t.Errorf("contacts = %+v, want one, with the new title", got)
	}
}

func TestENC02_NoPlaintextPIIInTheDataFolder(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	pii := []string{"zelda.quixote@example.com", "+14155550123", "Quixotezelda"}
	body := `{"email":"` + pii[0] + `","phone":"` + pii[1] + `","lastName":"` + pii[2] + `"}`
	if rec := w.Do(t, "POST", "/v1/contacts", tok, body); rec.Code != 202 {
		t.Fatalf("submit = %d %s", rec.Code, rec.Body)
	}
	scan := func(stage string) {
		t.Helper()
		filepath.WalkDir(w.Data, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			raw, _ := os.ReadFile(path)
			for _, s := range pii {
				if bytes.Contains(raw, []byte(s)) || bytes.Contains(raw, []byte(strings.TrimPrefix(s, "+"))) {
					t.Errorf("%s: %s holds %q in the clear", stage, filepath.Base(path), s)
				}
			}
			return nil
		})
	}
	scan("queued")
	w.Drain(t, ingest.Queue)
	if got := w.Contacts(t, "acme"); len(got) != 1 || got[0].Email != pii[0] {
		t.Fatalf("contacts = %+v", got)
	}
	scan("stored")
}

func TestENC03_FindByEmailThroughTheBlindIndex(t *testing.T) {
	w := stacktest.New(t)
	admin := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	w.Do(t, "POST", "/v1/contacts", admin, `{"contacts":[{"email":"ada@example.com"},{"email":"bob@example.com","phone":"+14155552671"}]}`)
	w.Drain(t, ingest.Queue)
	rec := w.Do(t, "GET", "/v1/contacts?email=ADA@example.com", admin, "")
	page := stacktest.Decode[struct{ Items []contact.Contact }](t, rec)
	if rec.Code != 200 || len(page.Items) != 1 || page.Items[0].Email != "ada@example.com" {
		t.Errorf("find by email = %d %+v", rec.Code, page.Items)
	}
	rec = w.Do(t, "GET", "/v1/contacts?phone=%2B1%20415%20555%202671", admin, "")
	page = stacktest.Decode[struct{ Items []contact.Contact }](t, rec)
	if len(page.Items) != 1 || page.Items[0].Email != "bob@example.com" {
		t.Errorf("find by phone = %+v", page.Items)
	}
	other := w.Token(t, "globex", auth.Principal{Role: auth.Admin})
	rec = w.Do(t, "GET", "/v1/contacts?email=ada@example.com", other, "")
	if page = stacktest.Decode[struct{ Items []contact.Contact }](t, rec); len(page.Items) != 0 {
		t.Errorf("another tenant finds %+v", page.Items)
	}
}

func TestACC03_ForeignContactIDAnswers404AndIsAudited(t *testing.T) {
	w := stacktest.New(t)
	acme := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	globex := w.Token(t, "globex", auth.Principal{Role: auth.Owner})
	w.Do(t, "POST", "/v1/contacts", acme, `{"email":"ada@example.com"}`)
	w.Drain(t, ingest.Queue)
	id := w.Contacts(t, "acme")[0].ID
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		body := ""
		if m == "PATCH" {
			body = `{"title":"x"}`
		}
		rec := w.Do(t, m, "/v1/contacts/"+id, globex, body)
		if rec.Code != 404 || strings.Contains(rec.Body.String(), "ada") {
			t.Errorf("%s foreign contact = %d %s, want a bare 404", m, rec.Code, rec.Body)
		}
	}
	if rec := w.Do(t, "GET", "/v1/contacts/"+id, acme, ""); rec.Code != 200 {
		t.Errorf("own contact = %d, want 200 (untouched by the foreign DELETE)", rec.Code)
	}
	if got := w.Audited(t, "globex", audit.CrossTenantAccess); len(got) != 3 {
		t.Errorf("cross-tenant entries in the caller's log = %d, want 3", len(got))
	}
	if got := w.Audited(t, string(tenant.Platform), audit.CrossTenantAccess); len(got) != 3 {
		t.Errorf("cross-tenant entries in the platform log = %d, want 3", len(got))
	}
	if rec := w.Do(t, "GET", "/v1/contacts/not-an-id", acme, ""); rec.Code != 404 {
		t.Errorf("malformed id = %d, want 404", rec.Code)
	}
}

func TestACC02_RepsAndManagersSeeOnlyTheirScope(t *testing.T) {
	w := stacktest.New(t)
	rep1 := w.Token(t, "acme", auth.Principal{Role: auth.Rep, Sub: "rep1"})
	rep2 := w.Token(t, "acme", auth.Principal{Role: auth.Rep, Sub: "rep2"})
	north := w.Token(t, "acme", auth.Principal{Role: auth.Manager, Sub: "m1", Branch: "north"})
	admin := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	w.Do(t, "POST", "/v1/contacts", rep1, `{"email":"one@example.com"}`)
	w.Do(t, "POST", "/v1/contacts", rep2, `{"email":"two@example.com","branch":"north"}`)
	w.Do(t, "POST", "/v1/contacts", admin, `{"email":"three@example.com","branch":"south"}`)
	if rec := w.Do(t, "POST", "/v1/contacts", rep1, `{"email":"x@example.com","ownerId":"rep2"}`); rec.Code != 422 {
		t.Errorf("rep creating for another owner = %d, want 422", rec.Code)
	}
	w.Drain(t, ingest.Queue)
	list := func(tok string) []string {
		rec := w.Do(t, "GET", "/v1/contacts", tok, "")
		var out []string
		for _, c := range stacktest.Decode[struct{ Items []contact.Contact }](t, rec).Items {
			out = append(out, c.Email)
		}
		return out
	}
	cases := []struct {
		who  string
		tok  string
		want string
	}{
		{"rep1", rep1, "one@example.com"},
		{"rep2", rep2, "two@example.com"},
		{"north manager", north, "two@example.com"},
		{"admin", admin, "one@example.com three@example.com two@example.com"},
	}
	for _, tc := range cases {
		got := list(tc.tok)
		sortStrings(got)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s sees %v, want %s", tc.who, got, tc.want)
		}
	}
	// A rep reading a colleague's contact by ID gets 404, not 403.
	var twoID string
	for _, c := range w.Contacts(t, "acme") {
		if c.Email == "two@example.com" {
			twoID = c.ID
		}
	}
	if rec := w.Do(t, "GET", "/v1/contacts/"+twoID, rep1, ""); rec.Code != 404 {
		t.Errorf("rep1 reading rep2's contact = %d, want 404", rec.Code)
	}
}

func TestAUD01_ContactReadsAndChangesAreAudited(t *testing.T) {
	w := stacktest.New(t)
	admin := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	w.Do(t, "POST", "/v1/contacts", admin, `{"email":"ada@example.com","lastName":"Lovelace"}`)
	w.Drain(t, ingest.Queue)
	id := w.Contacts(t, "acme")[0].ID
	w.Do(t, "GET", "/v1/contacts/"+id, admin, "")
	rec := w.Do(t, "PATCH", "/v1/contacts/"+id, admin, `{"lastName":"Byron","timeZone":"Europe/London"}`)
	if rec.Code != 200 || stacktest.Decode[contact.Contact](t, rec).LastName != "Byron" {
		t.Fatalf("rectify = %d %s", rec.Code, rec.Body)
	}
	if rec := w.Do(t, "PATCH", "/v1/contacts/"+id, admin, `{"id":"c_x","email":"bad"}`); rec.Code != 422 {
		t.Errorf("rectify with read-only field = %d, want 422", rec.Code)
	}
	if rec := w.Do(t, "DELETE", "/v1/contacts/"+id, admin, ""); rec.Code != 204 {
		t.Errorf("delete = %d", rec.Code)
	}
	for _, typ := range []string{"contacts.submitted", "contact.created", "contact.read", "contact.rectified", "contact.deleted"} {
		es := w.Audited(t, "acme", typ)
		if len(es) != 1 {
			t.Errorf("%s entries = %d, want 1", typ, len(es))
			continue
		}
		raw, _ := json.Marshal(es[0])
		if bytes.Contains(raw, []byte("Lovelace")) || bytes.Contains(raw, []byte("Byron")) || bytes.Contains(raw, []byte("ada@")) {
			t.Errorf("%s entry holds personal data: %s", typ, raw)
		}
	}
	if rec := w.Do(t, "GET", "/v1/contacts/"+id, admin, ""); rec.Code != 404 {
		t.Errorf("deleted contact = %d, want 404", rec.Code)
	}
}

func TestRET01_IngressQueueForgetsWithin24h(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	w.Do(t, "POST", "/v1/contacts", tok, `{"email":"late@example.com"}`)
	ctx := tenant.With(context.Background(), "acme")
	if _, err := w.Stack.Queues.Send(ctx, ingest.DeadLetterQueue, []queue.Message{{Body: []byte("x")}}, 0); err != nil {
		t.Fatal(err)
	}
	w.Clock.Advance(ingest.Retention + time.Second)
	for _, q := range []string{ingest.Queue, ingest.DeadLetterQueue} {
		ds, err := w.Stack.Queues.Receive(ctx, q, 10, 0)
		if err != nil || len(ds) != 0 {
			t.Errorf("%s after 24h: %d messages (%v), want none", q, len(ds), err)
		}
	}
	if got := w.Contacts(t, "acme"); len(got) != 0 {
		t.Errorf("contacts = %d, want 0", len(got))
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
