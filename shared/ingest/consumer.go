package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/tenant"
)

// Contacts is what the consumer needs of the contact service.
type Contacts interface {
	Upsert(ctx context.Context, c contact.Contact, actor string, detail map[string]string) (string, contact.Outcome, error)
}

// Tally records what became of an imported row, exactly once per row
// however often its message is delivered.
type Tally interface {
	Row(ctx context.Context, importID string, line int, outcome contact.Outcome, reason string) error
}

// Consumer processes batches of the ingress queue. It may be used
// concurrently.
type Consumer struct {
	Keys     Keys
	Contacts Contacts
	// Dead receives messages no retry can fix, with their reason as the
	// "reason" attribute (ING-05).
	Dead   queue.Sender
	Tally  Tally // nil when imports are not wired
	Logger *slog.Logger
}

// HandleSQS processes one batch. Each message is independent: a message
// that fails for a passing reason is reported as a batch item failure and
// comes back; a message that can never succeed goes to the dead-letter
// queue with its reason; the rest of the batch succeeds either way.
func (c *Consumer) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var res events.SQSEventResponse
	for _, m := range ev.Records {
		err := c.handle(ctx, m)
		if errors.Is(err, errPermanent) {
			err = c.bury(ctx, m, err)
		}
		if err != nil {
			c.log().WarnContext(ctx, "ingress message will be retried", "message_id", m.MessageId, "err", err.Error())
			res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return res, nil
}

func (c *Consumer) handle(ctx context.Context, m events.SQSMessage) error {
	ctx, s, err := decode(ctx, c.Keys, m.Body)
	if err != nil {
		return err
	}
	norm, errs := contact.Normalize(s.Contact, "")
	if len(errs) > 0 {
		return c.tally(ctx, s, "", fmt.Errorf("%w: %v", errPermanent, errs))
	}
	detail := map[string]string{"via": s.Via}
	if s.ImportID != "" {
		detail["import"] = s.ImportID
	}
	_, outcome, err := c.Contacts.Upsert(ctx, norm, s.Actor, detail)
	if err != nil {
		return err
	}
	return c.tally(ctx, s, outcome, nil)
}

// tally records an imported row's outcome; perm is the permanent failure
// of the row, if any, which is returned after it is recorded.
func (c *Consumer) tally(ctx context.Context, s Submission, outcome contact.Outcome, perm error) error {
	if s.ImportID == "" || c.Tally == nil {
		return perm
	}
	why := ""
	if perm != nil {
		outcome, why = "rejected", perm.Error()
	}
	if err := c.Tally.Row(ctx, s.ImportID, s.Line, outcome, why); err != nil {
		return err
	}
	return perm
}

// bury moves a message to the dead-letter queue with its reason.
func (c *Consumer) bury(ctx context.Context, m events.SQSMessage, cause error) error {
	attrs := map[string]string{attrReason: cause.Error()}
	if org, err := tenant.From(ctx); err == nil {
		attrs[attrOrg] = string(org)
	}
	_, err := c.Dead.Send(ctx, DeadLetterQueue, []queue.Message{{Body: []byte(m.Body), Attributes: attrs}}, 0)
	if err != nil {
		return fmt.Errorf("ingest: dead-letter: %w", err)
	}
	c.log().WarnContext(ctx, "ingress message dead-lettered", "message_id", m.MessageId, "reason", cause.Error())
	return nil
}

func (c *Consumer) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
