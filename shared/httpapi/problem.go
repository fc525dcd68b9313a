package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/retention"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/subject"
	"github.com/alto/alto/shared/valid"
)

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type     string             `json:"type"`
	Title    string             `json:"title"`
	Status   int                `json:"status"`
	Detail   string             `json:"detail,omitempty"`
	Instance string             `json:"instance,omitempty"`
	Errors   []valid.FieldError `json:"errors,omitempty"`
}

// Errors the edge itself raises.
var (
	errForbidden     = errors.New("your role may not do this")
	errRateLimited   = errors.New("too many requests")
	errNotFound      = errors.New("no such resource")
	errBadJSON       = errors.New("the body is not valid JSON")
	errMediaType     = errors.New("the body must be application/json")
	errMethod        = errors.New("method not allowed on this resource")
	errUnavailable   = errors.New("the service is shutting down")
	errInternal      = errors.New("internal error")
	errBodyTooLarge  = errors.New("the body is too large")
	errUnprocessable = errors.New("the request is not valid")
	errGone          = errors.New("this workspace was purged")
)

// statusTable maps error kinds to HTTP status, the one place where that is
// decided. The detail shown is the kind's own text, never the wrapped
// error's, so no internals leak.
var statusTable = []struct {
	err    error
	status int
	detail string
}{
	{auth.ErrUnauthenticated, http.StatusUnauthorized, "a valid bearer token is required"},
	{errForbidden, http.StatusForbidden, errForbidden.Error()},
	{store.ErrNotFound, http.StatusNotFound, errNotFound.Error()},
	{blob.ErrNotFound, http.StatusNotFound, errNotFound.Error()},
	{errNotFound, http.StatusNotFound, errNotFound.Error()},
	{errMethod, http.StatusMethodNotAllowed, errMethod.Error()},
	{seal.ErrShredded, http.StatusGone, "this workspace was purged"},
	{errGone, http.StatusGone, "this workspace was purged"},
	{subject.ErrLinkExpired, http.StatusGone, "this download link has expired: read the request again for a fresh one"},
	{retention.ErrArchived, http.StatusForbidden, "this workspace is archived after its termination and will be deleted"},
	{retention.ErrStage, http.StatusConflict, "not possible in the workspace's current lifecycle stage"},
	{store.ErrConditionFailed, http.StatusConflict, "the resource changed or already exists"},
	{errBodyTooLarge, http.StatusRequestEntityTooLarge, errBodyTooLarge.Error()},
	{errMediaType, http.StatusUnsupportedMediaType, errMediaType.Error()},
	{errBadJSON, http.StatusBadRequest, errBadJSON.Error()},
	{errUnprocessable, http.StatusUnprocessableEntity, errUnprocessable.Error()},
	{errRateLimited, http.StatusTooManyRequests, "slow down and retry after the time in Retry-After"},
	{errUnavailable, http.StatusServiceUnavailable, errUnavailable.Error()},
}

// problemFor returns the problem document for err.
func problemFor(err error) Problem {
	var fields valid.Errors
	if errors.As(err, &fields) {
		return Problem{Type: "about:blank", Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity,
			Detail: errUnprocessable.Error(), Errors: fields}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err = errBodyTooLarge
	}
	for _, row := range statusTable {
		if errors.Is(err, row.err) {
			return Problem{Type: "about:blank", Title: http.StatusText(row.status), Status: row.status, Detail: row.detail}
		}
	}
	return Problem{Type: "about:blank", Title: http.StatusText(500), Status: 500, Detail: errInternal.Error()}
}

// writeProblem answers with the problem document for err.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	p.Instance = "urn:alto:request:" + requestID(r.Context())
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
