// Package queue declares the message-queue port with SQS semantics:
// at-least-once delivery, a delay before first delivery, a visibility timeout
// after each receive, a maximum number of receives after which a message
// moves to its dead-letter queue, and a retention period after which an
// undelivered message is gone.
//
// Producers see only Sender. Consumption belongs to the runtime: the Lambda
// event source mapping in AWS, the local poller (Consumer) on one machine.
// The contract is checked by the suite in package queuetest.
package queue

import (
	"context"
	"errors"
	"time"
)

// Errors returned by queue adapters.
var (
	ErrNoQueue         = errors.New("queue: no such queue")
	ErrTooLarge        = errors.New("queue: message too large")
	ErrReceiptNotFound = errors.New("queue: receipt handle not found or expired")
	ErrInvalid         = errors.New("queue: invalid argument")
)

// Limits shared by every adapter (those of SQS).
const (
	MaxBatch       = 10
	MaxMessageSize = 256 << 10 // body plus attributes
	MaxDelay       = 15 * time.Minute
	MaxVisibility  = 12 * time.Hour
)

// Message is what a producer sends. Body is text (UTF-8), as SQS requires;
// producers encode binary payloads themselves.
type Message struct {
	Body       []byte
	Attributes map[string]string
}

// Delivery is a received message.
type Delivery struct {
	ID         string
	Body       []byte
	Attributes map[string]string
	// Receipt identifies this receive; Delete and ChangeVisibility take it.
	Receipt string
	// Receives counts receives of the message, this one included.
	Receives int
	SentAt   time.Time
}

// Config describes one queue.
type Config struct {
	Name       string
	Retention  time.Duration // an undelivered message older than this is gone
	Visibility time.Duration // default visibility timeout after a receive
	// MaxReceives moves a message to DeadLetter once it has been received
	// this many times without being deleted; 0 means never.
	MaxReceives int
	DeadLetter  string
}

// Sender puts messages on a queue.
type Sender interface {
	// Send puts up to MaxBatch messages on the named queue, each delivered no
	// earlier than delay from now, and returns their IDs in order. Returns
	// ErrNoQueue for an unknown queue and ErrTooLarge (before sending
	// anything) if a message exceeds MaxMessageSize.
	Send(ctx context.Context, queue string, msgs []Message, delay time.Duration) ([]string, error)
}

// Consumer receives messages; the local runtime polls with it.
type Consumer interface {
	// Receive returns up to max (1..MaxBatch) visible messages and hides
	// each for visibility (the queue's default if zero, at most
	// MaxVisibility). It does not wait. Returns ErrNoQueue for an unknown
	// queue and ErrInvalid for max or visibility out of range. A message
	// moved to the dead-letter queue keeps its ID, body, attributes and
	// SentAt; its receive count starts again there.
	Receive(ctx context.Context, queue string, max int, visibility time.Duration) ([]Delivery, error)
	// Delete removes a received message. Returns ErrNoQueue for an unknown
	// queue and ErrReceiptNotFound if the receipt is stale (the message was
	// received again since) or unknown.
	Delete(ctx context.Context, queue, receipt string) error
	// ChangeVisibility hides a received message for d from now (0 makes it
	// visible at once; at most MaxVisibility). Returns ErrNoQueue,
	// ErrReceiptNotFound for a stale receipt, and ErrInvalid for d out of
	// range.
	ChangeVisibility(ctx context.Context, queue, receipt string, d time.Duration) error
}
