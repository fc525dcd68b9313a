package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func newPair(t testing.TB) (*Issuer, *Verifier) {
	t.Helper()
	iss, err := LoadOrCreateIssuer(filepath.Join(t.TempDir(), "issuer.pem"), "alto-local", "alto")
	if err != nil {
		t.Fatal(err)
	}
	iss.Now = func() time.Time { return t0 }
	keys, err := KeysFromJWKS(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Issuer: "alto-local", Audience: "alto", Keys: keys, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return iss, v
}

func claims(mod func(*Claims)) Claims {
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "alto-local", Subject: "u1", Audience: jwt.ClaimStrings{"alto"},
			ExpiresAt: jwt.NewNumericDate(t0.Add(15 * time.Minute)),
			IssuedAt:  jwt.NewNumericDate(t0),
		},
		Org: "acme", Role: "owner",
	}
	if mod != nil {
		mod(&c)
	}
	return c
}

func TestACC01_VerifyAcceptsMintedToken(t *testing.T) {
	iss, v := newPair(t)
	tok, err := iss.Mint(Principal{Sub: "u1", Org: "acme", Role: Manager, Branch: "north", Dept: "sales"}, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	p, c, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Principal{Sub: "u1", Org: "acme", Role: Manager, Branch: "north", Dept: "sales"}
	if p != want {
		t.Errorf("principal = %+v, want %+v", p, want)
	}
	if c.ID == "" {
		t.Error("minted token has no jti")
	}
}

func TestACC01_VerifyRefusesBadTokens(t *testing.T) {
	iss, v := newPair(t)
	sign := func(c Claims) string {
		s, err := iss.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(claims(nil))
	parts := strings.Split(good, ".")

	b64 := base64.RawURLEncoding.EncodeToString
	noneTok := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."

	// HS256 signed with the public key as the HMAC secret: the classic
	// algorithm-confusion attack.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
	hs.Header["kid"] = iss.kid
	hsTok, err := hs.SignedString(iss.PublicKeyDER())
	if err != nil {
		t.Fatal(err)
	}
	hsJWKS, err := hs.SignedString(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}

	// A token signed by a stranger's key, claiming the issuer's kid.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := jwt.NewWithClaims(jwt.SigningMethodES256, claims(nil))
	forged.Header["kid"] = iss.kid
	forgedTok, _ := forged.SignedString(other)

	// The stranger's key offered inline: jwk/jku/x5u headers must be ignored.
	inline := jwt.NewWithClaims(jwt.SigningMethodES256, claims(nil))
	inline.Header["kid"] = "../../etc/passwd"
	inline.Header["jku"] = "http://127.0.0.1:1/jwks.json"
	inline.Header["x5u"] = "http://127.0.0.1:1/cert.pem"
	inline.Header["jwk"] = map[string]any{"kty": "EC", "crv": "P-256"}
	inlineTok, _ := inline.SignedString(other)

	flipped := []byte(parts[2])
	// Swap one character for another valid base64url one, so the token
	// stays well-formed and only the signature is wrong.
	if flipped[5] == 'A' {
		flipped[5] = 'B'
	} else {
		flipped[5] = 'A'
	}
	tampered := parts[0] + "." + parts[1] + "." + string(flipped)
	payload := b64([]byte(`{"iss":"alto-local","sub":"u1","aud":"alto","org":"evil","role":"owner","exp":` + "9999999999" + `}`))

	cases := []struct {
		name, token, reason string
	}{
		{"empty", "", "no bearer token"},
		{"garbage", "not-a-jwt", "malformed"},
		{"alg none", noneTok, "signature"},
		{"HS256 with public key", hsTok, "signature"},
		{"HS256 with jwks", hsJWKS, "signature"},
		{"foreign key", forgedTok, "signature"},
		{"kid path and injected keys", inlineTok, "verification key"},
		{"stripped signature", parts[0] + "." + parts[1] + ".", "signature"},
		{"tampered signature", tampered, "signature"},
		{"tampered payload", parts[0] + "." + payload + "." + parts[2], "signature"},
		{"expired", sign(claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(t0.Add(-time.Minute)) })), "expired"},
		{"missing exp", sign(claims(func(c *Claims) { c.ExpiresAt = nil })), "required claim"},
		{"far-future exp", sign(claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(t0.Add(24 * time.Hour)) })), "ahead"},
		{"long lifetime", sign(claims(func(c *Claims) {
			c.IssuedAt = jwt.NewNumericDate(t0.Add(-5 * time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(t0.Add(30 * time.Minute))
		})), "lifetime"},
		{"nbf in future", sign(claims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(t0.Add(10 * time.Minute)) })), "not valid yet"},
		{"iat in future", sign(claims(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(t0.Add(10 * time.Minute)) })), "before issued"},
		{"wrong aud", sign(claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other"} })), "audience"},
		{"wrong iss", sign(claims(func(c *Claims) { c.Issuer = "https://evil.example" })), "issuer"},
		{"no org", sign(claims(func(c *Claims) { c.Org = "" })), "org"},
		{"org with separator", sign(claims(func(c *Claims) { c.Org = "acme#other" })), "org"},
		{"platform org", sign(claims(func(c *Claims) { c.Org = "_platform" })), "org"},
		{"unknown role", sign(claims(func(c *Claims) { c.Role = "root" })), "role"},
		{"no sub", sign(claims(func(c *Claims) { c.Subject = "" })), "sub"},
		{"oversized", sign(claims(func(c *Claims) { c.Dept = strings.Repeat("x", MaxTokenSize) })), "larger"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := v.Verify(tc.token)
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Verify err = %v, want ErrUnauthenticated", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("Verify err = %q, want reason containing %q", err, tc.reason)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Error("error echoes the token")
			}
		})
	}
}

func TestACC01_LeewayBoundsClockSkew(t *testing.T) {
	iss, v := newPair(t)
	within, _ := iss.Sign(claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(t0.Add(-10 * time.Second)) }))
	if _, _, err := v.Verify(within); err != nil {
		t.Errorf("token expired 10s ago (inside leeway): %v", err)
	}
	beyond, _ := iss.Sign(claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(t0.Add(-DefaultLeeway - time.Second)) }))
	if _, _, err := v.Verify(beyond); err == nil {
		t.Error("token expired beyond the leeway was accepted")
	}
}

// TestACC02_RoleMatrix spells out the whole permission matrix, so a change
// to it shows up here as a deliberate edit.
func TestACC02_RoleMatrix(t *testing.T) {
	// Columns: owner admin manager rep security.
	want := map[Action]string{
		ReadSelf:        "YYYYY",
		ReadAudit:       "YY...",
		ManageSettings:  "YY...",
		ManageRetention: "YY...",
		ManageUsers:     "YY...",
		GrantRoles:      "Y....",
		SubjectRequests: "YY...",
		ExportWorkspace: "YY...",
		ManageContract:  "Y....",
		PurgeWorkspace:  "Y....",
		ReadContacts:    "YYYY.",
		WriteContacts:   "YYYY.",
		ManageImports:   "YYY..",
		ManageForms:     "YY...",
		ManageCampaigns: "YYY..",
		ReadDrafts:      "YYYY.",
		ReadIncidents:   "YY..Y",
		ManageIncidents: "....Y",
		ReadNotices:     "YYYYY",
		PostNotices:     "....Y",
	}
	if len(want) != len(Actions) || len(matrix) != len(Actions) {
		t.Fatalf("matrix has %d actions, Actions %d, this table %d: keep them equal", len(matrix), len(Actions), len(want))
	}
	for _, a := range Actions {
		row, ok := want[a]
		if !ok {
			t.Errorf("action %s missing from the expected matrix", a)
			continue
		}
		for i, r := range Roles {
			if got, exp := Allowed(r, a), row[i] == 'Y'; got != exp {
				t.Errorf("Allowed(%s, %s) = %v, want %v", r, a, got, exp)
			}
		}
	}
	if Allowed(Role("root"), ReadSelf) {
		t.Error("an unknown role is allowed something")
	}
}

func TestACC02_RecordScope(t *testing.T) {
	cases := []struct {
		p                   Principal
		owner, branch, dept string
		want                bool
	}{
		{Principal{Sub: "o", Role: Owner}, "x", "b", "d", true},
		{Principal{Sub: "a", Role: Admin}, "x", "b", "d", true},
		{Principal{Sub: "m", Role: Manager, Branch: "north"}, "x", "north", "d", true},
		{Principal{Sub: "m", Role: Manager, Branch: "north"}, "x", "south", "d", false},
		{Principal{Sub: "m", Role: Manager, Branch: "north", Dept: "sales"}, "x", "north", "ops", false},
		{Principal{Sub: "m", Role: Manager, Dept: "sales"}, "x", "any", "sales", true},
		{Principal{Sub: "m", Role: Manager}, "x", "north", "sales", false},
		{Principal{Sub: "r", Role: Rep}, "r", "b", "d", true},
		{Principal{Sub: "r", Role: Rep}, "someone", "b", "d", false},
		{Principal{Sub: "s", Role: Security}, "s", "b", "d", false},
	}
	for _, tc := range cases {
		if got := RecordScope(tc.p).Includes(tc.owner, tc.branch, tc.dept); got != tc.want {
			t.Errorf("%+v includes (%s,%s,%s) = %v, want %v", tc.p, tc.owner, tc.branch, tc.dept, got, tc.want)
		}
	}
}

func TestIssuerKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.pem")
	a, err := LoadOrCreateIssuer(path, "i", "a")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %v, want 0600", got)
	}
	b, err := LoadOrCreateIssuer(path, "i", "a")
	if err != nil {
		t.Fatal(err)
	}
	if a.kid != b.kid {
		t.Error("reloading the key file changed the key")
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateIssuer(path, "i", "a"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("loading a world-readable key: err = %v, want a refusal naming chmod 600", err)
	}
}
