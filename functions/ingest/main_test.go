package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/stack"
	"github.com/alto/alto/shared/tenant"
)

// TestING05_IngestFunctionReportsOnlyThePoisonMessage invokes the function
// the way Lambda does with the sample batch in events/: one real
// submission (sealed at test time in place of BODY) and one that can never
// be opened. The good one is stored, the bad one is dead-lettered with its
// reason, and no batch item failure is reported, so nothing is retried.
func TestING05_IngestFunctionReportsOnlyThePoisonMessage(t *testing.T) {
	st, err := stack.Open(stack.Config{Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := tenant.With(context.Background(), "acme")
	p := &ingest.Producer{Queue: st.Queues, Keys: st.Keys}
	if err := p.Send(ctx, []ingest.Submission{{Contact: contact.Contact{Email: "ada@example.com"}, Via: "api", Actor: "u1"}}); err != nil {
		t.Fatal(err)
	}
	ds, err := st.Queues.Receive(ctx, ingest.Queue, 1, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("receive: %d %v", len(ds), err)
	}
	raw, err := os.ReadFile("../../events/sqs-ingress.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(string(ds[0].Body))
	payload := strings.Replace(string(raw), `"BODY"`, string(body), 1)

	out, err := lambda.NewHandler(st.Ingest.HandleSQS).Invoke(context.Background(), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	var res events.SQSEventResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.BatchItemFailures) != 0 {
		t.Errorf("batch item failures = %+v, want none", res.BatchItemFailures)
	}
	got, _, err := st.Contacts.List(ctx, auth.Scope{All: true}, "", 10)
	if err != nil || len(got) != 1 || got[0].Email != "ada@example.com" {
		t.Errorf("contacts = %+v %v, want ada", got, err)
	}
	dead, _ := st.Queues.Receive(ctx, ingest.DeadLetterQueue, 10, time.Minute)
	if len(dead) != 1 || dead[0].Attributes["reason"] == "" {
		t.Errorf("dead letters = %+v, want the poison message with a reason", dead)
	}
}
