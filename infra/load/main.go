// Command load drives the local stack over loopback with a realistic mix
// of API traffic for a bounded time and reports throughput, latency, errors
// and the server's memory (`make load`).
//
//	go run ./infra/load --server build/alto-local --duration 60s
//
// It starts the server as a separate process (infra/local's `serve`, in a
// temporary data folder, with GODEBUG=gctrace=1 so its live heap can be
// read from outside), sets up tenants, then runs clients that each send
// at a fixed rate from their own loopback address: contact batches,
// listings, reads and look-ups by e-mail, campaign enqueues and drafts,
// subject access requests (each an export job) and audit reads. Clients
// never exceed the server's rate limits, so every answer is expected to
// succeed: any error makes the command exit 1, as does a live heap at the
// end much larger than at the start of a run of 30 seconds or more.
//
// With --addr it drives a server that is already running instead (its data
// folder given with --data, for the issuer key); the heap is then not
// reported.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	server, addr, data string
	duration           time.Duration
	tenants, clients   int
	rate               float64
}

func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.server, "server", "", "the infra/local binary to start (make load builds build/alto-local); empty: go run ./infra/local")
	fs.StringVar(&o.addr, "addr", "", "drive a server already running at this base URL instead (needs --data)")
	fs.StringVar(&o.data, "data", "", "with --addr: the server's data folder, for its issuer key")
	fs.DurationVar(&o.duration, "duration", time.Minute, "how long to drive the server")
	fs.IntVar(&o.tenants, "tenants", 10, "tenants")
	fs.IntVar(&o.clients, "clients", 2, "clients per tenant")
	fs.Float64Var(&o.rate, "rate", 10, "requests per second of each client (the server allows 20 per address and 50 per tenant)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.duration <= 0 || o.tenants < 1 || o.clients < 1 || o.rate <= 0:
		return o, errors.New("--duration, --tenants, --clients and --rate must be positive")
	case o.addr != "" && o.data == "":
		return o, errors.New("--addr needs --data")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	base, data := o.addr, o.data
	var srv *server
	if base == "" {
		if data, err = os.MkdirTemp("", "alto-load-"); err != nil {
			return err
		}
		defer os.RemoveAll(data)
		if srv, err = start(ctx, o.server, data); err != nil {
			return err
		}
		defer srv.stop()
		base = srv.base
	}
	issuer, err := auth.LoadOrCreateIssuer(stack.IssuerPath(data), stack.LocalIssuer, stack.LocalAudience)
	if err != nil {
		return err
	}
	p := plan{base: base, tenants: o.tenants, clients: o.clients, rate: o.rate, duration: o.duration, spreadAddrs: true,
		mint: func(org string, role auth.Role) (string, error) {
			return issuer.Mint(auth.Principal{Sub: "load-" + string(role), Org: org, Role: role}, 10*time.Minute)
		}}
	fmt.Fprintf(stdout, "load: %s against %s: %d tenants × %d clients at %g requests/s each\n", o.duration, base, o.tenants, o.clients, o.rate)
	rep, err := drive(ctx, p)
	if err != nil {
		return err
	}
	sum := summarize(rep)
	var heap *heapReport
	if srv != nil {
		h := srv.heap(rep.started, rep.ended)
		heap = &h
	}
	sum.print(stdout, heap)
	switch {
	case sum.errors > 0:
		return fmt.Errorf("%d requests failed", sum.errors)
	case sum.requests == 0:
		return errors.New("no request was answered")
	case heap != nil && o.duration >= 30*time.Second && heap.grew():
		return fmt.Errorf("the server's live heap grew from %.1f to %.1f MiB", heap.start, heap.end)
	}
	return nil
}

// summary is a report's figures.
type summary struct {
	seconds          float64
	requests, errors int
	p50, p99, max    time.Duration
	kinds            []kindSummary
	firstErrors      []string
}

type kindSummary struct {
	name     string
	requests int
	p50, p99 time.Duration
}

func summarize(r report) summary {
	s := summary{seconds: r.ended.Sub(r.started).Seconds()}
	byKind := map[string][]time.Duration{}
	var all []time.Duration
	for _, x := range r.samples {
		if x.kind == "" {
			continue
		}
		s.requests++
		if x.err != "" {
			s.errors++
			if len(s.firstErrors) < 5 {
				s.firstErrors = append(s.firstErrors, x.kind+": "+x.err)
			}
		}
		all = append(all, x.latency)
		byKind[x.kind] = append(byKind[x.kind], x.latency)
	}
	s.p50, s.p99, s.max = percentile(all, 50), percentile(all, 99), percentile(all, 100)
	for _, k := range mix {
		if d := byKind[k.name]; len(d) > 0 {
			s.kinds = append(s.kinds, kindSummary{k.name, len(d), percentile(d, 50), percentile(d, 99)})
		}
	}
	return s
}

// percentile returns the p-th percentile of d (which it sorts).
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := (len(d)*p+99)/100 - 1
	return d[max(0, min(i, len(d)-1))]
}

func (s summary) print(w io.Writer, heap *heapReport) {
	fmt.Fprintf(w, "requests  %d in %.1fs: %.1f/s\n", s.requests, s.seconds, float64(s.requests)/s.seconds)
	fmt.Fprintf(w, "errors    %d\n", s.errors)
	fmt.Fprintf(w, "latency   p50 %s  p99 %s  max %s\n", ms(s.p50), ms(s.p99), ms(s.max))
	for _, k := range s.kinds {
		fmt.Fprintf(w, "  %-18s %6d  p50 %8s  p99 %8s\n", k.name, k.requests, ms(k.p50), ms(k.p99))
	}
	if heap != nil {
		fmt.Fprintf(w, "server    %s\n", heap)
	}
	for _, e := range s.firstErrors {
		fmt.Fprintf(w, "error     %s\n", e)
	}
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}

// server is the infra/local server process.
type server struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
	mu   sync.Mutex
	gcs  []gcCycle // from its GODEBUG=gctrace=1 lines
	rss  []int64   // KiB, sampled every second
	tail []string  // its last lines of output, for errors
}

// gcCycle is one garbage collection the server's runtime reported.
type gcCycle struct {
	at   time.Time
	live float64 // MiB live after the cycle
}

// start starts bin serve (or go run ./infra/local serve) on a free
// loopback port with data, and waits until it answers /healthz.
func start(ctx context.Context, bin, data string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	args := []string{"serve", "--data", data, "--addr", addr}
	var cmd *exec.Cmd
	if bin == "" {
		cmd = exec.Command("go", append([]string{"run", "./infra/local"}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &server{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	go s.read(out)
	go s.sample()
	deadline := time.Now().Add(2 * time.Minute) // go run may compile first
	for {
		res, err := http.Get(s.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("server exited: %s", strings.Join(s.lastLines(), "\n"))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("server did not answer /healthz within 2 minutes")
		}
	}
}

// gcLine is a gctrace line: "gc 7 @1.2s 2%: ..., 5->6->3 MB, 7 MB goal, ...",
// where 3 is the heap live after the cycle.
var gcLine = regexp.MustCompile(`^gc \d+ @[\d.]+s .*? \d+->\d+->(\d+) MB`)

// read keeps the server's GC cycles and its last lines of output until it
// exits.
func (s *server) read(r io.Reader) {
	sc := newLineReader(r)
	for sc.Scan() {
		s.note(sc.Text(), time.Now())
	}
	s.cmd.Wait()
	close(s.done)
}

func newLineReader(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return sc
}

// note keeps one line of the server's output, read at at: a GC cycle, or
// one of the last lines.
func (s *server) note(line string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := gcLine.FindStringSubmatch(line); m != nil {
		mb, _ := strconv.ParseFloat(m[1], 64)
		s.gcs = append(s.gcs, gcCycle{at: at, live: mb})
		return
	}
	if s.tail = append(s.tail, line); len(s.tail) > 20 {
		s.tail = s.tail[1:]
	}
}

// sample reads the server's resident memory every second (Linux).
func (s *server) sample() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if kb, ok := rss(s.cmd.Process.Pid); ok {
				s.mu.Lock()
				s.rss = append(s.rss, kb)
				s.mu.Unlock()
			}
		}
	}
}

// rss returns a process's resident set in KiB, from /proc.
func rss(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}

func (s *server) lastLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tail)
}

// stop ends the server with SIGTERM (a graceful shutdown) and waits.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// heapReport is the server's memory over the run: the live heap after
// garbage collection (median of the cycles in the run's first and last
// quarter) and the resident set at the start and the end.
type heapReport struct {
	start, end       float64 // MiB live after GC
	cycles           int
	rssStart, rssEnd int64 // KiB
}

func (s *server) heap(from, to time.Time) heapReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := to.Sub(from) / 4
	var first, last []float64
	h := heapReport{}
	for _, c := range s.gcs {
		if c.at.Before(from) || c.at.After(to) {
			continue
		}
		h.cycles++
		if c.at.Before(from.Add(q)) {
			first = append(first, c.live)
		}
		if c.at.After(to.Add(-q)) {
			last = append(last, c.live)
		}
	}
	h.start, h.end = median(first), median(last)
	if len(s.rss) > 0 {
		h.rssStart, h.rssEnd = s.rss[0], s.rss[len(s.rss)-1]
	}
	return h
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// grew reports whether the live heap grew beyond noise: half again and
// 16 MiB more than at the start.
func (h heapReport) grew() bool { return h.cycles > 0 && h.end > h.start*1.5+16 }

func (h heapReport) String() string {
	heap := "no GC cycle during the run"
	if h.cycles > 0 {
		state := "flat"
		if h.grew() {
			state = "GROWING"
		}
		heap = fmt.Sprintf("live heap after GC %.1f MiB at the start, %.1f MiB at the end (%s, %d cycles)", h.start, h.end, state, h.cycles)
	}
	if h.rssStart > 0 {
		heap += fmt.Sprintf("; resident %.1f → %.1f MiB", float64(h.rssStart)/1024, float64(h.rssEnd)/1024)
	}
	return heap
}
