package contact

import (
	"strings"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/valid"
)

// HoldToScope holds a contact submitted by p to p's scope (ACC-02), however
// it was submitted (the JSON API, a CSV import): a rep creates only contacts
// they own, a manager only contacts of their own branch and department. A
// contact naming another owner, branch or department is a field error; one
// naming none gets p's. Owners and admins submit any contact. It also
// refuses the subject's own choices (opt-out, restriction, objection), which
// no submission sets.
func HoldToScope(c Contact, p auth.Principal) (Contact, valid.Errors) {
	var errs valid.Errors
	switch p.Role {
	case auth.Rep:
		if o := strings.TrimSpace(c.OwnerID); o != "" && o != p.Sub {
			errs.Add("ownerId", "a rep can only create contacts they own")
		}
		c.OwnerID = p.Sub
	case auth.Manager:
		for _, f := range []struct {
			field    string
			got, own *string
		}{{"branch", &c.Branch, &p.Branch}, {"dept", &c.Dept, &p.Dept}} {
			if *f.own == "" {
				continue
			}
			if g := strings.TrimSpace(*f.got); g != "" && g != *f.own {
				errs.Add(f.field, "a manager can only create contacts of their own "+f.field)
			}
			*f.got = *f.own
		}
	}
	if c.OptedOut || c.Restricted || c.Objected {
		errs.Add("optedOut", "opt-out, restriction and objection are set by the subject, not on submission")
	}
	return c, errs
}
