// Package auth authenticates callers and decides what they may do: JWT
// validation against an issuer's JWKS (ACC-01), the role matrix and record
// scopes of ACC-02, and the local issuer that signs tokens on one machine.
package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/alto/alto/shared/tenant"
)

// ErrUnauthenticated is wrapped by every error Verify returns.
var ErrUnauthenticated = errors.New("auth: unauthenticated")

// Limits of a token Verify accepts.
const (
	MaxTokenSize  = 8 << 10
	DefaultMaxTTL = time.Hour
	DefaultLeeway = 30 * time.Second
)

// Claims are the claims Alto reads from a token.
type Claims struct {
	jwt.RegisteredClaims
	Org    string `json:"org"`
	Role   string `json:"role"`
	Branch string `json:"branch,omitempty"`
	Dept   string `json:"dept,omitempty"`
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	Issuer   string // required `iss`
	Audience string // required in `aud`
	// Keys resolves the verification key of a token (a JWKS key function).
	Keys jwt.Keyfunc
	// MaxTTL bounds how far in the future `exp` may be (DefaultMaxTTL if 0).
	MaxTTL time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat (DefaultLeeway if 0).
	Leeway time.Duration
	Now    func() time.Time
}

// Verifier validates bearer tokens. It may be used concurrently.
type Verifier struct {
	cfg    VerifierConfig
	parser *jwt.Parser
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.Keys == nil {
		return nil, errors.New("auth: verifier needs an issuer, an audience and keys")
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES256"}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	return &Verifier{cfg: cfg, parser: parser}, nil
}

// KeysFromJWKS returns a key function over a fixed JWKS document.
func KeysFromJWKS(jwks []byte) (jwt.Keyfunc, error) {
	k, err := keyfunc.NewJWKSetJSON(jwks)
	if err != nil {
		return nil, fmt.Errorf("auth: parse jwks: %w", err)
	}
	return k.Keyfunc, nil
}

// KeysFromURL returns a key function that fetches and refreshes the JWKS at
// url (an identity provider's) in the background until ctx ends.
func KeysFromURL(ctx context.Context, url string) (jwt.Keyfunc, error) {
	k, err := keyfunc.NewDefaultCtx(ctx, []string{url})
	if err != nil {
		return nil, fmt.Errorf("auth: jwks from url: %w", err)
	}
	return k.Keyfunc, nil
}

// Verify validates token and returns the principal it names and its claims.
// Every error wraps ErrUnauthenticated and says why, without echoing the
// token.
func (v *Verifier) Verify(token string) (Principal, Claims, error) {
	fail := func(reason string, args ...any) (Principal, Claims, error) {
		return Principal{}, Claims{}, fmt.Errorf("%w: "+reason, append([]any{ErrUnauthenticated}, args...)...)
	}
	if token == "" {
		return fail("no bearer token")
	}
	if len(token) > MaxTokenSize {
		return fail("token larger than %d bytes", MaxTokenSize)
	}
	var c Claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.cfg.Keys); err != nil {
		return fail("%s", reasonOf(err))
	}
	now := v.cfg.Now()
	if c.ExpiresAt.Sub(now) > v.cfg.MaxTTL+v.cfg.Leeway {
		return fail("exp is more than %s ahead", v.cfg.MaxTTL)
	}
	if c.IssuedAt != nil && c.ExpiresAt.Sub(c.IssuedAt.Time) > v.cfg.MaxTTL+v.cfg.Leeway {
		return fail("token lifetime longer than %s", v.cfg.MaxTTL)
	}
	if c.Subject == "" {
		return fail("sub claim missing")
	}
	if err := tenant.Valid(c.Org); err != nil {
		return fail("org claim missing or invalid")
	}
	role, err := ParseRole(c.Role)
	if err != nil {
		return fail("role claim missing or invalid")
	}
	p := Principal{Sub: c.Subject, Org: c.Org, Role: role, Branch: c.Branch, Dept: c.Dept}
	return p, c, nil
}

// reasonOf turns a parser error into a short reason that names the failed
// check and nothing of the token.
func reasonOf(err error) string {
	checks := []struct {
		err    error
		reason string
	}{
		{jwt.ErrTokenMalformed, "malformed token"},
		{jwt.ErrTokenSignatureInvalid, "invalid signature or algorithm"},
		{jwt.ErrTokenUnverifiable, "no usable verification key"},
		{jwt.ErrTokenRequiredClaimMissing, "required claim missing"},
		{jwt.ErrTokenExpired, "token expired"},
		{jwt.ErrTokenNotValidYet, "token not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, "token used before issued"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
	}
	for _, c := range checks {
		if errors.Is(err, c.err) {
			return c.reason
		}
	}
	return "invalid token"
}

// BearerToken returns the token of an Authorization header value, or "" if
// it is not a bearer credential.
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
