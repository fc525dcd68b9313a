package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// Ingress queues submissions for ingest.
type Ingress interface {
	Send(ctx context.Context, subs []ingest.Submission) error
}

// MaxBatch is the most contacts one POST /v1/contacts may carry (ING-01).
const MaxBatch = 500

func (a *API) contactRoutes() []Route {
	if a.cfg.Contacts == nil {
		return nil
	}
	return []Route{
		{"POST", "/v1/contacts", auth.WriteContacts, a.submitContacts},
		{"GET", "/v1/contacts", auth.ReadContacts, a.listContacts},
		{"GET", "/v1/contacts/{id}", auth.ReadContacts, a.getContact},
		{"PATCH", "/v1/contacts/{id}", auth.WriteContacts, a.rectifyContact},
		{"DELETE", "/v1/contacts/{id}", auth.WriteContacts, a.deleteContact},
	}
}

type rejection struct {
	Index  int                `json:"index"`
	Errors []valid.FieldError `json:"errors"`
}

type submitResult struct {
	Accepted int         `json:"accepted"`
	Rejected []rejection `json:"rejected"`
}

// submitContacts validates one contact or a batch, queues the valid ones
// durably and answers 202 (ING-01). With an Idempotency-Key, a repeat of the
// same request within 24 hours gets the first answer and queues nothing.
func (a *API) submitContacts(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSON(r)
	if err != nil {
		return err
	}
	replay, done, err := a.idempotent(w, r, body)
	if err != nil || replay {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	raws, single, err := splitContacts(body)
	if err != nil {
		return err
	}
	res := submitResult{Rejected: []rejection{}}
	var subs []ingest.Submission
	for i, raw := range raws {
		c, errs := decodeContact(raw, p)
		if len(errs) > 0 {
			res.Rejected = append(res.Rejected, rejection{Index: i, Errors: errs})
			continue
		}
		subs = append(subs, ingest.Submission{Contact: c, Via: "api", Actor: p.Sub})
	}
	if single && len(res.Rejected) == 1 {
		return valid.Errors(res.Rejected[0].Errors)
	}
	if err := a.cfg.Ingress.Send(r.Context(), subs); err != nil {
		return err
	}
	res.Accepted = len(subs)
	if err := a.record(r, "contacts.submitted", map[string]string{
		"accepted": strconv.Itoa(res.Accepted), "rejected": strconv.Itoa(len(res.Rejected))}); err != nil {
		return err
	}
	out, _ := json.Marshal(res)
	if err := done(http.StatusAccepted, out); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	w.Write(append(out, '\n'))
	return nil
}

// readJSON reads a JSON request body whole (it is size-limited by the
// middleware). Returns errMediaType or errBadJSON for what is not JSON.
func readJSON(r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, errMediaType
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if !json.Valid(body) {
		return nil, errBadJSON
	}
	return body, nil
}

// splitContacts returns the raw contacts of a body that is one contact or
// {"contacts":[...]}, and whether it was a single contact.
func splitContacts(body []byte) ([]json.RawMessage, bool, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, false, valid.Errors{{Field: "", Reason: "must be a contact object or {\"contacts\": [...]}"}}
	}
	list, ok := probe["contacts"]
	if !ok {
		return []json.RawMessage{body}, true, nil
	}
	if len(probe) != 1 {
		return nil, false, valid.Errors{{Field: "", Reason: "a batch has only the field contacts"}}
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(list, &raws); err != nil {
		return nil, false, valid.Errors{{Field: "contacts", Reason: "must be an array of contacts"}}
	}
	switch {
	case len(raws) == 0:
		return nil, false, valid.Errors{{Field: "contacts", Reason: "must hold at least one contact"}}
	case len(raws) > MaxBatch:
		return nil, false, valid.Errors{{Field: "contacts", Reason: fmt.Sprintf("must hold at most %d contacts", MaxBatch)}}
	}
	return raws, false, nil
}

// decodeContact decodes and normalizes one contact submitted by p, and
// holds it to p's scope: a rep creates only contacts they own, a manager
// only contacts of their branch and department.
func decodeContact(raw json.RawMessage, p auth.Principal) (contact.Contact, valid.Errors) {
	var c contact.Contact
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, valid.Errors{jsonFieldError(err)}
	}
	c, errs := contact.HoldToScope(c, p)
	c, more := contact.Normalize(c, "")
	return c, append(errs, more...)
}

// jsonFieldError turns a decoding error into a field error that names the
// field but never echoes the value.
func jsonFieldError(err error) valid.FieldError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return valid.FieldError{Field: typeErr.Field, Reason: "has the wrong type: want " + typeErr.Type.String()}
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return valid.FieldError{Field: strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`), Reason: "is not a known field"}
	}
	var timeErr *time.ParseError
	if errors.As(err, &timeErr) {
		return valid.FieldError{Field: "consent.capturedAt", Reason: "must be an RFC 3339 time"}
	}
	return valid.FieldError{Field: "", Reason: "must be a JSON object"}
}

// idempotencyTTL is how long an Idempotency-Key is remembered.
const idempotencyTTL = 24 * time.Hour

type idempotentAnswer struct {
	RequestHash string          `json:"requestHash"`
	Status      int             `json:"status"`
	Body        json.RawMessage `json:"body"`
}

// idempotent handles the Idempotency-Key header: when the key was used
// before with the same body, it writes the first answer and reports replay;
// with another body it returns a conflict. Otherwise done records the
// answer for the key.
func (a *API) idempotent(w http.ResponseWriter, r *http.Request, body []byte) (replay bool, done func(int, []byte) error, err error) {
	none := func(int, []byte) error { return nil }
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return false, none, nil
	}
	if len(key) > 255 {
		return false, none, valid.Errors{{Field: "Idempotency-Key", Reason: "must be at most 255 characters"}}
	}
	ksum := sha256.Sum256([]byte(r.Pattern + "\x00" + key))
	bsum := sha256.Sum256(body)
	k := store.Key{PK: "IDEMPOTENCY", SK: hex.EncodeToString(ksum[:])}
	reqHash := hex.EncodeToString(bsum[:])
	it, err := a.cfg.Idempotency.Get(r.Context(), k)
	switch {
	case err == nil:
		var ans idempotentAnswer
		if err := json.Unmarshal(it.Data, &ans); err != nil {
			return false, none, fmt.Errorf("idempotency: decode: %w", err)
		}
		if ans.RequestHash != reqHash {
			return false, none, fmt.Errorf("%w: Idempotency-Key was used with another body", store.ErrConditionFailed)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(ans.Status)
		w.Write(append(ans.Body, '\n'))
		return true, none, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, none, err
	}
	done = func(status int, out []byte) error {
		data, _ := json.Marshal(idempotentAnswer{RequestHash: reqHash, Status: status, Body: out})
		_, err := a.cfg.Idempotency.Put(r.Context(), store.Item{PK: k.PK, SK: k.SK, Data: data,
			ExpiresAt: a.cfg.Now().Add(idempotencyTTL)}, store.Always)
		return err
	}
	return false, done, nil
}

type contactPage struct {
	Items      []contact.Contact `json:"items"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

func (a *API) listContacts(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	scope := auth.RecordScope(p)
	q := r.URL.Query()
	var items []contact.Contact
	var next string
	var err error
	switch {
	case q.Get("email") != "" || q.Get("phone") != "":
		norm, errs := contact.Normalize(contact.Contact{Email: q.Get("email"), Phone: q.Get("phone")}, "")
		if len(errs) > 0 {
			return errs
		}
		kind, value := contact.KindEmail, norm.Email
		if value == "" {
			kind, value = contact.KindPhone, norm.Phone
		}
		items, err = a.cfg.Contacts.Find(r.Context(), scope, kind, value)
	default:
		limit := 0
		if s := q.Get("limit"); s != "" {
			if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 1000 {
				return valid.Errors{{Field: "limit", Reason: "must be a whole number from 1 to 1000"}}
			}
		}
		items, next, err = a.cfg.Contacts.List(r.Context(), scope, q.Get("cursor"), limit)
		if errors.Is(err, store.ErrInvalid) {
			return valid.Errors{{Field: "cursor", Reason: "is not a cursor of this listing"}}
		}
	}
	if err != nil {
		return err
	}
	if err := a.record(r, "contact.read", map[string]string{"count": strconv.Itoa(len(items))}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contactPage{Items: items, NextCursor: next})
	return nil
}

func (a *API) getContact(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	c, err := a.cfg.Contacts.Get(r.Context(), auth.RecordScope(p), r.PathValue("id"))
	if err != nil {
		return a.notFound(r, err)
	}
	if _, err := a.cfg.Audit.Append(r.Context(), audit.Entry{Type: "contact.read", Actor: p.Sub, Target: c.ID}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) rectifyContact(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSON(r)
	if err != nil {
		return err
	}
	var changes map[string]json.RawMessage
	if err := json.Unmarshal(body, &changes); err != nil {
		return valid.Errors{{Field: "", Reason: "must be an object of the fields to change"}}
	}
	p, _ := auth.PrincipalFrom(r.Context())
	c, err := a.cfg.Contacts.Rectify(r.Context(), auth.RecordScope(p), r.PathValue("id"), changes, p.Sub)
	if err != nil {
		return a.notFound(r, err)
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) deleteContact(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	if err := a.cfg.Contacts.Delete(r.Context(), auth.RecordScope(p), r.PathValue("id"), p.Sub); err != nil {
		return a.notFound(r, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// notFound audits an attempt on another tenant's ID (ACC-03: the caller
// sees only 404) and returns err.
func (a *API) notFound(r *http.Request, err error) error {
	if !errors.Is(err, contact.ErrForeign) {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	e := audit.Entry{Type: audit.CrossTenantAccess, Actor: p.Sub,
		Detail: map[string]string{"route": r.Pattern, "org": p.Org, "source": a.addrDigest(clientAddr(r))}}
	for _, ctx := range []context.Context{r.Context(), tenant.WithPlatform(r.Context())} {
		if _, aerr := a.cfg.Audit.Append(ctx, e); aerr != nil {
			return aerr
		}
	}
	return err
}
