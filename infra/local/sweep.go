package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/stack"
)

// sweep runs the hourly sweep once over a data folder no server holds:
// expiry, purge steps, erasures, each tenant's retention (RET-08), due
// dates. It prints what it did; a run cut short by its budget is continued
// by the next one.
func sweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", env("ALTO_DATA", ".alto"), "data folder (env ALTO_DATA)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := stack.Open(stack.Config{Data: *data, Log: slog.NewTextHandler(stdout, nil)})
	if errors.Is(err, bolt.ErrInUse) {
		return fmt.Errorf("sweep: %s is in use by a running server, which sweeps it hourly; stop it to sweep now", *data)
	}
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	defer st.Close()
	if err := st.Sweep(ctx); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return nil
}
