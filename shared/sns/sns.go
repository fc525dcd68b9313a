// Package sns is the notify.Alarms on Amazon SNS: each alarm is published
// to one topic that the operators subscribe to (e-mail, chat, paging).
//
// A message is JSON:
//
//	{"alarm": "dsr.overdue", "detail": {"tenant": "acme", "count": "3"}}
//
// with the subject "alto alarm: <name>" and a String message attribute
// "alarm" holding the name, so subscriptions can filter by alarm.
package sns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/alto/alto/shared/notify"
)

// Limits of an alarm.
const (
	// MaxNameLen is the longest alarm name, in bytes (that of the embedded
	// Alarms).
	MaxNameLen = 128
	// MaxDetailSize bounds the JSON of an alarm, far below SNS's 256 KiB:
	// an alarm carries identifiers and counts, not data.
	MaxDetailSize = 16 << 10
	// maxSubject is SNS's limit on a subject.
	maxSubject    = 100
	subjectPrefix = "alto alarm: "
)

// Client is the part of *sns.Client that Alarms uses.
type Client interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Alarms publishes alarms to one SNS topic. It may be used concurrently.
type Alarms struct {
	client Client
	topic  string
}

var _ notify.Alarms = (*Alarms)(nil)

// New returns Alarms publishing to the topic with ARN topicARN.
func New(client Client, topicARN string) *Alarms {
	return &Alarms{client: client, topic: topicARN}
}

// message is the JSON body of an alarm.
type message struct {
	Alarm  string            `json:"alarm"`
	Detail map[string]string `json:"detail,omitempty"`
}

// Raise publishes a to the topic, with the subject "alto alarm: <name>"
// when that fits SNS's subject rules (printable ASCII, 100 characters) and
// "alto alarm" otherwise. Returns notify.ErrInvalid, as the embedded Alarms
// does, for a name that is empty, longer than MaxNameLen or holds spaces or
// control characters, or for an empty detail key; also for a name or
// detail that is not UTF-8 or a message over MaxDetailSize. SNS's errors
// are returned wrapped.
func (s *Alarms) Raise(ctx context.Context, a notify.Alarm) error {
	if err := checkName(a.Name); err != nil {
		return fmt.Errorf("sns: raise: %w", err)
	}
	for k, v := range a.Detail {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("sns: raise %s: detail key empty or detail not UTF-8: %w", a.Name, notify.ErrInvalid)
		}
	}
	body, err := json.Marshal(message{Alarm: a.Name, Detail: a.Detail})
	if err != nil {
		return fmt.Errorf("sns: raise %s: %w", a.Name, err)
	}
	if len(body) > MaxDetailSize {
		return fmt.Errorf("sns: raise %s: message is %d bytes, want at most %d: %w", a.Name, len(body), MaxDetailSize, notify.ErrInvalid)
	}
	subject := subjectPrefix + a.Name
	if len(subject) > maxSubject || !printableASCII(a.Name) {
		subject = strings.TrimSuffix(subjectPrefix, ": ")
	}
	_, err = s.client.Publish(ctx, &sns.PublishInput{
		TopicArn: &s.topic,
		Subject:  &subject,
		Message:  aws.String(string(body)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"alarm": {DataType: aws.String("String"), StringValue: aws.String(a.Name)},
		},
	})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "InvalidParameter" {
			err = fmt.Errorf("%w: %w", notify.ErrInvalid, err)
		}
		return fmt.Errorf("sns: raise %s: %w", a.Name, err)
	}
	return nil
}

func checkName(name string) error {
	switch {
	case name == "" || len(name) > MaxNameLen:
		return fmt.Errorf("alarm name of %d bytes, want 1 to %d: %w", len(name), MaxNameLen, notify.ErrInvalid)
	case !utf8.ValidString(name):
		return fmt.Errorf("alarm name is not UTF-8: %w", notify.ErrInvalid)
	case strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("alarm name has a space or control character: %w", notify.ErrInvalid)
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// CreateTopic creates the alarm topic, as the CDK stack does, encrypted
// with kmsKeyID if set (ENC-01), and returns its ARN. It is for tests and
// for running the stack against an AWS-compatible server.
func CreateTopic(ctx context.Context, client *sns.Client, name, kmsKeyID string) (string, error) {
	in := &sns.CreateTopicInput{Name: &name}
	if kmsKeyID != "" {
		in.Attributes = map[string]string{"KmsMasterKeyId": kmsKeyID}
	}
	out, err := client.CreateTopic(ctx, in)
	if err != nil {
		return "", fmt.Errorf("sns: create topic %s: %w", name, err)
	}
	return aws.ToString(out.TopicArn), nil
}
