// Package apigw serves a net/http handler to API Gateway REST proxy events,
// so the Lambda function and the local server run the same API.
package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Handler returns a Lambda handler that turns each proxy event into a
// request for h and h's response into the proxy response. A malformed event
// is an error (the invocation fails), never a panic.
func Handler(h http.Handler) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		r, err := Request(ctx, ev)
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		w := &responseWriter{header: http.Header{}}
		h.ServeHTTP(w, r)
		return w.response(), nil
	}
}

// Request builds the http.Request an event describes.
func Request(ctx context.Context, ev events.APIGatewayProxyRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("apigw: body is not valid base64: %w", err)
		}
		body = b
	}
	u := url.URL{Path: ev.Path}
	q := url.Values{}
	for k, vs := range ev.MultiValueQueryStringParameters {
		q[k] = append(q[k], vs...)
	}
	for k, v := range ev.QueryStringParameters {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	r, err := http.NewRequestWithContext(ctx, ev.HTTPMethod, u.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("apigw: build request: %w", err)
	}
	for k, vs := range ev.MultiValueHeaders {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	for k, v := range ev.Headers {
		if r.Header.Get(k) == "" {
			r.Header.Set(k, v)
		}
	}
	r.Host = r.Header.Get("Host")
	r.ContentLength = int64(len(body))
	r.RemoteAddr = net.JoinHostPort(ev.RequestContext.Identity.SourceIP, "0")
	r.Header.Set("X-Request-Context-Id", ev.RequestContext.RequestID)
	return r, nil
}

// responseWriter collects a response in memory, as a proxy response must be
// returned whole.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *responseWriter) response() events.APIGatewayProxyResponse {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	res := events.APIGatewayProxyResponse{StatusCode: w.status, MultiValueHeaders: map[string][]string{}}
	for k, vs := range w.header {
		res.MultiValueHeaders[k] = append([]string(nil), vs...)
	}
	if isText(w.header.Get("Content-Type")) {
		res.Body = w.body.String()
	} else if w.body.Len() > 0 {
		res.Body = base64.StdEncoding.EncodeToString(w.body.Bytes())
		res.IsBase64Encoded = true
	}
	return res
}

func isText(contentType string) bool {
	ct := strings.ToLower(contentType)
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") ||
		strings.Contains(ct, "yaml") || strings.Contains(ct, "xml") || ct == ""
}
