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

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/subject"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// TestDSR02_ExportFunctionRunsJobsFromSQS invokes the function the way
// Lambda does with the sample batch in events/: a real access request's
// export job (put in place of BODY) and a job of a kind nobody handles.
// The export finishes with its archive, the unknown job is dead-lettered
// with its reason, and no batch item failure is reported.
func TestDSR02_ExportFunctionRunsJobsFromSQS(t *testing.T) {
	stacktest.Each(t, func(t *testing.T, w *stacktest.World) {
		st := w.Stack
		ctx := stacktest.Ctx("acme")
		c, _ := contact.Normalize(contact.Contact{Email: "ada@example.com", FirstName: "Ada"}, "")
		if _, _, err := st.Contacts.Upsert(ctx, c, "u1", nil); err != nil {
			t.Fatal(err)
		}
		req, err := st.Subjects.Create(ctx, subject.Input{Type: subject.Access, Subject: subject.Ref{Email: "ada@example.com"}}, "u1")
		if err != nil {
			t.Fatal(err)
		}
		ds, err := st.Queues.Receive(ctx, jobs.Queue, 1, time.Minute)
		if err != nil || len(ds) != 1 {
			t.Fatalf("receive: %d %v", len(ds), err)
		}
		out, err := lambda.NewHandler(st.Jobs.HandleSQS).Invoke(context.Background(), stacktest.Event(t, "sqs-jobs.json", "BODY", string(ds[0].Body)))
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
		got, err := st.Subjects.Get(ctx, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != subject.Done || got.Result == nil || got.Result.Contacts != 1 || got.Download == nil {
			t.Errorf("request = %+v, want done with one contact and a download link", got)
		}
		dead, _ := st.Queues.Receive(ctx, jobs.DeadLetterQueue, 10, time.Minute)
		if len(dead) != 1 || !strings.Contains(dead[0].Attributes["reason"], "no handler") {
			t.Errorf("dead letters = %+v, want the unknown job with its reason", dead)
		}
	})
}
