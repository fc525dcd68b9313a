package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/tenant"
)

func openQueues(t *testing.T) *bolt.Queue {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "alto.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q, err := db.Queues(jobs.Queues()...)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestQueuesKeepJobsFourDaysAndDeadLetterAfterFiveTries(t *testing.T) {
	cfgs := jobs.Queues()
	if len(cfgs) != 2 {
		t.Fatalf("queues = %+v, want jobs and its dead-letter queue", cfgs)
	}
	q, dlq := cfgs[0], cfgs[1]
	if q.Name != jobs.Queue || q.Retention != 4*24*time.Hour || q.MaxReceives != 5 || q.DeadLetter != dlq.Name ||
		q.Visibility < 15*time.Minute || q.Visibility > queue.MaxVisibility {
		t.Errorf("jobs queue = %+v", q)
	}
	if dlq.Name != jobs.DeadLetterQueue || dlq.Retention < q.Retention {
		t.Errorf("dead-letter queue = %+v", dlq)
	}
}

func TestProducerSendsIdentifiersOnly(t *testing.T) {
	q := openQueues(t)
	p := &jobs.Producer{Queue: q}
	ctx := tenant.With(context.Background(), "acme")
	if err := p.Send(ctx, "subject-export", "dsr_1"); err != nil {
		t.Fatal(err)
	}
	ds, err := q.Receive(ctx, jobs.Queue, 10, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("receive = %v, %v; want one job", ds, err)
	}
	var got map[string]any
	json.Unmarshal(ds[0].Body, &got)
	want := map[string]any{"v": 1.0, "org": "acme", "kind": "subject-export", "id": "dsr_1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("body = %s, want exactly %v", ds[0].Body, want)
	}
	if ds[0].Attributes["org"] != "acme" || ds[0].Attributes["kind"] != "subject-export" {
		t.Errorf("attributes = %v", ds[0].Attributes)
	}
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		kind, id string
	}{
		{"no tenant", context.Background(), "subject-export", "x"},
		{"bad kind", ctx, "Subject Export", "x"},
		{"bad id", ctx, "subject-export", "a/b"},
		{"empty id", ctx, "subject-export", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := p.Send(tc.ctx, tc.kind, tc.id); err == nil {
				t.Error("Send succeeded, want an error")
			}
		})
	}
}

func message(id, body string, receives int) events.SQSMessage {
	return events.SQSMessage{MessageId: id, Body: body, Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives)}}
}

// TestDispatcherRoutesByKind runs one batch with a job for each outcome:
// handled, retried, permanently failed, of an unknown kind, unreadable.
func TestDispatcherRoutesByKind(t *testing.T) {
	q := openQueues(t)
	type call struct {
		org  tenant.ID
		job  jobs.Job
		last bool
	}
	var calls []call
	d := &jobs.Dispatcher{Dead: q}
	d.Handle("ok", func(ctx context.Context, j jobs.Job) error {
		org, _ := tenant.From(ctx)
		calls = append(calls, call{org, j, j.Last()})
		return nil
	})
	d.Handle("flaky", func(ctx context.Context, j jobs.Job) error { return errors.New("store busy") })
	d.Handle("doomed", func(ctx context.Context, j jobs.Job) error {
		return fmt.Errorf("%w: the recipient key expired", jobs.ErrPermanent)
	})
	ev := events.SQSEvent{Records: []events.SQSMessage{
		message("m-ok", `{"v":1,"org":"acme","kind":"ok","id":"a1"}`, 5),
		message("m-flaky", `{"v":1,"org":"acme","kind":"flaky","id":"a2"}`, 1),
		message("m-doomed", `{"v":1,"org":"acme","kind":"doomed","id":"a3"}`, 1),
		message("m-unknown", `{"v":1,"org":"acme","kind":"nobody","id":"a4"}`, 1),
		message("m-garbage", `{"v":2,"org":"acme"}`, 1),
		message("m-badorg", `{"v":1,"org":"../x","kind":"ok","id":"a5"}`, 1),
	}}
	res, err := d.HandleSQS(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BatchItemFailures) != 1 || res.BatchItemFailures[0].ItemIdentifier != "m-flaky" {
		t.Errorf("batch item failures = %+v, want only m-flaky", res.BatchItemFailures)
	}
	if len(calls) != 1 || calls[0].org != "acme" || calls[0].job.ID != "a1" || calls[0].job.Attempt != 5 || !calls[0].last {
		t.Errorf("calls = %+v, want a1 in acme on its last attempt", calls)
	}
	dead, err := q.Receive(tenant.With(context.Background(), "acme"), jobs.DeadLetterQueue, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, m := range dead {
		reasons[string(m.Body)] = m.Attributes["reason"]
	}
	for body, want := range map[string]string{
		`{"v":1,"org":"acme","kind":"doomed","id":"a3"}`: "jobs: permanent failure: the recipient key expired",
		`{"v":1,"org":"acme","kind":"nobody","id":"a4"}`: "jobs: permanent failure: no handler for kind nobody",
		`{"v":2,"org":"acme"}`:                           "jobs: permanent failure: not a job",
		`{"v":1,"org":"../x","kind":"ok","id":"a5"}`:     "jobs: permanent failure: not a job",
	} {
		if got := reasons[body]; got != want {
			t.Errorf("dead letter %s: reason %q, want %q", body, got, want)
		}
	}
	if len(dead) != 4 {
		t.Errorf("dead letters = %d, want 4", len(dead))
	}
}

func TestHandleRefusesWiringMistakes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kinds []string
	}{
		{"duplicate", []string{"x", "x"}},
		{"malformed", []string{"Bad Kind"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Handle did not panic")
				}
			}()
			var d jobs.Dispatcher
			for _, k := range tc.kinds {
				d.Handle(k, func(context.Context, jobs.Job) error { return nil })
			}
		})
	}
}
