// Package kmskeys provides the master AEAD of the AWS deployment: a
// tink.AEAD whose key never leaves AWS KMS. seal.Keyring wraps each
// tenant's keyset with it; since the Keyring caches unwrapped keysets, KMS
// is called once per tenant per cold start, not per record (ENC-02).
//
// The associated data becomes the KMS encryption context, which KMS binds
// to the ciphertext as its own associated data and records in CloudTrail
// with every call:
//
//	{"aad": "<associated data>"}          when it is printable ASCII
//	{"aad-b64": "<unpadded base64url>"}   otherwise
//	no context                            when it is empty
//
// The whole associated data goes in, not a tenant parsed out of it, so the
// binding is exactly tink's and the package knows nothing of seal's layout.
// seal's keyset associated data is "alto/keyset/v1/<org>", so CloudTrail
// shows which tenant each Decrypt unwrapped; tenant IDs are organization
// slugs, never personal data.
package kmskeys

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Limits of KMS.
const (
	// MaxPlaintext is the most bytes KMS Encrypt takes.
	MaxPlaintext = 4096
	// DefaultTimeout bounds one KMS call when Options.Timeout is zero:
	// tink.AEAD's methods take no context.
	DefaultTimeout = 10 * time.Second
)

// Client is the part of *kms.Client the AEAD uses.
type Client interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Options configure an AEAD.
type Options struct {
	// Timeout bounds each KMS call, retries included; zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// AEAD is a tink.AEAD over one symmetric KMS key. It may be used
// concurrently.
type AEAD struct {
	client  Client
	keyID   string
	timeout time.Duration
}

var _ tink.AEAD = (*AEAD)(nil)

// New returns the AEAD of the KMS key keyID (a key ID, key ARN, alias name
// or alias ARN) reached through client.
func New(client Client, keyID string, opts Options) *AEAD {
	a := &AEAD{client: client, keyID: keyID, timeout: opts.Timeout}
	if a.timeout <= 0 {
		a.timeout = DefaultTimeout
	}
	return a
}

// Encrypt encrypts plaintext (at most MaxPlaintext bytes) under the KMS key
// with associatedData as encryption context, in one KMS Encrypt call.
// Returns an error if the plaintext is too large or KMS refuses.
func (a *AEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	if len(plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("kmskeys: encrypt: plaintext is %d bytes, want at most %d", len(plaintext), MaxPlaintext)
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	out, err := a.client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             &a.keyID,
		Plaintext:         plaintext,
		EncryptionContext: encryptionContext(associatedData),
	})
	if err != nil {
		return nil, fmt.Errorf("kmskeys: encrypt: %w", err)
	}
	return out.CiphertextBlob, nil
}

// Decrypt decrypts a ciphertext made by Encrypt with the same associated
// data, in one KMS Decrypt call pinned to the AEAD's key: a ciphertext of
// another key fails even if the caller may use that key. Returns an error
// if the ciphertext does not authenticate with this key and associated data
// (KMS does not say which), or KMS cannot be reached.
func (a *AEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	if len(ciphertext) == 0 {
		return nil, errors.New("kmskeys: decrypt: empty ciphertext")
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	out, err := a.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             &a.keyID,
		CiphertextBlob:    ciphertext,
		EncryptionContext: encryptionContext(associatedData),
	})
	if err != nil {
		return nil, fmt.Errorf("kmskeys: decrypt: %w", err)
	}
	return out.Plaintext, nil
}

// encryptionContext returns the KMS encryption context of associated data
// ad (see the package documentation).
func encryptionContext(ad []byte) map[string]string {
	if len(ad) == 0 {
		return nil
	}
	for _, c := range ad {
		if c < 0x20 || c > 0x7e {
			return map[string]string{"aad-b64": base64.RawURLEncoding.EncodeToString(ad)}
		}
	}
	return map[string]string{"aad": string(ad)}
}
