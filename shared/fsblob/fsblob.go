// Package fsblob is the embedded blob.Store: objects are files under a root
// directory, one subtree per tenant, written atomically, and reachable by
// HMAC-signed URLs that the store's own HTTP handler serves (the local
// stand-in for S3 presigned URLs and ObjectCreated events).
//
// On disk, an object of tenant t with key "a/b/c" is the file
// root/t/d_a/d_b/o_c: every directory name carries "d_" and every object
// name "o_", so a key may also be the prefix of another ("a" and "a/b"), and
// temporary files (".tmp-*") can never be mistaken for objects. Directories
// are created 0700 and files 0600.
package fsblob

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/tenant"
)

// Limits of the store.
const (
	// MaxKeyLen is the longest key in bytes (that of S3).
	MaxKeyLen = 1024
	// MaxSegmentLen is the longest part of a key between slashes, in bytes:
	// a file name is at most 255 bytes, two of which are the "o_" or "d_"
	// marker.
	MaxSegmentLen = 253
	// MaxListLimit is the most objects List returns in one page; a limit
	// of zero or less means MaxListLimit.
	MaxListLimit = 1000
	// MaxURLTTL is the longest lifetime of a signed URL (that of an S3
	// presigned URL).
	MaxURLTTL = 7 * 24 * time.Hour
	// DefaultMaxUpload is the body limit of a signed PUT when
	// Options.MaxUpload is zero.
	DefaultMaxUpload int64 = 1 << 30
	// MinSecretLen is the shortest Options.Secret accepted, in bytes.
	MinSecretLen = 32
)

const (
	objPrefix  = "o_"
	dirPrefix  = "d_"
	tmpPattern = ".tmp-*"
	tmpPrefix  = ".tmp-"
	// staleTemp is how long a temporary file may go unmodified before New
	// treats it as left over by a crash and removes it.
	staleTemp = time.Hour
	// putAttempts bounds the retries of Put when a concurrent Delete
	// removes the (empty) directory it is writing into.
	putAttempts = 8
)

// Options configure a Store.
type Options struct {
	// Now is the clock for signed URL expiry and object modification times.
	// Nil means time.Now.
	Now func() time.Time
	// Secret is the HMAC-SHA256 key of signed URLs: at least MinSecretLen
	// random bytes, kept out of the data folder's objects. Required.
	Secret []byte
	// BaseURL is where Handler is reachable, such as
	// "http://127.0.0.1:8080"; signed URLs are BaseURL + "/blob/...".
	// Empty means the store has no reachable handler: SignURL then fails
	// and everything else works.
	BaseURL string
	// OnPut, if not nil, is called after an object arrives through a signed
	// PUT URL, before the response is written: the local equivalent of the
	// S3 ObjectCreated event. ctx carries the tenant and is not canceled
	// when the client goes away. It may be called concurrently and should
	// hand work off quickly (to a queue, say).
	OnPut func(ctx context.Context, org tenant.ID, obj blob.Object)
	// MaxUpload is the largest body a signed PUT accepts, in bytes; larger
	// ones are refused with 413. Zero means DefaultMaxUpload.
	MaxUpload int64
	// Logger receives the causes of 500 responses, which the response
	// itself never carries. Nil means slog.Default().
	Logger *slog.Logger
}

// Store is a blob.Store over a directory. Its methods may be called
// concurrently, also by several processes sharing the root (the operator
// CLI beside the server): every write stays atomic, and a List that runs
// during writes sees each object as it was before or after them.
type Store struct {
	root       string
	now        func() time.Time
	secret     []byte
	base       string // BaseURL without a trailing slash
	pathPrefix string // URL path the handler serves: base path + "/blob/"
	onPut      func(context.Context, tenant.ID, blob.Object)
	maxUpload  int64
	log        *slog.Logger
}

var _ blob.Store = (*Store)(nil)

// New returns a store over root, creating it (0700) if needed, and removes
// temporary files that crashed writes left behind more than an hour ago.
// Returns an error if Secret is shorter than MinSecretLen, BaseURL is
// neither empty nor an absolute http or https URL, MaxUpload is negative, or
// root cannot be created.
func New(root string, opts Options) (*Store, error) {
	if len(opts.Secret) < MinSecretLen {
		return nil, fmt.Errorf("fsblob: new: secret is %d bytes, want at least %d", len(opts.Secret), MinSecretLen)
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil || (opts.BaseURL != "" && ((base.Scheme != "http" && base.Scheme != "https") || base.Host == "")) ||
		base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return nil, fmt.Errorf("fsblob: new: base URL %q: want an absolute http or https URL without query, fragment or credentials", opts.BaseURL)
	}
	if opts.MaxUpload < 0 {
		return nil, fmt.Errorf("fsblob: new: max upload is %d, want zero (default) or more", opts.MaxUpload)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("fsblob: new: root: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("fsblob: new: create root: %w", err)
	}
	s := &Store{
		root:       abs,
		now:        opts.Now,
		secret:     slices.Clone(opts.Secret),
		base:       strings.TrimSuffix(base.String(), "/"),
		pathPrefix: strings.TrimSuffix(base.Path, "/") + "/blob/",
		onPut:      opts.OnPut,
		maxUpload:  opts.MaxUpload,
		log:        opts.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxUpload == 0 {
		s.maxUpload = DefaultMaxUpload
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.removeStaleTemp(time.Now().Add(-staleTemp))
	return s, nil
}

// removeStaleTemp removes temporary files last modified before cutoff, so
// a crash does not leave personal data behind past its retention. It is best
// effort: errors are ignored.
func (s *Store) removeStaleTemp(cutoff time.Time) {
	_ = filepath.WalkDir(s.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		if info, err := d.Info(); err == nil && info.ModTime().Before(cutoff) {
			_ = os.Remove(path)
		}
		return nil
	})
}

// checkKey returns an error wrapping blob.ErrInvalid, with the reason but not
// the key, unless key is valid: 1 to MaxKeyLen bytes of UTF-8 without control
// characters, not starting with "/", made of non-empty segments of at most
// MaxSegmentLen bytes that are neither "." nor "..".
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", blob.ErrInvalid)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d bytes, want at most %d", blob.ErrInvalid, len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not UTF-8", blob.ErrInvalid)
	case key[0] == '/':
		return fmt.Errorf("%w: starts with /", blob.ErrInvalid)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: control character at byte %d", blob.ErrInvalid, i)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: empty segment", blob.ErrInvalid)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: segment %q", blob.ErrInvalid, seg)
		case len(seg) > MaxSegmentLen:
			return fmt.Errorf("%w: segment of %d bytes, want at most %d", blob.ErrInvalid, len(seg), MaxSegmentLen)
		}
	}
	return nil
}

// tenantDir returns the directory of the tenant of ctx.
func (s *Store) tenantDir(ctx context.Context) (tenant.ID, string, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return "", "", err
	}
	// tenant.With validates; check again so that no change there can make
	// a path out of an org.
	if org != tenant.Platform && tenant.Valid(string(org)) != nil {
		return "", "", errors.New("invalid tenant")
	}
	return org, filepath.Join(s.root, string(org)), nil
}

// locate returns the tenant and the directory and file name of key, which
// must be valid.
func (s *Store) locate(ctx context.Context, key string) (org tenant.ID, dir, file string, err error) {
	org, dir, err = s.tenantDir(ctx)
	if err != nil {
		return "", "", "", err
	}
	if err := checkKey(key); err != nil {
		return "", "", "", err
	}
	segs := strings.Split(key, "/")
	parts := make([]string, 0, len(segs))
	parts = append(parts, dir)
	for _, seg := range segs[:len(segs)-1] {
		parts = append(parts, dirPrefix+seg)
	}
	return org, filepath.Join(parts...), objPrefix + segs[len(segs)-1], nil
}

// pathless strips the path from a file system error: paths carry keys, which
// stay out of error messages. Other errors (a reader's) pass unchanged.
func pathless(err error) error {
	switch e := err.(type) {
	case *fs.PathError:
		return fmt.Errorf("%s: %w", e.Op, e.Err)
	case *os.LinkError:
		return fmt.Errorf("%s: %w", e.Op, e.Err)
	}
	return err
}

// ctxReader fails reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put stores everything read from r under key, replacing any object there.
// The bytes go to a temporary file (0600) in the object's directory, which
// is synced and renamed over the object, so readers see the old object or
// the new one, never a part. The object's modification time is the store's
// clock. Returns an error wrapping tenant.ErrNoTenant if ctx
// has no tenant, blob.ErrInvalid if key is invalid, r's error if reading
// fails, and ctx's error if it is done before the object is stored; on error
// nothing is stored.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (blob.Object, error) {
	_, dir, file, err := s.locate(ctx, key)
	if err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: put: %w", err)
	}
	tmp, err := s.createTemp(dir)
	if err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: put: %w", pathless(err))
	}
	committed := false
	defer func() {
		if !committed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: put: write: %w", pathless(err))
	}
	if err := tmp.Sync(); err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: put: sync: %w", pathless(err))
	}
	if err := tmp.Close(); err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: put: close: %w", pathless(err))
	}
	if err := ctx.Err(); err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: put: %w", err)
	}
	// The modification time follows the store's clock, so retention
	// sweeps and tests see the injected time.
	if err := os.Chtimes(tmp.Name(), time.Time{}, s.now()); err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: put: set time: %w", pathless(err))
	}
	info, err := os.Stat(tmp.Name())
	if err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: put: %w", pathless(err))
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, file)); err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: put: rename: %w", pathless(err))
	}
	committed = true
	// The object is in place and readers see it, so an error now could
	// not mean "nothing stored": the directory sync, which makes the
	// rename survive a power loss, is best effort.
	_ = syncDir(dir)
	return blob.Object{Key: key, Size: n, Modified: info.ModTime()}, nil
}

// createTemp creates a temporary file (0600) in dir, creating dir and its
// parents (0700) first. A concurrent Delete may remove an empty directory
// between the two steps; then it tries again.
func (s *Store) createTemp(dir string) (*os.File, error) {
	var err error
	for range putAttempts {
		if err = os.MkdirAll(dir, 0o700); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		var f *os.File
		f, err = os.CreateTemp(dir, tmpPattern)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, err
}

// syncDir makes a rename in dir durable, where the file system can sync a
// directory.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// open opens the file of key. Returns blob.ErrNotFound if there is none.
func (s *Store) open(ctx context.Context, key string) (*os.File, error) {
	_, dir, file, err := s.locate(ctx, key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, file))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, blob.ErrNotFound
	}
	if err != nil {
		return nil, pathless(err)
	}
	return f, nil
}

// Get opens the object at key; the caller closes it. A reader keeps the
// object it opened even if it is replaced or deleted meanwhile. Returns an
// error wrapping blob.ErrNotFound if there is none, blob.ErrInvalid if key is
// invalid, and tenant.ErrNoTenant if ctx has no tenant.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	f, err := s.open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("fsblob: get: %w", err)
	}
	return f, nil
}

// Delete removes the object at key and any directories it leaves empty;
// deleting a missing object is not an error. Returns an error wrapping
// blob.ErrInvalid if key is invalid and tenant.ErrNoTenant if ctx has no
// tenant.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, dir, file, err := s.locate(ctx, key)
	if err != nil {
		return fmt.Errorf("fsblob: delete: %w", err)
	}
	err = os.Remove(filepath.Join(dir, file))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fsblob: delete: %w", pathless(err))
	}
	// Remove emptied directories up to the tenant's; Remove fails on a
	// directory that is not empty, which ends the climb.
	_, top, _ := s.tenantDir(ctx)
	for d := dir; d != top && strings.HasPrefix(d, top); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}

// List returns up to limit objects whose key starts with prefix and sorts
// after cursor, in byte order of keys; Next is the last key returned when more
// follow. A limit of zero or less, or above MaxListLimit, means MaxListLimit.
// Temporary files are never listed. Returns an error wrapping
// tenant.ErrNoTenant if ctx has no tenant, and ctx's error if it is done.
func (s *Store) List(ctx context.Context, prefix, cursor string, limit int) (blob.Page, error) {
	_, dir, err := s.tenantDir(ctx)
	if err != nil {
		return blob.Page{}, fmt.Errorf("fsblob: list: %w", err)
	}
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	w := walker{ctx: ctx, prefix: prefix, cursor: cursor, limit: limit}
	if err := w.walk(dir, ""); err != nil && !errors.Is(err, errPageFull) {
		return blob.Page{}, fmt.Errorf("fsblob: list: %w", pathless(err))
	}
	page := blob.Page{Objects: w.objs}
	if w.more {
		page.Next = w.objs[len(w.objs)-1].Key
	}
	return page, nil
}

var errPageFull = errors.New("page full")

// walker visits the objects of a tenant in key order, skipping the subtrees
// that cannot hold a key that starts with prefix and sorts after cursor.
type walker struct {
	ctx            context.Context
	prefix, cursor string
	limit          int
	objs           []blob.Object
	more           bool
}

type entry struct {
	sortKey string // the key segment, with "/" appended for a directory
	name    string
	dir     bool
}

// walk visits dir, whose objects' keys start with keyPrefix.
func (w *walker) walk(dir, keyPrefix string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no object yet, or removed by a concurrent Delete
	}
	if err != nil {
		return err
	}
	// Sorting a directory "a" as "a/" orders its keys ("a/...") correctly
	// among its siblings' ("a-b", "a.c", "ab"), since no segment holds "/".
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		switch {
		case de.IsDir() && strings.HasPrefix(name, dirPrefix):
			entries = append(entries, entry{name[len(dirPrefix):] + "/", name, true})
		case de.Type().IsRegular() && strings.HasPrefix(name, objPrefix):
			entries = append(entries, entry{name[len(objPrefix):], name, false})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.sortKey, b.sortKey) })

	for _, e := range entries {
		key := keyPrefix + e.sortKey
		if e.dir {
			// Every key below starts with key (which ends in "/").
			if !strings.HasPrefix(key, w.prefix) && !strings.HasPrefix(w.prefix, key) {
				continue
			}
			if w.cursor > key && !strings.HasPrefix(w.cursor, key) {
				continue // all of them sort before the cursor
			}
			if err := w.walk(filepath.Join(dir, e.name), key); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(key, w.prefix) || key <= w.cursor {
			continue
		}
		if len(w.objs) == w.limit {
			w.more = true
			return errPageFull
		}
		info, err := os.Lstat(filepath.Join(dir, e.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return err
		}
		w.objs = append(w.objs, blob.Object{Key: key, Size: info.Size(), Modified: info.ModTime()})
	}
	return nil
}

// SignURL returns a URL, served by Handler, that allows method ("GET" or
// "PUT") on key until ttl from now, rounded down to the second:
//
//	<BaseURL>/blob/<org>/<key>?method=<method>&expires=<unix>&sig=<sig>
//
// where sig is the unpadded base64url HMAC-SHA256, under Options.Secret, of
// the method, org, key and expires. Returns an error wrapping
// tenant.ErrNoTenant if ctx has no tenant, blob.ErrInvalid if key is invalid,
// and an error if method is neither GET nor PUT, ttl is not in
// (0, MaxURLTTL], or the store has no Options.BaseURL.
func (s *Store) SignURL(ctx context.Context, method, key string, ttl time.Duration) (string, error) {
	org, _, _, err := s.locate(ctx, key)
	if err != nil {
		return "", fmt.Errorf("fsblob: sign url: %w", err)
	}
	if s.base == "" {
		return "", errors.New("fsblob: sign url: no base URL configured")
	}
	if method != "GET" && method != "PUT" {
		return "", fmt.Errorf("fsblob: sign url: method %q, want GET or PUT", method)
	}
	if ttl <= 0 || ttl > MaxURLTTL {
		return "", fmt.Errorf("fsblob: sign url: ttl %v, want more than 0 and at most %v", ttl, MaxURLTTL)
	}
	expires := strconv.FormatInt(s.now().Add(ttl).Unix(), 10)
	sig := base64.RawURLEncoding.EncodeToString(s.mac(method, string(org), key, expires))
	return s.base + "/blob/" + string(org) + "/" + escapeKey(key) +
		"?method=" + method + "&expires=" + expires + "&sig=" + sig, nil
}

// escapeKey escapes each segment of key for a URL path.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// mac returns the signature of a URL. The fields are separated by NUL,
// which none of them can hold (keys refuse control characters), so no two
// different URLs share an input.
func (s *Store) mac(method, org, key, expires string) []byte {
	m := hmac.New(sha256.New, s.secret)
	for _, f := range []string{"alto-fsblob-url-v1", method, org, key, expires} {
		io.WriteString(m, f)
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}
