package scim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// TokenStore is the part of the storage port the SCIM tokens need.
type TokenStore interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Delete(ctx context.Context, k store.Key) error
}

// Auditor appends audit entries.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// TokenPrefix starts every SCIM token, so secret scanners can spot one.
const TokenPrefix = "alto_scim_"

// tokenLen is the length of a token: the prefix and 32 random bytes in
// unpadded base64url.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

// Storage layout. The tenant keeps the hash of its current token; the
// platform keeps an index from hash to tenant, so a request's token finds
// its tenant. Neither holds the token itself.
const (
	currentPK = "SCIM" // tenant scope, SK "TOKEN"
	currentSK = "TOKEN"
	indexPK   = "SCIMTOKEN" // platform scope, SK: token hash
)

// Credential is what a valid SCIM token stands for.
type Credential struct {
	Org tenant.ID
	// RotatedBy is the role of who made the token. A token made by an
	// admin manages every user but owners: giving or changing the owner
	// role stays with owners (ACC-02).
	RotatedBy auth.Role
}

// MayManage reports whether the credential may write a user that has, or
// would get, role.
func (c Credential) MayManage(role auth.Role) bool {
	return role != auth.Owner || c.RotatedBy == auth.Owner
}

// Tokens issues and checks the tenants' SCIM bearer tokens: random, shown
// once, stored only as SHA-256 hashes, one current token per tenant. It
// may be used concurrently, also by several processes over one store.
type Tokens struct {
	Store TokenStore
	Audit Auditor
	Now   func() time.Time
}

type current struct {
	Hash      string    `json:"hash"`
	RotatedBy auth.Role `json:"rotatedBy"`
	RotatedAt time.Time `json:"rotatedAt"`
}

type indexEntry struct {
	Org tenant.ID `json:"org"`
}

// ErrRotating is returned by Rotate when another rotation of the tenant's
// token finished first; it wraps store.ErrConditionFailed.
var ErrRotating = fmt.Errorf("scim: token rotated concurrently: %w", store.ErrConditionFailed)

// Rotate makes a new SCIM token for the tenant in ctx, on behalf of by,
// and returns it: this is the only time it is shown. The previous token
// stops working at once, in every process. The rotation is audited.
func (t *Tokens) Rotate(ctx context.Context, by auth.Principal) (string, time.Time, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("scim: rotate token: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	hash := hashOf(token)
	now := t.now()

	platform := tenant.WithPlatform(ctx)
	idx, _ := json.Marshal(indexEntry{Org: org})
	if _, err := t.Store.Put(platform, store.Item{PK: indexPK, SK: hash, Data: idx}, store.IfAbsent); err != nil {
		return "", time.Time{}, fmt.Errorf("scim: rotate token: %w", err)
	}
	old, cond := current{}, store.IfAbsent
	it, err := t.Store.Get(ctx, store.Key{PK: currentPK, SK: currentSK})
	switch {
	case err == nil:
		if err := json.Unmarshal(it.Data, &old); err != nil {
			return "", time.Time{}, fmt.Errorf("scim: rotate token: current token unreadable: %w", err)
		}
		cond = store.IfVersion
	case !errors.Is(err, store.ErrNotFound):
		return "", time.Time{}, fmt.Errorf("scim: rotate token: %w", err)
	}
	data, _ := json.Marshal(current{Hash: hash, RotatedBy: by.Role, RotatedAt: now})
	_, err = t.Store.Put(ctx, store.Item{PK: currentPK, SK: currentSK, Data: data, Version: it.Version}, cond)
	if err != nil {
		t.Store.Delete(platform, store.Key{PK: indexPK, SK: hash})
		if errors.Is(err, store.ErrConditionFailed) {
			return "", time.Time{}, ErrRotating
		}
		return "", time.Time{}, fmt.Errorf("scim: rotate token: %w", err)
	}
	if old.Hash != "" {
		// Authenticate checks the tenant's current hash too, so an index
		// entry left behind by a failure here opens nothing.
		t.Store.Delete(platform, store.Key{PK: indexPK, SK: old.Hash})
	}
	if _, err := t.Audit.Append(ctx, audit.Entry{Type: "scim.token_rotated", Actor: by.Sub,
		Target: "scim-token:" + hash[:16], Detail: map[string]string{"role": string(by.Role)}}); err != nil {
		return "", time.Time{}, fmt.Errorf("scim: rotate token: audit: %w", err)
	}
	return token, now, nil
}

// Authenticate returns the credential of a SCIM bearer token. Every
// failure to authenticate wraps auth.ErrUnauthenticated and says why
// without echoing the token; other errors are the store's.
func (t *Tokens) Authenticate(ctx context.Context, token string) (Credential, error) {
	fail := func(reason string) (Credential, error) {
		return Credential{}, fmt.Errorf("%w: %s", auth.ErrUnauthenticated, reason)
	}
	if token == "" {
		return fail("no SCIM bearer token")
	}
	if len(token) != tokenLen || !strings.HasPrefix(token, TokenPrefix) {
		return fail("not a SCIM token")
	}
	hash := hashOf(token)
	it, err := t.Store.Get(tenant.WithPlatform(ctx), store.Key{PK: indexPK, SK: hash})
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown or rotated SCIM token")
	}
	if err != nil {
		return Credential{}, fmt.Errorf("scim: authenticate: %w", err)
	}
	var idx indexEntry
	if err := json.Unmarshal(it.Data, &idx); err != nil || tenant.Valid(string(idx.Org)) != nil {
		return Credential{}, errors.New("scim: authenticate: token index unreadable")
	}
	it, err = t.Store.Get(tenant.With(ctx, idx.Org), store.Key{PK: currentPK, SK: currentSK})
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown or rotated SCIM token")
	}
	if err != nil {
		return Credential{}, fmt.Errorf("scim: authenticate: %w", err)
	}
	var cur current
	if err := json.Unmarshal(it.Data, &cur); err != nil {
		return Credential{}, errors.New("scim: authenticate: current token unreadable")
	}
	if subtle.ConstantTimeCompare([]byte(cur.Hash), []byte(hash)) != 1 {
		return fail("unknown or rotated SCIM token")
	}
	return Credential{Org: idx.Org, RotatedBy: cur.RotatedBy}, nil
}

// hashOf is the stored form of a token. A plain SHA-256 suffices: the
// token is 256 random bits, so there is nothing to guess.
func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (t *Tokens) now() time.Time {
	if t.Now == nil {
		return time.Now().UTC()
	}
	return t.Now().UTC()
}

type credentialKey struct{}

// WithCredential returns a context carrying c, for the handlers of a
// Server. The caller scopes the context to c.Org as well.
func WithCredential(ctx context.Context, c Credential) context.Context {
	return context.WithValue(ctx, credentialKey{}, c)
}

// CredentialFrom returns the credential of ctx and whether there is one.
func CredentialFrom(ctx context.Context) (Credential, bool) {
	c, ok := ctx.Value(credentialKey{}).(Credential)
	return c, ok
}
