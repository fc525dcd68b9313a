package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/alto/alto/shared/stack"
)

// TestRET08_SweepCommandRunsOnce checks `local sweep`: it runs the sweep
// over an idle data folder and says what it did, and it refuses a folder a
// running server holds instead of waiting or sweeping beside it.
func TestRET08_SweepCommandRunsOnce(t *testing.T) {
	data := t.TempDir()
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"sweep", "--data", data}, &out, &errs); err != nil {
		t.Fatalf("sweep: %v (%s)", err, errs.String())
	}
	if !strings.Contains(out.String(), "sweep done") {
		t.Errorf("sweep printed %q, want its summary", out.String())
	}

	st, err := stack.Open(stack.Config{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = run(context.Background(), []string{"sweep", "--data", data}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "in use by a running server") {
		t.Errorf("sweep of a folder in use: error = %v, want it refused", err)
	}
}
