package functions

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Spec describes one function of the bundle: its source is functions/<Name>,
// its asset build/<Name>/bootstrap (make build).
type Spec struct {
	Name    string
	Purpose string // the function's description in AWS
	Memory  int    // MiB
	Timeout time.Duration
}

// Catalog lists every function Alto plans, with its settings, in the order
// ARCHITECTURE.md draws them. A function is deployed only when its source
// folder exists (see Present); listing one here invents no handler.
var Catalog = []Spec{
	// API Gateway's REST integration gives up after 29 s.
	{Name: "api", Purpose: "Alto HTTP API behind API Gateway", Memory: 512, Timeout: 29 * time.Second},
	// Consumes the ingress queue and parses uploaded CSV files, streaming.
	{Name: "ingest", Purpose: "Alto ingest: ingress queue and CSV imports", Memory: 512, Timeout: 5 * time.Minute},
	{Name: "personalize", Purpose: "Alto personalization jobs", Memory: 256, Timeout: time.Minute},
	// Streams whole-workspace exports; resumable, so Lambda's 15-minute cap is enough.
	{Name: "export", Purpose: "Alto subject and workspace exports", Memory: 1024, Timeout: 15 * time.Minute},
	{Name: "purge", Purpose: "Alto retention sweep and purges", Memory: 512, Timeout: 5 * time.Minute},
	{Name: "incident", Purpose: "Alto incident SLA timers and detectors", Memory: 256, Timeout: time.Minute},
}

// Lookup returns the catalog entry of name.
func Lookup(name string) (Spec, bool) {
	for _, s := range Catalog {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Present returns the catalog entries whose source folder exists under dir
// (the repository's functions/ folder), in catalog order. It returns an
// error naming every folder of dir that the catalog does not know, so that
// no function is left undeployed by mistake.
func Present(dir string) ([]Spec, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("functions: read %s: %w", dir, err)
	}
	found := map[string]bool{}
	var unknown []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, ok := Lookup(e.Name()); !ok {
			unknown = append(unknown, e.Name())
			continue
		}
		found[e.Name()] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("functions: %s holds %v, which infra/cdk/functions.Catalog does not list: add their settings there", dir, unknown)
	}
	var out []Spec
	for _, s := range Catalog {
		if found[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

// CheckAssets returns an error naming the specs whose asset
// <dir>/<name>/bootstrap is missing (run make build).
func CheckAssets(dir string, specs []Spec) error {
	var missing []string
	for _, s := range specs {
		if _, err := os.Stat(filepath.Join(dir, s.Name, "bootstrap")); err != nil {
			missing = append(missing, filepath.Join(dir, s.Name, "bootstrap"))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("functions: missing Lambda assets %v: run make build", missing)
	}
	return nil
}
