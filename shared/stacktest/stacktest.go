// Package stacktest opens the stack for tests that drive Alto end to end,
// on the embedded adapters (New) or on the AWS ones against moto_server
// (NewAWS): a settable clock, tokens, requests through the real API,
// draining of the queues, and the sample events of events/ (Event).
package stacktest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/clocktest"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stack"
	"github.com/alto/alto/shared/tenant"
)

// Clock is the settable clock of a World.
type Clock = clocktest.Clock

// World is a stack in a temporary data folder.
type World struct {
	Stack *stack.Stack
	Clock *Clock
	Data  string // the data folder
	// AWS names the stack's AWS resources (NewAWS only).
	AWS  stack.AWS
	sent *sentMail // what SES accepted (NewAWS only)
}

// New opens a stack in t.TempDir() with a settable clock starting now.
func New(t testing.TB) *World {
	t.Helper()
	return Open(t, nil)
}

// Open is New with the configuration changed by mod, when not nil, before
// the stack opens (rate limits, wrapped ports, ...).
func Open(t testing.TB, mod func(*stack.Config)) *World {
	t.Helper()
	clk := clocktest.At(time.Now().UTC().Truncate(time.Second))
	data := t.TempDir()
	cfg := stack.Config{Data: data, Now: clk.Now, BaseURL: "https://alto.example", NoSync: true}
	if mod != nil {
		mod(&cfg)
	}
	st, err := stack.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &World{Stack: st, Clock: clk, Data: data}
}

// Token mints a 10-minute token for p in org (Sub defaults to "u-<role>").
func (w *World) Token(t testing.TB, org string, p auth.Principal) string {
	t.Helper()
	p.Org = org
	if p.Sub == "" {
		p.Sub = "u-" + string(p.Role)
	}
	tok, err := w.Stack.Issuer.Mint(p, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Do serves one request through the API. A non-empty body is sent as JSON
// unless hdr sets another Content-Type; hdr holds header name, value pairs.
func (w *World) Do(t testing.TB, method, path, token, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:1234"
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	w.Stack.API.ServeHTTP(rec, r)
	return rec
}

// Drain runs the local poller of queue until it has nothing visible and
// returns how many messages it handled.
func (w *World) Drain(t testing.TB, queue string) int {
	t.Helper()
	for _, p := range w.Stack.Pollers() {
		if p.Name == queue {
			n, err := p.Drain(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no poller for queue %s", queue)
	return 0
}

// ImportCSV imports a CSV file into org the way a client does: ask for an
// import, PUT the file to its upload URL, let the jobs and ingress run.
func (w *World) ImportCSV(t testing.TB, org, file string) {
	t.Helper()
	tok := w.Token(t, org, auth.Principal{Role: auth.Owner})
	rec := w.Do(t, "POST", "/v1/imports", tok, `{"filename":"leads.csv"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /v1/imports = %d %s", rec.Code, rec.Body)
	}
	created := Decode[struct{ UploadURL string }](t, rec)
	if rec := w.Do(t, "PUT", created.UploadURL, "", file, "Content-Type", "text/csv"); rec.Code != http.StatusOK {
		t.Fatalf("PUT upload = %d %s", rec.Code, rec.Body)
	}
	for w.Drain(t, jobs.Queue)+w.Drain(t, ingest.Queue) > 0 {
	}
}

// Ctx returns a context scoped to org (tenant.Platform for the platform).
func Ctx(org string) context.Context {
	if org == string(tenant.Platform) {
		return tenant.WithPlatform(context.Background())
	}
	return tenant.With(context.Background(), tenant.ID(org))
}

// Contacts returns up to 1,000 contacts of org.
func (w *World) Contacts(t testing.TB, org string) []contact.Contact {
	t.Helper()
	all, _, err := w.Stack.Contacts.List(Ctx(org), auth.Scope{All: true}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// Audited returns up to 1,000 audit entries of org with type typ.
func (w *World) Audited(t testing.TB, org, typ string) []audit.Entry {
	t.Helper()
	es, _, err := w.Stack.Audit.List(Ctx(org), audit.Filter{Type: typ, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// Decode decodes a JSON response body into a T.
func Decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}
