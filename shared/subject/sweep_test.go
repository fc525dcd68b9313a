package subject_test

import (
	"context"
	"testing"
	"time"

	"github.com/alto/alto/shared/outbox"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/subject"
	"github.com/alto/alto/shared/tenant"
)

// sweep runs the stack's hourly sweep once.
func sweep(t *testing.T, w *stacktest.World) {
	t.Helper()
	for _, s := range w.Stack.Schedules() {
		if s.Name == "sweep" {
			if err := s.Run(context.Background()); err != nil {
				t.Fatalf("sweep: %v", err)
			}
			return
		}
	}
	t.Fatal("no sweep schedule")
}

// alarms counts the alarms of each name raised for request id.
func alarms(t *testing.T, w *stacktest.World, id string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, e := range w.Audited(t, string(tenant.Platform), outbox.AlarmType) {
		if e.Detail["request"] == id {
			got[e.Target]++
		}
	}
	return got
}

// TestOPS04_DueRequestsRaiseAlarms is must-show 4: an open request raises
// one alarm when it is due within 24 hours and one when it is past due,
// each once however often the sweep runs; a finished request raises none.
func TestOPS04_DueRequestsRaiseAlarms(t *testing.T) {
	w := stacktest.New(t)
	seed(t, w, "acme", contactJSON(ada, "Ada"))
	seed(t, w, "globex", contactJSON("eve@example.com", "Eve"))
	// Access requests stay open while their export job waits (the jobs
	// queue is not drained here); the sweep carries out erasures.
	_, open, _ := request(t, w, "acme", `{"type":"access","subject":{"email":"ada@example.com"}}`)
	_, finished, _ := request(t, w, "acme", `{"type":"restriction","subject":{"email":"ada@example.com"}}`)
	_, other, _ := request(t, w, "globex", `{"type":"access","subject":{"email":"eve@example.com"}}`)
	steps := []struct {
		name    string
		advance time.Duration
		want    map[string]int
	}{
		{"just filed", 0, map[string]int{}},
		{"a day and an hour before", 6*24*time.Hour - time.Hour, map[string]int{}},
		{"due within a day", 2 * time.Hour, map[string]int{subject.AlarmDueSoon: 1}},
		{"an hour later", time.Hour, map[string]int{subject.AlarmDueSoon: 1}},
		{"past due", 22 * time.Hour, map[string]int{subject.AlarmDueSoon: 1, subject.AlarmOverdue: 1}},
		{"a day later", 24 * time.Hour, map[string]int{subject.AlarmDueSoon: 1, subject.AlarmOverdue: 1}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			w.Clock.Advance(st.advance)
			sweep(t, w)
			sweep(t, w) // idempotent
			for _, id := range []string{open.ID, other.ID} {
				got := alarms(t, w, id)
				if len(got) != len(st.want) || got[subject.AlarmDueSoon] != st.want[subject.AlarmDueSoon] ||
					got[subject.AlarmOverdue] != st.want[subject.AlarmOverdue] {
					t.Errorf("alarms for %s = %v, want %v", id, got, st.want)
				}
			}
			if got := alarms(t, w, finished.ID); len(got) != 0 {
				t.Errorf("alarms for a finished request = %v, want none", got)
			}
		})
	}
	es := w.Audited(t, string(tenant.Platform), outbox.AlarmType)
	for _, e := range es {
		if e.Detail["request"] == open.ID && (e.Detail["org"] != "acme" || e.Detail["type"] != "access" || e.Detail["dueAt"] == "") {
			t.Errorf("alarm detail = %v, want org, type and due date", e.Detail)
		}
	}
}

// TestOPS04_RequestDoneInTimeRaisesNothing: finishing a request before it
// is near its due date stops its alarms.
func TestOPS04_RequestDoneInTimeRaisesNothing(t *testing.T) {
	w := stacktest.New(t)
	_, r, _ := request(t, w, "acme", `{"type":"erasure","subject":{"email":"ada@example.com"}}`)
	w.Clock.Advance(24 * time.Hour)
	if _, err := w.Stack.Subjects.Advance(stacktest.Ctx("acme"), r.ID, subject.Done, &subject.Result{}, ""); err != nil {
		t.Fatal(err)
	}
	w.Clock.Advance(30 * 24 * time.Hour)
	sweep(t, w)
	if got := alarms(t, w, r.ID); len(got) != 0 {
		t.Errorf("alarms = %v, want none", got)
	}
}
