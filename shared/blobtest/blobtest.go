// Package blobtest is the contract suite for blob.Store: every adapter's
// tests call Run with a constructor for a fresh, empty store, the way
// testing/slogtest checks a slog.Handler.
//
// The suite exercises signed URLs for real, over HTTP, so an adapter's
// harness must serve them (an httptest server for an embedded adapter, the
// storage service for a cloud one).
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/tenant"
)

// Tenants the suite works as. Isolation subtests check that one cannot reach
// the other's objects.
const (
	TenantA tenant.ID = "acme"
	TenantB tenant.ID = "globex"
)

// Harness is what the suite needs from an adapter.
type Harness struct {
	// Store is the store under test. It must be empty for both tenants.
	Store blob.Store
	// Advance moves the store's clock forward by d: signed URL expiry and
	// Object.Modified follow it. Nil means the adapter's time cannot be
	// controlled (a real cloud service); subtests that need it are skipped.
	Advance func(d time.Duration)
	// HTTPClient sends requests to signed URLs. Nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Run runs the contract suite, one subtest per promise. newHarness is called
// once per subtest and must return a harness over a fresh, empty store; it
// registers its own clean-up with t.Cleanup.
//
// Besides the blob.Store documentation, the suite holds adapters to these
// rules, which S3 also follows: keys are 1 to 1024 bytes, never contain NUL
// or a "." or ".." segment, never start with "/", and a key may be the
// prefix of another ("a" and "a/b"); a failed or canceled Put returns an
// error wrapping the reader's or the context's; a signed URL carries the
// tenant and key in its path and its credentials in query parameters that
// the signature covers, and works with a plain HTTP client (a PUT with a
// Content-Length); a refused request gets a 4xx status and no object bytes.
//
// Subtests whose name contains ACC03 prove tenant isolation (SPEC ACC-03).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"PutGetLargeStreamed", testPutGetLarge},
		{"Overwrite", testOverwrite},
		{"GetMissing", testGetMissing},
		{"DeleteIdempotent", testDeleteIdempotent},
		{"ListByPrefixPaged", testListPaged},
		{"KeyIsPrefixOfAnother", testKeyIsPrefixOfAnother},
		{"MaxLengthKey", testMaxLengthKey},
		{"InvalidKeys", testInvalidKeys},
		{"NoTenant", testNoTenant},
		{"ACC03_TenantIsolation", testTenantIsolation},
		{"ACC03_SignedURLBoundToTenant", testSignedURLBoundToTenant},
		{"FailedPutLeavesNothing", testFailedPut},
		{"CanceledPutLeavesNothing", testCanceledPut},
		{"ConcurrentPutsSameKey", testConcurrentPuts},
		{"ModifiedFollowsClock", testModifiedFollowsClock},
		{"SignURLRefusesBadArguments", testSignURLBadArguments},
		{"SignedGET", testSignedGet},
		{"SignedGETExpires", testSignedGetExpires},
		{"SignedPUT", testSignedPut},
		{"SignedPUTExpires", testSignedPutExpires},
		{"SignedURLTampered", testSignedURLTampered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if h.Store == nil {
				t.Fatal("blobtest: Harness.Store is nil")
			}
			client := h.HTTPClient
			if client == nil {
				client = http.DefaultClient
			}
			tc.fn(t, &suite{h: h, client: client})
		})
	}
}

type suite struct {
	h      Harness
	client *http.Client
}

func (s *suite) ctx(t *testing.T, id tenant.ID) context.Context {
	return tenant.With(t.Context(), id)
}

func (s *suite) needClock(t *testing.T) {
	t.Helper()
	if s.h.Advance == nil {
		t.Skip("blobtest: Harness.Advance is nil: the store's clock cannot be controlled")
	}
}

// put stores data under key for tenant id and fails the test on error.
func (s *suite) put(t *testing.T, id tenant.ID, key string, data []byte) blob.Object {
	t.Helper()
	obj, err := s.h.Store.Put(s.ctx(t, id), key, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if obj.Key != key || obj.Size != int64(len(data)) {
		t.Fatalf("Put(%q) = {Key:%q Size:%d}, want {Key:%q Size:%d}", key, obj.Key, obj.Size, key, len(data))
	}
	return obj
}

// get returns the object at key for tenant id, or the error of Get.
func (s *suite) get(t *testing.T, id tenant.ID, key string) ([]byte, error) {
	t.Helper()
	rc, err := s.h.Store.Get(s.ctx(t, id), key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return data, nil
}

// mustGet fails the test unless the object at key holds want.
func (s *suite) mustGet(t *testing.T, id tenant.ID, key string, want []byte) {
	t.Helper()
	got, err := s.get(t, id, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes %.32q, want %d bytes %.32q", key, len(got), got, len(want), want)
	}
}

// mustNotFound fails the test unless Get(key) returns ErrNotFound.
func (s *suite) mustNotFound(t *testing.T, id tenant.ID, key string) {
	t.Helper()
	if _, err := s.get(t, id, key); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get(%q) error = %v, want ErrNotFound", key, err)
	}
}

// listAll pages through List with the given page size and returns every
// object.
func (s *suite) listAll(t *testing.T, id tenant.ID, prefix string, limit int) []blob.Object {
	t.Helper()
	var all []blob.Object
	cursor := ""
	for range 10_000 {
		page, err := s.h.Store.List(s.ctx(t, id), prefix, cursor, limit)
		if err != nil {
			t.Fatalf("List(%q, %q, %d): %v", prefix, cursor, limit, err)
		}
		if len(page.Objects) > limit {
			t.Fatalf("List(%q, %q, %d) returned %d objects, want at most %d", prefix, cursor, limit, len(page.Objects), limit)
		}
		all = append(all, page.Objects...)
		if page.Next == "" {
			return all
		}
		if len(page.Objects) == 0 {
			t.Fatalf("List(%q, %q, %d) returned an empty page with Next %q", prefix, cursor, limit, page.Next)
		}
		cursor = page.Next
	}
	t.Fatalf("List(%q, ..., %d) did not finish after 10000 pages", prefix, limit)
	return nil
}

func keysOf(objs []blob.Object) []string {
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys
}

// generator returns a reader of n deterministic pseudo-random bytes that
// implements nothing but Read, so the store must stream it.
func generator(seed uint64, n int64) io.Reader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return struct{ io.Reader }{io.LimitReader(rand.NewChaCha8(s), n)}
}

// digest returns the SHA-256 of what generator(seed, n) yields.
func digest(t *testing.T, seed uint64, n int64) [32]byte {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, generator(seed, n)); err != nil {
		t.Fatalf("hash generator: %v", err)
	}
	return [32]byte(h.Sum(nil))
}

var errReader = errors.New("blobtest: reader failed on purpose")

// failingReader yields what r yields, then fails with errReader where r
// would end.
type failingReader struct {
	r io.Reader
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errReader
	}
	return n, err
}

func testPutGetLarge(t *testing.T, s *suite) {
	const size = 8<<20 + 12345 // not a multiple of any buffer size
	want := digest(t, 1, size)

	obj, err := s.h.Store.Put(s.ctx(t, TenantA), "large/object.bin", generator(1, size))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if obj.Key != "large/object.bin" || obj.Size != size {
		t.Errorf("Put = {Key:%q Size:%d}, want {Key:%q Size:%d}", obj.Key, obj.Size, "large/object.bin", size)
	}
	if obj.Modified.IsZero() {
		t.Errorf("Put: Modified is zero")
	}

	rc, err := s.h.Store.Get(s.ctx(t, TenantA), "large/object.bin")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("Get: read: %v", err)
	}
	if n != size || [32]byte(h.Sum(nil)) != want {
		t.Fatalf("Get returned %d bytes with a different digest, want the %d bytes put", n, int64(size))
	}
}

func testOverwrite(t *testing.T, s *suite) {
	s.put(t, TenantA, "doc", []byte("first version, longer than the second"))
	s.put(t, TenantA, "doc", []byte("second"))
	s.mustGet(t, TenantA, "doc", []byte("second"))

	objs := s.listAll(t, TenantA, "", 10)
	if len(objs) != 1 || objs[0].Key != "doc" || objs[0].Size != int64(len("second")) {
		t.Fatalf("List after overwrite = %+v, want one object doc of %d bytes", objs, len("second"))
	}
}

func testGetMissing(t *testing.T, s *suite) {
	s.mustNotFound(t, TenantA, "missing")
	s.put(t, TenantA, "dir/present", []byte("x"))
	s.mustNotFound(t, TenantA, "dir")     // a prefix is not an object
	s.mustNotFound(t, TenantA, "dir/pre") // neither is part of a key
	s.mustNotFound(t, TenantA, "dir/present/child")
}

func testDeleteIdempotent(t *testing.T, s *suite) {
	ctx := s.ctx(t, TenantA)
	if err := s.h.Store.Delete(ctx, "never/existed"); err != nil {
		t.Fatalf("Delete(missing) = %v, want nil", err)
	}
	s.put(t, TenantA, "a/b/c", []byte("x"))
	s.put(t, TenantA, "a/keep", []byte("y"))
	for i := range 2 {
		if err := s.h.Store.Delete(ctx, "a/b/c"); err != nil {
			t.Fatalf("Delete #%d = %v, want nil", i+1, err)
		}
	}
	s.mustNotFound(t, TenantA, "a/b/c")
	s.mustGet(t, TenantA, "a/keep", []byte("y"))
	if got := keysOf(s.listAll(t, TenantA, "", 10)); !slices.Equal(got, []string{"a/keep"}) {
		t.Fatalf("List after Delete = %q, want [a/keep]", got)
	}
	// The key can be used again.
	s.put(t, TenantA, "a/b/c", []byte("z"))
	s.mustGet(t, TenantA, "a/b/c", []byte("z"))
}

func testListPaged(t *testing.T, s *suite) {
	// Byte order, not path order: '-' (0x2d) < '.' < '/' (0x2f) < '0'.
	keys := []string{
		"b", "a/2", "a/10", "a/1", "a-b", "a.c", "a/b/c", "a/b/d", "a/1/x",
		"ab", "a/Z", "a/é", "reports/2024/q1", "reports/2024/q2", "reports/2025/q1",
	}
	for i, k := range keys {
		s.put(t, TenantA, k, bytes.Repeat([]byte{'x'}, i+1))
	}
	size := map[string]int64{}
	for i, k := range keys {
		size[k] = int64(i + 1)
	}
	sorted := slices.Sorted(slices.Values(keys))

	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", sorted},
		{"a/", []string{"a/1", "a/1/x", "a/10", "a/2", "a/Z", "a/b/c", "a/b/d", "a/é"}},
		{"a", []string{"a-b", "a.c", "a/1", "a/1/x", "a/10", "a/2", "a/Z", "a/b/c", "a/b/d", "a/é", "ab"}},
		{"a/1", []string{"a/1", "a/1/x", "a/10"}},
		{"reports/2024/", []string{"reports/2024/q1", "reports/2024/q2"}},
		{"reports/202", []string{"reports/2024/q1", "reports/2024/q2", "reports/2025/q1"}},
		{"zzz", nil},
		{"a/b/c/", nil},
	} {
		for _, limit := range []int{1, 2, 3, 1000} {
			objs := s.listAll(t, TenantA, tc.prefix, limit)
			got := keysOf(objs)
			if !slices.Equal(got, tc.want) {
				t.Errorf("List(prefix %q, limit %d) = %q, want %q", tc.prefix, limit, got, tc.want)
				continue
			}
			for _, o := range objs {
				if o.Size != size[o.Key] || o.Modified.IsZero() {
					t.Errorf("List(prefix %q): %q has Size %d Modified %v, want Size %d and a time", tc.prefix, o.Key, o.Size, o.Modified, size[o.Key])
				}
			}
		}
	}

	// A cursor resumes after itself even if that object is gone.
	page, err := s.h.Store.List(s.ctx(t, TenantA), "a/", "", 3)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if page.Next == "" {
		t.Fatalf("List(a/, limit 3): Next is empty, want a cursor")
	}
	if err := s.h.Store.Delete(s.ctx(t, TenantA), page.Objects[len(page.Objects)-1].Key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	rest, err := s.h.Store.List(s.ctx(t, TenantA), "a/", page.Next, 1000)
	if err != nil {
		t.Fatalf("List after deleting the cursor's object: %v", err)
	}
	if got, want := keysOf(rest.Objects), []string{"a/2", "a/Z", "a/b/c", "a/b/d", "a/é"}; !slices.Equal(got, want) {
		t.Fatalf("List resumed = %q, want %q", got, want)
	}
}

func testKeyIsPrefixOfAnother(t *testing.T, s *suite) {
	s.put(t, TenantA, "a", []byte("1"))
	s.put(t, TenantA, "a/b", []byte("22"))
	s.put(t, TenantA, "a/b/c", []byte("333"))
	s.mustGet(t, TenantA, "a", []byte("1"))
	s.mustGet(t, TenantA, "a/b", []byte("22"))
	s.mustGet(t, TenantA, "a/b/c", []byte("333"))
	if got, want := keysOf(s.listAll(t, TenantA, "a", 2)), []string{"a", "a/b", "a/b/c"}; !slices.Equal(got, want) {
		t.Fatalf("List(a) = %q, want %q", got, want)
	}
	if err := s.h.Store.Delete(s.ctx(t, TenantA), "a/b"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	s.mustGet(t, TenantA, "a/b/c", []byte("333"))
}

func testMaxLengthKey(t *testing.T, s *suite) {
	// 1024 bytes in segments short enough for any file system.
	key := strings.Repeat(strings.Repeat("k", 99)+"/", 10) + strings.Repeat("k", 24)
	if len(key) != 1024 {
		t.Fatalf("test key is %d bytes, want 1024", len(key))
	}
	s.put(t, TenantA, key, []byte("long"))
	s.mustGet(t, TenantA, key, []byte("long"))
	if got := keysOf(s.listAll(t, TenantA, "", 10)); !slices.Equal(got, []string{key}) {
		t.Fatalf("List = %d keys, want the 1024-byte key", len(got))
	}
}

var invalidKeys = []struct {
	name string
	key  string
}{
	{"empty", ""},
	{"dotdot", ".."},
	{"dotdot segment", "a/../b"},
	{"leading dotdot", "../b"},
	{"leading slash", "/a"},
	{"NUL", "a\x00b"},
	{"too long", strings.Repeat("k", 1025)},
}

func testInvalidKeys(t *testing.T, s *suite) {
	ctx := s.ctx(t, TenantA)
	for _, tc := range invalidKeys {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.h.Store.Put(ctx, tc.key, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalid) {
				t.Errorf("Put error = %v, want ErrInvalid", err)
			}
			if _, err := s.h.Store.Get(ctx, tc.key); !errors.Is(err, blob.ErrInvalid) {
				t.Errorf("Get error = %v, want ErrInvalid", err)
			}
			if err := s.h.Store.Delete(ctx, tc.key); !errors.Is(err, blob.ErrInvalid) {
				t.Errorf("Delete error = %v, want ErrInvalid", err)
			}
			for _, m := range []string{http.MethodGet, http.MethodPut} {
				if _, err := s.h.Store.SignURL(ctx, m, tc.key, time.Minute); !errors.Is(err, blob.ErrInvalid) {
					t.Errorf("SignURL(%s) error = %v, want ErrInvalid", m, err)
				}
			}
		})
	}
	if objs := s.listAll(t, TenantA, "", 10); len(objs) != 0 {
		t.Fatalf("List after invalid puts = %q, want nothing", keysOf(objs))
	}
}

func testNoTenant(t *testing.T, s *suite) {
	ctx := t.Context()
	if _, err := s.h.Store.Put(ctx, "k", strings.NewReader("x")); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("Put error = %v, want tenant.ErrNoTenant", err)
	}
	if _, err := s.h.Store.Get(ctx, "k"); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("Get error = %v, want tenant.ErrNoTenant", err)
	}
	if err := s.h.Store.Delete(ctx, "k"); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("Delete error = %v, want tenant.ErrNoTenant", err)
	}
	if _, err := s.h.Store.List(ctx, "", "", 10); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("List error = %v, want tenant.ErrNoTenant", err)
	}
	if _, err := s.h.Store.SignURL(ctx, http.MethodGet, "k", time.Minute); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("SignURL error = %v, want tenant.ErrNoTenant", err)
	}
}

func testTenantIsolation(t *testing.T, s *suite) {
	s.put(t, TenantA, "x", []byte("secret of A"))
	s.put(t, TenantA, "dir/y", []byte("more of A"))
	ctxB := s.ctx(t, TenantB)

	// B sees nothing of A.
	s.mustNotFound(t, TenantB, "x")
	s.mustNotFound(t, TenantB, "dir/y")
	if objs := s.listAll(t, TenantB, "", 10); len(objs) != 0 {
		t.Errorf("List as B = %q, want nothing", keysOf(objs))
	}

	// B's delete does not touch A's object, and B's object of the same key
	// is B's own.
	if err := s.h.Store.Delete(ctxB, "x"); err != nil {
		t.Errorf("Delete as B = %v, want nil (nothing to delete)", err)
	}
	s.mustGet(t, TenantA, "x", []byte("secret of A"))
	s.put(t, TenantB, "x", []byte("B's own"))
	s.mustGet(t, TenantA, "x", []byte("secret of A"))
	s.mustGet(t, TenantB, "x", []byte("B's own"))

	// Keys that try to climb out of B's space fail and change nothing.
	for _, key := range []string{
		"../" + string(TenantA) + "/x",
		"../" + string(TenantA) + "/dir/y",
		"../../" + string(TenantA) + "/x",
		"./../" + string(TenantA) + "/x",
		"dir/../../" + string(TenantA) + "/x",
	} {
		if data, err := s.get(t, TenantB, key); err == nil || (!errors.Is(err, blob.ErrInvalid) && !errors.Is(err, blob.ErrNotFound)) {
			t.Errorf("Get(%q) as B = %d bytes, %v; want ErrInvalid or ErrNotFound", key, len(data), err)
		}
		if _, err := s.h.Store.Put(ctxB, key, strings.NewReader("overwritten by B")); err == nil {
			t.Errorf("Put(%q) as B succeeded, want an error", key)
		}
		if err := s.h.Store.Delete(ctxB, key); err != nil && !errors.Is(err, blob.ErrInvalid) {
			t.Errorf("Delete(%q) as B = %v, want ErrInvalid or nil", key, err)
		}
		if page, err := s.h.Store.List(ctxB, key, "", 10); err == nil && len(page.Objects) != 0 {
			t.Errorf("List(%q) as B = %q, want nothing", key, keysOf(page.Objects))
		}
	}
	for _, prefix := range []string{"../", "..", "/", "../" + string(TenantA)} {
		if page, err := s.h.Store.List(ctxB, prefix, "", 10); err == nil && len(page.Objects) != 0 {
			t.Errorf("List(%q) as B = %q, want nothing", prefix, keysOf(page.Objects))
		}
	}
	s.mustGet(t, TenantA, "x", []byte("secret of A"))
	s.mustGet(t, TenantA, "dir/y", []byte("more of A"))
	if got, want := keysOf(s.listAll(t, TenantA, "", 10)), []string{"dir/y", "x"}; !slices.Equal(got, want) {
		t.Errorf("List as A = %q, want %q", got, want)
	}
	if got, want := keysOf(s.listAll(t, TenantB, "", 10)), []string{"x"}; !slices.Equal(got, want) {
		t.Errorf("List as B = %q, want %q", got, want)
	}
}

func testSignedURLBoundToTenant(t *testing.T, s *suite) {
	s.put(t, TenantA, "shared/name", []byte("A's data"))
	s.put(t, TenantB, "shared/name", []byte("B's data"))

	// B's URL gives B's object, never A's.
	u := s.sign(t, TenantB, http.MethodGet, "shared/name", time.Hour)
	if status, body := s.do(t, http.MethodGet, u, nil); status != http.StatusOK || string(body) != "B's data" {
		t.Fatalf("GET B's signed URL = %d %.32q, want 200 with B's data", status, body)
	}

	// Rewriting the tenant in B's URL to A's is refused.
	parsed := mustParse(t, u)
	if !strings.Contains(parsed.Path, string(TenantB)) {
		t.Skip("blobtest: the signed URL does not name the tenant in its path; nothing to rewrite")
	}
	parsed.Path = strings.Replace(parsed.Path, string(TenantB), string(TenantA), 1)
	parsed.RawPath = ""
	s.mustRefuse(t, http.MethodGet, parsed.String(), nil, "A's data")

	put := mustParse(t, s.sign(t, TenantB, http.MethodPut, "shared/name", time.Hour))
	put.Path = strings.Replace(put.Path, string(TenantB), string(TenantA), 1)
	put.RawPath = ""
	s.mustRefuse(t, http.MethodPut, put.String(), []byte("written through B's URL"), "")
	s.mustGet(t, TenantA, "shared/name", []byte("A's data"))
}

func testFailedPut(t *testing.T, s *suite) {
	ctx := s.ctx(t, TenantA)
	s.put(t, TenantA, "existing", []byte("intact"))

	for _, key := range []string{"fresh/key", "existing"} {
		r := &failingReader{r: generator(2, 3<<20)}
		if _, err := s.h.Store.Put(ctx, key, r); !errors.Is(err, errReader) {
			t.Errorf("Put(%q) with a failing reader = %v, want an error wrapping the reader's", key, err)
		}
	}
	s.mustNotFound(t, TenantA, "fresh/key")
	s.mustGet(t, TenantA, "existing", []byte("intact"))
	if got := keysOf(s.listAll(t, TenantA, "", 10)); !slices.Equal(got, []string{"existing"}) {
		t.Fatalf("List after failed puts = %q, want [existing] (no partial object or temp file)", got)
	}
}

// cancelingReader cancels its context after yielding some bytes.
type cancelingReader struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n >= 1<<20 {
		c.cancel()
	}
	return n, err
}

func testCanceledPut(t *testing.T, s *suite) {
	ctx, cancel := context.WithCancel(s.ctx(t, TenantA))
	defer cancel()
	r := &cancelingReader{r: generator(3, 4<<20), cancel: cancel}
	if _, err := s.h.Store.Put(ctx, "canceled", r); !errors.Is(err, context.Canceled) {
		t.Errorf("Put canceled midway = %v, want an error wrapping context.Canceled", err)
	}
	s.mustNotFound(t, TenantA, "canceled")
	if objs := s.listAll(t, TenantA, "", 10); len(objs) != 0 {
		t.Fatalf("List after canceled put = %q, want nothing", keysOf(objs))
	}
}

func testConcurrentPuts(t *testing.T, s *suite) {
	const writers = 8
	const size = 256 << 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, err := s.h.Store.Put(s.ctx(t, TenantA), "contended/key", generator(uint64(100+i), size))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Put: %v", err)
		}
	}
	got, err := s.get(t, TenantA, "contended/key")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	sum := sha256.Sum256(got)
	for i := range writers {
		if sum == digest(t, uint64(100+i), size) {
			if objs := s.listAll(t, TenantA, "", 10); len(objs) != 1 {
				t.Fatalf("List after concurrent puts = %q, want one key", keysOf(objs))
			}
			return
		}
	}
	t.Fatalf("Get after concurrent puts returned %d bytes that match no single writer", len(got))
}

func testModifiedFollowsClock(t *testing.T, s *suite) {
	s.needClock(t)
	first := s.put(t, TenantA, "first", []byte("1"))
	s.h.Advance(3 * time.Hour)
	second := s.put(t, TenantA, "second", []byte("2"))
	if d := second.Modified.Sub(first.Modified); d < 3*time.Hour-time.Second || d > 3*time.Hour+time.Minute {
		t.Fatalf("Modified moved by %v over a 3h clock advance, want about 3h", d)
	}
	objs := s.listAll(t, TenantA, "", 10)
	if len(objs) != 2 || objs[0].Modified.Sub(first.Modified).Abs() > time.Second || objs[1].Modified.Sub(second.Modified).Abs() > time.Second {
		t.Fatalf("List Modified = %+v, want the times Put returned (%v, %v)", objs, first.Modified, second.Modified)
	}
}

func testSignURLBadArguments(t *testing.T, s *suite) {
	ctx := s.ctx(t, TenantA)
	for _, tc := range []struct {
		method string
		ttl    time.Duration
	}{
		{http.MethodDelete, time.Minute},
		{http.MethodPost, time.Minute},
		{"", time.Minute},
		{http.MethodGet, 0},
		{http.MethodPut, -time.Minute},
	} {
		if u, err := s.h.Store.SignURL(ctx, tc.method, "k", tc.ttl); err == nil {
			t.Errorf("SignURL(%q, ttl %v) = %q, want an error", tc.method, tc.ttl, u)
		}
	}
}

// sign returns a signed URL and fails the test on error.
func (s *suite) sign(t *testing.T, id tenant.ID, method, key string, ttl time.Duration) string {
	t.Helper()
	u, err := s.h.Store.SignURL(s.ctx(t, id), method, key, ttl)
	if err != nil {
		t.Fatalf("SignURL(%s, %q): %v", method, key, err)
	}
	if _, err := url.Parse(u); err != nil {
		t.Fatalf("SignURL(%s, %q) = %q, not a URL: %v", method, key, u, err)
	}
	return u
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse URL: %v", err)
	}
	return u
}

// do sends one request with the suite's client and returns the status and
// the body (at most 1 MiB of it).
func (s *suite) do(t *testing.T, method, rawURL string, body []byte) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, r)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	return s.send(t, req)
}

func (s *suite) send(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s signed URL: %v", req.Method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s signed URL: read body: %v", req.Method, err)
	}
	return resp.StatusCode, data
}

// mustRefuse sends the request and fails the test unless it is refused with a
// 4xx status and a body that does not contain leak (when leak is not empty).
func (s *suite) mustRefuse(t *testing.T, method, rawURL string, body []byte, leak string) {
	t.Helper()
	status, got := s.do(t, method, rawURL, body)
	if status < 400 || status > 499 {
		t.Errorf("%s tampered URL = %d, want a 4xx refusal", method, status)
	}
	if leak != "" && bytes.Contains(got, []byte(leak)) {
		t.Errorf("%s tampered URL: the refusal's body contains the object", method)
	}
}

func testSignedGet(t *testing.T, s *suite) {
	// A key that needs escaping in a URL.
	key := "reports/Q1 2024/ünïcødé & more%20?#+;=.csv"
	const size = 3<<20 + 7
	if _, err := s.h.Store.Put(s.ctx(t, TenantA), key, generator(4, size)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	u := s.sign(t, TenantA, http.MethodGet, key, time.Hour)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("GET signed URL: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET signed URL = %d, want 200", resp.StatusCode)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatalf("GET signed URL: read: %v", err)
	}
	if n != size || [32]byte(h.Sum(nil)) != digest(t, 4, size) {
		t.Fatalf("GET signed URL returned %d bytes with a different digest, want the %d bytes put", n, int64(size))
	}

	// A URL for a missing object is refused without content.
	missing := s.sign(t, TenantA, http.MethodGet, "reports/missing", time.Hour)
	if status, _ := s.do(t, http.MethodGet, missing, nil); status != http.StatusNotFound && status != http.StatusForbidden {
		t.Fatalf("GET signed URL of a missing object = %d, want 404 or 403", status)
	}
}

func testSignedGetExpires(t *testing.T, s *suite) {
	s.needClock(t)
	s.put(t, TenantA, "expiring", []byte("short-lived"))
	u := s.sign(t, TenantA, http.MethodGet, "expiring", 10*time.Minute)

	s.h.Advance(5 * time.Minute)
	if status, body := s.do(t, http.MethodGet, u, nil); status != http.StatusOK || string(body) != "short-lived" {
		t.Fatalf("GET signed URL before expiry = %d %.32q, want 200 with the object", status, body)
	}
	s.h.Advance(5*time.Minute + time.Second)
	status, body := s.do(t, http.MethodGet, u, nil)
	if status != http.StatusForbidden && status != http.StatusNotFound {
		t.Fatalf("GET signed URL after expiry = %d, want 403 or 404", status)
	}
	if bytes.Contains(body, []byte("short-lived")) {
		t.Fatalf("GET signed URL after expiry: the refusal's body contains the object")
	}
}

func testSignedPut(t *testing.T, s *suite) {
	key := "uploads/import 1.csv"
	u := s.sign(t, TenantA, http.MethodPut, key, time.Hour)

	// Streamed, with a known length (S3 requires one on a presigned PUT).
	const size = 2<<20 + 3
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, u, generator(5, size))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.ContentLength = size
	if status, body := s.send(t, req); status != http.StatusOK {
		t.Fatalf("PUT signed URL = %d %.200q, want 200", status, body)
	}
	rc, err := s.h.Store.Get(s.ctx(t, TenantA), key)
	if err != nil {
		t.Fatalf("Get after signed PUT: %v", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	if err != nil {
		t.Fatalf("Get after signed PUT: read: %v", err)
	}
	if n != size || [32]byte(h.Sum(nil)) != digest(t, 5, size) {
		t.Fatalf("Get after signed PUT returned %d bytes with a different digest, want the %d bytes uploaded", n, int64(size))
	}
	if got := keysOf(s.listAll(t, TenantA, "uploads/", 10)); !slices.Equal(got, []string{key}) {
		t.Fatalf("List after signed PUT = %q, want [%q]", got, key)
	}

	// The same URL replaces the object while it is valid.
	if status, body := s.do(t, http.MethodPut, u, []byte("replaced")); status != http.StatusOK {
		t.Fatalf("second PUT signed URL = %d %.200q, want 200", status, body)
	}
	s.mustGet(t, TenantA, key, []byte("replaced"))
	s.mustNotFound(t, TenantB, key)
}

func testSignedPutExpires(t *testing.T, s *suite) {
	s.needClock(t)
	u := s.sign(t, TenantA, http.MethodPut, "late", time.Minute)
	s.h.Advance(time.Minute + time.Second)
	if status, _ := s.do(t, http.MethodPut, u, []byte("too late")); status != http.StatusForbidden && status != http.StatusNotFound {
		t.Fatalf("PUT signed URL after expiry = %d, want 403 or 404", status)
	}
	s.mustNotFound(t, TenantA, "late")
}

func testSignedURLTampered(t *testing.T, s *suite) {
	s.put(t, TenantA, "tamper/a", []byte("object a"))
	s.put(t, TenantA, "tamper/b", []byte("object b"))
	getURL := s.sign(t, TenantA, http.MethodGet, "tamper/a", time.Hour)
	putURL := s.sign(t, TenantA, http.MethodPut, "tamper/a", time.Hour)

	// The untampered URLs work, so the refusals below are not vacuous.
	if status, body := s.do(t, http.MethodGet, getURL, nil); status != http.StatusOK || string(body) != "object a" {
		t.Fatalf("GET signed URL = %d %.32q, want 200 with the object", status, body)
	}
	if status, _ := s.do(t, http.MethodPut, putURL, []byte("object a")); status != http.StatusOK {
		t.Fatalf("PUT signed URL = %d, want 200", status)
	}

	t.Run("key", func(t *testing.T) {
		for _, tc := range []struct {
			method, raw string
			body        []byte
		}{
			{http.MethodGet, getURL, nil},
			{http.MethodPut, putURL, []byte("written through a/'s URL")},
		} {
			u := mustParse(t, tc.raw)
			i := strings.LastIndex(u.Path, "tamper/a")
			if i < 0 {
				t.Fatalf("the signed URL %q does not carry the key in its path", tc.raw)
			}
			u.Path = u.Path[:i] + "tamper/b" + u.Path[i+len("tamper/a"):]
			u.RawPath = ""
			s.mustRefuse(t, tc.method, u.String(), tc.body, "object b")
		}
		s.mustGet(t, TenantA, "tamper/b", []byte("object b"))
	})

	t.Run("method", func(t *testing.T) {
		// A GET URL does not allow PUT, nor a PUT URL GET.
		s.mustRefuse(t, http.MethodPut, getURL, []byte("written through a GET URL"), "")
		s.mustRefuse(t, http.MethodGet, putURL, nil, "object a")
		s.mustRefuse(t, http.MethodDelete, getURL, nil, "object a")
		s.mustRefuse(t, http.MethodPost, putURL, []byte("posted"), "")
		s.mustGet(t, TenantA, "tamper/a", []byte("object a"))
	})

	// Every query parameter is covered by the signature: changing one
	// (extending an expiry, swapping a method) or dropping it is refused.
	for _, tc := range []struct {
		method, raw string
		body        []byte
	}{
		{http.MethodGet, getURL, nil},
		{http.MethodPut, putURL, []byte("written through a tampered URL")},
	} {
		u := mustParse(t, tc.raw)
		q := u.Query()
		if len(q) == 0 {
			t.Fatalf("the signed URL %q has no query parameters", tc.raw)
		}
		for name, values := range q {
			t.Run(tc.method+"/"+name, func(t *testing.T) {
				changed := u.Query()
				changed.Set(name, tamper(values[0]))
				v := *u
				v.RawQuery = changed.Encode()
				s.mustRefuse(t, tc.method, v.String(), tc.body, "object a")

				dropped := u.Query()
				dropped.Del(name)
				v.RawQuery = dropped.Encode()
				s.mustRefuse(t, tc.method, v.String(), tc.body, "object a")
			})
		}
	}
	s.mustGet(t, TenantA, "tamper/a", []byte("object a"))
}

// tamper returns a different but plausible value for a query parameter: a
// number grows by a day (an extended expiry), a method is swapped, anything
// else has its first character changed (the first, because the last
// character of unpadded base64 may carry only padding bits).
func tamper(v string) string {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return strconv.FormatInt(n+86400, 10)
	}
	switch v {
	case http.MethodGet:
		return http.MethodPut
	case http.MethodPut:
		return http.MethodGet
	case "":
		return "x"
	}
	repl := byte('A')
	if v[0] == 'A' {
		repl = 'B'
	}
	return fmt.Sprintf("%c%s", repl, v[1:])
}
