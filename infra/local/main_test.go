package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startServe runs `serve` in-process on a free loopback port and returns its
// base URL and a stop function that waits for a graceful shutdown.
func startServe(t *testing.T, data string, wrap func(http.Handler) http.Handler, extra ...string) (string, func() error) {
	t.Helper()
	args := append([]string{"--addr", "127.0.0.1:0", "--data", data}, extra...)
	cfg, err := parseServe(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.wrap = wrap
	cfg.noSync = true
	ready := make(chan string, 1)
	cfg.ready = ready
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- serve(ctx, cfg, &out, io.Discard) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	scheme := "http"
	if cfg.tlsCert != "" {
		scheme = "https"
	}
	return scheme + "://" + addr, stop
}

func mintToken(t *testing.T, data string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"token", "--data", data}, args...), &out, &errOut); err != nil {
		t.Fatalf("token: %v (%s)", err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

func get(t *testing.T, c *http.Client, url, token string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body, res.Header
}

func TestServeMintsAndAnswers(t *testing.T) {
	data := filepath.Join(t.TempDir(), "alto")
	base, stop := startServe(t, data, nil)
	if code, body, _ := get(t, http.DefaultClient, base+"/healthz", ""); code != 200 || body["status"] != "ok" {
		t.Fatalf("healthz = %d %v", code, body)
	}
	tok := mintToken(t, data, "--org", "acme", "--role", "admin", "--sub", "u7", "--branch", "north")
	code, body, _ := get(t, http.DefaultClient, base+"/v1/me", tok)
	if code != 200 || body["org"] != "acme" || body["role"] != "admin" || body["sub"] != "u7" || body["branch"] != "north" {
		t.Errorf("me = %d %v, want acme admin u7 north", code, body)
	}
	if code, _, _ := get(t, http.DefaultClient, base+"/v1/me", ""); code != 401 {
		t.Errorf("me without a token = %d, want 401", code)
	}
	for _, name := range []string{"master-keyset.json", "issuer-key.pem", "blob-url.key", "log-digest.key", "alto.db"} {
		fi, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			t.Errorf("data folder lacks %s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if err := stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	// The data survives a restart: the same token still works, and its
	// log-in is in the audit log once.
	base, _ = startServe(t, data, nil)
	code, body, _ = get(t, http.DefaultClient, base+"/v1/audit?type=auth.login", tok)
	if items, _ := body["items"].([]any); code != 200 || len(items) != 1 {
		t.Errorf("audit after restart = %d %v, want one log-in", code, body)
	}
}

func TestServeFinishesInFlightRequestsOnShutdown(t *testing.T) {
	data := t.TempDir()
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/me" {
				close(entered)
				<-release // the request is in flight while shutdown begins
			}
			h.ServeHTTP(w, r)
		})
	}
	base, stop := startServe(t, data, slow)
	tok := mintToken(t, data, "--org", "acme", "--role", "owner")
	type result struct {
		code int
		body map[string]any
	}
	got := make(chan result, 1)
	go func() {
		code, body, _ := get(t, http.DefaultClient, base+"/v1/me", tok)
		got <- result{code, body}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(50 * time.Millisecond) // shutdown has begun and is waiting
	select {
	case err := <-stopped:
		t.Fatalf("serve stopped with a request in flight: %v", err)
	default:
	}
	close(release)
	if r := <-got; r.code != 200 || r.body["org"] != "acme" {
		t.Errorf("in-flight request = %d %v, want 200 with the principal", r.code, r.body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("stop: %v", err)
	}
}

func TestACC06_NonLoopbackNeedsTLS(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.0.2.1:8080", "[::]:8080", "example.com:8080"} {
		_, err := parseServe([]string{"--addr", addr}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "without TLS") {
			t.Errorf("serve --addr %s: err = %v, want a refusal to serve without TLS", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", "[::1]:8080", "localhost:8080", "127.0.0.2:9"} {
		if _, err := parseServe([]string{"--addr", addr}, io.Discard); err != nil {
			t.Errorf("serve --addr %s: %v, want it accepted", addr, err)
		}
	}
	if _, err := parseServe([]string{"--addr", "0.0.0.0:8443", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, io.Discard); err != nil {
		t.Errorf("non-loopback with a certificate: %v, want it accepted", err)
	}
}

func TestACC06_TLSServesOnlyTLS12AndUp(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	base, _ := startServe(t, filepath.Join(dir, "data"), nil, "--tls-cert", cert, "--tls-key", key)
	pool := x509.NewCertPool()
	certPEM, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(certPEM)
	client := func(max uint16) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: max}}}
	}
	if code, _, h := get(t, client(tls.VersionTLS12), base+"/healthz", ""); code != 200 || h.Get("Strict-Transport-Security") == "" {
		t.Errorf("TLS 1.2 healthz = %d, want 200 with HSTS", code)
	}
	if _, err := client(tls.VersionTLS11).Get(base + "/healthz"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	if res, err := http.Get(strings.Replace(base, "https", "http", 1) + "/healthz"); err == nil && res.StatusCode == 200 {
		t.Error("plain HTTP was served on the TLS port")
	}
}

func TestTokenRefusesBadInput(t *testing.T) {
	data := t.TempDir()
	cases := [][]string{
		{"--role", "owner"},
		{"--org", "acme"},
		{"--org", "acme", "--role", "root"},
		{"--org", "Acme Corp", "--role", "owner"},
		{"--org", "acme", "--role", "owner", "--ttl", "2h"},
	}
	for _, args := range cases {
		err := run(context.Background(), append([]string{"token", "--data", data}, args...), io.Discard, io.Discard)
		if err == nil {
			t.Errorf("token %v: no error", args)
		}
	}
}

func selfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certPath, keyPath
}
