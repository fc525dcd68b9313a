package retention_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/retention"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

const day = 24 * time.Hour

// tenantWorld is a stack with two tenants holding contacts, drafts, an
// import and audit entries.
type tenantWorld struct {
	*stacktest.World
	owner, other string // tokens of acme's and globex's owners
	campaign     string // acme's campaign
	imp          string // acme's import
}

func newTenantWorld(t *testing.T, contacts int) *tenantWorld {
	t.Helper()
	w := &tenantWorld{World: stacktest.New(t)}
	w.owner = w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	w.other = w.Token(t, "globex", auth.Principal{Role: auth.Owner})
	for _, tok := range []string{w.owner, w.other} {
		var b strings.Builder
		for i := range contacts {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"email":"p%d@example.com","firstName":"P%d","consent":{"email":"granted"}}`, i, i)
		}
		if rec := w.Do(t, "POST", "/v1/contacts", tok, `{"contacts":[`+b.String()+`]}`); rec.Code != 202 {
			t.Fatalf("POST /v1/contacts = %d %s", rec.Code, rec.Body)
		}
	}
	w.Drain(t, ingest.Queue)
	rec := w.Do(t, "POST", "/v1/campaigns", w.owner, `{"name":"n","channel":"email","template":"Hi {{.FirstName}}",
		"sender":{"name":"Acme","postalAddress":"1 Market St, San Francisco"},"reason":"you asked"}`)
	w.campaign = stacktest.Decode[campaign.Campaign](t, rec).ID
	w.Do(t, "POST", "/v1/campaigns/"+w.campaign+"/enqueue", w.owner, `{"all":true}`)
	w.Drain(t, campaign.Queue)
	rec = w.Do(t, "POST", "/v1/imports", w.owner, `{"filename":"leads.csv"}`)
	if rec.Code != 201 {
		t.Fatalf("POST /v1/imports = %d %s", rec.Code, rec.Body)
	}
	w.imp = stacktest.Decode[struct{ ID string }](t, rec).ID
	return w
}

// state is what a tenant holds of each class.
type state struct{ contacts, drafts, imports int }

func (w *tenantWorld) state(t *testing.T, org string) state {
	t.Helper()
	ctx := stacktest.Ctx(org)
	var s state
	s.contacts = len(w.Contacts(t, org))
	if org == "acme" {
		drafts, _, err := w.Stack.Campaigns.Drafts(ctx, auth.Scope{All: true}, w.campaign, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		s.drafts = len(drafts)
		page, err := w.Stack.Store.Query(ctx, store.Query{PK: "IMPORT"})
		if err != nil {
			t.Fatal(err)
		}
		s.imports = len(page.Items)
	}
	return s
}

// sweep runs the whole hourly sweep (expiry, purges, retention) once.
func (w *tenantWorld) sweep(t *testing.T) {
	t.Helper()
	if err := w.Stack.Sweep(context.Background()); err != nil {
		t.Fatalf("sweep: %v", err)
	}
}

// fresh mints a token of acme's owner at the clock's time.
func (w *tenantWorld) fresh(t *testing.T) string {
	return w.Token(t, "acme", auth.Principal{Role: auth.Owner})
}

func (w *tenantWorld) at(d time.Duration, t0 time.Time) { w.Clock.Set(t0.Add(d)) }

// TestRET01_RET02_RET03_RET04_RET08_PRG03_SweepDeletesExactlyWhatThePolicySays is the purge issue's
// third must-show, with SPEC's default policy: the clock jumps 25 hours,
// 31 days, 91 days after the contract's end and past a year, and after
// each jump the sweep deletes that class and nothing else, of that tenant
// only, and records it in the audit log.
func TestRET01_RET02_RET03_RET04_RET08_PRG03_SweepDeletesExactlyWhatThePolicySays(t *testing.T) {
	w := newTenantWorld(t, 3)
	t0 := w.Clock.Now()
	if rec := w.Do(t, "PUT", "/v1/workspace/contract", w.owner, `{"endsAt":"`+t0.Add(10*day).Format(time.RFC3339)+`"}`); rec.Code != 200 {
		t.Fatalf("PUT contract = %d %s", rec.Code, rec.Body)
	}
	full := state{contacts: 3, drafts: 3, imports: 1}
	// A submission nobody consumes: the ingress queue forgets it in 24 hours.
	if rec := w.Do(t, "POST", "/v1/contacts", w.other, `{"email":"late@example.com"}`); rec.Code != 202 {
		t.Fatalf("POST /v1/contacts = %d %s", rec.Code, rec.Body)
	}
	steps := []struct {
		name   string
		after  time.Duration
		acme   state
		globex state
	}{
		{"RET-01 25 hours: ingress leftovers only", 25 * time.Hour, full, state{contacts: 3}},
		{"RET-02 31 days: drafts", 31 * day, state{contacts: 3, imports: 1}, state{contacts: 3}},
		{"RET-04 91 days: the import report, 90 days after its last activity", 92 * day, state{contacts: 3}, state{contacts: 3}},
		{"RET-03 91 days after the contract's end: acme's contacts", (10 + 91) * day, state{}, state{contacts: 3}},
	}
	for i, st := range steps {
		w.at(st.after, t0)
		w.sweep(t)
		if i == 0 {
			if n := w.Drain(t, ingest.Queue); n != 0 {
				t.Errorf("%s: %d ingress messages left after 25 hours, want none", st.name, n)
			}
			expired := w.Audited(t, string(tenant.Platform), "retention.expired")
			if len(expired) == 0 || expired[len(expired)-1].Detail["messages"] == "0" {
				t.Errorf("%s: platform log %+v, want the expired message recorded", st.name, expired)
			}
		}
		if got := w.state(t, "acme"); got != st.acme {
			t.Errorf("%s: acme holds %+v, want %+v", st.name, got, st.acme)
		}
		if got := w.state(t, "globex"); got != st.globex {
			t.Errorf("%s: globex holds %+v, want %+v", st.name, got, st.globex)
		}
	}
	deleted := w.Audited(t, "acme", retention.EntryDeleted)
	byClass := map[string]int{}
	for _, e := range deleted {
		n, _ := strconv.Atoi(e.Detail["count"])
		byClass[e.Detail["class"]] += n
	}
	// 3 contacts and their 3 e-mail handles; drafts and the import went by
	// their own expiry, recorded in the platform's log.
	if byClass["contacts"] != 6 {
		t.Errorf("audited contact-class deletions = %v, want 6 (3 contacts, 3 handles)", byClass)
	}
	if len(w.Audited(t, "globex", retention.EntryDeleted)) != 0 {
		t.Error("globex's audit log records deletions; it lost nothing")
	}

	// RET-05: a year and a day on, every entry older than a year goes; the
	// chain still verifies, from its anchor.
	before := len(w.Audited(t, "acme", ""))
	w.at(366*day+11*day, t0)
	w.sweep(t)
	after := w.Audited(t, "acme", "")
	if len(after) >= before {
		t.Errorf("audit entries after a year = %d, want fewer than %d", len(after), before)
	}
	for _, e := range after {
		if e.Time.Before(w.Clock.Now().Add(-365 * day)) {
			t.Errorf("entry %d of %s is older than a year and still kept", e.Seq, e.Time)
		}
	}
	rec := w.Do(t, "GET", "/v1/audit/verify", w.fresh(t), "")
	res := stacktest.Decode[audit.Result](t, rec)
	if !res.OK || res.TrimmedThrough == 0 {
		t.Errorf("GET /v1/audit/verify after the audit sweep = %s, want ok with trimmedThrough", rec.Body)
	}
	if n := len(w.Audited(t, "globex", "")); n == 0 {
		t.Error("globex's audit log was emptied; its newest entry must stay")
	}
}

// TestRET02_RET04_ShorterPolicyIsEnforced shortens drafts to 7 days and
// logs to 10, and checks each goes on time and not before.
func TestRET02_RET04_ShorterPolicyIsEnforced(t *testing.T) {
	w := newTenantWorld(t, 2)
	t0 := w.Clock.Now()
	rec := w.Do(t, "PUT", "/v1/settings/retention", w.owner, `{"draftsDays":7,"logsDaysAfterActivity":10}`)
	if rec.Code != 200 {
		t.Fatalf("PUT retention = %d %s", rec.Code, rec.Body)
	}
	steps := []struct {
		after time.Duration
		want  state
	}{
		{6 * day, state{contacts: 2, drafts: 2, imports: 1}},
		{7*day + time.Hour, state{contacts: 2, imports: 1}},
		{9 * day, state{contacts: 2, imports: 1}},
		{10*day + time.Hour, state{contacts: 2}},
	}
	for _, st := range steps {
		w.at(st.after, t0)
		w.sweep(t)
		if got := w.state(t, "acme"); got != st.want {
			t.Errorf("after %s: acme holds %+v, want %+v", st.after, got, st.want)
		}
	}
	byClass := map[string]string{}
	for _, e := range w.Audited(t, "acme", retention.EntryDeleted) {
		byClass[e.Detail["class"]] = e.Detail["count"]
	}
	if byClass["drafts"] != "2" || byClass["logs"] == "" {
		t.Errorf("audited deletions = %v, want 2 drafts and the import's logs", byClass)
	}
	if len(w.Audited(t, "acme", "retention.updated")) != 1 {
		t.Error("the policy change is not in the audit log")
	}
}

// TestRET02_RetentionSettingsMayOnlyShorten checks PUT's validation.
func TestRET02_RetentionSettingsMayOnlyShorten(t *testing.T) {
	w := stacktest.New(t)
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	rec := w.Do(t, "GET", "/v1/settings/retention", owner, "")
	got := stacktest.Decode[retention.Settings](t, rec)
	if got.Policy != retention.DefaultPolicy || got.IngressHours != 24 || got.BackupsDays != 14 ||
		got.TerminationRetainedDays != 30 || got.TerminationArchivedDays != 90 || got.Stage != retention.Active {
		t.Fatalf("GET retention = %s, want SPEC's defaults", rec.Body)
	}
	tests := []struct {
		name, body string
		status     int
		field      string
	}{
		{"longer drafts", `{"draftsDays":31}`, 422, "draftsDays"},
		{"zero drafts", `{"draftsDays":0}`, 422, "draftsDays"},
		{"longer logs", `{"logsDaysAfterActivity":91}`, 422, "logsDaysAfterActivity"},
		{"audit past 7 years", `{"auditDays":2556}`, 422, "auditDays"},
		{"audit under a year", `{"auditDays":364}`, 422, "auditDays"},
		{"fixed ingress", `{"ingressHours":12}`, 422, "ingressHours"},
		{"fixed backups", `{"backupsDays":7}`, 422, "backupsDays"},
		{"unknown field", `{"foreverDays":1}`, 422, "foreverDays"},
		{"not a number", `{"draftsDays":"7"}`, 422, "draftsDays"},
		{"shorter drafts, longer audit", `{"draftsDays":10,"auditDays":730}`, 200, ""},
		{"drafts back to 30", `{"draftsDays":30}`, 422, "draftsDays"},
		{"contacts the day the contract ends", `{"contactsDaysAfterContractEnd":0}`, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := w.Do(t, "PUT", "/v1/settings/retention", owner, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("PUT %s = %d %s, want %d", tc.body, rec.Code, rec.Body, tc.status)
			}
			if tc.field != "" && !strings.Contains(rec.Body.String(), `"field":"`+tc.field+`"`) {
				t.Errorf("PUT %s = %s, want an error naming %s", tc.body, rec.Body, tc.field)
			}
		})
	}
	got = stacktest.Decode[retention.Settings](t, w.Do(t, "GET", "/v1/settings/retention", owner, ""))
	want := retention.Policy{DraftsDays: 10, ContactsDays: 0, LogsDays: 90, AuditDays: 730}
	if got.Policy != want {
		t.Errorf("policy after the changes = %+v, want %+v (refused changes leave nothing behind)", got.Policy, want)
	}
	for _, role := range []auth.Role{auth.Manager, auth.Rep, auth.Security} {
		tok := w.Token(t, "acme", auth.Principal{Role: role})
		if rec := w.Do(t, "PUT", "/v1/settings/retention", tok, `{"draftsDays":1}`); rec.Code != 403 {
			t.Errorf("PUT retention as %s = %d, want 403", role, rec.Code)
		}
	}
	admin := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	if rec := w.Do(t, "PUT", "/v1/workspace/contract", admin, `{"endsAt":null}`); rec.Code != 403 {
		t.Errorf("PUT contract as admin = %d, want 403 (owner only)", rec.Code)
	}
	for _, body := range []string{`{}`, `{"endsAt":"next week"}`, `{"endsAt":"3026-01-01T00:00:00Z"}`} {
		if rec := w.Do(t, "PUT", "/v1/workspace/contract", owner, body); rec.Code != 422 {
			t.Errorf("PUT contract %s = %d %s, want 422", body, rec.Code, rec.Body)
		}
	}
}

// TestRET07_TerminationLifecycle walks a termination: re-activation within
// the 30 days, then a termination that runs its course: archived out of
// reach after 30 days, purged after 120, the confirmation in the outbox.
func TestRET07_TerminationLifecycle(t *testing.T) {
	w := newTenantWorld(t, 2)
	t0 := w.Clock.Now()
	for _, body := range []string{`{"confirm":"globex","email":"o@acme.example"}`, `{"confirm":"acme"}`} {
		if rec := w.Do(t, "POST", "/v1/workspace/terminate", w.owner, body); rec.Code != 422 {
			t.Errorf("terminate %s = %d, want 422", body, rec.Code)
		}
	}
	terminate := func() retention.Settings {
		rec := w.Do(t, "POST", "/v1/workspace/terminate", w.fresh(t), `{"confirm":"acme","email":"owner@acme.example"}`)
		if rec.Code != 202 {
			t.Fatalf("terminate = %d %s", rec.Code, rec.Body)
		}
		return stacktest.Decode[retention.Settings](t, rec)
	}
	if set := terminate(); set.Stage != retention.Terminated || !set.ArchiveAt.Equal(t0.Add(30*day)) || !set.DeleteAt.Equal(t0.Add(120*day)) {
		t.Fatalf("terminated settings = %+v, want archive in 30 days and deletion in 120", set)
	}
	w.at(29*day, t0)
	w.sweep(t)
	if rec := w.Do(t, "POST", "/v1/workspace/reactivate", w.fresh(t), ""); rec.Code != 200 {
		t.Fatalf("reactivate on day 29 = %d %s", rec.Code, rec.Body)
	}
	if rec := w.Do(t, "POST", "/v1/workspace/reactivate", w.fresh(t), ""); rec.Code != 409 {
		t.Errorf("reactivate an active workspace = %d, want 409", rec.Code)
	}
	t1 := w.Clock.Now()
	terminate()

	w.at(31*day, t1)
	w.sweep(t)
	owner := w.fresh(t)
	if rec := w.Do(t, "GET", "/v1/contacts", owner, ""); rec.Code != 403 || !strings.Contains(rec.Body.String(), "archived") {
		t.Errorf("GET /v1/contacts of an archived workspace = %d %s, want 403 archived", rec.Code, rec.Body)
	}
	if rec := w.Do(t, "POST", "/v1/workspace/reactivate", owner, ""); rec.Code != 403 {
		t.Errorf("reactivate an archived workspace = %d, want 403", rec.Code)
	}
	rec := w.Do(t, "GET", "/v1/settings/retention", owner, "")
	if set := stacktest.Decode[retention.Settings](t, rec); rec.Code != 200 || set.Stage != retention.Archived {
		t.Errorf("GET retention when archived = %d %s, want 200 archived", rec.Code, rec.Body)
	}
	if got := w.state(t, "acme"); got.contacts != 2 {
		t.Errorf("archived workspace holds %+v, want its contacts kept", got)
	}

	w.at(121*day, t1)
	w.sweep(t) // starts the purge: keys shredded at once
	owner = w.fresh(t)
	if rec := w.Do(t, "GET", "/v1/contacts", owner, ""); rec.Code != 410 {
		t.Errorf("GET /v1/contacts after the lifecycle = %d, want 410", rec.Code)
	}
	w.sweep(t)
	w.sweep(t)
	if page, err := w.Stack.Store.Query(stacktest.Ctx("acme"), store.Query{PK: "CONTACT"}); err != nil || len(page.Items) != 0 {
		t.Errorf("acme's contacts after the purge: %d, %v; want none", len(page.Items), err)
	}
	if got := w.state(t, "globex"); got.contacts != 2 {
		t.Errorf("globex holds %+v after acme's purge, want its contacts", got)
	}
	if !outboxHas(t, w.World, "owner@acme.example") {
		t.Error("no purge confirmation for owner@acme.example in the outbox")
	}
}

func outboxHas(t *testing.T, w *stacktest.World, to string) bool {
	t.Helper()
	ms, err := w.Stack.Outbox.Messages()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if slices.Contains(m.To, to) && strings.Contains(m.Text, "Workspace purge confirmation") {
			return true
		}
	}
	return false
}

// crashing wraps the sweep's ports and fails at one chosen point, after or
// before the real call, the way a killed process would stop there.
type crashing struct {
	point string
	fired bool
}

func (c *crashing) at(point string) bool {
	if c.point == point && !c.fired {
		c.fired = true
		return true
	}
	return false
}

var errKilled = errors.New("killed")

type crashClass struct {
	retention.Class
	c *crashing
}

func (k crashClass) Delete(ctx context.Context, keys []store.Key) error {
	if k.c.at("before delete") {
		return errKilled
	}
	err := k.Class.Delete(ctx, keys)
	if err == nil && k.c.at("after delete") {
		return errKilled
	}
	return err
}

type crashChain struct {
	retention.Chain
	c *crashing
}

func (k crashChain) Append(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	out, err := k.Chain.Append(ctx, e)
	if err == nil && e.Type == retention.EntryDeleted && k.c.at("after audit") {
		return audit.Entry{}, errKilled
	}
	return out, err
}

type crashStore struct {
	retention.Store
	c *crashing
}

func (k crashStore) Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error) {
	if it.SK == "CHECKPOINT" && strings.Contains(string(it.Data), `"pending"`) && k.c.at("saving the batch") {
		return store.Item{}, errKilled
	}
	return k.Store.Put(ctx, it, cond)
}

// TestRET08_KilledSweepLosesAndRepeatsNothing kills the sweep at each point
// of a batch, runs it again to the end with a small budget per run, and
// checks the end state equals an uninterrupted run's: every due record
// deleted, each batch audited exactly once, the counts adding up.
func TestRET08_KilledSweepLosesAndRepeatsNothing(t *testing.T) {
	for _, point := range []string{"saving the batch", "before delete", "after delete", "after audit"} {
		t.Run(point, func(t *testing.T) {
			w := newTenantWorld(t, 4)
			t0 := w.Clock.Now()
			// The contract ended 85 days ago: in 6 days its contacts go,
			// with the drafts and the import still there to go with them.
			w.Do(t, "PUT", "/v1/workspace/contract", w.owner, `{"endsAt":"`+t0.Add(-85*day).Format(time.RFC3339)+`"}`)
			w.at(6*day, t0)

			crash := &crashing{point: point}
			real := w.Stack.Retention
			killed := *real
			killed.Budget = 3
			killed.Store = crashStore{real.Store, crash}
			killed.Audit = crashChain{real.Audit, crash}
			killed.Classes = nil
			for _, c := range real.Classes {
				killed.Classes = append(killed.Classes, crashClass{c, crash})
			}
			if _, err := killed.Sweep(context.Background()); !errors.Is(err, errKilled) {
				t.Fatalf("the first run: error = %v, want it killed at %q", err, point)
			}
			resumed := *real
			resumed.Budget = 3
			runs := 0
			for ; runs < 50; runs++ {
				rep, err := resumed.Sweep(context.Background())
				if err != nil {
					t.Fatalf("run %d: %v", runs, err)
				}
				if rep.Done {
					break
				}
			}
			if runs == 50 {
				t.Fatal("the sweep never finished")
			}
			if got := w.state(t, "acme"); got != (state{}) {
				t.Errorf("acme holds %+v after the sweep, want nothing of the contact class", got)
			}
			if got := w.state(t, "globex"); got.contacts != 4 {
				t.Errorf("globex holds %+v, want its 4 contacts", got)
			}
			seen, total := map[string]bool{}, 0
			for _, e := range w.Audited(t, "acme", retention.EntryDeleted) {
				if seen[e.Target] {
					t.Errorf("batch %s audited twice", e.Target)
				}
				seen[e.Target] = true
				n, _ := strconv.Atoi(e.Detail["count"])
				if n > 3 {
					t.Errorf("batch %s deleted %d records, over the run's budget of 3", e.Target, n)
				}
				total += n
			}
			// 4 contacts, 4 handles, 4 drafts, 1 import record.
			if total != 13 {
				t.Errorf("audited deletions add up to %d, want 13", total)
			}
		})
	}
}
