package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alto/alto/shared/auth"
)

// plan is what the driver does: how many tenants, how many clients each,
// how fast each client goes and for how long.
type plan struct {
	base     string // the server's base URL
	tenants  int
	clients  int     // per tenant
	rate     float64 // requests per second per client
	duration time.Duration
	// mint returns a token for role in org, valid for at least 10 minutes.
	mint func(org string, role auth.Role) (string, error)
	// spreadAddrs gives each client its own loopback source address
	// (127.0.0.2, .3, ...), as clients of a real deployment have their
	// own: the server's per-address limit then applies per client.
	spreadAddrs bool
}

// kind is one sort of request of the mix, with its share of the traffic.
type kind struct {
	name   string
	weight int
}

// mix is the traffic: mostly ingest and reads, some campaign work, some
// subject requests (each an export job on the server).
var mix = []kind{
	{"contacts.submit", 25}, // a batch of 10 contacts
	{"contacts.list", 20},
	{"contacts.get", 20},
	{"contacts.find", 10}, // by e-mail, through the blind index
	{"campaigns.enqueue", 5},
	{"drafts.list", 8},
	{"subject.request", 2}, // an access request: an export job
	{"subject.list", 5},
	{"audit.list", 5},
}

// sample is one request's outcome.
type sample struct {
	kind    string
	latency time.Duration
	err     string // empty when the request got its expected answer
}

// report is what a run measured.
type report struct {
	started, ended time.Time
	samples        []sample
}

// client is one simulated API client of one tenant.
type client struct {
	plan     plan
	org      string
	campaign string
	http     *http.Client
	rnd      *rand.Rand
	token    string
	minted   time.Time
	seq      int      // contacts submitted so far
	ids      []string // contact IDs seen in listings
}

// drive sets up the tenants (a campaign each), then runs every client for
// p.duration at p.rate, and returns every request's outcome. It returns an
// error only when the setup fails.
func drive(ctx context.Context, p plan) (report, error) {
	if p.spreadAddrs {
		// Linux routes all of 127.0.0.0/8 to the loopback interface; other
		// systems need aliases for the addresses past 127.0.0.1.
		last := net.IPv4(127, 0, byte((p.tenants*p.clients-1)/250), byte(2+(p.tenants*p.clients-1)%250))
		l, err := net.Listen("tcp", net.JoinHostPort(last.String(), "0"))
		if err != nil {
			return report{}, fmt.Errorf("load: the clients need loopback addresses 127.0.0.2 to %s: %w", last, err)
		}
		l.Close()
	}
	var clients []*client
	for t := 0; t < p.tenants; t++ {
		org := fmt.Sprintf("load-%02d", t)
		var campaign string
		for c := 0; c < p.clients; c++ {
			n := len(clients)
			cl := &client{plan: p, org: org, http: httpClient(n, p.spreadAddrs), rnd: rand.New(rand.NewPCG(uint64(n), 42))}
			if c == 0 {
				id, err := cl.setup(ctx)
				if err != nil {
					return report{}, fmt.Errorf("load: set up %s: %w", org, err)
				}
				campaign = id
			}
			cl.campaign = campaign
			clients = append(clients, cl)
		}
	}
	defer func() {
		for _, c := range clients {
			c.http.CloseIdleConnections()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, p.duration)
	defer cancel()
	r := report{started: time.Now()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := c.run(ctx)
			mu.Lock()
			r.samples = append(r.samples, out...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.ended = time.Now()
	return r, nil
}

// httpClient is client n's HTTP client: its own connections, from its own
// loopback address when spread.
func httpClient(n int, spread bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if spread {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, byte(n/250), byte(2+n%250))}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext,
		MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}}
}

// setup makes the tenant's campaign as its owner and returns its ID.
func (c *client) setup(ctx context.Context) (string, error) {
	var camp struct{ ID string }
	status, err := c.call(ctx, "POST", "/v1/campaigns", `{"name":"Load","channel":"email","template":"Hello {{.FirstName}}!",
		"sender":{"name":"Load Co","postalAddress":"1 Market St, San Francisco, CA 94105"},"reason":"you asked about load tests"}`, &camp)
	if err != nil || status != http.StatusCreated {
		return "", fmt.Errorf("create campaign: status %d: %v", status, err)
	}
	return camp.ID, nil
}

// run sends requests of the mix at the client's rate until ctx ends. It
// never sends faster than the rate, even after a slow answer, so a client
// stays inside the server's per-address and per-tenant limits.
func (c *client) run(ctx context.Context) []sample {
	every := time.Duration(float64(time.Second) / c.plan.rate)
	next := time.Now()
	var out []sample
	for {
		if wait := time.Until(next); wait > 0 {
			select {
			case <-ctx.Done():
				return out
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			return out
		}
		next = next.Add(every)
		if now := time.Now(); next.Before(now) {
			next = now // no catching up in a burst
		}
		out = append(out, c.one(ctx))
	}
}

// one sends one request of the mix and times it.
func (c *client) one(ctx context.Context) sample {
	k := c.pick()
	start := time.Now()
	err := c.do(ctx, k)
	s := sample{kind: k, latency: time.Since(start)}
	if err != nil && ctx.Err() == nil {
		s.err = err.Error()
	} else if err != nil {
		s.kind = "" // cut off by the end of the run: not counted
	}
	return s
}

func (c *client) pick() string {
	total := 0
	for _, k := range mix {
		total += k.weight
	}
	n := c.rnd.IntN(total)
	for _, k := range mix {
		if n -= k.weight; n < 0 {
			return k.name
		}
	}
	return mix[0].name
}

// do sends one request of kind k and checks its answer.
func (c *client) do(ctx context.Context, k string) error {
	var (
		method, path, body string
		want               = http.StatusOK
		into               any
	)
	var listing struct{ Items []struct{ ID string } }
	switch k {
	case "contacts.submit":
		var b strings.Builder
		b.WriteString(`{"contacts":[`)
		for i := 0; i < 10; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			// Addresses come round again after 2,000: re-syncs of known
			// contacts, as a CRM connector sends them.
			fmt.Fprintf(&b, `{"email":"%s","firstName":"Lo%d","company":"Load Co","consent":{"email":"granted"}}`, c.email(c.seq), c.seq%97)
			c.seq++
		}
		b.WriteString(`]}`)
		method, path, body, want = "POST", "/v1/contacts", b.String(), http.StatusAccepted
	case "contacts.list":
		method, path, into = "GET", "/v1/contacts?limit=50", &listing
	case "contacts.get":
		if len(c.ids) == 0 {
			return c.do(ctx, "contacts.list")
		}
		method, path = "GET", "/v1/contacts/"+c.ids[c.rnd.IntN(len(c.ids))]
	case "contacts.find":
		method, path = "GET", "/v1/contacts?email="+c.email(c.rnd.IntN(max(c.seq, 1)))
	case "campaigns.enqueue":
		if len(c.ids) == 0 {
			return c.do(ctx, "contacts.list")
		}
		ids, _ := json.Marshal(c.ids[:min(5, len(c.ids))])
		method, path, body, want = "POST", "/v1/campaigns/"+c.campaign+"/enqueue", `{"contactIds":`+string(ids)+`}`, http.StatusAccepted
	case "drafts.list":
		method, path = "GET", "/v1/campaigns/"+c.campaign+"/drafts?limit=20"
	case "subject.request":
		method, path, want = "POST", "/v1/subject-requests", http.StatusAccepted
		body = `{"type":"access","subject":{"email":"` + c.email(c.rnd.IntN(max(c.seq, 1))) + `"}}`
	case "subject.list":
		method, path = "GET", "/v1/subject-requests?limit=10"
	case "audit.list":
		method, path = "GET", "/v1/audit?limit=20"
	default:
		return fmt.Errorf("unknown kind %s", k)
	}
	status, err := c.call(ctx, method, path, body, into)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, strings.SplitN(path, "?", 2)[0], status, want)
	}
	for _, it := range listing.Items {
		if !slices.Contains(c.ids, it.ID) {
			c.ids = append(c.ids, it.ID)
		}
	}
	if len(c.ids) > 500 {
		c.ids = c.ids[len(c.ids)-500:]
	}
	return nil
}

func (c *client) email(n int) string {
	return fmt.Sprintf("%s-%d@load.example", c.org, n%2000)
}

// call sends a request as the tenant's owner and decodes a JSON answer
// into into when it is not nil. The answer's body is read whole, so the
// connection is kept.
func (c *client) call(ctx context.Context, method, path, body string, into any) (int, error) {
	if c.token == "" || time.Since(c.minted) > 5*time.Minute {
		tok, err := c.plan.mint(c.org, auth.Owner)
		if err != nil {
			return 0, err
		}
		c.token, c.minted = tok, time.Now()
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.plan.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if into != nil && res.StatusCode < 300 {
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(into); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return res.StatusCode, nil
}
