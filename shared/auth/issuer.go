package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/alto/alto/shared/tenant"
)

// Issuer signs tokens on one machine with an ES256 key kept in a file, and
// publishes the matching JWKS. It may be used concurrently.
type Issuer struct {
	Name     string // the `iss` claim
	Audience string // the `aud` claim
	key      *ecdsa.PrivateKey
	kid      string
	jwks     []byte
	// Now is the issuer's clock (time.Now unless set before use).
	Now func() time.Time
}

// LoadOrCreateIssuer loads the signing key at path, creating it (mode 0600)
// if the file does not exist. It refuses a key file that others may read.
func LoadOrCreateIssuer(path, name, audience string) (*Issuer, error) {
	key, err := loadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
	}
	if err != nil {
		return nil, err
	}
	return newIssuer(key, name, audience)
}

func loadKey(path string) (*ecdsa.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("auth: issuer key %s has mode %v: others may read it; run chmod 600 on it", path, fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read issuer key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("auth: issuer key %s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: parse issuer key %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("auth: issuer key %s: want an ECDSA P-256 key", path)
	}
	return ec, nil
}

func createKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate issuer key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("auth: encode issuer key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("auth: create key folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadKey(path) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("auth: create issuer key: %w", err)
	}
	if err := errors.Join(pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}), f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("auth: write issuer key: %w", err)
	}
	return key, nil
}

func newIssuer(key *ecdsa.PrivateKey, name, audience string) (*Issuer, error) {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("auth: encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	kid := base64.RawURLEncoding.EncodeToString(sum[:12])
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgES256, KID: kid, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: build jwk: %w", err)
	}
	set := jwkset.NewMemoryStorage()
	ctx := context.Background()
	if err := set.KeyWrite(ctx, jwk); err != nil {
		return nil, fmt.Errorf("auth: build jwks: %w", err)
	}
	jwks, err := set.JSONPublic(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: encode jwks: %w", err)
	}
	return &Issuer{Name: name, Audience: audience, key: key, kid: kid, jwks: jwks, Now: time.Now}, nil
}

// JWKS returns the issuer's public keys as a JSON Web Key Set.
func (i *Issuer) JWKS() []byte { return i.jwks }

// Mint signs a token for p valid for ttl. Returns an error if p names no
// valid org, role or subject, or ttl is not positive.
func (i *Issuer) Mint(p Principal, ttl time.Duration) (string, error) {
	if err := tenant.Valid(p.Org); err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	if _, err := ParseRole(string(p.Role)); err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	if p.Sub == "" || ttl <= 0 {
		return "", errors.New("auth: mint: need a subject and a positive ttl")
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	now := i.Now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.Name,
			Subject:   p.Sub,
			Audience:  jwt.ClaimStrings{i.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        base64.RawURLEncoding.EncodeToString(jti),
		},
		Org: p.Org, Role: string(p.Role), Branch: p.Branch, Dept: p.Dept,
	}
	return i.Sign(c)
}

// Sign signs arbitrary claims with the issuer's key, unchecked; Mint is the
// way to make a token for a principal. Tests use Sign to build tokens a
// verifier must refuse.
func (i *Issuer) Sign(c Claims) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = i.kid
	s, err := tok.SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}

// PublicKeyDER returns the issuer's public key in PKIX DER form.
func (i *Issuer) PublicKeyDER() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&i.key.PublicKey)
	return der
}
