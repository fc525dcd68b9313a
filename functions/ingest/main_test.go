package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/imports"
	"github.com/alto/alto/shared/importtest"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stacktest"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// TestING05_IngestFunctionReportsOnlyThePoisonMessage invokes the function
// the way Lambda does with the sample batch in events/: one real
// submission (sealed at test time in place of BODY) and one that can never
// be opened. The good one is stored, the bad one is dead-lettered with its
// reason, and no batch item failure is reported, so nothing is retried.
func TestING05_IngestFunctionReportsOnlyThePoisonMessage(t *testing.T) {
	stacktest.Each(t, func(t *testing.T, w *stacktest.World) {
		st := w.Stack
		ctx := stacktest.Ctx("acme")
		p := &ingest.Producer{Queue: st.Queues, Keys: st.Keys}
		if err := p.Send(ctx, []ingest.Submission{{Contact: contact.Contact{Email: "ada@example.com"}, Via: "api", Actor: "u1"}}); err != nil {
			t.Fatal(err)
		}
		ds, err := st.Queues.Receive(ctx, ingest.Queue, 1, time.Minute)
		if err != nil || len(ds) != 1 {
			t.Fatalf("receive: %d %v", len(ds), err)
		}
		out, err := lambda.NewHandler(st.HandleIngest).Invoke(context.Background(), stacktest.Event(t, "sqs-ingress.json", "BODY", string(ds[0].Body)))
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
		if got := w.Contacts(t, "acme"); len(got) != 1 || got[0].Email != "ada@example.com" {
			t.Errorf("contacts = %+v, want ada", got)
		}
		dead, _ := st.Queues.Receive(ctx, ingest.DeadLetterQueue, 10, time.Minute)
		if len(dead) != 1 || dead[0].Attributes["reason"] == "" {
			t.Errorf("dead letters = %+v, want the poison message with a reason", dead)
		}
	})
}

// TestING02_IngestFunctionStartsTheParseOfAnUpload invokes the function
// with the sample S3 ObjectCreated event of an uploaded import file (its
// key naming a real import in place of IMPORT_ID), as the imports bucket
// does in AWS: the parse job it queues imports every row.
func TestING02_IngestFunctionStartsTheParseOfAnUpload(t *testing.T) {
	stacktest.Each(t, func(t *testing.T, w *stacktest.World) {
		tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
		rec := w.Do(t, "POST", "/v1/imports", tok, `{"filename":"leads.csv"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("POST /v1/imports = %d %s", rec.Code, rec.Body)
		}
		c := stacktest.Decode[imports.Created](t, rec)
		if _, err := w.Stack.Blobs.Put(stacktest.Ctx("acme"), imports.Key(c.ID), strings.NewReader(importtest.CSV(20, 0))); err != nil {
			t.Fatal(err)
		}
		if _, err := lambda.NewHandler(w.Stack.HandleIngest).Invoke(context.Background(), stacktest.Event(t, "s3-import-created.json", "IMPORT_ID", c.ID)); err != nil {
			t.Fatalf("invoke: %v", err)
		}
		for w.Drain(t, jobs.Queue)+w.Drain(t, ingest.Queue) > 0 {
		}
		got := stacktest.Decode[imports.Import](t, w.Do(t, "GET", "/v1/imports/"+c.ID, tok, ""))
		if got.Status != "done" || got.Accepted != 20 || len(w.Contacts(t, "acme")) != 20 {
			t.Errorf("import after the event = %+v, want done with 20 rows accepted", got)
		}
	})
}

// TestIngestFunctionRefusesOtherEvents checks that an event of another
// source is an error, not a silent success.
func TestIngestFunctionRefusesOtherEvents(t *testing.T) {
	w := stacktest.New(t)
	_, err := lambda.NewHandler(w.Stack.HandleIngest).Invoke(context.Background(), stacktest.Event(t, "scheduled-sweep.json"))
	if err == nil {
		t.Error("a scheduled event was taken as an ingest event")
	}
}
