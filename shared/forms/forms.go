// Package forms keeps web forms (ING-03): an owner or admin defines a form
// (the contact fields it asks for, the consent text and its version); its
// public submission endpoint needs no token, requires consent and records
// it (granted for e-mail, on the basis "form", with the text version, the
// time and a keyed digest of the client address, never the address), and
// queues the contact on the ingress queue like every other submission.
//
// A form ID is random and says nothing of its tenant; a platform-scoped
// index maps it to the tenant, since a public caller carries no token.
package forms

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// Storage layout: forms relative to the tenant, the index in the
// platform's scope.
const (
	formsPK = "FORM"      // SK: form ID → the definition
	indexPK = "FORMINDEX" // SK: form ID → its tenant
)

// Fields a form may ask for, named as in the contact's JSON.
var Fields = []string{"email", "phone", "firstName", "lastName", "company", "title", "country", "timeZone"}

// Limits of a form.
const (
	maxName        = 200
	maxConsentText = 5000
	maxVersion     = 64
	maxValue       = 1000
)

// Store is the part of the storage port forms need.
type Store interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

// Keys digests the client address with the tenant's keys.
type Keys interface {
	BlindIndex(ctx context.Context, kind, normalized string) (string, error)
}

// Ingress queues submissions for ingest (ingest.Producer).
type Ingress interface {
	Send(ctx context.Context, subs []ingest.Submission) error
}

// Auditor appends audit entries.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// ErrNotFound is returned for a form that does not exist.
var ErrNotFound = fmt.Errorf("forms: %w", store.ErrNotFound)

// Definition is what an owner or admin sends to define a form.
type Definition struct {
	Name           string   `json:"name"`
	Fields         []string `json:"fields"`
	ConsentText    string   `json:"consentText"`
	ConsentVersion string   `json:"consentVersion"`
}

// Form is a defined form.
type Form struct {
	ID string `json:"id"`
	Definition
	// SubmitURL is where the public posts submissions.
	SubmitURL string    `json:"submitUrl"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// Submission is what the public posts: the form's fields and consent.
type Submission struct {
	Fields  map[string]string
	Consent bool
}

// Service keeps forms and takes their submissions. It may be used
// concurrently.
type Service struct {
	Store   Store
	Keys    Keys
	Ingress Ingress
	Audit   Auditor
	// BaseURL is how the public reaches the API, for submitUrl; empty
	// gives a path.
	BaseURL string
	Now     func() time.Time
}

var versionPattern = regexp.MustCompile(`^[A-Za-z0-9._:+-]+$`)

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return "f_" + strings.ToLower(idEncoding.EncodeToString(b))
}

func validID(id string) bool {
	rest, ok := strings.CutPrefix(id, "f_")
	return ok && len(rest) == 24 && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz234567") == ""
}

// SubmitPath is the path of form id's public submission endpoint.
func SubmitPath(id string) string { return "/v1/forms/" + id + "/submissions" }

// check validates a definition field by field.
func check(d *Definition) valid.Errors {
	var errs valid.Errors
	text := func(field string, s *string, max int) {
		*s = strings.TrimSpace(*s)
		switch {
		case *s == "":
			errs.Add(field, "is required")
		case !utf8.ValidString(*s) || utf8.RuneCountInString(*s) > max:
			errs.Add(field, fmt.Sprintf("must be text of at most %d characters", max))
		}
	}
	text("name", &d.Name, maxName)
	text("consentText", &d.ConsentText, maxConsentText)
	d.ConsentVersion = strings.TrimSpace(d.ConsentVersion)
	if d.ConsentVersion == "" || len(d.ConsentVersion) > maxVersion || !versionPattern.MatchString(d.ConsentVersion) {
		errs.Add("consentVersion", "must be at most 64 letters, digits or ._:+- (like 2026-01 or v3)")
	}
	seen := map[string]bool{}
	for i, f := range d.Fields {
		switch {
		case !slices.Contains(Fields, f):
			errs.Add(fmt.Sprintf("fields[%d]", i), "must be one of "+strings.Join(Fields, ", "))
		case seen[f]:
			errs.Add(fmt.Sprintf("fields[%d]", i), "is listed twice")
		}
		seen[f] = true
	}
	if !seen["email"] && !seen["phone"] {
		errs.Add("fields", "must include email or phone")
	}
	return errs
}

// Create defines a form for the tenant of ctx. Returns valid.Errors for an
// invalid definition.
func (s *Service) Create(ctx context.Context, p auth.Principal, d Definition) (Form, error) {
	if err := check(&d).Err(); err != nil {
		return Form{}, err
	}
	org, err := tenant.From(ctx)
	if err != nil {
		return Form{}, err
	}
	f := Form{ID: newID(), Definition: d, CreatedBy: p.Sub, CreatedAt: s.now()}
	data, _ := json.Marshal(f)
	// The form first: an index entry without its form answers 404, a form
	// without its index entry cannot be reached.
	if _, err := s.Store.Put(ctx, store.Item{PK: formsPK, SK: f.ID, Data: data}, store.IfAbsent); err != nil {
		return Form{}, fmt.Errorf("forms: create: %w", err)
	}
	idx, _ := json.Marshal(map[string]string{"org": string(org)})
	if _, err := s.Store.Put(tenant.WithPlatform(ctx), store.Item{PK: indexPK, SK: f.ID, Data: idx}, store.IfAbsent); err != nil {
		return Form{}, fmt.Errorf("forms: create: %w", err)
	}
	if _, err := s.Audit.Append(ctx, audit.Entry{Type: "form.created", Actor: p.Sub, Target: f.ID}); err != nil {
		return Form{}, err
	}
	f.SubmitURL = s.BaseURL + SubmitPath(f.ID)
	return f, nil
}

// List returns one page of the tenant's forms and the cursor of the next.
// Returns an error wrapping store.ErrInvalid for a bad cursor.
func (s *Service) List(ctx context.Context, cursor string, limit int) ([]Form, string, error) {
	page, err := s.Store.Query(ctx, store.Query{PK: formsPK, Cursor: cursor, Limit: limit})
	if err != nil {
		return nil, "", fmt.Errorf("forms: list: %w", err)
	}
	out := make([]Form, 0, len(page.Items))
	for _, it := range page.Items {
		var f Form
		if err := json.Unmarshal(it.Data, &f); err != nil {
			return nil, "", fmt.Errorf("forms: decode %s: %w", it.SK, err)
		}
		f.SubmitURL = s.BaseURL + SubmitPath(f.ID)
		out = append(out, f)
	}
	return out, page.Next, nil
}

// Submit takes a public submission of form id from the client address addr
// (ctx carries no tenant: the form's is looked up). The fields must be the
// form's and consent must be given; the contact is queued with its consent
// recorded. Returns ErrNotFound for an unknown form and valid.Errors (with
// no submitted value in them) for an invalid submission.
func (s *Service) Submit(ctx context.Context, id string, sub Submission, addr string) error {
	if !validID(id) {
		return ErrNotFound
	}
	it, err := s.Store.Get(tenant.WithPlatform(ctx), store.Key{PK: indexPK, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("forms: submit: %w", err)
	}
	var idx struct{ Org string }
	if err := json.Unmarshal(it.Data, &idx); err != nil || tenant.Valid(idx.Org) != nil {
		return fmt.Errorf("forms: submit: bad index entry for %s", id)
	}
	ctx = tenant.With(ctx, tenant.ID(idx.Org))
	it, err = s.Store.Get(ctx, store.Key{PK: formsPK, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("forms: submit: %w", err)
	}
	var f Form
	if err := json.Unmarshal(it.Data, &f); err != nil {
		return fmt.Errorf("forms: decode %s: %w", id, err)
	}

	var errs valid.Errors
	if !sub.Consent {
		errs.Add("consent", "must be true: the form needs the submitter's consent")
	}
	var c contact.Contact
	targets := map[string]*string{"email": &c.Email, "phone": &c.Phone, "firstName": &c.FirstName, "lastName": &c.LastName,
		"company": &c.Company, "title": &c.Title, "country": &c.Country, "timeZone": &c.TimeZone}
	names := make([]string, 0, len(sub.Fields))
	for k := range sub.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := sub.Fields[k]
		switch {
		case !slices.Contains(f.Fields, k):
			errs.Add(k, "is not a field of this form")
		case len(v) > maxValue:
			errs.Add(k, fmt.Sprintf("must be at most %d bytes", maxValue))
		default:
			*targets[k] = v
		}
	}
	now := s.now()
	c.Consent = contact.Consent{Email: contact.Granted, Call: contact.Unknown, Basis: "form",
		TextVersion: f.ConsentVersion, CapturedAt: now}
	c, more := contact.Normalize(c, "")
	if errs = append(errs, more...); len(errs) > 0 {
		return errs
	}
	if addr != "" {
		if c.Consent.IPDigest, err = s.Keys.BlindIndex(ctx, "consent-ip", addr); err != nil {
			return fmt.Errorf("forms: submit: %w", err)
		}
	}
	return s.Ingress.Send(ctx, []ingest.Submission{{Contact: c, Via: "form", Actor: "form:" + id}})
}
