package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const spec = `# Spec
| ID | promise |
|---|---|
| ENC-03 | Look-ups use a blind index. |
| ACC-03 | Strict tenant isolation. |
| RET-01 | ingress | queued submissions | 24 h |
`

func TestReportMapsPromisesToTests(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "SPEC.md")
	os.WriteFile(specPath, []byte(spec), 0o644)
	events := `{"Action":"run","Package":"p","Test":"TestENC03_Blind"}
{"Action":"pass","Package":"p","Test":"TestENC03_Blind"}
{"Action":"pass","Package":"p","Test":"TestStore/ACC03_TenantIsolation"}
{"Action":"fail","Package":"p","Test":"TestOther"}
`
	out := filepath.Join(dir, "CONFORMANCE.md")
	cases := []struct {
		name         string
		events       string
		allowMissing bool
		wantErr      string
	}{
		{"a failing test fails the run", events, true, "1 tests failed"},
		{"a missing promise fails the run", strings.ReplaceAll(events, `"fail"`, `"pass"`), false, "1 promises have no passing test"},
		{"missing promises allowed", strings.ReplaceAll(events, `"fail"`, `"pass"`), true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := run(specPath, out, tc.allowMissing, strings.NewReader(tc.events), nil, io.Discard)
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("run = %v, want %q", err, tc.wantErr)
			}
			report, _ := os.ReadFile(out)
			for _, want := range []string{"| ENC-03 |", "p TestENC03_Blind", "p TestStore/ACC03_TenantIsolation", "| RET-01 | ingress: queued submissions (24 h) | no test |"} {
				if !strings.Contains(string(report), want) {
					t.Errorf("report lacks %q:\n%s", want, report)
				}
			}
		})
	}
}

// events of a run where one package does not build, one has a failing
// subtest and one passes, as go test -json writes them.
const mixedRun = `{"ImportPath":"p/broken [p/broken.test]","Action":"build-output","Output":"# p/broken\n"}
{"ImportPath":"p/broken [p/broken.test]","Action":"build-output","Output":"broken.go:2:12: undefined: x\n"}
{"ImportPath":"p/broken [p/broken.test]","Action":"build-fail"}
{"Action":"start","Package":"p/broken"}
{"Action":"output","Package":"p/broken","Output":"FAIL\tp/broken [build failed]\n"}
{"Action":"fail","Package":"p/broken","FailedBuild":"p/broken [p/broken.test]"}
{"Action":"run","Package":"p","Test":"TestENC03_Blind"}
{"Action":"output","Package":"p","Test":"TestENC03_Blind","Output":"=== RUN   TestENC03_Blind\n"}
{"Action":"run","Package":"p","Test":"TestENC03_Blind/sub"}
{"Action":"output","Package":"p","Test":"TestENC03_Blind/sub","Output":"=== RUN   TestENC03_Blind/sub\n"}
{"Action":"output","Package":"p","Test":"TestENC03_Blind/sub","Output":"    a_test.go:3: got 1, want 2\n"}
{"Action":"output","Package":"p","Test":"TestENC03_Blind/sub","Output":"--- FAIL: TestENC03_Blind/sub (0.00s)\n"}
{"Action":"fail","Package":"p","Test":"TestENC03_Blind/sub"}
{"Action":"output","Package":"p","Test":"TestENC03_Blind","Output":"--- FAIL: TestENC03_Blind (0.00s)\n"}
{"Action":"fail","Package":"p","Test":"TestENC03_Blind"}
{"Action":"run","Package":"p","Test":"TestACC03_Quiet"}
{"Action":"output","Package":"p","Test":"TestACC03_Quiet","Output":"    a_test.go:9: chatter of a passing test\n"}
{"Action":"output","Package":"p","Test":"TestACC03_Quiet","Output":"--- PASS: TestACC03_Quiet (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestACC03_Quiet"}
{"Action":"output","Package":"p","Output":"FAIL\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.014s\n"}
{"Action":"fail","Package":"p"}
{"Action":"output","Package":"q","Output":"ok  \tq\t0.010s\n"}
{"Action":"pass","Package":"q"}
`

func TestEchoShowsBuildErrorsPackagesAndFailingTestsOnly(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "SPEC.md")
	os.WriteFile(specPath, []byte(spec), 0o644)
	var echo, stderr strings.Builder
	err := run(specPath, filepath.Join(dir, "CONFORMANCE.md"), true, strings.NewReader(mixedRun), &echo, &stderr)
	if err == nil || !strings.Contains(err.Error(), "2 tests failed") {
		t.Errorf("run = %v, want 2 tests failed", err)
	}
	want := "# p/broken\nbroken.go:2:12: undefined: x\n" +
		"FAIL\tp/broken [build failed]\n" +
		"    a_test.go:3: got 1, want 2\n--- FAIL: TestENC03_Blind/sub (0.00s)\n" +
		"--- FAIL: TestENC03_Blind (0.00s)\n" +
		"FAIL\nFAIL\tp\t0.014s\n" +
		"ok  \tq\t0.010s\n"
	if got := echo.String(); got != want {
		t.Errorf("echo =\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(stderr.String(), "conformance: package failed: p/broken") {
		t.Errorf("stderr = %q, want the package that did not build named", stderr.String())
	}
}

func TestAPackageThatFailsWithoutAFailingTestFailsTheRun(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "SPEC.md")
	os.WriteFile(specPath, []byte(spec), 0o644)
	events := `{"Action":"pass","Package":"p","Test":"TestENC03_Blind"}
{"Action":"pass","Package":"p","Test":"TestACC03_Isolation"}
{"Action":"pass","Package":"p","Test":"TestRET01_Gone"}
{"Action":"output","Package":"p","Output":"panic: in TestMain\n"}
{"Action":"fail","Package":"p"}
`
	err := run(specPath, filepath.Join(dir, "CONFORMANCE.md"), false, strings.NewReader(events), nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "1 packages failed") {
		t.Errorf("run = %v, want 1 packages failed", err)
	}
}

// TestWithoutTheSpecTheLastReportsPromisesAreChecked runs the check where
// SPEC.md is not beside the clone: the promises of the last report are
// checked as strictly, texts with a pipe included.
func TestWithoutTheSpecTheLastReportsPromisesAreChecked(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "SPEC.md")
	os.WriteFile(specPath, []byte(spec+"| ACC-05 | Headers: `a \\| b`. |\n"), 0o644)
	out := filepath.Join(dir, "CONFORMANCE.md")
	all := `{"Action":"pass","Package":"p","Test":"TestENC03_Blind"}
{"Action":"pass","Package":"p","Test":"TestACC03_X"}
{"Action":"pass","Package":"p","Test":"TestRET01_X"}
{"Action":"pass","Package":"p","Test":"TestACC05_X"}
`
	if err := run(specPath, out, false, strings.NewReader(all), nil, io.Discard); err != nil {
		t.Fatalf("run with the spec: %v", err)
	}
	first, _ := os.ReadFile(out)
	os.Remove(specPath)

	var stderr strings.Builder
	if err := run(specPath, out, false, strings.NewReader(all), nil, &stderr); err != nil {
		t.Fatalf("run from the last report: %v", err)
	}
	if !strings.Contains(stderr.String(), "not found") {
		t.Errorf("stderr = %q, want it to say the spec was not found", stderr.String())
	}
	second, _ := os.ReadFile(out)
	if string(first) != string(second) {
		t.Errorf("report from the last report differs:\n%s\nwant\n%s", second, first)
	}
	lost := strings.ReplaceAll(all, `{"Action":"pass","Package":"p","Test":"TestRET01_X"}`+"\n", "")
	if err := run(specPath, out, false, strings.NewReader(lost), nil, io.Discard); err == nil || !strings.Contains(err.Error(), "1 promises have no passing test") {
		t.Errorf("run from the last report without RET-01's test = %v, want it to fail", err)
	}
}
