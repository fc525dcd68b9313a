package runtimeapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/infra/runtimeapi"
)

// root is the module's root, from this package's folder.
const root = "../.."

// built holds the binaries the tests and benchmarks build, once per run.
var built struct {
	dir  string
	mu   sync.Mutex
	bins map[string]int64 // path → size
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runtimeapi-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	built.dir, built.bins = dir, map[string]int64{}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds pkg for goos/goarch (once per run) and returns the binary's
// path and size.
func build(tb testing.TB, pkg, goos, goarch string) (string, int64) {
	tb.Helper()
	out := filepath.Join(built.dir, goos+"-"+goarch, filepath.Base(pkg))
	built.mu.Lock()
	defer built.mu.Unlock()
	if size, ok := built.bins[out]; ok {
		return out, size
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	size, err := runtimeapi.Build(ctx, root, pkg, out, goos, goarch)
	if err != nil {
		tb.Fatal(err)
	}
	built.bins[out] = size
	return out, size
}

// awsEnv is a function's environment as the CDK stack sets it, with
// resources that exist nowhere: opening the AWS stack makes no request, so
// a start measures the function alone. ALTO_DATA is the instance's /tmp.
func awsEnv(data string) []string {
	env := []string{"ALTO_DATA=" + data, "HOME=" + data,
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench",
		"AWS_ENDPOINT_URL=http://127.0.0.1:9", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull}
	for _, v := range []string{"ALTO_TABLE", "ALTO_KEYSET_KEY_ARN", "ALTO_DATA_KEY_ARN", "ALTO_IMPORTS_BUCKET",
		"ALTO_EXPORTS_BUCKET", "ALTO_AUDIT_BUCKET", "ALTO_ALARM_TOPIC_ARN", "ALTO_INGRESS_QUEUE",
		"ALTO_INGRESS_DEAD_LETTER_QUEUE", "ALTO_PERSONALIZATION_QUEUE", "ALTO_JOBS_QUEUE", "ALTO_JOBS_DEAD_LETTER_QUEUE"} {
		env = append(env, v+"=bench")
	}
	return append(env, "ALTO_TABLE_INDEX=blind", "ALTO_MAIL_FROM=alto@bench.example")
}

// event is the sample event of events/, or an empty SQS batch.
func event(tb testing.TB, name string) []byte {
	tb.Helper()
	if name == "" {
		return []byte(`{"Records":[]}`)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestHarnessRunsHelloWorld(t *testing.T) {
	bin, _ := build(t, "./infra/runtimeapi/testdata/hello", runtime.GOOS, runtime.GOARCH)
	run, err := runtimeapi.Start(t.Context(), bin, nil, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(run.Response) != `"hello"` || run.Failed || run.Ready <= 0 || run.Answered < run.Ready {
		t.Errorf("run = %+v (%s), want the answer \"hello\" after the first request", run, run.Response)
	}
}

// TestAPIFunctionStartsOnTheAWSEnvironment runs functions/api as Lambda
// does, with the environment the CDK stack gives it: it opens the AWS
// stack without a request to AWS and answers the health check.
func TestAPIFunctionStartsOnTheAWSEnvironment(t *testing.T) {
	bin, _ := build(t, "./functions/api", runtime.GOOS, runtime.GOARCH)
	run, err := runtimeapi.Start(t.Context(), bin, awsEnv(t.TempDir()), event(t, "apigw-healthz.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(run.Response, &res); err != nil || run.Failed || res.StatusCode != 200 || !strings.Contains(res.Body, "ok") {
		t.Errorf("answer = %s (failed %v), want 200 ok", run.Response, run.Failed)
	}
}

// coldStarts are the functions measured, each with a first event whose
// handling needs no AWS request ("" for an empty SQS batch; none for the
// scheduled functions, whose every run reads the table).
var coldStarts = []struct{ name, event string }{
	{"api", "apigw-healthz.json"},
	{"ingest", ""},
	{"personalize", ""},
	{"export", ""},
	{"purge", "scheduled-sweep.json"},
	{"incident", "scheduled-sla.json"},
}

// BenchmarkColdStart starts each function binary (built as make build
// does, for this machine) under the Runtime API harness with the
// environment the CDK stack sets and a fresh /tmp, as a cold start is.
// ns/op is the time from the start of the process to its first request
// for an invocation: its initialization, what Lambda reports as Init
// Duration (the scheduled functions' first invocation then reads the
// table, which this harness has none of). arm64-bytes is the size of the
// linux/arm64 binary make build ships and size-x its ratio to the
// hello-world binary's; answer-ms is the time to the answer of a first
// event that needs no AWS request, where there is one.
func BenchmarkColdStart(b *testing.B) {
	_, hello := build(b, "./infra/runtimeapi/testdata/hello", "linux", "arm64")
	for _, f := range coldStarts {
		b.Run(f.name, func(b *testing.B) {
			bin, _ := build(b, "./functions/"+f.name, runtime.GOOS, runtime.GOARCH)
			_, size := build(b, "./functions/"+f.name, "linux", "arm64")
			measure(b, bin, awsEnv, event(b, f.event), f.name != "purge" && f.name != "incident")
			b.ReportMetric(float64(size), "arm64-bytes")
			b.ReportMetric(float64(size)/float64(hello), "size-x")
		})
	}
}

// BenchmarkColdStartBaseline is BenchmarkColdStart for the hello-world
// aws-lambda-go function, under each function's name so that make bench
// reports the ratios.
func BenchmarkColdStartBaseline(b *testing.B) {
	for _, f := range coldStarts {
		b.Run(f.name, func(b *testing.B) {
			bin, _ := build(b, "./infra/runtimeapi/testdata/hello", runtime.GOOS, runtime.GOARCH)
			_, size := build(b, "./infra/runtimeapi/testdata/hello", "linux", "arm64")
			measure(b, bin, func(string) []string { return nil }, []byte(`{}`), true)
			b.ReportMetric(float64(size), "arm64-bytes")
		})
	}
}

// measure starts bin b.N times and reports the mean time to the first
// request for an invocation as ns/op, and with answered the mean time to
// the first answer.
func measure(b *testing.B, bin string, env func(data string) []string, ev []byte, answered bool) {
	b.Helper()
	var ready, answer time.Duration
	for range b.N {
		data, err := os.MkdirTemp(b.TempDir(), "tmp-")
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		run, err := startOrReady(ctx, bin, env(data), ev, answered)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		ready += run.Ready
		answer += run.Answered
	}
	b.ReportMetric(float64(ready.Nanoseconds())/float64(b.N), "ns/op")
	if answered {
		b.ReportMetric(float64(answer.Milliseconds())/float64(b.N), "answer-ms")
	}
}

// startOrReady runs bin once; unless answered, it waits only until the
// binary asks for its first invocation.
func startOrReady(ctx context.Context, bin string, env []string, ev []byte, answered bool) (runtimeapi.Run, error) {
	if answered {
		run, err := runtimeapi.Start(ctx, bin, env, ev)
		if err == nil && run.Failed {
			err = fmt.Errorf("%s answered with an error: %s", filepath.Base(bin), run.Response)
		}
		return run, err
	}
	return runtimeapi.Start(ctx, bin, env, nil)
}
