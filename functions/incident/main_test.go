package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/stack"
	"github.com/alto/alto/shared/tenant"
)

// TestINC01_ScheduledEventSendsHeldNotice invokes the function with the
// sample EventBridge event the way the Lambda runtime does: a notice held
// until 10:30 goes out on the first tick at or after it, once.
func TestINC01_ScheduledEventSendsHeldNotice(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st, err := stack.Open(stack.Config{Data: t.TempDir(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acme := tenant.With(context.Background(), "acme")
	if err := st.Orgs.Register(acme, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Incidents.SetNotificationSettings(acme, "u1", incident.SettingsInput{Emails: []string{"owner@acme.example"}}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Incidents.Open(context.Background(), "sec-1", incident.Draft{Title: "Token leak", Severity: incident.High,
		DetectedAt: now, Affected: incident.Affected{Orgs: []tenant.ID{"acme"}},
		HoldReason: "law enforcement request 12", HoldUntil: now.Add(90 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile("../../events/scheduled-sla.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(raw, &ev); err != nil || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
		t.Fatalf("sample event = %+v, %v; want a scheduled event", ev, err)
	}
	h := lambda.NewHandler(handler(st.Incidents))
	invoke := func(at time.Time) {
		t.Helper()
		mu.Lock()
		now = at
		mu.Unlock()
		out, err := h.Invoke(context.Background(), raw)
		if err != nil {
			t.Fatalf("invoke at %s: %v (%s)", at.Format(time.Kitchen), err, out)
		}
	}
	notices := func() int {
		msgs, err := st.Outbox.Messages()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range msgs {
			if slices.Contains(m.To, "owner@acme.example") {
				n++
			}
		}
		return n
	}
	invoke(ev.Time) // 10:15, still held
	if n := notices(); n != 0 {
		t.Fatalf("under the hold: %d notices, want 0", n)
	}
	invoke(ev.Time.Add(15 * time.Minute)) // 10:30, the hold has ended
	invoke(ev.Time.Add(30 * time.Minute))
	if n := notices(); n != 1 {
		t.Errorf("after the hold: %d notices, want exactly 1", n)
	}
}

func TestSLAScheduleIsWired(t *testing.T) {
	st, err := stack.Open(stack.Config{Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, s := range st.Schedules() {
		if s.Name == "sla" {
			if s.Every != 15*time.Minute {
				t.Errorf("sla every %s, want 15m", s.Every)
			}
			return
		}
	}
	t.Error("the stack has no sla schedule")
}
