package scim

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/directory"
)

// Attribute names are case-insensitive in SCIM (RFC 7643 section 2.1), so
// every path is compared in lower case, except the value inside a filter.
var (
	corePrefix = strings.ToLower(UserSchema) + ":"
	extURN     = strings.ToLower(ExtensionSchema)
	// emailFilter matches `emails[type eq "work"]` and `emails[type eq
	// "work"].value`, the value-path form Microsoft Entra ID sends.
	emailFilter = regexp.MustCompile(`(?i)^emails\[\s*(type|value|primary)\s+eq\s+(.+?)\s*\](?:\.(value|type|primary))?$`)
)

// normalPath lower-cases an attribute path outside any filter and drops
// the core schema URN prefix.
func normalPath(p string) string {
	p = strings.TrimSpace(p)
	if i := strings.IndexByte(p, '['); i >= 0 {
		if j := strings.LastIndexByte(p, ']'); j > i {
			p = strings.ToLower(p[:i]) + p[i:j+1] + strings.ToLower(p[j+1:])
		} else {
			p = strings.ToLower(p)
		}
	} else {
		p = strings.ToLower(p)
	}
	return strings.TrimPrefix(p, corePrefix)
}

// setAttr sets the attribute at path of u to the JSON value raw. add says
// whether the operation is an "add" (which appends to multi-valued
// attributes) rather than a "replace". Attributes Alto does not keep
// (title, locale, phoneNumbers, other extensions…) are ignored, so
// identity providers that send more than Alto needs keep working.
func setAttr(u *directory.User, path string, raw json.RawMessage, add bool) error {
	p := normalPath(path)
	switch p {
	case "username":
		return str(raw, "userName", &u.UserName)
	case "externalid":
		return str(raw, "externalId", &u.ExternalID)
	case "displayname":
		return str(raw, "displayName", &u.DisplayName)
	case "active":
		return boolean(raw, "active", &u.Active)
	case "name":
		obj, err := object(raw, "name")
		if err != nil {
			return err
		}
		for _, k := range sortedKeys(obj) {
			if err := setAttr(u, "name."+k, obj[k], add); err != nil {
				return err
			}
		}
		return nil
	case "name.formatted":
		return str(raw, "name.formatted", &u.Name.Formatted)
	case "name.givenname":
		return str(raw, "name.givenName", &u.Name.GivenName)
	case "name.familyname":
		return str(raw, "name.familyName", &u.Name.FamilyName)
	case "name.middlename":
		return str(raw, "name.middleName", &u.Name.MiddleName)
	case "emails":
		emails, err := emailList(raw)
		if err != nil {
			return err
		}
		if add {
			for _, e := range emails {
				if i := slices.IndexFunc(u.Emails, func(x directory.Email) bool { return strings.EqualFold(x.Value, e.Value) }); i >= 0 {
					u.Emails[i] = e
				} else {
					u.Emails = append(u.Emails, e)
				}
			}
			return nil
		}
		u.Emails = emails
		return nil
	case extURN:
		obj, err := object(raw, ExtensionSchema)
		if err != nil {
			return err
		}
		for _, k := range sortedKeys(obj) {
			if err := setAttr(u, extURN+":"+k, obj[k], add); err != nil {
				return err
			}
		}
		return nil
	case extURN + ":role":
		var s string
		if err := str(raw, ExtensionSchema+":role", &s); err != nil {
			return err
		}
		u.Role = auth.Role(strings.ToLower(s))
		return nil
	case extURN + ":branch":
		return str(raw, ExtensionSchema+":branch", &u.Branch)
	case extURN + ":dept":
		return str(raw, ExtensionSchema+":dept", &u.Dept)
	case "schemas", "id", "meta":
		return nil // readOnly or protocol attributes: ignored
	}
	if m := emailFilter.FindStringSubmatch(p); m != nil {
		return setFilteredEmail(u, m, raw)
	}
	if !validPath(p) {
		return badRequest("invalidPath", "the path is not a valid attribute path")
	}
	return nil
}

// removeAttr clears the attribute at path of u.
func removeAttr(u *directory.User, path string) error {
	p := normalPath(path)
	switch p {
	case "username":
		return badRequest("mutability", "userName is required and cannot be removed")
	case "active":
		return badRequest("mutability", "active cannot be removed; replace it with false")
	case "externalid":
		u.ExternalID = ""
	case "displayname":
		u.DisplayName = ""
	case "name":
		u.Name = directory.Name{}
	case "name.formatted":
		u.Name.Formatted = ""
	case "name.givenname":
		u.Name.GivenName = ""
	case "name.familyname":
		u.Name.FamilyName = ""
	case "name.middlename":
		u.Name.MiddleName = ""
	case "emails":
		u.Emails = nil
	case extURN:
		u.Role, u.Branch, u.Dept = "", "", ""
	case extURN + ":role":
		u.Role = ""
	case extURN + ":branch":
		u.Branch = ""
	case extURN + ":dept":
		u.Dept = ""
	default:
		if m := emailFilter.FindStringSubmatch(p); m != nil {
			match, err := emailMatcher(m)
			if err != nil {
				return err
			}
			u.Emails = slices.DeleteFunc(u.Emails, match)
			return nil
		}
		if !validPath(p) {
			return badRequest("invalidPath", "the path is not a valid attribute path")
		}
	}
	return nil
}

// setFilteredEmail applies a value-path operation such as
// `emails[type eq "work"].value`: it sets the sub-attribute of the
// matching addresses, or adds an address when none matches.
func setFilteredEmail(u *directory.User, m []string, raw json.RawMessage) error {
	match, err := emailMatcher(m)
	if err != nil {
		return err
	}
	sub := strings.ToLower(m[3])
	apply := func(e *directory.Email) error {
		switch sub {
		case "value":
			return str(raw, "emails.value", &e.Value)
		case "type":
			return str(raw, "emails.type", &e.Type)
		case "primary":
			return boolean(raw, "emails.primary", &e.Primary)
		}
		list, err := emailList(json.RawMessage("[" + string(raw) + "]"))
		if err != nil {
			return err
		}
		*e = list[0]
		return nil
	}
	found := false
	for i := range u.Emails {
		if match(u.Emails[i]) {
			found = true
			if err := apply(&u.Emails[i]); err != nil {
				return err
			}
		}
	}
	if found {
		return nil
	}
	var e directory.Email
	if strings.EqualFold(m[1], "type") {
		json.Unmarshal([]byte(m[2]), &e.Type)
	}
	if err := apply(&e); err != nil {
		return err
	}
	u.Emails = append(u.Emails, e)
	return nil
}

// emailMatcher returns the filter of an emails value path.
func emailMatcher(m []string) (func(directory.Email) bool, error) {
	var want any
	if err := json.Unmarshal([]byte(m[2]), &want); err != nil {
		return nil, badRequest("invalidPath", "the filter value in the path is not a JSON value")
	}
	attr := strings.ToLower(m[1])
	return func(e directory.Email) bool {
		switch attr {
		case "type":
			s, ok := want.(string)
			return ok && strings.EqualFold(e.Type, s)
		case "value":
			s, ok := want.(string)
			return ok && strings.EqualFold(e.Value, s)
		default:
			b, ok := want.(bool)
			return ok && e.Primary == b
		}
	}, nil
}

var attrPath = regexp.MustCompile(`^([a-z0-9:._-]+)(\[[^\]]*\])?(\.[a-z0-9_-]+)?$`)

// validPath reports whether p (lower case) is shaped like an attribute
// path at all.
func validPath(p string) bool { return attrPath.MatchString(p) }

// applyPatch applies the operations of a PATCH request to u (RFC 7644
// section 3.5.2). Okta and Entra ID send both shapes: {"op":"replace",
// "value":{"active":false}} and {"op":"Replace","path":"active",
// "value":"False"}.
func applyPatch(u directory.User, ops []patchOp) (directory.User, error) {
	if len(ops) == 0 {
		return u, badRequest("invalidValue", "Operations must hold at least one operation")
	}
	if len(ops) > MaxOperations {
		return u, badRequest("invalidValue", "Operations must hold at most %d operations", MaxOperations)
	}
	u.Emails = slices.Clone(u.Emails)
	for _, op := range ops {
		switch kind := strings.ToLower(op.Op); kind {
		case "add", "replace":
			if len(op.Value) == 0 {
				return u, badRequest("invalidValue", "an %s operation needs a value", kind)
			}
			if strings.TrimSpace(op.Path) != "" {
				if err := setAttr(&u, op.Path, op.Value, kind == "add"); err != nil {
					return u, err
				}
				continue
			}
			obj, err := object(op.Value, "value")
			if err != nil {
				return u, badRequest("invalidValue", "without a path, the value must be an object of attributes")
			}
			for _, k := range sortedKeys(obj) {
				if err := setAttr(&u, k, obj[k], kind == "add"); err != nil {
					return u, err
				}
			}
		case "remove":
			if strings.TrimSpace(op.Path) == "" {
				return u, badRequest("noTarget", "a remove operation needs a path")
			}
			if err := removeAttr(&u, op.Path); err != nil {
				return u, err
			}
		default:
			return u, badRequest("invalidSyntax", "op must be add, replace or remove")
		}
	}
	return u, nil
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// fromResource builds the user a POST or PUT body describes, over base
// (a new user, or the stored one whose active flag and IDs are kept when
// the body leaves them out).
func fromResource(base directory.User, obj map[string]json.RawMessage) (directory.User, error) {
	u := directory.User{ID: base.ID, Active: base.Active}
	for _, k := range sortedKeys(obj) {
		if err := setAttr(&u, k, obj[k], false); err != nil {
			return u, err
		}
	}
	return u, nil
}

func str(raw json.RawMessage, field string, dst *string) error {
	if isNull(raw) {
		*dst = ""
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return badRequest("invalidValue", "%s must be a string", field)
	}
	return nil
}

// boolean reads a JSON boolean, or the strings "true" and "false" in any
// case (Entra ID has sent "False").
func boolean(raw json.RawMessage, field string, dst *bool) error {
	var v any
	if err := json.Unmarshal(raw, &v); err == nil {
		switch b := v.(type) {
		case bool:
			*dst = b
			return nil
		case string:
			switch strings.ToLower(b) {
			case "true":
				*dst = true
				return nil
			case "false":
				*dst = false
				return nil
			}
		}
	}
	return badRequest("invalidValue", "%s must be a boolean", field)
}

func object(raw json.RawMessage, field string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, badRequest("invalidValue", "%s must be an object", field)
	}
	return obj, nil
}

func emailList(raw json.RawMessage) ([]directory.Email, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, badRequest("invalidValue", "emails must be an array of objects")
	}
	out := make([]directory.Email, 0, len(items))
	for _, it := range items {
		obj, err := object(it, "emails[]")
		if err != nil {
			return nil, err
		}
		var e directory.Email
		for _, k := range sortedKeys(obj) {
			var err error
			switch strings.ToLower(k) {
			case "value":
				err = str(obj[k], "emails.value", &e.Value)
			case "type":
				err = str(obj[k], "emails.type", &e.Type)
			case "primary":
				err = boolean(obj[k], "emails.primary", &e.Primary)
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
