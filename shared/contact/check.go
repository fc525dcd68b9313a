package contact

import (
	"encoding/json"

	"github.com/alto/alto/shared/valid"
)

// CheckChanges reports the field errors Rectify would find applying
// changes to c, without writing anything, so a caller rectifying several
// contacts can refuse the whole request before changing any of them.
func CheckChanges(c Contact, changes map[string]json.RawMessage) valid.Errors {
	_, errs := applyChanges(c, changes)
	return errs
}
