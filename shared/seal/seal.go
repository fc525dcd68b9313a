// Package seal encrypts fields with per-tenant keys before they reach any
// storage (ENC-02), computes the keyed blind indexes that make sealed fields
// searchable (ENC-03), and shreds a tenant by destroying its keys (ENC-04).
//
// Each tenant has its own keys: an AES-256-GCM AEAD keyset for sealing and an
// HMAC-SHA256 PRF keyset for blind indexes. They are generated on first use,
// encrypted together under a master AEAD (KMS in AWS, a local key file on one
// machine) and kept in a KeysetStore. A Keyring unwraps a tenant's keys once
// and caches them, so the master AEAD is called once per tenant per process,
// not once per record.
//
// The tenant always comes from the context (see package tenant), never from an
// argument, so code serving one tenant cannot seal or open with another's keys.
package seal

import (
	"context"
	"errors"

	"github.com/alto/alto/shared/tenant"
)

// Errors returned by a Keyring and by every KeysetStore.
var (
	// ErrNoKeyset is returned by KeysetStore.Get when the tenant has never
	// had a keyset.
	ErrNoKeyset = errors.New("seal: no keyset")
	// ErrExists is returned by KeysetStore.Create when the tenant already
	// has a keyset or was shredded.
	ErrExists = errors.New("seal: keyset exists")
	// ErrShredded is returned when the tenant's keyset was destroyed: its
	// sealed data can no longer be opened and nothing new can be sealed.
	ErrShredded = errors.New("seal: keyset shredded")
	// ErrOpen is returned by Keyring.Open when a ciphertext does not
	// authenticate: it was tampered with, or it was sealed for another
	// tenant, record or field.
	ErrOpen = errors.New("seal: cannot open ciphertext")
)

// KeysetStore keeps each tenant's wrapped keyset: opaque bytes that only the
// master AEAD can decrypt. Implementations may be called concurrently, also
// from several processes sharing the same storage. The contract is checked by
// the suite in package keysettest.
type KeysetStore interface {
	// Get returns the tenant's wrapped keyset. Returns ErrNoKeyset if none
	// was created and ErrShredded if it was destroyed.
	Get(ctx context.Context, org tenant.ID) ([]byte, error)
	// Create stores the tenant's wrapped keyset if the tenant has none.
	// Returns ErrExists if a keyset or a tombstone exists: a shredded tenant
	// never gets a new keyset.
	Create(ctx context.Context, org tenant.ID, wrapped []byte) error
	// Destroy deletes the tenant's wrapped keyset and leaves a tombstone, so
	// later calls to Get return ErrShredded. Destroying a tenant twice, or
	// one that never had a keyset, is not an error.
	Destroy(ctx context.Context, org tenant.ID) error
}
