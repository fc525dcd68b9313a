package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/retention"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// LoginStore remembers tokens already seen; it is the part of the storage
// port the log-in audit needs.
type LoginStore interface {
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
}

// authedRoute authenticates the caller, scopes the request to its tenant,
// applies the tenant's rate limit and the role matrix, then serves h.
func (a *API) authedRoute(action auth.Action, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, claims, err := a.cfg.Verifier.Verify(auth.BearerToken(r.Header.Get("Authorization")))
		if err == nil && a.cfg.Directory != nil {
			// Where the tenant has a user directory, it decides (ACC-07).
			p, err = a.cfg.Directory.Resolve(tenant.With(r.Context(), tenant.ID(p.Org)), p)
		}
		if err != nil {
			if errors.Is(err, auth.ErrUnauthenticated) {
				a.authFailed(r, err)
			}
			a.fail(w, r, err)
			return
		}
		ctx := tenant.With(auth.WithPrincipal(r.Context(), p), tenant.ID(p.Org))
		r = r.WithContext(ctx)
		if ok, wait := a.perTenant.allow(p.Org); !ok {
			tooMany(w, r, wait)
			return
		}
		// A purged workspace keeps no new records; its owner may still
		// follow the purge.
		gone, err := a.purged(ctx, p.Org)
		if err == nil && gone && action != auth.PurgeWorkspace {
			err = errGone
		}
		if err == nil && !gone {
			err = a.archived(ctx, p.Org, action)
		}
		if err == nil && !gone {
			err = a.noteLogin(ctx, p, claims, r.Header.Get("Authorization"))
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if !auth.Allowed(p.Role, action) {
			if gone {
				writeProblem(w, r, errForbidden)
				return
			}
			if _, err := a.cfg.Audit.Append(ctx, audit.Entry{Type: "access.denied", Actor: p.Sub,
				Detail: map[string]string{"route": r.Pattern, "role": string(p.Role)}}); err != nil {
				a.fail(w, r, err)
				return
			}
			writeProblem(w, r, errForbidden)
			return
		}
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// purged reports whether org's workspace was purged.
func (a *API) purged(ctx context.Context, org string) (bool, error) {
	if a.cfg.Purges == nil {
		return false, nil
	}
	return a.cfg.Purges.Purged(ctx, org)
}

// archived refuses every request to a workspace archived after its
// termination (RET-07) but its owners' and admins' look at the retention
// settings, which show when it will be deleted.
func (a *API) archived(ctx context.Context, org string, action auth.Action) error {
	if a.cfg.Retention == nil || action == auth.ManageRetention {
		return nil
	}
	stage, err := a.cfg.Retention.Stage(ctx, tenant.ID(org))
	if err == nil && stage == retention.Archived {
		err = retention.ErrArchived
	}
	return err
}

// authFailed records a refused token in the platform's audit log with a
// keyed digest of the client address, so bursts from one source can be
// detected without keeping the address.
func (a *API) authFailed(r *http.Request, err error) {
	reason := strings.TrimPrefix(err.Error(), auth.ErrUnauthenticated.Error()+": ")
	ctx := tenant.WithPlatform(r.Context())
	_, aerr := a.cfg.Audit.Append(ctx, audit.Entry{Type: "auth.failed", Actor: "anonymous",
		Detail: map[string]string{"reason": reason, "source": a.addrDigest(clientAddr(r)), "route": r.Pattern}})
	if aerr != nil {
		a.cfg.Logger.ErrorContext(ctx, "audit of failed authentication", "err", aerr.Error())
	}
}

// noteLogin audits the first use of each token as a log-in (AUD-01).
func (a *API) noteLogin(ctx context.Context, p auth.Principal, c auth.Claims, header string) error {
	if a.cfg.Logins == nil {
		return nil
	}
	id := c.ID
	if id == "" {
		id = header // a token without jti is identified by itself
	}
	sum := sha256.Sum256([]byte(p.Org + "\x00" + id))
	key := hex.EncodeToString(sum[:16])
	exp := c.ExpiresAt.Time
	if a.logins.seen(key, exp, a.cfg.Now()) {
		return nil
	}
	_, err := a.cfg.Logins.Put(ctx, store.Item{PK: "LOGIN", SK: key, ExpiresAt: exp}, store.IfAbsent)
	if errors.Is(err, store.ErrConditionFailed) {
		return nil // seen by another instance, or before a restart
	}
	if err != nil {
		return err
	}
	_, err = a.cfg.Audit.Append(ctx, audit.Entry{Type: "auth.login", Actor: p.Sub, Target: "token:" + key[:16],
		Detail: map[string]string{"role": string(p.Role)}})
	if err == nil && a.cfg.Tenants != nil && p.Role != auth.Security {
		// The security role's org is the platform team's, not a tenant.
		err = a.cfg.Tenants.Register(ctx, tenant.ID(p.Org))
	}
	return err
}

// seenTokens is an in-process memory of tokens already recorded, bounded by
// dropping expired ones.
type seenTokens struct {
	mu sync.Mutex
	m  map[string]time.Time
}

const maxSeenTokens = 50_000

// seen reports whether key was recorded and records it until exp.
func (s *seenTokens) seen(key string, exp, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]time.Time{}
	}
	if _, ok := s.m[key]; ok {
		return true
	}
	if len(s.m) >= maxSeenTokens {
		for k, e := range s.m {
			if e.Before(now) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= maxSeenTokens {
			s.m = map[string]time.Time{}
		}
	}
	s.m[key] = exp
	return false
}

// clientAddr is the client's address without port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (a *API) addrDigest(addr string) string {
	m := hmac.New(sha256.New, a.cfg.DigestKey)
	m.Write([]byte(addr))
	return "ip:" + hex.EncodeToString(m.Sum(nil)[:8])
}

func itoa(n int) string { return strconv.Itoa(n) }
