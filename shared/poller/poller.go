// Package poller plays the Lambda event source mapping on one machine: it
// receives batches from a queue, hands them to the same handler Lambda
// calls, deletes what the handler did not report as failed and leaves the
// failures to come back after their visibility timeout, as SQS does.
package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/alto/alto/shared/queue"
)

// Handler is a Lambda SQS handler with partial batch responses.
type Handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// Poller drains one queue into one handler.
type Poller struct {
	Queue   queue.Consumer
	Name    string // the queue
	Handler Handler
	Batch   int           // messages per batch; default queue.MaxBatch
	Idle    time.Duration // wait when the queue is empty; default 200ms
	Logger  *slog.Logger
}

// Run polls until ctx ends. A batch in progress is finished before Run
// returns, so stopping loses nothing: unfinished messages come back.
func (p *Poller) Run(ctx context.Context) error {
	idle := p.Idle
	if idle == 0 {
		idle = 200 * time.Millisecond
	}
	for ctx.Err() == nil {
		n, err := p.Once(context.WithoutCancel(ctx))
		if err != nil {
			p.log().ErrorContext(ctx, "poll failed", "queue", p.Name, "err", err.Error())
		}
		if n == 0 || err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(idle):
			}
		}
	}
	return nil
}

// Drain processes batches until the queue has nothing visible. It returns
// the number of messages handled.
func (p *Poller) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := p.Once(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// Once receives and handles one batch and returns its size.
func (p *Poller) Once(ctx context.Context) (int, error) {
	batch := p.Batch
	if batch == 0 {
		batch = queue.MaxBatch
	}
	ds, err := p.Queue.Receive(ctx, p.Name, batch, 0)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(ds))}
	for i, d := range ds {
		attrs := make(map[string]events.SQSMessageAttribute, len(d.Attributes))
		for k, v := range d.Attributes {
			attrs[k] = events.SQSMessageAttribute{DataType: "String", StringValue: &v}
		}
		ev.Records[i] = events.SQSMessage{
			MessageId: d.ID, ReceiptHandle: d.Receipt, Body: string(d.Body), MessageAttributes: attrs,
			Attributes: map[string]string{
				"ApproximateReceiveCount": strconv.Itoa(d.Receives),
				"SentTimestamp":           strconv.FormatInt(d.SentAt.UnixMilli(), 10),
			},
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:local:000000000000:" + p.Name,
		}
	}
	res, err := p.Handler(ctx, ev)
	if err != nil {
		// The whole batch failed: every message comes back.
		return len(ds), fmt.Errorf("poller: %s: handler: %w", p.Name, err)
	}
	failed := map[string]bool{}
	for _, f := range res.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var errs []error
	for _, d := range ds {
		if failed[d.ID] {
			continue
		}
		if err := p.Queue.Delete(ctx, p.Name, d.Receipt); err != nil && !errors.Is(err, queue.ErrReceiptNotFound) {
			errs = append(errs, err)
		}
	}
	return len(ds), errors.Join(errs...)
}

func (p *Poller) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}
