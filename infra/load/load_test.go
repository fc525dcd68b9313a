package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/stack"
	"github.com/alto/alto/shared/stacktest"
)

// serveStack serves a stack with its default rate limits on a loopback
// port, its queues polled as `serve` polls them, until the test ends.
func serveStack(t *testing.T) (string, *auth.Issuer) {
	t.Helper()
	w := stacktest.Open(t, func(c *stack.Config) { c.Now = time.Now })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: w.Stack.API, ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range w.Stack.Pollers() {
		p.Idle = 20 * time.Millisecond
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(ctx) }()
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
	})
	return "http://" + ln.Addr().String(), w.Stack.Issuer
}

// TestLoadShortRunHasNoErrors drives a stack with the default rate limits
// for a few seconds with the whole mix: every request must get its
// expected answer (no 429: clients keep to the limits), and every kind of
// request must have been sent.
func TestLoadShortRunHasNoErrors(t *testing.T) {
	base, issuer := serveStack(t)
	p := plan{base: base, tenants: 2, clients: 2, rate: 15, duration: 3 * time.Second, spreadAddrs: true,
		mint: func(org string, role auth.Role) (string, error) {
			return issuer.Mint(auth.Principal{Sub: "load", Org: org, Role: role}, 10*time.Minute)
		}}
	rep, err := drive(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	s := summarize(rep)
	var out strings.Builder
	s.print(&out, nil)
	t.Logf("report:\n%s", out.String())
	if s.errors != 0 {
		t.Errorf("errors = %d, want 0: %q", s.errors, s.firstErrors)
	}
	if min := 4 * 15 * 2; s.requests < min { // half the offered 4 × 15/s for 3 s
		t.Errorf("requests = %d, want at least %d", s.requests, min)
	}
	for _, k := range []string{"contacts.submit", "contacts.list", "contacts.get", "contacts.find"} {
		if !strings.Contains(out.String(), k) {
			t.Errorf("no %s request in the run", k)
		}
	}
	if s.p50 <= 0 || s.p99 < s.p50 || s.max < s.p99 {
		t.Errorf("latency p50 %v p99 %v max %v, want 0 < p50 ≤ p99 ≤ max", s.p50, s.p99, s.max)
	}
}

// TestLoadCountsAFailedAnswerAsAnError points the driver at a server that
// refuses everything after the setup: every request is an error, and the
// command would exit 1.
func TestLoadCountsAFailedAnswerAsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/campaigns" {
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":"cmp_1"}`)
			return
		}
		http.Error(w, `{"title":"Too Many Requests"}`, http.StatusTooManyRequests)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p := plan{base: "http://" + ln.Addr().String(), tenants: 1, clients: 1, rate: 20, duration: 500 * time.Millisecond,
		mint: func(string, auth.Role) (string, error) { return "token", nil }}
	rep, err := drive(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	s := summarize(rep)
	if s.requests == 0 || s.errors != s.requests {
		t.Errorf("requests %d, errors %d: want every request an error", s.requests, s.errors)
	}
	if len(s.firstErrors) == 0 || !strings.Contains(s.firstErrors[0], "status 429") {
		t.Errorf("first errors = %q, want the status named", s.firstErrors)
	}
}

func TestLoadReadsTheServersHeapFromGCTrace(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := &server{done: make(chan struct{})}
	lines := []struct {
		after time.Duration
		line  string
	}{
		{0, `{"time":"2026-03-02T10:00:00Z","level":"INFO","msg":"request"}`},
		{time.Second, "gc 1 @0.010s 1%: 0.012+0.3+0.002 ms clock, 0.02+0.1/0.2/0.1+0.005 ms cpu, 4->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P"},
		{5 * time.Second, "gc 2 @5.000s 1%: 0.012+0.3+0.002 ms clock, 0.02+0.1/0.2/0.1+0.005 ms cpu, 8->8->5 MB, 9 MB goal, 0 MB stacks, 0 MB globals, 2 P"},
		{9 * time.Second, "gc 3 @9.000s 1%: 0.012+0.3+0.002 ms clock, 0.02+0.1/0.2/0.1+0.005 ms cpu, 9->9->6 MB, 10 MB goal, 0 MB stacks, 0 MB globals, 2 P"},
		{20 * time.Second, "gc 4 @20.00s 1%: 0.012+0.3+0.002 ms clock, 0.02+0.1/0.2/0.1+0.005 ms cpu, 90->90->60 MB, 100 MB goal, 0 MB stacks, 0 MB globals, 2 P"},
	}
	for _, l := range lines {
		s.note(l.line, start.Add(l.after))
	}
	h := s.heap(start, start.Add(10*time.Second)) // the last cycle is after the run
	if h.cycles != 3 || h.start != 1 || h.end != 6 {
		t.Errorf("heap = %+v, want 3 cycles, 1 MiB at the start and 6 at the end", h)
	}
	if got := s.lastLines(); len(got) != 1 || !strings.Contains(got[0], `"msg":"request"`) {
		t.Errorf("last lines = %q, want the log line only", got)
	}
	cases := []struct {
		h    heapReport
		grew bool
	}{
		{heapReport{start: 10, end: 12, cycles: 9}, false},
		{heapReport{start: 10, end: 40, cycles: 9}, true},
		{heapReport{}, false},
	}
	for _, tc := range cases {
		if got := tc.h.grew(); got != tc.grew {
			t.Errorf("%+v grew = %v, want %v", tc.h, got, tc.grew)
		}
	}
}

func TestLoadFlags(t *testing.T) {
	cases := []struct {
		args []string
		err  string
	}{
		{nil, ""},
		{[]string{"--duration", "5s", "--tenants", "3"}, ""},
		{[]string{"--duration", "0s"}, "must be positive"},
		{[]string{"--addr", "http://127.0.0.1:8080"}, "needs --data"},
		{[]string{"extra"}, "unexpected argument"},
	}
	for _, tc := range cases {
		_, err := parse(tc.args, io.Discard)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("parse(%q) = %v, want %q", tc.args, err, tc.err)
		}
	}
	if err := run(context.Background(), []string{"--duration", "-1s"}, io.Discard, io.Discard); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("run with a bad flag = %v, want an error", err)
	}
}
