package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/stacktest"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// TestPRG02_SweepFunctionFinishesAPurge invokes the function with the
// sample scheduled event, the way EventBridge does, and checks that the
// sweep it runs completes a requested workspace purge: every item of the
// tenant deleted (on DynamoDB by scanning for its keys), and the owner
// e-mailed the confirmation.
func TestPRG02_SweepFunctionFinishesAPurge(t *testing.T) {
	stacktest.Each(t, func(t *testing.T, w *stacktest.World) {
		owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
		w.Do(t, "POST", "/v1/contacts", owner, `{"email":"ada@example.com"}`)
		w.Drain(t, ingest.Queue)
		rec := w.Do(t, "POST", "/v1/workspace/purge", owner, `{"confirm":"acme","email":"owner@acme.example"}`)
		if rec.Code != 202 {
			t.Fatalf("purge = %d %s", rec.Code, rec.Body)
		}
		p := stacktest.Decode[purge.Purge](t, rec)
		if _, err := lambda.NewHandler(handler(w.Stack)).Invoke(context.Background(), stacktest.Event(t, "scheduled-sweep.json")); err != nil {
			t.Fatalf("invoke: %v", err)
		}
		got, err := w.Stack.Purges.Get(stacktest.Ctx("acme"), p.ID)
		if err != nil || got.Status != purge.Done || !strings.Contains(got.Log, p.AuditHead) || got.Deleted["items"] == 0 {
			t.Errorf("purge after the sweep = %+v %v, want done with its log", got, err)
		}
		if n, err := w.Stack.Store.DeleteTenant(stacktest.Ctx("acme"), 1000); err != nil || n != 0 {
			t.Errorf("items of the purged tenant left: %d %v, want none", n, err)
		}
		var sent []string
		for _, m := range w.Mail(t) {
			if slices.Contains(m.To, "owner@acme.example") && strings.Contains(m.Text, p.ID) {
				sent = append(sent, m.Subject)
			}
		}
		if len(sent) != 1 {
			t.Errorf("confirmations to the owner naming the purge: %q, want one", sent)
		}
	})
}
