package csvimport

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/alto/alto/shared/contact"
)

// readAll reads every row of file, failing the test on a fatal error.
func readAll(t *testing.T, file string) []Row {
	t.Helper()
	rd, err := NewReader(strings.NewReader(file))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var rows []Row
	for {
		row, err := rd.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows = append(rows, row)
	}
}

func TestING02_HeaderNamesMapToFields(t *testing.T) {
	cases := []struct {
		header string
		want   []string
	}{
		{"email,first name,last name", []string{"email", "firstName", "lastName"}},
		{"E-mail,FirstName,Surname", []string{"email", "firstName", "lastName"}},
		{"Email Address,Given Name,Family Name,Phone Number", []string{"email", "firstName", "lastName", "phone"}},
		{"mail,mobile,Company,Job Title", []string{"email", "phone", "company", "title"}},
		{"Telephone,Organization,Title,Country", []string{"phone", "company", "title", "country"}},
		{"phone,account,Time Zone,timezone2", []string{"phone", "company", "timeZone", ""}},
		{"email,source,External ID,owner,branch,Department", []string{"email", "source", "sourceId", "ownerId", "branch", "dept"}},
		{"email,Source ID,Dept,TimeZone", []string{"email", "sourceId", "dept", "timeZone"}},
		{"email,id,Consent Email,Consent Call", []string{"email", "sourceId", "consent.email", "consent.call"}},
		{"EMAIL,Email Opt-In,attr.plan,ATTR.Seats,notes", []string{"email", "consent.email", "attributes.plan", "attributes.Seats", ""}},
		{" e_mail , first_name ", []string{"email", "firstName"}},
	}
	for _, tc := range cases {
		t.Run(tc.header, func(t *testing.T) {
			m, err := MapHeader(strings.Split(tc.header, ","))
			if err != nil {
				t.Fatalf("MapHeader: %v", err)
			}
			if !reflect.DeepEqual(m.Columns, tc.want) {
				t.Errorf("columns = %q, want %q", m.Columns, tc.want)
			}
		})
	}
}

func TestING02_BadHeadersAreFileErrorsOnLine1(t *testing.T) {
	many := strings.TrimSuffix(strings.Repeat("x,", MaxColumns)+"email", ",")
	attrs := "email"
	for i := 0; i <= contact.MaxAttributes; i++ {
		attrs += ",attr.a" + string(rune('a'+i))
	}
	cases := []struct{ name, header, reason string }{
		{"no identity column", "first name,last name", "no column holds an e-mail address or a phone number"},
		{"headerless file", "ada@example.com,Ada,Lovelace", "is the header line missing?"},
		{"duplicate field", "email,E-mail", "columns 1 and 2 both hold email"},
		{"too many columns", many, "at most 200 are allowed"},
		{"bad attribute name", "email,attr.9lives", "an attr. column needs a name"},
		{"too many attributes", attrs, "holds at most 20 attributes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tc.header + "\nx@example.com\n"))
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line != 1 || !strings.Contains(fe.Reason, tc.reason) {
				t.Fatalf("err = %v, want a FileError on line 1 saying %q", err, tc.reason)
			}
			if strings.Contains(fe.Error(), "ada@") || strings.Contains(fe.Error(), "Lovelace") {
				t.Errorf("error echoes the file: %v", fe)
			}
		})
	}
	if _, err := NewReader(strings.NewReader("")); err == nil {
		t.Error("empty file: no error")
	}
}

func TestING02_RowsCarryTheirFileLineAndFieldErrors(t *testing.T) {
	file := "\uFEFFemail,first name,consent email,attr.plan\r\n" + // line 1, with a BOM and CRLF
		"ada@example.com,Ada,yes,pro\r\n" + // 2
		"\r\n" + // 3: blank, skipped
		"bob@example.com,\"Bob\nthe second\",no,\n" + // 4-5: a quoted line break
		"carl@example.com,Carl,maybe,\n" + // 6: bad consent
		"dan@example.com,Da\"n,,\n" + // 7: bare quote
		"eve@example.com,Eve,,,extra\n" + // 8: a value past the header
		"fay@example.com,Fay\n" // 9: short rows are fine
	rows := readAll(t, file)
	type want struct {
		line   int
		email  string
		fields string
	}
	wants := []want{
		{2, "ada@example.com", ""},
		{4, "bob@example.com", ""},
		{6, "carl@example.com", "consent.email"},
		{7, "", ""},
		{8, "eve@example.com", ""},
		{9, "fay@example.com", ""},
	}
	if len(rows) != len(wants) {
		t.Fatalf("rows = %d, want %d: %+v", len(rows), len(wants), rows)
	}
	for i, w := range wants {
		r := rows[i]
		var fields []string
		for _, e := range r.Errors {
			fields = append(fields, e.Field)
			if e.Reason == "" {
				t.Errorf("line %d: error on %q without a reason", r.Line, e.Field)
			}
			if strings.Contains(e.Reason, "maybe") || strings.Contains(e.Reason, "Da") || strings.Contains(e.Reason, "extra") {
				t.Errorf("line %d: reason echoes the cell: %q", r.Line, e.Reason)
			}
		}
		if r.Line != w.line || r.Contact.Email != w.email || strings.Join(fields, ",") != w.fields && w.line != 7 && w.line != 8 {
			t.Errorf("row %d = line %d %q errors %v, want line %d %q errors %q", i, r.Line, r.Contact.Email, fields, w.line, w.email, w.fields)
		}
		if (w.line == 7 || w.line == 8) && len(r.Errors) == 0 {
			t.Errorf("line %d: no error, want one for the malformed record", w.line)
		}
	}
	if got := rows[0].Contact; got.FirstName != "Ada" || got.Consent.Email != contact.Granted || got.Consent.Basis != "import" || got.Attributes["plan"] != "pro" {
		t.Errorf("ada = %+v", got)
	}
	if got := rows[1].Contact; got.FirstName != "Bob\nthe second" || got.Consent.Email != contact.Denied {
		t.Errorf("bob = %+v", got)
	}
}

func TestING02_ALongRecordEndsTheParseWithItsLine(t *testing.T) {
	cases := map[string]string{
		"long line":      "email,last name\na@example.com,A\nb@example.com," + strings.Repeat("x", MaxLineBytes+1) + "\nc@example.com,C\n",
		"unclosed quote": "email,last name\na@example.com,A\nb@example.com,\"open" + strings.Repeat("\nmore text", MaxLineBytes/8) + "\n",
	}
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			rd, err := NewReader(strings.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if row, err := rd.Next(); err != nil || row.Line != 2 {
				t.Fatalf("first row = %+v, %v", row, err)
			}
			_, err = rd.Next()
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line != 3 || !strings.Contains(fe.Reason, "longer than") {
				t.Fatalf("err = %v, want a FileError on line 3", err)
			}
		})
	}
}

func TestING02_TooManyColumnsIsARowError(t *testing.T) {
	file := "email\n" + "a@example.com" + strings.Repeat(",", MaxColumns) + "\nb@example.com\n"
	rows := readAll(t, file)
	if len(rows) != 2 || len(rows[0].Errors) != 1 || !strings.Contains(rows[0].Errors[0].Reason, "at most 200") || len(rows[1].Errors) != 0 {
		t.Fatalf("rows = %+v, want line 2 rejected for its columns and line 3 fine", rows)
	}
}

// TestING02_ResumeFromAnyPositionReadsTheSameRows proves a checkpoint loses
// and repeats nothing: resuming at the position after any row reads exactly
// the rows a single pass reads after it.
func TestING02_ResumeFromAnyPositionReadsTheSameRows(t *testing.T) {
	file := "\uFEFFemail,notes\n" +
		"a@example.com,plain\n" +
		"b@example.com,\"two\nlines\"\n" +
		"\n\n" +
		"c@example.com,\"three\r\nlines\r\nhere\"\r\n" +
		"d@example.com,bad\"quote\n" +
		"e@example.com,last"
	all := readAll(t, file)
	rd, err := NewReader(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= len(all); i++ {
		pos := rd.Position()
		resumed := Resume(strings.NewReader(file[pos.Offset:]), rd.Mapping(), pos)
		var rest []Row
		for {
			row, err := resumed.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			rest = append(rest, row)
		}
		if len(rest) != len(all[i:]) || len(rest) > 0 && !reflect.DeepEqual(rest, all[i:]) {
			t.Fatalf("resumed after %d rows at %+v:\n got %+v\nwant %+v", i, pos, rest, all[i:])
		}
		if i < len(all) {
			rd.Next()
		}
	}
}

func TestING02_DefaultSourceForAnIDColumnWithoutSource(t *testing.T) {
	rd, err := NewReader(strings.NewReader("email,id\na@example.com,17\nb@example.com,\n"))
	if err != nil {
		t.Fatal(err)
	}
	rd.DefaultSource = "import"
	a, _ := rd.Next()
	b, _ := rd.Next()
	if a.Contact.Source != "import" || a.Contact.SourceID != "17" || b.Contact.Source != "" {
		t.Errorf("a = %+v, b = %+v; want the default source only where there is an ID", a.Contact, b.Contact)
	}
}

func TestIgnoredColumnsAreNumbersNotNames(t *testing.T) {
	m, err := MapHeader([]string{"email", "secret@example.com", "first name", "notes"})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Ignored(); !reflect.DeepEqual(got, []int{2, 4}) {
		t.Errorf("ignored = %v, want [2 4]", got)
	}
	if !bytes.Contains([]byte(strings.Join(m.Columns, ",")), []byte("email")) {
		t.Errorf("columns = %q", m.Columns)
	}
}
