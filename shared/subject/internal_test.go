package subject

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestDefuseKeepsSpreadsheetsFromRunningCells(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Ada", "Ada"},
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{"\tx", "'\tx"},
		{"+14155552671", "+14155552671"},
		{"-12.5", "-12.5"},
		{"+", "'+"},
	}
	for _, tc := range tests {
		if got := defuse(tc.in); got != tc.want {
			t.Errorf("defuse(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestENC05_SignOnlyKeysAreRefused: a public key without an encryption
// key cannot receive an export.
func TestENC05_SignOnlyKeysAreRefused(t *testing.T) {
	fast := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	e, err := openpgp.NewEntity("Sign Only", "", "signer@example.test", fast)
	if err != nil {
		t.Fatal(err)
	}
	e.Subkeys = nil
	var b bytes.Buffer
	w, _ := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	_, err = parseRecipient(b.String(), time.Now())
	if !errors.Is(err, errKeyNoEncrypt) {
		t.Errorf("parseRecipient(sign-only key) = %v, want %v", err, errKeyNoEncrypt)
	}
	e2, _ := openpgp.NewEntity("Fresh", "", "x@example.test", fast)
	b.Reset()
	w, _ = armor.Encode(&b, openpgp.PublicKeyType, nil)
	e2.Serialize(w)
	w.Close()
	if _, err := parseRecipient(b.String(), time.Now()); err != nil {
		t.Errorf("parseRecipient(fresh key) = %v, want nil", err)
	}
}
