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
			err := run(specPath, out, tc.allowMissing, strings.NewReader(tc.events), io.Discard)
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
