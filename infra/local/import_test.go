package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/alto/alto/shared/importtest"
)

// importCLI runs `import` against a running server and returns its output.
func importCLI(t *testing.T, data, base, file string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args := []string{"import", "--file", file, "--data", data, "--addr", base, "--org", "acme", "--every", "100ms"}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("import: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// count returns the number after label in a summary, or -1.
func count(summary, label string) int {
	m := regexp.MustCompile(`(?m)^\s*` + label + `\s+(\d+)`).FindStringSubmatch(summary)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestING02_TheCLIImports10kRowsWith3PercentBadOnceAndOnlyOnce is the
// must-show of ING-02 through the operator CLI against `serve`: accepted +
// rejected = rows, each rejection with its line and reason; the same file
// again adds no contact; and no imported e-mail, phone or last name is left
// in the clear in the data folder (ENC-02), the uploaded file included.
func TestING02_TheCLIImports10kRowsWith3PercentBadOnceAndOnlyOnce(t *testing.T) {
	data := filepath.Join(t.TempDir(), "alto")
	base, _ := startServe(t, data, nil)
	const rows, badPer100 = 10_000, 3
	file := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(file, []byte(importtest.CSV(rows, badPer100)), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := rows * badPer100 / 100

	out, progress := importCLI(t, data, base, file)
	if !strings.Contains(progress, "rows read") || !strings.Contains(progress, "\r[") {
		t.Errorf("stderr shows no progress line:\n%s", progress)
	}
	if !strings.Contains(out, ": done") || count(out, "rows read") != rows || count(out, "accepted") != rows-bad || count(out, "rejected") != bad {
		t.Fatalf("summary:\n%s\nwant done with %d rows, %d accepted, %d rejected", out, rows, rows-bad, bad)
	}
	errLine := regexp.MustCompile(`(?m)^  line (\d+): (\w+(\.\w+)?): \S.*$`)
	shown := errLine.FindAllStringSubmatch(out, -1)
	if len(shown) != 10 || !strings.Contains(out, "... and 290 more") {
		t.Errorf("summary lists %d errors, want the first 10 and a count of the rest:\n%s", len(shown), out)
	}
	id := regexp.MustCompile(`import (imp_\w+): done`).FindStringSubmatch(out)[1]

	// Every rejection is on the line of a bad row, with a field and a reason.
	tok := mintToken(t, data, "--org", "acme", "--role", "admin")
	code, body, _ := get(t, http.DefaultClient, base+"/v1/imports/"+id, tok)
	errs, _ := body["errors"].([]any)
	if code != 200 || len(errs) != bad {
		t.Fatalf("GET import = %d with %d errors, want %d", code, len(errs), bad)
	}
	for _, e := range errs {
		e := e.(map[string]any)
		line := int(e["line"].(float64))
		if !importtest.Bad(line-1, badPer100) || e["field"] == "" || e["reason"] == "" {
			t.Errorf("error %v: want the line of a bad row, a field and a reason", e)
		}
	}

	// The same file again: every valid row is already there.
	out, _ = importCLI(t, data, base, file)
	if !strings.Contains(out, "created 0,") || !strings.Contains(out, "unchanged "+strconv.Itoa(rows-bad)) || count(out, "rejected") != bad {
		t.Errorf("second import:\n%s\nwant nothing created, %d unchanged", out, rows-bad)
	}
	if n := countContacts(t, base, tok); n != rows-bad {
		t.Errorf("contacts = %d, want %d", n, rows-bad)
	}

	t.Run("ENC02_AGrepOfTheDataFolderFindsNoImportedPII", func(t *testing.T) {
		var needles [][]byte
		for i := 1; i <= rows; i += 97 {
			p := importtest.PersonOf(i)
			needles = append(needles, []byte(p.Email), []byte(p.LastName), []byte(p.Phone), []byte(p.Phone[2:]))
		}
		files := 0
		err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files++
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, n := range needles {
				if bytes.Contains(raw, n) {
					t.Errorf("%s holds %q in the clear", strings.TrimPrefix(path, data), n)
					return nil
				}
			}
			return nil
		})
		if err != nil || files < 3 {
			t.Fatalf("walked %d files: %v", files, err)
		}
	})
}

// countContacts pages through GET /v1/contacts.
func countContacts(t *testing.T, base, tok string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		code, body, _ := get(t, http.DefaultClient, base+"/v1/contacts?limit=1000&cursor="+cursor, tok)
		if code != 200 {
			t.Fatalf("list contacts = %d %v", code, body)
		}
		items, _ := body["items"].([]any)
		n += len(items)
		next, _ := body["nextCursor"].(string)
		if next == "" {
			return n
		}
		cursor = next
	}
}

func TestImportRefusesBadInput(t *testing.T) {
	data := t.TempDir()
	cases := map[string][]string{
		"no file":      {},
		"rep":          {"--file", "x.csv", "--role", "rep"},
		"missing file": {"--file", filepath.Join(data, "nope.csv"), "--addr", "127.0.0.1:1"},
		"no server":    {"--file", writeFile(t, "email\na@example.com\n"), "--data", data, "--addr", "127.0.0.1:1"},
		"extra arg":    {"--file", "x.csv", "now"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			if err := run(context.Background(), append([]string{"import"}, args...), io.Discard, io.Discard); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestImportOfAFileThatCannotBeParsedFails(t *testing.T) {
	data := filepath.Join(t.TempDir(), "alto")
	base, _ := startServe(t, data, nil)
	var out bytes.Buffer
	err := run(context.Background(), []string{"import", "--file", writeFile(t, "ada@example.com,Ada\n"), "--data", data,
		"--addr", base, "--every", "50ms"}, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), ": failed") || !strings.Contains(out.String(), "line 1: row: no column holds") {
		t.Errorf("err = %v, summary:\n%s\nwant a failure on line 1", err, out.String())
	}
	if strings.Contains(out.String(), "ada@") {
		t.Errorf("the summary echoes the file:\n%s", out.String())
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
