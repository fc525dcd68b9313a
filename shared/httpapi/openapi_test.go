package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/alto/alto"
)

var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// loadSpec parses and validates docs/openapi.yaml once.
func loadSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	spec.once.Do(func() {
		spec.doc, spec.err = openapi3.NewLoader().LoadFromData(alto.OpenAPI)
		if spec.err == nil {
			spec.err = spec.doc.Validate(context.Background())
		}
		if spec.err == nil {
			spec.router, spec.err = legacy.NewRouter(spec.doc)
		}
	})
	if spec.err != nil {
		t.Fatalf("docs/openapi.yaml: %v", spec.err)
	}
	return spec.doc, spec.router
}

// checkAgainstSpec validates a recorded response against the OpenAPI
// document: its status must be documented for the route and its body must
// match the schema. Requests to paths the document does not describe are
// left to the test (they must answer 404 or 405).
func checkAgainstSpec(t *testing.T, r *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	doc, router := loadSpec(t)
	// The router matches the document's server; tests address any host.
	r = r.Clone(r.Context())
	server, _ := url.Parse(doc.Servers[0].URL)
	r.URL.Scheme, r.URL.Host, r.Host = server.Scheme, server.Host, server.Host
	route, params, err := router.FindRoute(r)
	if err != nil {
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 w.Code,
		Header:                 w.Header(),
		Body:                   io.NopCloser(bytes.NewReader(w.Body.Bytes())),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d not as docs/openapi.yaml says: %v", r.Method, r.URL.Path, w.Code, err)
	}
}

// TestOpenAPIDescribesEveryRoute keeps the document and the router in step:
// every served route is documented and every documented operation served.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc, _ := loadSpec(t)
	h := newHarness(t, nil)
	served := map[string]bool{}
	for _, rt := range h.api.Routes() {
		key := rt.Method + " " + rt.Path
		served[key] = true
		item := doc.Paths.Find(rt.Path)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("%s is served but not in docs/openapi.yaml", key)
			continue
		}
		op := item.GetOperation(rt.Method)
		public := op.Security != nil && len(*op.Security) == 0
		if public != (rt.Action == "") {
			t.Errorf("%s: document says public=%v, router says public=%v", key, public, rt.Action == "")
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[strings.ToUpper(method)+" "+path] {
				t.Errorf("%s %s is in docs/openapi.yaml but not served", method, path)
			}
		}
	}
	w := h.do(t, "GET", "/v1/openapi.yaml", "", nil)
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), alto.OpenAPI) {
		t.Errorf("GET /v1/openapi.yaml = %d, want 200 with the document", w.Code)
	}
}
