package incident_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/alto/alto/shared/clocktest"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/orgs"
	"github.com/alto/alto/shared/outbox"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/webhook"
)

// clock is the tests' settable clock.
type clock = clocktest.Clock

// T is the detection time of the tests: Friday 20 November 2026, 10:00 UTC.
var T = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

const securityTeam = "security@alto.example"

// env is a Service over real embedded adapters in a temporary folder: a
// bbolt store, the audit log, a local keyring, an outbox folder, the
// webhook sender (loopback allowed) and the tenant registry.
type env struct {
	svc    *incident.Service
	clock  *clock
	store  *bolt.Store
	audit  *audit.Log
	outbox *outbox.Outbox
	orgs   *orgs.Registry
	cfg    incident.Config
}

type envOption func(*incident.Config, *env)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	dir := t.TempDir()
	clk := clocktest.At(T)
	db, err := bolt.Open(filepath.Join(dir, "alto.db"), bolt.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	master, err := localkeys.LoadOrCreateMaster(filepath.Join(dir, "master.json"))
	if err != nil {
		t.Fatal(err)
	}
	keysets, err := localkeys.OpenDir(filepath.Join(dir, "keysets"))
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.New(filepath.Join(dir, "outbox"), outbox.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clock: clk, store: db.Store(), outbox: ob}
	e.audit = audit.New(e.store, clk.Now)
	e.orgs = orgs.New(e.store, clk.Now)
	cfg := incident.Config{
		Store: e.store, Audit: e.audit, Keys: seal.NewKeyring(master, keysets), Mailer: ob,
		Webhooks: webhook.New(webhook.Options{Now: clk.Now, AllowLoopback: true, Attempts: 2,
			Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}),
		Alarms: outbox.NewAlarms(e.audit, nil), Orgs: e.orgs, SecurityTeam: []string{securityTeam}, Now: clk.Now,
	}
	for _, o := range opts {
		o(&cfg, e)
	}
	e.cfg = cfg
	e.svc, err = incident.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) at(t time.Time) { e.clock.Set(t) }

// tenantWith registers org and sets its notification e-mails (and webhook,
// if hook is not empty); it returns the webhook secret.
func (e *env) tenantWith(t *testing.T, org string, emails []string, hook string) string {
	t.Helper()
	ctx := tenant.With(context.Background(), tenant.ID(org))
	if err := e.orgs.Register(ctx, tenant.ID(org)); err != nil {
		t.Fatal(err)
	}
	_, secret, err := e.svc.SetNotificationSettings(ctx, "owner-1", incident.SettingsInput{Emails: emails, WebhookURL: hook})
	if err != nil {
		t.Fatalf("settings of %s: %v", org, err)
	}
	return secret
}

func (e *env) open(t *testing.T, d incident.Draft) incident.View {
	t.Helper()
	v, err := e.svc.Open(context.Background(), "sec-1", d)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return v
}

func (e *env) tick(t *testing.T) {
	t.Helper()
	if err := e.svc.Tick(context.Background()); err != nil {
		t.Fatalf("tick: %v", err)
	}
}

// mailTo returns the messages in the outbox addressed to addr.
func (e *env) mailTo(t *testing.T, addr string) []notify.Email {
	t.Helper()
	all, err := e.outbox.Messages()
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Email
	for _, m := range all {
		if slices.Contains(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

// alarms returns the alarms raised (recorded in the platform audit log by
// the outbox's Alarms) with the given name.
func (e *env) alarms(t *testing.T, name string) []audit.Entry {
	t.Helper()
	entries, _, err := e.audit.List(tenant.WithPlatform(context.Background()), audit.Filter{Type: outbox.AlarmType, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Entry
	for _, en := range entries {
		if en.Target == name {
			out = append(out, en)
		}
	}
	return out
}

// entries returns the audit entries of a type in org's log.
func (e *env) entries(t *testing.T, org tenant.ID, typ string) []audit.Entry {
	t.Helper()
	ctx := tenant.WithPlatform(context.Background())
	if org != tenant.Platform {
		ctx = tenant.With(context.Background(), org)
	}
	var out []audit.Entry
	cursor := ""
	for {
		page, next, err := e.audit.List(ctx, audit.Filter{Type: typ, Cursor: cursor, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// appendAudit writes an entry to org's log at the clock's time.
func (e *env) appendAudit(t *testing.T, org tenant.ID, en audit.Entry) {
	t.Helper()
	ctx := tenant.WithPlatform(context.Background())
	if org != tenant.Platform {
		ctx = tenant.With(context.Background(), org)
	}
	if _, err := e.audit.Append(ctx, en); err != nil {
		t.Fatal(err)
	}
}

func (e *env) incidents(t *testing.T) []incident.View {
	t.Helper()
	vs, _, err := e.svc.List(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// hookReceiver is a tenant's webhook endpoint: it records deliveries and
// answers with the statuses it is given (the last one repeats).
type hookReceiver struct {
	mu       sync.Mutex
	statuses []int
	reqs     []hookRequest
	url      string
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T, statuses ...int) *hookReceiver {
	h := &hookReceiver{statuses: statuses}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookRequest{r.Header.Clone(), body})
		status := 200
		if len(h.statuses) > 0 {
			status = h.statuses[0]
			if len(h.statuses) > 1 {
				h.statuses = h.statuses[1:]
			}
		}
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/alto-hook"
	return h
}

// delivered returns the distinct deliveries the receiver accepted: the
// bodies of requests, keyed by delivery ID.
func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

func (h *hookReceiver) setStatuses(s ...int) {
	h.mu.Lock()
	h.statuses = s
	h.mu.Unlock()
}

// twoOrgs is the draft of the must-show scenario.
func twoOrgs() incident.Draft {
	return incident.Draft{Title: "Unauthorized access to a storage bucket", Severity: incident.High,
		Description: "A misconfigured bucket policy allowed listing of export objects.",
		DetectedAt:  T, Affected: incident.Affected{Orgs: []tenant.ID{"acme", "globex"}}}
}

// failingMailer fails (except for messages to except) while fail is set,
// and otherwise sends through next.
type failingMailer struct {
	mu     sync.Mutex
	fail   bool
	except string
	next   notify.Mailer
}

func (f *failingMailer) Send(ctx context.Context, m notify.Email) error {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail && !slices.Contains(m.To, f.except) {
		return fmt.Errorf("test mailer: refusing %s", m.ID)
	}
	return f.next.Send(ctx, m)
}

func (f *failingMailer) set(fail bool) {
	f.mu.Lock()
	f.fail = fail
	f.mu.Unlock()
}

// countingLog counts the entries List returns, to prove the detectors do
// not re-read the log.
type countingLog struct {
	incident.AuditLog
	mu   sync.Mutex
	read int
}

func (c *countingLog) List(ctx context.Context, f audit.Filter) ([]audit.Entry, string, error) {
	es, next, err := c.AuditLog.List(ctx, f)
	c.mu.Lock()
	c.read += len(es)
	c.mu.Unlock()
	return es, next, err
}

func (c *countingLog) reset() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.read
	c.read = 0
	return n
}

// rawItems returns every stored item of a partition in a scope.
func rawItems(t *testing.T, st store.Store, ctx context.Context, pk string) []store.Item {
	t.Helper()
	page, err := st.Query(ctx, store.Query{PK: pk, Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
