// Package localkeys keeps keys on one machine's file system: the master key
// that wraps tenants' keysets (in AWS, KMS plays this part) and a directory
// of wrapped keysets implementing seal.KeysetStore.
package localkeys

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// LoadOrCreateMaster returns the AEAD of the master keyset in the file at
// path, creating the file (and its directory, mode 0700) with a new
// AES-256-GCM keyset if it does not exist. The file is a cleartext tink
// keyset in JSON with mode 0600: anyone who can read it can unwrap every
// tenant's keys. Returns an error naming the path if the file is accessible
// to its group or to others. Two processes creating the file at once end up
// with the same key. The returned AEAD may be used concurrently.
func LoadOrCreateMaster(path string) (tink.AEAD, error) {
	a, err := loadMaster(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return a, err
	}
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("localkeys: new master key: %w", err)
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return nil, fmt.Errorf("localkeys: encode master key: %w", err)
	}
	defer clear(buf.Bytes())
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("localkeys: create master key: %w", err)
	}
	err = createFile(path, buf.Bytes())
	if errors.Is(err, fs.ErrExist) {
		return loadMaster(path) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("localkeys: create master key: %w", err)
	}
	a, err = aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("localkeys: master key %s: %w", path, err)
	}
	return a, nil
}

// loadMaster reads the master keyset at path. Returns an error wrapping
// fs.ErrNotExist if there is none.
func loadMaster(path string) (tink.AEAD, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("localkeys: open master key: %w", err)
	}
	defer f.Close()
	if err := checkPrivate(f, path); err != nil {
		return nil, fmt.Errorf("localkeys: master key: %w", err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(f))
	if err != nil {
		return nil, fmt.Errorf("localkeys: read master key %s: %w", path, err)
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("localkeys: master key %s: %w", path, err)
	}
	return a, nil
}
