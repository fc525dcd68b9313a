package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/alto/alto/shared/stack"
)

// serveConfig is what `serve` was asked to do.
type serveConfig struct {
	addr, data      string
	tlsCert, tlsKey string
	sweepEvery      time.Duration
	slaEvery        time.Duration
	shutdownGrace   time.Duration
	ready           chan<- string                   // receives the bound address (tests)
	wrap            func(http.Handler) http.Handler // wraps the API (tests)
	noSync          bool                            // skip fsync (tests)
	aws             bool                            // the AWS adapters (make run-aws; see openAWS)
}

func parseServe(args []string, stderr io.Writer) (serveConfig, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c serveConfig
	fs.StringVar(&c.addr, "addr", env("ALTO_ADDR", "127.0.0.1:8080"), "listen address (env ALTO_ADDR)")
	fs.StringVar(&c.data, "data", env("ALTO_DATA", ".alto"), "data folder (env ALTO_DATA)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate (PEM); required to bind a non-loopback address")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fs.DurationVar(&c.sweepEvery, "sweep-every", time.Hour, "period of the retention sweep")
	fs.DurationVar(&c.slaEvery, "sla-every", 15*time.Minute, "period of the SLA timers")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 30*time.Second, "how long in-flight requests may finish on shutdown")
	fs.BoolVar(&c.aws, "aws", false, "run on the AWS adapters at AWS_ENDPOINT_URL (without it, on a moto_server of its own); "+
		"resources from the ALTO_* variables when ALTO_TABLE is set, else created")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("serve: --tls-cert and --tls-key go together")
	}
	if c.sweepEvery <= 0 || c.slaEvery <= 0 {
		return c, errors.New("serve: --sweep-every and --sla-every must be positive")
	}
	if c.tlsCert == "" && !loopback(c.addr) {
		return c, fmt.Errorf("serve: refusing to serve %s without TLS: it is not a loopback address; "+
			"give --tls-cert and --tls-key, or bind 127.0.0.1 (ACC-06)", c.addr)
	}
	return c, nil
}

// loopback reports whether addr's host is a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serve runs the stack until ctx ends, then shuts down gracefully: the
// listener closes, in-flight requests and schedule runs finish, and the data
// folder is released.
func serve(ctx context.Context, c serveConfig, stdout, stderr io.Writer) error {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	scheme := "http"
	if c.tlsCert != "" {
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()
	cfg := stack.Config{Data: c.data, BaseURL: base, Log: slog.NewJSONHandler(stderr, nil), NoSync: c.noSync}
	st, release := (*stack.Stack)(nil), func() {}
	if c.aws {
		st, release, err = openAWS(ctx, cfg, stdout)
	} else {
		st, err = stack.Open(cfg)
	}
	if err != nil {
		ln.Close()
		return err
	}
	defer release()
	defer st.Close()

	var handler http.Handler = st.API
	if c.wrap != nil {
		handler = c.wrap(handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
		ErrorLog:          slog.NewLogLogger(st.Logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() {
		if c.tlsCert != "" {
			serveErr <- srv.ServeTLS(ln, c.tlsCert, c.tlsKey)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()

	jobs, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, s := range st.Schedules() {
		switch s.Name {
		case "sweep":
			s.Every = c.sweepEvery
		case "sla":
			s.Every = c.slaEvery
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick(jobs, s, st.Logger)
		}()
	}

	for _, p := range st.Pollers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Run(jobs)
		}()
	}

	fmt.Fprintf(stdout, "Alto is serving on %s (data in %s)\n", base, c.data)
	fmt.Fprintf(stdout, "Get a token:  TOKEN=$(go run ./infra/local token --data %s --org acme --role owner)\n", c.data)
	fmt.Fprintf(stdout, "Then:         curl -H \"Authorization: Bearer $TOKEN\" %s/v1/me\n", base)
	if c.ready != nil {
		c.ready <- ln.Addr().String()
	}

	select {
	case err := <-serveErr:
		cancelJobs()
		wg.Wait()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "Alto is shutting down: finishing in-flight work")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.shutdownGrace)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	cancelJobs()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	fmt.Fprintln(stdout, "Alto stopped")
	return nil
}

// tick runs s every s.Every until ctx ends; a run in progress finishes its
// current bounded step before tick returns.
func tick(ctx context.Context, s stack.Schedule, log *slog.Logger) {
	t := time.NewTicker(s.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Run(ctx); err != nil && ctx.Err() == nil {
				log.ErrorContext(ctx, "schedule failed", "schedule", s.Name, "err", err.Error())
			}
		}
	}
}
