package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/stacktest"
)

// TestPRG02_SweepFunctionFinishesAPurge invokes the function with the
// sample scheduled event, the way EventBridge does, and checks that the
// sweep it runs completes a requested workspace purge.
func TestPRG02_SweepFunctionFinishesAPurge(t *testing.T) {
	w := stacktest.New(t)
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	w.Do(t, "POST", "/v1/contacts", owner, `{"email":"ada@example.com"}`)
	w.Drain(t, ingest.Queue)
	rec := w.Do(t, "POST", "/v1/workspace/purge", owner, `{"confirm":"acme","email":"owner@acme.example"}`)
	if rec.Code != 202 {
		t.Fatalf("purge = %d %s", rec.Code, rec.Body)
	}
	p := stacktest.Decode[purge.Purge](t, rec)
	event, err := os.ReadFile("../../events/scheduled-sweep.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lambda.NewHandler(handler(w.Stack)).Invoke(context.Background(), event); err != nil {
		t.Fatalf("invoke: %v", err)
	}
	got, err := w.Stack.Purges.Get(stacktest.Ctx("acme"), p.ID)
	if err != nil || got.Status != purge.Done || !strings.Contains(got.Log, p.AuditHead) {
		t.Errorf("purge after the sweep = %+v %v, want done with its log", got, err)
	}
	mails, _ := filepath.Glob(filepath.Join(w.Data, "outbox", "*.eml"))
	if len(mails) != 1 {
		t.Fatalf("outbox holds %d e-mails, want the confirmation", len(mails))
	}
	raw, _ := os.ReadFile(mails[0])
	if !strings.Contains(string(raw), "owner@acme.example") || !strings.Contains(string(raw), p.ID) {
		t.Errorf("the confirmation does not name the owner and the purge:\n%s", raw)
	}
}
