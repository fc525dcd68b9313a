package subject_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stacktest"
	"github.com/alto/alto/shared/subject"
)

// exported files an access request for ada in org, runs its export and
// returns the request ID and its download link.
func exported(t *testing.T, w *stacktest.World, org string) (string, string) {
	t.Helper()
	seed(t, w, org, contactJSON(ada, "Ada"))
	code, r, body := request(t, w, org, `{"type":"access","subject":{"email":"ada@example.com"}}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", code, body)
	}
	w.Drain(t, jobs.Queue)
	got := get(t, w, org, "/v1/subject-requests/"+r.ID)
	if got.Download == nil {
		t.Fatalf("request %+v has no download link", got)
	}
	if !strings.HasPrefix(got.Download.URL, "https://alto.example"+subject.DownloadPath) {
		t.Fatalf("download link %s, want Alto's own download endpoint", got.Download.URL)
	}
	return r.ID, got.Download.URL
}

// token splits a link into its token's payload fields (org, ID, expiry)
// and signature.
func token(t *testing.T, link string) ([]string, string) {
	t.Helper()
	enc, mac, ok := strings.Cut(strings.TrimPrefix(requestURI(t, link), subject.DownloadPath), ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if !ok || err != nil {
		t.Fatalf("link %s has no token", link)
	}
	return strings.Split(string(raw), "|"), mac
}

// linkOf builds a link from payload fields and a signature.
func linkOf(fields []string, mac string) string {
	return subject.DownloadPath + base64.RawURLEncoding.EncodeToString([]byte(strings.Join(fields, "|"))) + "." + mac
}

// refused follows link and checks that it is refused with status as
// problem JSON, serving nothing.
func refused(t *testing.T, w *stacktest.World, link string, status int) {
	t.Helper()
	rec := w.Do(t, "GET", requestURI(t, link), "", "")
	if rec.Code != status || rec.Header().Get("Location") != "" {
		t.Fatalf("GET %s = %d (Location %q), want %d and no redirect", link, rec.Code, rec.Header().Get("Location"), status)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want problem JSON", ct)
	}
	var p struct {
		Status int
		Detail string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != status || p.Detail == "" {
		t.Errorf("body = %s, want a problem with status %d and a detail", rec.Body, status)
	}
}

func downloads(t *testing.T, w *stacktest.World, org string) int {
	t.Helper()
	return len(w.Audited(t, org, "export.downloaded"))
}

// TestDSR04_ExpiredLinkIsRefused: a link past its 15 minutes, or of a
// purged workspace, answers 410 and is not audited as a download.
func TestDSR04_ExpiredLinkIsRefused(t *testing.T) {
	tests := []struct {
		name  string
		after func(w *stacktest.World)
	}{
		{"at its expiry", func(w *stacktest.World) { w.Clock.Advance(subject.DefaultLinkTTL) }},
		{"long after", func(w *stacktest.World) { w.Clock.Advance(subject.ArchiveTTL + time.Hour) }},
		{"workspace purged", func(w *stacktest.World) {
			if err := w.Stack.Keys.Shred(stacktest.Ctx("acme")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := stacktest.New(t)
			_, link := exported(t, w, "acme")
			w.Clock.Advance(subject.DefaultLinkTTL - time.Second)
			if status, _ := fetch(t, w, link); status != http.StatusOK {
				t.Fatalf("a second before its expiry: %d, want 200", status)
			}
			w.Clock.Advance(time.Second)
			tc.after(w)
			refused(t, w, link, http.StatusGone)
			if n := downloads(t, w, "acme"); n != 1 {
				t.Errorf("downloads audited = %d, want only the one before the expiry", n)
			}
		})
	}
}

// TestDSR04_UsedLinkIsAuditedOnce: each use of a link writes exactly one
// export.downloaded entry (who, what, when: no address, no personal data)
// before it redirects; following the redirect adds none, and the blob
// URL it redirects to lives a minute.
func TestDSR04_UsedLinkIsAuditedOnce(t *testing.T) {
	w := stacktest.New(t)
	id, link := exported(t, w, "acme")
	if n := downloads(t, w, "acme"); n != 0 {
		t.Fatalf("downloads audited before any = %d", n)
	}
	status, body, blobURL := fetchVia(t, w, link)
	if status != http.StatusOK || !bytes.HasPrefix(body, []byte("PK")) {
		t.Fatalf("download = %d, want 200 and the zip", status)
	}
	got := w.Audited(t, "acme", "export.downloaded")
	if len(got) != 1 {
		t.Fatalf("export.downloaded entries = %d, want exactly 1: %+v", len(got), got)
	}
	e := got[0]
	if e.Actor != "download-link" || e.Target != id || e.Detail["export"] != "subject" ||
		!strings.HasSuffix(e.Detail["file"], ".zip") || !strings.HasPrefix(e.Detail["client"], "ip:") || e.Detail["linkExpires"] == "" {
		t.Errorf("entry = %+v, want by download-link on %s with export, file, client digest and link expiry", e, id)
	}
	raw, _ := json.Marshal(e)
	for _, secret := range []string{"192.0.2.1", ada, "Ada"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the audit entry holds %q: %s", secret, raw)
		}
	}

	if status, _ := fetch(t, w, link); status != http.StatusOK {
		t.Fatalf("second use = %d, want 200", status)
	}
	if n := downloads(t, w, "acme"); n != 2 {
		t.Errorf("downloads audited after two uses = %d, want 2 (one per use)", n)
	}
	w.Clock.Advance(subject.BlobURLTTL)
	if rec := w.Do(t, "GET", requestURI(t, blobURL), "", ""); rec.Code == http.StatusOK {
		t.Errorf("the blob URL still serves the archive after %v", subject.BlobURLTTL)
	}
	if res, err := w.Stack.Audit.Verify(stacktest.Ctx("acme")); err != nil || !res.OK {
		t.Errorf("audit chain = %+v, %v; want intact", res, err)
	}
}

// TestDSR04_TamperedLinkIsRefused: a link changed in any part answers 404
// and audits nothing.
func TestDSR04_TamperedLinkIsRefused(t *testing.T) {
	w := stacktest.New(t)
	_, link := exported(t, w, "acme")
	_, other := exported(t, w, "acme") // a second request of the same tenant
	fields, mac := token(t, link)
	otherFields, _ := token(t, other)
	exp, _ := strconv.ParseInt(fields[2], 10, 64)
	flipped := []byte(mac)
	flipped[len(flipped)/2] ^= 0x01

	tests := []struct{ name, link string }{
		{"signature changed", linkOf(fields, string(flipped))},
		{"expiry extended", linkOf([]string{fields[0], fields[1], strconv.FormatInt(exp+3600, 10)}, mac)},
		{"another request", linkOf([]string{fields[0], otherFields[1], fields[2]}, mac)},
		{"signature missing", linkOf(fields, "")},
		{"no token", subject.DownloadPath + "x"},
		{"not base64", subject.DownloadPath + "!!!." + mac},
		{"unknown kind of ID", linkOf([]string{fields[0], "c_" + fields[1], fields[2]}, mac)},
		{"too long", subject.DownloadPath + strings.Repeat("a", 600) + "." + mac},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refused(t, w, tc.link, http.StatusNotFound)
			if n := downloads(t, w, "acme"); n != 0 {
				t.Errorf("downloads audited = %d, want 0", n)
			}
		})
	}
	if status, _ := fetch(t, w, link); status != http.StatusOK {
		t.Errorf("the untouched link = %d, want 200", status)
	}
}

// TestDSR04_ForeignTenantsTokenCannotFetch: another tenant's keys cannot
// make a link to this tenant's archive, however the token is put
// together; each attempt answers 404 and is not audited as a download.
func TestDSR04_ForeignTenantsTokenCannotFetch(t *testing.T) {
	w := stacktest.New(t)
	acmeID, acmeLink := exported(t, w, "acme")
	_, globexLink := exported(t, w, "globex")
	acme, _ := token(t, acmeLink)
	globex, globexMAC := token(t, globexLink)
	signedByGlobex := func(fields []string) string {
		mac, err := w.Stack.Keys.BlindIndex(stacktest.Ctx("globex"), "download-link", strings.Join(fields, "|"))
		if err != nil {
			t.Fatal(err)
		}
		return linkOf(fields, mac)
	}

	tests := []struct{ name, link string }{
		{"globex's link renamed to acme's request", linkOf([]string{"acme", acmeID, globex[2]}, globexMAC)},
		{"globex's token for acme's request", signedByGlobex([]string{"globex", acmeID, acme[2]})},
		{"acme's token signed by globex", signedByGlobex([]string{"acme", acmeID, acme[2]})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refused(t, w, tc.link, http.StatusNotFound)
		})
	}
	for _, org := range []string{"acme", "globex"} {
		if n := downloads(t, w, org); n != 0 {
			t.Errorf("%s downloads audited = %d, want 0", org, n)
		}
	}
	if status, _ := fetch(t, w, globexLink); status != http.StatusOK {
		t.Errorf("globex's own link = %d, want 200", status)
	}
	if status, _ := fetch(t, w, acmeLink); status != http.StatusOK {
		t.Errorf("acme's own link = %d, want 200", status)
	}
	// A link naming a tenant that never used Alto is refused without its
	// keys being made.
	refused(t, w, linkOf([]string{"initech", acmeID, acme[2]}, globexMAC), http.StatusNotFound)
	if entries, err := os.ReadDir(filepath.Join(w.Data, "keysets")); err != nil {
		t.Fatal(err)
	} else {
		for _, e := range entries {
			if strings.Contains(e.Name(), "initech") {
				t.Errorf("a forged link made keys for its tenant: %s", e.Name())
			}
		}
	}
	// The owner's token of another tenant does not help either: the link
	// needs no principal and ignores one.
	rec := w.Do(t, "GET", linkOf([]string{"acme", acmeID, globex[2]}, globexMAC), w.Token(t, "acme", auth.Principal{Role: auth.Owner}), "")
	if rec.Code != http.StatusNotFound {
		t.Errorf("forged link with a valid bearer token = %d, want 404", rec.Code)
	}
}
