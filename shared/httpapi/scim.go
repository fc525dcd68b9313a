package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/notice"
	"github.com/alto/alto/shared/scim"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// Directory resolves an authenticated principal against its tenant's user
// directory (ACC-07): where the tenant has one, it refuses deprovisioned
// subjects and supplies role, branch and dept.
type Directory interface {
	// Resolve returns the principal as the directory of the tenant in ctx
	// has it. Returns an error wrapping auth.ErrUnauthenticated for a
	// subject the directory does not hold as active.
	Resolve(ctx context.Context, p auth.Principal) (auth.Principal, error)
}

// accountRoutes serve the SCIM token and the notices (ACC-07, NTC-01).
// They are always routed; without their Config fields they answer 404.
func (a *API) accountRoutes() []Route {
	return []Route{
		{"POST", "/v1/settings/scim-token", auth.ManageUsers, a.rotateSCIMToken},
		{"GET", "/v1/subprocessors", auth.ReadNotices, a.listSubprocessors},
		{"GET", "/v1/notices", auth.ReadNotices, a.listNotices},
		{"POST", "/v1/notices", auth.PostNotices, a.postNotice},
	}
}

// mountSCIM serves the SCIM endpoints (/scim/v2/...). They authenticate
// with the tenant's SCIM bearer token, not a JWT, so they do not pass
// authedRoute: they are listed without an Action (no JWT, like the public
// routes) and scimRoute checks their own token, then applies the tenant's
// rate limit. Secure headers, the body limit and the per-address limit
// apply as to every route. Without Config.SCIM they answer 404.
func (a *API) mountSCIM() {
	srv := a.cfg.SCIM
	if srv == nil {
		srv = &scim.Server{}
	}
	for _, rt := range srv.Routes() {
		a.mux.Handle(rt.Method+" "+rt.Path, a.scimRoute(rt.Handler))
		a.routes = append(a.routes, Route{Method: rt.Method, Path: rt.Path})
	}
}

// scimRoute authenticates a SCIM client by its bearer token, scopes the
// request to the token's tenant and serves h. Refusals are SCIM errors.
func (a *API) scimRoute(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.SCIM == nil || a.cfg.SCIMTokens == nil {
			scim.WriteError(w, http.StatusNotFound, "", "SCIM provisioning is not enabled")
			return
		}
		cred, err := a.cfg.SCIMTokens.Authenticate(r.Context(), auth.BearerToken(r.Header.Get("Authorization")))
		if errors.Is(err, auth.ErrUnauthenticated) {
			a.authFailed(r, err)
			scim.WriteError(w, http.StatusUnauthorized, "", "a valid SCIM bearer token is required")
			return
		}
		if err == nil {
			var gone bool
			if gone, err = a.purged(r.Context(), string(cred.Org)); err == nil && gone {
				scim.WriteError(w, http.StatusGone, "", "the workspace was purged")
				return
			}
		}
		if err != nil {
			a.cfg.Logger.ErrorContext(r.Context(), "scim authentication failed", "route", r.Pattern, "err", err.Error())
			scim.WriteError(w, http.StatusInternalServerError, "", "internal error")
			return
		}
		if ok, wait := a.perTenant.allow(string(cred.Org)); !ok {
			w.Header().Set("Retry-After", itoa(retryAfterSeconds(wait)))
			scim.WriteError(w, http.StatusTooManyRequests, "", "slow down and retry after the time in Retry-After")
			return
		}
		ctx := scim.WithCredential(tenant.With(r.Context(), cred.Org), cred)
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

type scimTokenAnswer struct {
	Token     string    `json:"token"`
	RotatedAt time.Time `json:"rotatedAt"`
}

// rotateSCIMToken makes the tenant's new SCIM token and shows it, once;
// the previous token stops working at once.
func (a *API) rotateSCIMToken(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.SCIMTokens == nil {
		return errNotFound
	}
	p, _ := auth.PrincipalFrom(r.Context())
	token, at, err := a.cfg.SCIMTokens.Rotate(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, scimTokenAnswer{Token: token, RotatedAt: at})
	return nil
}

type processorList struct {
	Items []notice.Processor `json:"items"`
}

func (a *API) listSubprocessors(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Notices == nil {
		return errNotFound
	}
	list, err := a.cfg.Notices.Processors(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, processorList{Items: list})
	return nil
}

type noticePage struct {
	Items      []notice.Notice `json:"items"`
	NextCursor string          `json:"nextCursor,omitempty"`
}

func (a *API) listNotices(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Notices == nil {
		return errNotFound
	}
	cursor, limit, err := pageQuery(r)
	if err != nil {
		return err
	}
	items, next, err := a.cfg.Notices.List(r.Context(), cursor, limit)
	if err != nil {
		return cursorError(err)
	}
	writeJSON(w, http.StatusOK, noticePage{Items: items, NextCursor: next})
	return nil
}

type noticeRequest struct {
	Kind         string         `json:"kind"`
	Title        string         `json:"title"`
	Text         string         `json:"text"`
	EffectiveAt  string         `json:"effectiveAt"`
	Subprocessor *notice.Change `json:"subprocessor"`
}

// postNotice announces a policy or sub-processor change (security role);
// one taking effect less than 30 days ahead is refused with 422.
func (a *API) postNotice(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Notices == nil {
		return errNotFound
	}
	var req noticeRequest
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	var errs valid.Errors
	at := parseTime(req.EffectiveAt, "effectiveAt", &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	n, err := a.cfg.Notices.Post(r.Context(), notice.Draft{Kind: req.Kind, Title: req.Title, Text: req.Text,
		EffectiveAt: at, Change: req.Subprocessor}, p.Sub)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, n)
	return nil
}
