package main

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/stacktest"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// TestPER05_PersonalizeFunctionDraftsOnceFromTheSampleEvent invokes the
// function twice with the sample event (its body replaced by a real job),
// the way Lambda delivers a batch again: one draft, no failures.
func TestPER05_PersonalizeFunctionDraftsOnceFromTheSampleEvent(t *testing.T) {
	stacktest.Each(t, func(t *testing.T, w *stacktest.World) {
		owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
		w.Do(t, "POST", "/v1/contacts", owner, `{"email":"ada@example.com","firstName":"Ada","consent":{"email":"granted"}}`)
		w.Drain(t, ingest.Queue)
		rec := w.Do(t, "POST", "/v1/campaigns", owner, `{"name":"n","channel":"email","template":"Hi {{.FirstName}}",
			"sender":{"name":"Acme","postalAddress":"1 Market St, San Francisco"},"reason":"you asked"}`)
		camp := stacktest.Decode[campaign.Campaign](t, rec)
		w.Do(t, "POST", "/v1/campaigns/"+camp.ID+"/enqueue", owner, `{"all":true}`)
		ds, err := w.Stack.Queues.Receive(stacktest.Ctx("acme"), campaign.Queue, 1, time.Minute)
		if err != nil || len(ds) != 1 {
			t.Fatalf("receive: %d %v", len(ds), err)
		}
		payload := stacktest.Event(t, "sqs-personalization.json", "BODY", string(ds[0].Body))
		for i := 0; i < 2; i++ {
			out, err := lambda.NewHandler(w.Stack.Campaigns.HandleSQS).Invoke(context.Background(), payload)
			if err != nil {
				t.Fatal(err)
			}
			var res events.SQSEventResponse
			json.Unmarshal(out, &res)
			if len(res.BatchItemFailures) != 0 {
				t.Fatalf("delivery %d: failures %+v", i, res.BatchItemFailures)
			}
		}
		drafts, _, err := w.Stack.Campaigns.Drafts(stacktest.Ctx("acme"), auth.Scope{All: true}, camp.ID, "", 10)
		if err != nil || len(drafts) != 1 || drafts[0].Body != "Hi Ada" {
			t.Errorf("drafts = %+v %v, want one saying Hi Ada", drafts, err)
		}
	})
}
