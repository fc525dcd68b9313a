package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a test endpoint that records what it was sent and answers
// with the statuses it is given, one per request (the last repeats).
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []*http.Request
	bodies   [][]byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, r)
	rc.bodies = append(rc.bodies, body)
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status = rc.statuses[0]
		if len(rc.statuses) > 1 {
			rc.statuses = rc.statuses[1:]
		}
	}
	rc.mu.Unlock()
	if status == http.StatusFound {
		w.Header().Set("Location", "https://example.com/elsewhere")
	}
	w.WriteHeader(status)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

func newReceiver(t *testing.T, statuses ...int) (*receiver, string) {
	t.Helper()
	rc := &receiver{statuses: statuses}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL + "/hooks/alto?token=abc123"
}

// sleeps records the waits of a Sender instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

var fixedNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func testSender(sl *sleeps) *Sender {
	return New(Options{Now: func() time.Time { return fixedNow }, AllowLoopback: true, Sleep: sl.sleep, Backoff: time.Second})
}

// TestINC01_WebhookReceiverVerifiesSignature is what a receiver does with
// the documented scheme, written from the package comment alone: HMAC-SHA256
// keyed with the secret over "<t>.<body>", hex in v1.
func TestINC01_WebhookReceiverVerifiesSignature(t *testing.T) {
	rc, url := newReceiver(t)
	secret := []byte("whsec_test-secret")
	body := []byte(`{"type":"incident.notice","incident":{"id":"inc-1"}}`)
	if err := testSender(&sleeps{}).Send(context.Background(), url, secret, "d-1", body); err != nil {
		t.Fatalf("send: %v", err)
	}
	if rc.count() != 1 {
		t.Fatalf("receiver got %d requests, want 1", rc.count())
	}
	r, got := rc.got[0], rc.bodies[0]
	if string(got) != string(body) || r.Header.Get("Content-Type") != "application/json" || r.Header.Get(DeliveryHeader) != "d-1" {
		t.Fatalf("received %q with headers %v", got, r.Header)
	}
	// The receiver's side, independent of this package's code.
	var ts, v1 string
	for _, part := range strings.Split(r.Header.Get("Alto-Signature"), ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "." + string(got)))
	if want := hex.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(v1), []byte(want)) {
		t.Errorf("v1 = %s, receiver computes %s", v1, want)
	}
	if ts != "1795168800" {
		t.Errorf("t = %s, want the sender's clock in unix seconds (1795168800)", ts)
	}
	if err := Verify(secret, r.Header.Get(SignatureHeader), got, fixedNow.Add(time.Minute), 0); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"a":1}`)
	good := Sign(secret, fixedNow, body)
	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"valid", secret, good, body, fixedNow, true},
		{"valid within tolerance", secret, good, body, fixedNow.Add(4 * time.Minute), true},
		{"second signature matches (rotation)", secret, good + ",v1=00ff", body, fixedNow, true},
		{"stale", secret, good, body, fixedNow.Add(6 * time.Minute), false},
		{"from the future", secret, good, body, fixedNow.Add(-6 * time.Minute), false},
		{"tampered body", secret, good, []byte(`{"a":2}`), fixedNow, false},
		{"wrong secret", []byte("other"), good, body, fixedNow, false},
		{"no signature", secret, "t=1795168800", body, fixedNow, false},
		{"malformed", secret, "garbage", body, fixedNow, false},
		{"empty", secret, "", body, fixedNow, false},
		{"timestamp swapped", secret, strings.Replace(good, "t=1795168800", "t=1795168801", 1), body, fixedNow, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, tt.body, tt.now, 0)
			if got := err == nil; got != tt.ok {
				t.Errorf("Verify = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrSignature) {
				t.Errorf("error %v does not wrap ErrSignature", err)
			}
		})
	}
}

func TestSendRetries(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		wantCalls int
		wantErr   error // nil: success; errAny: a transient failure
		wantWaits []time.Duration
	}{
		{"first try", []int{200}, 1, nil, nil},
		{"retries 5xx then succeeds", []int{503, 500, 204}, 3, nil, []time.Duration{time.Second, 2 * time.Second}},
		{"retries 429 and 408", []int{429, 408, 200}, 3, nil, []time.Duration{time.Second, 2 * time.Second}},
		{"gives up after the attempts", []int{500}, DefaultAttempts, errAny, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{"4xx is permanent", []int{404}, 1, ErrRefused, nil},
		{"redirect not followed", []int{302}, 1, ErrRefused, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, url := newReceiver(t, tt.statuses...)
			sl := &sleeps{}
			err := testSender(sl).Send(context.Background(), url, []byte("k"), "d-7", []byte(`{}`))
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Send = %v, want success", err)
			case tt.wantErr == errAny && (err == nil || errors.Is(err, ErrRefused)):
				t.Fatalf("Send = %v, want a transient error", err)
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("Send = %v, want %v", err, tt.wantErr)
			}
			if rc.count() != tt.wantCalls {
				t.Errorf("receiver got %d requests, want %d", rc.count(), tt.wantCalls)
			}
			for _, r := range rc.got {
				if r.Header.Get(DeliveryHeader) != "d-7" {
					t.Errorf("delivery id = %q on a retry, want the same d-7", r.Header.Get(DeliveryHeader))
				}
			}
			if strings.Join(durations(sl.d), ",") != strings.Join(durations(tt.wantWaits), ",") {
				t.Errorf("waits = %v, want %v", sl.d, tt.wantWaits)
			}
			if err != nil && strings.Contains(err.Error(), "abc123") {
				t.Errorf("error %q leaks the URL's query", err)
			}
		})
	}
}

var errAny = errors.New("any transient error")

func durations(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

func TestSendTimesOut(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(func() { close(block); srv.Close() })
	s := New(Options{AllowLoopback: true, Attempts: 1, Timeout: 50 * time.Millisecond})
	err := s.Send(context.Background(), srv.URL, []byte("k"), "d", []byte(`{}`))
	if err == nil || errors.Is(err, ErrRefused) || errors.Is(err, ErrURL) {
		t.Fatalf("Send to a hanging receiver = %v, want a transient timeout error", err)
	}
}

func TestCheckRefusesUnsafeURLs(t *testing.T) {
	strict := New(Options{})
	loose := New(Options{AllowLoopback: true})
	tests := []struct {
		url          string
		strict, loop bool // allowed by each sender
	}{
		{"https://hooks.example.com/alto", true, true},
		{"https://203.0.114.9:8443/x?y=1", true, true},
		{"https://[2606:4700::1]/x", true, true},
		{"http://hooks.example.com/alto", false, false},
		{"ftp://hooks.example.com/", false, false},
		{"https://user:pw@hooks.example.com/", false, false},
		{"https://hooks.example.com/#frag", false, false},
		{"/relative", false, false},
		{"https://", false, false},
		{"https://10.0.0.5/", false, false},
		{"https://192.168.1.1/", false, false},
		{"https://172.16.3.4/", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://100.64.0.1/", false, false},
		{"https://0.0.0.0/", false, false},
		{"https://[fd00::1]/", false, false},
		{"https://[fe80::1]/", false, false},
		{"https://[::ffff:10.0.0.1]/", false, false},
		{"https://224.0.0.1/", false, false},
		{"https://metadata.internal/", false, false},
		{"https://127.0.0.1/", false, true},
		{"http://127.0.0.1:8080/", false, true},
		{"http://localhost:8080/", false, true},
		{"https://[::1]/", false, true},
		{"https://hooks.example.com/" + strings.Repeat("a", MaxURLLen), false, false},
	}
	for _, tt := range tests {
		name := tt.url
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				s    *Sender
				want bool
				name string
			}{{strict, tt.strict, "strict"}, {loose, tt.loop, "allow-loopback"}} {
				err := c.s.Check(tt.url)
				if (err == nil) != c.want {
					t.Errorf("%s Check = %v, want allowed=%v", c.name, err, c.want)
				}
				if err != nil && !errors.Is(err, ErrURL) {
					t.Errorf("%s: error %v does not wrap ErrURL", c.name, err)
				}
			}
		})
	}
}

// TestDialRefusesInternalAddresses checks the address a connection reaches,
// which is what stops a public name that resolves to an internal address.
func TestDialRefusesInternalAddresses(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"93.184.215.14:443", true},
		{"[2606:4700::1]:443", true},
		{"127.0.0.1:443", false},
		{"10.1.2.3:443", false},
		{"169.254.169.254:80", false},
		{"[::1]:443", false},
		{"[::ffff:127.0.0.1]:443", false},
		{"[64:ff9b::a00:1]:443", false},
		{"nonsense", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := checkDialed(tt.addr, false)
			if (err == nil) != tt.want {
				t.Errorf("checkDialed(%s) = %v, want allowed=%v", tt.addr, err, tt.want)
			}
		})
	}
	if !allowedAddr(netip.MustParseAddr("127.0.0.1"), true) {
		t.Error("loopback refused with AllowLoopback")
	}
	// A strict Sender cannot reach a loopback receiver even by name.
	rc, url := newReceiver(t)
	s := New(Options{Attempts: 1})
	url = strings.Replace(url, "http://", "https://", 1)
	if err := s.Send(context.Background(), url, []byte("k"), "d", []byte(`{}`)); !errors.Is(err, ErrURL) {
		t.Errorf("strict Send to loopback = %v, want ErrURL", err)
	}
	if rc.count() != 0 {
		t.Errorf("the loopback receiver got %d requests, want 0", rc.count())
	}
}

func TestSendStopsWhenContextEnds(t *testing.T) {
	rc, url := newReceiver(t, 503)
	ctx, cancel := context.WithCancel(context.Background())
	s := New(Options{AllowLoopback: true, Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}})
	err := s.Send(ctx, url, []byte("k"), "d", []byte(`{}`))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send = %v, want context.Canceled", err)
	}
	if rc.count() != 1 {
		t.Errorf("receiver got %d requests, want 1", rc.count())
	}
}
