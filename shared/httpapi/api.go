// Package httpapi is Alto's HTTP API: the router, the middleware every
// request passes (secure headers, body limit, rate limits, authentication,
// the role matrix, audit of log-ins) and the handlers. It is plain net/http;
// the Lambda function and the local server serve the same handler.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/notice"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/retention"
	"github.com/alto/alto/shared/scim"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/subject"
)

// Config holds what the API needs. Verifier and Audit are required.
type Config struct {
	Verifier *auth.Verifier
	Audit    *audit.Log
	// Logins remembers which tokens were seen, so the first use of each is
	// audited as a log-in once.
	Logins LoginStore
	// DigestKey keys the digests of client addresses in audit entries.
	DigestKey []byte
	JWKS      []byte // served at /.well-known/jwks.json when set
	OpenAPI   []byte // served at /v1/openapi.yaml
	// PerTenant and PerIP bound request rates (ACC-04); Public bounds the
	// unauthenticated endpoints per client address. Zero rates are unlimited.
	PerTenant, PerIP, Public Rate
	MaxBody                  int64 // request body limit in bytes; default 4 MiB
	Logger                   *slog.Logger
	Now                      func() time.Time
	// Contacts and Ingress serve the contact routes; Idempotency keeps
	// the answers replayed for an Idempotency-Key.
	Contacts    *contact.Service
	Ingress     Ingress
	Idempotency interface {
		Get(ctx context.Context, k store.Key) (store.Item, error)
		Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	}
	// Campaigns serves campaigns, drafts and opt-outs; OptOuts records
	// the opt-outs.
	Campaigns *campaign.Service
	OptOuts   campaign.OptOuts
	// Purges runs workspace purges; a purged tenant's requests answer 410
	// Gone, but for the purge's own status.
	Purges *purge.Service
	// Retention keeps retention settings and the workspace lifecycle; an
	// archived workspace's requests answer 403 (RET-07).
	Retention *retention.Service
	// Imports runs CSV imports; Forms keeps web forms and takes their
	// public submissions.
	Imports Imports
	Forms   Forms
	// Incidents serves incidents and notification settings; Tenants, when
	// set, learns each tenant on its first log-in (incident notices to
	// "all" and the detectors list them).
	Incidents *incident.Service
	Tenants   TenantRegistry
	// Subjects serves subject requests and workspace exports.
	Subjects *subject.Service
	// Directory, when set, makes each tenant's user directory authoritative
	// over its tokens (ACC-07); SCIM serves that directory at /scim/v2 to
	// callers SCIMTokens authenticates, and SCIMTokens rotates the tokens.
	// Notices serves the sub-processor list and the notices (NTC-01).
	Directory  Directory
	SCIM       *scim.Server
	SCIMTokens *scim.Tokens
	Notices    *notice.Service
	// Extra routes served beside the API, under the same secure headers and
	// per-address rate limit (the local server mounts signed blob URLs here).
	Extra map[string]http.Handler
}

// DefaultRates are sane limits for one tenant and one address.
var (
	DefaultPerTenant = Rate{PerSecond: 50, Burst: 100}
	DefaultPerIP     = Rate{PerSecond: 20, Burst: 40}
	DefaultPublic    = Rate{PerSecond: 2, Burst: 10}
)

// Route is one route of the API. Public routes need no token; the others
// need a token whose role the matrix allows Action.
type Route struct {
	Method, Path string
	Action       auth.Action // "" for public routes
	handler      func(http.ResponseWriter, *http.Request) error
}

// API serves Alto's HTTP API. It may serve requests concurrently.
type API struct {
	cfg       Config
	mux       *http.ServeMux
	routes    []Route
	perTenant *limiter
	perIP     *limiter
	public    *limiter
	logins    seenTokens
}

// New returns the API for cfg.
func New(cfg Config) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.DigestKey) == 0 {
		cfg.DigestKey = make([]byte, 32)
		rand.Read(cfg.DigestKey)
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 4 << 20
	}
	a := &API{
		cfg:       cfg,
		mux:       http.NewServeMux(),
		perTenant: newLimiter(cfg.PerTenant, cfg.Now),
		perIP:     newLimiter(cfg.PerIP, cfg.Now),
		public:    newLimiter(cfg.Public, cfg.Now),
	}
	// Each capability lists its routes in its own file.
	a.routes = a.coreRoutes()
	a.routes = append(a.routes, a.contactRoutes()...)
	a.routes = append(a.routes, a.campaignRoutes()...)
	a.routes = append(append(a.routes, a.importRoutes()...), a.formRoutes()...)
	a.routes = append(a.routes, a.workspaceRoutes()...)
	a.routes = append(a.routes, a.retentionRoutes()...)
	a.routes = append(a.routes, a.incidentRoutes()...)
	a.routes = append(a.routes, a.subjectRoutes()...)
	a.routes = append(a.routes, a.accountRoutes()...)
	for _, rt := range a.routes {
		var h http.Handler
		if rt.Action == "" {
			h = a.publicRoute(rt.handler)
		} else {
			h = a.authedRoute(rt.Action, rt.handler)
		}
		a.mux.Handle(rt.Method+" "+rt.Path, h)
	}
	for pattern, h := range cfg.Extra {
		a.mux.Handle(pattern, h)
	}
	a.mountSCIM() // SCIM clients authenticate with their tenant's SCIM token, not a JWT
	return a
}

// Routes lists every route the API serves, so suites can walk them all.
func (a *API) Routes() []Route { return append([]Route(nil), a.routes...) }

// ServeHTTP serves one request through the whole middleware chain.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := a.cfg.Now()
	id := newRequestID()
	ctx := context.WithValue(r.Context(), requestIDKey{}, id)
	r = r.WithContext(ctx)
	sw := &statusWriter{ResponseWriter: w}
	secureHeaders(sw.Header())
	sw.Header().Set("X-Request-Id", id)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.cfg.Logger.ErrorContext(ctx, "panic serving request", "route", r.Pattern, "panic", v)
			if !sw.wrote {
				writeProblem(sw, r, errInternal)
			}
		}
		a.cfg.Logger.InfoContext(ctx, "request", "method", r.Method, "route", r.Pattern,
			"status", sw.status, "ms", a.cfg.Now().Sub(start).Milliseconds(), "request_id", id)
	}()
	if ok, wait := a.perIP.allow(clientAddr(r)); !ok {
		tooMany(sw, r, wait)
		return
	}
	h, pattern := a.mux.Handler(r)
	if _, extra := a.cfg.Extra[pattern]; !extra {
		// Extra handlers bound their own bodies: a signed upload (a CSV
		// import) may be far larger than an API request.
		r.Body = http.MaxBytesReader(sw, r.Body, a.cfg.MaxBody)
	}
	if pattern == "" {
		// The mux found no route: answer its 404 or 405 as problem JSON.
		rec := &statusWriter{ResponseWriter: discardWriter{header: http.Header{}}}
		h.ServeHTTP(rec, r)
		if allow := rec.Header().Get("Allow"); allow != "" {
			sw.Header().Set("Allow", allow)
			writeProblem(sw, r, errMethod)
			return
		}
		writeProblem(sw, r, errNotFound)
		return
	}
	a.mux.ServeHTTP(sw, r)
}

// publicRoute serves a route that needs no token, under the public rate.
func (a *API) publicRoute(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := a.public.allow(clientAddr(r)); !ok {
			tooMany(w, r, wait)
			return
		}
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// fail answers err as problem JSON and logs what the client is not shown.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p.Status >= 500 {
		a.cfg.Logger.ErrorContext(r.Context(), "request failed", "route", r.Pattern, "err", err.Error())
	}
	writeProblem(w, r, err)
}

func tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", itoa(retryAfterSeconds(wait)))
	writeProblem(w, r, errRateLimited)
}

// secureHeaders sets the OWASP headers of ACC-05 on every response.
func secureHeaders(h http.Header) {
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

type requestIDKey struct{}

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}
