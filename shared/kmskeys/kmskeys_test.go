package kmskeys_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/kmskeys"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// calls counts the KMS operations a client sends to the server.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// newClient returns a KMS client of the test server that counts the calls
// it sends.
func newClient(t *testing.T) (*kms.Client, *calls) {
	t.Helper()
	c := &calls{n: map[string]int{}}
	client := kms.NewFromConfig(awstest.Config(t), func(o *kms.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				c.n[awsmiddleware.GetOperationName(ctx)]++
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		})
	})
	return client, c
}

func TestAEAD(t *testing.T) {
	client, _ := newClient(t)
	a := kmskeys.New(client, awstest.KMSKey(t), kmskeys.Options{})
	other := kmskeys.New(client, awstest.KMSKey(t), kmskeys.Options{})
	plaintext := []byte("tenant keyset \x00\xff")

	tests := []struct {
		name string
		ad   []byte
	}{
		{"printable associated data", []byte("alto/keyset/v1/acme")},
		{"binary associated data", []byte{0, 1, 0xff, '\n'}},
		{"no associated data", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := a.Encrypt(plaintext, tt.ad)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if bytes.Contains(ct, plaintext) {
				t.Errorf("ciphertext contains the plaintext")
			}
			got, err := a.Decrypt(ct, tt.ad)
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Fatalf("Decrypt = %q, %v; want %q", got, err, plaintext)
			}
			refusals := []struct {
				name string
				aead *kmskeys.AEAD
				ct   []byte
				ad   []byte
			}{
				{"other associated data", a, ct, append(bytes.Clone(tt.ad), 'x')},
				{"tampered ciphertext", a, flip(ct), tt.ad},
				{"other key", other, ct, tt.ad},
				{"empty ciphertext", a, nil, tt.ad},
			}
			for _, r := range refusals {
				if got, err := r.aead.Decrypt(r.ct, r.ad); err == nil {
					t.Errorf("Decrypt with %s = %q, want an error", r.name, got)
				}
			}
		})
	}
	if _, err := a.Encrypt(make([]byte, kmskeys.MaxPlaintext+1), nil); err == nil {
		t.Errorf("Encrypt of %d bytes: nil error, want one", kmskeys.MaxPlaintext+1)
	}
}

// TestENC02_EncryptionContextCarriesAssociatedData checks the documented
// context against KMS itself: a ciphertext made by the AEAD decrypts with
// the KMS API given {"aad": <associated data>}, and not with another
// tenant's.
func TestENC02_EncryptionContextCarriesAssociatedData(t *testing.T) {
	client, _ := newClient(t)
	key := awstest.KMSKey(t)
	ct, err := kmskeys.New(client, key, kmskeys.Options{}).Encrypt([]byte("keyset"), []byte("alto/keyset/v1/acme"))
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	for org, wantOK := range map[string]bool{"acme": true, "globex": false} {
		out, err := client.Decrypt(t.Context(), &kms.DecryptInput{
			CiphertextBlob:    ct,
			EncryptionContext: map[string]string{"aad": "alto/keyset/v1/" + org},
		})
		if ok := err == nil && string(out.Plaintext) == "keyset"; ok != wantOK {
			t.Errorf("KMS Decrypt with the context of %s: ok = %v (%v), want %v", org, ok, err, wantOK)
		}
	}
}

// TestENC02_OneKMSDecryptPerTenantPerColdStart counts the calls that reach
// KMS: sealing 10,000 records of one tenant and a few of another costs one
// Encrypt per tenant, and opening them all after a cold start (a new
// Keyring and AEAD, as in a fresh Lambda instance) one Decrypt per tenant.
func TestENC02_OneKMSDecryptPerTenantPerColdStart(t *testing.T) {
	client, counted := newClient(t)
	key := awstest.KMSKey(t)
	keysets, err := localkeys.OpenDir(filepath.Join(t.TempDir(), "keysets"))
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	records := map[tenant.ID]int{"acme": 10_000, "globex": 10}
	sealed := map[tenant.ID][][]byte{}

	warm := seal.NewKeyring(kmskeys.New(client, key, kmskeys.Options{}), keysets)
	for org, n := range records {
		ctx := tenant.With(t.Context(), org)
		for i := range n {
			ct, err := warm.Seal(ctx, fmt.Sprintf("CONTACT#%d", i), "email", fmt.Appendf(nil, "user%d@example.com", i))
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			sealed[org] = append(sealed[org], ct)
		}
	}
	if got, want := counted.get("Encrypt"), len(records); got != want {
		t.Errorf("KMS Encrypt calls creating %d tenants: %d, want %d", len(records), got, want)
	}
	if got := counted.get("Decrypt"); got != 0 {
		t.Errorf("KMS Decrypt calls creating tenants: %d, want 0", got)
	}

	cold := seal.NewKeyring(kmskeys.New(client, key, kmskeys.Options{}), keysets)
	for org, cts := range sealed {
		ctx := tenant.With(t.Context(), org)
		for i, ct := range cts {
			got, err := cold.Open(ctx, fmt.Sprintf("CONTACT#%d", i), "email", ct)
			if err != nil || string(got) != fmt.Sprintf("user%d@example.com", i) {
				t.Fatalf("Open %s record %d = %q, %v", org, i, got, err)
			}
		}
	}
	if got, want := counted.get("Decrypt"), len(records); got != want {
		t.Errorf("KMS Decrypt calls opening %d records of %d tenants after a cold start: %d, want %d", 10_010, len(records), got, want)
	}
	if got, want := counted.get("Encrypt"), len(records); got != want {
		t.Errorf("KMS Encrypt calls after a cold start: %d more, want none", got-want)
	}
}

// flip returns ct with one byte in its middle changed.
func flip(ct []byte) []byte {
	out := bytes.Clone(ct)
	if len(out) > 0 {
		out[len(out)/2] ^= 1
	}
	return out
}
