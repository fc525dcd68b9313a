package scim

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/alto/alto/shared/directory"
)

// resource is the wire form of a user.
type resource struct {
	Schemas     []string          `json:"schemas"`
	ID          string            `json:"id"`
	ExternalID  string            `json:"externalId,omitempty"`
	UserName    string            `json:"userName"`
	DisplayName string            `json:"displayName,omitempty"`
	Name        *directory.Name   `json:"name,omitempty"`
	Emails      []directory.Email `json:"emails,omitempty"`
	Active      bool              `json:"active"`
	Alto        *extension        `json:"urn:ietf:params:scim:schemas:extension:alto:2.0:User,omitempty"`
	Meta        meta              `json:"meta"`
}

type extension struct {
	Role   string `json:"role,omitempty"`
	Branch string `json:"branch,omitempty"`
	Dept   string `json:"dept,omitempty"`
}

type meta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
	Version      string `json:"version,omitempty"`
}

type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

func (s *Server) toResource(r *http.Request, u directory.User) resource {
	res := resource{Schemas: []string{UserSchema}, ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName,
		DisplayName: u.DisplayName, Emails: u.Emails, Active: u.Active,
		Meta: meta{ResourceType: "User", Created: u.Created.UTC().Format(time.RFC3339),
			LastModified: u.Modified.UTC().Format(time.RFC3339), Location: s.location(r, "/Users/"+u.ID),
			Version: etag(u.Version)}}
	if u.Name != (directory.Name{}) {
		res.Name = &u.Name
	}
	if u.Role != "" || u.Branch != "" || u.Dept != "" {
		res.Alto = &extension{Role: string(u.Role), Branch: u.Branch, Dept: u.Dept}
		res.Schemas = append(res.Schemas, ExtensionSchema)
	}
	return res
}

func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, u directory.User) {
	res := s.toResource(r, u)
	w.Header().Set("ETag", res.Meta.Version)
	if status == http.StatusCreated {
		w.Header().Set("Location", res.Meta.Location)
	}
	writeJSON(w, status, res)
}

// filterPattern is the one filter shape supported: an attribute, eq and a
// JSON string, which is what identity providers send to look a user up.
var filterPattern = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9:._-]*)\s+(?i:eq)\s+(".*")\s*$`)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	start, err := intParam(q.Get("startIndex"), 1, "startIndex")
	if err != nil {
		return err
	}
	count, err := intParam(q.Get("count"), MaxResults, "count")
	if err != nil {
		return err
	}
	start = max(start, 1)                  // RFC 7644 3.4.2.4: less than 1 means 1
	count = min(max(count, 0), MaxResults) // negative means 0
	var users []directory.User
	total := 0
	if f := q.Get("filter"); f != "" {
		u, err := s.find(r, f)
		switch {
		case errors.Is(err, directory.ErrNotFound):
		case err != nil:
			return err
		default:
			total = 1
			if start == 1 && count > 0 {
				users = []directory.User{u}
			}
		}
	} else {
		users, total, err = s.Directory.List(r.Context(), start-1, count)
		if err != nil {
			return err
		}
	}
	out := listResponse{Schemas: []string{ListSchema}, TotalResults: total, StartIndex: start,
		ItemsPerPage: len(users), Resources: make([]any, 0, len(users))}
	for _, u := range users {
		out.Resources = append(out.Resources, s.toResource(r, u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// find evaluates a filter of the one supported shape.
func (s *Server) find(r *http.Request, filter string) (directory.User, error) {
	m := filterPattern.FindStringSubmatch(filter)
	var value string
	if m == nil || json.Unmarshal([]byte(m[2]), &value) != nil {
		return directory.User{}, badRequest("invalidFilter", `only filters of the form userName eq "…" and externalId eq "…" are supported`)
	}
	switch normalPath(m[1]) {
	case "username":
		return s.Directory.FindByUserName(r.Context(), value)
	case "externalid":
		return s.Directory.FindByExternalID(r.Context(), value)
	}
	return directory.User{}, badRequest("invalidFilter", "filters may test userName or externalId only")
}

func intParam(s string, def int, name string) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badRequest("invalidValue", "%s must be an integer", name)
	}
	return n, nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	obj, err := readObject(r)
	if err != nil {
		return err
	}
	u, err := fromResource(directory.User{Active: true}, obj)
	if err != nil {
		return err
	}
	cred, _ := CredentialFrom(r.Context())
	if !cred.MayManage(u.Role) {
		return errForbidden
	}
	u, err = s.Directory.Create(r.Context(), u)
	if err != nil {
		return err
	}
	s.writeUser(w, r, http.StatusCreated, u)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.Directory.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.writeUser(w, r, http.StatusOK, u)
	return nil
}

func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request) error {
	obj, err := readObject(r)
	if err != nil {
		return err
	}
	return s.update(w, r, func(cur directory.User) (directory.User, error) {
		return fromResource(cur, obj)
	})
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	obj, err := readObject(r)
	if err != nil {
		return err
	}
	var ops []patchOp
	for k, v := range obj {
		if strings.EqualFold(k, "Operations") {
			if err := json.Unmarshal(v, &ops); err != nil {
				return badRequest("invalidSyntax", "Operations must be an array of operations")
			}
		}
	}
	return s.update(w, r, func(cur directory.User) (directory.User, error) {
		return applyPatch(cur, ops)
	})
}

// update applies change to the user of the path, within what the caller's
// credential may do, and answers with the result.
func (s *Server) update(w http.ResponseWriter, r *http.Request, change func(directory.User) (directory.User, error)) error {
	cred, _ := CredentialFrom(r.Context())
	u, err := s.Directory.Update(r.Context(), r.PathValue("id"), func(cur directory.User) (directory.User, error) {
		next, err := change(cur)
		if err != nil {
			return next, err
		}
		if !cred.MayManage(cur.Role) || !cred.MayManage(next.Role) {
			return next, errForbidden
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	s.writeUser(w, r, http.StatusOK, u)
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	cred, _ := CredentialFrom(r.Context())
	err := s.Directory.Delete(r.Context(), r.PathValue("id"), func(cur directory.User) error {
		if !cred.MayManage(cur.Role) {
			return errForbidden
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// readObject reads a JSON object body sent as application/scim+json or
// application/json. The body is size-limited by the HTTP layer.
func readObject(r *http.Request) (map[string]json.RawMessage, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != MediaType && mt != "application/json") {
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Detail: "the body must be application/scim+json"}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, badRequest("invalidSyntax", "the body must be a JSON object")
	}
	return obj, nil
}
