package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/poller"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/subject"
)

// jsonDo serves one JSON request and checks the answer against the
// OpenAPI document.
func (h *harness) jsonDo(t *testing.T, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.10:5555"
	r.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.api.ServeHTTP(w, r)
	checkAgainstSpec(t, r, w)
	return w
}

// TestDSR01_SubjectRoutesAnswerAsDocumented drives every subject-request
// and export route through its documented answers.
func TestDSR01_SubjectRoutesAnswerAsDocumented(t *testing.T) {
	h := newHarness(t, nil)
	owner := h.token(t, "acme", auth.Owner)
	var ids = map[string]string{}
	steps := []struct {
		name, method, path, body string
		status                   int
	}{
		{"erasure", "POST", "/v1/subject-requests", `{"type":"erasure","subject":{"email":"ada@example.com"}}`, 202},
		{"access", "POST", "/v1/subject-requests", `{"type":"access","subject":{"phone":"+14155552671"}}`, 202},
		{"restriction of nobody", "POST", "/v1/subject-requests", `{"type":"restriction","subject":{"contactId":"c_nobody"}}`, 202},
		{"another tenant's contact", "POST", "/v1/subject-requests", `{"type":"restriction","subject":{"contactId":"c_000000_AAAAAAAAAAAAAAAAAAAAAA"}}`, 404},
		{"invalid", "POST", "/v1/subject-requests", `{"type":"access","subject":{}}`, 422},
		{"not JSON", "POST", "/v1/subject-requests", `{`, 400},
		{"list", "GET", "/v1/subject-requests?limit=2", "", 200},
		{"list bad filter", "GET", "/v1/subject-requests?status=lost", "", 422},
		{"get", "GET", "/v1/subject-requests/{erasure}", "", 200},
		{"get unknown", "GET", "/v1/subject-requests/dsr_nope", "", 404},
		{"export", "POST", "/v1/exports", `{}`, 202},
		{"export bad key", "POST", "/v1/exports", `{"recipientKey":"x"}`, 422},
		{"get export", "GET", "/v1/exports/{export}", "", 200},
		{"get unknown export", "GET", "/v1/exports/exp_nope", "", 404},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			path := st.path
			for name, id := range ids {
				path = strings.ReplaceAll(path, "{"+name+"}", id)
			}
			w := h.jsonDo(t, st.method, path, owner, st.body)
			if w.Code != st.status {
				t.Fatalf("%s %s = %d %s, want %d", st.method, path, w.Code, w.Body, st.status)
			}
			var got struct{ ID string }
			json.Unmarshal(w.Body.Bytes(), &got)
			if w.Code == http.StatusAccepted {
				ids[st.name] = got.ID
			}
		})
	}
}

// TestDSR04_DownloadRouteAnswersAsDocumented follows a workspace export's
// download link through the API: 302 to the blob URL while it lives, 410
// once expired, 404 when tampered with, each as docs/openapi.yaml says.
func TestDSR04_DownloadRouteAnswersAsDocumented(t *testing.T) {
	h := newHarness(t, nil)
	owner := h.token(t, "acme", auth.Owner)
	exp := h.jsonDo(t, "POST", "/v1/exports", owner, `{}`)
	var created struct{ ID string }
	json.Unmarshal(exp.Body.Bytes(), &created)
	d := &jobs.Dispatcher{}
	h.api.cfg.Subjects.Register(d)
	q := h.api.cfg.Subjects.Jobs.(*jobs.Producer).Queue.(queue.Consumer)
	if _, err := (&poller.Poller{Queue: q, Name: jobs.Queue, Handler: d.HandleSQS}).Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got subject.Request
	json.Unmarshal(h.jsonDo(t, "GET", "/v1/exports/"+created.ID, owner, "").Body.Bytes(), &got)
	if got.Download == nil {
		t.Fatalf("export = %+v, want a download link", got)
	}
	u, err := url.Parse(got.Download.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The document's server: checkAgainstSpec finds the route only on it.
	link := "http://127.0.0.1:8080" + u.Path
	steps := []struct {
		name, path string
		advance    time.Duration
		status     int
	}{
		{"follow", link, 0, http.StatusFound},
		{"tampered", link + "x", 0, http.StatusNotFound},
		{"expired", link, subject.DefaultLinkTTL, http.StatusGone},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			h.clock.Advance(st.advance)
			w := h.jsonDo(t, "GET", st.path, "", "")
			if w.Code != st.status {
				t.Fatalf("GET = %d %s, want %d", w.Code, w.Body, st.status)
			}
			if loc := w.Header().Get("Location"); (st.status == http.StatusFound) != strings.HasPrefix(loc, "https://alto.example/blob/acme/exports/") {
				t.Errorf("Location = %q", loc)
			}
		})
	}
}
