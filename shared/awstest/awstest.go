// Package awstest runs the tests of the AWS adapters against an
// AWS-compatible server on this machine: moto_server (moto 5.2.1), which
// serves DynamoDB, S3, SQS, KMS, SNS and SES on one loopback port. No AWS
// account is needed and nothing leaves the machine.
//
// A test binary calls Main from its TestMain. Main starts one moto_server on
// a free 127.0.0.1 port for the whole binary (unless ALTO_AWS_ENDPOINT names
// a running AWS-compatible endpoint), runs the tests and stops the server.
// Tests then get configured clients from Config and give each resource a
// fresh name from Name, so tests never share a table, bucket or queue.
//
// moto keeps real time: adapters tested here cannot have their clock
// advanced, so the contract suites skip the subtests that need it.
package awstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// EndpointEnv names the environment variable that points the tests at an
// already running AWS-compatible endpoint (such as
// "http://127.0.0.1:5000") instead of a moto_server of their own. It must
// be a disposable server: tests create resources there and never delete
// them.
const EndpointEnv = "ALTO_AWS_ENDPOINT"

// Region is the region of every client Config returns.
const Region = "us-east-1"

// MissingMessage is what Main prints, and fails with, when moto_server is
// not installed.
const MissingMessage = "moto_server not found: install moto 5.2.1 (pip install 'moto[server]==5.2.1')"

var errMissing = errors.New(MissingMessage)

// startTimeout bounds how long Main waits for moto_server to answer.
const startTimeout = 30 * time.Second

var (
	endpoint string        // set by Main
	runID    string        // random, so names differ across runs sharing a server
	counter  atomic.Uint64 // makes names unique within the run
)

// Main starts moto_server on a free 127.0.0.1 port (or uses the endpoint in
// ALTO_AWS_ENDPOINT), runs the tests of m, stops the server and returns the
// exit code for os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }
//
// If moto_server is not installed, Main prints MissingMessage and returns 1:
// the tests fail rather than pass without having run.
func Main(m *testing.M) int {
	var b [4]byte
	_, _ = rand.Read(b[:])
	runID = hex.EncodeToString(b[:])

	if ep := os.Getenv(EndpointEnv); ep != "" {
		endpoint = ep
		return m.Run()
	}
	srv, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "awstest:", err)
		return 1
	}
	endpoint = srv.URL()
	code := m.Run()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "awstest: stop moto_server:", err)
	}
	return code
}

// Server is a moto_server that Start started.
type Server struct{ s *server }

// Start runs moto_server on a free 127.0.0.1 port and waits until it
// answers; the caller stops it with Stop. Main uses it for a test binary,
// and `make run-aws` (infra/local serve --aws) for a server of its own.
// Returns an error saying MissingMessage if moto_server is not installed,
// or with the end of its output if it does not come up.
func Start() (*Server, error) {
	// Another process may take the free port before moto_server binds it:
	// try a few ports.
	var srv *server
	var err error
	for range 3 {
		if srv, err = start(); err == nil || errors.Is(err, errMissing) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return &Server{s: srv}, nil
}

// URL returns the server's base URL, such as "http://127.0.0.1:40123".
func (s *Server) URL() string { return s.s.url }

// Stop ends the server (SIGTERM, then SIGKILL after five seconds) and
// removes its log. Everything it held is gone.
func (s *Server) Stop() error { return s.s.stop() }

// server is a running moto_server.
type server struct {
	cmd  *exec.Cmd
	url  string
	log  *os.File
	done chan error // receives the process's exit once
}

// start runs moto_server on a free loopback port and waits until it answers.
func start() (*server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, errMissing
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	log, err := os.CreateTemp("", "moto_server-*.log")
	if err != nil {
		return nil, fmt.Errorf("create moto_server log: %w", err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		os.Remove(log.Name())
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &server{cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), log: log, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	if err := s.wait(); err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

// wait polls the server until it answers, it exits, or startTimeout passes.
func (s *server) wait() error {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("moto_server exited before answering (%v); its output:\n%s", err, s.output())
		default:
		}
		resp, err := client.Get(s.url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("moto_server did not answer at %s within %v; its output:\n%s", s.url, startTimeout, s.output())
}

// output returns the end of the server's log.
func (s *server) output() string {
	data, err := os.ReadFile(s.log.Name())
	if err != nil {
		return err.Error()
	}
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	return string(data)
}

// stop ends the server's process group (SIGTERM, then SIGKILL after five
// seconds) and removes its log.
func (s *server) stop() error {
	defer func() {
		s.log.Close()
		os.Remove(s.log.Name())
	}()
	_ = signalGroup(s.cmd.Process.Pid, false)
	select {
	case <-s.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := signalGroup(s.cmd.Process.Pid, true); err != nil {
		return err
	}
	<-s.done
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Endpoint returns the base URL of the AWS-compatible server. It fails the
// test if Main did not run.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	if endpoint == "" {
		tb.Fatal("awstest: no endpoint: call awstest.Main from the package's TestMain")
	}
	return endpoint
}

// Config returns the configuration of clients of the server: static test
// credentials, region us-east-1 and the server as base endpoint. S3 clients
// also need path-style addressing (s3.Options.UsePathStyle).
func Config(tb testing.TB) aws.Config {
	tb.Helper()
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(Endpoint(tb)),
	}
}

// Name returns a new resource name, unique within the server: "alto-",
// eight hex digits of the run, "-" and a number. It is valid as a DynamoDB
// table, S3 bucket, SQS queue and SNS topic name. It may be called
// concurrently.
func Name(tb testing.TB) string {
	tb.Helper()
	return fmt.Sprintf("alto-%s-%d", runID, counter.Add(1))
}

// KMSKey creates a symmetric encryption key on the server and returns its
// key ID.
func KMSKey(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := kms.NewFromConfig(Config(tb)).CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("alto test key " + Name(tb)),
	})
	if err != nil {
		tb.Fatalf("awstest: create KMS key: %v", err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

// Get sends GET path to the server (a moto-api path such as
// "/moto-api/data.json") and returns the body. Returns an error if the
// request fails or the status is not 200.
func Get(tb testing.TB, path string) ([]byte, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, Endpoint(tb)+path, nil)
	if err != nil {
		return nil, fmt.Errorf("awstest: GET %s: %w", path, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("awstest: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("awstest: GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("awstest: GET %s: status %d", path, resp.StatusCode)
	}
	return body, nil
}

// Limitations maps the name of a contract-suite subtest to the reason it
// cannot pass against the test server although the adapter is right for
// AWS (or to the AWS behaviour the contract asks more of).
type Limitations map[string]string

// Skip skips t, a subtest of a contract suite, if its last name element is
// in l, saying why: the suites call the harness at the start of every
// subtest, so a harness calls Skip first. Nothing is skipped silently: the
// reason shows in `go test -v` output.
func (l Limitations) Skip(t testing.TB) {
	t.Helper()
	name := t.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if reason, ok := l[name]; ok {
		t.Skipf("known limitation: %s", reason)
	}
}
