// Package notify declares the ports through which Alto tells people things:
// e-mail to owners, admins and data subjects (SES in AWS, an outbox folder of
// .eml files on one machine) and operational alarms (SNS in AWS).
package notify

import (
	"context"
	"errors"
)

// ErrInvalid is returned for a message that cannot be sent as given (no
// recipient, no subject, a malformed address).
var ErrInvalid = errors.New("notify: invalid message")

// Email is one message. Text is the plain-text body; Alto sends no HTML.
type Email struct {
	To      []string
	Subject string
	Text    string
	// ID makes sending idempotent: a Mailer that has already sent a message
	// with this ID does not send it again. Empty means no deduplication.
	ID string
}

// Mailer sends e-mail. Implementations may be called concurrently.
type Mailer interface {
	// Send sends m. Returns ErrInvalid for a malformed message.
	Send(ctx context.Context, m Email) error
}

// Alarm is an operational alert for the people who run Alto (OPS-04): a
// dead-letter queue that is not empty, an overdue deadline.
type Alarm struct {
	Name   string            // stable name, e.g. "dsr.overdue"
	Detail map[string]string // identifiers and counts only, never personal data
}

// Alarms raises alarms. Implementations may be called concurrently.
type Alarms interface {
	// Raise publishes a.
	Raise(ctx context.Context, a Alarm) error
}
