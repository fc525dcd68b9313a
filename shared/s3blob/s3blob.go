// Package s3blob is the blob.Store on one S3 bucket: objects of tenant t
// live under the key prefix "t/", are encrypted with SSE-KMS under the
// stack's key, are uploaded in streamed multipart parts when large, and are
// reachable by presigned GET and PUT URLs that expire within an hour.
package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/tenant"
)

// Limits of the store.
const (
	// MaxKeyLen is S3's limit on a whole key in bytes. A key relative to a
	// tenant may use what the tenant's prefix "<org>/" leaves of it.
	MaxKeyLen = 1024
	// MaxListLimit is the most objects List returns in one page (that of
	// ListObjectsV2); a limit of zero or less means MaxListLimit.
	MaxListLimit = 1000
	// DefaultMaxURLTTL is the longest lifetime of a signed URL when
	// Options.MaxURLTTL is zero.
	DefaultMaxURLTTL = time.Hour
	// DefaultPartSize is the size of the parts of a multipart upload when
	// Options.PartSize is zero. An object smaller than one part is sent in
	// a single request.
	DefaultPartSize = 8 << 20
	// uploadConcurrency is how many parts of one object are sent at once;
	// each takes a part-sized buffer.
	uploadConcurrency = 2
)

// Options configure a Store.
type Options struct {
	// Bucket is the bucket's name. Required.
	Bucket string
	// KMSKeyID is the ID or ARN of the KMS key that encrypts every object
	// Put writes (SSE-KMS, ENC-01). Required. Objects uploaded through a
	// presigned PUT URL are encrypted by the bucket's default encryption,
	// which CreateBucket (and the CDK stack) set to the same key: a
	// presigned URL cannot make a plain HTTP client send the SSE headers.
	KMSKeyID string
	// Now is the clock of Object.Modified as Put returns it; nil means
	// time.Now. Listings carry S3's own LastModified.
	Now func() time.Time
	// PartSize is the size of multipart upload parts in bytes, at least
	// 5 MiB; zero means DefaultPartSize.
	PartSize int64
	// MaxURLTTL is the longest lifetime SignURL accepts; zero means
	// DefaultMaxURLTTL. At most 7 days (S3's limit); URLs signed with a
	// Lambda role's temporary credentials end with those anyway.
	MaxURLTTL time.Duration
}

// Store is the blob.Store on an S3 bucket. Its methods may be called
// concurrently.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	//lint:ignore SA1019 the project pins feature/s3/manager v1.23.21 with SDK core v1.47.7 (ARCHITECTURE.md, version notes)
	uploader *manager.Uploader
	bucket   string
	keyID    string
	now      func() time.Time
	maxTTL   time.Duration
}

var _ blob.Store = (*Store)(nil)

// New returns the store on opts.Bucket through client (configured for the
// bucket's region; against a local server, with path-style addressing).
// Returns an error if Bucket or KMSKeyID is empty, PartSize is below 5 MiB
// or MaxURLTTL is negative or above 7 days.
func New(client *s3.Client, opts Options) (*Store, error) {
	switch {
	case opts.Bucket == "":
		return nil, errors.New("s3blob: new: no bucket")
	case opts.KMSKeyID == "":
		return nil, errors.New("s3blob: new: no KMS key ID")
	case opts.PartSize != 0 && opts.PartSize < manager.MinUploadPartSize:
		return nil, fmt.Errorf("s3blob: new: part size %d, want at least %d", opts.PartSize, manager.MinUploadPartSize)
	case opts.MaxURLTTL < 0 || opts.MaxURLTTL > 7*24*time.Hour:
		return nil, fmt.Errorf("s3blob: new: max URL TTL %v, want 0 (default) to 168h", opts.MaxURLTTL)
	}
	s := &Store{
		client:  client,
		presign: s3.NewPresignClient(client),
		bucket:  opts.Bucket,
		keyID:   opts.KMSKeyID,
		now:     opts.Now,
		maxTTL:  opts.MaxURLTTL,
	}
	partSize := opts.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	//lint:ignore SA1019 the project pins feature/s3/manager v1.23.21 with SDK core v1.47.7 (ARCHITECTURE.md, version notes)
	s.uploader = manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = partSize
		u.Concurrency = uploadConcurrency
	})
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxTTL == 0 {
		s.maxTTL = DefaultMaxURLTTL
	}
	return s, nil
}

// object returns the tenant of ctx and the S3 key of key.
func object(ctx context.Context, key string) (tenant.ID, string, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return "", "", err
	}
	prefix := tenantPrefix(org)
	if err := checkKey(key, MaxKeyLen-len(prefix)); err != nil {
		return "", "", err
	}
	return org, prefix + key, nil
}

func tenantPrefix(org tenant.ID) string { return string(org) + "/" }

// checkKey returns an error wrapping blob.ErrInvalid, with the reason but
// not the key, unless key is valid: 1 to max bytes of UTF-8 without control
// characters, not starting with "/", made of non-empty segments that are
// neither "." nor "..". These are the embedded store's rules, so a key that
// works on one machine works on S3.
func checkKey(key string, max int) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", blob.ErrInvalid)
	case len(key) > max:
		return fmt.Errorf("%w: %d bytes, want at most %d (S3 keys are at most %d bytes with the tenant's prefix)", blob.ErrInvalid, len(key), max, MaxKeyLen)
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
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: segment %q", blob.ErrInvalid, seg)
		}
	}
	return nil
}

// countingReader counts what it reads and fails once its context is done.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Put stores everything read from r under key, encrypted under the
// configured KMS key, replacing any object there. Up to one part (8 MiB by
// default) is sent in a single request; a larger object streams in parts of
// a multipart upload, holding two parts in memory, and appears only when
// the upload completes: readers see the old object or the new one. A failed
// upload is aborted (a bucket lifecycle rule removes parts an abort could
// not). Returns an error wrapping tenant.ErrNoTenant if ctx has no tenant,
// blob.ErrInvalid if key is invalid, r's error if reading fails, and ctx's
// error if it is done first; on error nothing is stored.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (blob.Object, error) {
	_, name, err := object(ctx, key)
	if err != nil {
		return blob.Object{}, fmt.Errorf("s3blob: put: %w", err)
	}
	body := &countingReader{ctx: ctx, r: r}
	//lint:ignore SA1019 the project pins feature/s3/manager v1.23.21 with SDK core v1.47.7 (ARCHITECTURE.md, version notes)
	_, err = s.uploader.Upload(ctx, &s3.PutObjectInput{
		Bucket:               &s.bucket,
		Key:                  &name,
		Body:                 body,
		ServerSideEncryption: types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          &s.keyID,
		BucketKeyEnabled:     aws.Bool(true),
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return blob.Object{}, fmt.Errorf("s3blob: put: %w", err)
	}
	return blob.Object{Key: key, Size: body.n, Modified: s.now()}, nil
}

// Get opens the object at key; the caller closes it. The reader streams
// from S3. Returns an error wrapping blob.ErrNotFound if there is none,
// blob.ErrInvalid if key is invalid, and tenant.ErrNoTenant if ctx has no
// tenant.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	_, name, err := object(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("s3blob: get: %w", err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &name})
	var missing *types.NoSuchKey
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("s3blob: get: %w", blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("s3blob: get: %w", err)
	}
	return out.Body, nil
}

// Delete removes the object at key; deleting a missing object is not an
// error. Returns an error wrapping blob.ErrInvalid if key is invalid and
// tenant.ErrNoTenant if ctx has no tenant.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, name, err := object(ctx, key)
	if err == nil {
		_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &name})
	}
	if err != nil {
		return fmt.Errorf("s3blob: delete: %w", err)
	}
	return nil
}

// List returns up to limit objects whose key starts with prefix and sorts
// after cursor, in byte order of keys; Next is the last key returned when
// more follow. A limit of zero or less, or above MaxListLimit, means
// MaxListLimit. Returns an error wrapping tenant.ErrNoTenant if ctx has no
// tenant and blob.ErrInvalid if prefix or cursor is not UTF-8.
func (s *Store) List(ctx context.Context, prefix, cursor string, limit int) (blob.Page, error) {
	org, err := tenant.From(ctx)
	if err == nil && (!utf8.ValidString(prefix) || !utf8.ValidString(cursor)) {
		err = fmt.Errorf("%w: prefix or cursor is not UTF-8", blob.ErrInvalid)
	}
	if err != nil {
		return blob.Page{}, fmt.Errorf("s3blob: list: %w", err)
	}
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	base := tenantPrefix(org)
	in := &s3.ListObjectsV2Input{
		Bucket:  &s.bucket,
		Prefix:  aws.String(base + prefix),
		MaxKeys: aws.Int32(int32(limit)),
	}
	if cursor != "" {
		in.StartAfter = aws.String(base + cursor)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		return blob.Page{}, fmt.Errorf("s3blob: list: %w", err)
	}
	var page blob.Page
	for _, o := range out.Contents {
		key, ok := strings.CutPrefix(aws.ToString(o.Key), base)
		if !ok {
			continue
		}
		page.Objects = append(page.Objects, blob.Object{Key: key, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
	}
	if aws.ToBool(out.IsTruncated) && len(page.Objects) > 0 {
		page.Next = page.Objects[len(page.Objects)-1].Key
	}
	return page, nil
}

// SignURL returns a presigned S3 URL (SigV4, path carrying the tenant's
// prefix and the key) that allows method ("GET" or "PUT") on key until ttl
// from now, with no other credential. A PUT sends the object as its body
// with a Content-Length; the bucket's default encryption applies. Returns
// an error wrapping tenant.ErrNoTenant if ctx has no tenant,
// blob.ErrInvalid if key is invalid, and an error if method is neither GET
// nor PUT or ttl is not between one second and the maximum.
func (s *Store) SignURL(ctx context.Context, method, key string, ttl time.Duration) (string, error) {
	_, name, err := object(ctx, key)
	if err != nil {
		return "", fmt.Errorf("s3blob: sign url: %w", err)
	}
	if ttl < time.Second || ttl > s.maxTTL {
		return "", fmt.Errorf("s3blob: sign url: ttl %v, want 1s to %v", ttl, s.maxTTL)
	}
	expires := func(o *s3.PresignOptions) { o.Expires = ttl }
	var req *v4.PresignedHTTPRequest
	switch method {
	case http.MethodGet:
		req, err = s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &name}, expires)
	case http.MethodPut:
		req, err = s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &name}, expires)
	default:
		return "", fmt.Errorf("s3blob: sign url: method %q, want GET or PUT", method)
	}
	if err != nil {
		return "", fmt.Errorf("s3blob: sign url: %w", err)
	}
	return req.URL, nil
}
