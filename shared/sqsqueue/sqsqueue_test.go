package sqsqueue_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/queuetest"
	"github.com/alto/alto/shared/sqsqueue"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// newQueues creates the queues of cfgs under a fresh prefix and returns
// the adapter over them with the SQS client and the prefix.
func newQueues(t *testing.T, cfgs []queue.Config) (*sqsqueue.Queues, *sqs.Client, string) {
	t.Helper()
	client := sqs.NewFromConfig(awstest.Config(t))
	prefix := awstest.Name(t) + "-"
	if err := sqsqueue.CreateQueues(t.Context(), client, prefix, "", cfgs); err != nil {
		t.Fatalf("CreateQueues: %v", err)
	}
	return sqsqueue.New(client, sqsqueue.Options{Prefix: prefix}), client, prefix
}

// queueLimitations are the queue contract's subtests SQS itself does not
// honour: the contract asks more of receipts than SQS promises.
var queueLimitations = awstest.Limitations{
	"SendReceiveDelete": "SQS (and moto 5.2.1 with it) accepts deleting an already deleted message as success, " +
		"where the contract wants ErrReceiptNotFound; the rest of the subtest is TestSendReceiveDelete",
	"StaleReceipt": "SQS (and moto 5.2.1 with it) accepts the receipt of an earlier receive of a message for Delete and " +
		"ChangeVisibility; the contract wants ErrReceiptNotFound. Consumers delete right after handling a message, so an " +
		"older receipt deleting a redelivered message only saves a duplicate, which handlers absorb anyway (ING-05)",
	"ConcurrentReceivers": "SQS standard queues deliver at least once: concurrent receivers may both get a message " +
		"(moto 5.2.1's threaded server does so under this load), where the contract wants each delivered once; " +
		"TestConcurrentReceiversLoseNothing checks that none is lost",
}

// TestQueue runs the queue contract on SQS. moto keeps real time, so the
// subtests that advance the clock are skipped, and there is no storage to
// reopen.
func TestQueue(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, cfgs []queue.Config) queuetest.Harness {
		queueLimitations.Skip(t)
		q, _, _ := newQueues(t, cfgs)
		return queuetest.Harness{Queues: q}
	})
}

var workQueue = []queue.Config{{Name: "work", Retention: time.Hour, Visibility: 30 * time.Second}}

// TestSendReceiveDelete is the contract's SendReceiveDelete as far as SQS
// honours it: a deleted message is gone, and deleting again is no error.
func TestSendReceiveDelete(t *testing.T) {
	q, _, _ := newQueues(t, workQueue)
	ctx := t.Context()
	ids, err := q.Send(ctx, "work", []queue.Message{{Body: []byte("a")}, {Body: []byte("b")}}, 0)
	if err != nil || len(ids) != 2 || ids[0] == "" || ids[0] == ids[1] {
		t.Fatalf("Send = %q, %v; want two distinct IDs", ids, err)
	}
	ds, err := q.Receive(ctx, "work", 10, 0)
	if err != nil || len(ds) != 2 {
		t.Fatalf("Receive = %d messages, %v; want 2", len(ds), err)
	}
	for _, d := range ds {
		if d.Receives != 1 || d.Receipt == "" || time.Since(d.SentAt).Abs() > time.Minute {
			t.Errorf("delivery %s: Receives %d, Receipt %q, SentAt %v; want 1, a receipt, about now", d.Body, d.Receives, d.Receipt, d.SentAt)
		}
		for range 2 {
			if err := q.Delete(ctx, "work", d.Receipt); err != nil {
				t.Errorf("Delete(%s): %v", d.Body, err)
			}
		}
	}
	if err := q.ChangeVisibility(ctx, "work", ds[0].Receipt, 0); !errors.Is(err, queue.ErrReceiptNotFound) {
		t.Errorf("ChangeVisibility of a deleted message: error = %v, want ErrReceiptNotFound", err)
	}
	if ds, err := q.Receive(ctx, "work", 10, 0); err != nil || len(ds) != 0 {
		t.Errorf("Receive after Delete = %d messages, %v; want none", len(ds), err)
	}
}

func TestAttributesRoundTrip(t *testing.T) {
	q, _, _ := newQueues(t, workQueue)
	attrs := map[string]string{
		"tenant":         "acme",
		"ünï":            "cödé",
		"empty":          "",
		"":               "no name",
		"AWS.reserved":   "x",
		"a..b":           "y",
		".dot":           "z",
		"alto-esc-plain": "looks escaped",
		"control":        "bell\x07",
		"with space":     "v",
	}
	if _, err := q.Send(t.Context(), "work", []queue.Message{{Body: []byte("m"), Attributes: attrs}}, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	ds, err := q.Receive(t.Context(), "work", 1, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Receive = %d messages, %v; want 1", len(ds), err)
	}
	if !maps.Equal(ds[0].Attributes, attrs) {
		t.Errorf("Attributes = %q, want %q", ds[0].Attributes, attrs)
	}

	// Lambda's event source delivers the same attributes in its own types.
	encoded, err := sqsqueue.EncodeAttributes(attrs)
	if err != nil {
		t.Fatalf("EncodeAttributes: %v", err)
	}
	msg := events.SQSMessage{MessageAttributes: map[string]events.SQSMessageAttribute{}}
	for name, v := range encoded {
		msg.MessageAttributes[name] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue}
	}
	got, err := sqsqueue.EventAttributes(msg)
	if err != nil || !maps.Equal(got, attrs) {
		t.Errorf("EventAttributes = %q, %v; want %q", got, err, attrs)
	}
	if encoded["tenant"].StringValue == nil || *encoded["tenant"].StringValue != "acme" {
		t.Errorf("plain attribute tenant encoded as %+v, want the String acme", encoded["tenant"])
	}
}

func TestSendChecksBeforeSending(t *testing.T) {
	q, _, _ := newQueues(t, workQueue)
	eleven := map[string]string{}
	for i := range 11 {
		eleven[strings.Repeat("a", i+1)] = "v"
	}
	// Escaping makes a message near the limit too large.
	near := queue.Message{Body: []byte(strings.Repeat("x", queue.MaxMessageSize-40)), Attributes: map[string]string{"ünï": "cödé"}}
	tests := []struct {
		name string
		msg  queue.Message
		want error
	}{
		{"binary body", queue.Message{Body: []byte{0, 1, 2}}, queue.ErrInvalid},
		{"invalid UTF-8", queue.Message{Body: []byte{0xff, 'a'}}, queue.ErrInvalid},
		{"eleven attributes", queue.Message{Body: []byte("m"), Attributes: eleven}, queue.ErrInvalid},
		{"long escaped name", queue.Message{Body: []byte("m"), Attributes: map[string]string{strings.Repeat("ü", 100): "v"}}, queue.ErrInvalid},
		{"too large once escaped", near, queue.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := queue.Message{Body: []byte("fine")}
			if _, err := q.Send(t.Context(), "work", []queue.Message{ok, tt.msg}, 0); !errors.Is(err, tt.want) {
				t.Errorf("Send error = %v, want %v", err, tt.want)
			}
		})
	}
	if ds, err := q.Receive(t.Context(), "work", 10, 0); err != nil || len(ds) != 0 {
		t.Errorf("Receive after refused sends = %d messages, %v; want none", len(ds), err)
	}
}

// TestING05_PoisonMessageMovesToDeadLetterQueue checks the redrive policy
// CreateQueues gives a queue from its queue.Config, and that a message
// received MaxReceives times without being deleted lands in the dead-letter
// queue with its body and attributes.
func TestING05_PoisonMessageMovesToDeadLetterQueue(t *testing.T) {
	cfgs := []queue.Config{
		{Name: "ingress", Retention: 24 * time.Hour, Visibility: time.Minute, MaxReceives: 3, DeadLetter: "ingress-dlq"},
		{Name: "ingress-dlq", Retention: 14 * 24 * time.Hour, Visibility: time.Minute},
	}
	q, client, prefix := newQueues(t, cfgs)
	url, err := client.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + "ingress")})
	if err != nil {
		t.Fatalf("GetQueueUrl: %v", err)
	}
	attrs, err := client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl:       url.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	var policy struct {
		Target string `json:"deadLetterTargetArn"`
		Max    any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(attrs.Attributes["RedrivePolicy"]), &policy); err != nil {
		t.Fatalf("RedrivePolicy %q: %v", attrs.Attributes["RedrivePolicy"], err)
	}
	if !strings.HasSuffix(policy.Target, ":"+prefix+"ingress-dlq") || (policy.Max != 3.0 && policy.Max != "3") {
		t.Errorf("RedrivePolicy = %+v, want the dead-letter queue after 3 receives", policy)
	}
	for name, want := range map[string]string{"MessageRetentionPeriod": "86400", "VisibilityTimeout": "60"} {
		if got := attrs.Attributes[name]; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	msg := queue.Message{Body: []byte("poison"), Attributes: map[string]string{"tenant": "acme"}}
	if _, err := q.Send(t.Context(), "ingress", []queue.Message{msg}, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	for i := range 3 {
		ds, err := q.Receive(t.Context(), "ingress", 1, 0)
		if err != nil || len(ds) != 1 {
			t.Fatalf("receive %d = %d messages, %v; want 1", i+1, len(ds), err)
		}
		if err := q.ChangeVisibility(t.Context(), "ingress", ds[0].Receipt, 0); err != nil {
			t.Fatalf("ChangeVisibility: %v", err)
		}
	}
	if ds, err := q.Receive(t.Context(), "ingress", 10, 0); err != nil || len(ds) != 0 {
		t.Errorf("fourth receive = %d messages, %v; want none", len(ds), err)
	}
	dead, err := q.Receive(t.Context(), "ingress-dlq", 10, 0)
	if err != nil || len(dead) != 1 || string(dead[0].Body) != "poison" || !maps.Equal(dead[0].Attributes, msg.Attributes) {
		t.Fatalf("dead-letter queue = %+v, %v; want the poison message with its attributes", dead, err)
	}
}

func TestCreateQueuesRefusesBadConfig(t *testing.T) {
	client := sqs.NewFromConfig(awstest.Config(t))
	tests := []struct {
		name string
		cfgs []queue.Config
	}{
		{"retention too short", []queue.Config{{Name: "q", Retention: time.Second}}},
		{"retention too long", []queue.Config{{Name: "q", Retention: 15 * 24 * time.Hour}}},
		{"visibility too long", []queue.Config{{Name: "q", Retention: time.Hour, Visibility: 13 * time.Hour}}},
		{"missing dead-letter queue", []queue.Config{{Name: "q", Retention: time.Hour, MaxReceives: 2, DeadLetter: "dlq"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := sqsqueue.CreateQueues(t.Context(), client, awstest.Name(t)+"-", "", tt.cfgs); !errors.Is(err, queue.ErrInvalid) {
				t.Errorf("CreateQueues error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestENC01_QueuesEncryptedWithKMSKey(t *testing.T) {
	client := sqs.NewFromConfig(awstest.Config(t))
	key, prefix := awstest.KMSKey(t), awstest.Name(t)+"-"
	if err := sqsqueue.CreateQueues(t.Context(), client, prefix, key, workQueue); err != nil {
		t.Fatalf("CreateQueues: %v", err)
	}
	url, err := client.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + "work")})
	if err != nil {
		t.Fatalf("GetQueueUrl: %v", err)
	}
	attrs, err := client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl:       url.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameKmsMasterKeyId},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	if got := attrs.Attributes["KmsMasterKeyId"]; got != key {
		t.Errorf("KmsMasterKeyId = %q, want %q", got, key)
	}
}

// TestConcurrentReceiversLoseNothing is the contract's ConcurrentReceivers
// as far as SQS promises it: every message reaches some receiver, perhaps
// more than one.
func TestConcurrentReceiversLoseNothing(t *testing.T) {
	q, _, _ := newQueues(t, workQueue)
	const n, receivers = 60, 3
	want := map[string]bool{}
	for batch := range n / queue.MaxBatch {
		msgs := make([]queue.Message, queue.MaxBatch)
		for i := range msgs {
			body := strconv.Itoa(batch*queue.MaxBatch + i)
			msgs[i].Body, want[body] = []byte(body), true
		}
		if _, err := q.Send(t.Context(), "work", msgs, 0); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	var mu sync.Mutex
	got := map[string]bool{}
	var wg sync.WaitGroup
	for range receivers {
		wg.Go(func() {
			for empty := 0; empty < 3; {
				ds, err := q.Receive(t.Context(), "work", queue.MaxBatch, 10*time.Minute)
				if err != nil {
					t.Errorf("Receive: %v", err)
					return
				}
				if len(ds) == 0 {
					empty++
				}
				for _, d := range ds {
					if err := q.Delete(t.Context(), "work", d.Receipt); err != nil {
						t.Errorf("Delete: %v", err)
					}
					mu.Lock()
					got[string(d.Body)] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if !maps.Equal(got, want) {
		t.Errorf("received %d distinct messages, want all %d", len(got), len(want))
	}
}

// TestURLsNameTheOnlyQueues checks Options.URLs, how functions in AWS
// reach the CDK stack's queues: the named queue is reached by its URL, and
// a name not among the URLs is ErrNoQueue even where a queue of that name
// exists (nothing is looked up).
func TestURLsNameTheOnlyQueues(t *testing.T) {
	cfgs := []queue.Config{{Name: "work", Retention: time.Hour}, {Name: "other", Retention: time.Hour}}
	_, client, prefix := newQueues(t, cfgs)
	u, err := client.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + "work")})
	if err != nil {
		t.Fatal(err)
	}
	q := sqsqueue.New(client, sqsqueue.Options{Prefix: prefix, URLs: map[string]string{"jobs": aws.ToString(u.QueueUrl)}})
	if _, err := q.Send(t.Context(), "jobs", []queue.Message{{Body: []byte("a")}}, 0); err != nil {
		t.Fatalf("Send to jobs: %v", err)
	}
	ds, err := q.Receive(t.Context(), "jobs", 1, 0)
	if err != nil || len(ds) != 1 || string(ds[0].Body) != "a" {
		t.Errorf("Receive from jobs = %+v, %v; want the message sent to the work queue's URL", ds, err)
	}
	for _, name := range []string{"other", "work"} {
		if _, err := q.Send(t.Context(), name, []queue.Message{{Body: []byte("b")}}, 0); !errors.Is(err, queue.ErrNoQueue) {
			t.Errorf("Send to %s: %v, want ErrNoQueue", name, err)
		}
	}
}
