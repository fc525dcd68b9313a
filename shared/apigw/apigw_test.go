package apigw_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/apigw"
)

// seen is what the recording handler saw of one request.
type seen struct {
	Method        string
	Path          string
	Query         map[string][]string
	Header        http.Header
	Body          []byte
	ContentLength int64
	Host          string
	RemoteAddr    string
}

// recorder is an http.Handler that records the request it serves and then
// answers with respond (or nothing when respond is nil).
type recorder struct {
	respond func(w http.ResponseWriter)

	mu   sync.Mutex
	got  *seen
	errs []error
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	h.mu.Lock()
	if err != nil {
		h.errs = append(h.errs, err)
	}
	h.got = &seen{
		Method:        r.Method,
		Path:          r.URL.Path,
		Query:         r.URL.Query(),
		Header:        r.Header.Clone(),
		Body:          body,
		ContentLength: r.ContentLength,
		Host:          r.Host,
		RemoteAddr:    r.RemoteAddr,
	}
	h.mu.Unlock()
	if h.respond != nil {
		h.respond(w)
	}
}

// seenRequest returns the request h recorded, failing the test if there was
// none.
func (h *recorder) seenRequest(t *testing.T) seen {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, err := range h.errs {
		t.Errorf("reading the request body: %v", err)
	}
	if h.got == nil {
		t.Fatal("handler was not called")
	}
	return *h.got
}

func TestRequest(t *testing.T) {
	tests := []struct {
		name  string
		ev    events.APIGatewayProxyRequest
		check func(t *testing.T, got seen)
	}{
		{
			name: "method and path",
			ev:   events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/v1/contacts/c-42"},
			check: func(t *testing.T, got seen) {
				if got.Method != "DELETE" {
					t.Errorf("method = %q, want %q", got.Method, "DELETE")
				}
				if got.Path != "/v1/contacts/c-42" {
					t.Errorf("path = %q, want %q", got.Path, "/v1/contacts/c-42")
				}
				if len(got.Query) != 0 {
					t.Errorf("query = %v, want none", got.Query)
				}
			},
		},
		{
			name: "query multi-value and single-value merged",
			ev: events.APIGatewayProxyRequest{
				HTTPMethod: "GET",
				Path:       "/v1/audit",
				MultiValueQueryStringParameters: map[string][]string{
					"type": {"auth.login", "auth.logout"},
					"from": {"2025-01-01T00:00:00Z"},
				},
				QueryStringParameters: map[string]string{
					"type":  "auth.logout", // API Gateway repeats the last value here
					"from":  "2025-01-01T00:00:00Z",
					"limit": "10", // only in the single-value map
					"q":     "a&b=c d",
				},
			},
			check: func(t *testing.T, got seen) {
				want := map[string][]string{
					"type":  {"auth.login", "auth.logout"},
					"from":  {"2025-01-01T00:00:00Z"},
					"limit": {"10"},
					"q":     {"a&b=c d"},
				}
				if !reflect.DeepEqual(got.Query, want) {
					t.Errorf("query = %v, want %v", got.Query, want)
				}
			},
		},
		{
			name: "headers multi-value and single-value merged",
			ev: events.APIGatewayProxyRequest{
				HTTPMethod: "GET",
				Path:       "/",
				MultiValueHeaders: map[string][]string{
					"Accept":          {"application/json", "text/plain"},
					"x-forwarded-for": {"203.0.113.9", "198.51.100.7"},
					"Host":            {"api.alto.example"},
				},
				Headers: map[string]string{
					"Accept":        "text/plain",
					"Authorization": "Bearer t0ken",
				},
			},
			check: func(t *testing.T, got seen) {
				for key, want := range map[string][]string{
					"Accept":          {"application/json", "text/plain"},
					"X-Forwarded-For": {"203.0.113.9", "198.51.100.7"},
					"Authorization":   {"Bearer t0ken"},
				} {
					if vs := got.Header.Values(key); !reflect.DeepEqual(vs, want) {
						t.Errorf("header %s = %q, want %q", key, vs, want)
					}
				}
				if got.Host != "api.alto.example" {
					t.Errorf("host = %q, want %q", got.Host, "api.alto.example")
				}
			},
		},
		{
			name: "plain body",
			ev:   events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/v1/forms/f-1", Body: `{"email":"x"}`},
			check: func(t *testing.T, got seen) {
				if string(got.Body) != `{"email":"x"}` {
					t.Errorf("body = %q, want %q", got.Body, `{"email":"x"}`)
				}
				if got.ContentLength != int64(len(got.Body)) {
					t.Errorf("content length = %d, want %d", got.ContentLength, len(got.Body))
				}
			},
		},
		{
			name: "base64 body decoded",
			ev: events.APIGatewayProxyRequest{
				HTTPMethod:      "PUT",
				Path:            "/v1/files/f-1",
				Body:            base64.StdEncoding.EncodeToString([]byte{0x00, 0xff, 0x10, 'a'}),
				IsBase64Encoded: true,
			},
			check: func(t *testing.T, got seen) {
				if want := []byte{0x00, 0xff, 0x10, 'a'}; string(got.Body) != string(want) {
					t.Errorf("body = %x, want %x", got.Body, want)
				}
				if got.ContentLength != 4 {
					t.Errorf("content length = %d, want 4", got.ContentLength)
				}
			},
		},
		{
			name: "remote address from the source IP",
			ev: func() events.APIGatewayProxyRequest {
				ev := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/"}
				ev.RequestContext.Identity.SourceIP = "198.51.100.7"
				return ev
			}(),
			check: func(t *testing.T, got seen) {
				if want := "198.51.100.7:0"; got.RemoteAddr != want {
					t.Errorf("remote address = %q, want %q", got.RemoteAddr, want)
				}
			},
		},
		{
			name: "IPv6 source IP",
			ev: func() events.APIGatewayProxyRequest {
				ev := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/"}
				ev.RequestContext.Identity.SourceIP = "2001:db8::1"
				return ev
			}(),
			check: func(t *testing.T, got seen) {
				if want := "[2001:db8::1]:0"; got.RemoteAddr != want {
					t.Errorf("remote address = %q, want %q", got.RemoteAddr, want)
				}
			},
		},
		{
			name: "request ID from the request context, not the client",
			ev: func() events.APIGatewayProxyRequest {
				ev := events.APIGatewayProxyRequest{
					HTTPMethod: "GET",
					Path:       "/",
					Headers:    map[string]string{"X-Request-Context-Id": "forged"},
				}
				ev.RequestContext.RequestID = "req-1"
				return ev
			}(),
			check: func(t *testing.T, got seen) {
				if vs := got.Header.Values("X-Request-Context-Id"); !reflect.DeepEqual(vs, []string{"req-1"}) {
					t.Errorf("X-Request-Context-Id = %q, want %q", vs, []string{"req-1"})
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recorder{}
			if _, err := apigw.Handler(h)(context.Background(), tt.ev); err != nil {
				t.Fatalf("Handler: %v", err)
			}
			tt.check(t, h.seenRequest(t))
		})
	}
}

func TestRequestMalformed(t *testing.T) {
	tests := []struct {
		name string
		ev   events.APIGatewayProxyRequest
	}{
		{"invalid base64 body", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/", Body: "not base64!", IsBase64Encoded: true}},
		{"truncated base64 body", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/", Body: "AAE", IsBase64Encoded: true}},
		{"invalid method", events.APIGatewayProxyRequest{HTTPMethod: "GET /", Path: "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recorder{}
			res, err := apigw.Handler(h)(context.Background(), tt.ev)
			if err == nil {
				t.Fatalf("Handler = %+v, nil error; want an error", res)
			}
			if !strings.HasPrefix(err.Error(), "apigw: ") {
				t.Errorf("error = %q, want it prefixed with %q", err, "apigw: ")
			}
			if h.got != nil {
				t.Errorf("handler was called with %+v, want it not called", *h.got)
			}
		})
	}
}

func TestResponse(t *testing.T) {
	binary := []byte{0x89, 'P', 'N', 'G', 0xff} // 5 bytes: the base64 form is padded
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter)
		want    events.APIGatewayProxyResponse
	}{
		{
			name: "JSON is a text body",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, `{"id":"c-1"}`)
			},
			want: events.APIGatewayProxyResponse{
				StatusCode:        http.StatusCreated,
				MultiValueHeaders: map[string][]string{"Content-Type": {"application/json"}},
				Body:              `{"id":"c-1"}`,
			},
		},
		{
			name: "problem details are a text body",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"status":404}`)
			},
			want: events.APIGatewayProxyResponse{
				StatusCode:        http.StatusNotFound,
				MultiValueHeaders: map[string][]string{"Content-Type": {"application/problem+json"}},
				Body:              `{"status":404}`,
			},
		},
		{
			name: "octet stream is base64",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Write(binary[:3])
				w.Write(binary[3:])
			},
			want: events.APIGatewayProxyResponse{
				StatusCode:        http.StatusOK,
				MultiValueHeaders: map[string][]string{"Content-Type": {"application/octet-stream"}},
				Body:              base64.StdEncoding.EncodeToString(binary),
				IsBase64Encoded:   true,
			},
		},
		{
			name:    "status defaults to 200",
			respond: nil,
			want:    events.APIGatewayProxyResponse{StatusCode: http.StatusOK, MultiValueHeaders: map[string][]string{}},
		},
		{
			name: "first status wins",
			respond: func(w http.ResponseWriter) {
				w.WriteHeader(http.StatusNoContent)
				w.WriteHeader(http.StatusInternalServerError)
			},
			want: events.APIGatewayProxyResponse{StatusCode: http.StatusNoContent, MultiValueHeaders: map[string][]string{}},
		},
		{
			name: "write before WriteHeader is 200",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				io.WriteString(w, "ok")
				w.WriteHeader(http.StatusTeapot)
			},
			want: events.APIGatewayProxyResponse{
				StatusCode:        http.StatusOK,
				MultiValueHeaders: map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}},
				Body:              "ok",
			},
		},
		{
			name: "multi-value headers preserved",
			respond: func(w http.ResponseWriter) {
				w.Header().Add("Set-Cookie", "a=1; Secure")
				w.Header().Add("Set-Cookie", "b=2; Secure")
				w.Header().Add("Vary", "Accept")
				w.Header().Add("Vary", "Authorization")
				w.WriteHeader(http.StatusNoContent)
			},
			want: events.APIGatewayProxyResponse{
				StatusCode: http.StatusNoContent,
				MultiValueHeaders: map[string][]string{
					"Set-Cookie": {"a=1; Secure", "b=2; Secure"},
					"Vary":       {"Accept", "Authorization"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recorder{respond: tt.respond}
			got, err := apigw.Handler(h)(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/"})
			if err != nil {
				t.Fatalf("Handler: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("response = %+v, want %+v", got, tt.want)
			}
			if got.IsBase64Encoded {
				body, err := base64.StdEncoding.DecodeString(got.Body)
				if err != nil || string(body) != string(binary) {
					t.Errorf("decoded body = %x, %v; want %x", body, err, binary)
				}
			}
		})
	}
}

// TestResponseHeadersNotAliased checks that the response owns its header
// slices: a handler that keeps changing its header map afterwards (a
// goroutine it left behind) cannot change a response already returned.
func TestResponseHeadersNotAliased(t *testing.T) {
	var kept http.Header
	h := &recorder{respond: func(w http.ResponseWriter) {
		w.Header()["Vary"] = []string{"Accept", "Origin"}
		kept = w.Header()
	}}
	got, err := apigw.Handler(h)(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/"})
	if err != nil {
		t.Fatalf("Handler: %v", err)
	}
	kept["Vary"][0] = "Cookie"
	if want := []string{"Accept", "Origin"}; !reflect.DeepEqual(got.MultiValueHeaders["Vary"], want) {
		t.Errorf("Vary = %q after the handler changed its map, want %q", got.MultiValueHeaders["Vary"], want)
	}
}

// TestInvokeGoldenEvent calls the handler exactly as the Lambda runtime does,
// with the JSON of a sample event, and checks the JSON that goes back.
func TestInvokeGoldenEvent(t *testing.T) {
	payload, err := os.ReadFile(filepath.Join("..", "..", "events", "apigw-healthz.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := &recorder{respond: func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Cache-Control", "no-store")
		io.WriteString(w, `{"status":"ok"}`)
	}}

	out, err := lambda.NewHandler(apigw.Handler(h)).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}

	got := h.seenRequest(t)
	if got.Method != "GET" || got.Path != "/healthz" {
		t.Errorf("request = %s %s, want GET /healthz", got.Method, got.Path)
	}
	if got.Host != "api.alto.example" {
		t.Errorf("host = %q, want %q", got.Host, "api.alto.example")
	}
	if vs := got.Header.Values("Accept"); !reflect.DeepEqual(vs, []string{"application/json"}) {
		t.Errorf("Accept = %q, want %q", vs, []string{"application/json"})
	}
	if want := "198.51.100.7:0"; got.RemoteAddr != want {
		t.Errorf("remote address = %q, want %q", got.RemoteAddr, want)
	}
	if want := "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"; got.Header.Get("X-Request-Context-Id") != want {
		t.Errorf("X-Request-Context-Id = %q, want %q", got.Header.Get("X-Request-Context-Id"), want)
	}
	if len(got.Body) != 0 || len(got.Query) != 0 {
		t.Errorf("body %q, query %v; want neither", got.Body, got.Query)
	}

	want := `{
		"statusCode": 200,
		"headers": null,
		"multiValueHeaders": {"Content-Type": ["application/json"], "Cache-Control": ["no-store"]},
		"body": "{\"status\":\"ok\"}"
	}`
	assertJSONEq(t, string(out), want)
}

// assertJSONEq fails t unless got and want encode the same JSON value.
func assertJSONEq(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\ngot:  %s\nwant: %s", got, want)
	}
}
