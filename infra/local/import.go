package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/imports"
)

// importConfig is what `import` was asked to do.
type importConfig struct {
	file, data, addr string
	principal        auth.Principal
	every            time.Duration // between two progress polls
	shownErrors      int
}

func parseImport(args []string, stderr io.Writer) (importConfig, error) {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c importConfig
	var role string
	fs.StringVar(&c.file, "file", "", "the CSV file to import; required")
	fs.StringVar(&c.data, "data", env("ALTO_DATA", ".alto"), "data folder whose issuer signs the token (env ALTO_DATA)")
	fs.StringVar(&c.addr, "addr", env("ALTO_ADDR", "127.0.0.1:8080"), "address (or URL) of the running server (env ALTO_ADDR)")
	fs.StringVar(&c.principal.Org, "org", "acme", "tenant to import into")
	fs.StringVar(&role, "role", "owner", "owner, admin or manager")
	fs.StringVar(&c.principal.Sub, "sub", "u1", "subject the import is recorded for")
	fs.StringVar(&c.principal.Branch, "branch", "", "branch (a manager's rows are held to it)")
	fs.StringVar(&c.principal.Dept, "dept", "", "department (a manager's rows are held to it)")
	fs.DurationVar(&c.every, "every", 500*time.Millisecond, "how often to poll the progress")
	fs.IntVar(&c.shownErrors, "errors", 10, "how many row errors the summary lists")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("import: unexpected argument %q", fs.Arg(0))
	}
	if c.file == "" {
		return c, errors.New("import: --file is required")
	}
	r, err := auth.ParseRole(role)
	if err != nil || !auth.Allowed(r, auth.ManageImports) {
		return c, fmt.Errorf("import: --role must be owner, admin or manager")
	}
	c.principal.Role = r
	if c.every <= 0 {
		return c, errors.New("import: --every must be positive")
	}
	if !strings.Contains(c.addr, "://") {
		c.addr = "http://" + c.addr
	}
	c.addr = strings.TrimSuffix(c.addr, "/")
	return c, nil
}

// importer talks to the running server over HTTP only, so it works while
// `serve` holds the data folder.
type importer struct {
	c      importConfig
	client *http.Client
	token  string
	exp    time.Time
}

// auth returns a token, minting a new one when the last is about to expire
// (each token's first use is audited as a log-in, so it is not minted per
// request).
func (im *importer) auth() (string, error) {
	if time.Until(im.exp) > 5*time.Minute {
		return im.token, nil
	}
	tok, err := mint(im.c.data, im.c.principal, auth.DefaultMaxTTL)
	if err != nil {
		return "", err
	}
	im.token, im.exp = tok, time.Now().Add(auth.DefaultMaxTTL)
	return tok, nil
}

// call sends a request to the API and decodes a JSON answer of status want
// into out; any other answer is an error carrying the problem's detail.
func (im *importer) call(ctx context.Context, method, path string, body any, want int, out any) error {
	tok, err := im.auth()
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, im.c.addr+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := im.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is `serve` running?)", method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %s", method, path, problem(res))
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// problem describes an error answer by its problem details.
func problem(res *http.Response) string {
	var p struct {
		Title, Detail string
		Errors        []struct{ Field, Reason string }
	}
	json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&p)
	msg := res.Status
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	for _, e := range p.Errors {
		msg += fmt.Sprintf("; %s %s", e.Field, e.Reason)
	}
	return msg
}

// importFile runs `import`: it starts an import, streams the file to its
// upload URL, shows the progress on stderr until the import is done, then
// prints the summary and the first row errors on stdout. It returns an
// error when the import failed.
func importFile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseImport(args, stderr)
	if err != nil {
		return err
	}
	f, err := os.Open(c.file)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	im := &importer{c: c, client: &http.Client{}}
	var created imports.Created
	if err := im.call(ctx, "POST", "/v1/imports", map[string]string{"filename": filepath.Base(c.file)}, http.StatusCreated, &created); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	fmt.Fprintf(stderr, "import %s: uploading %s (%d bytes)\n", created.ID, filepath.Base(c.file), info.Size())
	if err := im.upload(ctx, created.UploadURL, f, info.Size()); err != nil {
		return fmt.Errorf("import %s: upload: %w", created.ID, err)
	}
	imp, err := im.follow(ctx, created.ID, info.Size(), stderr)
	if err != nil {
		return fmt.Errorf("import %s: %w", created.ID, err)
	}
	summarize(stdout, imp, c.shownErrors)
	if imp.Status == imports.Failed {
		return fmt.Errorf("import %s failed", imp.ID)
	}
	return nil
}

// upload streams the file to the signed URL (no token: the URL is the
// credential).
func (im *importer) upload(ctx context.Context, url string, f io.Reader, size int64) error {
	req, err := http.NewRequestWithContext(ctx, "PUT", url, f)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "text/csv")
	res, err := im.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return errors.New(problem(res))
	}
	return nil
}

// follow polls the import until it is done or failed, drawing a progress
// line on stderr.
func (im *importer) follow(ctx context.Context, id string, size int64, stderr io.Writer) (imports.Import, error) {
	t := time.NewTicker(im.c.every)
	defer t.Stop()
	for {
		var imp imports.Import
		if err := im.call(ctx, "GET", "/v1/imports/"+id, nil, http.StatusOK, &imp); err != nil {
			return imp, err
		}
		fmt.Fprintf(stderr, "\r%s", progress(imp, size))
		if imp.Status == imports.Done || imp.Status == imports.Failed {
			fmt.Fprintln(stderr)
			return imp, nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr)
			return imp, fmt.Errorf("stopped waiting (the import goes on; GET /v1/imports/%s): %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// progress draws one line: a bar of the rows with an outcome against the
// rows the file is estimated to hold (known once it is parsed), and the
// counts.
func progress(imp imports.Import, size int64) string {
	const width = 30
	done := imp.Accepted + imp.Rejected
	total := imp.RowsRead
	if imp.BytesRead > 0 && imp.BytesRead < size {
		total = int(float64(imp.RowsRead) * float64(size) / float64(imp.BytesRead))
	}
	frac := 0.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	if imp.Status == imports.Done {
		frac = 1
	}
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %3.0f%%  %-7s rows read %d · accepted %d · rejected %d",
		strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, imp.Status, imp.RowsRead, imp.Accepted, imp.Rejected)
}

// summarize prints the outcome of an import and its first errors.
func summarize(w io.Writer, imp imports.Import, shown int) {
	fmt.Fprintf(w, "import %s: %s\n", imp.ID, imp.Status)
	fmt.Fprintf(w, "  rows read  %d\n", imp.RowsRead)
	fmt.Fprintf(w, "  accepted   %d (created %d, updated %d, unchanged %d, suppressed %d)\n",
		imp.Accepted, imp.Created, imp.Updated, imp.Duplicates, imp.Suppressed)
	fmt.Fprintf(w, "  rejected   %d\n", imp.Rejected)
	if len(imp.Errors) == 0 {
		return
	}
	fmt.Fprintln(w, "errors:")
	for i, e := range imp.Errors {
		if i == shown {
			break
		}
		field := e.Field
		if field == "" {
			field = "row"
		}
		fmt.Fprintf(w, "  line %d: %s: %s\n", e.Line, field, e.Reason)
	}
	if more := len(imp.Errors) - min(shown, len(imp.Errors)) + imp.MoreErrors; more > 0 {
		fmt.Fprintf(w, "  ... and %d more (GET /v1/imports/%s)\n", more, imp.ID)
	}
}
