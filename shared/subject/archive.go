package subject

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Format names the layout of an export archive.
const Format = "alto-export/v1"

// Manifest describes an export archive. It is the last member of the
// archive's JSON document, since its counts are known only at the end.
type Manifest struct {
	Format      string    `json:"format"`
	Kind        string    `json:"kind"` // subject or workspace
	Tenant      string    `json:"tenant"`
	RequestID   string    `json:"requestId"`
	RequestType string    `json:"requestType"`
	GeneratedAt time.Time `json:"generatedAt"`
	// Counts holds the records of each collection in the JSON document.
	Counts map[string]int64 `json:"counts"`
	Files  []string         `json:"files"`
	Notes  []string         `json:"notes"`
}

// row is one exported record: JSON through encoding/json, and a CSV row
// matching its collection's header.
type row interface {
	csv() []string
}

// collection is one kind of record in an archive: a member of the JSON
// document and a CSV file. each emits its records in order and may be
// called more than once (once per file); it holds at most a page of
// records at a time.
type collection struct {
	name   string
	header []string
	each   func(ctx context.Context, emit func(row) error) error
}

// progressEvery is how many rows pass between progress reports.
const progressEvery = 1000

// archiveWriter writes the zip of an export.
type archiveWriter struct {
	doc      string // name of the JSON document: subject.json, workspace.json
	manifest Manifest
	cols     []collection
	// progress, if set, is told the rows written so far every
	// progressEvery rows; an error it returns aborts the archive.
	progress func(rows int64) error
	rows     int64
}

// write streams the archive into w: the JSON document (one array per
// collection, then the manifest), then one CSV file per collection. Memory
// stays bounded by a page of records and the compressor's window, whatever
// the size. Returns the manifest as written.
func (a *archiveWriter) write(ctx context.Context, w io.Writer) (Manifest, error) {
	m := a.manifest
	m.Format, m.Counts = Format, map[string]int64{}
	m.Files = []string{a.doc}
	for _, c := range a.cols {
		m.Files = append(m.Files, c.name+".csv")
	}
	m.Notes = append(m.Notes,
		"The JSON document holds every record; each CSV file holds one collection, read separately, so records changed meanwhile may differ between them.",
		"In CSV files, a cell a spreadsheet would run as a formula starts with an apostrophe.")
	zw := zip.NewWriter(w)
	if err := a.writeDoc(ctx, zw, &m); err != nil {
		return m, err
	}
	for _, c := range a.cols {
		if err := a.writeCSV(ctx, zw, c, m.GeneratedAt); err != nil {
			return m, err
		}
	}
	if err := zw.Close(); err != nil {
		return m, fmt.Errorf("subject: archive: %w", err)
	}
	if a.progress != nil {
		if err := a.progress(a.rows); err != nil {
			return m, err
		}
	}
	return m, nil
}

// tick counts a row written and reports progress when due.
func (a *archiveWriter) tick(ctx context.Context) error {
	a.rows++
	if a.rows%progressEvery != 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if a.progress != nil {
		return a.progress(a.rows)
	}
	return nil
}

func (a *archiveWriter) writeDoc(ctx context.Context, zw *zip.Writer, m *Manifest) error {
	f, err := zw.CreateHeader(&zip.FileHeader{Name: a.doc, Method: zip.Deflate, Modified: m.GeneratedAt})
	if err != nil {
		return fmt.Errorf("subject: archive: %w", err)
	}
	bw := bufio.NewWriterSize(f, 32<<10)
	bw.WriteString("{")
	for i, c := range a.cols {
		if i > 0 {
			bw.WriteString(",")
		}
		name, _ := json.Marshal(c.name)
		bw.Write(name)
		bw.WriteString(":[")
		var n int64
		err := c.each(ctx, func(r row) error {
			b, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("subject: encode %s: %w", c.name, err)
			}
			if n > 0 {
				bw.WriteString(",")
			}
			bw.WriteString("\n")
			if _, err := bw.Write(b); err != nil {
				return err
			}
			n++
			return a.tick(ctx)
		})
		if err != nil {
			return err
		}
		bw.WriteString("]")
		m.Counts[c.name] = n
	}
	tail, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("subject: encode manifest: %w", err)
	}
	bw.WriteString(",\n\"manifest\":")
	bw.Write(tail)
	bw.WriteString("}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("subject: archive: %w", err)
	}
	return nil
}

func (a *archiveWriter) writeCSV(ctx context.Context, zw *zip.Writer, c collection, mod time.Time) error {
	f, err := zw.CreateHeader(&zip.FileHeader{Name: c.name + ".csv", Method: zip.Deflate, Modified: mod})
	if err != nil {
		return fmt.Errorf("subject: archive: %w", err)
	}
	cw := csv.NewWriter(f) // buffers by itself
	if err := cw.Write(c.header); err != nil {
		return fmt.Errorf("subject: archive: %w", err)
	}
	err = c.each(ctx, func(r row) error {
		rec := r.csv()
		for i, cell := range rec {
			rec[i] = defuse(cell)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("subject: archive: %w", err)
		}
		return a.tick(ctx)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("subject: archive: %w", err)
	}
	return nil
}

// defuse keeps a spreadsheet from running a cell as a formula (CSV
// injection): a cell starting with =, @, tab or carriage return, or with +
// or - followed by anything but a number, gets a leading apostrophe. Phone
// numbers like +14155552671 and negative numbers stay as they are.
func defuse(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '@', '\t', '\r':
		return "'" + cell
	case '+', '-':
		if strings.Trim(cell[1:], "0123456789. ") != "" || len(cell) == 1 {
			return "'" + cell
		}
	}
	return cell
}
