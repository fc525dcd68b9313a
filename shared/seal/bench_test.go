package seal_test

import (
	"bytes"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// BenchmarkSeal1KiBBaseline is tink's AES-256-GCM alone on the same input:
// the floor that BenchmarkSeal1KiB is measured against.
func BenchmarkSeal1KiBBaseline(b *testing.B) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		b.Fatal(err)
	}
	plaintext := bytes.Repeat([]byte("x"), 1024)
	ad := []byte("acme/CONTACT#1/notes")
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		ct, err := a.Encrypt(plaintext, ad)
		if err != nil {
			b.Fatal(err)
		}
		sink = ct
	}
}

var sink []byte

func BenchmarkSeal1KiB(b *testing.B) {
	k, _ := newWorld(b).coldStart()
	ctx := as("acme")
	plaintext := bytes.Repeat([]byte("x"), 1024)
	if _, err := k.Seal(ctx, "CONTACT#1", "notes", plaintext); err != nil { // create the keyset
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		ct, err := k.Seal(ctx, "CONTACT#1", "notes", plaintext)
		if err != nil {
			b.Fatal(err)
		}
		sink = ct
	}
}

func BenchmarkOpen1KiB(b *testing.B) {
	k, _ := newWorld(b).coldStart()
	ctx := as("acme")
	plaintext := bytes.Repeat([]byte("x"), 1024)
	ct, err := k.Seal(ctx, "CONTACT#1", "notes", plaintext)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		pt, err := k.Open(ctx, "CONTACT#1", "notes", ct)
		if err != nil {
			b.Fatal(err)
		}
		sink = pt
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	k, _ := newWorld(b).coldStart()
	ctx := as("acme")
	if _, err := k.BlindIndex(ctx, "email", "ada@example.com"); err != nil { // create the keyset
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ix, err := k.BlindIndex(ctx, "email", "ada@example.com")
		if err != nil {
			b.Fatal(err)
		}
		sink = []byte(ix)
	}
}
