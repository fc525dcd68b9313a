// Command conformance maps every promise of SPEC.md to the tests that carry
// its ID and their results, and writes the conformance report.
//
//	go test -json ./... | go run ./infra/conformance --spec ../shared/SPEC.md --out docs/CONFORMANCE.md
//
// A test carries a promise when its name (or a subtest's) contains the ID
// without its hyphen, as in TestENC03_BlindIndex or ACC03_TenantIsolation.
// It exits 1 when a promise has no passing test, or when any test or
// package failed, unless --allow-missing is given (then only failures fail
// it). With --echo it also prints, while it reads, what a plain `go test`
// prints worth reading: build errors, one line per package, and the output
// of every failing test; so `make test` runs the tests once, with -json,
// and still shows readable failures.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
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
	echo := flag.Bool("echo", false, "print build errors, package results and failing tests' output while reading")
	flag.Parse()
	var progress io.Writer
	if *echo {
		progress = os.Stdout
	}
	if err := run(*spec, *out, *allowMissing, os.Stdin, progress, os.Stderr); err != nil {
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

// promises reads the IDs and their text from SPEC.md's tables or, with
// fromReport, from the table of an earlier report (ID, text, status,
// evidence).
func promises(r io.Reader, fromReport bool) ([]Promise, error) {
	var out []Promise
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := idPattern.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		cells := strings.Split(strings.ReplaceAll(m[2], `\|`, "\x00"), "|")
		for i := range cells {
			cells[i] = strings.ReplaceAll(cells[i], "\x00", "|")
		}
		text := strings.TrimSpace(cells[len(cells)-1])
		switch {
		case fromReport:
			text = strings.TrimSpace(cells[0])
		case len(cells) > 1: // retention rows: class | what | default
			text = strings.TrimSpace(cells[0]) + ": " + strings.TrimSpace(cells[1]) + " (" + strings.TrimSpace(cells[len(cells)-1]) + ")"
		}
		out = append(out, Promise{ID: m[1], Text: text})
	}
	if len(out) == 0 {
		return nil, errors.New("no promise IDs found in the spec")
	}
	return out, sc.Err()
}

// outcome is what one `go test -json` stream reported.
type outcome struct {
	tests    []result
	packages []string // packages that failed as a whole (build, TestMain, timeout)
}

// event is one line of `go test -json` (test2json), build events included.
type event struct {
	Action, Package, Test, Output, ImportPath string
}

// results reads `go test -json` events and returns the final outcome of
// every test and subtest, and the packages that failed. When echo is not
// nil it writes build errors, each package's result line and the output of
// each failing test there as the events arrive.
func results(r io.Reader, echo io.Writer) (outcome, error) {
	final := map[[2]string]bool{}
	var order [][2]string
	var failedPkgs []string
	pending := map[[2]string][]string{} // output of tests (and packages) still running
	summary := map[string]string{}      // each package's result line
	dec := json.NewDecoder(r)
	for {
		var e event
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return outcome{}, fmt.Errorf("reading go test -json: %w", err)
		}
		k := [2]string{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			if echo != nil {
				io.WriteString(echo, e.Output)
			}
		case "output":
			if e.Test == "" && isResultLine(e.Output) {
				summary[e.Package] = e.Output
			} else if echo != nil && !strings.HasPrefix(e.Output, "=== ") {
				pending[k] = append(pending[k], e.Output)
			}
		case "pass", "fail", "skip":
			if e.Action == "fail" && echo != nil {
				io.WriteString(echo, strings.Join(pending[k], ""))
			}
			delete(pending, k)
			if e.Test == "" && echo != nil {
				io.WriteString(echo, summary[e.Package])
			}
			if e.Test == "" {
				if e.Action == "fail" {
					failedPkgs = append(failedPkgs, e.Package)
				}
				continue
			}
			if e.Action == "skip" {
				continue
			}
			if _, seen := final[k]; !seen {
				order = append(order, k)
			}
			final[k] = e.Action == "pass"
		}
	}
	out := outcome{tests: make([]result, len(order)), packages: failedPkgs}
	for i, k := range order {
		out.tests[i] = result{Package: k[0], Test: k[1], Passed: final[k]}
	}
	return out, nil
}

// isResultLine reports whether a package's output line is its summary:
// "ok  \tpkg\t1.2s", "FAIL\tpkg ..." or "?   \tpkg\t[no test files]".
func isResultLine(s string) bool {
	return strings.HasPrefix(s, "ok  \t") || strings.HasPrefix(s, "FAIL\t") || strings.HasPrefix(s, "?   \t")
}

// run reads the test events from in, writes the report to outPath and
// returns an error when a test or package failed or, unless allowMissing,
// a promise has no passing test. echo, when not nil, receives the readable
// account of the run (see results).
//
// Where specPath does not exist (a clone without the shared folder beside
// it), the promises are those of the last report at outPath, and stderr
// says so: the check stays as strict.
func run(specPath, outPath string, allowMissing bool, in io.Reader, echo, stderr io.Writer) error {
	source, fromReport := specPath, false
	f, err := os.Open(specPath)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "conformance: %s not found; checking the promises listed in the last report, %s\n", specPath, outPath)
		source, fromReport = outPath, true
		f, err = os.Open(outPath)
	}
	if err != nil {
		return err
	}
	ps, err := promises(f, fromReport)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	res, err := results(in, echo)
	if err != nil {
		return err
	}
	rs := res.tests
	var failed []string
	for _, r := range rs {
		if !r.Passed {
			failed = append(failed, r.Package+" "+r.Test)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Conformance\n\nWhich test proves each promise of SPEC.md, and how it fared. Made by `make test` (or `make conformance`) on %s from `go test -json ./...`; a test carries a promise when its name holds the ID without the hyphen.\n\n", time.Now().UTC().Format("2006-01-02"))
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
	for _, p := range res.packages {
		fmt.Fprintln(stderr, "conformance: package failed:", p)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d tests failed", len(failed))
	}
	if len(res.packages) > 0 {
		return fmt.Errorf("%d packages failed", len(res.packages))
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
