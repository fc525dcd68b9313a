package seal_test

import (
	"bytes"
	"testing"
)

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
