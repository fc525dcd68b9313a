package imports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/imports"
	"github.com/alto/alto/shared/importtest"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stack"
	"github.com/alto/alto/shared/stacktest"
)

// create asks for an import and returns it.
func create(t *testing.T, w *stacktest.World, tok string) imports.Created {
	t.Helper()
	rec := w.Do(t, "POST", "/v1/imports", tok, `{"filename":"leads march.csv"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /v1/imports = %d %s, want 201", rec.Code, rec.Body)
	}
	return stacktest.Decode[imports.Created](t, rec)
}

// upload PUTs file to the import's upload URL, as a client does.
func upload(t *testing.T, w *stacktest.World, c imports.Created, file string) {
	t.Helper()
	if rec := w.Do(t, "PUT", c.UploadURL, "", file, "Content-Type", "text/csv"); rec.Code != http.StatusOK {
		t.Fatalf("PUT upload = %d %s, want 200", rec.Code, rec.Body)
	}
}

// get reads the import through the API.
func get(t *testing.T, w *stacktest.World, tok, id string) imports.Import {
	t.Helper()
	rec := w.Do(t, "GET", "/v1/imports/"+id, tok, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET import = %d %s", rec.Code, rec.Body)
	}
	return stacktest.Decode[imports.Import](t, rec)
}

// drain runs the jobs and ingress pollers until both queues are empty and
// returns how many ingress messages were handled.
func drain(t *testing.T, w *stacktest.World) int {
	t.Helper()
	ingress := 0
	for {
		n := w.Drain(t, jobs.Queue)
		m := w.Drain(t, ingest.Queue)
		if ingress += m; n+m == 0 {
			return ingress
		}
	}
}

// restart closes the stack and opens it again over the same data folder,
// as a crash and a restart of the process do.
func restart(t *testing.T, w *stacktest.World) {
	t.Helper()
	if err := w.Stack.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := stack.Open(stack.Config{Data: w.Data, Now: w.Clock.Now, BaseURL: "https://alto.example"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.Stack = st
}

func fileExists(t *testing.T, w *stacktest.World, org, id string) bool {
	t.Helper()
	r, err := w.Stack.Blobs.Get(stacktest.Ctx(org), imports.Key(id))
	if errors.Is(err, blob.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	return true
}

func TestING02_ImportRunsEndToEndWithNumberedRejections(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	const rows = 300
	c := create(t, w, tok)
	if c.ID == "" || !strings.Contains(c.UploadURL, "/blob/") || !c.ExpiresAt.Equal(w.Clock.Now().Add(imports.UploadTTL)) {
		t.Fatalf("created = %+v, want an ID and a signed URL expiring in 15 minutes", c)
	}
	if got := get(t, w, tok, c.ID); got.Status != imports.Waiting || got.FileName != "leads march.csv" {
		t.Errorf("before upload = %+v, want waiting", got)
	}
	upload(t, w, c, importtest.CSV(rows, 3))
	drain(t, w)

	got := get(t, w, tok, c.ID)
	bad := 0
	for i := 1; i <= rows; i++ {
		if importtest.Bad(i, 3) {
			bad++
		}
	}
	if got.Status != imports.Done || got.RowsRead != rows || got.Accepted+got.Rejected != rows || got.Rejected != bad || got.Created != rows-bad {
		t.Fatalf("import = %+v, want done with %d rows, %d rejected", got, rows, bad)
	}
	if len(got.Errors) != bad {
		t.Fatalf("errors = %d, want one per bad row (%d)", len(got.Errors), bad)
	}
	for _, e := range got.Errors {
		if !importtest.Bad(e.Line-1, 3) || e.Field == "" || e.Reason == "" {
			t.Errorf("error %+v: want the line of a bad row, a field and a reason", e)
		}
		if strings.Contains(e.Reason, "not-an-email") || strings.Contains(e.Reason, "Mars") {
			t.Errorf("error %+v echoes the value", e)
		}
	}
	if want := []string{"email", "firstName", "lastName", "phone", "company", "title", "country", "timeZone", "consent.email", "attributes.plan"}; strings.Join(got.Columns, ",") != strings.Join(want, ",") {
		t.Errorf("columns = %q, want %q", got.Columns, want)
	}
	if n := len(w.Contacts(t, "acme")); n != rows-bad {
		t.Errorf("contacts = %d, want %d", n, rows-bad)
	}
	one := importtest.PersonOf(4)
	rec := w.Do(t, "GET", "/v1/contacts?email="+one.Email, tok, "")
	found := stacktest.Decode[struct{ Items []contact.Contact }](t, rec).Items
	if len(found) != 1 || found[0].LastName != one.LastName || found[0].Phone != one.Phone ||
		found[0].Consent.Email != contact.Granted || found[0].Attributes["plan"] != "pro" || found[0].Title != "Head of Things, Europe" {
		t.Errorf("row 4 stored as %+v", found)
	}
	// The parse is audited once per import, not per row.
	if n := len(w.Audited(t, "acme", "import.parsed")); n != 1 {
		t.Errorf("import.parsed entries = %d, want 1", n)
	}

	t.Run("the same file again adds nothing", func(t *testing.T) {
		again := create(t, w, tok)
		upload(t, w, again, importtest.CSV(rows, 3))
		drain(t, w)
		got := get(t, w, tok, again.ID)
		if got.Status != imports.Done || got.Created != 0 || got.Duplicates != rows-bad || got.Accepted+got.Rejected != rows {
			t.Errorf("second import = %+v, want done with every valid row a duplicate", got)
		}
		if n := len(w.Contacts(t, "acme")); n != rows-bad {
			t.Errorf("contacts = %d, want still %d", n, rows-bad)
		}
	})
}

func TestING02_ProgressIsVisibleWhileItRuns(t *testing.T) {
	w := stacktest.New(t)
	w.Stack.Imports.ChunkRows, w.Stack.Imports.StepRows = 50, 100
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	c := create(t, w, tok)
	upload(t, w, c, importtest.CSV(250, 0))
	// One step of the parse: 100 rows queued, none ingested yet.
	jobsPoller := pollerOf(t, w, jobs.Queue)
	if _, err := jobsPoller.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := get(t, w, tok, c.ID); got.Status != imports.Running || got.RowsRead != 100 || got.Accepted != 0 {
		t.Errorf("after one step = %s, %d read, %d accepted; want running, 100, 0", got.Status, got.RowsRead, got.Accepted)
	}
	if _, err := pollerOf(t, w, ingest.Queue).Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := get(t, w, tok, c.ID); got.Status != imports.Running || got.Accepted != 10 {
		t.Errorf("after one ingest batch = %s with %d accepted, want running with 10", got.Status, got.Accepted)
	}
	drain(t, w)
	if got := get(t, w, tok, c.ID); got.Status != imports.Done || got.Accepted != 250 {
		t.Errorf("at the end = %+v, want done with 250", got)
	}
}

func pollerOf(t *testing.T, w *stacktest.World, queue string) interface {
	Once(context.Context) (int, error)
} {
	t.Helper()
	for _, p := range w.Stack.Pollers() {
		if p.Name == queue {
			return p
		}
	}
	t.Fatalf("no poller of %s", queue)
	return nil
}

// crashingIngress passes rows on to the ingress queue until it has passed
// limit, then sends half of what it is given and fails, as a process that
// dies in the middle of a chunk does.
type crashingIngress struct {
	imports.Ingress
	limit, sent int
}

var errCrash = errors.New("the process died")

func (c *crashingIngress) Send(ctx context.Context, subs []ingest.Submission) error {
	if c.sent+len(subs) > c.limit {
		c.Ingress.Send(ctx, subs[:len(subs)/2])
		return errCrash
	}
	c.sent += len(subs)
	return c.Ingress.Send(ctx, subs)
}

func TestING02_AParseInterruptedByACrashResumesWithoutLosingOrDuplicatingRows(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	const rows, chunk = 600, 50
	c := create(t, w, tok)
	upload(t, w, c, importtest.CSV(rows, 3))

	// The parse dies in its fourth chunk, with half of it queued.
	ctx := stacktest.Ctx("acme")
	ds, err := w.Stack.Queues.Receive(ctx, jobs.Queue, 1, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("parse job = %d, %v", len(ds), err)
	}
	var job jobs.Job
	json.Unmarshal(ds[0].Body, &job)
	dying := *w.Stack.Imports
	dying.ChunkRows = chunk
	dying.Ingress = &crashingIngress{Ingress: w.Stack.Imports.Ingress, limit: 3 * chunk * 97 / 100}
	if err := dying.ParseJob(ctx, job); !errors.Is(err, errCrash) {
		t.Fatalf("dying parse = %v, want the crash", err)
	}
	before := w.Drain(t, ingest.Queue) // what reached the queue before the crash
	if got := get(t, w, tok, c.ID); got.RowsRead != 3*chunk || got.Status != imports.Running {
		t.Fatalf("checkpoint = %d rows read (%s), want %d", got.RowsRead, got.Status, 3*chunk)
	}

	// The process restarts; the job comes back after its visibility timeout.
	restart(t, w)
	w.Stack.Imports.ChunkRows = chunk
	w.Clock.Advance(jobs.Visibility + time.Second)
	after := drain(t, w)

	tok = w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	got := get(t, w, tok, c.ID)
	bad := 0
	for i := 1; i <= rows; i++ {
		if importtest.Bad(i, 3) {
			bad++
		}
	}
	if got.Status != imports.Done || got.RowsRead != rows || got.Accepted != rows-bad || got.Rejected != bad || len(got.Errors) != bad {
		t.Fatalf("after resume = %+v, want done: %d accepted, %d rejected, each once", got, rows-bad, bad)
	}
	if n := len(w.Contacts(t, "acme")); n != rows-bad {
		t.Errorf("contacts = %d, want %d", n, rows-bad)
	}
	if n := len(w.Audited(t, "acme", "contact.created")); n != rows-bad {
		t.Errorf("contact.created = %d, want %d: no row created twice", n, rows-bad)
	}
	// Resumed at the checkpoint, not from the start: only the half chunk
	// queued before the crash was queued again.
	if resent := before + after - (rows - bad); resent <= 0 || resent > chunk {
		t.Errorf("rows queued twice = %d, want some but at most one chunk (%d)", resent, chunk)
	}
	if fileExists(t, w, "acme", c.ID) {
		t.Error("the file outlived its parse")
	}
}

func TestING02_RowOutcomesCountOnceUnderRedeliveryAndConcurrency(t *testing.T) {
	w := stacktest.New(t)
	ctx := stacktest.Ctx("acme")
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	c := create(t, w, tok)
	const lines = 1200 // two blocks of outcomes
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every goroutine reports every line: each is one consumer
			// receiving a redelivery of the same messages.
			for line := 2; line < lines+2; line++ {
				outcome := contact.Created
				if line%10 == 0 {
					outcome = contact.Duplicate
				}
				if err := w.Stack.Imports.Row(ctx, c.ID, line, outcome, ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Stack.Imports.Row(ctx, c.ID, 5, imports.Rejected, "dropped by ingest"); err != nil {
		t.Fatal(err)
	}
	got := get(t, w, tok, c.ID)
	if got.Accepted != lines || got.Duplicates != lines/10 || got.Rejected != 0 {
		t.Errorf("counts = %d accepted, %d duplicates, %d rejected; want %d, %d, 0", got.Accepted, got.Duplicates, got.Rejected, lines, lines/10)
	}
}

func TestING02_FilesThatCannotBeParsedFailWithALineAndAreDeleted(t *testing.T) {
	cases := []struct {
		name, file string
		line       int
		reason     string
		rowsRead   int
	}{
		{"headerless", "ada@example.com,Ada,Lovelace\n", 1, "no column holds an e-mail address", 0},
		{"empty", "", 1, "empty", 0},
		{"open quote", "email,notes\na@example.com,x\nb@example.com,\"open" + strings.Repeat("\nmore", 20000) + "\n", 3, "longer than", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := stacktest.New(t)
			tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
			c := create(t, w, tok)
			upload(t, w, c, tc.file)
			drain(t, w)
			got := get(t, w, tok, c.ID)
			last := imports.RowError{}
			if len(got.Errors) > 0 {
				last = got.Errors[len(got.Errors)-1]
			}
			if got.Status != imports.Failed || last.Line != tc.line || !strings.Contains(last.Reason, tc.reason) || got.RowsRead != tc.rowsRead {
				t.Errorf("import = %+v, want failed at line %d saying %q after %d rows", got, tc.line, tc.reason, tc.rowsRead)
			}
			if strings.Contains(last.Reason, "ada@") {
				t.Errorf("reason echoes the file: %q", last.Reason)
			}
			if fileExists(t, w, "acme", c.ID) {
				t.Error("the file of a failed import was kept")
			}
		})
	}
}

func TestING02_ImportsFollowTheRolesAndTheManagersScope(t *testing.T) {
	w := stacktest.New(t)
	north := w.Token(t, "acme", auth.Principal{Role: auth.Manager, Sub: "m1", Branch: "north"})
	south := w.Token(t, "acme", auth.Principal{Role: auth.Manager, Sub: "m2", Branch: "south"})
	rep := w.Token(t, "acme", auth.Principal{Role: auth.Rep})
	admin := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	other := w.Token(t, "globex", auth.Principal{Role: auth.Owner})
	if rec := w.Do(t, "POST", "/v1/imports", rep, `{"filename":"x.csv"}`); rec.Code != http.StatusForbidden {
		t.Errorf("rep creating an import = %d, want 403", rec.Code)
	}
	for _, body := range []string{`{}`, `{"filename":""}`, `{"filename":"a.csv","extra":1}`, `{"filename":7}`} {
		if rec := w.Do(t, "POST", "/v1/imports", admin, body); rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("POST %s = %d, want 422", body, rec.Code)
		}
	}
	c := create(t, w, north)
	upload(t, w, c, "email,branch\na@example.com,\nb@example.com,north\nc@example.com,south\n")
	drain(t, w)
	got := get(t, w, north, c.ID)
	if got.Accepted != 2 || got.Rejected != 1 || len(got.Errors) != 1 || got.Errors[0].Line != 4 || got.Errors[0].Field != "branch" {
		t.Errorf("manager's import = %+v, want line 4 rejected for its branch", got)
	}
	for _, ct := range w.Contacts(t, "acme") {
		if ct.Branch != "north" {
			t.Errorf("contact %s in branch %q, want north", ct.Email, ct.Branch)
		}
	}
	for name, tok := range map[string]string{"another branch": south, "another tenant": other} {
		if rec := w.Do(t, "GET", "/v1/imports/"+c.ID, tok, ""); rec.Code != http.StatusNotFound {
			t.Errorf("%s reading the import = %d, want 404", name, rec.Code)
		}
	}
	if rec := w.Do(t, "GET", "/v1/imports/"+c.ID, admin, ""); rec.Code != http.StatusOK {
		t.Errorf("admin reading the import = %d, want 200", rec.Code)
	}
	if rec := w.Do(t, "GET", "/v1/imports/imp_nothere", admin, ""); rec.Code != http.StatusNotFound {
		t.Errorf("unknown import = %d, want 404", rec.Code)
	}
}

func TestING02_AnS3ObjectCreatedEventStartsTheParse(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	c := create(t, w, tok)
	// In AWS the client PUTs to S3 directly and S3 notifies the function.
	if _, err := w.Stack.Blobs.Put(stacktest.Ctx("acme"), imports.Key(c.ID), strings.NewReader(importtest.CSV(20, 0))); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../events/s3-import-created.json")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte("IMPORT_ID"), []byte(c.ID))
	var ev events.S3Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if err := w.Stack.Imports.HandleS3(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
	if got := get(t, w, tok, c.ID); got.Status != imports.Done || got.Accepted != 20 {
		t.Errorf("import = %+v, want done with 20 rows", got)
	}
}

func TestRET01_AnUploadedFileIsDeletedWhenParsedAndWithin24hInAnyCase(t *testing.T) {
	t.Run("deleted when parsed", func(t *testing.T) {
		w := stacktest.New(t)
		tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
		c := create(t, w, tok)
		upload(t, w, c, importtest.CSV(10, 0))
		if !fileExists(t, w, "acme", c.ID) {
			t.Fatal("the upload is not stored")
		}
		drain(t, w)
		if fileExists(t, w, "acme", c.ID) {
			t.Error("the file outlived its parse")
		}
	})
	t.Run("the sweep deletes a file never parsed after 24 hours", func(t *testing.T) {
		w := stacktest.New(t)
		tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
		c := create(t, w, tok)
		upload(t, w, c, importtest.CSV(10, 0)) // its parse job never runs
		var sweep stack.Schedule
		for _, s := range w.Stack.Schedules() {
			if s.Name == "sweep" {
				sweep = s
			}
		}
		w.Clock.Advance(imports.FileRetention - time.Minute)
		if err := sweep.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !fileExists(t, w, "acme", c.ID) {
			t.Fatal("the sweep deleted a file before its 24 hours")
		}
		w.Clock.Advance(time.Minute)
		if err := sweep.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if fileExists(t, w, "acme", c.ID) {
			t.Error("the file outlived its 24 hours")
		}
		// The parse that runs late finds no file, and the import says so.
		drain(t, w)
		w.Clock.Advance(time.Second)
		tok = w.Token(t, "acme", auth.Principal{Role: auth.Owner})
		if got := get(t, w, tok, c.ID); got.Status != imports.Failed || len(got.Errors) == 0 {
			t.Errorf("import = %+v, want failed with a reason", got)
		}
	})
	t.Run("no upload: failed once the URL expired", func(t *testing.T) {
		w := stacktest.New(t)
		tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
		c := create(t, w, tok)
		w.Clock.Advance(imports.UploadTTL + time.Second)
		tok = w.Token(t, "acme", auth.Principal{Role: auth.Owner})
		if got := get(t, w, tok, c.ID); got.Status != imports.Failed {
			t.Errorf("import = %+v, want failed", got)
		}
		if rec := w.Do(t, "PUT", c.UploadURL, "", "email\na@example.com\n"); rec.Code != http.StatusForbidden {
			t.Errorf("upload after expiry = %d, want 403", rec.Code)
		}
	})
}

func TestENC02_AnImportLeavesNoPlaintextPIIInTheDataFolder(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	const rows = 200
	c := create(t, w, tok)
	upload(t, w, c, importtest.CSV(rows, 3))
	drain(t, w)
	if got := get(t, w, tok, c.ID); got.Status != imports.Done {
		t.Fatalf("import = %+v, want done", got)
	}
	var needles [][]byte
	for i := 1; i <= rows; i++ {
		p := importtest.PersonOf(i)
		needles = append(needles, []byte(p.Email), []byte(p.LastName), []byte(p.Phone), []byte(p.Phone[1:]), []byte(p.Phone[2:]))
	}
	files := 0
	err := filepath.WalkDir(w.Data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(raw, n) {
				t.Errorf("%s holds %q in the clear", strings.TrimPrefix(path, w.Data), n)
				return nil
			}
		}
		return nil
	})
	if err != nil || files < 3 {
		t.Fatalf("walked %d files: %v", files, err)
	}
}

// brokenIngress fails every send, as a queue outage does.
type brokenIngress struct{}

func (brokenIngress) Send(context.Context, []ingest.Submission) error {
	return errors.New("queue unavailable")
}

func TestING02_AParseThatFailsOnItsLastDeliveryFailsTheImport(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	c := create(t, w, tok)
	upload(t, w, c, importtest.CSV(5, 0))
	svc := *w.Stack.Imports
	svc.Ingress = brokenIngress{}
	ctx := stacktest.Ctx("acme")
	if err := svc.ParseJob(ctx, jobs.Job{V: 1, Org: "acme", Kind: imports.ParseJob, ID: c.ID, Attempt: 1}); err == nil {
		t.Fatal("first delivery: no error, want one so that the job comes back")
	}
	if got := get(t, w, tok, c.ID); got.Status != imports.Running {
		t.Errorf("after a failed delivery = %s, want running", got.Status)
	}
	if err := svc.ParseJob(ctx, jobs.Job{V: 1, Org: "acme", Kind: imports.ParseJob, ID: c.ID, Attempt: jobs.MaxReceives}); err != nil {
		t.Fatalf("last delivery: %v, want the failure recorded on the import", err)
	}
	got := get(t, w, tok, c.ID)
	if got.Status != imports.Failed || len(got.Errors) == 0 || !strings.Contains(got.Errors[len(got.Errors)-1].Reason, "failed repeatedly") {
		t.Errorf("import = %+v, want failed, saying why", got)
	}
	if fileExists(t, w, "acme", c.ID) {
		t.Error("the file of a failed import was kept")
	}
}

func TestING02_TheErrorListIsCappedAndCountsTheRest(t *testing.T) {
	w := stacktest.New(t)
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	const rows = imports.MaxErrors + 150
	c := create(t, w, tok)
	upload(t, w, c, importtest.CSV(rows, 100)) // every row invalid
	drain(t, w)
	got := get(t, w, tok, c.ID)
	if got.Status != imports.Done || got.Rejected != rows || len(got.Errors) != imports.MaxErrors || got.MoreErrors != 150 {
		t.Fatalf("import = %s, %d rejected, %d errors listed, %d more; want done, %d, %d, 150",
			got.Status, got.Rejected, len(got.Errors), got.MoreErrors, rows, imports.MaxErrors)
	}
	for i, e := range got.Errors {
		if e.Line != i+2 {
			t.Fatalf("error %d is on line %d, want %d: the first errors in line order", i, e.Line, i+2)
		}
	}
}
