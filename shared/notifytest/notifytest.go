// Package notifytest checks that adapters of package notify honour its
// contracts. Every Mailer (the outbox folder, SES) and every Alarms (the
// platform audit log, SNS) runs the suite for its port:
//
//	func TestMailer(t *testing.T) {
//		notifytest.RunMailer(t, func(t *testing.T) notifytest.MailerHarness {
//			ob := newOutbox(t)
//			return notifytest.MailerHarness{Mailer: ob, Sent: func(t testing.TB) []notify.Email { ... }}
//		})
//	}
package notifytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/alto/alto/shared/notify"
)

// MailerHarness is one Mailer under test that has sent nothing yet, and a
// way to see what it delivered.
type MailerHarness struct {
	Mailer notify.Mailer
	// Sent returns every message delivered so far, in any order, with line
	// breaks of Text as "\n" and ID as sent.
	Sent func(t testing.TB) []notify.Email
}

// RunMailer runs the Mailer contract as subtests of t. newHarness is called
// once per subtest.
func RunMailer(t *testing.T, newHarness func(t *testing.T) MailerHarness) {
	tests := []struct {
		name string
		run  func(t *testing.T, h MailerHarness)
	}{
		{"Delivers", testDelivers},
		{"IdempotentByID", testIdempotent},
		{"ConcurrentSameID", testConcurrentSameID},
		{"NoIDNoDeduplication", testNoID},
		{"Invalid", testInvalid},
		{"LongText", testLongText},
		{"CanceledContext", testCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newHarness(t)) })
	}
}

func testDelivers(t *testing.T, h MailerHarness) {
	m := notify.Email{
		To:      []string{"owner@acme.example", "admin@acme.example"},
		Subject: "Sécurité: incident inc-1 — status update",
		Text:    "Line one.\nLigne deux, accentuée: é à ü.\n\nA line with trailing spaces and = signs = fine.   \nLast line",
		ID:      "incident/inc-1/acme/notice",
	}
	if err := h.Mailer.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	sent := h.Sent(t)
	if len(sent) != 1 {
		t.Fatalf("delivered %d messages, want 1", len(sent))
	}
	got := sent[0]
	if !slices.Equal(got.To, m.To) || got.Subject != m.Subject || got.Text != m.Text || got.ID != m.ID {
		t.Errorf("delivered %+v,\nwant %+v", got, m)
	}
}

func testIdempotent(t *testing.T, h MailerHarness) {
	ctx := context.Background()
	first := notify.Email{To: []string{"a@acme.example"}, Subject: "first", Text: "one", ID: "msg-1"}
	again := first
	again.Text = "a retry with another body"
	for _, m := range []notify.Email{first, again, first} {
		if err := h.Mailer.Send(ctx, m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	other := notify.Email{To: []string{"a@acme.example"}, Subject: "second", Text: "two", ID: "msg-2"}
	if err := h.Mailer.Send(ctx, other); err != nil {
		t.Fatalf("Send: %v", err)
	}
	sent := h.Sent(t)
	if len(sent) != 2 {
		t.Fatalf("delivered %d messages, want 2 (one per ID)", len(sent))
	}
	for _, m := range sent {
		if m.ID == "msg-1" && m.Text != "one" {
			t.Errorf("msg-1 text = %q, want the first send's %q", m.Text, "one")
		}
	}
}

func testConcurrentSameID(t *testing.T, h MailerHarness) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h.Mailer.Send(context.Background(), notify.Email{To: []string{"a@acme.example"},
				Subject: "race", Text: fmt.Sprint("sender ", i), ID: "race-1"})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Send: %v", err)
		}
	}
	if n := len(h.Sent(t)); n != 1 {
		t.Errorf("8 concurrent sends of one ID delivered %d messages, want 1", n)
	}
}

func testNoID(t *testing.T, h MailerHarness) {
	m := notify.Email{To: []string{"a@acme.example"}, Subject: "no id", Text: "same"}
	for range 2 {
		if err := h.Mailer.Send(context.Background(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if n := len(h.Sent(t)); n != 2 {
		t.Errorf("two sends without ID delivered %d messages, want 2", n)
	}
}

func testInvalid(t *testing.T, h MailerHarness) {
	ok := notify.Email{To: []string{"a@acme.example"}, Subject: "s", Text: "t", ID: "x"}
	tests := []struct {
		name string
		mod  func(m *notify.Email)
	}{
		{"no recipient", func(m *notify.Email) { m.To = nil }},
		{"empty subject", func(m *notify.Email) { m.Subject = " " }},
		{"malformed address", func(m *notify.Email) { m.To = []string{"not-an-address"} }},
		{"header injection in address", func(m *notify.Email) { m.To = []string{"a@acme.example\r\nBcc: x@evil.example"} }},
		{"header injection in subject", func(m *notify.Email) { m.Subject = "hi\r\nBcc: x@evil.example" }},
		{"too many recipients", func(m *notify.Email) {
			m.To = nil
			for i := range 51 {
				m.To = append(m.To, fmt.Sprintf("u%d@acme.example", i))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			m.To = slices.Clone(ok.To)
			tt.mod(&m)
			err := h.Mailer.Send(context.Background(), m)
			if !errors.Is(err, notify.ErrInvalid) {
				t.Errorf("Send = %v, want notify.ErrInvalid", err)
			}
			if err != nil && strings.Contains(err.Error(), "evil.example") {
				t.Errorf("error %q echoes the rejected value", err)
			}
		})
	}
	if n := len(h.Sent(t)); n != 0 {
		t.Errorf("invalid messages delivered %d messages, want 0", n)
	}
}

func testLongText(t *testing.T, h MailerHarness) {
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "line %d %s\n", i, strings.Repeat("x", i%300))
	}
	b.WriteString(strings.Repeat("y", 5000)) // one line far over 998 bytes
	m := notify.Email{To: []string{"a@acme.example"}, Subject: "long", Text: b.String(), ID: "long-1"}
	if err := h.Mailer.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	sent := h.Sent(t)
	if len(sent) != 1 || sent[0].Text != m.Text {
		t.Errorf("long text did not round-trip (%d messages)", len(sent))
	}
}

func testCanceled(t *testing.T, h MailerHarness) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := h.Mailer.Send(ctx, notify.Email{To: []string{"a@acme.example"}, Subject: "s", Text: "t", ID: "c"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a canceled context = %v, want context.Canceled", err)
	}
	if n := len(h.Sent(t)); n != 0 {
		t.Errorf("delivered %d messages, want 0", n)
	}
}

// AlarmsHarness is one Alarms under test that has raised nothing yet, and a
// way to see what it raised.
type AlarmsHarness struct {
	Alarms notify.Alarms
	// Raised returns every alarm raised so far, in order.
	Raised func(t testing.TB) []notify.Alarm
}

// RunAlarms runs the Alarms contract as subtests of t. newHarness is called
// once per subtest.
func RunAlarms(t *testing.T, newHarness func(t *testing.T) AlarmsHarness) {
	t.Run("Raises", func(t *testing.T) {
		h := newHarness(t)
		want := []notify.Alarm{
			{Name: "incident.update_overdue", Detail: map[string]string{"incident": "inc-1", "overdueMinutes": "5"}},
			{Name: "dlq.not_empty"},
		}
		for _, a := range want {
			if err := h.Alarms.Raise(context.Background(), a); err != nil {
				t.Fatalf("Raise: %v", err)
			}
		}
		got := h.Raised(t)
		if len(got) != len(want) {
			t.Fatalf("raised %d alarms, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].Name != want[i].Name || fmt.Sprint(got[i].Detail) != fmt.Sprint(want[i].Detail) &&
				!(len(got[i].Detail) == 0 && len(want[i].Detail) == 0) {
				t.Errorf("alarm %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		h := newHarness(t)
		for _, a := range []notify.Alarm{{Name: ""}, {Name: "has space"}, {Name: "line\nbreak"}} {
			if err := h.Alarms.Raise(context.Background(), a); !errors.Is(err, notify.ErrInvalid) {
				t.Errorf("Raise(%+v) = %v, want notify.ErrInvalid", a, err)
			}
		}
		if n := len(h.Raised(t)); n != 0 {
			t.Errorf("raised %d alarms, want 0", n)
		}
	})
}
