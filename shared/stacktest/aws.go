package stacktest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go/middleware"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/clocktest"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/provision"
	"github.com/alto/alto/shared/stack"
)

// NewAWS opens the stack on the AWS adapters over fresh resources (made by
// provision.Create) on the test binary's AWS-compatible server, so its
// TestMain must call awstest.Main. configure, if given, adjusts the
// clients' configuration first (to count calls, say). The clock starts now
// and drives what the stack decides (expiry in the store, due dates); the
// server keeps its own time for queue delays and signed URLs.
func NewAWS(t testing.TB, configure ...func(*aws.Config)) *World {
	t.Helper()
	cfg := awstest.Config(t)
	sent := &sentMail{}
	sent.record(&cfg)
	for _, c := range configure {
		c(&cfg)
	}
	res, err := provision.Create(t.Context(), awstest.Config(t), awstest.Name(t))
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.At(time.Now().UTC().Truncate(time.Second))
	data := t.TempDir()
	st, err := stack.OpenAWS(stack.Config{Data: data, Now: clk.Now, BaseURL: "https://alto.example"}, cfg, res)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &World{Stack: st, Clock: clk, Data: data, AWS: res, sent: sent}
}

// Each runs test on each adapter family, as the subtests "embedded" (a
// world of New) and "AWS" (of NewAWS: the test binary's TestMain calls
// awstest.Main).
func Each(t *testing.T, test func(t *testing.T, w *World)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) { test(t, New(t)) })
	t.Run("AWS", func(t *testing.T) { test(t, NewAWS(t)) })
}

// Mail returns the e-mail the world's stack sent, oldest first: the
// outbox folder's messages on one machine, what SES accepted on AWS.
func (w *World) Mail(t testing.TB) []notify.Email {
	t.Helper()
	if w.sent != nil {
		return w.sent.list()
	}
	if w.Stack.Outbox == nil {
		t.Fatal("stacktest: the stack has neither an outbox nor recorded SES sends")
	}
	msgs, err := w.Stack.Outbox.Messages()
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// sentMail records the messages SES accepted from a client configuration
// (the AWS-compatible server keeps them, but cannot always show them).
type sentMail struct {
	mu   sync.Mutex
	msgs []notify.Email
}

func (s *sentMail) record(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("stacktest-sent-mail",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if m, ok := in.Parameters.(*sesv2.SendEmailInput); ok && err == nil {
					e := notify.Email{}
					if m.Destination != nil {
						e.To = m.Destination.ToAddresses
					}
					if m.Content != nil && m.Content.Simple != nil {
						if m.Content.Simple.Subject != nil {
							e.Subject = aws.ToString(m.Content.Simple.Subject.Data)
						}
						if m.Content.Simple.Body != nil && m.Content.Simple.Body.Text != nil {
							e.Text = aws.ToString(m.Content.Simple.Body.Text.Data)
						}
					}
					s.mu.Lock()
					s.msgs = append(s.msgs, e)
					s.mu.Unlock()
				}
				return out, md, err
			}), middleware.After)
	})
}

func (s *sentMail) list() []notify.Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Event returns the sample event events/<name> of the repository, each
// placeholder of replace (pairs of placeholder and value, such as "BODY",
// body, "TOKEN", token) replaced by its value escaped for a JSON string,
// ready for lambda.NewHandler(h).Invoke.
func Event(t testing.TB, name string, replace ...string) []byte {
	t.Helper()
	if len(replace)%2 != 0 {
		t.Fatalf("stacktest: Event(%s): placeholders and values go in pairs", name)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("stacktest: Event(%s): no go.mod above the test's folder", name)
		}
		dir = parent
	}
	raw, err := os.ReadFile(filepath.Join(dir, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	event := string(raw)
	for i := 0; i < len(replace); i += 2 {
		if !strings.Contains(event, replace[i]) {
			t.Fatalf("stacktest: Event(%s) has no %s", name, replace[i])
		}
		quoted, _ := json.Marshal(replace[i+1])
		event = strings.ReplaceAll(event, replace[i], string(quoted[1:len(quoted)-1]))
	}
	return []byte(event)
}
