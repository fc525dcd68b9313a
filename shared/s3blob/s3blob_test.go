package s3blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/blobtest"
	"github.com/alto/alto/shared/s3blob"
	"github.com/alto/alto/shared/tenant"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// world is one fresh bucket with its KMS key on the test server.
type world struct {
	client *s3.Client
	bucket string
	keyID  string
	calls  *calls
}

// calls counts the S3 operations a client sends.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

func newWorld(t *testing.T) world {
	t.Helper()
	c := &calls{n: map[string]int{}}
	client := s3.NewFromConfig(awstest.Config(t), func(o *s3.Options) {
		o.UsePathStyle = true
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				c.n[awsmiddleware.GetOperationName(ctx)]++
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		})
	})
	w := world{client: client, bucket: awstest.Name(t), keyID: awstest.KMSKey(t), calls: c}
	if err := s3blob.CreateBucket(t.Context(), client, w.bucket, w.keyID); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return w
}

func (w world) store(t *testing.T, opts s3blob.Options) *s3blob.Store {
	t.Helper()
	opts.Bucket, opts.KMSKeyID = w.bucket, w.keyID
	s, err := s3blob.New(w.client, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// blobLimitations are the blob contract's subtests that cannot pass here.
var blobLimitations = awstest.Limitations{
	"MaxLengthKey": "S3 limits a whole key to 1024 bytes and the tenant's prefix \"<org>/\" takes some of them: " +
		"the longest key relative to a tenant is 1024-len(org)-1 bytes (TestKeyLengthLeavesRoomForTenant checks that limit)",
	"ACC03_SignedURLBoundToTenant": "moto 5.2.1 does not verify presigned URL signatures, so a URL whose path was rewritten to another tenant " +
		"is served; S3 refuses it because SigV4 signs the path (TestACC03_SignedURLSignsTenantPath checks what is signed)",
	"SignedURLTampered": "moto 5.2.1 does not verify presigned URL signatures or expiry; S3 refuses a URL whose path, method " +
		"or query was changed (TestACC03_SignedURLSignsTenantPath checks what is signed)",
}

// TestStore runs the blob contract on S3. moto keeps real time, so the
// subtests that advance the clock are skipped.
func TestStore(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Harness {
		blobLimitations.Skip(t)
		w := newWorld(t)
		return blobtest.Harness{Store: w.store(t, s3blob.Options{})}
	})
}

func TestENC01_ObjectsEncryptedUnderKMSKey(t *testing.T) {
	w := newWorld(t)
	s := w.store(t, s3blob.Options{PartSize: 5 << 20})
	ctx := tenant.With(t.Context(), "acme")
	if _, err := s.Put(ctx, "small", strings.NewReader("small object")); err != nil {
		t.Fatalf("Put small: %v", err)
	}
	if _, err := s.Put(ctx, "large", io.LimitReader(zeros{}, 11<<20)); err != nil {
		t.Fatalf("Put large: %v", err)
	}
	u, err := s.SignURL(ctx, http.MethodPut, "uploaded", time.Minute)
	if err != nil {
		t.Fatalf("SignURL: %v", err)
	}
	put(t, u, []byte("through a presigned URL"))

	for _, key := range []string{"small", "large", "uploaded"} {
		out, err := w.client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &w.bucket, Key: aws.String("acme/" + key)})
		if err != nil {
			t.Fatalf("HeadObject(%s): %v", key, err)
		}
		if out.ServerSideEncryption != types.ServerSideEncryptionAwsKms || !strings.HasSuffix(aws.ToString(out.SSEKMSKeyId), w.keyID) {
			t.Errorf("object %s: encryption %q with key %q, want aws:kms with key %s", key, out.ServerSideEncryption, aws.ToString(out.SSEKMSKeyId), w.keyID)
		}
	}
}

func TestLargePutStreamsInParts(t *testing.T) {
	w := newWorld(t)
	s := w.store(t, s3blob.Options{PartSize: 5 << 20})
	ctx := tenant.With(t.Context(), "acme")
	const size = 12<<20 + 1
	obj, err := s.Put(ctx, "export.json", io.LimitReader(zeros{}, size))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if obj.Size != size {
		t.Errorf("Put: Size = %d, want %d", obj.Size, size)
	}
	if got := w.calls.count("UploadPart"); got != 3 {
		t.Errorf("UploadPart calls = %d, want 3 parts of at most 5 MiB", got)
	}
	if got := w.calls.count("CompleteMultipartUpload"); got != 1 {
		t.Errorf("CompleteMultipartUpload calls = %d, want 1", got)
	}

	// A reader failing after two parts aborts the upload: no object, no
	// parts left behind.
	boom := errors.New("reader broke")
	_, err = s.Put(ctx, "broken", io.MultiReader(io.LimitReader(zeros{}, 11<<20), errReader{boom}))
	if !errors.Is(err, boom) {
		t.Fatalf("Put with a failing reader: error = %v, want it to wrap the reader's", err)
	}
	if _, err := s.Get(ctx, "broken"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get after a failed Put: error = %v, want ErrNotFound", err)
	}
	ups, err := w.client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &w.bucket})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("multipart uploads left: %d, want 0", len(ups.Uploads))
	}
}

func TestKeyLengthLeavesRoomForTenant(t *testing.T) {
	w := newWorld(t)
	s := w.store(t, s3blob.Options{})
	ctx := tenant.With(t.Context(), "acme")
	longest := strings.Repeat("k", s3blob.MaxKeyLen-len("acme/"))
	if _, err := s.Put(ctx, longest, strings.NewReader("x")); err != nil {
		t.Errorf("Put of a %d-byte key: %v", len(longest), err)
	}
	if _, err := s.Put(ctx, longest+"k", strings.NewReader("x")); !errors.Is(err, blob.ErrInvalid) {
		t.Errorf("Put of a %d-byte key: error = %v, want ErrInvalid", len(longest)+1, err)
	}
}

// TestACC03_SignedURLSignsTenantPath checks what a presigned URL signs,
// since moto does not check signatures: the path names the bucket, the
// tenant and the key; only the host header is signed, so a plain client can
// use it; the expiry is the TTL; and a TTL above the maximum is refused.
func TestACC03_SignedURLSignsTenantPath(t *testing.T) {
	w := newWorld(t)
	s := w.store(t, s3blob.Options{})
	ctx := tenant.With(t.Context(), "globex")
	for _, method := range []string{http.MethodGet, http.MethodPut} {
		t.Run(method, func(t *testing.T) {
			raw, err := s.SignURL(ctx, method, "exports/file 1.json", 10*time.Minute)
			if err != nil {
				t.Fatalf("SignURL: %v", err)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if want := "/" + w.bucket + "/globex/exports/file 1.json"; u.Path != want {
				t.Errorf("path = %q, want %q", u.Path, want)
			}
			q := u.Query()
			for name, want := range map[string]string{
				"X-Amz-Algorithm":     "AWS4-HMAC-SHA256",
				"X-Amz-Expires":       "600",
				"X-Amz-SignedHeaders": "host",
			} {
				if got := q.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if q.Get("X-Amz-Signature") == "" || q.Get("X-Amz-Credential") == "" {
				t.Errorf("query %q lacks a signature or credential", u.RawQuery)
			}
		})
	}
	if _, err := s.SignURL(ctx, http.MethodGet, "k", s3blob.DefaultMaxURLTTL+time.Second); err == nil {
		t.Errorf("SignURL with a TTL above %v: nil error, want one", s3blob.DefaultMaxURLTTL)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	client := s3.NewFromConfig(awstest.Config(t))
	tests := []struct {
		name string
		opts s3blob.Options
	}{
		{"no bucket", s3blob.Options{KMSKeyID: "k"}},
		{"no key", s3blob.Options{Bucket: "b"}},
		{"small parts", s3blob.Options{Bucket: "b", KMSKeyID: "k", PartSize: 1 << 20}},
		{"long URLs", s3blob.Options{Bucket: "b", KMSKeyID: "k", MaxURLTTL: 8 * 24 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s3blob.New(client, tt.opts); err == nil {
				t.Error("New: nil error, want one")
			}
		})
	}
}

func put(t *testing.T, rawURL string, body []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT presigned URL = %d, want 200", resp.StatusCode)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
