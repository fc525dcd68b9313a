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
	if got.Result == nil || got.Result.Contacts != 1 || got.Result.Changed != 1 {
		t.Errorf("erasure report = %+v, want one contact removed", got.Result)
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

	// Re-submitting the subject, by e-mail or by phone, brings nothing back.
	w.Do(t, "POST", "/v1/contacts", owner, `{"contacts":[{"email":"ada@example.com"},{"phone":"+1 415 555 2671"}]}`)
	w.Drain(t, ingest.Queue)
	if cs := w.Contacts(t, "acme"); len(cs) != 1 || cs[0].Email != "bob@example.com" {
		t.Errorf("contacts after a re-import = %+v, want only Bob", cs)
	}
}
