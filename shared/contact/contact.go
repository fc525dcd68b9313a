// Package contact is the contact record: what clients send, how it is
// normalized and validated, and how it is kept: personal fields sealed with
// the tenant's keys, e-mail and phone searchable only through blind indexes,
// identity derived so that a redelivered or re-imported record lands on the
// same contact instead of a new one (ING-05, RET-09).
package contact

import (
	"net/mail"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/alto/alto/shared/valid"
)

// Consent states.
const (
	Granted = "granted"
	Denied  = "denied"
	Unknown = "unknown"
)

// Consent is what the contact agreed to. Missing consent is Unknown, which
// makes a contact ineligible for personalization.
type Consent struct {
	Email      string    `json:"email"`
	Call       string    `json:"call"`
	Basis      string    `json:"basis,omitempty"`
	CapturedAt time.Time `json:"capturedAt,omitzero"`
	// TextVersion is the version of the consent text shown (web forms).
	TextVersion string `json:"textVersion,omitempty"`
	// IPDigest is a keyed digest of the address consent came from, never
	// the address.
	IPDigest string `json:"ipDigest,omitempty"`
}

// Contact is a contact as clients send and read it.
type Contact struct {
	ID         string            `json:"id,omitempty"`
	Email      string            `json:"email,omitempty"`
	Phone      string            `json:"phone,omitempty"`
	FirstName  string            `json:"firstName,omitempty"`
	LastName   string            `json:"lastName,omitempty"`
	Company    string            `json:"company,omitempty"`
	Title      string            `json:"title,omitempty"`
	Country    string            `json:"country,omitempty"`
	TimeZone   string            `json:"timeZone,omitempty"`
	Source     string            `json:"source,omitempty"`
	SourceID   string            `json:"sourceId,omitempty"`
	OwnerID    string            `json:"ownerId,omitempty"`
	Branch     string            `json:"branch,omitempty"`
	Dept       string            `json:"dept,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Consent    Consent           `json:"consent"`
	OptedOut   bool              `json:"optedOut"`
	Restricted bool              `json:"restricted"`
	Objected   bool              `json:"objected"`
	CreatedAt  time.Time         `json:"createdAt,omitzero"`
	UpdatedAt  time.Time         `json:"updatedAt,omitzero"`
}

// Limits of a contact.
const (
	MaxAttributes   = 20
	MaxAttrKeyLen   = 64
	MaxAttrValueLen = 512
	maxNameLen      = 200
	maxEmailLen     = 254
	maxRefLen       = 128
)

var (
	countryCode = regexp.MustCompile(`^[A-Z]{2}$`)
	refPattern  = regexp.MustCompile(`^[A-Za-z0-9._:@|/+-]+$`)
	attrKey     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)
)

// Normalize trims and canonicalizes c (lower-case e-mail, E.164 phone,
// upper-case country) and validates every field. Field paths in the errors
// are prefixed with prefix ("" or "contacts[3]."); reasons never repeat the
// value. It returns the normalized contact and the field errors, if any.
// It may be called concurrently; time zones are looked up once per name
// (see zoneCache).
func Normalize(c Contact, prefix string) (Contact, valid.Errors) {
	return normalize(c, prefix, &zones)
}

// normalize is Normalize with the zone cache to use; nil looks every zone
// up afresh (the benchmarks' baseline).
func normalize(c Contact, prefix string, zones *zoneCache) (Contact, valid.Errors) {
	var errs valid.Errors
	add := func(field, reason string) { errs.Add(prefix+field, reason) }
	text := func(field string, s *string, max int) {
		*s = strings.Join(strings.Fields(*s), " ")
		switch {
		case !utf8.ValidString(*s):
			add(field, "must be valid UTF-8")
		case utf8.RuneCountInString(*s) > max:
			add(field, "is too long")
		case strings.ContainsAny(*s, "\x00<>"):
			add(field, "contains characters that are not allowed")
		}
	}
	c.ID = ""
	c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	text("firstName", &c.FirstName, maxNameLen)
	text("lastName", &c.LastName, maxNameLen)
	text("company", &c.Company, maxNameLen)
	text("title", &c.Title, maxNameLen)

	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	if c.Email != "" {
		a, err := mail.ParseAddress(c.Email)
		if err != nil || a.Address != c.Email || len(c.Email) > maxEmailLen || !strings.Contains(c.Email[strings.LastIndexByte(c.Email, '@')+1:], ".") {
			add("email", "must be an e-mail address like name@example.com")
		}
	}
	c.Country = strings.ToUpper(strings.TrimSpace(c.Country))
	if c.Country != "" && !countryCode.MatchString(c.Country) {
		add("country", "must be an ISO 3166-1 alpha-2 code like US")
	}
	c.Phone = strings.TrimSpace(c.Phone)
	if c.Phone != "" {
		region := c.Country
		if region == "" {
			region = "US"
		}
		n, err := phonenumbers.Parse(c.Phone, region)
		if err != nil || !phonenumbers.IsValidNumber(n) {
			add("phone", "must be a valid phone number, best in E.164 form like +14155552671")
		} else {
			c.Phone = phonenumbers.Format(n, phonenumbers.E164)
		}
	}
	if c.Email == "" && c.Phone == "" {
		add("email", "a contact needs an e-mail address or a phone number")
	}
	c.TimeZone = strings.TrimSpace(c.TimeZone)
	if c.TimeZone != "" {
		if !zones.isZone(c.TimeZone) {
			add("timeZone", "must be an IANA time zone like Europe/Berlin")
		}
	}
	ref := func(field string, s *string) {
		*s = strings.TrimSpace(*s)
		if *s != "" && (len(*s) > maxRefLen || !refPattern.MatchString(*s)) {
			add(field, "must be at most 128 letters, digits or ._:@|/+-")
		}
	}
	ref("source", &c.Source)
	ref("sourceId", &c.SourceID)
	ref("ownerId", &c.OwnerID)
	ref("branch", &c.Branch)
	ref("dept", &c.Dept)
	if (c.Source == "") != (c.SourceID == "") {
		add("sourceId", "source and sourceId go together")
	}
	if len(c.Attributes) > MaxAttributes {
		add("attributes", "has more than 20 entries")
	}
	for _, k := range sortedKeys(c.Attributes) {
		v := c.Attributes[k]
		if len(k) > MaxAttrKeyLen || !attrKey.MatchString(k) {
			add("attributes", "keys must be identifiers of at most 64 characters")
		} else if len(v) > MaxAttrValueLen || !utf8.ValidString(v) {
			add("attributes."+k, "must be valid UTF-8 of at most 512 bytes")
		}
	}
	if len(c.Attributes) == 0 {
		c.Attributes = nil
	}
	for field, s := range map[string]*string{"consent.email": &c.Consent.Email, "consent.call": &c.Consent.Call} {
		switch *s {
		case "":
			*s = Unknown
		case Granted, Denied, Unknown:
		default:
			add(field, "must be granted, denied or unknown")
		}
	}
	text("consent.basis", &c.Consent.Basis, 200)
	if !c.Consent.CapturedAt.IsZero() {
		c.Consent.CapturedAt = c.Consent.CapturedAt.UTC()
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return c, errs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
