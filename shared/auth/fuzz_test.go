package auth

import (
	"errors"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary strings to the verifier as bearer tokens,
// seeded with a genuine token and the attack shapes of the JWT suite. It
// must never panic, must refuse only with ErrUnauthenticated, and may
// accept only a token naming exactly the principal the issuer signed.
func FuzzVerify(f *testing.F) {
	iss, v := newPair(f)
	signed := Principal{Sub: "u1", Org: "acme", Role: Owner, Branch: "b1"}
	tok, err := iss.Mint(signed, 10*time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsIm9yZyI6ImFjbWUiLCJyb2xlIjoib3duZXIifQ.")
	f.Add("eyJhbGciOiJIUzI1NiIsImtpZCI6Ii4uLy4uL2V0Yy9wYXNzd2QifQ.e30.c2ln")
	f.Add("")
	f.Add("a.b.c.d")
	f.Fuzz(func(t *testing.T, token string) {
		p, _, err := v.Verify(token)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Verify refused with %v, want ErrUnauthenticated", err)
			}
			return
		}
		if p != signed {
			t.Fatalf("Verify accepted %q as %+v: only %+v was ever signed", token, p, signed)
		}
	})
}
