// Package directory keeps each tenant's user directory: the users an
// identity provider provisions through SCIM (ACC-07), with their role,
// branch and department.
//
// The directory is authoritative where it exists. A tenant has a directory
// from the first user provisioned into it; from then on Resolve refuses a
// token whose subject is deactivated or absent, and gives the caller the
// role, branch and department the directory holds. A tenant without a
// directory keeps trusting its tokens' claims.
//
// Personal fields (userName, externalId, names, e-mail addresses) are
// sealed with the tenant's keys before they are stored (ENC-02); users are
// found by userName and externalId through keyed blind indexes, so no
// plaintext identifier appears in any key (ENC-03). Everything is scoped by
// the tenant in the context (ACC-03), and every change is audited (AUD-01).
package directory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/valid"
)

// Keys is the part of the tenant key ring the directory needs.
type Keys interface {
	Seal(ctx context.Context, record, field string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, record, field string, ciphertext []byte) ([]byte, error)
	BlindIndex(ctx context.Context, kind, normalized string) (string, error)
}

// Store is the part of the storage port the directory needs.
type Store interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Delete(ctx context.Context, k store.Key) error
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

// Auditor appends audit entries.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// Errors of the directory.
var (
	// ErrNotFound is returned for a user that does not exist in the
	// tenant of the context (or exists in another tenant).
	ErrNotFound = fmt.Errorf("directory: user not found: %w", store.ErrNotFound)
	// ErrConflict is returned when the userName or externalId of a user
	// being written belongs to another user of the tenant.
	ErrConflict = fmt.Errorf("directory: userName or externalId taken: %w", store.ErrConditionFailed)
	// ErrBusy is returned when concurrent writers kept changing a user
	// while Update tried to apply its change.
	ErrBusy = fmt.Errorf("directory: user changed concurrently: %w", store.ErrConditionFailed)
)

// Limits of a user.
const (
	MaxTextLen = 256 // userName, externalId, displayName, each name part
	MaxEmails  = 10
	maxRefLen  = 128 // branch, dept
	maxTypeLen = 32  // the type of an e-mail address
)

// Roles lists the roles a directory may give: the four tenant roles. The
// platform's security role is never granted by a tenant's directory.
var Roles = []auth.Role{auth.Owner, auth.Admin, auth.Manager, auth.Rep}

// User is one user of a tenant's directory.
type User struct {
	ID          string // assigned by Create
	UserName    string // required, unique in the tenant regardless of case
	ExternalID  string // the identity provider's ID; unique in the tenant when set
	DisplayName string
	Name        Name
	Emails      []Email
	Active      bool
	// Role, Branch and Dept ride in the Alto extension schema. While Role
	// is empty the directory leaves the token's role, branch and dept
	// claims as they are; once it is set, all three come from here.
	Role         auth.Role
	Branch, Dept string
	Created      time.Time // set by Create
	Modified     time.Time // set by every write
	Version      int64     // one more after every write
}

// Name is a user's name, in the parts SCIM names.
type Name struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	MiddleName string `json:"middleName,omitempty"`
}

// Email is one of a user's e-mail addresses.
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

var refPattern = regexp.MustCompile(`^[A-Za-z0-9._:@|/+-]+$`)

// Validate checks u field by field; reasons never repeat a value (it may
// be personal data). Field names are SCIM attribute paths.
func Validate(u User) valid.Errors {
	var errs valid.Errors
	text := func(field, s string, required bool) {
		switch {
		case s == "" && required:
			errs.Add(field, "is required")
		case !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxTextLen:
			errs.Add(field, "must be valid UTF-8 of at most 256 characters")
		case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			errs.Add(field, "must not contain control characters")
		}
	}
	text("userName", u.UserName, true)
	if strings.TrimSpace(u.UserName) != u.UserName {
		errs.Add("userName", "must not start or end with spaces")
	}
	text("externalId", u.ExternalID, false)
	text("displayName", u.DisplayName, false)
	text("name.formatted", u.Name.Formatted, false)
	text("name.givenName", u.Name.GivenName, false)
	text("name.familyName", u.Name.FamilyName, false)
	text("name.middleName", u.Name.MiddleName, false)
	if len(u.Emails) > MaxEmails {
		errs.Add("emails", "has more than 10 entries")
	}
	primaries := 0
	for i, e := range u.Emails {
		field := fmt.Sprintf("emails[%d]", i)
		if a, err := mail.ParseAddress(e.Value); err != nil || a.Address != e.Value || len(e.Value) > 254 {
			errs.Add(field+".value", "must be an e-mail address like name@example.com")
		}
		if len(e.Type) > maxTypeLen || !utf8.ValidString(e.Type) {
			errs.Add(field+".type", "must be at most 32 characters")
		}
		if e.Primary {
			primaries++
		}
	}
	if primaries > 1 {
		errs.Add("emails", "at most one address may be primary")
	}
	if u.Role != "" && !slices.Contains(Roles, u.Role) {
		errs.Add(extPath("role"), "must be one of owner, admin, manager, rep")
	}
	for field, s := range map[string]string{"branch": u.Branch, "dept": u.Dept} {
		if s != "" && (len(s) > maxRefLen || !refPattern.MatchString(s)) {
			errs.Add(extPath(field), "must be at most 128 letters, digits or ._:@|/+-")
		}
	}
	slices.SortStableFunc(errs, func(a, b valid.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return errs
}

// ExtensionSchema is the URN of the Alto extension of the SCIM User schema,
// which carries role, branch and dept.
const ExtensionSchema = "urn:ietf:params:scim:schemas:extension:alto:2.0:User"

func extPath(attr string) string { return ExtensionSchema + ":" + attr }

// Storage layout, relative to the tenant.
const (
	markerPK = "DIRECTORY" // SK "META": the tenant has a directory
	markerSK = "META"
	usersPK  = "USER"     // SK: user ID → the record
	namePK   = "USERNAME" // SK: blind index of the userName → user ID
	extPK    = "USEREXT"  // SK: blind index of the externalId → user ID
	kindName = "scim-username"
	kindExt  = "scim-external-id"
	sealedAs = "personal"
)

// record is a user as stored: what the request path needs in the clear,
// every personal field sealed.
type record struct {
	ID       string    `json:"id"`
	Active   bool      `json:"active"`
	Role     auth.Role `json:"role,omitempty"`
	Branch   string    `json:"branch,omitempty"`
	Dept     string    `json:"dept,omitempty"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
	// NameIx and ExtIx are the blind indexes of the handles this user
	// owns; a handle whose user no longer names it is stale.
	NameIx string `json:"nameIx"`
	ExtIx  string `json:"extIx,omitempty"`
	Sealed []byte `json:"sealed"`
}

// personal holds the sealed fields.
type personal struct {
	UserName    string  `json:"userName"`
	ExternalID  string  `json:"externalId,omitempty"`
	DisplayName string  `json:"displayName,omitempty"`
	Name        Name    `json:"name,omitzero"`
	Emails      []Email `json:"emails,omitempty"`
}

func userKey(id string) store.Key { return store.Key{PK: usersPK, SK: id} }

func sealRecord(id string) string { return usersPK + "#" + id }

// newID returns a random user ID: 32 hexadecimal digits.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// normalizeUserName is how userNames compare: without regard to case, as
// RFC 7643 makes userName case-insensitive.
func normalizeUserName(s string) string { return strings.ToLower(s) }

// encode seals u's personal fields and returns the stored form.
func (d *Directory) encode(ctx context.Context, u User, nameIx, extIx string) ([]byte, error) {
	plain, err := json.Marshal(personal{UserName: u.UserName, ExternalID: u.ExternalID,
		DisplayName: u.DisplayName, Name: u.Name, Emails: u.Emails})
	if err != nil {
		return nil, fmt.Errorf("directory: encode user: %w", err)
	}
	sealed, err := d.keys.Seal(ctx, sealRecord(u.ID), sealedAs, plain)
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("directory: seal user %s: %w", u.ID, err)
	}
	data, err := json.Marshal(record{ID: u.ID, Active: u.Active, Role: u.Role, Branch: u.Branch, Dept: u.Dept,
		Created: u.Created, Modified: u.Modified, NameIx: nameIx, ExtIx: extIx, Sealed: sealed})
	if err != nil {
		return nil, fmt.Errorf("directory: encode user: %w", err)
	}
	return data, nil
}

// decodeRecord reads the clear part of a stored user.
func decodeRecord(it store.Item) (record, error) {
	var r record
	if err := json.Unmarshal(it.Data, &r); err != nil {
		return record{}, fmt.Errorf("directory: user %s unreadable: %w", it.SK, err)
	}
	return r, nil
}

// open returns the whole user of a stored record.
func (d *Directory) open(ctx context.Context, it store.Item) (User, record, error) {
	r, err := decodeRecord(it)
	if err != nil {
		return User{}, record{}, err
	}
	plain, err := d.keys.Open(ctx, sealRecord(r.ID), sealedAs, r.Sealed)
	if err != nil {
		return User{}, record{}, fmt.Errorf("directory: open user %s: %w", r.ID, err)
	}
	var p personal
	err = json.Unmarshal(plain, &p)
	clear(plain)
	if err != nil {
		return User{}, record{}, fmt.Errorf("directory: user %s unreadable: %w", r.ID, err)
	}
	return User{ID: r.ID, UserName: p.UserName, ExternalID: p.ExternalID, DisplayName: p.DisplayName,
		Name: p.Name, Emails: p.Emails, Active: r.Active, Role: r.Role, Branch: r.Branch, Dept: r.Dept,
		Created: r.Created, Modified: r.Modified, Version: it.Version}, r, nil
}

// changed names the fields that differ between a and b, for the audit log
// (names only, never values).
func changed(a, b User) string {
	var out []string
	add := func(name string, differs bool) {
		if differs {
			out = append(out, name)
		}
	}
	add("userName", a.UserName != b.UserName)
	add("externalId", a.ExternalID != b.ExternalID)
	add("displayName", a.DisplayName != b.DisplayName)
	add("name", a.Name != b.Name)
	add("emails", !slices.Equal(a.Emails, b.Emails))
	add("active", a.Active != b.Active)
	add("role", a.Role != b.Role)
	add("branch", a.Branch != b.Branch)
	add("dept", a.Dept != b.Dept)
	return strings.Join(out, ",")
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// parseAddress returns s if it is a bare e-mail address.
func parseAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", errors.New("directory: not a bare e-mail address")
	}
	return s, nil
}
