package faults_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/clocktest"
	"github.com/alto/alto/shared/faults"
	"github.com/alto/alto/shared/httpapi"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stack"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/subject"
	"github.com/alto/alto/shared/tenant"
)

// A flow is one of the at-least-once paths of Alto, driven as the runtime
// drives it: setup runs once, without faults, into a data folder every
// run starts from (so IDs and keys are the same in every run); run drives
// the flow, re-trying and re-delivering what fails; end reads the end
// state of the data, without faults, as text comparable between runs, and
// audit the counts of the flow's audit entries.
type flow struct {
	setup func(t testing.TB, w *stacktest.World)
	run   func(r *runner)
	end   func(t testing.TB, w *stacktest.World) string
	audit func(t testing.TB, w *stacktest.World) map[string]int
}

// workers run a flow's faulty runs side by side: each waits mostly on the
// file system, so a few at once finish sooner even on two cores.
const workers = 4

// checkFlow runs f once clean, counting its port calls, then once for
// every call and every mode of failure, and wants every end state equal
// to the clean one; with withAudit, the audit entries' counts too. With
// -short it fails every third call only.
func checkFlow(t *testing.T, f flow, withAudit bool) {
	tmpl, at := prepare(t, f.setup)
	end := func(t testing.TB, w *stacktest.World) string {
		if !withAudit {
			return f.end(t, w)
		}
		return f.end(t, w) + "\naudit " + canonical(f.audit(t, w))
	}
	// one runs the flow with call n failing in mode m (n 0: none) and
	// returns the end state, the fault that fired, and the calls made.
	one := func(t testing.TB, n int, m faults.Mode) (state, fired string, trace []string) {
		in := &faults.Injector{}
		w := openCopy(t, tmpl, at, in)
		defer w.Stack.Close()
		in.Arm(n, m)
		f.run(&runner{t: t, w: w, in: in})
		fired, trace = in.Fired(), in.Trace()
		in.Reset()
		return end(t, w), fired, trace
	}
	want, _, trace := one(t, 0, 0)
	if again, _, _ := one(t, 0, 0); again != want {
		t.Fatalf("two clean runs end differently: the flow is not deterministic:\n%s", firstDiff(want, again))
	}
	t.Logf("%d port calls in a clean run: %s", len(trace), summarize(trace))
	if os.Getenv("ALTO_FAULTS_DUMP") != "" { // to see what the runs compare
		t.Logf("clean end state:\n%s", want)
	}
	type fault struct {
		n int
		m faults.Mode
	}
	step := 1
	if testing.Short() {
		step = 3
	}
	todo := make(chan fault)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fl := range todo {
				st := &scene{T: t}
				got, fired, _, ok := st.do(func() (string, string, []string) { return one(st, fl.n, fl.m) })
				switch {
				case !ok:
					t.Errorf("%s at call %d (%s): %s", fl.m, fl.n, trace[fl.n-1], st.fatal)
				case fired == "":
					t.Errorf("%s at call %d (%s) never fired", fl.m, fl.n, trace[fl.n-1])
				case got != want:
					t.Errorf("%s and re-delivery: the end state differs from the clean run's:\n%s", fired, firstDiff(want, got))
				}
			}
		}()
	}
	for n := 1; n <= len(trace); n += step {
		for _, m := range faults.Modes {
			todo <- fault{n, m}
		}
	}
	close(todo)
	wg.Wait()
}

// scene is the testing.TB of one faulty run on a worker goroutine: Fatal
// ends the run, not the test (which only its own goroutine may end), and
// the worker reports it.
type scene struct {
	*testing.T
	fatal string
}

// errAbort unwinds a run that called Fatal.
type errAbort struct{}

func (s *scene) Fatal(args ...any) { s.fatal = fmt.Sprint(args...); panic(errAbort{}) }
func (s *scene) Fatalf(format string, args ...any) {
	s.fatal = fmt.Sprintf(format, args...)
	panic(errAbort{})
}
func (s *scene) FailNow() { s.fatal = "FailNow"; panic(errAbort{}) }

// do runs f and reports false if it called Fatal.
func (s *scene) do(f func() (string, string, []string)) (state, fired string, trace []string, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if _, abort := v.(errAbort); !abort {
				panic(v)
			}
			ok = false
		}
	}()
	state, fired, trace = f()
	return state, fired, trace, true
}

// runner drives a flow the way the runtime does: a request that fails
// with a 5xx is sent again (a client's retry), a queue is drained until
// nothing comes back (SQS redelivers after the visibility timeout), and
// after each step the injector recovers (the crashed process restarts).
type runner struct {
	t  testing.TB
	w  *stacktest.World
	in *faults.Injector
}

// fatalf ends the test, naming the fault that fired.
func (r *runner) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("after %s: %s", r.in.Fired(), fmt.Sprintf(format, args...))
}

// request sends a request as org's role until it does not answer 5xx,
// with a new token each time (the clock moves on), and returns the answer.
func (r *runner) request(method, path, org string, role auth.Role, body string, hdr ...string) *httptest.ResponseRecorder {
	r.t.Helper()
	for attempt := 0; attempt < 10; attempt++ {
		tok := r.w.Token(r.t, org, auth.Principal{Role: role})
		rec := r.w.Do(r.t, method, path, tok, body, hdr...)
		r.in.Recover()
		if rec.Code < 500 {
			return rec
		}
		r.w.Clock.Advance(time.Second)
	}
	r.fatalf("%s %s still fails after 10 tries", method, path)
	return nil
}

// drain runs the poller of queue until a pass after the visibility
// timeout finds nothing: every message failed or lost on the way came
// back and was handled.
func (r *runner) drain(name string, visibility time.Duration) {
	r.t.Helper()
	var p interface {
		Drain(context.Context) (int, error)
	}
	for _, q := range r.w.Stack.Pollers() {
		if q.Name == name {
			p = q
		}
	}
	if p == nil {
		r.fatalf("no poller for %s", name)
	}
	for round := 0; round < 20; round++ {
		n, err := p.Drain(context.Background())
		r.in.Recover()
		if n == 0 && err == nil && round > 0 {
			return
		}
		r.w.Clock.Advance(visibility + time.Second)
	}
	r.fatalf("queue %s still delivers after 20 rounds", name)
}

// prepare runs setup in a new stack and returns its closed data folder
// and the time of its clock, for openCopy.
func prepare(t *testing.T, setup func(testing.TB, *stacktest.World)) (string, time.Time) {
	t.Helper()
	dir := t.TempDir()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday morning
	w := open(t, dir, at, nil)
	// acme's keys first, so every run has the same ones (and contact IDs).
	if _, err := w.Stack.Keys.Seal(stacktest.Ctx("acme"), "setup", "keys", nil); err != nil {
		t.Fatal(err)
	}
	setup(t, w)
	if err := w.Stack.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, w.Clock.Now()
}

// openCopy opens a stack on a copy of the data folder tmpl, its clock at
// at, its ports wrapped by in.
func openCopy(t testing.TB, tmpl string, at time.Time, in *faults.Injector) *stacktest.World {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(tmpl, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tmpl, path)
		dst := filepath.Join(dir, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(dst, info.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return open(t, dir, at, in)
}

func open(t testing.TB, dir string, at time.Time, in *faults.Injector) *stacktest.World {
	t.Helper()
	clk := clocktest.At(at)
	unlimited := &httpapi.Rate{}
	cfg := stack.Config{Data: dir, Now: clk.Now, BaseURL: "https://alto.example", NoSync: true,
		PerTenant: unlimited, PerIP: unlimited, Public: unlimited}
	if in != nil {
		cfg.Ports = in.Ports
	}
	st, err := stack.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &stacktest.World{Stack: st, Clock: clk, Data: dir}
}

// summarize counts a trace's calls by port method.
func summarize(trace []string) string {
	n := map[string]int{}
	for _, c := range trace {
		n[c]++
	}
	var parts []string
	for c, k := range n {
		parts = append(parts, fmt.Sprintf("%s×%d", c, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n want %s\n  got %s", i+1, w, g)
		}
	}
	return "(equal)"
}

var (
	times = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z|\b[0-9a-f]{64}\b`)
	// runs are the random IDs a flow mints: export runs, purges, blob URLs.
	runs = regexp.MustCompile(`exports/([A-Za-z0-9_-]+)/[0-9a-f]{16}|prg_[0-9a-f]{24}|[?&](sig|exp|token)=[^"&\s]+`)
)

// ownAudit is the audit entry of an export's run in the archive of a
// workspace export, and auditCount the count of audit entries in its
// manifest: present or not as TestAUD01 says.
var (
	ownAudit   = regexp.MustCompile(`(export|subject_request)\.running`)
	auditCount = regexp.MustCompile(`"audit":\d+`)
)

// canonical is v as JSON with times (and the audit chain's hashes, which
// cover them) and run IDs masked: what may differ between two correct runs
// that took different numbers of tries.
func canonical(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	s := times.ReplaceAllString(string(b), "TIME")
	return runs.ReplaceAllString(s, "RUN")
}

// auditCounts counts org's audit entries by type, for the types given (a
// type ending in "." counts every type with that prefix, by type).
func auditCounts(t testing.TB, w *stacktest.World, org string, types ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, typ := range types {
		for _, e := range w.Audited(t, org, typ) {
			out[e.Type]++
		}
	}
	return out
}

// leftIn counts the messages of a queue (visible or not), by receiving
// them after every visibility timeout ran out.
func leftIn(t testing.TB, w *stacktest.World, name string) int {
	t.Helper()
	w.Clock.Advance(24 * time.Hour)
	n := 0
	for {
		ds, err := w.Stack.Queues.Receive(context.Background(), name, 10, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			return n
		}
		n += len(ds)
	}
}

func owner(w *stacktest.World, t testing.TB) string {
	return w.Token(t, "acme", auth.Principal{Role: auth.Owner})
}

// items decodes a listing's items as generic objects without the fields
// in drop.
func items(t testing.TB, rec *httptest.ResponseRecorder, drop ...string) []map[string]any {
	t.Helper()
	if rec.Code != 200 {
		t.Fatalf("listing = %d %s", rec.Code, rec.Body)
	}
	page := stacktest.Decode[struct{ Items []map[string]any }](t, rec)
	for _, it := range page.Items {
		for _, k := range drop {
			delete(it, k)
		}
	}
	return page.Items
}

const batch1 = `{"contacts":[
	{"source":"crm","sourceId":"1","email":"ada@example.com","firstName":"Ada","consent":{"email":"granted"}},
	{"email":"grace@example.com","firstName":"Grace","consent":{"email":"granted"}},
	{"phone":"+14155550123","lastName":"Hopper"}]}`

// batch2 is a re-sync: the first unchanged, the second changed, one new.
const batch2 = `{"contacts":[
	{"source":"crm","sourceId":"1","email":"ada@example.com","firstName":"Ada","consent":{"email":"granted"}},
	{"email":"grace@example.com","firstName":"Grace B.","consent":{"email":"granted"}},
	{"email":"alan@example.com","firstName":"Alan","consent":{"email":"denied"}}]}`

// ingestFlow submits a batch, lets it be ingested, then re-syncs: the
// client retries with its Idempotency-Key, SQS redelivers.
func ingestFlow() flow {
	return flow{
		setup: func(t testing.TB, w *stacktest.World) {},
		run: func(r *runner) {
			for i, b := range []string{batch1, batch2} {
				if rec := r.request("POST", "/v1/contacts", "acme", auth.Owner, b, "Idempotency-Key", fmt.Sprintf("sync-%d", i)); rec.Code != 202 {
					r.fatalf("POST /v1/contacts = %d %s", rec.Code, rec.Body)
				}
				r.drain(ingest.Queue, time.Minute)
			}
		},
		end: func(t testing.TB, w *stacktest.World) string {
			res, err := w.Stack.Audit.Verify(stacktest.Ctx("acme"))
			if err != nil || !res.OK {
				t.Fatalf("audit chain = %+v, %v", res, err)
			}
			return canonical(map[string]any{
				"contacts":    items(t, w.Do(t, "GET", "/v1/contacts?limit=1000", owner(w, t), ""), "createdAt", "updatedAt"),
				"deadLetters": leftIn(t, w, ingest.DeadLetterQueue),
				"left":        leftIn(t, w, ingest.Queue),
			})
		},
		audit: func(t testing.TB, w *stacktest.World) map[string]int { return auditCounts(t, w, "acme", "contact.") },
	}
}

// TestING05_RET09_IngestAbsorbsEveryCrashAndRedelivery submits a batch,
// lets it be ingested, then re-syncs (one contact the same, one changed,
// one new), failing each port call of the flow in turn: before it takes
// effect, after (the answer lost), and as a crash of the process. Every
// run ends with the same contacts, none twice, the changed one changed,
// and no dead letter.
func TestING05_RET09_IngestAbsorbsEveryCrashAndRedelivery(t *testing.T) {
	checkFlow(t, ingestFlow(), false)
}

// personalizationFlow enqueues a campaign for every contact, retried by
// the client, and drains the personalization queue.
func personalizationFlow() flow {
	var camp string
	return flow{
		setup: func(t testing.TB, w *stacktest.World) {
			w.Do(t, "POST", "/v1/contacts", owner(w, t), batch2)
			w.Drain(t, ingest.Queue)
			rec := w.Do(t, "POST", "/v1/campaigns", owner(w, t), `{"name":"Spring","channel":"email",
				"template":"Hello {{.FirstName}}!","sender":{"name":"Acme","postalAddress":"1 Market St, San Francisco, CA 94105"},
				"reason":"you asked about Acme"}`)
			camp = stacktest.Decode[struct{ ID string }](t, rec).ID
		},
		run: func(r *runner) {
			if rec := r.request("POST", "/v1/campaigns/"+camp+"/enqueue", "acme", auth.Owner, `{"all":true}`); rec.Code != 202 {
				r.fatalf("enqueue = %d %s", rec.Code, rec.Body)
			}
			r.drain(campaign.Queue, time.Minute)
		},
		end: func(t testing.TB, w *stacktest.World) string {
			return canonical(map[string]any{
				"drafts":      items(t, w.Do(t, "GET", "/v1/campaigns/"+camp+"/drafts?limit=1000", owner(w, t), ""), "createdAt", "notBefore"),
				"deadLetters": leftIn(t, w, campaign.DeadLetterQueue),
				"left":        leftIn(t, w, campaign.Queue),
			})
		},
		audit: func(t testing.TB, w *stacktest.World) map[string]int { return nil },
	}
}

// TestPER05_PersonalizationAbsorbsEveryCrashAndRedelivery enqueues a
// campaign for every contact and drains the personalization queue, failing
// each port call in turn: every run ends with one identical draft per
// eligible contact, none for the one without consent, and nothing left
// or dead-lettered.
func TestPER05_PersonalizationAbsorbsEveryCrashAndRedelivery(t *testing.T) {
	checkFlow(t, personalizationFlow(), false)
}

// exportFlow creates an export with a POST of body to path in the setup
// and runs its job off the jobs queue.
func exportFlow(path, body string) flow {
	var id string
	return flow{
		setup: func(t testing.TB, w *stacktest.World) {
			w.Do(t, "POST", "/v1/contacts", owner(w, t), batch1)
			w.Drain(t, ingest.Queue)
			id = stacktest.Decode[struct{ ID string }](t, w.Do(t, "POST", path, owner(w, t), body)).ID
		},
		run: func(r *runner) { r.drain(jobs.Queue, jobs.Visibility) },
		end: func(t testing.TB, w *stacktest.World) string {
			state := map[string]any{
				"status":      stacktest.Decode[struct{ Status string }](t, w.Do(t, "GET", path+"/"+id, owner(w, t), "")).Status,
				"archives":    archives(t, w),
				"deadLetters": leftIn(t, w, jobs.DeadLetterQueue),
				"left":        leftIn(t, w, jobs.Queue),
			}
			// Past their lifetime, the sweep leaves no archive behind,
			// not even one a crashed run wrote.
			w.Clock.Advance(subject.ArchiveTTL + time.Hour)
			if err := w.Stack.Subjects.Sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
			state["archivesAfterTheirLifetime"] = len(archives(t, w))
			return canonical(state)
		},
		audit: func(t testing.TB, w *stacktest.World) map[string]int {
			return auditCounts(t, w, "acme", "export.", "subject_request.")
		},
	}
}

// TestDSR02_AccessExportAbsorbsEveryCrashAndRedelivery runs a subject's
// access export off the jobs queue, failing each port call in turn: every
// run ends with the request done, its archive holding every record once,
// the same as the clean run's, no archive left past its lifetime, and no
// dead letter.
func TestDSR02_AccessExportAbsorbsEveryCrashAndRedelivery(t *testing.T) {
	checkFlow(t, exportFlow("/v1/subject-requests", `{"type":"access","subject":{"email":"ada@example.com"}}`), false)
}

// TestDSR03_WorkspaceExportAbsorbsEveryCrashAndRedelivery is the same for
// the whole workspace's export.
func TestDSR03_WorkspaceExportAbsorbsEveryCrashAndRedelivery(t *testing.T) {
	checkFlow(t, exportFlow("/v1/exports", ""), false)
}

// archives reads every export archive of acme: each file of each zip, with
// times and run IDs masked. Archives equal in every byte so masked (one a
// crashed run wrote, then its retry) count once.
func archives(t testing.TB, w *stacktest.World) []map[string][]string {
	t.Helper()
	ctx := stacktest.Ctx("acme")
	page, err := w.Stack.Blobs.List(ctx, subject.ExportPrefix, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string][]string
	seen := map[string]bool{}
	for _, o := range page.Objects {
		rc, err := w.Stack.Blobs.Get(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("archive %s: %v", o.Key, err)
		}
		files := map[string][]string{"(key)": {runs.ReplaceAllString(o.Key, "RUN")}}
		for _, f := range zr.File {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatalf("archive %s, %s: %v", o.Key, f.Name, err)
			}
			var lines []string
			for _, line := range strings.Split(runs.ReplaceAllString(times.ReplaceAllString(string(body), "TIME"), "RUN"), "\n") {
				if !ownAudit.MatchString(line) { // the run's own audit entry: TestAUD01's part
					// (trailing commas and brackets too: the entry may have been the last)
					lines = append(lines, strings.TrimRight(auditCount.ReplaceAllString(line, `"audit":N`), ",]"))
				}
			}
			files[f.Name] = lines
		}
		if c := canonical(files); !seen[c] {
			seen[c] = true
			out = append(out, files)
		}
	}
	return out
}

// purgeFlow purges a workspace (contacts, an export archive), retried by
// the owner, and runs the sweep's purge steps until they are done.
func purgeFlow() flow {
	return flow{
		setup: func(t testing.TB, w *stacktest.World) {
			w.Do(t, "POST", "/v1/contacts", owner(w, t), batch1)
			w.Drain(t, ingest.Queue)
			w.Do(t, "POST", "/v1/exports", owner(w, t), "")
			w.Drain(t, jobs.Queue)
		},
		run: func(r *runner) {
			rec := r.request("POST", "/v1/workspace/purge", "acme", auth.Owner, `{"confirm":"acme","email":"owner@acme.example"}`)
			if rec.Code != 202 {
				r.fatalf("purge = %d %s", rec.Code, rec.Body)
			}
			for round := 0; ; round++ {
				if round == 100 {
					r.fatalf("the purge steps never finish")
				}
				n, err := r.w.Stack.Purges.Step(context.Background(), 2) // small steps: more places to crash
				r.in.Recover()
				if err == nil && n == 0 {
					return
				}
				r.w.Clock.Advance(time.Hour)
			}
		},
		end: func(t testing.TB, w *stacktest.World) string {
			ctx := stacktest.Ctx("acme")
			left, err := w.Stack.DB.Store().DeleteTenant(ctx, 1000)
			if err != nil {
				t.Fatal(err)
			}
			blobs, err := w.Stack.Blobs.List(ctx, "", "", 1000)
			if err != nil {
				t.Fatal(err)
			}
			_, sealErr := w.Stack.Keys.Seal(ctx, "X", "y", []byte("z"))
			purge := stacktest.Decode[struct{ Status string }](t, w.Do(t, "GET", "/v1/workspace/purge/"+purgeID(t, w), owner(w, t), ""))
			return canonical(map[string]any{
				"purge":         purge.Status,
				"recordsLeft":   left,
				"filesLeft":     len(blobs.Objects),
				"keysShredded":  sealErr != nil,
				"confirmations": confirmations(t, w),
				"tenantAnswers": w.Do(t, "GET", "/v1/me", owner(w, t), "").Code,
			})
		},
		audit: func(t testing.TB, w *stacktest.World) map[string]int {
			return auditCounts(t, w, string(tenant.Platform), "workspace.")
		},
	}
}

// TestPRG02_PurgeAbsorbsEveryCrashAndRetry purges a workspace (contacts,
// drafts, an export archive) and runs the sweep's purge steps, failing
// each port call in turn; the owner retries the request, the sweep runs
// again. Every run ends with the purge done, the tenant's records, files
// and keys gone, and exactly one confirmation e-mail.
func TestPRG02_PurgeAbsorbsEveryCrashAndRetry(t *testing.T) {
	checkFlow(t, purgeFlow(), false)
}

// TestAUD01_AuditEntriesSurviveCrashesOnce runs the flows above and wants,
// besides their end state, each of their audit entries written exactly
// once under every fault. It fails today (see the note of issue #10): an
// entry written after the effect it records is lost when the process
// crashes in between, since the redelivery finds the effect done. Set
// ALTO_FAULTS_AUDIT=1 to run it.
func TestAUD01_AuditEntriesSurviveCrashesOnce(t *testing.T) {
	if os.Getenv("ALTO_FAULTS_AUDIT") == "" {
		t.Skip("known to fail: audit entries written after their effect are lost by a crash in between; ALTO_FAULTS_AUDIT=1 runs it")
	}
	for name, f := range map[string]flow{
		"ingest":    ingestFlow(),
		"access":    exportFlow("/v1/subject-requests", `{"type":"access","subject":{"email":"ada@example.com"}}`),
		"workspace": exportFlow("/v1/exports", ""),
		"purge":     purgeFlow(),
	} {
		t.Run(name, func(t *testing.T) { checkFlow(t, f, true) })
	}
}

// purgeID is acme's purge, as the platform's audit log names it.
func purgeID(t testing.TB, w *stacktest.World) string {
	t.Helper()
	for _, e := range w.Audited(t, string(tenant.Platform), "workspace.") {
		if e.Detail["org"] == "acme" && e.Target != "" {
			return e.Target
		}
	}
	return "none"
}

// confirmations lists the purge confirmations in the outbox folder, by
// subject line.
func confirmations(t testing.TB, w *stacktest.World) []string {
	t.Helper()
	var out []string
	files, _ := filepath.Glob(filepath.Join(w.Data, "outbox", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(b); strings.Contains(s, "purged") {
			for _, line := range strings.Split(s, "\n") {
				if strings.HasPrefix(line, "Subject:") {
					out = append(out, strings.TrimSpace(line))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}
