package incident_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
	"github.com/alto/alto/shared/webhook"
)

// TestINC01_INC02_TwoOrgsNotifiedThenOverdueUpdateAlert is the issue's
// first must-show: an incident detected at T affecting two orgs notifies
// both orgs' owners; at T+4h05 without an update an overdue alert exists;
// after an update there is none.
func TestINC01_INC02_TwoOrgsNotifiedThenOverdueUpdateAlert(t *testing.T) {
	e := newEnv(t)
	e.tenantWith(t, "acme", []string{"owner@acme.example"}, "")
	e.tenantWith(t, "globex", []string{"owner@globex.example", "admin@globex.example"}, "")
	e.tenantWith(t, "initech", []string{"owner@initech.example"}, "")
	v := e.open(t, twoOrgs())

	for _, c := range []struct{ addr, org, other string }{
		{"owner@acme.example", "acme", "globex"},
		{"owner@globex.example", "globex", "acme"},
		{"admin@globex.example", "globex", "acme"},
	} {
		got := e.mailTo(t, c.addr)
		if len(got) != 1 {
			t.Fatalf("%s got %d messages at once, want the notice", c.addr, len(got))
		}
		if !strings.Contains(got[0].Subject, "Security incident notice") || !strings.Contains(got[0].Text, v.ID) {
			t.Errorf("%s got %q, want the notice of %s", c.addr, got[0].Subject, v.ID)
		}
		if strings.Contains(got[0].Text, c.other) || strings.Contains(got[0].Subject, c.other) {
			t.Errorf("the notice to %s names the other tenant %s:\n%s", c.org, c.other, got[0].Text)
		}
	}
	if got := e.mailTo(t, "owner@initech.example"); len(got) != 0 {
		t.Errorf("unaffected initech got %d messages, want 0", len(got))
	}
	if v.Delivered != 1 {
		t.Errorf("delivered messages = %d, want 1 (the notice)", v.Delivered)
	}

	// T+4h05, no update: the tick raises the overdue alert.
	e.at(T.Add(4*time.Hour + 5*time.Minute))
	e.tick(t)
	got, err := e.svc.Get(context.Background(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Overdue, []string{incident.OverdueUpdate}) {
		t.Errorf("overdue at T+4h05 = %v, want [update]", got.Overdue)
	}
	if n := len(e.alarms(t, "incident.update_overdue")); n != 1 {
		t.Errorf("update_overdue alarms = %d, want 1", n)
	}
	if n := len(e.mailTo(t, securityTeam)); n != 1 {
		t.Errorf("security team got %d e-mails, want 1 about the overdue update", n)
	}
	e.tick(t) // a re-run raises nothing twice
	if n := len(e.alarms(t, "incident.update_overdue")); n != 1 {
		t.Errorf("update_overdue alarms after a second tick = %d, want still 1", n)
	}

	// An update: no overdue alert any more, and both orgs get it.
	e.at(T.Add(4*time.Hour + 6*time.Minute))
	upd, err := e.svc.PostUpdate(context.Background(), "sec-1", v.ID, incident.Contained, "The bucket policy is fixed.")
	if err != nil {
		t.Fatal(err)
	}
	if len(upd.Overdue) != 0 {
		t.Errorf("overdue after the update = %v, want none", upd.Overdue)
	}
	e.at(T.Add(4*time.Hour + 20*time.Minute))
	e.tick(t)
	if n := len(e.alarms(t, "incident.update_overdue")); n != 1 {
		t.Errorf("update_overdue alarms after the update = %d, want still 1", n)
	}
	for _, addr := range []string{"owner@acme.example", "owner@globex.example"} {
		if msgs := e.mailTo(t, addr); len(msgs) != 2 || !strings.Contains(msgs[1].Subject, "Incident update (contained)") {
			t.Errorf("%s got %d messages, want the notice and the update", addr, len(msgs))
		}
	}
	// Four more hours without an update: a new alert for the new period.
	e.at(T.Add(8*time.Hour + 7*time.Minute))
	e.tick(t)
	if n := len(e.alarms(t, "incident.update_overdue")); n != 2 {
		t.Errorf("update_overdue alarms 4h after the update = %d, want 2", n)
	}
}

// TestINC01_TenantsReadOnlyTheirIncidents: an affected tenant reads the
// incident naming only itself; another tenant gets not-found (ACC-03).
func TestINC01_TenantsReadOnlyTheirIncidents(t *testing.T) {
	e := newEnv(t)
	e.tenantWith(t, "acme", []string{"owner@acme.example"}, "")
	e.tenantWith(t, "globex", []string{"owner@globex.example"}, "")
	e.tenantWith(t, "initech", []string{"owner@initech.example"}, "")
	v := e.open(t, twoOrgs())
	e.at(T.Add(time.Minute))
	all := e.open(t, incident.Draft{Title: "Platform-wide outage of encryption keys", Severity: incident.Critical,
		DetectedAt: T, Affected: incident.Affected{All: true}})

	for _, org := range []tenant.ID{"acme", "globex"} {
		ctx := tenant.With(context.Background(), org)
		tv, err := e.svc.TenantGet(ctx, v.ID)
		if err != nil {
			t.Fatalf("%s reads %s: %v", org, v.ID, err)
		}
		if !slices.Equal(tv.Affected.Orgs, []tenant.ID{org}) || tv.Affected.All {
			t.Errorf("%s sees affectedOrgs %+v, want only itself", org, tv.Affected)
		}
		list, _, err := e.svc.TenantList(ctx, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != all.ID || list[1].ID != v.ID {
			t.Errorf("%s lists %d incidents, want the all-tenant one then its own", org, len(list))
		}
	}
	initech := tenant.With(context.Background(), "initech")
	if _, err := e.svc.TenantGet(initech, v.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("initech reads another tenant's incident: %v, want store.ErrNotFound", err)
	}
	tv, err := e.svc.TenantGet(initech, all.ID)
	if err != nil || !tv.Affected.All {
		t.Errorf("initech reads the all-tenant incident = %+v, %v; want it with affectedOrgs all", tv.Affected, err)
	}
	if _, err := e.svc.TenantGet(initech, "../../etc"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("junk id = %v, want store.ErrNotFound", err)
	}
	if n := len(e.mailTo(t, "owner@initech.example")); n != 1 {
		t.Errorf("initech got %d messages, want the all-tenant notice only", n)
	}
}

// TestINC01_NoticesAreIdempotent: ticks again and again, a failed mailer
// retried, a webhook that fails then recovers: each tenant gets each
// message exactly once per channel.
func TestINC01_NoticesAreIdempotent(t *testing.T) {
	var mailer *failingMailer
	e := newEnv(t, func(c *incident.Config, e *env) {
		mailer = &failingMailer{next: c.Mailer, fail: true}
		c.Mailer = mailer
	})
	hook := newHookReceiver(t, 500)
	secret := e.tenantWith(t, "acme", []string{"owner@acme.example"}, hook.url)
	v := e.open(t, incident.Draft{Title: "Leaked API key", Severity: incident.Medium, DetectedAt: T,
		Affected: incident.Affected{Orgs: []tenant.ID{"acme"}}})
	if n := len(e.mailTo(t, "owner@acme.example")); n != 0 {
		t.Fatalf("a failing mailer delivered %d messages", n)
	}
	if n := len(hook.requests()); n != 2 {
		t.Fatalf("webhook requests = %d, want 2 attempts that got 500", n)
	}
	mailer.set(false)
	hook.setStatuses(200)
	for i := range 5 {
		e.at(T.Add(time.Duration(i+1) * 15 * time.Minute))
		e.tick(t)
	}
	if n := len(e.mailTo(t, "owner@acme.example")); n != 1 {
		t.Errorf("owner got %d notices over 5 ticks, want exactly 1", n)
	}
	reqs := hook.requests()
	if len(reqs) != 3 {
		t.Fatalf("webhook requests = %d, want 2 failed and 1 accepted", len(reqs))
	}
	last := reqs[2]
	if err := webhook.Verify([]byte(secret), last.header.Get(webhook.SignatureHeader), last.body, T.Add(15*time.Minute), 0); err != nil {
		t.Errorf("the tenant cannot verify the webhook with its secret: %v", err)
	}
	var body struct {
		ID       string
		Type     string
		Incident incident.TenantView
	}
	decodeJSON(t, last.body, &body)
	if body.Type != "incident.notice" || body.Incident.ID != v.ID || last.header.Get(webhook.DeliveryHeader) != body.ID {
		t.Errorf("webhook body = %+v, want the notice of %s with its delivery ID", body, v.ID)
	}
	if got, err := e.svc.Get(context.Background(), v.ID); err != nil || got.Delivered != 1 {
		t.Errorf("delivered = %d (%v), want 1", got.Delivered, err)
	}
	notified := e.entries(t, "acme", "incident.notified")
	if len(notified) != 2 {
		t.Errorf("acme's audit log has %d incident.notified entries, want 2 (e-mail, webhook)", len(notified))
	}
}

// TestINC01_HoldDelaysNoticeUntilItEnds: a law-enforcement hold keeps even
// the first notice back, past 24 hours, without an overdue alarm; the tick
// after the hold ends sends it.
func TestINC01_HoldDelaysNoticeUntilItEnds(t *testing.T) {
	e := newEnv(t)
	e.tenantWith(t, "acme", []string{"owner@acme.example"}, "")
	d := twoOrgs()
	d.Affected.Orgs = []tenant.ID{"acme"}
	d.HoldReason, d.HoldUntil = "Request of the national cybercrime unit, case 2026-117", T.Add(30*time.Hour)
	v := e.open(t, d)
	if v.Hold == nil || v.Hold.Reason == "" {
		t.Fatalf("view hold = %+v, want the recorded hold", v.Hold)
	}
	acme := tenant.With(context.Background(), "acme")
	for _, at := range []time.Duration{time.Hour, 25 * time.Hour, 29*time.Hour + 59*time.Minute} {
		e.at(T.Add(at))
		e.tick(t)
		if n := len(e.mailTo(t, "owner@acme.example")); n != 0 {
			t.Fatalf("at T+%s under hold: %d messages, want 0", at, n)
		}
		if _, err := e.svc.TenantGet(acme, v.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("at T+%s under hold the tenant reads the incident: %v", at, err)
		}
	}
	if n := len(e.alarms(t, "incident.notice_overdue")); n != 0 {
		t.Errorf("notice_overdue alarms under a hold = %d, want 0", n)
	}
	e.at(T.Add(30*time.Hour + time.Minute))
	e.tick(t)
	if n := len(e.mailTo(t, "owner@acme.example")); n != 1 {
		t.Errorf("after the hold: %d messages, want the notice", n)
	}
	if _, err := e.svc.TenantGet(acme, v.ID); err != nil {
		t.Errorf("after the hold the tenant cannot read the incident: %v", err)
	}
	opened := e.entries(t, tenant.Platform, "incident.opened")
	if len(opened) != 1 || opened[0].Detail["holdUntil"] == "" {
		t.Errorf("incident.opened entries = %+v, want one recording the hold's end", opened)
	}
}

// TestINC01_HoldNeedsReasonAndEnd: a hold without a recorded reason and
// end is refused, field by field.
func TestINC01_HoldNeedsReasonAndEnd(t *testing.T) {
	e := newEnv(t)
	v := e.open(t, twoOrgs())
	tests := []struct {
		name   string
		reason string
		until  time.Time
		field  string
	}{
		{"no reason", "", T.Add(time.Hour), "reason"},
		{"blank reason", "   ", T.Add(time.Hour), "reason"},
		{"no end", "court order", time.Time{}, "until"},
		{"end in the past", "court order", T.Add(-time.Minute), "until"},
		{"end too far", "court order", T.Add(91 * 24 * time.Hour), "until"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.PlaceHold(context.Background(), "sec-1", v.ID, tt.reason, tt.until)
			var errs valid.Errors
			if !errors.As(err, &errs) || errs[0].Field != tt.field {
				t.Errorf("PlaceHold = %v, want a field error on %s", err, tt.field)
			}
		})
	}
	got, err := e.svc.PlaceHold(context.Background(), "sec-1", v.ID, "court order 7", T.Add(2*time.Hour))
	if err != nil || got.Hold == nil || got.Hold.Reason != "court order 7" {
		t.Fatalf("PlaceHold = %+v, %v", got.Hold, err)
	}
	if holds := e.entries(t, tenant.Platform, "incident.hold"); len(holds) != 1 || strings.Contains(holds[0].Detail["until"], "court") {
		t.Errorf("incident.hold audit entries = %+v, want one with the end and not the reason", holds)
	}
}

// TestOPS04_IncidentTimerAlarms: each incident timer (the notice 24 hours
// after detection, an update 4 hours after the last, the RCA 5 business
// days after resolution) raises its alarm once when overdue, and e-mails the
// security team; not before.
func TestOPS04_IncidentTimerAlarms(t *testing.T) {
	resolvedFriday := T.Add(2 * time.Hour)
	tests := []struct {
		name   string
		alarm  string
		setup  func(t *testing.T, e *env, mailer *failingMailer, id string)
		before time.Time // no alarm yet
		after  time.Time // the alarm exists
	}{
		{"notice 24h", "incident.notice_overdue", func(t *testing.T, e *env, m *failingMailer, id string) {
			m.set(true) // the notice cannot go out
		}, T.Add(23*time.Hour + 59*time.Minute), T.Add(24*time.Hour + time.Minute)},
		{"update 4h", "incident.update_overdue", func(t *testing.T, e *env, m *failingMailer, id string) {
			e.at(T.Add(time.Hour))
			if _, err := e.svc.PostUpdate(context.Background(), "sec-1", id, incident.Investigating, "Looking."); err != nil {
				t.Fatal(err)
			}
		}, T.Add(5 * time.Hour), T.Add(5*time.Hour + time.Second)},
		{"rca 5 business days", "incident.rca_overdue", func(t *testing.T, e *env, m *failingMailer, id string) {
			e.at(resolvedFriday)
			if _, err := e.svc.PostUpdate(context.Background(), "sec-1", id, incident.Resolved, "Fixed."); err != nil {
				t.Fatal(err)
			}
		}, resolvedFriday.Add(7 * 24 * time.Hour), resolvedFriday.Add(7*24*time.Hour + time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mailer *failingMailer
			e := newEnv(t, func(c *incident.Config, e *env) {
				mailer = &failingMailer{next: c.Mailer, except: securityTeam}
				c.Mailer = mailer
			})
			e.tenantWith(t, "acme", []string{"owner@acme.example"}, "")
			if tt.alarm == "incident.notice_overdue" {
				mailer.set(true)
			}
			d := twoOrgs()
			d.Affected.Orgs = []tenant.ID{"acme"}
			v := e.open(t, d)
			tt.setup(t, e, mailer, v.ID)
			e.at(tt.before)
			e.svc.Tick(context.Background()) // may fail: the notice case's mailer refuses
			if n := len(e.alarms(t, tt.alarm)); n != 0 {
				t.Fatalf("%s before the deadline: %d alarms, want 0", tt.alarm, n)
			}
			e.at(tt.after)
			e.svc.Tick(context.Background())
			e.svc.Tick(context.Background())
			got := e.alarms(t, tt.alarm)
			if len(got) != 1 || got[0].Detail["incident"] != v.ID || got[0].Detail["dueAt"] == "" {
				t.Fatalf("%s after the deadline = %+v, want one alarm naming %s and its deadline", tt.alarm, got, v.ID)
			}
			view, err := e.svc.Get(context.Background(), v.ID)
			if err != nil || len(view.Overdue) == 0 {
				t.Errorf("overdue = %v (%v), want the timer", view.Overdue, err)
			}
			found := false
			for _, m := range e.mailTo(t, securityTeam) {
				found = found || (strings.Contains(m.Subject, "Overdue") && strings.Contains(m.Subject, v.ID))
			}
			if !found {
				t.Errorf("the security team got no e-mail about the overdue %s", tt.name)
			}
		})
	}
}

// TestINC03_RCADueFiveBusinessDaysAfterResolution is the second
// must-show: resolved on a Friday, the RCA is due the following Friday;
// late, it raises an alarm; published, it reaches the tenants and closes
// the incident.
func TestINC03_RCADueFiveBusinessDaysAfterResolution(t *testing.T) {
	e := newEnv(t)
	e.tenantWith(t, "acme", []string{"owner@acme.example"}, "")
	d := twoOrgs()
	d.Affected.Orgs = []tenant.ID{"acme"}
	v := e.open(t, d)
	if _, err := e.svc.PublishRCA(context.Background(), "sec-1", v.ID, "too early"); !errors.Is(err, incident.ErrConflict) {
		t.Errorf("RCA before resolution = %v, want ErrConflict", err)
	}
	resolvedAt := T.Add(2 * time.Hour) // Friday 20 November 2026, 12:00 UTC
	e.at(resolvedAt)
	res, err := e.svc.PostUpdate(context.Background(), "sec-1", v.ID, incident.Resolved, "Fixed and verified.")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // the next Friday
	if !res.RCADueAt.Equal(want) || !res.Deadlines.RCA.Equal(want) || res.RCADueAt.Weekday() != time.Friday {
		t.Errorf("RCA due %s, want %s", res.RCADueAt, want)
	}
	if !res.Deadlines.NextUpdate.IsZero() {
		t.Errorf("next update due %s after resolution, want none", res.Deadlines.NextUpdate)
	}
	if _, err := e.svc.PostUpdate(context.Background(), "sec-1", v.ID, incident.Investigating, "again"); !errors.Is(err, incident.ErrConflict) {
		t.Errorf("update after resolution = %v, want ErrConflict", err)
	}
	e.at(want)
	e.tick(t)
	if n := len(e.alarms(t, "incident.rca_overdue")); n != 0 {
		t.Errorf("rca_overdue at the deadline = %d, want 0", n)
	}
	e.at(want.Add(time.Minute))
	e.tick(t)
	e.tick(t)
	if n := len(e.alarms(t, "incident.rca_overdue")); n != 1 {
		t.Errorf("rca_overdue after the deadline = %d, want 1", n)
	}
	pub, err := e.svc.PublishRCA(context.Background(), "sec-1", v.ID, "Root cause: a policy template allowed s3:ListBucket.")
	if err != nil {
		t.Fatal(err)
	}
	if len(pub.Overdue) != 0 {
		t.Errorf("overdue after the RCA = %v, want none", pub.Overdue)
	}
	msgs := e.mailTo(t, "owner@acme.example")
	if len(msgs) != 3 || !strings.Contains(msgs[2].Subject, "Root-cause analysis") || !strings.Contains(msgs[2].Text, "s3:ListBucket") {
		t.Errorf("owner got %d messages, want notice, resolution and RCA", len(msgs))
	}
	tv, err := e.svc.TenantGet(tenant.With(context.Background(), "acme"), v.ID)
	if err != nil || tv.RCA == nil || tv.Status != incident.Resolved {
		t.Errorf("tenant view = %+v, %v; want resolved with the RCA", tv, err)
	}
	if _, err := e.svc.PublishRCA(context.Background(), "sec-1", v.ID, "again"); !errors.Is(err, incident.ErrConflict) {
		t.Errorf("second RCA = %v, want ErrConflict", err)
	}
	if open := rawItems(t, e.store, tenant.WithPlatform(context.Background()), "INCIDENT-OPEN"); len(open) != 0 {
		t.Errorf("%d incidents still open for the schedule, want 0", len(open))
	}
}

// TestAUD01_IncidentActionsAreAudited: opening, updating, holding and the
// RCA are in the platform's audit log; notices in each tenant's.
func TestAUD01_IncidentActionsAreAudited(t *testing.T) {
	e := newEnv(t)
	e.tenantWith(t, "acme", []string{"owner@acme.example"}, "")
	d := twoOrgs()
	d.Affected.Orgs = []tenant.ID{"acme"}
	v := e.open(t, d)
	ctx := context.Background()
	if _, err := e.svc.PlaceHold(ctx, "sec-1", v.ID, "court order", T.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PostUpdate(ctx, "sec-1", v.ID, incident.Resolved, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PublishRCA(ctx, "sec-1", v.ID, "the cause"); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"incident.opened", "incident.hold", "incident.updated", "incident.rca"} {
		got := e.entries(t, tenant.Platform, typ)
		if len(got) != 1 || got[0].Target != v.ID || got[0].Actor != "sec-1" {
			t.Errorf("%s entries = %+v, want one by sec-1 on %s", typ, got, v.ID)
		}
	}
	if got := e.entries(t, "acme", "settings.notifications"); len(got) != 1 || strings.Contains(got[0].Detail["emails"], "@") {
		t.Errorf("settings.notifications entries = %+v, want one with a count, not addresses", got)
	}
	e.at(T.Add(2 * time.Minute)) // the hold has ended
	e.tick(t)
	got := e.entries(t, "acme", "incident.notified")
	if len(got) != 3 {
		t.Errorf("acme's incident.notified entries = %d, want 3 (notice, resolution, RCA)", len(got))
	}
}

// TestENC02_IncidentsAreSealedAtRest: no stored byte holds the incident's
// text or a tenant's notification address.
func TestENC02_IncidentsAreSealedAtRest(t *testing.T) {
	e := newEnv(t)
	e.tenantWith(t, "acme", []string{"owner@acme.example"}, "")
	d := twoOrgs()
	d.Affected.Orgs = []tenant.ID{"acme"}
	e.open(t, d)
	for _, scope := range []struct {
		ctx context.Context
		pks []string
	}{
		{tenant.WithPlatform(context.Background()), []string{"INCIDENT"}},
		{tenant.With(context.Background(), "acme"), []string{"INCIDENT", "SETTINGS"}},
	} {
		for _, pk := range scope.pks {
			items := rawItems(t, e.store, scope.ctx, pk)
			if len(items) == 0 {
				t.Fatalf("no items in %s", pk)
			}
			for _, it := range items {
				if containsAny(string(it.Data), "bucket", "owner@acme.example", "misconfigured") {
					t.Errorf("%s/%s holds plaintext", pk, it.SK)
				}
			}
		}
	}
}

func TestOpenValidates(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		mod   func(*incident.Draft)
		field string
	}{
		{"no title", func(d *incident.Draft) { d.Title = "" }, "title"},
		{"line break in title", func(d *incident.Draft) { d.Title = "a\nBcc: x" }, "title"},
		{"long title", func(d *incident.Draft) { d.Title = strings.Repeat("x", 201) }, "title"},
		{"unknown severity", func(d *incident.Draft) { d.Severity = "urgent" }, "severity"},
		{"no detection time", func(d *incident.Draft) { d.DetectedAt = time.Time{} }, "detectedAt"},
		{"detected in the future", func(d *incident.Draft) { d.DetectedAt = T.Add(time.Hour) }, "detectedAt"},
		{"no affected org", func(d *incident.Draft) { d.Affected = incident.Affected{} }, "affectedOrgs"},
		{"invalid org", func(d *incident.Draft) { d.Affected.Orgs = []tenant.ID{"Acme Inc"} }, "affectedOrgs[0]"},
		{"platform org", func(d *incident.Draft) { d.Affected.Orgs = []tenant.ID{tenant.Platform} }, "affectedOrgs[0]"},
		{"org twice", func(d *incident.Draft) { d.Affected.Orgs = []tenant.ID{"acme", "acme"} }, "affectedOrgs[1]"},
		{"hold without reason", func(d *incident.Draft) { d.HoldUntil = T.Add(time.Hour) }, "hold.reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := twoOrgs()
			tt.mod(&d)
			_, err := e.svc.Open(context.Background(), "sec-1", d)
			var errs valid.Errors
			if !errors.As(err, &errs) || errs[0].Field != tt.field {
				t.Errorf("Open = %v, want a field error on %s", err, tt.field)
			}
		})
	}
	if vs := e.incidents(t); len(vs) != 0 {
		t.Errorf("invalid drafts stored %d incidents", len(vs))
	}
}

func TestListNewestFirstWithCursor(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 5 {
		e.at(T.Add(time.Duration(i) * time.Minute))
		d := twoOrgs()
		d.DetectedAt = e.clock.Now()
		ids = append(ids, e.open(t, d).ID)
	}
	slices.Reverse(ids)
	var got []string
	cursor := ""
	for {
		page, next, err := e.svc.List(context.Background(), cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page {
			got = append(got, v.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, ids) {
		t.Errorf("List = %v, want newest first %v", got, ids)
	}
}

// TestINC01_PurgedTenantDoesNotBlockNotices: a shredded tenant among the
// affected gets nothing (nobody is left), and the others are notified.
func TestINC01_PurgedTenantDoesNotBlockNotices(t *testing.T) {
	e := newEnv(t)
	e.tenantWith(t, "acme", []string{"owner@acme.example"}, "")
	e.tenantWith(t, "globex", []string{"owner@globex.example"}, "")
	if err := e.cfg.Keys.(*seal.Keyring).Shred(tenant.With(context.Background(), "acme")); err != nil {
		t.Fatal(err)
	}
	v := e.open(t, twoOrgs())
	if v.Delivered != 1 {
		t.Errorf("delivered = %d, want 1: the notice is done for every tenant that exists", v.Delivered)
	}
	if n := len(e.mailTo(t, "owner@globex.example")); n != 1 {
		t.Errorf("globex got %d notices, want 1", n)
	}
}

// TestOPS04_DeliveryGivenUpRaisesAlarm: a webhook that keeps failing makes
// the notice overdue after 24 hours, and is given up after 72 with an alarm
// of its own; the e-mail went out once all along.
func TestOPS04_DeliveryGivenUpRaisesAlarm(t *testing.T) {
	e := newEnv(t)
	hook := newHookReceiver(t, 500)
	e.tenantWith(t, "acme", []string{"owner@acme.example"}, hook.url)
	d := twoOrgs()
	d.Affected.Orgs = []tenant.ID{"acme"}
	v := e.open(t, d)
	e.at(T.Add(24*time.Hour + time.Minute))
	e.svc.Tick(context.Background())
	if n := len(e.alarms(t, "incident.notice_overdue")); n != 1 {
		t.Errorf("notice_overdue with a failing webhook = %d alarms, want 1", n)
	}
	if n := len(e.alarms(t, "incident.delivery_failed")); n != 0 {
		t.Errorf("delivery_failed before 72h = %d alarms, want 0", n)
	}
	e.at(T.Add(72*time.Hour + time.Minute))
	e.svc.Tick(context.Background())
	e.svc.Tick(context.Background())
	got := e.alarms(t, "incident.delivery_failed")
	if len(got) != 1 || got[0].Detail["channel"] != "webhook" || got[0].Detail["org"] != "acme" {
		t.Errorf("delivery_failed alarms = %+v, want one for acme's webhook", got)
	}
	if n := len(e.mailTo(t, "owner@acme.example")); n != 1 {
		t.Errorf("owner got %d notices, want 1", n)
	}
	if view, _ := e.svc.Get(context.Background(), v.ID); view.Delivered != 1 {
		t.Errorf("delivered = %d, want 1: a given-up delivery is settled", view.Delivered)
	}
	if failed := e.entries(t, "acme", "incident.notice_failed"); len(failed) != 1 {
		t.Errorf("acme's notice_failed entries = %d, want 1", len(failed))
	}
}
