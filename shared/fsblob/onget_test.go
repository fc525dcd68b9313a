package fsblob_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/fsblob"
	"github.com/alto/alto/shared/tenant"
)

// TestHandlerOnGet checks the download hook: called with the tenant and
// key before an existing object is served, able to refuse it, and never
// called for what is not served.
func TestHandlerOnGet(t *testing.T) {
	var (
		mu     sync.Mutex
		calls  []string
		refuse bool
	)
	f := newFixture(t, fsblob.Options{OnGet: func(ctx context.Context, org tenant.ID, key string) error {
		if got, err := tenant.From(ctx); err != nil || got != org {
			t.Errorf("OnGet context tenant = %q, %v; want %q", got, err, org)
		}
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, string(org)+"/"+key)
		if refuse {
			return errors.New("audit log unavailable")
		}
		return nil
	}})
	if _, err := f.store.Put(ctxOf(t, "acme"), "exports/a.zip", strings.NewReader("archive")); err != nil {
		t.Fatal(err)
	}
	got := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), calls...) }

	tests := []struct {
		name      string
		key       string
		expire    bool
		refuse    bool
		status    int
		wantCalls int
	}{
		{"served", "exports/a.zip", false, false, http.StatusOK, 1},
		{"refused by the hook", "exports/a.zip", false, true, http.StatusInternalServerError, 1},
		{"missing object", "exports/none.zip", false, false, http.StatusNotFound, 0},
		{"expired link", "exports/a.zip", true, false, http.StatusForbidden, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(got())
			mu.Lock()
			refuse = tc.refuse
			mu.Unlock()
			u := sign(t, f, http.MethodGet, tc.key, time.Minute)
			if tc.expire {
				f.clock.Advance(2 * time.Minute)
			}
			resp, body := request(t, f, http.MethodGet, u, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET = %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status == http.StatusOK && string(body) != "archive" {
				t.Errorf("body = %q, want the object", body)
			}
			if tc.status != http.StatusOK && strings.Contains(string(body), "archive") {
				t.Errorf("refused GET leaked the object: %q", body)
			}
			if n := len(got()) - before; n != tc.wantCalls {
				t.Errorf("OnGet calls = %d, want %d (%v)", n, tc.wantCalls, got())
			}
		})
	}
	if c := got(); len(c) == 0 || c[0] != "acme/exports/a.zip" {
		t.Errorf("OnGet calls = %v, want acme/exports/a.zip first", c)
	}
}
