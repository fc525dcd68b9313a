// Package runtimeapi is a small Lambda Runtime API on a loopback port: the
// next-invocation and response endpoints of
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html, enough
// for an aws-lambda-go binary to start, take one event and answer it. It
// measures a function binary's start to first invoke on this machine, as
// the official runtime interface emulator is not available here; its
// benchmarks compare Alto's functions with a hello-world binary built the
// same way.
package runtimeapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// prefix is the path of the invocation endpoints.
const prefix = "/2018-06-01/runtime/invocation/"

// requestID is the ID of the one invocation served.
const requestID = "00000000-0000-4000-8000-000000000001"

// Run is one start of a function binary under the harness.
type Run struct {
	// Ready is how long after the start the function asked for its first
	// invocation: its initialization (Lambda's Init Duration).
	Ready time.Duration
	// Answered is how long after the start it answered that invocation;
	// Response is its answer, Failed whether it reported an error.
	Answered time.Duration
	Response []byte
	Failed   bool
}

// Start runs the binary at path with env (and nothing of this process's
// environment) plus AWS_LAMBDA_RUNTIME_API naming a harness that serves
// event as its first invocation, waits until the binary answers it or ctx
// ends, then kills the binary. With a nil event Start returns as soon as
// the binary asks for its first invocation (Run.Ready alone). Returns an
// error if the binary cannot start, exits before that, or ctx ends first.
func Start(ctx context.Context, path string, env []string, event []byte) (Run, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Run{}, fmt.Errorf("runtimeapi: listen: %w", err)
	}
	h := &harness{event: event, done: make(chan struct{})}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	cmd := exec.Command(path)
	cmd.Env = append(append([]string{}, env...), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String())
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	exited := make(chan error, 1)
	h.mu.Lock()
	h.start = time.Now()
	if err := cmd.Start(); err != nil {
		h.mu.Unlock()
		return Run{}, fmt.Errorf("runtimeapi: start %s: %w", path, err)
	}
	h.mu.Unlock()
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	select {
	case <-h.done:
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.run, nil
	case err := <-exited:
		exited <- err
		return Run{}, fmt.Errorf("runtimeapi: %s exited before answering: %v", path, err)
	case <-ctx.Done():
		return Run{}, fmt.Errorf("runtimeapi: %s: %w", path, ctx.Err())
	}
}

// harness serves one invocation; later requests for the next one wait
// until the binary is killed.
type harness struct {
	event []byte
	done  chan struct{}

	mu     sync.Mutex
	start  time.Time
	served bool
	run    Run
}

func (h *harness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	switch {
	case ok && rest == "next" && r.Method == http.MethodGet:
		h.mu.Lock()
		first := !h.served
		h.served = true
		if first {
			h.run.Ready = time.Since(h.start)
		}
		h.mu.Unlock()
		if first && h.event == nil {
			close(h.done)
		}
		if !first || h.event == nil {
			<-r.Context().Done() // one invocation only
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", requestID)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000001")
		w.Header().Set("Content-Type", "application/json")
		w.Write(h.event)
	case ok && (rest == requestID+"/response" || rest == requestID+"/error") && r.Method == http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		if h.run.Answered == 0 {
			h.run.Answered = time.Since(h.start)
			h.run.Response, h.run.Failed = body, strings.HasSuffix(rest, "/error")
			close(h.done)
		}
		h.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

// Build builds the main package pkg (a path such as ./functions/api) of
// the module in dir into out the way `make build` does (CGO off, the
// lambda.norpc tag, -trimpath, -s -w), for goos and goarch, and returns
// the binary's size in bytes. Returns the go command's output on failure.
func Build(ctx context.Context, dir, pkg, out, goos, goarch string) (int64, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("runtimeapi: build %s for %s/%s: %w\n%s", pkg, goos, goarch, err, msg)
	}
	fi, err := os.Stat(out)
	if err != nil {
		return 0, fmt.Errorf("runtimeapi: build %s: %w", pkg, err)
	}
	return fi.Size(), nil
}
