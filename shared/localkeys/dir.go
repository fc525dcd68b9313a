package localkeys

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

// Dir is a seal.KeysetStore keeping each tenant's wrapped keyset in a file
// <org>.keyset (mode 0600) of one directory (mode 0700). Destroying a
// tenant's keyset writes a tombstone <org>.shredded, then overwrites and
// removes the keyset file. Writes are atomic, and Create is exclusive even
// across processes sharing the directory. Its methods may be called
// concurrently.
type Dir struct {
	path string
}

var _ seal.KeysetStore = (*Dir)(nil)

// OpenDir returns the Dir at path, creating the directory with mode 0700 if
// it does not exist. Returns an error naming the path if the directory is
// writable by its group or by others (who could delete a tombstone or
// replace a keyset).
func OpenDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("localkeys: open keyset dir: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("localkeys: open keyset dir: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("localkeys: open keyset dir: %s is not a directory", path)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return nil, fmt.Errorf("localkeys: open keyset dir: %s has mode %04o, writable by group or others; want 0700: chmod 700 %s", path, perm, path)
	}
	return &Dir{path: path}, nil
}

// Get returns the tenant's wrapped keyset. Returns seal.ErrNoKeyset if none
// was created and seal.ErrShredded if it was destroyed.
func (d *Dir) Get(_ context.Context, org tenant.ID) ([]byte, error) {
	keysetPath, tombstone, err := d.paths(org)
	if err != nil {
		return nil, fmt.Errorf("localkeys: get keyset: %w", err)
	}
	if err := d.checkShredded(tombstone, org); err != nil {
		return nil, fmt.Errorf("localkeys: get keyset: %w", err)
	}
	data, err := os.ReadFile(keysetPath)
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("tenant %s: %w", org, seal.ErrNoKeyset)
	}
	// A Destroy may have run while the file was read: it writes the
	// tombstone before it overwrites the keyset.
	if serr := d.checkShredded(tombstone, org); serr != nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("localkeys: get keyset: %w", err)
	}
	return data, nil
}

// Create stores the tenant's wrapped keyset if the tenant has neither a
// keyset nor a tombstone. Returns seal.ErrExists otherwise.
func (d *Dir) Create(_ context.Context, org tenant.ID, wrapped []byte) error {
	keysetPath, tombstone, err := d.paths(org)
	if err != nil {
		return fmt.Errorf("localkeys: create keyset: %w", err)
	}
	if exists, err := fileExists(tombstone); err != nil || exists {
		if err == nil {
			err = fmt.Errorf("tenant %s shredded: %w", org, seal.ErrExists)
		}
		return fmt.Errorf("localkeys: create keyset: %w", err)
	}
	err = createFile(keysetPath, wrapped)
	if errors.Is(err, fs.ErrExist) {
		err = fmt.Errorf("tenant %s: %w", org, seal.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("localkeys: create keyset: %w", err)
	}
	// A Destroy may have written its tombstone since the check above, and
	// found no keyset to remove: remove ours.
	if exists, err := fileExists(tombstone); err != nil || exists {
		if err == nil {
			err = removeFile(keysetPath)
		}
		if err == nil {
			err = fmt.Errorf("tenant %s shredded: %w", org, seal.ErrExists)
		}
		return fmt.Errorf("localkeys: create keyset: %w", err)
	}
	return nil
}

// Destroy writes the tenant's tombstone, then overwrites and removes its
// keyset file (and any temporary copy a crashed Create left). Destroying twice, or a tenant without a keyset, is not an
// error.
func (d *Dir) Destroy(_ context.Context, org tenant.ID) error {
	keysetPath, tombstone, err := d.paths(org)
	if err != nil {
		return fmt.Errorf("localkeys: destroy keyset: %w", err)
	}
	exists, err := fileExists(tombstone)
	if err == nil && !exists {
		err = replaceFile(tombstone, []byte("shredded\n"))
	}
	if err == nil {
		err = removeFile(keysetPath)
	}
	if err == nil {
		// Temporary files a crashed Create left behind hold keysets too.
		var leftovers []string
		leftovers, err = filepath.Glob(filepath.Join(d.path, "."+string(org)+".keyset.tmp-*"))
		for _, name := range leftovers {
			if err == nil {
				err = removeFile(name)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("localkeys: destroy keyset of tenant %s: %w", org, err)
	}
	return nil
}

// paths returns the keyset and tombstone files of org, refusing an org that
// could not be a file name in the directory.
func (d *Dir) paths(org tenant.ID) (keysetPath, tombstone string, err error) {
	if org != tenant.Platform {
		if err := tenant.Valid(string(org)); err != nil {
			return "", "", err
		}
	}
	base := filepath.Join(d.path, string(org))
	return base + ".keyset", base + ".shredded", nil
}

func (d *Dir) checkShredded(tombstone string, org tenant.ID) error {
	exists, err := fileExists(tombstone)
	if err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("tenant %s: %w", org, seal.ErrShredded)
	}
	return nil
}

func fileExists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
