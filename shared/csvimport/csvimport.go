// Package csvimport reads contacts from CSV files in constant memory: one
// record at a time (encoding/csv with ReuseRecord, strict quoting, any
// number of fields per record), a header mapped to contact fields by their
// common names, a bounded line length and column count, and a Position after
// every record so a parse can stop and later resume where it left off.
//
// Errors never carry a cell's value: a row's errors name the line, the field
// and a reason; a file's fatal error names the line and a reason.
package csvimport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/valid"
)

// Limits of a file.
const (
	// MaxLineBytes bounds one record: its line, or its lines when a quoted
	// field holds line breaks. A longer record ends the parse with a
	// *FileError, since a reader cannot find the next record boundary
	// reliably after it (it is usually an unclosed quote).
	MaxLineBytes = 64 << 10
	// MaxColumns bounds the fields of the header and of any record.
	MaxColumns = 200
)

// csvBuffer is the read-ahead of encoding/csv (bufio's default size).
const csvBuffer = 4096

var bom = []byte{0xEF, 0xBB, 0xBF}

// errLineTooLong is returned by the source when a record grows past
// MaxLineBytes; Next turns it into a *FileError.
var errLineTooLong = errors.New("csvimport: line too long")

// FileError is an error that ends the parse of a file: the header cannot be
// mapped, a record is too long, or the file is not text.
type FileError struct {
	Line   int    // the file's line, counting the header as line 1
	Reason string // never carries a cell's value
}

func (e *FileError) Error() string {
	return "csvimport: line " + strconv.Itoa(e.Line) + ": " + e.Reason
}

// Position is where the next unread record of a file starts: its byte
// offset and its line. It is what a checkpoint keeps.
type Position struct {
	Offset int64 `json:"offset"`
	Line   int   `json:"line"`
}

// Row is one record of the file mapped to a contact, not yet normalized.
// Errors are what mapping found wrong (a field name and a reason each); a
// row with errors is rejected, and Contact may then be partial.
type Row struct {
	Line    int // the line the record starts on
	Contact contact.Contact
	Errors  valid.Errors
}

// Reader reads the rows of one CSV file. It is not safe for concurrent use.
type Reader struct {
	csv     *csv.Reader
	src     *source
	mapping Mapping
	base    Position // where the csv reader started
	pos     Position // where the next record starts
	// DefaultSource is the source given to rows that carry a source ID but
	// no source (the file has an ID column and no source column).
	DefaultSource string
}

// source hands the file's bytes to encoding/csv and refuses to hand more
// once the record being read has grown past MaxLineBytes, which bounds the
// memory encoding/csv may use for a record whatever the file holds.
type source struct {
	r           io.Reader
	handed      int64 // bytes handed to encoding/csv
	recordStart int64 // csv offset where the record being read starts
}

func (s *source) Read(p []byte) (int, error) {
	// At most csvBuffer bytes handed are still unread by encoding/csv, so
	// past this bound the current record is longer than MaxLineBytes.
	allowed := s.recordStart + MaxLineBytes + csvBuffer - s.handed
	if allowed <= 0 {
		return 0, errLineTooLong
	}
	if int64(len(p)) > allowed {
		p = p[:allowed]
	}
	n, err := s.r.Read(p)
	s.handed += int64(n)
	return n, err
}

// NewReader reads the header of the file r (a leading UTF-8 byte order
// mark is skipped) and returns a reader positioned at the first row.
// Returns a *FileError if the header cannot be read or mapped (see
// MapHeader), or r's error if reading fails.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, csvBuffer)
	start := Position{Line: 1}
	if b, _ := br.Peek(len(bom)); bytes.Equal(b, bom) {
		br.Discard(len(bom))
		start.Offset = int64(len(bom))
	}
	rd := newReader(br, Mapping{}, start)
	rec, err := rd.csv.Read()
	switch {
	case err == io.EOF:
		return nil, &FileError{Line: 1, Reason: "the file is empty: it needs a header line"}
	case errors.Is(err, errLineTooLong):
		return nil, &FileError{Line: 1, Reason: fmt.Sprintf("the header is longer than %d bytes", MaxLineBytes)}
	case err != nil:
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, &FileError{Line: 1, Reason: "the header is not valid CSV: " + parseReason(pe)}
		}
		return nil, fmt.Errorf("csvimport: read header: %w", err)
	}
	if rd.csv.InputOffset() > MaxLineBytes {
		return nil, &FileError{Line: 1, Reason: fmt.Sprintf("the header is longer than %d bytes", MaxLineBytes)}
	}
	rd.advance(rec)
	if rd.mapping, err = MapHeader(rec); err != nil {
		return nil, err
	}
	return rd, nil
}

// Resume returns a reader of the rows of a file whose header was mapped to
// m, reading from r, which is positioned at pos (a Position returned by an
// earlier reader of the same file).
func Resume(r io.Reader, m Mapping, pos Position) *Reader {
	return newReader(r, m, pos)
}

func newReader(r io.Reader, m Mapping, pos Position) *Reader {
	src := &source{r: r}
	c := csv.NewReader(src)
	c.ReuseRecord = true
	c.FieldsPerRecord = -1
	c.LazyQuotes = false
	return &Reader{csv: c, src: src, mapping: m, base: pos, pos: pos}
}

// Mapping returns the header's mapping.
func (r *Reader) Mapping() Mapping { return r.mapping }

// Position returns where the next unread record starts.
func (r *Reader) Position() Position { return r.pos }

// fileLine turns a line of the csv reader into a line of the file.
func (r *Reader) fileLine(csvLine int) int { return r.base.Line + csvLine - 1 }

// advance moves the position past the record just read and returns the
// line it started on. A record ends on the line of its last field plus the
// line breaks inside that field.
func (r *Reader) advance(rec []string) int {
	if len(rec) == 0 {
		return r.pos.Line
	}
	first, _ := r.csv.FieldPos(0)
	last, _ := r.csv.FieldPos(len(rec) - 1)
	end := last + strings.Count(rec[len(rec)-1], "\n")
	r.pos = Position{Offset: r.base.Offset + r.csv.InputOffset(), Line: r.fileLine(end) + 1}
	return r.fileLine(first)
}

// Next returns the next row. It returns io.EOF after the last row, a
// *FileError when the file cannot be read further (a record longer than
// MaxLineBytes), and the underlying reader's error if reading fails. A
// record that is not valid CSV is a row with an error, and reading goes on
// at the line after it.
func (r *Reader) Next() (Row, error) {
	r.src.recordStart = r.csv.InputOffset()
	rec, err := r.csv.Read()
	if err == io.EOF {
		return Row{}, io.EOF
	}
	if errors.Is(err, errLineTooLong) || err == nil && r.csv.InputOffset()-r.src.recordStart > MaxLineBytes {
		return Row{}, &FileError{Line: r.pos.Line, Reason: fmt.Sprintf(
			"the record is longer than %d bytes (is a quote left open?); nothing after it was read", MaxLineBytes)}
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		row := Row{Line: r.fileLine(pe.StartLine)}
		row.Errors.Add("", "is not valid CSV: "+parseReason(pe))
		r.pos = Position{Offset: r.base.Offset + r.csv.InputOffset(), Line: r.fileLine(pe.Line) + 1}
		return row, nil
	}
	if err != nil {
		return Row{}, fmt.Errorf("csvimport: read: %w", err)
	}
	line := r.advance(rec)
	row := Row{Line: line}
	row.Contact, row.Errors = r.mapping.Contact(rec)
	if row.Contact.SourceID != "" && row.Contact.Source == "" && !r.mapping.Has(fieldSource) {
		row.Contact.Source = r.DefaultSource
	}
	return row, nil
}

// parseReason says what is wrong with a record without quoting it.
func parseReason(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf(`a quote (") inside a field that is not quoted, at column %d; quote the field and double the quote`, pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf(`a quoted field is not closed properly, at column %d`, pe.Column)
	default:
		return "malformed record"
	}
}
