package purge_test

import (
	"testing"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/subject"
)

// TestPRG01_ErasureRemovesTheSubjectEverywhereAndForGood is the purge
// issue's first must-show: after an erasure, a subject request for the same
// e-mail finds nothing, and a re-import of that e-mail does not bring the
// subject back.
func TestPRG01_ErasureRemovesTheSubjectEverywhereAndForGood(t *testing.T) {
	w := stacktest.New(t)
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	w.Do(t, "POST", "/v1/contacts", owner, `{"contacts":[
		{"email":"ada@example.com","phone":"+14155552671","firstName":"Ada","consent":{"email":"granted"}},
		{"email":"bob@example.com","firstName":"Bob","consent":{"email":"granted"}}]}`)
	w.Drain(t, ingest.Queue)
	rec := w.Do(t, "POST", "/v1/campaigns", owner, `{"name":"n","channel":"email","template":"Hi {{.FirstName}}",
		"sender":{"name":"Acme","postalAddress":"1 Market St, San Francisco"},"reason":"you asked"}`)
	camp := stacktest.Decode[campaign.Campaign](t, rec)
	w.Do(t, "POST", "/v1/campaigns/"+camp.ID+"/enqueue", owner, `{"all":true}`)
	w.Drain(t, campaign.Queue)

	// Exports made before the erasure: the workspace's and each subject's.
	exp := stacktest.Decode[subject.Request](t, w.Do(t, "POST", "/v1/exports", owner, `{}`))
	adaAccess := stacktest.Decode[subject.Request](t, w.Do(t, "POST", "/v1/subject-requests", owner, `{"type":"access","subject":{"email":"ada@example.com"}}`))
	bobAccess := stacktest.Decode[subject.Request](t, w.Do(t, "POST", "/v1/subject-requests", owner, `{"type":"access","subject":{"email":"bob@example.com"}}`))
	w.Drain(t, jobs.Queue)

	rec = w.Do(t, "POST", "/v1/subject-requests", owner, `{"type":"erasure","subject":{"email":"Ada@Example.com"}}`)
	if rec.Code != 202 {
		t.Fatalf("erasure request = %d %s", rec.Code, rec.Body)
	}
	req := stacktest.Decode[subject.Request](t, rec)
	sweep(t, w)
	sweep(t, w) // again: nothing more happens

	got, err := w.Stack.Subjects.Get(stacktest.Ctx("acme"), req.ID)
	if err != nil || got.Status != subject.Done {
		t.Fatalf("erasure after the sweep = %+v %v, want done", got, err)
	}
	if got.Result == nil || got.Result.Contacts != 1 || got.Result.Changed != 1 || got.Result.Archives != 2 {
		t.Errorf("erasure report = %+v, want one contact and two export archives removed", got.Result)
	}
	// The archives that held Ada are gone; Bob's own export is not hers.
	ctx := stacktest.Ctx("acme")
	for _, tc := range []struct {
		name string
		get  func() (subject.Request, error)
		kept bool
	}{
		{"workspace export", func() (subject.Request, error) { return w.Stack.Subjects.GetExport(ctx, exp.ID) }, false},
		{"Ada's access export", func() (subject.Request, error) { return w.Stack.Subjects.Get(ctx, adaAccess.ID) }, false},
		{"Bob's access export", func() (subject.Request, error) { return w.Stack.Subjects.Get(ctx, bobAccess.ID) }, true},
	} {
		r, err := tc.get()
		if err != nil || r.Status != subject.Done || (r.Download != nil) != tc.kept {
			t.Errorf("%s after the erasure: status %s, download %v, %v; want done, download kept %v", tc.name, r.Status, r.Download, err, tc.kept)
		}
	}
	page, err := w.Stack.Blobs.List(ctx, "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 1 {
		t.Errorf("blobs of acme after the erasure = %d, want only Bob's archive", len(page.Objects))
	}
	if !got.DueAt.After(got.History[len(got.History)-1].At) {
		t.Errorf("erasure finished after its due date %s", got.DueAt)
	}
	for _, c := range w.Contacts(t, "acme") {
		if c.Email == "ada@example.com" {
			t.Fatal("the erased contact is still stored")
		}
	}
	drafts, _, err := w.Stack.Campaigns.Drafts(stacktest.Ctx("acme"), auth.Scope{All: true}, camp.ID, "", 10)
	if err != nil || len(drafts) != 1 {
		t.Errorf("drafts after the erasure = %d %v, want only Bob's", len(drafts), err)
	}

	// A later access request for the same address finds nothing.
	rec = w.Do(t, "POST", "/v1/subject-requests", owner, `{"type":"access","subject":{"email":"ada@example.com"}}`)
	access := stacktest.Decode[subject.Request](t, rec)
	w.Drain(t, jobs.Queue)
	if got, _ := w.Stack.Subjects.Get(stacktest.Ctx("acme"), access.ID); got.Result == nil || got.Result.Contacts != 0 {
		t.Errorf("access after the erasure = %+v, want no contact found", got.Result)
	}

	// Re-submitting the subject, by e-mail or by phone, through the JSON
	// API or in a CSV file, brings nothing back.
	w.Do(t, "POST", "/v1/contacts", owner, `{"contacts":[{"email":"ada@example.com"},{"phone":"+1 415 555 2671"}]}`)
	w.Drain(t, ingest.Queue)
	w.ImportCSV(t, "acme", "email,phone,first_name\nADA@example.com,,Ada\n,+14155552671,Ada\ncy@example.com,,Cy\n")
	emails := map[string]bool{}
	for _, c := range w.Contacts(t, "acme") {
		emails[c.Email] = true
	}
	if len(emails) != 2 || !emails["bob@example.com"] || !emails["cy@example.com"] {
		t.Errorf("contacts after the re-imports = %v, want only Bob and the new Cy", emails)
	}
}
