package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/notifytest"
	"github.com/alto/alto/shared/outbox"
	"github.com/alto/alto/shared/tenant"
)

func newOutbox(t *testing.T) *outbox.Outbox {
	t.Helper()
	ob, err := outbox.New(filepath.Join(t.TempDir(), "outbox"), outbox.Options{
		Now: func() time.Time { return time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

func TestMailerContract(t *testing.T) {
	notifytest.RunMailer(t, func(t *testing.T) notifytest.MailerHarness {
		ob := newOutbox(t)
		return notifytest.MailerHarness{Mailer: ob, Sent: func(t testing.TB) []notify.Email {
			t.Helper()
			msgs, err := ob.Messages()
			if err != nil {
				t.Fatal(err)
			}
			return msgs
		}}
	})
}

func TestAlarmsContract(t *testing.T) {
	notifytest.RunAlarms(t, func(t *testing.T) notifytest.AlarmsHarness {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "alto.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		log := audit.New(db.Store(), nil)
		return notifytest.AlarmsHarness{Alarms: outbox.NewAlarms(log, nil), Raised: func(t testing.TB) []notify.Alarm {
			t.Helper()
			entries, _, err := log.List(tenant.WithPlatform(context.Background()), audit.Filter{Type: outbox.AlarmType})
			if err != nil {
				t.Fatal(err)
			}
			var out []notify.Alarm
			for _, e := range entries {
				out = append(out, notify.Alarm{Name: e.Target, Detail: e.Detail})
			}
			return out
		}}
	})
}

// TestMessageFiles checks what lands on disk: one RFC 5322 file per
// message, mode 0600, in a 0700 folder, named without personal data, with
// CRLF line endings and an encoded subject.
func TestMessageFiles(t *testing.T) {
	ob := newOutbox(t)
	m := notify.Email{To: []string{"jane.doe@acme.example"}, Subject: "Réponse requise", Text: "Bonjour\nà bientôt", ID: "incident/inc-9/acme/notice"}
	if err := ob.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(ob.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries, want 1 (no temporary files left)", len(entries))
	}
	name := entries[0].Name()
	if !strings.HasSuffix(name, ".eml") || strings.Contains(name, "jane") || strings.Contains(name, "acme") {
		t.Errorf("file name %q: want <digest>.eml without personal data or IDs", name)
	}
	path := filepath.Join(ob.Dir(), name)
	for p, want := range map[string]os.FileMode{path: 0o600, ob.Dir(): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", filepath.Base(p), got, want)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("message has bare LF line endings, want CRLF")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v", err)
	}
	for k, want := range map[string]string{
		"From": outbox.DefaultFrom, "To": "jane.doe@acme.example", "Content-Type": "text/plain; charset=utf-8",
		"Date": "Fri, 20 Nov 2026 10:00:00 +0000", outbox.IDHeader: m.ID,
	} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if s := msg.Header.Get("Subject"); !strings.HasPrefix(s, "=?utf-8?") {
		t.Errorf("Subject = %q, want RFC 2047 encoded", s)
	}
}

func TestNewRefusesBadFrom(t *testing.T) {
	if _, err := outbox.New(t.TempDir(), outbox.Options{From: "Alto <alto@x.example>"}); err == nil {
		t.Error("New with a display-name From succeeded, want an error")
	}
}

// TestStricterThanTheContract: the outbox also refuses display names, IDs
// that could not be a header, and alarms with an empty detail key.
func TestStricterThanTheContract(t *testing.T) {
	ob := newOutbox(t)
	for _, m := range []notify.Email{
		{To: []string{"Jane <jane@acme.example>"}, Subject: "s", Text: "t"},
		{To: []string{"a@acme.example"}, Subject: "s", Text: "t", ID: "a\nb"},
		{To: []string{"a@acme.example"}, Subject: "s", Text: "t", ID: "has space"},
	} {
		if err := ob.Send(context.Background(), m); !errors.Is(err, notify.ErrInvalid) {
			t.Errorf("Send(%+v) = %v, want notify.ErrInvalid", m, err)
		}
	}
	al := outbox.NewAlarms(nil, nil)
	if err := al.Raise(context.Background(), notify.Alarm{Name: "x", Detail: map[string]string{"": "v"}}); !errors.Is(err, notify.ErrInvalid) {
		t.Errorf("Raise with an empty detail key = %v, want notify.ErrInvalid", err)
	}
}
