package seal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/alto/alto/shared/tenant"
)

// A tenant's wrapped keyset is the master AEAD's encryption of
//
//	keysetVersion | uvarint len | AEAD keyset | uvarint len | PRF keyset
//
// where both keysets are tink keysets in binary form. Tink builds a primitive
// from a keyset of one kind only, so the AEAD and the PRF keys live in two
// keysets (each with its own primary, ready for rotation); sealing them under
// one encryption keeps the master AEAD to one call per tenant.
const keysetVersion = 1

// keysetAD is the associated data of a tenant's wrapped keyset: a keyset
// moved to another tenant's entry does not unwrap.
func keysetAD(org tenant.ID) []byte { return []byte("alto/keyset/v1/" + string(org)) }

// tenantKeys are one tenant's primitives. Both may be used concurrently.
type tenantKeys struct {
	aead tink.AEAD
	prf  *prf.Set
}

// newTenantKeys generates a tenant's keys and returns them with their
// wrapped form, ready for a KeysetStore.
func newTenantKeys(master tink.AEAD, org tenant.ID) (*tenantKeys, []byte, error) {
	aeadHandle, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, nil, fmt.Errorf("tenant %s: new AEAD key: %w", org, err)
	}
	prfHandle, err := keyset.NewHandle(prf.HMACSHA256PRFKeyTemplate())
	if err != nil {
		return nil, nil, fmt.Errorf("tenant %s: new PRF key: %w", org, err)
	}
	keys, err := primitives(aeadHandle, prfHandle)
	if err != nil {
		return nil, nil, fmt.Errorf("tenant %s: %w", org, err)
	}

	plain := []byte{keysetVersion}
	for _, h := range []*keyset.Handle{aeadHandle, prfHandle} {
		// The cleartext keysets exist only in memory, and are cleared
		// (best effort) once encrypted.
		var buf bytes.Buffer
		if err := insecurecleartextkeyset.Write(h, keyset.NewBinaryWriter(&buf)); err != nil {
			return nil, nil, fmt.Errorf("tenant %s: serialize keyset: %w", org, err)
		}
		plain = binary.AppendUvarint(plain, uint64(buf.Len()))
		plain = append(plain, buf.Bytes()...)
		clear(buf.Bytes())
	}
	defer clear(plain)
	wrapped, err := master.Encrypt(plain, keysetAD(org))
	if err != nil {
		return nil, nil, fmt.Errorf("tenant %s: wrap keyset: %w", org, err)
	}
	return keys, wrapped, nil
}

// unwrapKeys decrypts a tenant's wrapped keyset with one call to master.
func unwrapKeys(master tink.AEAD, org tenant.ID, wrapped []byte) (*tenantKeys, error) {
	plain, err := master.Decrypt(wrapped, keysetAD(org))
	if err != nil {
		return nil, fmt.Errorf("tenant %s: unwrap keyset: %w", org, err)
	}
	defer clear(plain)
	if len(plain) == 0 || plain[0] != keysetVersion {
		return nil, fmt.Errorf("tenant %s: unwrap keyset: unknown layout", org)
	}
	rest := plain[1:]
	var handles [2]*keyset.Handle
	for i := range handles {
		n, size := binary.Uvarint(rest)
		if size <= 0 || n > uint64(len(rest)-size) {
			return nil, fmt.Errorf("tenant %s: unwrap keyset: truncated", org)
		}
		part := rest[size : size+int(n)]
		rest = rest[size+int(n):]
		if handles[i], err = insecurecleartextkeyset.Read(keyset.NewBinaryReader(bytes.NewReader(part))); err != nil {
			return nil, fmt.Errorf("tenant %s: unwrap keyset: %w", org, err)
		}
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("tenant %s: unwrap keyset: trailing bytes", org)
	}
	keys, err := primitives(handles[0], handles[1])
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", org, err)
	}
	return keys, nil
}

func primitives(aeadHandle, prfHandle *keyset.Handle) (*tenantKeys, error) {
	a, err := aead.New(aeadHandle)
	if err != nil {
		return nil, fmt.Errorf("AEAD primitive: %w", err)
	}
	p, err := prf.NewPRFSet(prfHandle)
	if err != nil {
		return nil, fmt.Errorf("PRF primitive: %w", err)
	}
	if _, ok := p.PRFs[p.PrimaryID]; !ok {
		return nil, errors.New("PRF primitive: no primary key")
	}
	return &tenantKeys{aead: a, prf: p}, nil
}
