package subject

import (
	"errors"
	"io"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// recipient is who an export is encrypted to (ENC-05): the entities of an
// OpenPGP public key, or age recipients. The zero recipient encrypts
// nothing.
type recipient struct {
	pgp openpgp.EntityList
	age []age.Recipient
}

// Why a recipient key is refused; the reasons of 422 answers.
var (
	errKeyFormat    = errors.New("must be an OpenPGP armored public key (-----BEGIN PGP PUBLIC KEY BLOCK-----) or an age recipient (age1...)")
	errKeyArmor     = errors.New("is not a readable OpenPGP public key")
	errKeyPrivate   = errors.New("is a private key: give the public key only")
	errKeyNoEncrypt = errors.New("has no valid encryption key (expired, revoked or sign-only)")
	errKeyAge       = errors.New("is not a valid age recipient")
)

const pgpArmorHeader = "-----BEGIN PGP PUBLIC KEY BLOCK-----"

// parseRecipient parses a recipient key as clients give it and checks that
// it can encrypt at now. Its errors are reasons fit for a client: they
// never repeat the key.
func parseRecipient(key string, now time.Time) (recipient, error) {
	key = strings.TrimSpace(key)
	switch {
	case strings.HasPrefix(key, pgpArmorHeader):
		ents, err := openpgp.ReadArmoredKeyRing(strings.NewReader(key))
		if err != nil || len(ents) == 0 {
			return recipient{}, errKeyArmor
		}
		for _, e := range ents {
			if e.PrivateKey != nil {
				return recipient{}, errKeyPrivate
			}
			if _, ok := e.EncryptionKey(now); !ok {
				return recipient{}, errKeyNoEncrypt
			}
		}
		return recipient{pgp: ents}, nil
	case strings.HasPrefix(key, "age1"):
		rs, err := age.ParseRecipients(strings.NewReader(key))
		if err != nil {
			return recipient{}, errKeyAge
		}
		return recipient{age: rs}, nil
	}
	return recipient{}, errKeyFormat
}

// kind names the encryption: none, openpgp or age.
func (r recipient) kind() string {
	switch {
	case len(r.pgp) > 0:
		return "openpgp"
	case len(r.age) > 0:
		return "age"
	}
	return "none"
}

// suffix is the file extension the encryption adds to the archive's name.
func (r recipient) suffix() string {
	switch r.kind() {
	case "openpgp":
		return ".gpg"
	case "age":
		return ".age"
	}
	return ""
}

// encrypt returns a writer that encrypts to r into w while streaming;
// closing it finishes the ciphertext (and does not close w). With no
// recipient it returns w itself with a no-op Close.
func (r recipient) encrypt(w io.Writer, now time.Time) (io.WriteCloser, error) {
	switch r.kind() {
	case "openpgp":
		cfg := &packet.Config{
			DefaultCipher:          packet.CipherAES256,
			DefaultCompressionAlgo: packet.CompressionNone, // a zip is compressed already
			Time:                   func() time.Time { return now },
		}
		return openpgp.Encrypt(w, r.pgp, nil, &openpgp.FileHints{IsBinary: true, FileName: "export.zip", ModTime: now}, cfg)
	case "age":
		return age.Encrypt(w, r.age...)
	}
	return nopCloser{w}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
