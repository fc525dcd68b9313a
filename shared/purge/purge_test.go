package purge_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/tenant"
)

// mailbox is a hand-written notify.Mailer that keeps what it was given,
// once per ID.
type mailbox struct {
	mu   sync.Mutex
	sent []notify.Email
	ids  map[string]bool
}

func (m *mailbox) Send(_ context.Context, e notify.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ids == nil {
		m.ids = map[string]bool{}
	}
	if !m.ids[e.ID] {
		m.ids[e.ID] = true
		m.sent = append(m.sent, e)
	}
	return nil
}

func sweep(t *testing.T, w *stacktest.World) {
	t.Helper()
	for _, s := range w.Stack.Schedules() {
		if s.Name == "sweep" {
			if err := s.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("no sweep schedule")
}

func TestPRG02_WorkspacePurgeShredsFirstThenDeletesAndConfirms(t *testing.T) {
	w := stacktest.New(t)
	box := &mailbox{}
	w.Stack.Purges.Mailer = box
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	admin := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	other := w.Token(t, "globex", auth.Principal{Role: auth.Owner})
	for _, tok := range []string{owner, other} {
		if rec := w.Do(t, "POST", "/v1/contacts", tok, `{"contacts":[{"email":"ada@example.com","lastName":"Lovelace"},{"email":"bob@example.com"}]}`); rec.Code != 202 {
			t.Fatalf("seed = %d %s", rec.Code, rec.Body)
		}
	}
	w.Drain(t, ingest.Queue)
	ctx := stacktest.Ctx("acme")
	if _, err := w.Stack.Blobs.Put(ctx, "imports/file.csv", strings.NewReader("email\nada@example.com\n")); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, tok, body string
		status          int
	}{
		{"admin may not", admin, `{"confirm":"acme","email":"owner@acme.example"}`, 403},
		{"wrong confirmation", owner, `{"confirm":"acme-corp","email":"owner@acme.example"}`, 422},
		{"no address for the log", owner, `{"confirm":"acme"}`, 422},
	}
	for _, tc := range cases {
		if rec := w.Do(t, "POST", "/v1/workspace/purge", tc.tok, tc.body); rec.Code != tc.status {
			t.Errorf("%s = %d %s, want %d", tc.name, rec.Code, rec.Body, tc.status)
		}
	}
	if got := w.Contacts(t, "acme"); len(got) != 2 {
		t.Fatalf("refused purges changed data: %d contacts", len(got))
	}

	rec := w.Do(t, "POST", "/v1/workspace/purge", owner, `{"confirm":"acme","email":"owner@acme.example"}`)
	if rec.Code != 202 {
		t.Fatalf("purge = %d %s", rec.Code, rec.Body)
	}
	p := stacktest.Decode[purge.Purge](t, rec)
	if p.Status != purge.Shredded || !p.Deadline.Equal(p.RequestedAt.Add(72*time.Hour)) || p.AuditHead == "" {
		t.Errorf("purge = %+v, want shredded, due in 72h, with the audit digest", p)
	}
	again := stacktest.Decode[purge.Purge](t, w.Do(t, "POST", "/v1/workspace/purge", owner, `{"confirm":"acme","email":"owner@acme.example"}`))
	if again.ID != p.ID {
		t.Errorf("a second request started another purge")
	}

	// At once: nothing of the tenant can be read, by the API or below it.
	if rec := w.Do(t, "GET", "/v1/contacts", owner, ""); rec.Code != 410 {
		t.Errorf("contacts after purge = %d, want 410", rec.Code)
	}
	if _, _, err := w.Stack.Contacts.List(ctx, auth.Scope{All: true}, "", 10); !errors.Is(err, seal.ErrShredded) {
		t.Errorf("reading below the API = %v, want ErrShredded", err)
	}
	if got := w.Contacts(t, "globex"); len(got) != 2 {
		t.Errorf("another tenant lost data: %d contacts", len(got))
	}
	if rec := w.Do(t, "GET", "/v1/workspace/purge/"+p.ID, other, ""); rec.Code != 404 {
		t.Errorf("another tenant reading the purge = %d, want 404", rec.Code)
	}

	sweep(t, w)
	sweep(t, w) // again: idempotent, nothing more to do, one e-mail
	rec = w.Do(t, "GET", "/v1/workspace/purge/"+p.ID, owner, "")
	done := stacktest.Decode[purge.Purge](t, rec)
	if rec.Code != 200 || done.Status != purge.Done || done.Deleted["items"] == 0 || done.Deleted["blobs"] != 1 {
		t.Fatalf("purge after the sweep = %d %+v", rec.Code, done)
	}
	if len(box.sent) != 1 || box.sent[0].To[0] != "owner@acme.example" || !strings.Contains(box.sent[0].Text, p.AuditHead) {
		t.Errorf("confirmation e-mails = %+v, want one to the owner with the audit digest", box.sent)
	}
	if n, err := w.Stack.Store.DeleteTenant(ctx, 10); err != nil || n != 0 {
		t.Errorf("records left after the purge: %d (%v)", n, err)
	}
	// No file of the data folder holds the tenant's data any more.
	filepath.WalkDir(w.Data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, _ := os.ReadFile(path)
		if bytes.Contains(raw, []byte("ada@example.com")) {
			t.Errorf("%s still holds the purged tenant's data", path)
		}
		return nil
	})
	if entries, _ := os.ReadDir(filepath.Join(w.Data, "blobs", "acme")); len(entries) > 0 {
		t.Errorf("the tenant's blob folder still holds %d entries", len(entries))
	}
}

// TestOPS04_PurgeDeadlineAlarms checks the purge's 72-hour timer: a purge
// still unfinished 12 hours before its deadline raises purge.due_soon, one
// past it purge.overdue, each once however often the sweep runs; a purge
// finished in time raises nothing.
func TestOPS04_PurgeDeadlineAlarms(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration // from the request to the first sweep
		want  []string
	}{
		{"finished in time", time.Hour, nil},
		{"near the deadline", 61 * time.Hour, []string{purge.AlarmDueSoon}},
		{"past the deadline", 73 * time.Hour, []string{purge.AlarmOverdue}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := stacktest.New(t)
			owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
			w.Do(t, "POST", "/v1/contacts", owner, `{"email":"ada@example.com"}`)
			w.Drain(t, ingest.Queue)
			if rec := w.Do(t, "POST", "/v1/workspace/purge", owner, `{"confirm":"acme","email":"owner@acme.example"}`); rec.Code != 202 {
				t.Fatalf("purge = %d %s", rec.Code, rec.Body)
			}
			w.Clock.Advance(tc.after)
			sweep(t, w)
			sweep(t, w)
			var got []string
			for _, e := range w.Audited(t, string(tenant.Platform), "alarm.raised") {
				if strings.HasPrefix(e.Target, "purge.") {
					got = append(got, e.Target)
					if e.Detail["org"] != "acme" || e.Detail["purge"] == "" {
						t.Errorf("alarm detail = %v, want the org and the purge", e.Detail)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("purge alarms = %v, want %v", got, tc.want)
			}
		})
	}
}
