package httpapi

import (
	"reflect"
	"testing"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/contact"
)

// FuzzDecodeContact feeds arbitrary bodies to the decoder of POST
// /v1/contacts for every role that may submit. Whatever the body, it must
// not panic; every error must name a reason; and a contact it accepts must
// be normalized (normalizing it again changes nothing and finds nothing
// wrong), reachable (an e-mail or a phone) and inside the submitter's scope.
// The seed corpus is in testdata/fuzz/FuzzDecodeContact.
func FuzzDecodeContact(f *testing.F) {
	f.Add([]byte(`{"email":"Ada@Example.com","firstName":" Ada ","consent":{"email":"granted"}}`))
	submitters := []auth.Principal{
		{Sub: "u-owner", Role: auth.Owner},
		{Sub: "u-manager", Role: auth.Manager, Branch: "north", Dept: "sales"},
		{Sub: "u-rep", Role: auth.Rep},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, p := range submitters {
			c, errs := decodeContact(raw, p)
			for _, e := range errs {
				if e.Reason == "" {
					t.Fatalf("%s: error on %q without a reason", p.Role, e.Field)
				}
			}
			if len(errs) > 0 {
				continue
			}
			again, more := contact.Normalize(c, "")
			if len(more) > 0 || !reflect.DeepEqual(again, c) {
				t.Fatalf("%s: accepted %+v is not normalized: again %+v, %v", p.Role, c, again, more)
			}
			if c.Email == "" && c.Phone == "" {
				t.Fatalf("%s: accepted a contact without e-mail or phone", p.Role)
			}
			if !auth.RecordScope(p).Includes(c.OwnerID, c.Branch, c.Dept) {
				t.Fatalf("%s: accepted %+v outside its scope", p.Role, c)
			}
		}
	})
}
