package csvimport

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/valid"
)

// Contact fields a column can map to, named as in the contact's JSON (and
// in its validation errors).
const (
	fieldEmail        = "email"
	fieldPhone        = "phone"
	fieldFirstName    = "firstName"
	fieldLastName     = "lastName"
	fieldCompany      = "company"
	fieldTitle        = "title"
	fieldCountry      = "country"
	fieldTimeZone     = "timeZone"
	fieldSource       = "source"
	fieldSourceID     = "sourceId"
	fieldOwnerID      = "ownerId"
	fieldBranch       = "branch"
	fieldDept         = "dept"
	fieldConsentEmail = "consent.email"
	fieldConsentCall  = "consent.call"
	// attrPrefix starts the field of an `attr.<name>` column.
	attrPrefix = "attributes."
)

// headerNames maps a header, folded (see fold), to its field: the common
// names each field goes by in CRM and spreadsheet exports.
var headerNames = map[string]string{}

func init() {
	for field, names := range map[string][]string{
		fieldEmail:        {"email", "e-mail", "email address", "e-mail address", "mail", "email_address"},
		fieldPhone:        {"phone", "mobile", "telephone", "phone number", "tel", "mobile phone", "cell", "cell phone", "mobile number"},
		fieldFirstName:    {"first name", "firstname", "given name", "first"},
		fieldLastName:     {"last name", "lastname", "surname", "family name", "last"},
		fieldCompany:      {"company", "organization", "organisation", "account", "company name", "account name"},
		fieldTitle:        {"title", "job title", "position", "role"},
		fieldCountry:      {"country", "country code"},
		fieldTimeZone:     {"time zone", "timezone", "tz"},
		fieldSource:       {"source"},
		fieldSourceID:     {"source id", "external id", "id"},
		fieldOwnerID:      {"owner", "owner id"},
		fieldBranch:       {"branch"},
		fieldDept:         {"department", "dept"},
		fieldConsentEmail: {"consent email", "email opt-in", "email opt in", "email consent", "opt-in", "email optin"},
		fieldConsentCall:  {"consent call", "call consent", "call opt-in", "phone consent"},
	} {
		for _, n := range names {
			headerNames[fold(n)] = field
		}
	}
}

// fold reduces a header to what identifies it: lower-case letters and
// digits only, so "E-mail", "e_mail" and "E Mail" are one name.
func fold(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var attrName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)

// Mapping says which contact field each column of a file fills; an empty
// name means the column is ignored. It is plain data, kept with a
// checkpoint so a resumed parse maps rows as the first one did.
type Mapping struct {
	Columns []string `json:"columns"`
}

// Has reports whether a column maps to field.
func (m Mapping) Has(field string) bool {
	for _, f := range m.Columns {
		if f == field {
			return true
		}
	}
	return false
}

// Ignored returns the 1-based numbers of the columns that map to no field.
// (Their header names are not returned: a file without a header line has
// a row of data there.)
func (m Mapping) Ignored() []int {
	var out []int
	for i, f := range m.Columns {
		if f == "" {
			out = append(out, i+1)
		}
	}
	return out
}

// MapHeader maps the fields of a header record to contact fields by their
// common names (see the package's tests for the list); `attr.<name>`
// columns fill the attribute <name>; other columns are ignored. Returns a
// *FileError on line 1 when the header has more than MaxColumns fields,
// two columns fill the same field, an attribute name is not an identifier,
// there are more attribute columns than a contact may hold, or no column
// holds an e-mail address or a phone number.
func MapHeader(header []string) (Mapping, error) {
	fail := func(format string, args ...any) (Mapping, error) {
		return Mapping{}, &FileError{Line: 1, Reason: fmt.Sprintf(format, args...)}
	}
	if len(header) > MaxColumns {
		return fail("the header has %d columns; at most %d are allowed", len(header), MaxColumns)
	}
	m := Mapping{Columns: make([]string, len(header))}
	seen := map[string]int{}
	attrs := 0
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF"))
		field := headerNames[fold(h)]
		if len(h) > 5 && strings.EqualFold(h[:5], "attr.") {
			name := h[5:]
			if len(name) > contact.MaxAttrKeyLen || !attrName.MatchString(name) {
				return fail("column %d: an attr. column needs a name of at most %d letters, digits or _ . - starting with a letter",
					i+1, contact.MaxAttrKeyLen)
			}
			field = attrPrefix + name
			attrs++
		}
		if field == "" {
			continue
		}
		if prev, dup := seen[field]; dup {
			return fail("columns %d and %d both hold %s", prev, i+1, field)
		}
		seen[field] = i + 1
		m.Columns[i] = field
	}
	if attrs > contact.MaxAttributes {
		return fail("the header has %d attr. columns; a contact holds at most %d attributes", attrs, contact.MaxAttributes)
	}
	if !m.Has(fieldEmail) && !m.Has(fieldPhone) {
		return fail("no column holds an e-mail address or a phone number: name one email or phone (is the header line missing?)")
	}
	return m, nil
}

// Contact maps one record to a contact. Errors say which fields could not
// be mapped and why, never with the value: a record with more columns than
// MaxColumns or with values in columns the header does not have, a cell
// that is not UTF-8, a consent cell that is not yes, no, granted, denied or
// empty.
func (m Mapping) Contact(rec []string) (contact.Contact, valid.Errors) {
	var c contact.Contact
	var errs valid.Errors
	if len(rec) > MaxColumns {
		errs.Add("", fmt.Sprintf("the record has %d columns; at most %d are allowed", len(rec), MaxColumns))
		return c, errs
	}
	for i := len(m.Columns); i < len(rec); i++ {
		if strings.TrimSpace(rec[i]) != "" {
			errs.Add("", fmt.Sprintf("the record has values past the header's %d columns", len(m.Columns)))
			break
		}
	}
	for i, v := range rec {
		if i >= len(m.Columns) || m.Columns[i] == "" {
			continue
		}
		field := m.Columns[i]
		if !utf8.ValidString(v) {
			errs.Add(field, "must be valid UTF-8 text")
			continue
		}
		switch field {
		case fieldEmail:
			c.Email = v
		case fieldPhone:
			c.Phone = v
		case fieldFirstName:
			c.FirstName = v
		case fieldLastName:
			c.LastName = v
		case fieldCompany:
			c.Company = v
		case fieldTitle:
			c.Title = v
		case fieldCountry:
			c.Country = v
		case fieldTimeZone:
			c.TimeZone = v
		case fieldSource:
			c.Source = v
		case fieldSourceID:
			c.SourceID = v
		case fieldOwnerID:
			c.OwnerID = v
		case fieldBranch:
			c.Branch = v
		case fieldDept:
			c.Dept = v
		case fieldConsentEmail, fieldConsentCall:
			state, ok := consentState(v)
			if !ok {
				errs.Add(field, "must be yes, no, granted, denied, unknown or empty")
				continue
			}
			if field == fieldConsentEmail {
				c.Consent.Email = state
			} else {
				c.Consent.Call = state
			}
			if state != contact.Unknown {
				c.Consent.Basis = "import"
			}
		default: // an attribute
			if v = strings.TrimSpace(v); v != "" {
				if c.Attributes == nil {
					c.Attributes = map[string]string{}
				}
				c.Attributes[strings.TrimPrefix(field, attrPrefix)] = v
			}
		}
	}
	return c, errs
}

// consentState reads a consent cell the ways spreadsheets write it.
func consentState(v string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y", "true", "1", "granted", "opt-in", "opted in", "opted-in", "subscribed":
		return contact.Granted, true
	case "no", "n", "false", "0", "denied", "opt-out", "opted out", "opted-out", "unsubscribed":
		return contact.Denied, true
	case "", "unknown":
		return contact.Unknown, true
	}
	return "", false
}
