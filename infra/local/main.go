// Command local runs Alto on one machine and is its operator CLI.
//
//	go run ./infra/local serve [--addr 127.0.0.1:8080] [--data .alto] [--tls-cert F --tls-key F]
//	                           [--sweep-every 1h] [--sla-every 15m] [--aws]
//	go run ./infra/local token --org acme --role owner [--sub u1] [--branch b] [--dept d] [--ttl 15m] [--data .alto]
//	go run ./infra/local import --file contacts.csv [--data .alto] [--addr 127.0.0.1:8080] [--org acme]
//	go run ./infra/local sweep [--data .alto]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/stack"
)

const usage = `usage:
  local serve [flags]   serve the API, poll the queues, tick the schedules
  local token [flags]   print a token signed by the data folder's issuer
  local import [flags]  import a CSV file through the running server's API
  local sweep [flags]   run the hourly sweep (expiry, purges, retention) once, with no server running
run "local <command> -h" for the flags of a command`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "local:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServe(args[1:], stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, stderr)
	case "token":
		return token(args[1:], stdout, stderr)
	case "import":
		return importFile(ctx, args[1:], stdout, stderr)
	case "sweep":
		return sweep(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// env returns the environment variable name's value, or def.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func token(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	org := fs.String("org", "", "tenant (org claim), required")
	role := fs.String("role", "", "owner, admin, manager, rep or security; required")
	sub := fs.String("sub", "u1", "subject (sub claim)")
	branch := fs.String("branch", "", "branch claim")
	dept := fs.String("dept", "", "department claim")
	ttl := fs.Duration("ttl", 15*time.Minute, "lifetime, at most "+auth.DefaultMaxTTL.String())
	data := fs.String("data", env("ALTO_DATA", ".alto"), "data folder whose issuer signs (env ALTO_DATA)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *org == "" || *role == "" {
		return errors.New("token: --org and --role are required")
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("token: --role: %w", err)
	}
	if *ttl <= 0 || *ttl > auth.DefaultMaxTTL {
		return fmt.Errorf("token: --ttl must be more than 0 and at most %s", auth.DefaultMaxTTL)
	}
	tok, err := mint(*data, auth.Principal{Sub: *sub, Org: *org, Role: r, Branch: *branch, Dept: *dept}, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// mint signs a token for p with the issuer key of the data folder data.
func mint(data string, p auth.Principal, ttl time.Duration) (string, error) {
	iss, err := auth.LoadOrCreateIssuer(stack.IssuerPath(data), stack.LocalIssuer, stack.LocalAudience)
	if err != nil {
		return "", err
	}
	return iss.Mint(p, ttl)
}
