// Package subject handles data subject requests (DSR-01): access,
// portability, rectification, erasure, restriction and objection, each with
// a due date (7 days by default, never past the 30-day legal cap), a status
// history and audit entries; and the exports behind access, portability and
// the whole-workspace export (DSR-02, DSR-03): zip archives of one JSON
// document and CSV files, streamed in constant memory into blob storage,
// encrypted to the recipient's OpenPGP or age key when one is given
// (ENC-05), reachable by short-lived links to Alto's own download endpoint,
// which audits every use and only then redirects to the blob store,
// whichever it is (DSR-04). An hourly sweep raises alarms for requests near
// or past their due date (OPS-04).
//
// A request keeps no plaintext identifier of its subject: the blind index
// of the e-mail or phone and the matched contact IDs, and the identifier as
// given sealed with the tenant's keys, for the work that needs it later (the
// export, the erasure). Erasure is only recorded here; the purge capability
// executes it through Advance and OpenSubject.
package subject

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// Types of request. Workspace is the whole-workspace export; the others
// are the GDPR kinds of DSR-01.
const (
	Access        = "access"
	Portability   = "portability"
	Rectification = "rectification"
	Erasure       = "erasure"
	Restriction   = "restriction"
	Objection     = "objection"
	Workspace     = "workspace"
)

// Kinds lists the six subject request types.
var Kinds = []string{Access, Portability, Rectification, Erasure, Restriction, Objection}

// Statuses of a request, in the order they may follow each other.
const (
	Received = "received"
	Running  = "running"
	Done     = "done"
	Failed   = "failed"
)

// Deadlines and lifetimes.
const (
	// DefaultDue is how long a request may take when Service.DueIn is zero.
	DefaultDue = 7 * 24 * time.Hour
	// LegalCap is the longest a request may take, whatever the settings.
	LegalCap = 30 * 24 * time.Hour
	// NearDue is how close to its due date an open request raises the
	// first alarm.
	NearDue = 24 * time.Hour
	// DefaultLinkTTL is the lifetime of a download link.
	DefaultLinkTTL = 15 * time.Minute
	// ArchiveTTL is how long an export archive is kept; the sweep deletes
	// it then.
	ArchiveTTL = 7 * 24 * time.Hour
	// MaxRecipientKey bounds the recipientKey of a request, in bytes.
	MaxRecipientKey = 64 << 10
)

// Job kinds on the jobs queue.
const (
	JobSubjectExport   = "subject-export"
	JobWorkspaceExport = "workspace-export"
)

// Errors of the service.
var (
	// ErrNotFound is returned for a request that does not exist or
	// belongs to another tenant.
	ErrNotFound = fmt.Errorf("subject: %w", store.ErrNotFound)
	// ErrTransition is returned by Advance for a status change the
	// lifecycle does not allow (from a finished request, or backwards).
	ErrTransition = fmt.Errorf("subject: %w: status change not allowed", store.ErrConditionFailed)
)

// Ref names a subject as a client gives it: exactly one of the fields.
type Ref struct {
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
	ContactID string `json:"contactId,omitempty"`
}

// Input is a new subject request.
type Input struct {
	Type    string `json:"type"`
	Subject Ref    `json:"subject"`
	// RecipientKey, for access and portability, is an OpenPGP armored
	// public key or an age recipient ("age1..."): the archive is encrypted
	// to it.
	RecipientKey string `json:"recipientKey,omitempty"`
	// Changes, for rectification, are the contact fields to change.
	Changes map[string]json.RawMessage `json:"changes,omitempty"`
}

// Event is one entry of a request's status history.
type Event struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	// Reason says why a request failed: a fixed phrase, never an error's
	// internals.
	Reason string `json:"reason,omitempty"`
}

// Result is what a finished request found and did.
type Result struct {
	Contacts int   `json:"contacts"`           // contacts matching the subject
	Changed  int   `json:"changed,omitempty"`  // contacts rectified or flagged
	Records  int64 `json:"records,omitempty"`  // records in an export's JSON document
	Bytes    int64 `json:"bytes,omitempty"`    // size of an export's archive
	Archives int   `json:"archives,omitempty"` // export archives an erasure deleted
}

// Progress is how far a running export got.
type Progress struct {
	// Rows counts the records written so far, over the JSON document and
	// the CSV files together.
	Rows      int64     `json:"rows"`
	Attempt   int       `json:"attempt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Download is an expiring link to an export's archive: Alto's download
// endpoint with a signed token (see Service.Download).
type Download struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Request is a subject request or a workspace export as clients see it.
type Request struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Status    string    `json:"status"`
	DueAt     time.Time `json:"dueAt,omitzero"` // subject requests only
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	// SubjectKind says how the subject was named: email, phone or
	// contactId (never the value).
	SubjectKind string   `json:"subjectKind,omitempty"`
	ContactIDs  []string `json:"contactIds,omitempty"`
	// Encryption of an export: none, openpgp or age.
	Encryption string    `json:"encryption,omitempty"`
	History    []Event   `json:"history"`
	Result     *Result   `json:"result,omitempty"`
	Progress   *Progress `json:"progress,omitempty"`
	// Download is set on a finished export whose archive is still kept;
	// every read mints a new link.
	Download         *Download `json:"download,omitempty"`
	ArchiveExpiresAt time.Time `json:"archiveExpiresAt,omitzero"`
}

// record is a request as stored.
type record struct {
	Request
	// Index is the subject's blind index ("email:<mac>" or "phone:<mac>").
	Index           string `json:"index,omitempty"`
	SealedSubject   []byte `json:"sealedSubject,omitempty"`
	SealedRecipient []byte `json:"sealedRecipient,omitempty"`
	Run             string `json:"run,omitempty"`     // the export run that owns the record
	Archive         string `json:"archive,omitempty"` // blob key of the archive
	Audited         bool   `json:"audited,omitempty"` // export.created was written
}

// Contacts is what the service needs of the contact service.
type Contacts interface {
	Find(ctx context.Context, scope auth.Scope, kind, value string) ([]contact.Contact, error)
	Get(ctx context.Context, scope auth.Scope, id string) (contact.Contact, error)
	List(ctx context.Context, scope auth.Scope, cursor string, limit int) ([]contact.Contact, string, error)
	Rectify(ctx context.Context, scope auth.Scope, id string, changes map[string]json.RawMessage, actor string) (contact.Contact, error)
	SetFlag(ctx context.Context, id string, flag contact.Flag) (bool, error)
	Suppressed(ctx context.Context, c contact.Contact) (bool, error)
}

// Campaigns is what exports need of the campaign service.
type Campaigns interface {
	List(ctx context.Context, cursor string, limit int) ([]campaign.Campaign, string, error)
	DraftOf(ctx context.Context, id, contact string) (campaign.Draft, error)
	Drafts(ctx context.Context, scope auth.Scope, id, cursor string, limit int) ([]campaign.Draft, string, error)
}

// Keys seals what a request keeps and indexes its subject.
type Keys interface {
	Seal(ctx context.Context, record, field string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, record, field string, ciphertext []byte) ([]byte, error)
	BlindIndex(ctx context.Context, kind, normalized string) (string, error)
}

// Store is the part of the storage port the service needs.
type Store interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Delete(ctx context.Context, k store.Key) error
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

// Auditor appends and reads the audit log.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, string, error)
}

// Blobs is the part of the blob port exports need.
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader) (blob.Object, error)
	Delete(ctx context.Context, key string) error
	SignURL(ctx context.Context, method, key string, ttl time.Duration) (string, error)
}

// Jobs queues export jobs (jobs.Producer).
type Jobs interface {
	Send(ctx context.Context, kind, id string) error
}

// Service keeps subject requests and runs exports. It may be used
// concurrently; the tenant comes from the context.
type Service struct {
	Store     Store
	Keys      Keys
	Contacts  Contacts
	Campaigns Campaigns
	Audit     Auditor
	Blobs     Blobs
	Jobs      Jobs
	// Alarms receives the due-date alarms of Sweep (required by Sweep only).
	Alarms notify.Alarms
	Now    func() time.Time
	// DueIn is how long a subject request may take; zero means DefaultDue.
	// It is capped at LegalCap.
	DueIn time.Duration
	// LinkTTL is the lifetime of download links; zero means DefaultLinkTTL.
	LinkTTL time.Duration
	// BaseURL is how clients reach the API ("https://alto.example"):
	// download links are BaseURL + DownloadPath + token. Empty gives
	// links relative to the API.
	BaseURL string
	Logger  *slog.Logger
}

// Storage layout. Requests live in the tenant's scope; the indexes the
// hourly sweep reads live in the platform's.
const (
	requestsPK = "DSR"      // SK: request ID
	exportsPK  = "EXPORT"   // SK: workspace export ID
	duePK      = "DSRDUE"   // platform; SK: due time # org # request ID
	archivesPK = "EXPORTGC" // platform; SK: expiry # org # request ID # run
)

func partitionOf(id string) (string, bool) {
	switch {
	case strings.HasPrefix(id, "dsr_"):
		return requestsPK, true
	case strings.HasPrefix(id, "exp_"):
		return exportsPK, true
	}
	return "", false
}

// Create validates and records a subject request and carries out what can
// be done at once: rectification, restriction and objection finish before
// Create returns; access and portability are queued as an export job;
// erasure stays received for the purge capability. A subject that matches
// no contact gives a request that completes with an empty result. actor is
// who asked (recorded as audit.Actor does).
//
// Returns valid.Errors for invalid input (nothing is written then),
// contact.ErrForeign for a contact ID of another tenant (nothing is
// written), and storage, key or queue errors.
func (s *Service) Create(ctx context.Context, in Input, actor string) (Request, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return Request{}, err
	}
	ref, kind, errs := checkInput(in)
	var rcpt recipient
	if in.RecipientKey != "" && len(in.RecipientKey) <= MaxRecipientKey && (in.Type == Access || in.Type == Portability) {
		if rcpt, err = parseRecipient(in.RecipientKey, s.now()); err != nil {
			errs.Add("recipientKey", err.Error())
		}
	}
	if err := errs.Err(); err != nil {
		return Request{}, err
	}
	matches, err := s.match(ctx, ref)
	if err != nil {
		return Request{}, err
	}
	if in.Type == Rectification {
		for _, c := range matches {
			if errs := contact.CheckChanges(c, in.Changes); len(errs) > 0 {
				return Request{}, errs
			}
		}
	}
	now := s.now()
	r := record{Request: Request{
		ID: newID("dsr", now), Type: in.Type, Status: Received, CreatedAt: now, CreatedBy: audit.Actor(actor),
		DueAt: now.Add(s.dueIn()), SubjectKind: kind, Encryption: rcpt.kind(),
		History: []Event{{Status: Received, At: now}}, ContactIDs: []string{},
	}}
	for _, c := range matches {
		r.ContactIDs = append(r.ContactIDs, c.ID)
	}
	if kind != "contactId" {
		value := ref.Email + ref.Phone
		mac, err := s.Keys.BlindIndex(ctx, kind, value)
		if err != nil {
			return Request{}, fmt.Errorf("subject: index: %w", err)
		}
		r.Index = kind + ":" + mac
	}
	if r.SealedSubject, err = s.seal(ctx, r.ID, "subject", ref); err != nil {
		return Request{}, err
	}
	if rcpt.kind() != "none" {
		if r.SealedRecipient, err = s.seal(ctx, r.ID, "recipient", in.RecipientKey); err != nil {
			return Request{}, err
		}
	}
	// The due index first: one without its request is dropped by the
	// sweep, a request without its index would never raise an alarm.
	if err := s.putDue(ctx, org, r.Request, false); err != nil {
		return Request{}, err
	}
	if err := s.put(ctx, requestsPK, r, 0, store.IfAbsent); err != nil {
		return Request{}, err
	}
	if err := s.audit(ctx, "subject_request.created", actor, r.ID, map[string]string{
		"type": r.Type, "contacts": strconv.Itoa(len(matches)), "encryption": r.Encryption}); err != nil {
		return Request{}, err
	}
	switch in.Type {
	case Access, Portability:
		if err := s.Jobs.Send(ctx, JobSubjectExport, r.ID); err != nil {
			_, _ = s.Advance(ctx, r.ID, Failed, nil, "the export could not be queued")
			return Request{}, err
		}
		return r.Request, nil
	case Erasure:
		return r.Request, nil
	}
	return s.applyNow(ctx, r, in, matches, actor)
}

// applyNow carries out a rectification, restriction or objection on every
// matching contact and finishes the request.
func (s *Service) applyNow(ctx context.Context, r record, in Input, matches []contact.Contact, actor string) (Request, error) {
	res := &Result{Contacts: len(matches)}
	for _, c := range matches {
		switch in.Type {
		case Rectification:
			if _, err := s.Contacts.Rectify(ctx, auth.Scope{All: true}, c.ID, in.Changes, actor); err != nil {
				return s.fail(ctx, r.ID, res, "a contact could not be rectified", err)
			}
			res.Changed++
		case Restriction, Objection:
			flag, typ := contact.RestrictedFlag, "contact.restricted"
			if in.Type == Objection {
				flag, typ = contact.ObjectedFlag, "contact.objected"
			}
			changed, err := s.Contacts.SetFlag(ctx, c.ID, flag)
			if err != nil {
				return s.fail(ctx, r.ID, res, "a contact could not be flagged", err)
			}
			if changed {
				res.Changed++
				if err := s.audit(ctx, typ, actor, c.ID, map[string]string{"request": r.ID}); err != nil {
					return Request{}, err
				}
			}
		}
	}
	return s.Advance(ctx, r.ID, Done, res, "")
}

// fail marks request id failed with reason and returns cause.
func (s *Service) fail(ctx context.Context, id string, res *Result, reason string, cause error) (Request, error) {
	if _, err := s.Advance(ctx, id, Failed, res, reason); err != nil {
		return Request{}, errors.Join(cause, err)
	}
	return Request{}, cause
}

// checkInput validates in and returns its normalized subject and how it
// was named.
func checkInput(in Input) (Ref, string, valid.Errors) {
	var errs valid.Errors
	if !slices.Contains(Kinds, in.Type) {
		errs.Add("type", "must be one of access, portability, rectification, erasure, restriction, objection")
	}
	ref, kind := in.Subject, ""
	n := 0
	for _, f := range []string{ref.Email, ref.Phone, ref.ContactID} {
		if f != "" {
			n++
		}
	}
	switch {
	case n != 1:
		errs.Add("subject", "give exactly one of email, phone or contactId")
	case ref.ContactID != "":
		kind = "contactId"
		if len(ref.ContactID) > 128 {
			errs.Add("subject.contactId", "is not a contact ID")
		}
	default:
		c, cerrs := contact.Normalize(contact.Contact{Email: ref.Email, Phone: ref.Phone}, "subject.")
		for _, e := range cerrs {
			if e.Field == "subject.email" || e.Field == "subject.phone" {
				errs = append(errs, e)
			}
		}
		ref = Ref{Email: c.Email, Phone: c.Phone}
		kind = contact.KindEmail
		if ref.Phone != "" {
			kind = contact.KindPhone
		}
	}
	switch {
	case in.RecipientKey != "" && in.Type != Access && in.Type != Portability:
		errs.Add("recipientKey", "is only for access and portability requests")
	case len(in.RecipientKey) > MaxRecipientKey:
		errs.Add("recipientKey", "is larger than 64 KiB")
	}
	switch {
	case in.Type == Rectification && len(in.Changes) == 0:
		errs.Add("changes", "a rectification names at least one field to change")
	case in.Type != Rectification && in.Changes != nil:
		errs.Add("changes", "is only for rectification requests")
	}
	return ref, kind, errs
}

// match returns the contacts the subject names. A contact ID of another
// tenant is contact.ErrForeign; one that does not exist matches nothing.
func (s *Service) match(ctx context.Context, ref Ref) ([]contact.Contact, error) {
	all := auth.Scope{All: true}
	switch {
	case ref.ContactID != "":
		c, err := s.Contacts.Get(ctx, all, ref.ContactID)
		if errors.Is(err, contact.ErrForeign) {
			return nil, err
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []contact.Contact{c}, nil
	case ref.Email != "":
		return s.Contacts.Find(ctx, all, contact.KindEmail, ref.Email)
	default:
		return s.Contacts.Find(ctx, all, contact.KindPhone, ref.Phone)
	}
}

// Get returns request id (a subject request); a finished export carries a
// fresh download link. Returns ErrNotFound if there is none in the tenant.
func (s *Service) Get(ctx context.Context, id string) (Request, error) {
	return s.get(ctx, requestsPK, id)
}

// GetExport returns workspace export id, like Get.
func (s *Service) GetExport(ctx context.Context, id string) (Request, error) {
	return s.get(ctx, exportsPK, id)
}

func (s *Service) get(ctx context.Context, pk, id string) (Request, error) {
	if p, ok := partitionOf(id); !ok || p != pk {
		return Request{}, ErrNotFound
	}
	r, _, err := s.load(ctx, pk, id)
	if err != nil {
		return Request{}, err
	}
	out := r.Request
	out.Download = s.link(ctx, r)
	return out, nil
}

// Filter selects requests for List. Zero fields select everything.
type Filter struct {
	Type, Status string
	Cursor       string
	Limit        int
}

// List returns one page of the tenant's subject requests, newest first
// (without download links: Get mints those), and the cursor of the next
// page. A page may hold fewer than Limit
// requests while the cursor is set. Returns an error wrapping
// store.ErrInvalid for a cursor that is not one of this listing.
func (s *Service) List(ctx context.Context, f Filter) ([]Request, string, error) {
	page, err := s.Store.Query(ctx, store.Query{PK: requestsPK, Cursor: f.Cursor, Limit: f.Limit, Reverse: true})
	if err != nil {
		return nil, "", fmt.Errorf("subject: list: %w", err)
	}
	out := []Request{}
	for _, it := range page.Items {
		var r record
		if err := json.Unmarshal(it.Data, &r); err != nil {
			return nil, "", fmt.Errorf("subject: decode %s: %w", it.SK, err)
		}
		if (f.Type == "" || r.Type == f.Type) && (f.Status == "" || r.Status == f.Status) {
			out = append(out, r.Request)
		}
	}
	return out, page.Next, nil
}

// Advance moves subject request id to status (running, done or failed),
// adds it to the history with reason (for failed), sets res when given,
// audits the change and, once done, stops the due-date alarms. It is how
// the purge capability reports an erasure: running when it starts, done
// with the counts when the subject is gone. Moving a request to the status
// it has changes nothing. Returns ErrNotFound, and ErrTransition from a
// finished request or backwards.
func (s *Service) Advance(ctx context.Context, id, status string, res *Result, reason string) (Request, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return Request{}, err
	}
	pk, ok := partitionOf(id)
	if !ok {
		return Request{}, ErrNotFound
	}
	changed := false
	r, err := s.update(ctx, pk, id, func(r *record) error {
		changed = false
		if r.Status == status {
			return nil
		}
		if !allowed(r.Status, status) {
			return ErrTransition
		}
		s.transition(r, status, reason)
		if res != nil {
			r.Result = res
		}
		changed = true
		return nil
	})
	if err != nil || !changed {
		return r.Request, err
	}
	if status == Done && pk == requestsPK {
		if err := s.deleteDue(ctx, org, r.Request); err != nil {
			return r.Request, err
		}
	}
	detail := map[string]string{"type": r.Type}
	if reason != "" {
		detail["reason"] = reason
	}
	if r.Result != nil {
		detail["contacts"] = strconv.Itoa(r.Result.Contacts)
	}
	return r.Request, s.audit(ctx, auditPrefix(pk)+status, "system", id, detail)
}

// allowed reports whether a request may move from one status to another.
func allowed(from, to string) bool {
	switch from {
	case Received:
		return to == Running || to == Done || to == Failed
	case Running:
		return to == Done || to == Failed
	}
	return false
}

// transition sets r's status and records it in the history.
func (s *Service) transition(r *record, status, reason string) {
	r.Status = status
	r.History = append(r.History, Event{Status: status, At: s.now(), Reason: reason})
}

func auditPrefix(pk string) string {
	if pk == exportsPK {
		return "export."
	}
	return "subject_request."
}

// OpenSubject returns the subject of request id as it was given
// (normalized), for the work that needs the identifier itself, such as an
// erasure adding it to the suppression list. Returns ErrNotFound, and an
// error if the tenant's keys can no longer open it (crypto-shredded).
func (s *Service) OpenSubject(ctx context.Context, id string) (Ref, error) {
	pk, ok := partitionOf(id)
	if !ok || pk != requestsPK {
		return Ref{}, ErrNotFound
	}
	r, _, err := s.load(ctx, pk, id)
	if err != nil {
		return Ref{}, err
	}
	return s.openRef(ctx, r)
}

func (s *Service) openRef(ctx context.Context, r record) (Ref, error) {
	var ref Ref
	if err := s.open(ctx, r.ID, "subject", r.SealedSubject, &ref); err != nil {
		return Ref{}, err
	}
	return ref, nil
}

// seal seals v as JSON for field of request id.
func (s *Service) seal(ctx context.Context, id, field string, v any) ([]byte, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("subject: encode %s: %w", field, err)
	}
	sealed, err := s.Keys.Seal(ctx, requestsPK+"#"+id, field, pt)
	clear(pt)
	if err != nil {
		return nil, fmt.Errorf("subject: seal %s of %s: %w", field, id, err)
	}
	return sealed, nil
}

// open opens field of request id into v.
func (s *Service) open(ctx context.Context, id, field string, sealed []byte, v any) error {
	pt, err := s.Keys.Open(ctx, requestsPK+"#"+id, field, sealed)
	if err != nil {
		return fmt.Errorf("subject: open %s of %s: %w", field, id, err)
	}
	err = json.Unmarshal(pt, v)
	clear(pt)
	if err != nil {
		return fmt.Errorf("subject: decode %s of %s: %w", field, id, err)
	}
	return nil
}

// load reads request id of partition pk. Returns ErrNotFound if there is
// none.
func (s *Service) load(ctx context.Context, pk, id string) (record, int64, error) {
	it, err := s.Store.Get(ctx, store.Key{PK: pk, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return record{}, 0, ErrNotFound
	}
	if err != nil {
		return record{}, 0, fmt.Errorf("subject: get %s: %w", id, err)
	}
	var r record
	if err := json.Unmarshal(it.Data, &r); err != nil {
		return record{}, 0, fmt.Errorf("subject: decode %s: %w", id, err)
	}
	return r, it.Version, nil
}

// put writes r under cond (version for store.IfVersion).
func (s *Service) put(ctx context.Context, pk string, r record, version int64, cond store.Cond) error {
	r.Download = nil // minted per read, never kept
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("subject: encode %s: %w", r.ID, err)
	}
	if _, err := s.Store.Put(ctx, store.Item{PK: pk, SK: r.ID, Data: data, Version: version}, cond); err != nil {
		return fmt.Errorf("subject: save %s: %w", r.ID, err)
	}
	return nil
}

// update applies change to request id and saves it, retrying when another
// writer got there first. A change that returns an error aborts it; the
// error is returned with the request as loaded.
func (s *Service) update(ctx context.Context, pk, id string, change func(*record) error) (record, error) {
	for range 10 {
		r, version, err := s.load(ctx, pk, id)
		if err != nil {
			return record{}, err
		}
		if err := change(&r); err != nil {
			return r, err
		}
		err = s.put(ctx, pk, r, version, store.IfVersion)
		if errors.Is(err, store.ErrConditionFailed) {
			continue
		}
		return r, err
	}
	return record{}, fmt.Errorf("subject: update %s: %w", id, store.ErrConditionFailed)
}

func (s *Service) audit(ctx context.Context, typ, actor, target string, detail map[string]string) error {
	_, err := s.Audit.Append(ctx, audit.Entry{Type: typ, Actor: actor, Target: target, Detail: detail})
	return err
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// dueIn is the time a request may take: the configured one, capped at
// LegalCap.
func (s *Service) dueIn() time.Duration {
	d := s.DueIn
	if d <= 0 {
		d = DefaultDue
	}
	return min(d, LegalCap)
}

func (s *Service) linkTTL() time.Duration {
	if s.LinkTTL <= 0 {
		return DefaultLinkTTL
	}
	return s.LinkTTL
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// newID returns a new request ID: the prefix, the creation time in
// milliseconds (so IDs sort by creation) and 80 random bits.
func newID(prefix string, now time.Time) string {
	b := make([]byte, 10)
	rand.Read(b)
	return fmt.Sprintf("%s_%011x%s", prefix, now.UnixMilli(),
		strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)))
}
