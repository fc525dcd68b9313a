package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/tenant"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// TestINC01_ScheduledEventSendsHeldNotice invokes the function with the
// sample EventBridge event the way the Lambda runtime does: a notice held
// until 10:30 goes out on the first tick at or after it, once.
func TestINC01_ScheduledEventSendsHeldNotice(t *testing.T) {
	stacktest.Each(t, func(t *testing.T, w *stacktest.World) {
		st := w.Stack
		now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
		w.Clock.Set(now)
		acme := stacktest.Ctx("acme")
		if err := st.Orgs.Register(acme, "acme"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Incidents.SetNotificationSettings(acme, "u1", incident.SettingsInput{Emails: []string{"owner@acme.example"}}); err != nil {
			t.Fatal(err)
		}
		_, err := st.Incidents.Open(context.Background(), "sec-1", incident.Draft{Title: "Token leak", Severity: incident.High,
			DetectedAt: now, Affected: incident.Affected{Orgs: []tenant.ID{"acme"}},
			HoldReason: "law enforcement request 12", HoldUntil: now.Add(90 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}

		raw := stacktest.Event(t, "scheduled-sla.json")
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(raw, &ev); err != nil || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
			t.Fatalf("sample event = %+v, %v; want a scheduled event", ev, err)
		}
		h := lambda.NewHandler(handler(st.Incidents))
		invoke := func(at time.Time) {
			t.Helper()
			w.Clock.Set(at)
			out, err := h.Invoke(context.Background(), raw)
			if err != nil {
				t.Fatalf("invoke at %s: %v (%s)", at.Format(time.Kitchen), err, out)
			}
		}
		notices := func() int {
			n := 0
			for _, m := range w.Mail(t) {
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
	})
}

func TestSLAScheduleIsWired(t *testing.T) {
	w := stacktest.New(t)
	for _, s := range w.Stack.Schedules() {
		if s.Name == "sla" {
			if s.Every != 15*time.Minute {
				t.Errorf("sla every %s, want 15m", s.Every)
			}
			return
		}
	}
	t.Error("the stack has no sla schedule")
}
