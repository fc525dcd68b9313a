package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/valid"
)

// coreRoutes are the routes every deployment serves: liveness, keys, the
// API description, the caller and the audit log.
func (a *API) coreRoutes() []Route {
	return []Route{
		{"GET", "/healthz", "", a.health},
		{"GET", "/.well-known/jwks.json", "", a.jwks},
		{"GET", "/v1/openapi.yaml", "", a.openapi},
		{"GET", "/v1/me", auth.ReadSelf, a.me},
		{"GET", "/v1/audit", auth.ReadAudit, a.auditList},
		{"GET", "/v1/audit/verify", auth.ReadAudit, a.auditVerify},
	}
}

func (a *API) health(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (a *API) jwks(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.JWKS == nil {
		return errNotFound
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Write(a.cfg.JWKS)
	return nil
}

func (a *API) openapi(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.OpenAPI == nil {
		return errNotFound
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(a.cfg.OpenAPI)
	return nil
}

func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	writeJSON(w, http.StatusOK, p)
	return nil
}

type auditPage struct {
	Items      []audit.Entry `json:"items"`
	NextCursor string        `json:"nextCursor,omitempty"`
}

func (a *API) auditList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var errs valid.Errors
	f := audit.Filter{Type: q.Get("type"), Cursor: q.Get("cursor")}
	f.From = parseTime(q.Get("from"), "from", &errs)
	f.To = parseTime(q.Get("to"), "to", &errs)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			errs.Add("limit", "must be a whole number from 1 to 1000")
		}
		f.Limit = n
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		errs.Add("to", "must not be before from")
	}
	if err := errs.Err(); err != nil {
		return err
	}
	entries, next, err := a.cfg.Audit.List(r.Context(), f)
	if err != nil {
		return err
	}
	if err := a.record(r, "audit.read", map[string]string{"count": strconv.Itoa(len(entries))}); err != nil {
		return err
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	writeJSON(w, http.StatusOK, auditPage{Items: entries, NextCursor: next})
	return nil
}

func (a *API) auditVerify(w http.ResponseWriter, r *http.Request) error {
	res, err := a.cfg.Audit.Verify(r.Context())
	if err != nil {
		return err
	}
	if err := a.record(r, "audit.verify", map[string]string{"ok": strconv.FormatBool(res.OK)}); err != nil {
		if res.OK {
			return err
		}
		// A broken chain may refuse new entries; the caller still learns
		// where it broke.
		a.cfg.Logger.ErrorContext(r.Context(), "audit of a failed verification", "err", err.Error())
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// record appends an audit entry for the caller's action.
func (a *API) record(r *http.Request, typ string, detail map[string]string) error {
	p, _ := auth.PrincipalFrom(r.Context())
	_, err := a.cfg.Audit.Append(r.Context(), audit.Entry{Type: typ, Actor: p.Sub, Detail: detail})
	return err
}

func parseTime(s, field string, errs *valid.Errors) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		errs.Add(field, "must be an RFC 3339 time")
	}
	return t
}
