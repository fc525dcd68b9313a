package ses_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/notifytest"
	"github.com/alto/alto/shared/ses"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// recording is a real SES client that also remembers, in order, the
// "alto-id" tag of each SendEmail that succeeded: the test server keeps the
// messages but not their tags.
type recording struct {
	*sesv2.Client
	mu  sync.Mutex
	ids []string
}

func (r *recording) SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	out, err := r.Client.SendEmail(ctx, in, opts...)
	if err == nil {
		var id string
		for _, tag := range in.EmailTags {
			if aws.ToString(tag.Name) == "alto-id" {
				raw, _ := base64.RawURLEncoding.DecodeString(aws.ToString(tag.Value))
				id = string(raw)
			}
		}
		r.mu.Lock()
		r.ids = append(r.ids, id)
		r.mu.Unlock()
	}
	return out, err
}

// TestMailer runs the notify.Mailer contract on SES: what was delivered is
// what the test server recorded as sent, with the ID from each message's
// tag.
func TestMailer(t *testing.T) {
	notifytest.RunMailer(t, func(t *testing.T) notifytest.MailerHarness {
		client := &recording{Client: sesv2.NewFromConfig(awstest.Config(t))}
		from := awstest.Name(t) + "@alto.example"
		if _, err := client.CreateEmailIdentity(t.Context(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
			t.Fatalf("CreateEmailIdentity: %v", err)
		}
		m, err := ses.New(client, ses.Options{From: from})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		sent := func(t testing.TB) []notify.Email {
			msgs := sentMessages(t, from)
			client.mu.Lock()
			defer client.mu.Unlock()
			if len(msgs) != len(client.ids) {
				t.Fatalf("server recorded %d messages, client sent %d", len(msgs), len(client.ids))
			}
			out := make([]notify.Email, len(msgs))
			for i, msg := range msgs {
				out[i] = notify.Email{Subject: fmt.Sprint(msg["subject"]), Text: fmt.Sprint(msg["body"]), ID: client.ids[i]}
				if dest, ok := msg["destinations"].(map[string]any); ok {
					to, _ := dest["ToAddresses"].([]any)
					for _, a := range to {
						out[i].To = append(out[i].To, fmt.Sprint(a))
					}
				}
			}
			return out
		}
		return notifytest.MailerHarness{Mailer: m, Sent: sent}
	})
}

// sentMessages returns the messages the test server recorded as sent from
// the address from, as its /moto-api/data.json shows them.
func sentMessages(t testing.TB, from string) []map[string]any {
	t.Helper()
	var data struct {
		SES struct {
			Message []map[string]any `json:"Message"`
		} `json:"ses"`
	}
	body, err := awstest.Get(t, "/moto-api/data.json")
	if err != nil {
		// moto 5.2.1 fails to dump its state while it holds S3 multipart
		// uploads, as a server shared through ALTO_AWS_ENDPOINT may.
		t.Skipf("known limitation: moto cannot show what it sent (%v); the sends themselves succeeded", err)
	}
	if err := json.Unmarshal(body, &data); err != nil {
		t.Fatalf("decode data.json: %v", err)
	}
	var out []map[string]any
	for _, m := range data.SES.Message {
		if m["source"] == from {
			out = append(out, m)
		}
	}
	return out
}

func TestSendUnverifiedSenderIsNotInvalid(t *testing.T) {
	client := sesv2.NewFromConfig(awstest.Config(t))
	m, err := ses.New(client, ses.Options{From: awstest.Name(t) + "@unverified.example"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	err = m.Send(t.Context(), notify.Email{To: []string{"a@customer.example"}, Subject: "s", Text: "t", ID: "x"})
	if err == nil || errors.Is(err, notify.ErrInvalid) {
		t.Fatalf("Send from an unverified sender: error = %v, want a non-ErrInvalid error", err)
	}
	// A failed send is not remembered: the ID may be sent again.
	if err2 := m.Send(t.Context(), notify.Email{To: []string{"a@customer.example"}, Subject: "s", Text: "t", ID: "x"}); err2 == nil {
		t.Errorf("second Send after a failure: nil error, want the send tried (and refused) again")
	}
}

func TestNewRefusesBadSender(t *testing.T) {
	if _, err := ses.New(sesv2.NewFromConfig(awstest.Config(t)), ses.Options{From: "not an address"}); err == nil {
		t.Error("New with a malformed sender: nil error, want one")
	}
}
