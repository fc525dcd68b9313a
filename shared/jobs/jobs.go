// Package jobs is the `jobs` queue: the one queue, with its dead-letter
// queue, that carries the tenant's long-running work (exports, imports,
// erasures and purges) to one consumer, functions/export on AWS and the
// local poller on one machine.
//
// A message is an envelope of identifiers only ({v, org, kind, id}): the
// work itself (what to export, for whom, to which key) stays in the store,
// sealed where it is personal. The Dispatcher routes each message by kind to
// the handler registered for it, so capabilities share one queue and one
// function instead of each adding their own; a kind with no handler is a
// poison message, not a silent drop.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/tenant"
)

// The jobs queue and its dead-letter queue.
const (
	Queue           = "jobs"
	DeadLetterQueue = "jobs-dlq"
	// MaxReceives is how often a job is tried before it moves to the
	// dead-letter queue.
	MaxReceives = 5
	// Visibility hides a received job for as long as one run may take:
	// the longest a Lambda function runs. A handler that may run longer
	// must checkpoint and tolerate a second delivery taking over.
	Visibility = 15 * time.Minute
	// Retention is how long an undelivered job waits.
	Retention = 4 * 24 * time.Hour
	// DeadRetention keeps dead letters for operators for two weeks.
	DeadRetention = 14 * 24 * time.Hour
)

// Queues returns the configuration of the jobs queues.
func Queues() []queue.Config {
	return []queue.Config{
		{Name: Queue, Retention: Retention, Visibility: Visibility, MaxReceives: MaxReceives, DeadLetter: DeadLetterQueue},
		{Name: DeadLetterQueue, Retention: DeadRetention, Visibility: time.Minute},
	}
}

// Job is one unit of work: identifiers only, never personal data.
type Job struct {
	V    int    `json:"v"`
	Org  string `json:"org"`
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Attempt counts deliveries of this job, this one included (1 on the
	// first); it is not part of the message. A handler that fails on
	// attempt MaxReceives will not be called again for the job.
	Attempt int `json:"-"`
}

// Last reports whether this is the job's last delivery: if it fails now,
// it goes to the dead-letter queue.
func (j Job) Last() bool { return j.Attempt >= MaxReceives }

var (
	kindPattern = regexp.MustCompile(`^[a-z][a-z0-9.-]{0,63}$`)
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// ErrPermanent marks a job no retry can fix. A handler returns an error
// wrapping it to send the job straight to the dead-letter queue with the
// error's text as its reason; the text must carry no personal data.
var ErrPermanent = errors.New("jobs: permanent failure")

// Producer puts jobs on the queue.
type Producer struct {
	Queue queue.Sender
}

// Send queues a job of kind for the item id of the tenant in ctx. Returns
// an error if ctx has no tenant, kind or id is malformed, or the queue
// fails; sending a job twice is harmless when its handler is idempotent, as
// every handler must be (delivery is at least once).
func (p *Producer) Send(ctx context.Context, kind, id string) error {
	org, err := tenant.From(ctx)
	if err != nil {
		return fmt.Errorf("jobs: send %s: %w", kind, err)
	}
	if !kindPattern.MatchString(kind) || !idPattern.MatchString(id) {
		return fmt.Errorf("jobs: send: %w: malformed kind or id", queue.ErrInvalid)
	}
	body, _ := json.Marshal(Job{V: 1, Org: string(org), Kind: kind, ID: id})
	if _, err := p.Queue.Send(ctx, Queue, []queue.Message{{Body: body, Attributes: map[string]string{"org": string(org), "kind": kind}}}, 0); err != nil {
		return fmt.Errorf("jobs: send %s %s: %w", kind, id, err)
	}
	return nil
}

// Handler runs one job. ctx carries the job's tenant. It returns nil when
// the job is done (or needs nothing more), an error wrapping ErrPermanent
// when no retry can help, and any other error to be tried again later.
type Handler func(ctx context.Context, j Job) error

// Dispatcher consumes the jobs queue: it routes each message to the
// handler of its kind. Register handlers with Handle before the first
// HandleSQS; after that, HandleSQS may be called concurrently.
type Dispatcher struct {
	handlers map[string]Handler
	// Dead receives the messages no retry can fix, with their reason.
	Dead   queue.Sender
	Logger *slog.Logger
}

// Handle registers h for kind. It panics if kind is malformed or already
// has a handler: both are wiring mistakes.
func (d *Dispatcher) Handle(kind string, h Handler) {
	if !kindPattern.MatchString(kind) {
		panic("jobs: malformed kind " + strconv.Quote(kind))
	}
	if d.handlers == nil {
		d.handlers = map[string]Handler{}
	}
	if _, dup := d.handlers[kind]; dup {
		panic("jobs: second handler for kind " + kind)
	}
	d.handlers[kind] = h
}

// HandleSQS runs a batch of jobs, one after the other. A job that fails
// for a passing reason is reported as a batch item failure and comes back
// after the visibility timeout; one that can never run (unreadable, of an
// unknown kind, or failed with ErrPermanent) goes to the dead-letter queue
// with its reason. The rest of the batch succeeds either way.
func (d *Dispatcher) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var res events.SQSEventResponse
	for _, m := range ev.Records {
		j, err := d.run(ctx, m)
		if errors.Is(err, ErrPermanent) {
			err = d.bury(ctx, m, j, err)
		}
		if err != nil {
			d.log().WarnContext(ctx, "job will be retried", "message_id", m.MessageId, "kind", j.Kind, "err", err.Error())
			res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return res, nil
}

func (d *Dispatcher) run(ctx context.Context, m events.SQSMessage) (Job, error) {
	var j Job
	if err := json.Unmarshal([]byte(m.Body), &j); err != nil || j.V != 1 || tenant.Valid(j.Org) != nil ||
		!kindPattern.MatchString(j.Kind) || !idPattern.MatchString(j.ID) {
		return Job{}, fmt.Errorf("%w: not a job", ErrPermanent)
	}
	h, ok := d.handlers[j.Kind]
	if !ok {
		return j, fmt.Errorf("%w: no handler for kind %s", ErrPermanent, j.Kind)
	}
	j.Attempt, _ = strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	if j.Attempt < 1 {
		j.Attempt = 1
	}
	return j, h(tenant.With(ctx, tenant.ID(j.Org)), j)
}

// bury moves a message to the dead-letter queue with its reason.
func (d *Dispatcher) bury(ctx context.Context, m events.SQSMessage, j Job, cause error) error {
	attrs := map[string]string{"reason": cause.Error()}
	if j.Org != "" {
		attrs["org"], attrs["kind"] = j.Org, j.Kind
	}
	if _, err := d.Dead.Send(ctx, DeadLetterQueue, []queue.Message{{Body: []byte(m.Body), Attributes: attrs}}, 0); err != nil {
		return fmt.Errorf("jobs: dead-letter: %w", err)
	}
	d.log().WarnContext(ctx, "job dead-lettered", "message_id", m.MessageId, "kind", j.Kind, "reason", cause.Error())
	return nil
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}
