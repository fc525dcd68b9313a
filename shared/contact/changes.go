package contact

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/alto/alto/shared/valid"
)

// changeable lists the fields a rectification may set.
var changeable = map[string]bool{
	"email": true, "phone": true, "firstName": true, "lastName": true, "company": true,
	"title": true, "country": true, "timeZone": true, "ownerId": true, "branch": true,
	"dept": true, "attributes": true, "consent": true,
}

// applyChanges overlays changes on c and normalizes the result. Unknown or
// read-only fields and values of the wrong type are field errors.
func applyChanges(c Contact, changes map[string]json.RawMessage) (Contact, valid.Errors) {
	var errs valid.Errors
	if len(changes) == 0 {
		errs.Add("changes", "name at least one field to change")
		return c, errs
	}
	base, _ := json.Marshal(c)
	var fields map[string]json.RawMessage
	json.Unmarshal(base, &fields)
	names := make([]string, 0, len(changes))
	for k := range changes {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !changeable[k] {
			errs.Add("changes."+k, "is not a field that can be changed")
			continue
		}
		fields[k] = changes[k]
	}
	if len(errs) > 0 {
		return c, errs
	}
	merged, _ := json.Marshal(fields)
	var next Contact
	dec := json.NewDecoder(bytes.NewReader(merged))
	if err := dec.Decode(&next); err != nil {
		errs.Add("changes", "a field has a value of the wrong type")
		return c, errs
	}
	return Normalize(next, "changes.")
}
