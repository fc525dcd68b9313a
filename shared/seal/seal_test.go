package seal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alto/alto/shared/clocktest"

	"github.com/alto/alto/shared/keysettest"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

// world is one machine's keys: a master key file and a keyset directory,
// as a process would find them on a cold start.
type world struct {
	master *keysettest.CountingAEAD
	store  *countingStore
}

func newWorld(t testing.TB) *world {
	t.Helper()
	dir := t.TempDir()
	master, err := localkeys.LoadOrCreateMaster(filepath.Join(dir, "master.json"))
	if err != nil {
		t.Fatalf("LoadOrCreateMaster: %v", err)
	}
	keysets, err := localkeys.OpenDir(filepath.Join(dir, "keysets"))
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	return &world{master: keysettest.NewCountingAEAD(master), store: &countingStore{KeysetStore: keysets}}
}

// coldStart returns a new Keyring over the world's keys, and a fresh count
// of its master calls.
func (w *world) coldStart() (*seal.Keyring, *keysettest.CountingAEAD) {
	m := keysettest.NewCountingAEAD(w.master)
	return seal.NewKeyring(m, w.store), m
}

// countingStore counts successful Creates.
type countingStore struct {
	seal.KeysetStore
	creates atomic.Int64
}

func (s *countingStore) Create(ctx context.Context, org tenant.ID, wrapped []byte) error {
	err := s.KeysetStore.Create(ctx, org, wrapped)
	if err == nil {
		s.creates.Add(1)
	}
	return err
}

func as(org tenant.ID) context.Context { return tenant.With(context.Background(), org) }

func TestENC02_SealOpenRoundTrip(t *testing.T) {
	k, _ := newWorld(t).coldStart()
	ctx := as("acme")
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", []byte{}},
		{"email", []byte("ada@example.com")},
		{"unicode", []byte("Zoë Ångström, +33 6 12 34 56 78")},
		{"binary", []byte{0, 1, 2, 0xff, 0}},
		{"1KiB", bytes.Repeat([]byte("x"), 1024)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := k.Seal(ctx, "CONTACT#42", "email", tc.plaintext)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			got, err := k.Open(ctx, "CONTACT#42", "email", ct)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Fatalf("Open: got %q, want %q", got, tc.plaintext)
			}
		})
	}
}

func TestENC02_CiphertextHidesPlaintext(t *testing.T) {
	k, _ := newWorld(t).coldStart()
	ctx := as("acme")
	plaintext := []byte("ada.lovelace@example.com")
	first, err := k.Seal(ctx, "CONTACT#42", "email", plaintext)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	second, err := k.Seal(ctx, "CONTACT#42", "email", plaintext)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	for _, ct := range [][]byte{first, second} {
		for _, part := range []string{"ada.lovelace", "lovelace", "example.com"} {
			if bytes.Contains(ct, []byte(part)) {
				t.Errorf("ciphertext contains %q", part)
			}
		}
	}
	if bytes.Equal(first, second) {
		t.Errorf("two seals of one value: got equal ciphertexts, want different (random nonce)")
	}
}

func TestENC02_AssociatedDataBindsTenantRecordField(t *testing.T) {
	k, _ := newWorld(t).coldStart()
	ct, err := k.Seal(as("acme"), "a", "bc", []byte("secret"))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	// globex must have keys of its own for the wrong-tenant case to test
	// the associated data rather than a missing keyset.
	if _, err := k.Seal(as("globex"), "a", "bc", []byte("x")); err != nil {
		t.Fatalf("Seal globex: %v", err)
	}
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name          string
		org           tenant.ID
		record, field string
		ciphertext    []byte
	}{
		{"other tenant", "globex", "a", "bc", ct},
		{"other record", "acme", "b", "bc", ct},
		{"other field", "acme", "a", "phone", ct},
		{"boundary moved", "acme", "ab", "c", ct},
		{"record and field swapped", "acme", "bc", "a", ct},
		{"tampered", "acme", "a", "bc", tampered},
		{"truncated", "acme", "a", "bc", ct[:len(ct)-1]},
		{"empty", "acme", "a", "bc", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := k.Open(as(tc.org), tc.record, tc.field, tc.ciphertext)
			if !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("Open: got %q, %v, want ErrOpen", got, err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q contains the plaintext", err)
			}
		})
	}
	if got, err := k.Open(as("acme"), "a", "bc", ct); err != nil || string(got) != "secret" {
		t.Fatalf("Open with the right tenant, record and field: got %q, %v", got, err)
	}
}

func TestENC02_NoTenantNoSeal(t *testing.T) {
	k, _ := newWorld(t).coldStart()
	ctx := context.Background()
	if _, err := k.Seal(ctx, "r", "f", []byte("x")); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("Seal: got %v, want ErrNoTenant", err)
	}
	if _, err := k.Open(ctx, "r", "f", []byte("x")); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("Open: got %v, want ErrNoTenant", err)
	}
	if _, err := k.BlindIndex(ctx, "email", "x"); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("BlindIndex: got %v, want ErrNoTenant", err)
	}
	if err := k.Shred(ctx); !errors.Is(err, tenant.ErrNoTenant) {
		t.Errorf("Shred: got %v, want ErrNoTenant", err)
	}
}

func TestENC02_MasterCalledOncePerTenantPerColdStart(t *testing.T) {
	w := newWorld(t)
	orgs := []tenant.ID{"acme", "globex"}
	const records = 1000
	sealed := map[tenant.ID][][]byte{}

	warm, m := w.coldStart()
	for _, org := range orgs {
		for i := range records {
			ct, err := warm.Seal(as(org), fmt.Sprintf("CONTACT#%d", i), "email", fmt.Appendf(nil, "user%d@example.com", i))
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			sealed[org] = append(sealed[org], ct)
		}
	}
	if got, want := m.Encrypts(), int64(len(orgs)); got != want {
		t.Errorf("master Encrypt calls creating %d tenants: got %d, want %d", len(orgs), got, want)
	}
	if got := m.Decrypts(); got != 0 {
		t.Errorf("master Decrypt calls creating tenants: got %d, want 0", got)
	}

	cold, m := w.coldStart()
	for _, org := range orgs {
		for i, ct := range sealed[org] {
			record := fmt.Sprintf("CONTACT#%d", i)
			got, err := cold.Open(as(org), record, "email", ct)
			if err != nil || string(got) != fmt.Sprintf("user%d@example.com", i) {
				t.Fatalf("Open %s %s: got %q, %v", org, record, got, err)
			}
			if _, err := cold.Seal(as(org), record, "phone", []byte("+33612345678")); err != nil {
				t.Fatalf("Seal: %v", err)
			}
		}
	}
	if got, want := m.Decrypts(), int64(len(orgs)); got != want {
		t.Errorf("master Decrypt calls for %d records in %d tenants after a cold start: got %d, want %d", 2*records, len(orgs), got, want)
	}
	if got := m.Encrypts(); got != 0 {
		t.Errorf("master Encrypt calls after a cold start: got %d, want 0", got)
	}
}

func TestENC02_ConcurrentFirstUseCreatesOneKeyset(t *testing.T) {
	t.Run("one Keyring", func(t *testing.T) {
		w := newWorld(t)
		k, m := w.coldStart()
		const n = 32
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if _, err := k.Seal(as("acme"), fmt.Sprint(i), "f", []byte("x")); err != nil {
					t.Errorf("Seal: %v", err)
				}
			})
		}
		wg.Wait()
		if got := w.store.creates.Load(); got != 1 {
			t.Errorf("keysets created: got %d, want 1", got)
		}
		if got := m.Encrypts() + m.Decrypts(); got != 1 {
			t.Errorf("master calls: got %d, want 1", got)
		}
	})

	t.Run("Keyrings sharing a store", func(t *testing.T) {
		w := newWorld(t)
		const n = 8
		rings := make([]*seal.Keyring, n)
		sealed := make([][]byte, n)
		for i := range rings {
			rings[i], _ = w.coldStart()
		}
		var wg sync.WaitGroup
		for i, k := range rings {
			wg.Go(func() {
				ct, err := k.Seal(as("acme"), "r", "f", fmt.Appendf(nil, "from %d", i))
				if err != nil {
					t.Errorf("Seal: %v", err)
				}
				sealed[i] = ct
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if got := w.store.creates.Load(); got != 1 {
			t.Errorf("keysets created: got %d, want 1", got)
		}
		// Every Keyring ended with the one stored keyset: each opens what
		// every other sealed.
		for i, k := range rings {
			for j, ct := range sealed {
				got, err := k.Open(as("acme"), "r", "f", ct)
				if err != nil || string(got) != fmt.Sprintf("from %d", j) {
					t.Errorf("Keyring %d opening Keyring %d's ciphertext: got %q, %v", i, j, got, err)
				}
			}
		}
	})
}

func TestENC02_RecordAndFieldRequired(t *testing.T) {
	k, _ := newWorld(t).coldStart()
	for _, rf := range [][2]string{{"", "email"}, {"CONTACT#1", ""}} {
		if _, err := k.Seal(as("acme"), rf[0], rf[1], []byte("x")); err == nil {
			t.Errorf("Seal(record %q, field %q): got nil error, want one", rf[0], rf[1])
		}
	}
}

func TestENC03_BlindIndex(t *testing.T) {
	k, _ := newWorld(t).coldStart()
	index := func(org tenant.ID, kind, value string) string {
		t.Helper()
		ix, err := k.BlindIndex(as(org), kind, value)
		if err != nil {
			t.Fatalf("BlindIndex: %v", err)
		}
		return ix
	}
	const email = "ada@example.com"
	base := index("acme", "email", email)

	t.Run("deterministic within a tenant", func(t *testing.T) {
		if got := index("acme", "email", email); got != base {
			t.Fatalf("second index: got %q, want %q", got, base)
		}
	})
	t.Run("no plaintext, at least 128 bits", func(t *testing.T) {
		for _, part := range []string{"ada", "example", "email"} {
			if strings.Contains(strings.ToLower(base), part) {
				t.Errorf("index %q contains %q", base, part)
			}
		}
		if len(base) < 22 {
			t.Errorf("index length: got %d characters, want at least 22 (16 bytes of base64)", len(base))
		}
	})
	tests := []struct {
		name             string
		org              tenant.ID
		kind, normalized string
	}{
		{"other tenant", "globex", "email", email},
		{"other kind", "acme", "phone", email},
		{"other value", "acme", "email", "bob@example.com"},
		{"boundary moved", "acme", "emaila", "da@example.com"},
	}
	for _, tc := range tests {
		t.Run("differs: "+tc.name, func(t *testing.T) {
			if got := index(tc.org, tc.kind, tc.normalized); got == base {
				t.Fatalf("index: got %q, the same as acme's email index", got)
			}
		})
	}
	t.Run("empty kind or value refused", func(t *testing.T) {
		for _, kv := range [][2]string{{"", email}, {"email", ""}} {
			if _, err := k.BlindIndex(as("acme"), kv[0], kv[1]); err == nil {
				t.Errorf("BlindIndex(%q, %q): got nil error, want one", kv[0], kv[1])
			}
		}
	})
	t.Run("stable across a cold start", func(t *testing.T) {
		// Same store, new Keyring: the index must still find the record.
		w := newWorld(t)
		k1, _ := w.coldStart()
		k2, _ := w.coldStart()
		a, err1 := k1.BlindIndex(as("acme"), "email", email)
		b, err2 := k2.BlindIndex(as("acme"), "email", email)
		if err1 != nil || err2 != nil || a != b {
			t.Fatalf("indexes from two Keyrings: got %q (%v) and %q (%v), want equal", a, err1, b, err2)
		}
	})
}

func TestENC04_ShredMakesTenantDataUnreadable(t *testing.T) {
	w := newWorld(t)
	k, _ := w.coldStart()
	acme, globex := as("acme"), as("globex")
	acmeCT, err := k.Seal(acme, "CONTACT#1", "email", []byte("ada@example.com"))
	if err != nil {
		t.Fatalf("Seal acme: %v", err)
	}
	globexCT, err := k.Seal(globex, "CONTACT#1", "email", []byte("bob@example.com"))
	if err != nil {
		t.Fatalf("Seal globex: %v", err)
	}

	if err := k.Shred(acme); err != nil {
		t.Fatalf("Shred: %v", err)
	}
	if err := k.Shred(acme); err != nil {
		t.Fatalf("second Shred: %v", err)
	}

	fresh, m := w.coldStart()
	for name, ring := range map[string]*seal.Keyring{"same Keyring": k, "fresh Keyring": fresh} {
		t.Run(name, func(t *testing.T) {
			if got, err := ring.Open(acme, "CONTACT#1", "email", acmeCT); !errors.Is(err, seal.ErrShredded) {
				t.Errorf("Open shredded: got %q, %v, want ErrShredded", got, err)
			}
			if _, err := ring.Seal(acme, "CONTACT#2", "email", []byte("x")); !errors.Is(err, seal.ErrShredded) {
				t.Errorf("Seal shredded: got %v, want ErrShredded", err)
			}
			if _, err := ring.BlindIndex(acme, "email", "ada@example.com"); !errors.Is(err, seal.ErrShredded) {
				t.Errorf("BlindIndex shredded: got %v, want ErrShredded", err)
			}
			if got, err := ring.Open(globex, "CONTACT#1", "email", globexCT); err != nil || string(got) != "bob@example.com" {
				t.Errorf("Open other tenant: got %q, %v, want its plaintext", got, err)
			}
		})
	}
	if got := m.Decrypts(); got != 1 {
		t.Errorf("fresh Keyring master Decrypts: got %d, want 1 (globex only)", got)
	}
	if got := w.store.creates.Load(); got != 2 {
		t.Errorf("keysets created: got %d, want 2 (no new keyset for the shredded tenant)", got)
	}
	if _, err := w.store.Get(context.Background(), "acme"); !errors.Is(err, seal.ErrShredded) {
		t.Errorf("store Get after Shred: got %v, want ErrShredded", err)
	}
}

func TestENC04_ShredBeforeFirstUse(t *testing.T) {
	w := newWorld(t)
	k, _ := w.coldStart()
	if err := k.Shred(as("acme")); err != nil {
		t.Fatalf("Shred: %v", err)
	}
	fresh, _ := w.coldStart()
	if _, err := fresh.Seal(as("acme"), "r", "f", []byte("x")); !errors.Is(err, seal.ErrShredded) {
		t.Fatalf("Seal after Shred of an unused tenant: got %v, want ErrShredded", err)
	}
	if got := w.store.creates.Load(); got != 0 {
		t.Fatalf("keysets created: got %d, want 0", got)
	}
}

func TestENC04_ShredStopsKeyringEvenIfStoreFails(t *testing.T) {
	w := newWorld(t)
	failing := &failingDestroy{KeysetStore: w.store}
	k := seal.NewKeyring(w.master, failing)
	ct, err := k.Seal(as("acme"), "r", "f", []byte("x"))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if err := k.Shred(as("acme")); err == nil {
		t.Fatalf("Shred with a failing store: got nil error, want one")
	}
	if _, err := k.Open(as("acme"), "r", "f", ct); !errors.Is(err, seal.ErrShredded) {
		t.Fatalf("Open after a failed Shred: got %v, want ErrShredded", err)
	}
}

type failingDestroy struct{ seal.KeysetStore }

func (failingDestroy) Destroy(context.Context, tenant.ID) error { return errors.New("disk on fire") }

// TestENC04_ShredReachesOtherRunningProcesses shreds a tenant through one
// Keyring while another (a second warm function instance) has its keys
// cached: the other keeps them at most Recheck, then fails with
// ErrShredded, having asked the store without calling the master key; the
// other tenant goes on unharmed.
func TestENC04_ShredReachesOtherRunningProcesses(t *testing.T) {
	w := newWorld(t)
	clk := clocktest.At(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	shredder, _ := w.coldStart()
	warm, m := w.coldStart()
	warm.Now, warm.Recheck = clk.Now, time.Minute
	acme, globex := as("acme"), as("globex")
	ct, err := warm.Seal(acme, "CONTACT#1", "email", []byte("ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warm.Seal(globex, "CONTACT#1", "email", []byte("bob@example.com")); err != nil {
		t.Fatal(err)
	}
	calls := m.Encrypts() + m.Decrypts()
	if err := shredder.Shred(acme); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	if _, err := warm.Open(acme, "CONTACT#1", "email", ct); err != nil {
		t.Errorf("Open within Recheck: %v, want the cached keys still working", err)
	}
	clk.Advance(31 * time.Second)
	if _, err := warm.Open(acme, "CONTACT#1", "email", ct); !errors.Is(err, seal.ErrShredded) {
		t.Errorf("Open after Recheck: %v, want ErrShredded", err)
	}
	if _, err := warm.Seal(acme, "CONTACT#2", "email", []byte("x")); !errors.Is(err, seal.ErrShredded) {
		t.Errorf("Seal after Recheck: %v, want ErrShredded", err)
	}
	if _, err := warm.Seal(globex, "CONTACT#2", "email", []byte("y")); err != nil {
		t.Errorf("Seal of the other tenant: %v", err)
	}
	if got := m.Encrypts() + m.Decrypts(); got != calls {
		t.Errorf("master calls of the warm Keyring = %d after the first uses, %d now: rechecks must read the store only", calls, got)
	}
}
