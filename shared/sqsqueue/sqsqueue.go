// Package sqsqueue is the queue adapter on Amazon SQS: queue.Sender for the
// producers, and queue.Consumer for the one-machine runtime polling SQS (in
// AWS, Lambda's event source mapping consumes instead).
//
// Queue names given to the adapter are the port's names ("ingress",
// "export"); the SQS queue is Options.Prefix followed by that name, so one
// account can hold several stacks and tests get fresh queues.
//
// SQS allows message attribute names of [A-Za-z0-9_.-] only and no empty
// values; the port allows any text. An attribute SQS cannot carry as it is
// travels escaped (see EncodeAttributes), and DecodeAttributes and
// EventAttributes undo that on the way out.
package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/alto/alto/shared/queue"
)

// Options configure Queues.
type Options struct {
	// Prefix is prepended to every queue name to make the SQS queue's name.
	Prefix string
	// URLs maps queue names to queue URLs, as the CDK stack passes them to
	// the functions (its queues have generated names). When set, only
	// these queues exist for Queues: any other name is queue.ErrNoQueue,
	// and Prefix is not used.
	URLs map[string]string
}

// Queues sends to and receives from SQS queues. Its methods may be called
// concurrently. Queue URLs are looked up by name once and remembered.
type Queues struct {
	client *sqs.Client
	prefix string
	fixed  bool     // the URLs came with Options: look nothing up
	urls   sync.Map // name → URL
}

var (
	_ queue.Sender   = (*Queues)(nil)
	_ queue.Consumer = (*Queues)(nil)
)

// New returns the queues reached through client.
func New(client *sqs.Client, opts Options) *Queues {
	q := &Queues{client: client, prefix: opts.Prefix, fixed: opts.URLs != nil}
	for name, u := range opts.URLs {
		q.urls.Store(name, u)
	}
	return q
}

// url returns the URL of the named queue. Returns queue.ErrNoQueue if there
// is no such queue.
func (q *Queues) url(ctx context.Context, name string) (string, error) {
	if u, ok := q.urls.Load(name); ok {
		return u.(string), nil
	}
	if q.fixed {
		return "", queue.ErrNoQueue
	}
	out, err := q.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q.prefix + name)})
	if err != nil {
		return "", mapError(err)
	}
	u := aws.ToString(out.QueueUrl)
	q.urls.Store(name, u)
	return u, nil
}

// Send puts up to queue.MaxBatch messages on the named queue in one request,
// each delivered no earlier than delay (rounded up to the second) from now,
// and returns their IDs in order. It checks every message before sending
// any: a body must be text SQS accepts, a message at most 10 attributes and
// queue.MaxMessageSize bytes as SQS counts them (body, and each attribute's
// name, type and value as sent). Returns queue.ErrNoQueue for an unknown
// queue, queue.ErrTooLarge for a message over the limit and
// queue.ErrInvalid for anything else out of range. If SQS takes only some
// of the messages, the error says how many were sent: sending the batch
// again may deliver those twice, which consumers absorb (ING-05).
func (q *Queues) Send(ctx context.Context, name string, msgs []queue.Message, delay time.Duration) ([]string, error) {
	if len(msgs) > queue.MaxBatch {
		return nil, fmt.Errorf("sqsqueue: send to %s: %d messages, want at most %d: %w", name, len(msgs), queue.MaxBatch, queue.ErrInvalid)
	}
	if delay < 0 || delay > queue.MaxDelay {
		return nil, fmt.Errorf("sqsqueue: send to %s: delay %v, want 0 to %v: %w", name, delay, queue.MaxDelay, queue.ErrInvalid)
	}
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		attrs, err := EncodeAttributes(m.Attributes)
		if err == nil {
			err = checkText("body", string(m.Body))
		}
		if err != nil {
			return nil, fmt.Errorf("sqsqueue: send to %s: message %d: %w", name, i, err)
		}
		if n := size(m.Body, attrs); n > queue.MaxMessageSize {
			return nil, fmt.Errorf("sqsqueue: send to %s: message %d is %d bytes with its attributes, want at most %d: %w",
				name, i, n, queue.MaxMessageSize, queue.ErrTooLarge)
		}
		entries[i] = types.SendMessageBatchRequestEntry{
			Id:                aws.String(strconv.Itoa(i)),
			MessageBody:       aws.String(string(m.Body)),
			MessageAttributes: attrs,
			DelaySeconds:      int32(seconds(delay)),
		}
	}
	u, err := q.url(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("sqsqueue: send to %s: %w", name, err)
	}
	if len(msgs) == 0 {
		return []string{}, nil
	}
	out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &u, Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("sqsqueue: send to %s: %w", name, mapError(err))
	}
	ids := make([]string, len(msgs))
	for _, ok := range out.Successful {
		if i, err := strconv.Atoi(aws.ToString(ok.Id)); err == nil && i >= 0 && i < len(ids) {
			ids[i] = aws.ToString(ok.MessageId)
		}
	}
	if len(out.Failed) > 0 {
		f := out.Failed[0]
		err := fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		if f.SenderFault {
			err = fmt.Errorf("%w: %w", queue.ErrInvalid, err)
		}
		return nil, fmt.Errorf("sqsqueue: send to %s: %d of %d messages sent, first failure: %w", name, len(out.Successful), len(msgs), err)
	}
	return ids, nil
}

// Receive returns up to max (1 to queue.MaxBatch) visible messages of the
// named queue and hides each for visibility (rounded up to the second; the
// queue's default if zero, at most queue.MaxVisibility). It does not wait,
// and like any SQS receive it samples: an empty answer does not prove the
// queue empty. Returns queue.ErrNoQueue for an unknown queue and
// queue.ErrInvalid for max or visibility out of range.
func (q *Queues) Receive(ctx context.Context, name string, max int, visibility time.Duration) ([]queue.Delivery, error) {
	if max < 1 || max > queue.MaxBatch {
		return nil, fmt.Errorf("sqsqueue: receive from %s: max %d, want 1 to %d: %w", name, max, queue.MaxBatch, queue.ErrInvalid)
	}
	if visibility < 0 || visibility > queue.MaxVisibility {
		return nil, fmt.Errorf("sqsqueue: receive from %s: visibility %v, want 0 to %v: %w", name, visibility, queue.MaxVisibility, queue.ErrInvalid)
	}
	u, err := q.url(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("sqsqueue: receive from %s: %w", name, err)
	}
	in := &sqs.ReceiveMessageInput{
		QueueUrl:            &u,
		MaxNumberOfMessages: int32(max),
		WaitTimeSeconds:     0,
		MessageAttributeNames: []string{
			"All",
		},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp,
		},
	}
	if visibility > 0 {
		in.VisibilityTimeout = int32(seconds(visibility))
	}
	out, err := q.client.ReceiveMessage(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("sqsqueue: receive from %s: %w", name, mapError(err))
	}
	ds := make([]queue.Delivery, 0, len(out.Messages))
	for _, m := range out.Messages {
		attrs, err := DecodeAttributes(m.MessageAttributes)
		if err != nil {
			return nil, fmt.Errorf("sqsqueue: receive from %s: message %s: %w", name, aws.ToString(m.MessageId), err)
		}
		d := queue.Delivery{
			ID:         aws.ToString(m.MessageId),
			Body:       []byte(aws.ToString(m.Body)),
			Attributes: attrs,
			Receipt:    aws.ToString(m.ReceiptHandle),
		}
		d.Receives, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			d.SentAt = time.UnixMilli(ms)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// Delete removes a received message. Returns queue.ErrNoQueue for an
// unknown queue and queue.ErrReceiptNotFound for a receipt SQS does not
// know. SQS accepts a receipt of an earlier receive of the message, and one
// of a message already deleted, as success: Delete then reports success
// too.
func (q *Queues) Delete(ctx context.Context, name, receipt string) error {
	u, err := q.url(ctx, name)
	if err == nil && receipt == "" {
		err = queue.ErrReceiptNotFound
	}
	if err == nil {
		_, err = q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &u, ReceiptHandle: &receipt})
		err = mapError(err)
	}
	if err != nil {
		return fmt.Errorf("sqsqueue: delete from %s: %w", name, err)
	}
	return nil
}

// ChangeVisibility hides a received message for d (rounded up to the
// second) from now; 0 makes it visible at once. Returns queue.ErrNoQueue,
// queue.ErrReceiptNotFound for a receipt SQS does not know or a message not
// in flight, and queue.ErrInvalid for d out of range (SQS also refuses to
// hide a message past 12 hours after its first receive).
func (q *Queues) ChangeVisibility(ctx context.Context, name, receipt string, d time.Duration) error {
	if d < 0 || d > queue.MaxVisibility {
		return fmt.Errorf("sqsqueue: change visibility in %s: %v, want 0 to %v: %w", name, d, queue.MaxVisibility, queue.ErrInvalid)
	}
	u, err := q.url(ctx, name)
	if err == nil && receipt == "" {
		err = queue.ErrReceiptNotFound
	}
	if err == nil {
		_, err = q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl:          &u,
			ReceiptHandle:     &receipt,
			VisibilityTimeout: int32(seconds(d)),
		})
		err = mapError(err)
	}
	if err != nil {
		return fmt.Errorf("sqsqueue: change visibility in %s: %w", name, err)
	}
	return nil
}

// seconds returns d in whole seconds, rounded up.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// mapError maps SQS's errors to the port's. Others pass unchanged.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var noQueue *types.QueueDoesNotExist
	var badReceipt *types.ReceiptHandleIsInvalid
	var notInFlight *types.MessageNotInflight
	var api smithy.APIError
	switch {
	case errors.As(err, &noQueue):
		return queue.ErrNoQueue
	case errors.As(err, &badReceipt), errors.As(err, &notInFlight):
		return queue.ErrReceiptNotFound
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist":
			return queue.ErrNoQueue
		case "ReceiptHandleIsInvalid", "AWS.SimpleQueueService.MessageNotInflight", "MessageNotInflight":
			return queue.ErrReceiptNotFound
		case "InvalidParameterValue", "InvalidParameterValueException", "InvalidMessageContents",
			"InvalidAttributeName", "InvalidAttributeValue", "BatchRequestTooLong", "TooManyEntriesInBatchRequest":
			return fmt.Errorf("%w: %s", queue.ErrInvalid, api.ErrorMessage())
		}
	}
	return err
}
