// Package ses is the notify.Mailer on Amazon SES (API v2): plain-text
// e-mail from one verified sender.
//
// SES has no idempotency key, so deduplication by notify.Email.ID is best
// effort: a Mailer remembers the IDs it sent (the most recent
// DefaultRemember of them) and does not send one again, and concurrent
// sends of one ID wait for each other. A retry in another process (another
// Lambda instance, a cold start) or after the Mailer forgot the ID sends a
// second copy; so does a send that SES accepted but whose answer was lost.
// Callers that must not send twice record the send in their own store
// first. The ID also travels as the SES message tag "alto-id" (its
// unpadded base64url, as SES tags allow only [A-Za-z0-9_-]; IDs over 192
// bytes go without), so duplicates can be traced in SES's event
// destinations.
package ses

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/alto/alto/shared/notify"
)

// Limits of SES and of the Mailer.
const (
	// MaxRecipients is the most addresses one SES message may have.
	MaxRecipients = 50
	// DefaultRemember is how many sent IDs a Mailer remembers when
	// Options.Remember is zero.
	DefaultRemember = 10_000
	// tagName is the SES message tag carrying Email.ID; maxTagLen is
	// SES's limit on a tag value.
	tagName   = "alto-id"
	maxTagLen = 256
)

// Client is the part of *sesv2.Client the Mailer uses.
type Client interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Options configure a Mailer.
type Options struct {
	// From is the sender, an address (or domain's address) verified in SES.
	// Required.
	From string
	// ConfigurationSet is the SES configuration set to send with (event
	// destinations, suppression); empty means none.
	ConfigurationSet string
	// Remember is how many sent IDs the Mailer keeps; zero means
	// DefaultRemember.
	Remember int
}

// Mailer sends e-mail through SES. It may be used concurrently.
type Mailer struct {
	client   Client
	from     string
	confSet  string
	remember int

	mu    sync.Mutex
	sends map[string]*send // by Email.ID: in flight or sent
	order []string         // IDs sent, oldest first
}

// send is one send of an ID: done is closed when err is set.
type send struct {
	done chan struct{}
	err  error
}

var _ notify.Mailer = (*Mailer)(nil)

// New returns a Mailer sending from opts.From through client. Returns an
// error if From is not an address.
func New(client Client, opts Options) (*Mailer, error) {
	if _, err := mail.ParseAddress(opts.From); err != nil {
		return nil, fmt.Errorf("ses: new: sender is not an address: %w", err)
	}
	m := &Mailer{client: client, from: opts.From, confSet: opts.ConfigurationSet, remember: opts.Remember, sends: map[string]*send{}}
	if m.remember <= 0 {
		m.remember = DefaultRemember
	}
	return m, nil
}

// Send sends e as a plain-text message, unless its ID was sent before by
// this Mailer (see the package documentation). Returns notify.ErrInvalid,
// naming no address, for a message without recipients or subject, with
// more than MaxRecipients recipients, a malformed address or a subject
// spanning lines, or one SES refuses as malformed; other SES errors
// (throttling, an unverified sender) are returned wrapped, and a retry may
// succeed. Returns ctx's error if it is done before the send.
func (m *Mailer) Send(ctx context.Context, e notify.Email) error {
	if err := check(e); err != nil {
		return fmt.Errorf("ses: send: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ses: send: %w", err)
	}
	if e.ID == "" {
		return m.send(ctx, e)
	}
	for {
		m.mu.Lock()
		s, ok := m.sends[e.ID]
		if !ok {
			s = &send{done: make(chan struct{})}
			m.sends[e.ID] = s
		}
		m.mu.Unlock()
		if !ok {
			s.err = m.send(ctx, e)
			m.mu.Lock()
			if s.err != nil {
				delete(m.sends, e.ID) // a later call may try again
			} else {
				m.order = append(m.order, e.ID)
				if len(m.order) > m.remember {
					delete(m.sends, m.order[0])
					m.order = m.order[1:]
				}
			}
			m.mu.Unlock()
			close(s.done)
			return s.err
		}
		select {
		case <-s.done:
		case <-ctx.Done():
			return fmt.Errorf("ses: send: %w", ctx.Err())
		}
		if s.err == nil {
			return nil // sent already
		}
	}
}

func (m *Mailer) send(ctx context.Context, e notify.Email) error {
	in := &sesv2.SendEmailInput{
		FromEmailAddress: &m.from,
		Destination:      &types.Destination{ToAddresses: e.To},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(e.Subject), Charset: aws.String("UTF-8")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String(e.Text), Charset: aws.String("UTF-8")}},
		}},
	}
	if m.confSet != "" {
		in.ConfigurationSetName = &m.confSet
	}
	if tag := base64.RawURLEncoding.EncodeToString([]byte(e.ID)); tag != "" && len(tag) <= maxTagLen {
		in.EmailTags = []types.MessageTag{{Name: aws.String(tagName), Value: &tag}}
	}
	if _, err := m.client.SendEmail(ctx, in); err != nil {
		var api smithy.APIError
		if errors.As(err, &api) {
			switch api.ErrorCode() {
			case "BadRequestException", "InvalidParameterValue":
				// SES's message may quote an address: keep it out.
				return fmt.Errorf("ses: send: refused as malformed (%s): %w", api.ErrorCode(), notify.ErrInvalid)
			}
		}
		return fmt.Errorf("ses: send: %w", err)
	}
	return nil
}

// check returns an error wrapping notify.ErrInvalid, naming no address,
// unless e can be sent.
func check(e notify.Email) error {
	switch {
	case len(e.To) == 0:
		return fmt.Errorf("no recipient: %w", notify.ErrInvalid)
	case len(e.To) > MaxRecipients:
		return fmt.Errorf("%d recipients, want at most %d: %w", len(e.To), MaxRecipients, notify.ErrInvalid)
	case strings.TrimSpace(e.Subject) == "":
		return fmt.Errorf("no subject: %w", notify.ErrInvalid)
	case strings.ContainsAny(e.Subject, "\r\n"):
		return fmt.Errorf("subject spans lines: %w", notify.ErrInvalid)
	}
	for i, to := range e.To {
		if _, err := mail.ParseAddress(to); err != nil || strings.ContainsAny(to, "\r\n") {
			return fmt.Errorf("recipient %d: malformed address: %w", i, notify.ErrInvalid)
		}
	}
	return nil
}
