package sns_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/notifytest"
	"github.com/alto/alto/shared/sns"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// subscribed creates a topic with an SQS queue subscribed to it (raw
// delivery) and returns Alarms on the topic and a function that receives
// what the queue got.
func subscribed(t *testing.T) (*sns.Alarms, func(testing.TB) []notify.Alarm) {
	t.Helper()
	cfg := awstest.Config(t)
	topics, queues := awssns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	arn, err := sns.CreateTopic(t.Context(), topics, awstest.Name(t), awstest.KMSKey(t))
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	q, err := queues.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name(t))})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	qa, err := queues.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	_, err = topics.Subscribe(t.Context(), &awssns.SubscribeInput{
		TopicArn:   &arn,
		Protocol:   aws.String("sqs"),
		Endpoint:   aws.String(qa.Attributes["QueueArn"]),
		Attributes: map[string]string{"RawMessageDelivery": "true"},
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	var raised []notify.Alarm
	receive := func(t testing.TB) []notify.Alarm {
		t.Helper()
		for {
			out, err := queues.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatalf("ReceiveMessage: %v", err)
			}
			if len(out.Messages) == 0 {
				return raised
			}
			for _, m := range out.Messages {
				var a notify.Alarm
				var body struct {
					Alarm  string            `json:"alarm"`
					Detail map[string]string `json:"detail"`
				}
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &body); err != nil {
					t.Fatalf("message %q: %v", aws.ToString(m.Body), err)
				}
				a.Name, a.Detail = body.Alarm, body.Detail
				raised = append(raised, a)
				if _, err := queues.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatalf("DeleteMessage: %v", err)
				}
			}
		}
	}
	return sns.New(topics, arn), receive
}

// TestAlarms runs the notify.Alarms contract on SNS, reading what was
// raised from an SQS queue subscribed to the topic.
func TestAlarms(t *testing.T) {
	notifytest.RunAlarms(t, func(t *testing.T) notifytest.AlarmsHarness {
		alarms, raised := subscribed(t)
		return notifytest.AlarmsHarness{Alarms: alarms, Raised: raised}
	})
}

func TestRaise(t *testing.T) {
	alarms, receive := subscribed(t)
	a := notify.Alarm{Name: "dsr.overdue", Detail: map[string]string{"tenant": "acme", "count": "3"}}
	if err := alarms.Raise(t.Context(), a); err != nil {
		t.Fatalf("Raise: %v", err)
	}
	got := receive(t)
	if len(got) != 1 || got[0].Name != a.Name || !maps.Equal(got[0].Detail, a.Detail) {
		t.Fatalf("subscriber got %+v, want %+v", got, a)
	}
	// A name SNS cannot carry in a subject still goes out, in the message.
	odd := notify.Alarm{Name: "überwachung.fällig"}
	if err := alarms.Raise(t.Context(), odd); err != nil {
		t.Fatalf("Raise(%s): %v", odd.Name, err)
	}
	if got := receive(t); len(got) != 2 || got[1].Name != odd.Name {
		t.Errorf("subscriber got %+v, want %s last", got, odd.Name)
	}
}

func TestRaiseInvalid(t *testing.T) {
	alarms, receive := subscribed(t)
	tests := []struct {
		name  string
		alarm notify.Alarm
	}{
		{"long name", notify.Alarm{Name: strings.Repeat("a", sns.MaxNameLen+1)}},
		{"empty detail key", notify.Alarm{Name: "x", Detail: map[string]string{"": "v"}}},
		{"detail not UTF-8", notify.Alarm{Name: "x", Detail: map[string]string{"k": "\xff"}}},
		{"detail too large", notify.Alarm{Name: "x", Detail: map[string]string{"k": strings.Repeat("v", sns.MaxDetailSize)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := alarms.Raise(t.Context(), tt.alarm); !errors.Is(err, notify.ErrInvalid) {
				t.Errorf("Raise error = %v, want notify.ErrInvalid", err)
			}
		})
	}
	if got := receive(t); len(got) != 0 {
		t.Errorf("subscriber got %d messages after invalid alarms, want none", len(got))
	}
}
