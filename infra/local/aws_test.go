package main

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/stack"
)

// TestServeAWSRunsTheFlowsOnTheAWSAdapters runs `serve --aws` (make
// run-aws) as an operator does without AWS_ENDPOINT_URL: it starts a
// moto_server of its own, creates the resources and serves the API, whose
// contacts go through SQS into DynamoDB and come back from there.
func TestServeAWSRunsTheFlowsOnTheAWSAdapters(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv(stack.EnvTable, "")
	data := t.TempDir()
	base, stop := startServe(t, data, nil, "--aws")
	tok := mintToken(t, data, "--org", "acme", "--role", "owner")

	req, _ := http.NewRequest("POST", base+"/v1/contacts", strings.NewReader(`{"email":"ada@example.com","firstName":"Ada"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/contacts = %d, want 202", resp.StatusCode)
	}
	found := false
	for deadline := time.Now().Add(30 * time.Second); !found && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		code, body, _ := get(t, http.DefaultClient, base+"/v1/contacts?email=ada@example.com", tok)
		items, _ := body["items"].([]any)
		found = code == http.StatusOK && len(items) == 1
	}
	if !found {
		t.Error("the contact did not come back through the AWS adapters within 30s")
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "alto.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the data folder holds an embedded database (%v): want the AWS adapters only", err)
	}
}
