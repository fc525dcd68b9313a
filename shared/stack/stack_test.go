package stack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestENC06_RequestLogsCarryNoPII(t *testing.T) {
	var logs syncBuffer
	st, err := Open(Config{Data: t.TempDir(), Log: slog.NewJSONHandler(&logs, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, err := st.Issuer.Mint(auth.Principal{Sub: "jane.doe@example.com", Org: "acme", Role: auth.Owner}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	pii := []string{"jane.doe@example.com", "+14155552671", "203.0.113.77", tok}
	requests := []*http.Request{
		httptest.NewRequest("GET", "/v1/me", nil),
		httptest.NewRequest("GET", "/v1/audit?type=jane.doe@example.com&from=+14155552671", nil),
		httptest.NewRequest("GET", "/v1/contacts/jane.doe@example.com", nil),
		httptest.NewRequest("GET", "/v1/me", nil),
	}
	requests[0].Header.Set("Authorization", "Bearer "+tok)
	requests[1].Header.Set("Authorization", "Bearer "+tok)
	requests[3].Header.Set("Authorization", "Bearer "+tok+"x") // refused
	for _, r := range requests {
		r.RemoteAddr = "203.0.113.77:4444"
		st.API.ServeHTTP(httptest.NewRecorder(), r)
	}
	got := logs.String()
	if strings.Count(got, `"msg":"request"`) != len(requests) {
		t.Fatalf("want one log line per request, got:\n%s", got)
	}
	for _, s := range pii {
		if strings.Contains(got, s) {
			t.Errorf("logs contain %q:\n%s", s, got)
		}
	}
	// The audit log names the actor by a digest, not the e-mail address.
	entries, _, err := st.Audit.List(tenant.With(context.Background(), "acme"), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Actor, "@") || !strings.HasPrefix(e.Actor, "sha256:") {
			t.Errorf("audit actor = %q, want a digest", e.Actor)
		}
	}
}

func TestSweepRemovesExpiredItems(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st, err := Open(Config{Data: t.TempDir(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := tenant.With(context.Background(), "acme")
	var items []store.Item
	for i := 0; i < 2500; i++ {
		items = append(items, store.Item{PK: "P", SK: fmt.Sprintf("S%05d", i),
			ExpiresAt: now.Add(time.Hour)})
	}
	items = append(items, store.Item{PK: "P", SK: "keep"})
	if err := st.Store.BatchPut(ctx, items); err != nil {
		t.Fatal(err)
	}
	var sweep Schedule
	for _, s := range st.Schedules() {
		if s.Name == "sweep" {
			sweep = s
		}
	}
	if sweep.Every != time.Hour {
		t.Fatalf("sweep period = %v, want 1h", sweep.Every)
	}
	if err := sweep.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.DB.Store().DeleteExpired(context.Background(), 10000); n != 0 {
		t.Fatalf("the sweep removed items before they expired")
	}
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	if err := sweep.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.DB.Store().DeleteExpired(context.Background(), 10000); n != 0 {
		t.Errorf("after the sweep %d expired items remain", n)
	}
	if _, err := st.Store.Get(ctx, store.Key{PK: "P", SK: "keep"}); err != nil {
		t.Errorf("the sweep removed an item without expiry: %v", err)
	}
}
