// Package scim is the SCIM 2.0 surface of the user directory (RFC 7643,
// RFC 7644; ACC-07): /scim/v2/Users with create, read, list with
// `filter=userName eq "…"` or `externalId eq "…"` and paging, replace,
// PATCH (the add, replace and remove operations, with and without a path,
// in the shapes Okta and Microsoft Entra ID send them) and delete, the
// ServiceProviderConfig, Schemas and ResourceTypes discovery endpoints, and
// errors in the SCIM error format. Role, branch and department ride in the
// Alto extension schema (directory.ExtensionSchema).
//
// Callers authenticate with their tenant's SCIM bearer token (Tokens);
// the HTTP layer checks it, scopes the request context to the token's
// tenant and attaches its Credential before a Server handler runs.
package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/directory"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/valid"
)

// Schema URNs of RFC 7643 and RFC 7644, and Alto's extension.
const (
	UserSchema         = "urn:ietf:params:scim:schemas:core:2.0:User"
	ExtensionSchema    = directory.ExtensionSchema
	ListSchema         = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchOpSchema      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	ErrorSchema        = "urn:ietf:params:scim:api:messages:2.0:Error"
	ConfigSchema       = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	ResourceTypeSchema = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaSchema       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// MediaType is the content type of every SCIM response.
const MediaType = "application/scim+json"

// Root is the path under which the SCIM endpoints are served.
const Root = "/scim/v2"

// Limits of the protocol surface.
const (
	MaxResults    = 200 // users per list page (filter.maxResults)
	MaxOperations = 100 // operations per PATCH
)

// Error is a SCIM error response (RFC 7644 section 3.12). Detail never
// repeats a submitted value.
type Error struct {
	Status   int
	ScimType string // "" or one of RFC 7644's scimType keywords
	Detail   string
}

func (e *Error) Error() string { return fmt.Sprintf("scim: %d %s: %s", e.Status, e.ScimType, e.Detail) }

func badRequest(scimType, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// errorBody is the wire form of an Error; status is a string, as RFC 7644
// writes it.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// WriteError answers with a SCIM error of the status, scimType and detail.
// A 401 carries a Bearer challenge.
func WriteError(w http.ResponseWriter, status int, scimType, detail string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim", error="invalid_token"`)
	}
	writeJSON(w, status, errorBody{Schemas: []string{ErrorSchema}, Status: fmt.Sprint(status), ScimType: scimType, Detail: detail})
}

// errForbidden is returned when a credential may not write a user.
var errForbidden = &Error{Status: http.StatusForbidden,
	Detail: "a SCIM token made by an admin cannot give, change or remove the owner role or write an owner; an owner must rotate the token"}

// errorFor maps err to the SCIM error the client sees: the one place where
// that is decided. Internal errors say nothing of their cause.
func errorFor(err error) *Error {
	var se *Error
	var fields valid.Errors
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &fields):
		parts := make([]string, len(fields))
		for i, f := range fields {
			parts[i] = f.Field + ": " + f.Reason
		}
		return badRequest("invalidValue", "%s", strings.Join(parts, "; "))
	case errors.As(err, &tooBig):
		return &Error{Status: http.StatusRequestEntityTooLarge, Detail: "the body is too large"}
	case errors.Is(err, auth.ErrUnauthenticated):
		return &Error{Status: http.StatusUnauthorized, Detail: "a valid SCIM bearer token is required"}
	case errors.Is(err, directory.ErrConflict):
		return &Error{Status: http.StatusConflict, ScimType: "uniqueness", Detail: "userName or externalId belongs to another user"}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Detail: "no such resource"}
	case errors.Is(err, store.ErrConditionFailed):
		return &Error{Status: http.StatusConflict, Detail: "the user changed concurrently; retry"}
	}
	return &Error{Status: http.StatusInternalServerError, Detail: "internal error"}
}

// Server serves the SCIM endpoints over a directory. It may serve
// requests concurrently.
type Server struct {
	Directory *directory.Directory
	// BaseURL is how clients reach the API ("https://api.example.com"),
	// for meta.location; when empty it is https:// and the request's Host.
	BaseURL string
	// Logger receives internal errors (without personal data); nil
	// discards them.
	Logger *slog.Logger
}

// Route is one SCIM endpoint. Handler expects a request whose context is
// scoped to the caller's tenant and carries its Credential.
type Route struct {
	Method, Path string
	Handler      http.Handler
}

// Routes lists the SCIM endpoints, with paths under Root.
func (s *Server) Routes() []Route {
	return []Route{
		{"GET", Root + "/Users", s.handle(s.listUsers)},
		{"POST", Root + "/Users", s.handle(s.createUser)},
		{"GET", Root + "/Users/{id}", s.handle(s.getUser)},
		{"PUT", Root + "/Users/{id}", s.handle(s.replaceUser)},
		{"PATCH", Root + "/Users/{id}", s.handle(s.patchUser)},
		{"DELETE", Root + "/Users/{id}", s.handle(s.deleteUser)},
		{"GET", Root + "/ServiceProviderConfig", s.handle(s.serviceProviderConfig)},
		{"GET", Root + "/Schemas", s.handle(s.schemas)},
		{"GET", Root + "/ResourceTypes", s.handle(s.resourceTypes)},
	}
}

// handle turns a handler returning an error into one answering SCIM errors.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := CredentialFrom(r.Context()); !ok {
			WriteError(w, http.StatusUnauthorized, "", "a valid SCIM bearer token is required")
			return
		}
		err := h(w, r)
		if err == nil {
			return
		}
		e := errorFor(err)
		if e.Status >= 500 && s.Logger != nil {
			s.Logger.ErrorContext(r.Context(), "scim request failed", "route", r.Pattern, "err", err.Error())
		}
		WriteError(w, e.Status, e.ScimType, e.Detail)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// location is the absolute URL of path (under Root) for meta.location.
func (s *Server) location(r *http.Request, path string) string {
	base := s.BaseURL
	if base == "" {
		base = "https://" + r.Host
	}
	return strings.TrimSuffix(base, "/") + Root + path
}
