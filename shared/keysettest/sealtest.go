// Package keysettest checks implementations of seal.KeysetStore against the
// port's contract, and counts calls to a master AEAD so tests can prove how
// often a key-management service would be called.
package keysettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

// CountingAEAD is a tink.AEAD that counts the calls made to the AEAD it
// wraps. It may be used concurrently.
type CountingAEAD struct {
	aead     tink.AEAD
	encrypts atomic.Int64
	decrypts atomic.Int64
}

var _ tink.AEAD = (*CountingAEAD)(nil)

// NewCountingAEAD returns a CountingAEAD over a.
func NewCountingAEAD(a tink.AEAD) *CountingAEAD { return &CountingAEAD{aead: a} }

// Encrypt counts the call and encrypts with the wrapped AEAD.
func (c *CountingAEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	c.encrypts.Add(1)
	return c.aead.Encrypt(plaintext, associatedData)
}

// Decrypt counts the call and decrypts with the wrapped AEAD.
func (c *CountingAEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	c.decrypts.Add(1)
	return c.aead.Decrypt(ciphertext, associatedData)
}

// Encrypts returns the number of calls to Encrypt so far.
func (c *CountingAEAD) Encrypts() int64 { return c.encrypts.Load() }

// Decrypts returns the number of calls to Decrypt so far.
func (c *CountingAEAD) Decrypts() int64 { return c.decrypts.Load() }

// TestKeysetStore runs the seal.KeysetStore contract against stores made by
// newStore, which is called once per subtest and must return an empty store.
func TestKeysetStore(t *testing.T, newStore func(t *testing.T) seal.KeysetStore) {
	ctx := context.Background()
	const acme, globex tenant.ID = "acme", "globex"
	wrapped := []byte("wrapped keyset \x00\xff of acme")

	t.Run("GetUnknownIsErrNoKeyset", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, acme); !errors.Is(err, seal.ErrNoKeyset) {
			t.Fatalf("Get: got %v, want ErrNoKeyset", err)
		}
	})

	t.Run("CreateThenGet", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, acme, wrapped)
		got, err := s.Get(ctx, acme)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !bytes.Equal(got, wrapped) {
			t.Fatalf("Get: got %q, want %q", got, wrapped)
		}
		if _, err := s.Get(ctx, globex); !errors.Is(err, seal.ErrNoKeyset) {
			t.Fatalf("Get other tenant: got %v, want ErrNoKeyset", err)
		}
	})

	t.Run("CreateTwiceIsErrExistsAndKeepsFirst", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, acme, wrapped)
		if err := s.Create(ctx, acme, []byte("another")); !errors.Is(err, seal.ErrExists) {
			t.Fatalf("second Create: got %v, want ErrExists", err)
		}
		got, err := s.Get(ctx, acme)
		if err != nil || !bytes.Equal(got, wrapped) {
			t.Fatalf("Get after second Create: got %q, %v, want the first keyset", got, err)
		}
	})

	t.Run("DestroyLeavesTombstone", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, acme, wrapped)
		mustCreate(t, s, globex, wrapped)
		for i := range 2 { // the second Destroy is a no-op
			if err := s.Destroy(ctx, acme); err != nil {
				t.Fatalf("Destroy #%d: %v", i+1, err)
			}
		}
		if _, err := s.Get(ctx, acme); !errors.Is(err, seal.ErrShredded) {
			t.Fatalf("Get after Destroy: got %v, want ErrShredded", err)
		}
		if err := s.Create(ctx, acme, wrapped); !errors.Is(err, seal.ErrExists) {
			t.Fatalf("Create after Destroy: got %v, want ErrExists", err)
		}
		if _, err := s.Get(ctx, acme); !errors.Is(err, seal.ErrShredded) {
			t.Fatalf("Get after Create on tombstone: got %v, want ErrShredded", err)
		}
		if got, err := s.Get(ctx, globex); err != nil || !bytes.Equal(got, wrapped) {
			t.Fatalf("Get other tenant: got %q, %v, want its keyset", got, err)
		}
	})

	t.Run("DestroyUnknownLeavesTombstone", func(t *testing.T) {
		s := newStore(t)
		if err := s.Destroy(ctx, acme); err != nil {
			t.Fatalf("Destroy: %v", err)
		}
		if _, err := s.Get(ctx, acme); !errors.Is(err, seal.ErrShredded) {
			t.Fatalf("Get: got %v, want ErrShredded", err)
		}
		if err := s.Create(ctx, acme, wrapped); !errors.Is(err, seal.ErrExists) {
			t.Fatalf("Create: got %v, want ErrExists", err)
		}
	})

	t.Run("ConcurrentCreateHasOneWinner", func(t *testing.T) {
		s := newStore(t)
		const n = 16
		var wg sync.WaitGroup
		var wins atomic.Int32
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				err := s.Create(ctx, acme, fmt.Appendf(nil, "keyset %d", i))
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, seal.ErrExists):
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Create: got %v, want nil or ErrExists", err)
		}
		if got := wins.Load(); got != 1 {
			t.Fatalf("successful Creates: got %d, want 1", got)
		}
		if _, err := s.Get(ctx, acme); err != nil {
			t.Fatalf("Get: %v", err)
		}
	})
}

func mustCreate(t *testing.T, s seal.KeysetStore, org tenant.ID, wrapped []byte) {
	t.Helper()
	if err := s.Create(context.Background(), org, wrapped); err != nil {
		t.Fatalf("Create %s: %v", org, err)
	}
}
