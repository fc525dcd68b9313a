package contact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Keys is the part of the tenant key ring the contact service needs.
type Keys interface {
	Seal(ctx context.Context, record, field string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, record, field string, ciphertext []byte) ([]byte, error)
	BlindIndex(ctx context.Context, kind, normalized string) (string, error)
}

// Store is the part of the storage port the contact service needs.
type Store interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Query(ctx context.Context, q store.Query) (store.Page, error)
	BatchDelete(ctx context.Context, keys []store.Key) error
}

// Auditor appends audit entries.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// Errors of the service.
var (
	// ErrNotFound is returned for a contact that does not exist, belongs
	// to another tenant or is outside the caller's scope.
	ErrNotFound = fmt.Errorf("contact: %w", store.ErrNotFound)
	// ErrForeign wraps ErrNotFound for an ID minted by another tenant: the
	// caller sees 404, the audit log sees a cross-tenant attempt.
	ErrForeign = fmt.Errorf("contact: foreign id: %w", store.ErrNotFound)
)

// Outcome says what Upsert did.
type Outcome string

// Outcomes of Upsert.
const (
	Created    Outcome = "created"
	Updated    Outcome = "updated"
	Duplicate  Outcome = "duplicate"  // the same content was already stored (RET-09)
	Suppressed Outcome = "suppressed" // an erased subject: dropped (ING-04)
)

// Storage layout, relative to the tenant.
const (
	contactsPK = "CONTACT"  // SK: contact ID → the record
	handlesPK  = "HANDLE"   // SK: contact ID + "#email" / "#phone", Index: blind index
	suppressPK = "SUPPRESS" // SK: blind index of an erased subject's e-mail or phone
)

// Partitions calls fn with the store partitions that hold the tenant's
// contacts and their indexes (not the suppression list, which keeps erased
// subjects out), for the retention sweep (RET-03).
func (s *Service) Partitions(_ context.Context, fn func(pk string) error) error {
	for _, pk := range []string{handlesPK, contactsPK} {
		if err := fn(pk); err != nil {
			return err
		}
	}
	return nil
}

// Blind-index kinds.
const (
	KindEmail   = "email"
	KindPhone   = "phone"
	kindID      = "contact-id"
	kindContent = "content"
)

// Service keeps contacts. It may be used concurrently; the tenant comes from
// the context.
type Service struct {
	Store Store
	Keys  Keys
	Audit Auditor
	Now   func() time.Time
}

// record is a contact as stored: what must stay searchable or is needed for
// eligibility in the clear, every personal field sealed.
type record struct {
	ID         string    `json:"id"`
	Country    string    `json:"country,omitempty"`
	TimeZone   string    `json:"timeZone,omitempty"`
	Source     string    `json:"source,omitempty"`
	OwnerID    string    `json:"ownerId,omitempty"`
	Branch     string    `json:"branch,omitempty"`
	Dept       string    `json:"dept,omitempty"`
	Consent    Consent   `json:"consent"`
	OptedOut   bool      `json:"optedOut,omitempty"`
	Restricted bool      `json:"restricted,omitempty"`
	Objected   bool      `json:"objected,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	// SourceHash is the keyed digest of the content last received from the
	// source: a re-sync with the same content changes nothing.
	SourceHash string `json:"sourceHash"`
	Sealed     []byte `json:"sealed"`
}

// personal holds the sealed fields.
type personal struct {
	Email      string            `json:"email,omitempty"`
	Phone      string            `json:"phone,omitempty"`
	FirstName  string            `json:"firstName,omitempty"`
	LastName   string            `json:"lastName,omitempty"`
	Company    string            `json:"company,omitempty"`
	Title      string            `json:"title,omitempty"`
	SourceID   string            `json:"sourceId,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

var idPattern = regexp.MustCompile(`^c_([0-9a-f]{6})_[A-Za-z0-9_-]{22}$`)

// tag is a short, non-reversible mark of the tenant that minted an ID.
func tag(org tenant.ID) string {
	sum := sha256.Sum256([]byte("alto/contact-tag/" + org))
	return hex.EncodeToString(sum[:3])
}

// identity is what makes two submissions the same contact: the source's own
// ID when there is one, else the e-mail address, else the phone number.
func identity(c Contact) string {
	switch {
	case c.Source != "":
		return "source\x00" + c.Source + "\x00" + c.SourceID
	case c.Email != "":
		return "email\x00" + c.Email
	default:
		return "phone\x00" + c.Phone
	}
}

// ID returns the ID of the normalized contact c in the tenant of ctx. The
// same identity always gives the same ID, so a redelivered message can only
// land on the contact it created.
func (s *Service) ID(ctx context.Context, c Contact) (string, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return "", err
	}
	mac, err := s.Keys.BlindIndex(ctx, kindID, identity(c))
	if err != nil {
		return "", fmt.Errorf("contact: id: %w", err)
	}
	return "c_" + tag(org) + "_" + mac[:22], nil
}

// checkID returns ErrForeign for an ID minted by another tenant and
// ErrNotFound for anything that is not a contact ID.
func checkID(ctx context.Context, id string) error {
	m := idPattern.FindStringSubmatch(id)
	if m == nil {
		return ErrNotFound
	}
	org, err := tenant.From(ctx)
	if err != nil {
		return err
	}
	if m[1] != tag(org) {
		return ErrForeign
	}
	return nil
}

// Suppressed reports whether c's e-mail or phone is on the tenant's
// suppression list (an erased subject, ING-04).
func (s *Service) Suppressed(ctx context.Context, c Contact) (bool, error) {
	for _, h := range []struct{ kind, value string }{{KindEmail, c.Email}, {KindPhone, c.Phone}} {
		if h.value == "" {
			continue
		}
		ix, err := s.Keys.BlindIndex(ctx, h.kind, h.value)
		if err != nil {
			return false, fmt.Errorf("contact: suppression check: %w", err)
		}
		_, err = s.Store.Get(ctx, store.Key{PK: suppressPK, SK: ix})
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return false, fmt.Errorf("contact: suppression check: %w", err)
		}
	}
	return false, nil
}

// Suppress puts the e-mail and phone of c on the tenant's suppression list,
// so no later ingest brings the subject back.
func (s *Service) Suppress(ctx context.Context, c Contact) error {
	for _, h := range []struct{ kind, value string }{{KindEmail, c.Email}, {KindPhone, c.Phone}} {
		if h.value == "" {
			continue
		}
		ix, err := s.Keys.BlindIndex(ctx, h.kind, h.value)
		if err != nil {
			return fmt.Errorf("contact: suppress: %w", err)
		}
		if _, err := s.Store.Put(ctx, store.Item{PK: suppressPK, SK: ix}, store.Always); err != nil {
			return fmt.Errorf("contact: suppress: %w", err)
		}
	}
	return nil
}

// Upsert stores the normalized contact c received from a source: it drops a
// suppressed subject, skips content it already has, creates a new contact
// or updates the existing one (keeping its opt-out, restriction and
// objection). Safe to repeat: the same c gives Duplicate the second time.
// actor is recorded in the audit log.
func (s *Service) Upsert(ctx context.Context, c Contact, actor string, detail map[string]string) (string, Outcome, error) {
	if sup, err := s.Suppressed(ctx, c); err != nil || sup {
		return "", Suppressed, err
	}
	id, err := s.ID(ctx, c)
	if err != nil {
		return "", "", err
	}
	hash, err := s.contentHash(ctx, c)
	if err != nil {
		return "", "", err
	}
	for attempt := 0; attempt < 5; attempt++ {
		cur, it, err := s.load(ctx, id)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return "", "", err
		}
		if exists && cur.SourceHash == hash {
			return id, Duplicate, nil
		}
		next := c
		now := s.now()
		next.CreatedAt, next.UpdatedAt = now, now
		if exists {
			next = merge(cur, c)
			next.UpdatedAt = now
		}
		next.ID = id
		cond := store.IfAbsent
		if exists {
			cond = store.IfVersion
		}
		err = s.save(ctx, next, hash, it.Version, cond)
		if errors.Is(err, store.ErrConditionFailed) {
			continue // someone else wrote it meanwhile: look again
		}
		if err != nil {
			return "", "", err
		}
		outcome := Created
		if exists {
			outcome = Updated
		}
		_, err = s.Audit.Append(ctx, audit.Entry{Type: "contact." + string(outcome), Actor: actor, Target: id, Detail: detail})
		return id, outcome, err
	}
	return "", "", fmt.Errorf("contact: upsert %s: %w", id, store.ErrConditionFailed)
}

// merge applies what a source sent over the stored contact: sent fields
// win, and the subject's own choices (opt-out, restriction, objection, a
// consent the source does not state) are kept.
func merge(cur stored, in Contact) Contact {
	out := in
	out.CreatedAt = cur.CreatedAt
	out.OptedOut, out.Restricted, out.Objected = cur.OptedOut, cur.Restricted, cur.Objected
	if in.Consent.Email == Unknown && in.Consent.Call == Unknown {
		out.Consent = cur.Consent
	}
	if out.OwnerID == "" {
		out.OwnerID = cur.OwnerID
	}
	return out
}

func (s *Service) contentHash(ctx context.Context, c Contact) (string, error) {
	canon, err := json.Marshal(c) // field order is fixed; map keys are sorted
	if err != nil {
		return "", fmt.Errorf("contact: hash: %w", err)
	}
	h, err := s.Keys.BlindIndex(ctx, kindContent, string(canon))
	if err != nil {
		return "", fmt.Errorf("contact: hash: %w", err)
	}
	return h, nil
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// stored is a contact read back, with what only the store knows.
type stored struct {
	Contact
	SourceHash string
}

// load reads and opens contact id. Returns ErrNotFound if there is none.
func (s *Service) load(ctx context.Context, id string) (stored, store.Item, error) {
	it, err := s.Store.Get(ctx, store.Key{PK: contactsPK, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return stored{}, it, ErrNotFound
	}
	if err != nil {
		return stored{}, it, fmt.Errorf("contact: get %s: %w", id, err)
	}
	c, err := s.open(ctx, it)
	return c, it, err
}

func (s *Service) open(ctx context.Context, it store.Item) (stored, error) {
	var r record
	if err := json.Unmarshal(it.Data, &r); err != nil {
		return stored{}, fmt.Errorf("contact: decode %s: %w", it.SK, err)
	}
	pt, err := s.Keys.Open(ctx, contactsPK+"#"+r.ID, "personal", r.Sealed)
	if err != nil {
		return stored{}, fmt.Errorf("contact: open %s: %w", r.ID, err)
	}
	var p personal
	if err := json.Unmarshal(pt, &p); err != nil {
		return stored{}, fmt.Errorf("contact: decode %s: %w", r.ID, err)
	}
	clear(pt)
	return stored{SourceHash: r.SourceHash, Contact: Contact{
		ID: r.ID, Email: p.Email, Phone: p.Phone, FirstName: p.FirstName, LastName: p.LastName,
		Company: p.Company, Title: p.Title, Country: r.Country, TimeZone: r.TimeZone,
		Source: r.Source, SourceID: p.SourceID, OwnerID: r.OwnerID, Branch: r.Branch, Dept: r.Dept,
		Attributes: p.Attributes, Consent: r.Consent, OptedOut: r.OptedOut, Restricted: r.Restricted,
		Objected: r.Objected, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}}, nil
}

// save seals and writes c with its handles (the blind indexes that find it
// by e-mail or phone).
func (s *Service) save(ctx context.Context, c Contact, hash string, version int64, cond store.Cond) error {
	pt, err := json.Marshal(personal{Email: c.Email, Phone: c.Phone, FirstName: c.FirstName, LastName: c.LastName,
		Company: c.Company, Title: c.Title, SourceID: c.SourceID, Attributes: c.Attributes})
	if err != nil {
		return fmt.Errorf("contact: encode: %w", err)
	}
	sealed, err := s.Keys.Seal(ctx, contactsPK+"#"+c.ID, "personal", pt)
	clear(pt)
	if err != nil {
		return fmt.Errorf("contact: seal %s: %w", c.ID, err)
	}
	data, err := json.Marshal(record{ID: c.ID, Country: c.Country, TimeZone: c.TimeZone, Source: c.Source,
		OwnerID: c.OwnerID, Branch: c.Branch, Dept: c.Dept, Consent: c.Consent, OptedOut: c.OptedOut,
		Restricted: c.Restricted, Objected: c.Objected, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		SourceHash: hash, Sealed: sealed})
	if err != nil {
		return fmt.Errorf("contact: encode: %w", err)
	}
	// Handles first: a handle without its contact is harmless (look-ups
	// skip it); a contact without its handle would be unfindable.
	for _, h := range []struct{ kind, value string }{{KindEmail, c.Email}, {KindPhone, c.Phone}} {
		k := store.Key{PK: handlesPK, SK: c.ID + "#" + h.kind}
		if h.value == "" {
			if err := s.Store.BatchDelete(ctx, []store.Key{k}); err != nil {
				return fmt.Errorf("contact: save %s: %w", c.ID, err)
			}
			continue
		}
		ix, err := s.Keys.BlindIndex(ctx, h.kind, h.value)
		if err != nil {
			return fmt.Errorf("contact: index %s: %w", c.ID, err)
		}
		if _, err := s.Store.Put(ctx, store.Item{PK: k.PK, SK: k.SK, Index: h.kind + ":" + ix}, store.Always); err != nil {
			return fmt.Errorf("contact: save %s: %w", c.ID, err)
		}
	}
	it := store.Item{PK: contactsPK, SK: c.ID, Data: data, Version: version}
	if _, err := s.Store.Put(ctx, it, cond); err != nil {
		return fmt.Errorf("contact: save %s: %w", c.ID, err)
	}
	return nil
}

// Get returns contact id if it is inside scope. Returns ErrNotFound if it
// does not exist or is outside scope, ErrForeign (which wraps ErrNotFound)
// if the ID was minted by another tenant.
func (s *Service) Get(ctx context.Context, scope auth.Scope, id string) (Contact, error) {
	if err := checkID(ctx, id); err != nil {
		return Contact{}, err
	}
	c, _, err := s.load(ctx, id)
	if err != nil {
		return Contact{}, err
	}
	if !scope.Includes(c.OwnerID, c.Branch, c.Dept) {
		return Contact{}, ErrNotFound
	}
	return c.Contact, nil
}

// List returns one page of the contacts inside scope, in ID order, and the
// cursor of the next page. A page may hold fewer than limit contacts.
func (s *Service) List(ctx context.Context, scope auth.Scope, cursor string, limit int) ([]Contact, string, error) {
	page, err := s.Store.Query(ctx, store.Query{PK: contactsPK, Cursor: cursor, Limit: limit})
	if err != nil {
		return nil, "", fmt.Errorf("contact: list: %w", err)
	}
	out := []Contact{}
	for _, it := range page.Items {
		c, err := s.open(ctx, it)
		if err != nil {
			return nil, "", err
		}
		if scope.Includes(c.OwnerID, c.Branch, c.Dept) {
			out = append(out, c.Contact)
		}
	}
	return out, page.Next, nil
}

// Find returns the contacts inside scope whose e-mail (kind KindEmail) or
// phone (KindPhone) is the normalized value, through the blind index.
func (s *Service) Find(ctx context.Context, scope auth.Scope, kind, value string) ([]Contact, error) {
	ix, err := s.Keys.BlindIndex(ctx, kind, value)
	if err != nil {
		return nil, fmt.Errorf("contact: find: %w", err)
	}
	out := []Contact{}
	cursor := ""
	for {
		page, err := s.Store.Query(ctx, store.Query{Index: kind + ":" + ix, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("contact: find: %w", err)
		}
		for _, h := range page.Items {
			id := h.SK[:len(h.SK)-len(kind)-1]
			c, _, err := s.load(ctx, id)
			if errors.Is(err, ErrNotFound) {
				continue // a handle left by an interrupted write
			}
			if err != nil {
				return nil, err
			}
			if scope.Includes(c.OwnerID, c.Branch, c.Dept) {
				out = append(out, c.Contact)
			}
		}
		if cursor = page.Next; cursor == "" {
			return out, nil
		}
	}
}

// Rectify applies changes (a partial contact: only the fields set in
// fields) to contact id within scope, validated like ingest, and records
// digests of the content before and after, never the content (DSR
// rectification, AUD-03).
func (s *Service) Rectify(ctx context.Context, scope auth.Scope, id string, changes map[string]json.RawMessage, actor string) (Contact, error) {
	if err := checkID(ctx, id); err != nil {
		return Contact{}, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		cur, it, err := s.load(ctx, id)
		if err != nil {
			return Contact{}, err
		}
		if !scope.Includes(cur.OwnerID, cur.Branch, cur.Dept) {
			return Contact{}, ErrNotFound
		}
		next, errs := applyChanges(cur.Contact, changes)
		if err := errs.Err(); err != nil {
			return Contact{}, err
		}
		next.ID, next.CreatedAt, next.UpdatedAt = id, cur.CreatedAt, s.now()
		next.OptedOut, next.Restricted, next.Objected = cur.OptedOut, cur.Restricted, cur.Objected
		before, err := s.contentHash(ctx, cur.Contact)
		if err != nil {
			return Contact{}, err
		}
		after, err := s.contentHash(ctx, next)
		if err != nil {
			return Contact{}, err
		}
		err = s.save(ctx, next, cur.SourceHash, it.Version, store.IfVersion)
		if errors.Is(err, store.ErrConditionFailed) {
			continue
		}
		if err != nil {
			return Contact{}, err
		}
		_, err = s.Audit.Append(ctx, audit.Entry{Type: "contact.rectified", Actor: actor, Target: id,
			Detail: map[string]string{"before": before[:16], "after": after[:16]}})
		return next, err
	}
	return Contact{}, fmt.Errorf("contact: rectify %s: %w", id, store.ErrConditionFailed)
}

// Delete removes contact id within scope and its handles.
func (s *Service) Delete(ctx context.Context, scope auth.Scope, id, actor string) error {
	if _, err := s.Get(ctx, scope, id); err != nil {
		return err
	}
	keys := []store.Key{{PK: handlesPK, SK: id + "#" + KindEmail}, {PK: handlesPK, SK: id + "#" + KindPhone}, {PK: contactsPK, SK: id}}
	if err := s.Store.BatchDelete(ctx, keys); err != nil {
		return fmt.Errorf("contact: delete %s: %w", id, err)
	}
	_, err := s.Audit.Append(ctx, audit.Entry{Type: "contact.deleted", Actor: actor, Target: id})
	return err
}

// Flag is one of the subject's own choices on a contact.
type Flag string

// Flags.
const (
	OptedOutFlag   Flag = "optedOut"   // PER-03: no more messages
	RestrictedFlag Flag = "restricted" // DSR restriction of processing
	ObjectedFlag   Flag = "objected"   // DSR objection to processing
)

// SetFlag sets flag on contact id (regardless of scope: the subject's
// choice is theirs) and reports whether it changed. Setting a flag that is
// already set changes nothing. Returns ErrNotFound if there is no such
// contact.
func (s *Service) SetFlag(ctx context.Context, id string, flag Flag) (bool, error) {
	if err := checkID(ctx, id); err != nil {
		return false, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		cur, it, err := s.load(ctx, id)
		if err != nil {
			return false, err
		}
		next := cur.Contact
		var target *bool
		switch flag {
		case OptedOutFlag:
			target = &next.OptedOut
		case RestrictedFlag:
			target = &next.Restricted
		case ObjectedFlag:
			target = &next.Objected
		default:
			return false, fmt.Errorf("contact: unknown flag %q", flag)
		}
		if *target {
			return false, nil
		}
		*target = true
		next.UpdatedAt = s.now()
		err = s.save(ctx, next, cur.SourceHash, it.Version, store.IfVersion)
		if errors.Is(err, store.ErrConditionFailed) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("contact: set %s on %s: %w", flag, id, store.ErrConditionFailed)
}

// OptOut opts contact id out of all messages; see SetFlag.
func (s *Service) OptOut(ctx context.Context, id string) (bool, error) {
	return s.SetFlag(ctx, id, OptedOutFlag)
}
