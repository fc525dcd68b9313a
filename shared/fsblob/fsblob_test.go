package fsblob_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/alto/alto/shared/clocktest"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/blobtest"
	"github.com/alto/alto/shared/fsblob"
	"github.com/alto/alto/shared/tenant"
)

// clock is the tests' settable clock.
type clock = clocktest.Clock

var secret = bytes.Repeat([]byte("0123456789abcdef"), 2)

func newClock() *clock { return clocktest.At(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

type fixture struct {
	store  *fsblob.Store
	root   string
	clock  *clock
	server *httptest.Server
}

// newFixture returns a store over a fresh directory whose handler an
// httptest server serves. opts.Now, Secret and BaseURL are filled in.
func newFixture(t *testing.T, opts fsblob.Options) *fixture {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := newClock()
	opts.Now, opts.Secret, opts.BaseURL = c.Now, secret, srv.URL
	root := filepath.Join(t.TempDir(), "blobs")
	s, err := fsblob.New(root, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux.Handle("/blob/", s.Handler())
	return &fixture{store: s, root: root, clock: c, server: srv}
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Harness {
		f := newFixture(t, fsblob.Options{})
		return blobtest.Harness{Store: f.store, Advance: f.clock.Advance, HTTPClient: f.server.Client()}
	})
}

func ctxOf(t *testing.T, id tenant.ID) context.Context { return tenant.With(t.Context(), id) }

func TestNewRefusesBadOptions(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		name string
		opts fsblob.Options
	}{
		{"no secret", fsblob.Options{BaseURL: "http://127.0.0.1:8080"}},
		{"short secret", fsblob.Options{Secret: secret[:31], BaseURL: "http://127.0.0.1:8080"}},
		{"relative base URL", fsblob.Options{Secret: secret, BaseURL: "/blob"}},
		{"ftp base URL", fsblob.Options{Secret: secret, BaseURL: "ftp://host"}},
		{"base URL with query", fsblob.Options{Secret: secret, BaseURL: "http://host/?a=b"}},
		{"negative max upload", fsblob.Options{Secret: secret, BaseURL: "http://host", MaxUpload: -1}},
	} {
		if _, err := fsblob.New(root, tc.opts); err == nil {
			t.Errorf("New with %s succeeded, want an error", tc.name)
		}
	}
}

func TestLayoutAndPermissions(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	for _, key := range []string{"a", "a/b", "x/y/z.csv"} {
		if _, err := f.store.Put(ctxOf(t, "acme"), key, strings.NewReader("data")); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
	}
	if _, err := f.store.Put(tenant.WithPlatform(t.Context()), "notice", strings.NewReader("p")); err != nil {
		t.Fatalf("Put as platform: %v", err)
	}

	var files []string
	err := filepath.WalkDir(f.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			rel, _ := filepath.Rel(f.root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s has mode %v, want %v", path, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	slices.Sort(files)
	want := []string{"_platform/o_notice", "acme/d_a/o_b", "acme/d_x/d_y/o_z.csv", "acme/o_a"}
	if !slices.Equal(files, want) {
		t.Fatalf("files = %q, want %q", files, want)
	}
}

func TestInvalidKeysReachNoFile(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	ctx := ctxOf(t, "acme")
	for _, key := range []string{
		"a//b", "a/", "./a", "a/.", "a\\..\\..\\b", "a\nb", "a\x7fb", "\xff", strings.Repeat("s", 254),
	} {
		_, err := f.store.Put(ctx, key, strings.NewReader("x"))
		if key == "a\\..\\..\\b" {
			// A backslash is an ordinary character here, so the key is
			// valid and stays inside the tenant.
			if err != nil {
				t.Errorf("Put(%q) = %v, want nil", key, err)
			}
			continue
		}
		if !errors.Is(err, blob.ErrInvalid) {
			t.Errorf("Put(%q) = %v, want ErrInvalid", key, err)
		}
		if err != nil && strings.Contains(err.Error(), key) {
			t.Errorf("Put(%q) error %q contains the key", key, err)
		}
	}
	entries, err := os.ReadDir(f.root)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	if len(entries) != 1 || entries[0].Name() != "acme" {
		t.Fatalf("root holds %v, want only acme", entries)
	}
}

func TestTempFilesNeverListedAndSweptWhenStale(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	ctx := ctxOf(t, "acme")
	if _, err := f.store.Put(ctx, "dir/obj", strings.NewReader("x")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	// What a crash in the middle of Put leaves behind.
	stale := filepath.Join(f.root, "acme", "d_dir", ".tmp-123")
	fresh := filepath.Join(f.root, "acme", ".tmp-456")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial upload"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	page, err := f.store.List(ctx, "", "", 0)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(page.Objects) != 1 || page.Objects[0].Key != "dir/obj" {
		t.Fatalf("List = %+v, want only dir/obj", page.Objects)
	}
	for _, key := range []string{".tmp-456", "dir/.tmp-123"} {
		if _, err := f.store.Get(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
		}
	}

	// A new store over the same root removes the stale file only.
	if _, err := fsblob.New(f.root, fsblob.Options{Secret: secret, BaseURL: "http://127.0.0.1:1"}); err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file: Stat = %v, want it removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file: Stat = %v, want it kept (a Put may be writing it)", err)
	}
}

func TestDeleteRemovesEmptyDirectories(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	ctx := ctxOf(t, "acme")
	for _, key := range []string{"a/b/c/d", "a/keep"} {
		if _, err := f.store.Put(ctx, key, strings.NewReader("x")); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if err := f.store.Delete(ctx, "a/b/c/d"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "acme", "d_a", "d_b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("emptied directory: Stat = %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "acme", "d_a", "o_keep")); err != nil {
		t.Errorf("sibling: Stat = %v, want it kept", err)
	}
}

// TestConcurrentPutDelete races writers against deletes of siblings that
// empty the shared directory; Put must never fail for it.
func TestConcurrentPutDelete(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	ctx := ctxOf(t, "acme")
	var wg sync.WaitGroup
	for i := range 4 {
		key := "shared/dir/" + string(rune('a'+i))
		wg.Go(func() {
			for range 50 {
				if _, err := f.store.Put(ctx, key, strings.NewReader("x")); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				if err := f.store.Delete(ctx, key); err != nil {
					t.Errorf("Delete: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestListLimitDefault(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	ctx := ctxOf(t, "acme")
	for _, key := range []string{"a", "b"} {
		if _, err := f.store.Put(ctx, key, strings.NewReader("x")); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	for _, limit := range []int{0, -1, fsblob.MaxListLimit + 1} {
		page, err := f.store.List(ctx, "", "", limit)
		if err != nil || len(page.Objects) != 2 || page.Next != "" {
			t.Errorf("List(limit %d) = %d objects, Next %q, %v; want 2, \"\", nil", limit, len(page.Objects), page.Next, err)
		}
	}
}

type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// request sends a request and returns the response with its body read.
func request(t *testing.T, f *fixture, method, url string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.server.Client().Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read: %v", method, err)
	}
	return resp, data
}

// checkProblem fails the test unless resp is an RFC 9457 problem of status
// whose body names nothing of the store's internals.
func checkProblem(t *testing.T, f *fixture, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", got)
	}
	checkSecureHeaders(t, resp)
	var p problemDoc
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("body %s is not a problem document: %v", body, err)
	}
	if p.Type != "about:blank" || p.Status != status || p.Title != http.StatusText(status) || p.Detail == "" {
		t.Errorf("problem = %+v, want type about:blank, status %d, title %q and a detail", p, status, http.StatusText(status))
	}
	for _, leak := range []string{f.root, "acme", "o_", "d_", ".tmp", "fsblob", "hmac", "secret"} {
		if strings.Contains(strings.ToLower(string(body)), strings.ToLower(leak)) {
			t.Errorf("problem body %s leaks %q", body, leak)
		}
	}
}

func checkSecureHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	for name, want := range map[string]string{
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("Strict-Transport-Security is missing")
	}
}

func sign(t *testing.T, f *fixture, method, key string, ttl time.Duration) string {
	t.Helper()
	u, err := f.store.SignURL(ctxOf(t, "acme"), method, key, ttl)
	if err != nil {
		t.Fatalf("SignURL: %v", err)
	}
	return u
}

func TestSignedURLShape(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	u := sign(t, f, http.MethodPut, "in/file 1.csv", time.Minute)
	wantPrefix := f.server.URL + "/blob/acme/in/file%201.csv?method=PUT&expires=" +
		"1893553505" + "&sig=" // 2030-01-02T03:04:05Z + 1 minute
	if !strings.HasPrefix(u, wantPrefix) {
		t.Fatalf("SignURL = %q, want prefix %q", u, wantPrefix)
	}
	if _, err := f.store.SignURL(ctxOf(t, "acme"), http.MethodGet, "k", fsblob.MaxURLTTL+time.Second); err == nil {
		t.Errorf("SignURL with a ttl over MaxURLTTL succeeded, want an error")
	}
}

func TestNoBaseURL(t *testing.T) {
	s, err := fsblob.New(t.TempDir(), fsblob.Options{Secret: secret})
	if err != nil {
		t.Fatalf("New without a base URL: %v", err)
	}
	if _, err := s.Put(ctxOf(t, "acme"), "k", strings.NewReader("x")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if u, err := s.SignURL(ctxOf(t, "acme"), http.MethodGet, "k", time.Minute); err == nil {
		t.Fatalf("SignURL without a base URL = %q, want an error", u)
	}
}

func TestHandlerGet(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	if _, err := f.store.Put(ctxOf(t, "acme"), "doc.html", strings.NewReader("<script>alert(1)</script>")); err != nil {
		t.Fatal(err)
	}
	resp, body := request(t, f, http.MethodGet, sign(t, f, http.MethodGet, "doc.html", time.Minute), nil)
	if resp.StatusCode != http.StatusOK || string(body) != "<script>alert(1)</script>" {
		t.Fatalf("GET = %d %q, want 200 and the object", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/octet-stream" {
		t.Errorf("Content-Type = %q, want application/octet-stream", got)
	}
	checkSecureHeaders(t, resp)

	resp, body = request(t, f, http.MethodGet, sign(t, f, http.MethodGet, "missing", time.Minute), nil)
	checkProblem(t, f, resp, body, http.StatusNotFound)
}

func TestHandlerRefusals(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	getURL := sign(t, f, http.MethodGet, "k", time.Minute)
	for _, tc := range []struct {
		name, method, url string
		status            int
	}{
		{"DELETE", http.MethodDelete, getURL, http.StatusMethodNotAllowed},
		{"POST", http.MethodPost, getURL, http.StatusMethodNotAllowed},
		{"HEAD is not GET", http.MethodHead, getURL, http.StatusMethodNotAllowed},
		{"no query", http.MethodGet, strings.Split(getURL, "?")[0], http.StatusForbidden},
		{"bad sig encoding", http.MethodGet, getURL + "%%%", http.StatusForbidden},
		{"duplicate parameter", http.MethodGet, getURL + "&expires=99999999999", http.StatusForbidden},
		{"extra parameter", http.MethodGet, getURL + "&x=1", http.StatusForbidden},
		{"no org", http.MethodGet, f.server.URL + "/blob/acme", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := request(t, f, tc.method, tc.url, nil)
			if tc.method == http.MethodHead {
				if resp.StatusCode != tc.status {
					t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
				}
				return
			}
			checkProblem(t, f, resp, body, tc.status)
			if tc.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "GET, PUT" {
				t.Errorf("Allow = %q, want \"GET, PUT\"", resp.Header.Get("Allow"))
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		u := sign(t, f, http.MethodGet, "k", time.Minute)
		f.clock.Advance(time.Minute)
		resp, body := request(t, f, http.MethodGet, u, nil)
		checkProblem(t, f, resp, body, http.StatusForbidden)
	})
}

func TestHandlerPutLimitAndOnPut(t *testing.T) {
	type event struct {
		org tenant.ID
		obj blob.Object
	}
	var (
		mu     sync.Mutex
		events []event
	)
	f := newFixture(t, fsblob.Options{
		MaxUpload: 1000,
		OnPut: func(ctx context.Context, org tenant.ID, obj blob.Object) {
			if got, err := tenant.From(ctx); err != nil || got != org {
				t.Errorf("OnPut context tenant = %q, %v; want %q", got, err, org)
			}
			mu.Lock()
			events = append(events, event{org, obj})
			mu.Unlock()
		},
	})

	// Exactly the limit is accepted.
	u := sign(t, f, http.MethodPut, "in/ok.csv", time.Minute)
	resp, body := request(t, f, http.MethodPut, u, bytes.NewReader(make([]byte, 1000)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT of 1000 bytes = %d %s, want 200", resp.StatusCode, body)
	}
	checkSecureHeaders(t, resp)
	mu.Lock()
	got := slices.Clone(events)
	mu.Unlock()
	if len(got) != 1 || got[0].org != "acme" || got[0].obj.Key != "in/ok.csv" || got[0].obj.Size != 1000 || got[0].obj.Modified.IsZero() {
		t.Fatalf("OnPut events = %+v, want one for acme in/ok.csv of 1000 bytes", got)
	}

	// Over the limit: announced, or discovered while streaming (no length).
	u = sign(t, f, http.MethodPut, "in/big.csv", time.Minute)
	resp, body = request(t, f, http.MethodPut, u, bytes.NewReader(make([]byte, 1001)))
	checkProblem(t, f, resp, body, http.StatusRequestEntityTooLarge)
	resp, body = request(t, f, http.MethodPut, u, struct{ io.Reader }{bytes.NewReader(make([]byte, 5000))})
	checkProblem(t, f, resp, body, http.StatusRequestEntityTooLarge)

	if _, err := f.store.Get(ctxOf(t, "acme"), "in/big.csv"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get after refused uploads = %v, want ErrNotFound", err)
	}
	page, err := f.store.List(ctxOf(t, "acme"), "", "", 10)
	if err != nil || len(page.Objects) != 1 {
		t.Errorf("List after refused uploads = %+v, %v; want only in/ok.csv", page.Objects, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 1 {
		t.Errorf("OnPut called %d times, want once (refused uploads are no event)", len(events))
	}
}

func TestPlatformSignedURL(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	ctx := tenant.WithPlatform(t.Context())
	if _, err := f.store.Put(ctx, "digest", strings.NewReader("platform data")); err != nil {
		t.Fatal(err)
	}
	u, err := f.store.SignURL(ctx, http.MethodGet, "digest", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := request(t, f, http.MethodGet, u, nil)
	if resp.StatusCode != http.StatusOK || string(body) != "platform data" {
		t.Fatalf("GET = %d %q, want 200 and the object", resp.StatusCode, body)
	}
}

func TestErrorsCarryNoPath(t *testing.T) {
	f := newFixture(t, fsblob.Options{})
	ctx := ctxOf(t, "acme")
	if _, err := f.store.Put(ctx, "x", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	// A file where the key's directory belongs makes Put fail in the file
	// system, even when the tests run as root.
	if err := os.WriteFile(filepath.Join(f.root, "acme", "d_dir"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := f.store.Put(ctx, "dir/jane.doe@example.com", strings.NewReader("x"))
	if err == nil {
		t.Fatal("Put succeeded, want a file system error")
	}
	if msg := err.Error(); strings.Contains(msg, f.root) || strings.Contains(msg, "jane") || !strings.HasPrefix(msg, "fsblob: put:") {
		t.Fatalf("error %q names a path or the key, or not the operation", msg)
	}
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("error %v does not wrap ENOTDIR", err)
	}
	t.Logf("error: %v", err)
}
