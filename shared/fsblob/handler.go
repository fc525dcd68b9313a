package fsblob

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/tenant"
)

// Handler returns the HTTP handler of the URLs SignURL makes. Mount it at
// the path of Options.BaseURL followed by "/blob/", without stripping the
// prefix (with http.ServeMux: mux.Handle("/blob/", s.Handler())).
//
// GET streams the object as application/octet-stream (ranges allowed);
// downloads are audited where their links are given out (the subject
// service's download endpoint), not here. PUT streams the body into the
// object, refusing bodies over Options.MaxUpload with 413, and then calls
// Options.OnPut. Other methods get 405; a bad,
// tampered or expired signature gets 403; a missing object 404. Every
// response carries Cache-Control: no-store and the secure headers of
// ACC-05, and every error is an RFC 9457 problem document that says nothing
// of the store's internals. The handler may serve requests concurrently.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Store) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")

	if r.Method != http.MethodGet && r.Method != http.MethodPut {
		h.Set("Allow", "GET, PUT")
		problem(w, http.StatusMethodNotAllowed, "A signed URL allows only GET or PUT.")
		return
	}
	org, key, refusal := s.verify(r)
	if refusal != "" {
		problem(w, http.StatusForbidden, refusal)
		return
	}
	var ctx context.Context
	switch {
	case org == tenant.Platform:
		ctx = tenant.WithPlatform(r.Context())
	case tenant.Valid(string(org)) == nil:
		ctx = tenant.With(r.Context(), org)
	default:
		// Unreachable with a valid signature: SignURL signs only valid orgs.
		problem(w, http.StatusForbidden, badSignature)
		return
	}
	if r.Method == http.MethodGet {
		s.serveGet(ctx, w, r, org, key)
	} else {
		s.servePut(ctx, w, r, org, key)
	}
}

// Refusals of verify, which are the details of 403 problems.
const (
	badSignature = "The URL's signature is not valid."
	expired      = "The URL has expired."
)

// verify returns the org and key of a signed URL, or a refusal (badSignature
// or expired) unless the path and the query (exactly method, expires and
// sig) carry a valid, unexpired signature for r.Method.
func (s *Store) verify(r *http.Request) (org tenant.ID, key, refusal string) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.pathPrefix)
	if !ok {
		return "", "", badSignature
	}
	o, k, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", badSignature
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q) != 3 || len(q["method"]) != 1 || len(q["expires"]) != 1 || len(q["sig"]) != 1 {
		return "", "", badSignature
	}
	if q.Get("method") != r.Method {
		return "", "", badSignature
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(q.Get("sig"))
	if err != nil {
		return "", "", badSignature
	}
	expires := q.Get("expires")
	if !hmac.Equal(got, s.mac(r.Method, o, k, expires)) {
		return "", "", badSignature
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return "", "", badSignature
	}
	if s.now().Unix() >= exp {
		return "", "", expired
	}
	return tenant.ID(o), k, ""
}

func (s *Store) serveGet(ctx context.Context, w http.ResponseWriter, r *http.Request, org tenant.ID, key string) {
	f, err := s.open(ctx, key)
	switch {
	case errors.Is(err, blob.ErrNotFound):
		problem(w, http.StatusNotFound, "The object does not exist.")
		return
	case errors.Is(err, blob.ErrInvalid):
		problem(w, http.StatusForbidden, badSignature)
		return
	case err != nil:
		s.internal(ctx, w, r, err)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		s.internal(ctx, w, r, pathless(err))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", info.ModTime(), f)
}

// bodyReader remembers the first error of the request body other than
// io.EOF, to tell a client's fault from the store's.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (s *Store) servePut(ctx context.Context, w http.ResponseWriter, r *http.Request, org tenant.ID, key string) {
	if r.ContentLength > s.maxUpload {
		problem(w, http.StatusRequestEntityTooLarge, "The body is larger than this URL accepts.")
		return
	}
	body := &bodyReader{r: http.MaxBytesReader(w, r.Body, s.maxUpload)}
	obj, err := s.Put(ctx, key, body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			problem(w, http.StatusRequestEntityTooLarge, "The body is larger than this URL accepts.")
		case r.Context().Err() != nil:
			// The client went away; there is no one to answer.
		case body.err != nil:
			problem(w, http.StatusBadRequest, "The body could not be read.")
		case errors.Is(err, blob.ErrInvalid):
			problem(w, http.StatusForbidden, badSignature)
		default:
			s.internal(ctx, w, r, err)
		}
		return
	}
	if s.onPut != nil {
		s.onPut(context.WithoutCancel(ctx), org, obj)
	}
	w.WriteHeader(http.StatusOK)
}

// internal logs err and answers 500 without it.
func (s *Store) internal(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	org, _ := tenant.From(ctx)
	s.log.ErrorContext(ctx, "fsblob: signed URL request failed", "method", r.Method, "org", string(org), "err", err)
	problem(w, http.StatusInternalServerError, "The object store failed; try again later.")
}

// problem writes an RFC 9457 problem document.
func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{"about:blank", http.StatusText(status), status, detail})
}
