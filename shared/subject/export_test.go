package subject_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/aws/aws-lambda-go/events"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/subject"
)

// draft runs an e-mail campaign for every contact of org.
func draft(t *testing.T, w *stacktest.World, org string) {
	t.Helper()
	tok := w.Token(t, org, auth.Principal{Role: auth.Owner})
	rec := w.Do(t, "POST", "/v1/campaigns", tok, `{"name":"Spring","channel":"email","template":"Hello {{.FirstName}}",
		"reason":"you asked for news","sender":{"name":"Acme","postalAddress":"1 Main St, Springfield, USA"}}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /v1/campaigns = %d %s", rec.Code, rec.Body)
	}
	c := stacktest.Decode[campaign.Campaign](t, rec)
	if rec := w.Do(t, "POST", "/v1/campaigns/"+c.ID+"/enqueue", tok, `{"all":true}`); rec.Code != http.StatusAccepted {
		t.Fatalf("enqueue = %d %s", rec.Code, rec.Body)
	}
	w.Drain(t, campaign.Queue)
}

// fetch downloads a link through the server as a client does, following
// the download endpoint's redirect to the blob URL, and returns the final
// status and body.
func fetch(t *testing.T, w *stacktest.World, link string) (int, []byte) {
	t.Helper()
	status, body, _ := fetchVia(t, w, link)
	return status, body
}

// fetchVia is fetch, also returning the blob URL the link redirected to
// ("" if it did not).
func fetchVia(t *testing.T, w *stacktest.World, link string) (int, []byte, string) {
	t.Helper()
	rec := w.Do(t, "GET", requestURI(t, link), "", "")
	if rec.Code != http.StatusFound {
		return rec.Code, rec.Body.Bytes(), ""
	}
	blobURL := rec.Header().Get("Location")
	rec = w.Do(t, "GET", requestURI(t, blobURL), "", "")
	return rec.Code, rec.Body.Bytes(), blobURL
}

func requestURI(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// unzip returns the files of an archive by name.
func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
	return files
}

// document is the JSON document of an archive.
type document struct {
	Contacts  []map[string]any `json:"contacts"`
	Consent   []map[string]any `json:"consent"`
	State     []map[string]any `json:"state"`
	Drafts    []map[string]any `json:"drafts"`
	Campaigns []map[string]any `json:"campaigns"`
	Audit     []map[string]any `json:"audit"`
	Manifest  subject.Manifest `json:"manifest"`
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	return rows
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDSR02_AccessArchiveHoldsTheSubjectAndNobodyElse is must-show 1: an
// access request for an imported e-mail, encrypted to an OpenPGP key,
// yields an archive with that contact's data (contact, consent, state,
// drafts, audit entries) and nothing of any other contact. It decrypts
// with go-crypto and, where gpg is installed, with gpg to the same bytes.
func TestDSR02_AccessArchiveHoldsTheSubjectAndNobodyElse(t *testing.T) {
	w := stacktest.New(t)
	w.ImportCSV(t, "acme", "email,first name,last name,company,phone\n"+
		"ada@example.com,Ada,Lovelace,Analytical Engines,+442071234567\n"+
		"bob@example.com,Bob,Babbage,Difference Engines,+442079876543\n")
	for _, email := range []string{ada, bob} {
		c := find(t, w, "acme", email)
		if _, err := w.Stack.Contacts.Rectify(stacktest.Ctx("acme"), auth.Scope{All: true}, c.ID,
			map[string]json.RawMessage{"consent": json.RawMessage(`{"email":"granted","basis":"consent"}`)}, "u-owner"); err != nil {
			t.Fatal(err)
		}
	}
	draft(t, w, "acme")
	adaID, bobID := find(t, w, "acme", ada).ID, find(t, w, "acme", bob).ID

	body, _ := json.Marshal(map[string]any{"type": "access", "subject": map[string]string{"email": ada},
		"recipientKey": testdata(t, "recipient.pub.asc")})
	code, r, resp := request(t, w, "acme", string(body))
	if code != http.StatusAccepted || r.Encryption != "openpgp" {
		t.Fatalf("POST = %d %s, want 202 with openpgp encryption", code, resp)
	}
	w.Drain(t, jobs.Queue)
	got := get(t, w, "acme", "/v1/subject-requests/"+r.ID)
	if got.Status != subject.Done || got.Download == nil {
		t.Fatalf("request = %+v, want done with a download", got)
	}
	status, cipher, blobURL := fetchVia(t, w, got.Download.URL)
	if status != http.StatusOK {
		t.Fatalf("download = %d", status)
	}
	if !strings.Contains(blobURL, ".zip.gpg?") {
		t.Errorf("download went to %s, want a .zip.gpg archive", blobURL)
	}
	if bytes.Contains(cipher, []byte("ada@example.com")) || bytes.HasPrefix(cipher, []byte("PK")) {
		t.Fatal("the stored archive is not encrypted")
	}

	keyring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(testdata(t, "recipient.sec.asc")))
	if err != nil {
		t.Fatal(err)
	}
	md, err := openpgp.ReadMessage(bytes.NewReader(cipher), keyring, nil, nil)
	if err != nil {
		t.Fatalf("go-crypto cannot decrypt: %v", err)
	}
	plain, err := io.ReadAll(md.UnverifiedBody)
	if err != nil {
		t.Fatalf("go-crypto decrypt: %v", err)
	}

	files := unzip(t, plain)
	var doc document
	if err := json.Unmarshal(files["subject.json"], &doc); err != nil {
		t.Fatalf("subject.json: %v", err)
	}
	text := string(files["subject.json"])
	for _, f := range []string{"contacts.csv", "consent.csv", "state.csv", "drafts.csv", "audit.csv"} {
		text += string(files[f])
	}
	for _, leak := range []string{bob, "Babbage", "Difference Engines", "+442079876543", bobID} {
		if strings.Contains(text, leak) {
			t.Errorf("the archive holds another contact's data: %q", leak)
		}
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"one contact, Ada", len(doc.Contacts) == 1 && doc.Contacts[0]["email"] == ada && doc.Contacts[0]["lastName"] == "Lovelace"},
		{"her consent", len(doc.Consent) == 1 && doc.Consent[0]["contactId"] == adaID && doc.Consent[0]["email"] == "granted"},
		{"her state and the e-mail's suppression", len(doc.State) == 2 && doc.State[0]["suppressed"] == false},
		{"her draft", len(doc.Drafts) == 1 && doc.Drafts[0]["contactId"] == adaID && strings.Contains(doc.Drafts[0]["body"].(string), "Hello Ada")},
		{"audit entries about her only", len(doc.Audit) >= 2 && allTarget(doc.Audit, adaID)},
		{"manifest", doc.Manifest.RequestID == r.ID && doc.Manifest.Tenant == "acme" && doc.Manifest.Kind == "subject" &&
			doc.Manifest.Counts["contacts"] == 1 && doc.Manifest.Counts["audit"] == int64(len(doc.Audit)) && !doc.Manifest.GeneratedAt.IsZero()},
		{"contacts.csv", len(readCSV(t, files["contacts.csv"])) == 2 && readCSV(t, files["contacts.csv"])[1][1] == ada},
		{"phone kept as a number in CSV", readCSV(t, files["contacts.csv"])[1][2] == "+442071234567"},
		{"drafts.csv", len(readCSV(t, files["drafts.csv"])) == 2},
		{"audit.csv", len(readCSV(t, files["audit.csv"])) == len(doc.Audit)+1},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("archive: %s: not as expected\n%s", c.name, files["subject.json"])
		}
	}
	if got.Result.Bytes != int64(len(cipher)) || got.Result.Records != int64(1+1+2+1+len(doc.Audit)) {
		t.Errorf("result = %+v, want %d bytes and the records of the document", got.Result, len(cipher))
	}

	t.Run("gpg", func(t *testing.T) {
		gpgDecrypts(t, cipher, plain)
	})
}

func allTarget(entries []map[string]any, id string) bool {
	for _, e := range entries {
		if e["target"] != id {
			return false
		}
	}
	return true
}

// gpgDecrypts decrypts cipher with the gpg binary and the test key, and
// compares the result with want. Skipped where gpg is not installed (.ci/run
// installs it from Debian's gnupg package when it can).
func gpgDecrypts(t *testing.T, cipher, want []byte) {
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		t.Skip("gpg is not installed (Debian package gnupg): only go-crypto decrypted the archive")
	}
	// gpg-agent's socket path must be short: not under t.TempDir().
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GNUPGHOME="+home)
	t.Cleanup(func() {
		kill := exec.Command("gpgconf", "--kill", "gpg-agent")
		kill.Env = env
		_ = kill.Run()
		os.RemoveAll(home)
	})
	run := func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(gpg, append([]string{"--batch", "--no-tty", "--quiet"}, args...)...)
		cmd.Env, cmd.Stdin = env, bytes.NewReader(stdin)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
		}
		return out.Bytes()
	}
	run([]byte(testdata(t, "recipient.sec.asc")), "--import")
	got := run(cipher, "--pinentry-mode", "loopback", "--decrypt")
	if !bytes.Equal(got, want) {
		t.Errorf("gpg decrypted %d bytes, go-crypto %d: not the same archive", len(got), len(want))
	}
}

// TestENC05_ExportsAreEncryptedToTheRecipient covers the age path and the
// keys refused at request time.
func TestENC05_ExportsAreEncryptedToTheRecipient(t *testing.T) {
	w := stacktest.New(t)
	seed(t, w, "acme", contactJSON(ada, "Ada"))
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("age", func(t *testing.T) {
		_, r, body := request(t, w, "acme", `{"type":"portability","subject":{"email":"ada@example.com"},"recipientKey":"`+id.Recipient().String()+`"}`)
		if r.Encryption != "age" {
			t.Fatalf("answer %s, want age encryption", body)
		}
		w.Drain(t, jobs.Queue)
		got := get(t, w, "acme", "/v1/subject-requests/"+r.ID)
		status, cipher, blobURL := fetchVia(t, w, got.Download.URL)
		if status != http.StatusOK || !strings.Contains(blobURL, ".zip.age?") {
			t.Fatalf("download %s via %s = %d, want a .zip.age archive", got.Download.URL, blobURL, status)
		}
		pr, err := age.Decrypt(bytes.NewReader(cipher), id)
		if err != nil {
			t.Fatalf("age decrypt: %v", err)
		}
		plain, _ := io.ReadAll(pr)
		var doc document
		if err := json.Unmarshal(unzip(t, plain)["subject.json"], &doc); err != nil || len(doc.Contacts) != 1 {
			t.Errorf("decrypted document: %v, %d contacts; want Ada", err, len(doc.Contacts))
		}
	})
	t.Run("link lives 15 minutes", func(t *testing.T) {
		_, r, _ := request(t, w, "acme", `{"type":"access","subject":{"email":"ada@example.com"}}`)
		w.Drain(t, jobs.Queue)
		now := w.Clock.Now()
		got := get(t, w, "acme", "/v1/subject-requests/"+r.ID)
		if got.Encryption != "none" || !got.Download.ExpiresAt.Equal(now.Add(15*time.Minute)) {
			t.Errorf("download = %+v, encryption %s; want a link expiring at %v", got.Download, got.Encryption, now.Add(15*time.Minute))
		}
	})
	public := testdata(t, "recipient.pub.asc")
	private := testdata(t, "recipient.sec.asc")
	for _, tc := range []struct{ name, key string }{
		{"not a key", "hello"},
		{"broken armor", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----"},
		{"private key", private},
		{"truncated key", public[:len(public)/2]},
		{"bad age recipient", "age1notarecipient"},
	} {
		t.Run("refused "+tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"type": "access", "subject": map[string]string{"email": ada}, "recipientKey": tc.key})
			code, _, resp := request(t, w, "acme", string(body))
			if code != http.StatusUnprocessableEntity || !strings.Contains(resp, `"recipientKey"`) {
				t.Errorf("POST = %d %s, want 422 on recipientKey", code, resp)
			}
			if strings.Contains(resp, "PGP") && strings.Contains(resp, "AAAA") {
				t.Errorf("the problem echoes the key: %s", resp)
			}
			rec := w.Do(t, "POST", "/v1/exports", w.Token(t, "acme", auth.Principal{Role: auth.Owner}),
				`{"recipientKey":`+string(must(json.Marshal(tc.key)))+`}`)
			if rec.Code != http.StatusUnprocessableEntity {
				t.Errorf("POST /v1/exports = %d %s, want 422", rec.Code, rec.Body)
			}
		})
	}
	if stored := raw(t, w, "acme"); bytes.Contains(stored, []byte(id.Recipient().String())) {
		t.Error("the recipient key is stored in plaintext")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestDSR04_DownloadsAreAuditedAndExpiredLinksRefused is must-show 2: a
// used link is in the audit log, an expired one is refused (and not
// audited as a download), and the export itself is audited with its size.
func TestDSR04_DownloadsAreAuditedAndExpiredLinksRefused(t *testing.T) {
	w := stacktest.New(t)
	seed(t, w, "acme", contactJSON(ada, "Ada"))
	_, r, _ := request(t, w, "acme", `{"type":"access","subject":{"email":"ada@example.com"}}`)
	w.Drain(t, jobs.Queue)
	link := get(t, w, "acme", "/v1/subject-requests/"+r.ID).Download.URL

	created := w.Audited(t, "acme", incident.TypeExportCreated)
	if len(created) != 1 || created[0].Target != r.ID || created[0].Detail[incident.DetailBytes] == "" || created[0].Detail["rows"] == "" {
		t.Errorf("export.created entries = %+v, want one with bytes and rows", created)
	}
	if status, body := fetch(t, w, link); status != http.StatusOK || len(body) == 0 {
		t.Fatalf("download = %d, want 200", status)
	}
	used := w.Audited(t, "acme", "export.downloaded")
	if len(used) != 1 || used[0].Target != r.ID {
		t.Fatalf("export.downloaded entries = %+v, want one for %s", used, r.ID)
	}
	w.Clock.Advance(15*time.Minute + time.Second)
	if status, body := fetch(t, w, link); status != http.StatusGone || bytes.HasPrefix(body, []byte("PK")) {
		t.Errorf("expired link = %d, want 410 and no archive", status)
	}
	if n := len(w.Audited(t, "acme", "export.downloaded")); n != 1 {
		t.Errorf("downloads audited = %d after a refused one, want still 1", n)
	}
	// A fresh read of the request mints a fresh link.
	fresh := get(t, w, "acme", "/v1/subject-requests/"+r.ID).Download
	if fresh == nil || fresh.URL == link {
		t.Fatalf("fresh download = %+v, want a new link", fresh)
	}
	if status, _ := fetch(t, w, fresh.URL); status != http.StatusOK {
		t.Errorf("fresh link = %d, want 200", status)
	}

	t.Run("archive deleted after its lifetime", func(t *testing.T) {
		w.Clock.Advance(subject.ArchiveTTL)
		for _, s := range w.Stack.Schedules() {
			if s.Name == "sweep" {
				if err := s.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := get(t, w, "acme", "/v1/subject-requests/"+r.ID); got.Download != nil {
			t.Errorf("download after the archive's lifetime = %+v, want none", got.Download)
		}
		page, err := w.Stack.Blobs.List(stacktest.Ctx("acme"), subject.ExportPrefix, "", 10)
		if err != nil || len(page.Objects) != 0 {
			t.Errorf("archives left = %+v, %v; want none", page.Objects, err)
		}
		if status, _ := fetch(t, w, fresh.URL); status == http.StatusOK {
			t.Error("the old link still serves the archive")
		}
	})
}

// TestDSR03_WorkspaceExport exports a whole tenant: every contact,
// campaign, draft and audit entry, with progress, and nothing of another
// tenant.
func TestDSR03_WorkspaceExport(t *testing.T) {
	w := stacktest.New(t)
	var cs []string
	for i := range 30 {
		cs = append(cs, contactJSON("p"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.com", "P"))
	}
	seed(t, w, "acme", cs...)
	draft(t, w, "acme")
	seed(t, w, "globex", contactJSON("eve@example.com", "Eve"))
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Admin})
	rec := w.Do(t, "POST", "/v1/exports", tok, "")
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST /v1/exports = %d %s", rec.Code, rec.Body)
	}
	exp := stacktest.Decode[subject.Request](t, rec)
	if exp.Status != subject.Received || exp.Type != subject.Workspace || !exp.DueAt.IsZero() {
		t.Errorf("answer = %+v, want a received workspace export without due date", exp)
	}
	w.Drain(t, jobs.Queue)
	got := get(t, w, "acme", "/v1/exports/"+exp.ID)
	if got.Status != subject.Done || got.Progress == nil || got.Progress.Rows == 0 || got.Progress.Attempt != 1 || got.Download == nil {
		t.Fatalf("export = %+v, want done with progress and a download", got)
	}
	_, b := fetch(t, w, got.Download.URL)
	files := unzip(t, b)
	var doc document
	if err := json.Unmarshal(files["workspace.json"], &doc); err != nil {
		t.Fatalf("workspace.json: %v", err)
	}
	if len(doc.Contacts) != 30 || len(doc.Campaigns) != 1 || len(doc.Drafts) != 30 || len(doc.Audit) == 0 {
		t.Errorf("document: %d contacts, %d campaigns, %d drafts, %d audit entries; want 30, 1, 30, some",
			len(doc.Contacts), len(doc.Campaigns), len(doc.Drafts), len(doc.Audit))
	}
	if rows := readCSV(t, files["contacts.csv"]); len(rows) != 31 {
		t.Errorf("contacts.csv has %d rows, want a header and 30", len(rows))
	}
	if bytes.Contains(b, []byte("eve@example.com")) || strings.Contains(string(files["workspace.json"]), "eve@") {
		t.Error("the export holds another tenant's contact")
	}
	if doc.Manifest.Kind != "workspace" || doc.Manifest.Counts["contacts"] != 30 {
		t.Errorf("manifest = %+v", doc.Manifest)
	}
	if es := w.Audited(t, "acme", incident.TypeExportCreated); len(es) != 1 || es[0].Target != exp.ID || es[0].Detail["bytes"] != itoa(len(b)) {
		t.Errorf("export.created = %+v, want one with %d bytes", es, len(b))
	}
	if es := w.Audited(t, "acme", "export.requested"); len(es) != 1 || es[0].Actor != "u-admin" {
		t.Errorf("export.requested = %+v, want one by u-admin", es)
	}
}

func itoa(n int) string { return string(must(json.Marshal(n))) }

// failingBlobs reads a whole archive and then fails, as a crash of the
// function before the object is complete would: nothing is stored.
type failingBlobs struct{ subject.Blobs }

func (f failingBlobs) Put(ctx context.Context, key string, r io.Reader) (blob.Object, error) {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return blob.Object{}, err
	}
	return blob.Object{}, errors.New("crash")
}

// TestDSR03_WorkspaceExportResumesAfterACrash: a first run dies mid-way
// with its progress checkpointed; the redelivered job restarts the archive
// cleanly and the result holds every record once, in one archive.
func TestDSR03_WorkspaceExportResumesAfterACrash(t *testing.T) {
	w := stacktest.New(t)
	const n = 300 // with their audit entries, in two passes: past one progress checkpoint
	var cs []string
	for i := range n {
		cs = append(cs, `{"email":"c`+itoa(i)+`@example.com","firstName":"C"}`)
		if len(cs) == 150 {
			seed(t, w, "acme", cs...)
			cs = nil
		}
	}
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	exp := stacktest.Decode[subject.Request](t, w.Do(t, "POST", "/v1/exports", tok, "{}"))

	// The first delivery crashes after its checkpoints.
	crashing := *w.Stack.Subjects
	crashing.Blobs = failingBlobs{w.Stack.Blobs}
	var d jobs.Dispatcher
	d.Dead = w.Stack.Queues
	crashing.Register(&d)
	ctx := stacktest.Ctx("acme")
	ds, err := w.Stack.Queues.Receive(ctx, jobs.Queue, 1, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("receive: %v %v", ds, err)
	}
	var j jobs.Job
	json.Unmarshal(ds[0].Body, &j)
	j.Attempt = 1
	if err := crashingRun(&d, ctx, j); err == nil {
		t.Fatal("the crashing run succeeded")
	}
	mid := get(t, w, "acme", "/v1/exports/"+exp.ID)
	if mid.Status != subject.Running || mid.Progress == nil || mid.Progress.Rows < 1000 || mid.Progress.Attempt != 1 || mid.Download != nil {
		t.Fatalf("after the crash: %+v, want running with checkpointed progress and no download", mid)
	}
	if page, _ := w.Stack.Blobs.List(ctx, subject.ExportPrefix, "", 10); len(page.Objects) != 0 {
		t.Fatalf("a crashed run left %v", page.Objects)
	}

	// The job comes back after its visibility timeout and runs again.
	w.Clock.Advance(jobs.Visibility + time.Second)
	w.Drain(t, jobs.Queue)
	got := get(t, w, "acme", "/v1/exports/"+exp.ID)
	if got.Status != subject.Done || got.Progress.Attempt != 2 || got.Download == nil {
		t.Fatalf("after the redelivery: %+v, want done on attempt 2", got)
	}
	page, _ := w.Stack.Blobs.List(ctx, subject.ExportPrefix, "", 10)
	if len(page.Objects) != 1 {
		t.Errorf("archives = %v, want exactly one", page.Objects)
	}
	_, b := fetch(t, w, got.Download.URL)
	var doc document
	if err := json.Unmarshal(unzip(t, b)["workspace.json"], &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[any]bool{}
	for _, c := range doc.Contacts {
		seen[c["id"]] = true
	}
	if len(doc.Contacts) != n || len(seen) != n {
		t.Errorf("contacts = %d (%d distinct), want %d once each", len(doc.Contacts), len(seen), n)
	}
	if es := w.Audited(t, "acme", incident.TypeExportCreated); len(es) != 1 {
		t.Errorf("export.created entries = %d, want 1", len(es))
	}
	// A late redelivery of the finished job changes nothing.
	if err := crashingRun(w.Stack.Jobs, ctx, j); err != nil {
		t.Errorf("redelivery of a finished export: %v", err)
	}
	if again := get(t, w, "acme", "/v1/exports/"+exp.ID); again.Progress.Attempt != 2 || len(again.History) != len(got.History) {
		t.Errorf("redelivery changed the export: %+v", again)
	}
}

// sqsEvent is an SQS batch of one message with its receive count.
func sqsEvent(body string, receives int) events.SQSEvent {
	return events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: body,
		Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives)}}}}
}

// crashingRun runs one job through d as Lambda would, and returns an error
// if it was reported as failed.
func crashingRun(d *jobs.Dispatcher, ctx context.Context, j jobs.Job) error {
	body, _ := json.Marshal(j)
	res, err := d.HandleSQS(ctx, sqsEvent(string(body), j.Attempt))
	if err != nil {
		return err
	}
	if len(res.BatchItemFailures) > 0 {
		return errors.New("batch item failure")
	}
	return nil
}

// TestDSR03_TakenOverRunLeavesNothing: when a second delivery takes a
// running export over (the first overran its visibility timeout), the
// first stops or discards its archive; one archive remains.
func TestDSR03_TakenOverRunLeavesNothing(t *testing.T) {
	w := stacktest.New(t)
	seed(t, w, "acme", contactJSON(ada, "Ada"))
	tok := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	exp := stacktest.Decode[subject.Request](t, w.Do(t, "POST", "/v1/exports", tok, ""))
	ctx := stacktest.Ctx("acme")
	j := jobs.Job{V: 1, Org: "acme", Kind: subject.JobWorkspaceExport, ID: exp.ID, Attempt: 1}

	// The first run's archive is being stored when the second run starts
	// and finishes.
	var once sync.Once
	slow := *w.Stack.Subjects
	slow.Blobs = interceptBlobs{Blobs: w.Stack.Blobs, before: func() {
		once.Do(func() {
			j2 := j
			j2.Attempt = 2
			if err := crashingRun(w.Stack.Jobs, ctx, j2); err != nil {
				t.Errorf("second run: %v", err)
			}
		})
	}}
	var d jobs.Dispatcher
	slow.Register(&d)
	if err := crashingRun(&d, ctx, j); err != nil {
		t.Fatalf("first run: %v", err)
	}
	got := get(t, w, "acme", "/v1/exports/"+exp.ID)
	page, _ := w.Stack.Blobs.List(ctx, subject.ExportPrefix, "", 10)
	if got.Status != subject.Done || got.Progress.Attempt != 2 || len(page.Objects) != 1 {
		t.Errorf("export = %+v with archives %v, want done by run 2 with one archive", got, page.Objects)
	}
	if es := w.Audited(t, "acme", incident.TypeExportCreated); len(es) != 1 {
		t.Errorf("export.created entries = %d, want 1", len(es))
	}
}

// interceptBlobs calls before ahead of storing an archive.
type interceptBlobs struct {
	subject.Blobs
	before func()
}

func (b interceptBlobs) Put(ctx context.Context, key string, r io.Reader) (blob.Object, error) {
	b.before()
	return b.Blobs.Put(ctx, key, r)
}
