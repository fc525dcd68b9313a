// Package webhook delivers signed HTTP notifications to endpoints that
// tenants configure (incident notices, INC-01) and verifies them for
// receivers.
//
// # Scheme
//
// Each delivery is an HTTPS POST of a JSON body with these headers:
//
//	Content-Type:   application/json
//	Alto-Delivery:  <delivery id>   the same on every retry: receivers drop repeats
//	Alto-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// The signature is HMAC-SHA256, keyed with the webhook secret exactly as the
// tenant was shown it (its UTF-8 bytes), over the timestamp in decimal, a
// full stop and the raw body: HMAC(secret, "<t>.<body>"). A receiver
// recomputes it, compares in constant time and refuses timestamps more than
// five minutes from its own clock; Verify does all of this.
//
// # Safety
//
// A Sender posts only to https URLs of public hosts: the address each
// connection actually reaches is checked when it is dialled (so DNS cannot
// rebind a public name to an internal address), no proxy is used, redirects
// are not followed, and every attempt has a short timeout. Loopback
// endpoints (plain http allowed) are reachable only when
// Options.AllowLoopback is set, for tests and one-machine demos.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Header names of a delivery.
const (
	SignatureHeader = "Alto-Signature"
	DeliveryHeader  = "Alto-Delivery"
)

// Defaults of a Sender.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultAttempts  = 4
	DefaultBackoff   = time.Second
	DefaultTolerance = 5 * time.Minute
	MaxURLLen        = 2048
)

// Errors of the package.
var (
	// ErrURL is returned for a URL a Sender will not post to: not https,
	// credentials in it, or a host that is not public.
	ErrURL = errors.New("webhook: URL not allowed")
	// ErrRefused is returned when the receiver answered with a status that
	// retrying will not change (a 4xx other than 408 and 429, or a
	// redirect). Errors wrapping it, and ErrURL, are permanent; any other
	// error of Send is worth retrying later.
	ErrRefused = errors.New("webhook: receiver refused the delivery")
	// ErrSignature is returned by Verify for a missing, malformed, stale or
	// wrong signature.
	ErrSignature = errors.New("webhook: signature does not verify")
)

// Options configure a Sender.
type Options struct {
	// Now is the clock of the signature timestamps; nil means time.Now.
	Now func() time.Time
	// Timeout bounds each attempt, connection included (DefaultTimeout if 0).
	Timeout time.Duration
	// Attempts is how many times Send tries before giving up
	// (DefaultAttempts if 0).
	Attempts int
	// Backoff is the wait after the first failed attempt; it doubles after
	// each further one (DefaultBackoff if 0).
	Backoff time.Duration
	// Sleep waits d or until ctx ends; nil means a timer. Tests pass one
	// that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// AllowLoopback lets the Sender post to loopback addresses, over http
	// or https. Never set it in a deployment.
	AllowLoopback bool
	// Transport, when set, is the base of the Sender's transport (tests pass
	// one that trusts their TLS server); the Sender still installs its own
	// dialer, timeouts and no proxy on a clone of it.
	Transport *http.Transport
}

// Sender posts signed deliveries. It may be used concurrently.
type Sender struct {
	opts   Options
	client *http.Client
}

// New returns a Sender for opts.
func New(opts Options) *Sender {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	tr := opts.Transport
	if tr == nil {
		tr = &http.Transport{}
	} else {
		tr = tr.Clone()
	}
	dialer := &net.Dialer{Timeout: opts.Timeout, Control: func(_, address string, _ syscall.RawConn) error {
		return checkDialed(address, opts.AllowLoopback)
	}}
	tr.Proxy = nil
	tr.DialContext = dialer.DialContext
	tr.TLSHandshakeTimeout = opts.Timeout
	tr.ResponseHeaderTimeout = opts.Timeout
	tr.MaxIdleConnsPerHost = 2
	tr.IdleConnTimeout = 30 * time.Second
	client := &http.Client{
		Transport: tr,
		Timeout:   opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &Sender{opts: opts, client: client}
}

// Check returns an error wrapping ErrURL, with the reason, unless the
// Sender may post to raw: an absolute https URL of at most MaxURLLen bytes,
// without credentials or fragment, whose host is a name or a public IP
// address (http and loopback hosts only with AllowLoopback). A name is
// resolved only when a delivery is sent, and refused then if it leads to an
// address that is not public.
func (s *Sender) Check(raw string) error {
	_, err := s.parse(raw)
	return err
}

func (s *Sender) parse(raw string) (*url.URL, error) {
	if len(raw) > MaxURLLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrURL, MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: not an absolute URL", ErrURL)
	}
	if u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("%w: credentials or fragment in the URL", ErrURL)
	}
	host := u.Hostname()
	loop := isLoopbackHost(host)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loop && s.opts.AllowLoopback:
	default:
		return nil, fmt.Errorf("%w: scheme must be https", ErrURL)
	}
	if loop && !s.opts.AllowLoopback {
		return nil, fmt.Errorf("%w: loopback host", ErrURL)
	}
	if ip, err := netip.ParseAddr(host); err == nil && !allowedAddr(ip, s.opts.AllowLoopback) {
		return nil, fmt.Errorf("%w: host is not a public address", ErrURL)
	}
	if strings.HasSuffix(strings.ToLower(host), ".localhost") || strings.HasSuffix(strings.ToLower(host), ".internal") {
		return nil, fmt.Errorf("%w: host is not public", ErrURL)
	}
	return u, nil
}

// Send posts body to rawURL, signed with secret, with id as the delivery ID.
// It tries up to Options.Attempts times, waiting Backoff, 2×Backoff, … in
// between, as long as failures are transient (network errors, timeouts,
// 408, 429, 5xx). Returns nil once the receiver answers 2xx; an error
// wrapping ErrURL or ErrRefused for a permanent failure; otherwise the last
// transient error, or ctx's error if ctx ends first. Error messages name
// the host, never the path or query (they may hold a token).
func (s *Sender) Send(ctx context.Context, rawURL string, secret []byte, id string, body []byte) error {
	u, err := s.parse(rawURL)
	if err != nil {
		return err
	}
	if len(secret) == 0 || id == "" {
		return errors.New("webhook: send: empty secret or delivery id")
	}
	wait := s.opts.Backoff
	var last error
	for attempt := 1; attempt <= s.opts.Attempts; attempt++ {
		last = s.post(ctx, u, secret, id, body)
		if last == nil || errors.Is(last, ErrURL) || errors.Is(last, ErrRefused) {
			return last
		}
		if ctx.Err() != nil {
			return fmt.Errorf("webhook: send to %s: %w", u.Host, ctx.Err())
		}
		if attempt < s.opts.Attempts {
			if err := s.opts.Sleep(ctx, wait); err != nil {
				return fmt.Errorf("webhook: send to %s: %w", u.Host, err)
			}
			wait *= 2
		}
	}
	return fmt.Errorf("webhook: send to %s: gave up after %d attempts: %w", u.Host, s.opts.Attempts, last)
}

// post makes one attempt.
func (s *Sender) post(ctx context.Context, u *url.URL, secret []byte, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %s", ErrURL, u.Host)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alto-Webhook/1")
	req.Header.Set(DeliveryHeader, id)
	req.Header.Set(SignatureHeader, Sign(secret, s.opts.Now(), body))
	res, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrURL) {
			return fmt.Errorf("webhook: post to %s: %w", u.Host, ErrURL)
		}
		return fmt.Errorf("webhook: post to %s: %s", u.Host, reasonOf(err))
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return nil
	case res.StatusCode == http.StatusRequestTimeout || res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return fmt.Errorf("webhook: post to %s: status %d", u.Host, res.StatusCode)
	default:
		return fmt.Errorf("%w: %s answered %d", ErrRefused, u.Host, res.StatusCode)
	}
}

// reasonOf describes a client error without the URL it carries.
func reasonOf(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err.Error()
		}
		return err.Error()
	}
}

// Sign returns the Alto-Signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks an Alto-Signature header value against body and secret:
// one of its v1 signatures must match and its timestamp must be within
// tolerance of now (DefaultTolerance if tolerance is 0). Returns an error
// wrapping ErrSignature otherwise. It is what a receiver runs; Alto uses it
// in tests.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: malformed header", ErrSignature)
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: timestamp or v1 signature missing", ErrSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp outside the tolerance of %s", ErrSignature, tolerance)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no signature matches", ErrSignature)
}

// checkDialed refuses a connection to an address that is not public.
func checkDialed(address string, allowLoopback bool) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address", ErrURL)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !allowedAddr(ip, allowLoopback) {
		return fmt.Errorf("%w: resolves to an address that is not public", ErrURL)
	}
	return nil
}

// reserved are special-purpose ranges (RFC 6890 and successors) that
// IsGlobalUnicast and IsPrivate do not rule out.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach internal IPv4
	netip.MustParsePrefix("2001:db8::/32"),
}

// allowedAddr reports whether ip is a public unicast address (or loopback,
// when allowed).
func allowedAddr(ip netip.Addr, allowLoopback bool) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return allowLoopback
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
