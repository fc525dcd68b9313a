package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/forms"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/valid"
)

// Forms keeps web forms and takes their public submissions (forms.Service).
type Forms interface {
	// Create defines a form; valid.Errors for a bad definition.
	Create(ctx context.Context, p auth.Principal, d forms.Definition) (forms.Form, error)
	// List returns one page of the tenant's forms and the next cursor.
	List(ctx context.Context, cursor string, limit int) ([]forms.Form, string, error)
	// Submit takes a public submission from the client address addr; an
	// error wrapping store.ErrNotFound for an unknown form, valid.Errors
	// for a bad submission.
	Submit(ctx context.Context, id string, sub forms.Submission, addr string) error
}

func (a *API) formRoutes() []Route {
	if a.cfg.Forms == nil {
		return nil
	}
	return []Route{
		{"POST", "/v1/forms", auth.ManageForms, a.createForm},
		{"GET", "/v1/forms", auth.ManageForms, a.listForms},
		{"POST", "/v1/forms/{id}/submissions", "", a.submitForm},
	}
}

func (a *API) createForm(w http.ResponseWriter, r *http.Request) error {
	var d forms.Definition
	if err := decodeStrict(r, &d); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	f, err := a.cfg.Forms.Create(r.Context(), p, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, f)
	return nil
}

type formPage struct {
	Items      []forms.Form `json:"items"`
	NextCursor string       `json:"nextCursor,omitempty"`
}

func (a *API) listForms(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 1000 {
			return valid.Errors{{Field: "limit", Reason: "must be a whole number from 1 to 1000"}}
		}
	}
	items, next, err := a.cfg.Forms.List(r.Context(), q.Get("cursor"), limit)
	if errors.Is(err, store.ErrInvalid) {
		return valid.Errors{{Field: "cursor", Reason: "is not a cursor of this listing"}}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, formPage{Items: items, NextCursor: next})
	return nil
}

// submitForm takes a public submission (ING-03): JSON with string fields
// and "consent": true, or an HTML form post (consent=true or on). It
// answers 202 once the contact is queued.
func (a *API) submitForm(w http.ResponseWriter, r *http.Request) error {
	sub, err := readSubmission(r)
	if err != nil {
		return err
	}
	if err := a.cfg.Forms.Submit(r.Context(), r.PathValue("id"), sub, clientAddr(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	return nil
}

// readSubmission reads a form submission body. Returns errMediaType for a
// body that is neither JSON nor an HTML form post, and valid.Errors for
// values that are not text (or, for consent, not a yes or no).
func readSubmission(r *http.Request) (forms.Submission, error) {
	sub := forms.Submission{Fields: map[string]string{}}
	var errs valid.Errors
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		body, err := readJSON(r)
		if err != nil {
			return sub, err
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return sub, valid.Errors{{Field: "", Reason: "must be a JSON object of the form's fields and consent"}}
		}
		for _, k := range sortedRawKeys(raw) {
			if k == "consent" {
				if err := json.Unmarshal(raw[k], &sub.Consent); err != nil {
					errs.Add("consent", "must be true or false")
				}
				continue
			}
			var v string
			if err := json.Unmarshal(raw[k], &v); err != nil {
				errs.Add(k, "must be a string")
				continue
			}
			sub.Fields[k] = v
		}
	case "application/x-www-form-urlencoded":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return sub, err
		}
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return sub, valid.Errors{{Field: "", Reason: "is not a valid form post"}}
		}
		for k, vs := range vals {
			if len(vs) != 1 {
				errs.Add(k, "must be given once")
				continue
			}
			if k == "consent" {
				switch vs[0] {
				case "true", "on", "yes", "1":
					sub.Consent = true
				case "false", "off", "no", "0", "":
				default:
					errs.Add("consent", "must be true or false")
				}
				continue
			}
			sub.Fields[k] = vs[0]
		}
	default:
		return sub, errMediaType
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return sub, errs.Err()
}

func sortedRawKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
