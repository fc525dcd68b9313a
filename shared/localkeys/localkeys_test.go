package localkeys_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/alto/alto/shared/keysettest"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

func TestDir_KeysetStoreContract(t *testing.T) {
	keysettest.TestKeysetStore(t, func(t *testing.T) seal.KeysetStore { return openDir(t, filepath.Join(t.TempDir(), "keysets")) })
}

func TestENC02_MasterKeyFileIsPrivateAndReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "master.json")
	first, err := localkeys.LoadOrCreateMaster(path)
	if err != nil {
		t.Fatalf("LoadOrCreateMaster (create): %v", err)
	}
	assertMode(t, path, 0o600)
	assertMode(t, filepath.Dir(path), 0o700)

	ct, err := first.Encrypt([]byte("tenant keyset"), []byte("ad"))
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	again, err := localkeys.LoadOrCreateMaster(path)
	if err != nil {
		t.Fatalf("LoadOrCreateMaster (load): %v", err)
	}
	if pt, err := again.Decrypt(ct, []byte("ad")); err != nil || string(pt) != "tenant keyset" {
		t.Fatalf("Decrypt with reloaded master: got %q, %v, want the plaintext", pt, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestENC02_MasterKeyRefusesOpenFile(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.json")
			if _, err := localkeys.LoadOrCreateMaster(path); err != nil {
				t.Fatalf("LoadOrCreateMaster: %v", err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err = localkeys.LoadOrCreateMaster(path)
			if err == nil {
				t.Fatalf("LoadOrCreateMaster of a %04o file: got nil error, want a refusal", mode)
			}
			for _, want := range []string{path, "chmod 600"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q: want it to contain %q", err, want)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Errorf("the refused master key file was changed")
			}
		})
	}
}

func TestENC02_MasterKeyConcurrentCreateAgrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.json")
	const n = 8
	masters := make([]tink.AEAD, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := localkeys.LoadOrCreateMaster(path)
			if err != nil {
				t.Errorf("LoadOrCreateMaster: %v", err)
			}
			masters[i] = m
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ct, err := masters[0].Encrypt([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range masters {
		if _, err := m.Decrypt(ct, nil); err != nil {
			t.Errorf("master %d cannot decrypt master 0's ciphertext: %v", i, err)
		}
	}
}

func TestENC02_KeysetFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keysets")
	d := openDir(t, path)
	assertMode(t, path, 0o700)
	ctx := context.Background()
	if err := d.Create(ctx, "acme", []byte("wrapped")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	assertMode(t, filepath.Join(path, "acme.keyset"), 0o600)
	if err := d.Destroy(ctx, "acme"); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	assertMode(t, filepath.Join(path, "acme.shredded"), 0o600)
}

func TestENC04_DestroyRemovesKeysetFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keysets")
	d := openDir(t, path)
	ctx := context.Background()
	if err := d.Create(ctx, "acme", []byte("wrapped")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	// A crashed Create's leftover holds a keyset too.
	if err := os.WriteFile(filepath.Join(path, ".acme.keyset.tmp-123"), []byte("wrapped"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, "acme"); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), "acme.shredded"; got != want {
		t.Fatalf("files after Destroy: got %q, want %q", got, want)
	}
}

func TestDir_RefusesWritableDirectory(t *testing.T) {
	path := t.TempDir()
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := localkeys.OpenDir(path)
	if err == nil || !strings.Contains(err.Error(), "chmod 700 "+path) {
		t.Fatalf("OpenDir of a 0777 directory: got %v, want a refusal naming chmod 700 and the path", err)
	}
}

func TestDir_RefusesTenantThatIsNoFileName(t *testing.T) {
	d := openDir(t, filepath.Join(t.TempDir(), "keysets"))
	for _, org := range []tenant.ID{"", "../acme", "a/b", "ACME", "."} {
		if err := d.Create(context.Background(), org, []byte("x")); err == nil {
			t.Errorf("Create(%q): got nil error, want a refusal", org)
		}
	}
	if err := d.Create(context.Background(), tenant.Platform, []byte("x")); err != nil {
		t.Errorf("Create(platform): %v", err)
	}
	if _, err := d.Get(context.Background(), "nobody"); !errors.Is(err, seal.ErrNoKeyset) {
		t.Errorf("Get(nobody): got %v, want ErrNoKeyset", err)
	}
}

func openDir(t *testing.T, path string) *localkeys.Dir {
	t.Helper()
	d, err := localkeys.OpenDir(path)
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	return d
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s: got %04o, want %04o", filepath.Base(path), got, want)
	}
}
