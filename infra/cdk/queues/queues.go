// Package queues defines an SQS queue with its dead-letter queue, both
// encrypted with a customer-managed key (ENC-01) and refusing requests
// without TLS (ACC-06), and attaches the queue's consumer with partial batch
// responses (ING-05).
package queues

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// VisibilityFactor is how many consumer timeouts a message stays invisible
// after a receive, as AWS advises for Lambda consumers.
const VisibilityFactor = 6

// Defaults of Props.
const (
	DefaultMaxReceives = 5
	DefaultBatchSize   = 10
)

// Props configures a queue.
type Props struct {
	Key awskms.IKey // encrypts the queue and its dead-letter queue; required
	// Retention is how long an undelivered message lives (SQS allows 1 min
	// to 14 days); zero means SQS's default of 4 days.
	Retention time.Duration
	// DeadLetterRetention is the same for the dead-letter queue; zero means
	// 14 days. A queue with a short retention (RET-01) needs as short a one
	// here, or its failed messages would outlive it.
	DeadLetterRetention time.Duration
	// ConsumerTimeout is the timeout of the function that consumes the
	// queue; the visibility timeout is VisibilityFactor times it. Required.
	ConsumerTimeout time.Duration
	// MaxReceives moves a message to the dead-letter queue after this many
	// receives; zero means DefaultMaxReceives.
	MaxReceives int
}

// Queue holds a queue and its dead-letter queue.
type Queue struct {
	constructs.Construct
	Queue      awssqs.Queue
	DeadLetter awssqs.Queue
	// Visibility is the queue's visibility timeout.
	Visibility time.Duration
}

// NewQueue defines the queue and its dead-letter queue under scope/id. It
// panics when props.ConsumerTimeout is not positive, or when a retention or
// the visibility timeout is out of SQS's range: mistakes in the app.
func NewQueue(scope constructs.Construct, id string, props *Props) Queue {
	if props.ConsumerTimeout <= 0 {
		panic(fmt.Sprintf("queues: %s: consumer timeout %v, want > 0", id, props.ConsumerTimeout))
	}
	retention, dlRetention, receives := props.Retention, props.DeadLetterRetention, props.MaxReceives
	if retention == 0 {
		retention = 4 * 24 * time.Hour
	}
	if dlRetention == 0 {
		dlRetention = 14 * 24 * time.Hour
	}
	if receives == 0 {
		receives = DefaultMaxReceives
	}
	visibility := VisibilityFactor * props.ConsumerTimeout
	if visibility > 12*time.Hour {
		panic(fmt.Sprintf("queues: %s: visibility %v exceeds SQS's 12 h", id, visibility))
	}
	for _, r := range []time.Duration{retention, dlRetention} {
		if r < time.Minute || r > 14*24*time.Hour {
			panic(fmt.Sprintf("queues: %s: retention %v, want 1 min..14 days", id, r))
		}
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	dlq := awssqs.NewQueue(c, jsii.String("DeadLetter"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: props.Key,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     seconds(dlRetention),
	})
	q := awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: props.Key,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     seconds(retention),
		VisibilityTimeout:   seconds(visibility),
		DeadLetterQueue:     &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(receives)},
	})
	return Queue{Construct: c, Queue: q, DeadLetter: dlq, Visibility: visibility}
}

// ConsumeOptions tunes a consumer.
type ConsumeOptions struct {
	// MaxConcurrency bounds the concurrent invocations the queue causes
	// (2..1000); zero leaves it unbounded. This, not reserved concurrency,
	// is how a queue consumer is bounded: a function throttled by reserved
	// concurrency fails receives, which push good messages to the
	// dead-letter queue.
	MaxConcurrency int
}

// Consume makes fn the queue's consumer: batches of DefaultBatchSize with
// partial batch responses (ReportBatchItemFailures), so one bad message
// fails alone. It panics if fn's timeout makes the visibility timeout less
// than VisibilityFactor times it.
func (q Queue) Consume(fn awslambda.Function, opts ConsumeOptions) {
	if t := fn.Timeout(); t != nil && time.Duration(*t.ToSeconds(nil))*time.Second*VisibilityFactor > q.Visibility {
		panic(fmt.Sprintf("queues: %s: visibility %v is less than %d× the consumer's timeout of %vs",
			*q.Node().Path(), q.Visibility, VisibilityFactor, *t.ToSeconds(nil)))
	}
	props := &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(DefaultBatchSize),
		ReportBatchItemFailures: jsii.Bool(true),
	}
	if opts.MaxConcurrency > 0 {
		props.MaxConcurrency = jsii.Number(opts.MaxConcurrency)
	}
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(q.Queue, props))
}

func seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}
