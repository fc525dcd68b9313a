// Command conformance maps every promise of SPEC.md to the tests that carry
// its ID and their results, and writes the conformance report.
//
//	go test -json ./... | go run ./infra/conformance --spec ../shared/SPEC.md --out docs/CONFORMANCE.md
//
// A test carries a promise when its name (or a subtest's) contains the ID
// without its hyphen, as in TestENC03_BlindIndex or ACC03_TenantIsolation.
// It exits 1 when a promise has no passing test, or when any test failed,
// unless --allow-missing is given (then only failures fail it).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

func main() {
	spec := flag.String("spec", "../shared/SPEC.md", "the SPEC.md whose promises to check")
	out := flag.String("out", "docs/CONFORMANCE.md", "where to write the report")
	allowMissing := flag.Bool("allow-missing", false, "report promises without a passing test but do not fail on them")
	flag.Parse()
	if err := run(*spec, *out, *allowMissing, os.Stdin, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

// Promise is one row of SPEC.md.
type Promise struct {
	ID, Text string
}

// result is the outcome of one test.
type result struct {
	Package, Test string
	Passed        bool
}

var idPattern = regexp.MustCompile(`^\|\s*([A-Z]{3}-\d{2})\s*\|(.*)\|\s*$`)

// promises reads the IDs and their text from SPEC.md's tables.
func promises(r io.Reader) ([]Promise, error) {
	var out []Promise
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := idPattern.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		cells := strings.Split(m[2], "|")
		text := strings.TrimSpace(cells[len(cells)-1])
		if len(cells) > 1 { // retention rows: class | what | default
			text = strings.TrimSpace(cells[0]) + ": " + strings.TrimSpace(cells[1]) + " (" + strings.TrimSpace(cells[len(cells)-1]) + ")"
		}
		out = append(out, Promise{ID: m[1], Text: text})
	}
	if len(out) == 0 {
		return nil, errors.New("no promise IDs found in the spec")
	}
	return out, sc.Err()
}

// results reads `go test -json` events and returns the final outcome of
// every test and subtest.
func results(r io.Reader) ([]result, error) {
	type event struct {
		Action, Package, Test string
	}
	final := map[[2]string]bool{}
	var order [][2]string
	dec := json.NewDecoder(r)
	for {
		var e event
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading go test -json: %w", err)
		}
		if e.Test == "" || (e.Action != "pass" && e.Action != "fail") {
			continue
		}
		k := [2]string{e.Package, e.Test}
		if _, seen := final[k]; !seen {
			order = append(order, k)
		}
		final[k] = e.Action == "pass"
	}
	out := make([]result, len(order))
	for i, k := range order {
		out[i] = result{Package: k[0], Test: k[1], Passed: final[k]}
	}
	return out, nil
}

func run(specPath, outPath string, allowMissing bool, in io.Reader, stderr io.Writer) error {
	f, err := os.Open(specPath)
	if err != nil {
		return err
	}
	ps, err := promises(f)
	f.Close()
	if err != nil {
		return err
	}
	rs, err := results(in)
	if err != nil {
		return err
	}
	var failed []string
	for _, r := range rs {
		if !r.Passed {
			failed = append(failed, r.Package+" "+r.Test)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Conformance\n\nWhich test proves each promise of SPEC.md, and how it fared. Made by `make conformance` on %s from `go test -json ./...`; a test carries a promise when its name holds the ID without the hyphen.\n\n", time.Now().UTC().Format("2006-01-02"))
	var missing []string
	var rows strings.Builder
	for _, p := range ps {
		key := strings.ReplaceAll(p.ID, "-", "")
		var pass, fail []string
		for _, r := range rs {
			if !strings.Contains(r.Test, key) {
				continue
			}
			name := strings.TrimPrefix(r.Package, "github.com/alto/alto/") + " " + r.Test
			if r.Passed {
				pass = append(pass, name)
			} else {
				fail = append(fail, name)
			}
		}
		sort.Strings(pass)
		status := "pass"
		switch {
		case len(fail) > 0:
			status = "FAIL"
		case len(pass) == 0:
			status = "no test"
			missing = append(missing, p.ID)
		}
		evidence := strings.Join(append(fail, pass...), "<br>")
		fmt.Fprintf(&rows, "| %s | %s | %s | %s |\n", p.ID, escape(p.Text), status, evidence)
	}
	fmt.Fprintf(&b, "%d promises; %d with passing tests; %d without a test; %d failing tests in the run.\n\n",
		len(ps), len(ps)-len(missing), len(missing), len(failed))
	b.WriteString("| promise | what | status | evidence |\n|---|---|---|---|\n")
	b.WriteString(rows.String())
	if err := os.WriteFile(outPath, []byte(b.String()), 0o644); err != nil {
		return err
	}
	for _, f := range failed {
		fmt.Fprintln(stderr, "conformance: failed:", f)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d tests failed", len(failed))
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "conformance: no passing test carries %s\n", strings.Join(missing, ", "))
		if !allowMissing {
			return fmt.Errorf("%d promises have no passing test", len(missing))
		}
	}
	return nil
}

func escape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
