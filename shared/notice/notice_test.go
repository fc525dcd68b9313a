package notice_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/alto/alto/shared/clocktest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/notice"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// clock is the tests' settable clock.
type clock = clocktest.Clock

// mailer is a hand-written notify.Mailer that records every call, so a
// test sees duplicates the service itself would have sent; failFor makes
// sending to an address fail.
type mailer struct {
	mu      sync.Mutex
	sent    []notify.Email
	failFor string
}

func (m *mailer) Send(_ context.Context, e notify.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failFor != "" && slices.Contains(e.To, m.failFor) {
		return errors.New("mailer: connection refused")
	}
	m.sent = append(m.sent, e)
	return nil
}

func (m *mailer) to(addr string) []notify.Email {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []notify.Email
	for _, e := range m.sent {
		if slices.Contains(e.To, addr) {
			out = append(out, e)
		}
	}
	return out
}

func (m *mailer) count() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.sent) }

// tenants is a fixed tenant list.
type tenants []tenant.ID

func (ts tenants) All(ctx context.Context, fn func(tenant.ID) error) error {
	for _, t := range ts {
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

// owners and admins of each test tenant; globex has none on record.
var recipients = map[tenant.ID][]string{
	"acme":    {"owner@acme.example", "admin@acme.example"},
	"initech": {"owner@initech.example"},
	"globex":  nil,
}

type env struct {
	svc    *notice.Service
	mail   *mailer
	audit  *audit.Log
	clock  *clock
	tenant tenants
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := clocktest.At(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	db, err := bolt.Open(filepath.Join(t.TempDir(), "alto.db"), bolt.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := db.Store()
	e := &env{mail: &mailer{}, audit: audit.New(st, clk.Now), clock: clk, tenant: tenants{"acme", "globex", "initech"}}
	e.svc = &notice.Service{Store: st, Mailer: e.mail, Audit: e.audit, Tenants: e.tenant, Now: clk.Now,
		Recipients: func(ctx context.Context) ([]string, error) {
			org, err := tenant.From(ctx)
			if err != nil {
				return nil, err
			}
			return recipients[org], nil
		}}
	return e
}

func (e *env) draft(ahead time.Duration) notice.Draft {
	return notice.Draft{Kind: notice.Policy, Title: "Privacy policy v3", Text: "We shorten log retention to 60 days.",
		EffectiveAt: e.clock.Now().Add(ahead)}
}

const day = 24 * time.Hour

func TestNTC01_NoticeLessThan30DaysAheadIsRefused(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		ahead time.Duration
		field string
	}{
		{"29 days", 29 * day, "effectiveAt"},
		{"a second short of 30 days", 30*day - time.Second, "effectiveAt"},
		{"in the past", -day, "effectiveAt"},
		{"too far ahead", 401 * day, "effectiveAt"},
		{"exactly 30 days", 30 * day, ""},
		{"31 days", 31 * day, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.mail.count()
			_, err := e.svc.Post(context.Background(), e.draft(tc.ahead), "sec-1")
			var errs valid.Errors
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Post = %v, want success", err)
				}
				return
			}
			if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != tc.field {
				t.Fatalf("Post = %v, want one field error on %s", err, tc.field)
			}
			if e.mail.count() != before {
				t.Error("a refused notice sent mail")
			}
		})
	}
	items, _, err := e.svc.List(context.Background(), "", 10)
	if err != nil || len(items) != 2 {
		t.Errorf("stored notices = %d (%v), want only the 2 accepted", len(items), err)
	}
}

func TestValidate(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	ok := notice.Draft{Kind: notice.Subprocessor, Title: "New e-mail provider", Text: "t", EffectiveAt: now.Add(30 * day),
		Change: &notice.Change{Action: notice.Add, Name: "Postmark", Purpose: "e-mail delivery", Location: "United States"}}
	cases := []struct {
		name  string
		mod   func(*notice.Draft)
		field string
	}{
		{"unknown kind", func(d *notice.Draft) { d.Kind = "news" }, "kind"},
		{"no title", func(d *notice.Draft) { d.Title = " " }, "title"},
		{"title with a line break", func(d *notice.Draft) { d.Title = "a\r\nBcc: x" }, "title"},
		{"long text", func(d *notice.Draft) { d.Text = strings.Repeat("x", notice.MaxTextLen+1) }, "text"},
		{"no effective date", func(d *notice.Draft) { d.EffectiveAt = time.Time{} }, "effectiveAt"},
		{"no change", func(d *notice.Draft) { d.Change = nil }, "subprocessor"},
		{"change on a policy notice", func(d *notice.Draft) { d.Kind = notice.Policy }, "subprocessor"},
		{"unknown action", func(d *notice.Draft) { d.Change.Action = "swap" }, "subprocessor.action"},
		{"adding a listed one", func(d *notice.Draft) { d.Change.Name = "amazon web services, inc." }, "subprocessor.name"},
		{"removing an unlisted one", func(d *notice.Draft) { d.Change.Action = notice.Remove }, "subprocessor.name"},
		{"no purpose", func(d *notice.Draft) { d.Change.Purpose = "" }, "subprocessor.purpose"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := ok
			c := *ok.Change
			d.Change = &c
			tc.mod(&d)
			errs := notice.Validate(d, now, notice.DefaultProcessors)
			if len(errs) != 1 || errs[0].Field != tc.field {
				t.Errorf("Validate = %v, want one error on %s", errs, tc.field)
			}
		})
	}
	if errs := notice.Validate(ok, now, notice.DefaultProcessors); len(errs) != 0 {
		t.Errorf("Validate(valid) = %v", errs)
	}
}

func TestNTC01_NoticeReachesEveryTenantsOwnersAndAdminsOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n, err := e.svc.Post(ctx, e.draft(30*day), "sec-1")
	if err != nil {
		t.Fatal(err)
	}
	if n.AnnouncedAt.IsZero() {
		t.Errorf("posted notice = %+v, want it announced", n)
	}
	for _, addr := range []string{"owner@acme.example", "admin@acme.example", "owner@initech.example"} {
		got := e.mail.to(addr)
		if len(got) != 1 || !strings.Contains(got[0].Subject, "Privacy policy v3") || !strings.Contains(got[0].Text, "We shorten log retention") ||
			!strings.Contains(got[0].Subject, n.EffectiveAt.Format("2006-01-02")) {
			t.Errorf("%s received %+v, want the notice once", addr, got)
		}
		if strings.Contains(got[0].ID, addr) || len(got[0].To) != 1 {
			t.Errorf("message %q: one recipient per message, and no address in its ID", got[0].ID)
		}
	}
	if e.mail.count() != 3 {
		t.Errorf("sent %d messages, want 3", e.mail.count())
	}
	// The schedule runs again and again: nothing more is sent.
	for range 3 {
		if err := e.svc.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if e.mail.count() != 3 {
		t.Errorf("after ticks: %d messages, want still 3", e.mail.count())
	}

	platform, _, _ := e.audit.List(tenant.WithPlatform(ctx), audit.Filter{Type: "notice."})
	if types := entryTypes(platform); !slices.Equal(types, []string{"notice.posted", "notice.announced"}) {
		t.Errorf("platform audit = %v, want posted then announced once", types)
	} else if platform[0].Actor != "sec-1" || platform[1].Detail["tenants"] != "3" || platform[1].Detail["recipients"] != "3" {
		t.Errorf("platform audit = %+v", platform)
	}
	for org, want := range map[tenant.ID]string{"acme": "2", "initech": "1", "globex": "0"} {
		entries, _, _ := e.audit.List(tenant.With(ctx, org), audit.Filter{Type: "notice.delivered"})
		if len(entries) != 1 || entries[0].Detail["recipients"] != want || entries[0].Target != "notice:"+n.ID {
			t.Errorf("%s audit = %+v, want one delivery to %s recipients", org, entries, want)
		}
	}
}

func entryTypes(es []audit.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

func TestNTC01_ReminderGoesOutAWeekBeforeEffectOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n, err := e.svc.Post(ctx, e.draft(30*day), "sec-1")
	if err != nil {
		t.Fatal(err)
	}
	reminders := func() int {
		k := 0
		for _, m := range e.mail.to("owner@acme.example") {
			if strings.HasPrefix(m.Subject, "Reminder: ") {
				k++
			}
		}
		return k
	}
	steps := []struct {
		at   time.Time
		want int
	}{
		{n.EffectiveAt.Add(-notice.RemindBefore - time.Hour), 0},
		{n.EffectiveAt.Add(-notice.RemindBefore), 1},
		{n.EffectiveAt.Add(-notice.RemindBefore + time.Hour), 1},
		{n.EffectiveAt.Add(-time.Minute), 1},
		{n.EffectiveAt.Add(time.Hour), 1},
	}
	for _, s := range steps {
		e.clock.Advance(s.at.Sub(e.clock.Now()))
		if err := e.svc.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if got := reminders(); got != s.want {
			t.Errorf("at effect%+v: %d reminders, want %d", s.at.Sub(n.EffectiveAt), got, s.want)
		}
	}
	if got := e.mail.count(); got != 6 {
		t.Errorf("%d messages in all, want 3 notices and 3 reminders", got)
	}
	list, _, _ := e.svc.List(ctx, "", 10)
	if len(list) != 1 || list[0].RemindedAt.IsZero() {
		t.Errorf("notice = %+v, want remindedAt set", list)
	}
	reminded, _, _ := e.audit.List(tenant.WithPlatform(ctx), audit.Filter{Type: "notice.reminded"})
	if len(reminded) != 1 {
		t.Errorf("notice.reminded entries = %d, want 1", len(reminded))
	}
}

func TestNTC01_InterruptedAnnouncementIsFinishedByTheSchedule(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mail.failFor = "owner@initech.example"
	n, err := e.svc.Post(ctx, e.draft(45*day), "sec-1")
	if err != nil {
		t.Fatalf("Post = %v; a delivery failure must not fail the post", err)
	}
	if !n.AnnouncedAt.IsZero() {
		t.Error("announcedAt set although a tenant was not reached")
	}
	if len(e.mail.to("owner@acme.example")) != 1 {
		t.Error("one tenant's failure held up the others")
	}
	if err := e.svc.Tick(ctx); err == nil {
		t.Error("Tick with the mailer still failing = nil, want the error")
	}
	e.mail.failFor = ""
	if err := e.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"owner@acme.example", "admin@acme.example", "owner@initech.example"} {
		if got := len(e.mail.to(addr)); got != 1 {
			t.Errorf("%s received %d messages, want 1", addr, got)
		}
	}
	list, _, _ := e.svc.List(ctx, "", 10)
	if list[0].AnnouncedAt.IsZero() {
		t.Error("announcedAt still unset after the schedule finished")
	}
}

func TestNTC01_SubprocessorListShowsChangesWithTheirDates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.svc.Seed = []notice.Processor{{Name: "AWS", Purpose: "hosting", Location: "US"}, {Name: "OldMail", Purpose: "e-mail", Location: "US"}}
	add := notice.Draft{Kind: notice.Subprocessor, Title: "New e-mail provider", Text: "We add NewMail.", EffectiveAt: e.clock.Now().Add(30 * day),
		Change: &notice.Change{Action: notice.Add, Name: "NewMail", Purpose: "e-mail delivery", Location: "EU"}}
	remove := notice.Draft{Kind: notice.Subprocessor, Title: "OldMail leaves", Text: "We stop using OldMail.", EffectiveAt: e.clock.Now().Add(40 * day),
		Change: &notice.Change{Action: notice.Remove, Name: "oldmail"}}
	for _, d := range []notice.Draft{add, remove} {
		if _, err := e.svc.Post(ctx, d, "sec-1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Post(ctx, add, "sec-1"); err == nil {
		t.Error("adding NewMail twice was accepted")
	}
	names := func() map[string]notice.Processor {
		list, err := e.svc.Processors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]notice.Processor{}
		for _, p := range list {
			m[p.Name] = p
		}
		return m
	}
	now := names()
	if len(now) != 3 || !now["NewMail"].Since.Equal(add.EffectiveAt) || !now["OldMail"].Until.Equal(remove.EffectiveAt) || !now["AWS"].Since.IsZero() {
		t.Errorf("before the changes: %+v, want NewMail upcoming and OldMail leaving, with their dates", now)
	}
	e.clock.Advance(41 * day)
	later := names()
	if _, ok := later["OldMail"]; ok || len(later) != 2 {
		t.Errorf("after the changes: %+v, want AWS and NewMail", later)
	}
	acme := e.mail.to("owner@acme.example")
	if len(acme) != 2 || !strings.Contains(acme[0].Text, "New sub-processor: NewMail (e-mail delivery; EU)") {
		t.Errorf("acme's owner got %+v", acme)
	}
}

func TestListIsNewestFirstWithCursor(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		d := e.draft(31 * day)
		d.Title = fmt.Sprintf("notice %d", i)
		n, err := e.svc.Post(ctx, d, "sec-1")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.ID)
		e.clock.Advance(time.Second)
	}
	var got []string
	cursor := ""
	for {
		page, next, err := e.svc.List(ctx, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range page {
			got = append(got, n.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	slices.Reverse(ids)
	if !slices.Equal(got, ids) {
		t.Errorf("List = %v, want newest first %v", got, ids)
	}
}

func TestUnion(t *testing.T) {
	fixed := func(addrs ...string) func(context.Context) ([]string, error) {
		return func(context.Context) ([]string, error) { return addrs, nil }
	}
	got, err := notice.Union(fixed("a@x.example", "B@x.example"), fixed("b@x.example", "c@x.example"), fixed())(context.Background())
	if want := []string{"a@x.example", "B@x.example", "c@x.example"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Union = %v, %v; want %v", got, err, want)
	}
	boom := errors.New("boom")
	failing := func(context.Context) ([]string, error) { return nil, boom }
	if _, err := notice.Union(fixed("a@x.example"), failing)(context.Background()); !errors.Is(err, boom) {
		t.Errorf("Union with a failing source = %v, want its error", err)
	}
}
