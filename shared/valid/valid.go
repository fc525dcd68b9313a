// Package valid reports invalid input field by field.
package valid

import "strings"

// FieldError says why one field is invalid. Field is a JSON pointer-like path
// ("email", "contacts[3].phone"); Reason is a short sentence without the
// offending value (it may be personal data).
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Errors is a list of field errors; it is an error when not empty.
type Errors []FieldError

// Add appends a field error.
func (e *Errors) Add(field, reason string) { *e = append(*e, FieldError{field, reason}) }

// Err returns e as an error, or nil if it is empty.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Field + ": " + f.Reason
	}
	return "invalid: " + strings.Join(parts, "; ")
}
