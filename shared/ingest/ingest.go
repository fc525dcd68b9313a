// Package ingest moves contacts from the edges (the JSON API, CSV imports,
// web forms) through the ingress queue into the contact store. Submissions
// are sealed before they are queued, so the queue holds no plaintext
// personal data; the consumer opens them, drops erased subjects, skips what
// it already has and writes the rest, absorbing redelivery (ING-05).
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/tenant"
)

// The ingress queue and its dead-letter queue. Both forget within 24 hours
// (RET-01).
const (
	Queue           = "ingress"
	DeadLetterQueue = "ingress-dlq"
	Retention       = 24 * time.Hour
	MaxReceives     = 5
)

// Queues returns the configuration of the ingress queues.
func Queues() []queue.Config {
	return []queue.Config{
		{Name: Queue, Retention: Retention, Visibility: time.Minute, MaxReceives: MaxReceives, DeadLetter: DeadLetterQueue},
		{Name: DeadLetterQueue, Retention: Retention, Visibility: time.Minute},
	}
}

// Keys seals and opens submissions with the tenant's keys.
type Keys interface {
	Seal(ctx context.Context, record, field string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, record, field string, ciphertext []byte) ([]byte, error)
}

// Submission is one contact on its way in.
type Submission struct {
	Contact  contact.Contact // normalized
	Via      string          // "api", "import" or "form"
	Actor    string          // who submitted it
	ImportID string          // the import it came from, if any
	Line     int             // its line in the import file
}

// message is the queued form of a Submission: everything but the tenant's
// name sealed.
type message struct {
	V      int    `json:"v"`
	Org    string `json:"org"`
	Sealed []byte `json:"sealed"`
}

const (
	sealRecord = "INGRESS"
	sealField  = "submission"
	attrOrg    = "org"
	attrReason = "reason"
)

// Producer puts submissions on the ingress queue.
type Producer struct {
	Queue queue.Sender
	Keys  Keys
}

// Send seals and queues subs in batches of queue.MaxBatch. It returns when
// every submission is durably queued, or with an error after which some may
// be queued (sending them again is harmless: ingest is idempotent).
func (p *Producer) Send(ctx context.Context, subs []Submission) error {
	org, err := tenant.From(ctx)
	if err != nil {
		return err
	}
	batch := make([]queue.Message, 0, queue.MaxBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := p.Queue.Send(ctx, Queue, batch, 0); err != nil {
			return fmt.Errorf("ingest: queue: %w", err)
		}
		batch = batch[:0]
		return nil
	}
	for _, s := range subs {
		pt, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("ingest: encode: %w", err)
		}
		sealed, err := p.Keys.Seal(ctx, sealRecord, sealField, pt)
		clear(pt)
		if err != nil {
			return fmt.Errorf("ingest: seal: %w", err)
		}
		body, _ := json.Marshal(message{V: 1, Org: string(org), Sealed: sealed})
		batch = append(batch, queue.Message{Body: body, Attributes: map[string]string{attrOrg: string(org)}})
		if len(batch) == queue.MaxBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// errPermanent marks a message that no retry can fix.
var errPermanent = errors.New("ingest: permanent failure")

// decode opens a queued message and returns its tenant-scoped context and
// submission. Errors wrap errPermanent when the message can never be read.
func decode(ctx context.Context, keys Keys, body string) (context.Context, Submission, error) {
	var m message
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.V != 1 {
		return ctx, Submission{}, fmt.Errorf("%w: not an ingress message", errPermanent)
	}
	if err := tenant.Valid(m.Org); err != nil {
		return ctx, Submission{}, fmt.Errorf("%w: no valid tenant", errPermanent)
	}
	ctx = tenant.With(ctx, tenant.ID(m.Org))
	pt, err := keys.Open(ctx, sealRecord, sealField, m.Sealed)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return ctx, Submission{}, err
		}
		return ctx, Submission{}, fmt.Errorf("%w: cannot open the submission (%v)", errPermanent, reason(err))
	}
	var s Submission
	err = json.Unmarshal(pt, &s)
	clear(pt)
	if err != nil {
		return ctx, Submission{}, fmt.Errorf("%w: submission unreadable", errPermanent)
	}
	return ctx, s, nil
}

// reason is an error's text for a dead letter: the error kind only.
func reason(err error) string {
	var target interface{ Unwrap() error }
	for errors.As(err, &target) {
		inner := target.Unwrap()
		if inner == nil {
			break
		}
		err = inner
	}
	return err.Error()
}
