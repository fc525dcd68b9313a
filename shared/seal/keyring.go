package seal

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/alto/alto/shared/tenant"
)

// Domain-separation prefixes: they name what an input is for and which
// version of its layout it uses, so no two uses can share an input.
const (
	sealDomain  = "alto/seal/v1"
	indexDomain = "alto/blind-index/v1"
)

// indexLen is the length in bytes of a blind index before encoding.
const indexLen = 32

// Keyring seals, opens and indexes fields with the keys of the tenant in the
// context. Its methods may be called concurrently.
type Keyring struct {
	master  tink.AEAD
	keysets KeysetStore
	// Recheck is how long cached keys are used before the store is asked
	// again whether the tenant was shredded meanwhile, by another process
	// (ENC-04); the check reads the store and never the master key.
	// DefaultRecheck if zero. Now is the clock; time.Now if nil. Set them
	// before first use.
	Recheck time.Duration
	Now     func() time.Time

	mu      sync.Mutex
	tenants map[tenant.ID]*slot
}

// DefaultRecheck bounds how long a process that did not shred a tenant
// goes on using its cached keys.
const DefaultRecheck = 30 * time.Second

// slot holds one tenant's keys once loaded. done is closed when keys or err
// is set; a slot whose err is ErrShredded stays in the cache for good.
// checked is when the store last held the keyset (Unix nanoseconds).
type slot struct {
	done    chan struct{}
	keys    *tenantKeys
	err     error
	checked atomic.Int64
}

// NewKeyring returns a Keyring that wraps tenants' keysets with master and
// keeps them in keysets.
func NewKeyring(master tink.AEAD, keysets KeysetStore) *Keyring {
	return &Keyring{master: master, keysets: keysets, tenants: make(map[tenant.ID]*slot)}
}

// Seal encrypts plaintext for the field of the record, with the tenant, the
// record and the field as associated data: the ciphertext opens only with
// the same three. The tenant's keyset is created on first use. Returns
// tenant.ErrNoTenant if ctx has no tenant and ErrShredded if the tenant was
// shredded.
func (k *Keyring) Seal(ctx context.Context, record, field string, plaintext []byte) ([]byte, error) {
	org, keys, err := k.keysFor(ctx, record, field)
	if err != nil {
		return nil, fmt.Errorf("seal: seal field %q: %w", field, err)
	}
	ct, err := keys.aead.Encrypt(plaintext, associatedData(org, record, field))
	if err != nil {
		return nil, fmt.Errorf("seal: seal field %q: %w", field, err)
	}
	return ct, nil
}

// Open decrypts a ciphertext made by Seal with the same tenant, record and
// field. Returns ErrOpen if the ciphertext does not authenticate (tampered,
// or sealed for another tenant, record or field), tenant.ErrNoTenant if ctx
// has no tenant and ErrShredded if the tenant was shredded.
func (k *Keyring) Open(ctx context.Context, record, field string, ciphertext []byte) ([]byte, error) {
	org, keys, err := k.keysFor(ctx, record, field)
	if err != nil {
		return nil, fmt.Errorf("seal: open field %q: %w", field, err)
	}
	pt, err := keys.aead.Decrypt(ciphertext, associatedData(org, record, field))
	if err != nil {
		// The AEAD's own error says nothing more than "it failed".
		return nil, fmt.Errorf("seal: open field %q: %w", field, ErrOpen)
	}
	return pt, nil
}

// BlindIndex returns a keyed, deterministic index of a normalized value of
// the given kind ("email", "phone"), for finding sealed records without
// storing the value: the same kind and value give the same index within a
// tenant and unrelated indexes across tenants and kinds. Callers normalize
// the value first (lower-cased email, E.164 phone): the index matches bytes
// exactly. The result is 43 characters of unpadded base64url (256 bits).
// Returns an error if kind or normalized is empty, tenant.ErrNoTenant if ctx
// has no tenant and ErrShredded if the tenant was shredded.
func (k *Keyring) BlindIndex(ctx context.Context, kind, normalized string) (string, error) {
	if kind == "" || normalized == "" {
		return "", fmt.Errorf("seal: blind index %q: empty kind or value", kind)
	}
	org, keys, err := k.keys(ctx)
	if err != nil {
		return "", fmt.Errorf("seal: blind index %q: %w", kind, err)
	}
	in := make([]byte, 0, len(indexDomain)+len(org)+len(kind)+len(normalized)+4*binary.MaxVarintLen64)
	in = appendPrefixed(in, indexDomain)
	in = appendPrefixed(in, string(org))
	in = appendPrefixed(in, kind)
	in = appendPrefixed(in, normalized)
	sum, err := keys.prf.ComputePrimaryPRF(in, indexLen)
	if err != nil {
		return "", fmt.Errorf("seal: blind index %q: %w", kind, err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// Shred destroys the keyset of the tenant in ctx, making everything sealed
// for it unreadable (ENC-04). From the moment Shred is called, every Seal,
// Open and BlindIndex for the tenant on this Keyring fails with ErrShredded,
// even if destroying the stored keyset then fails; other Keyrings over the
// same store fail likewise once their cache holds no keys for the tenant
// (a fresh process). Shredding twice is not an error. Returns
// tenant.ErrNoTenant if ctx has no tenant.
//
// Shred reaches the store only: copies of the wrapped keyset elsewhere (a
// backup of the store) remain decryptable while the master key exists, and
// other running processes go on with the keys they have cached until
// their next Recheck (at most DefaultRecheck by default).
func (k *Keyring) Shred(ctx context.Context) error {
	org, err := tenant.From(ctx)
	if err != nil {
		return fmt.Errorf("seal: shred: %w", err)
	}
	gone := &slot{done: make(chan struct{}), err: fmt.Errorf("tenant %s: %w", org, ErrShredded)}
	close(gone.done)
	k.mu.Lock()
	k.tenants[org] = gone
	k.mu.Unlock()
	if err := k.keysets.Destroy(ctx, org); err != nil {
		return fmt.Errorf("seal: shred tenant %s: %w", org, err)
	}
	return nil
}

// keysFor is keys for Seal and Open, which also need a record and a field.
func (k *Keyring) keysFor(ctx context.Context, record, field string) (tenant.ID, *tenantKeys, error) {
	if record == "" || field == "" {
		return "", nil, errors.New("empty record or field")
	}
	return k.keys(ctx)
}

// keys returns the tenant of ctx and its keys, loading them on first use.
// Concurrent first uses of one tenant share a single load.
func (k *Keyring) keys(ctx context.Context) (tenant.ID, *tenantKeys, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return "", nil, err
	}
	for {
		k.mu.Lock()
		s, ok := k.tenants[org]
		if !ok {
			s = &slot{done: make(chan struct{})}
			k.tenants[org] = s
		}
		k.mu.Unlock()
		if !ok {
			s.checked.Store(k.now().UnixNano())
			s.keys, s.err = k.load(ctx, org)
			if s.err != nil && !errors.Is(s.err, ErrShredded) {
				k.mu.Lock()
				if k.tenants[org] == s {
					delete(k.tenants, org) // let a later call try again
				}
				k.mu.Unlock()
			}
			close(s.done)
			return org, s.keys, s.err
		}
		select {
		case <-s.done:
		case <-ctx.Done():
			return "", nil, ctx.Err()
		}
		if isContextErr(s.err) && ctx.Err() == nil {
			continue // the loader gave up on its own context; load with ours
		}
		if s.err == nil {
			if err := k.recheck(ctx, org, s); err != nil {
				return "", nil, err
			}
		}
		return org, s.keys, s.err
	}
}

// recheck asks the store, once per Recheck, whether the tenant of the
// cached slot s was shredded by another process; if so the cache forgets
// the keys and ErrShredded is returned. A failed read keeps the keys (the
// next call asks again).
func (k *Keyring) recheck(ctx context.Context, org tenant.ID, s *slot) error {
	now := k.now()
	every := k.Recheck
	if every <= 0 {
		every = DefaultRecheck
	}
	last := s.checked.Load()
	if now.UnixNano()-last < int64(every) || !s.checked.CompareAndSwap(last, now.UnixNano()) {
		return nil
	}
	if _, err := k.keysets.Get(ctx, org); errors.Is(err, ErrShredded) {
		gone := &slot{done: make(chan struct{}), err: fmt.Errorf("tenant %s: %w", org, ErrShredded)}
		close(gone.done)
		k.mu.Lock()
		k.tenants[org] = gone
		k.mu.Unlock()
		return gone.err
	} else if err != nil {
		s.checked.Store(last)
	}
	return nil
}

func (k *Keyring) now() time.Time {
	if k.Now == nil {
		return time.Now()
	}
	return k.Now()
}

// load reads the tenant's keyset from the store, creating it if the tenant
// has none.
func (k *Keyring) load(ctx context.Context, org tenant.ID) (*tenantKeys, error) {
	wrapped, err := k.keysets.Get(ctx, org)
	if errors.Is(err, ErrNoKeyset) {
		return k.create(ctx, org)
	}
	if err != nil {
		return nil, fmt.Errorf("tenant %s: get keyset: %w", org, err)
	}
	return unwrapKeys(k.master, org, wrapped)
}

// create makes the tenant's keyset and stores it; if another Keyring stored
// one first, it uses that one instead.
func (k *Keyring) create(ctx context.Context, org tenant.ID) (*tenantKeys, error) {
	keys, wrapped, err := newTenantKeys(k.master, org)
	if err != nil {
		return nil, err
	}
	err = k.keysets.Create(ctx, org, wrapped)
	if err == nil {
		return keys, nil
	}
	if !errors.Is(err, ErrExists) {
		return nil, fmt.Errorf("tenant %s: create keyset: %w", org, err)
	}
	wrapped, err = k.keysets.Get(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: get keyset: %w", org, err)
	}
	return unwrapKeys(k.master, org, wrapped)
}

// associatedData binds a ciphertext to its tenant, record and field. Every
// part is length-prefixed, so ("a", "bc") and ("ab", "c") differ.
func associatedData(org tenant.ID, record, field string) []byte {
	ad := make([]byte, 0, len(sealDomain)+len(org)+len(record)+len(field)+4*binary.MaxVarintLen64)
	ad = appendPrefixed(ad, sealDomain)
	ad = appendPrefixed(ad, string(org))
	ad = appendPrefixed(ad, record)
	return appendPrefixed(ad, field)
}

// appendPrefixed appends s preceded by its length as a uvarint.
func appendPrefixed(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
