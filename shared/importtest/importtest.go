// Package importtest makes CSV files of contacts for the tests and
// benchmarks of imports: any number of rows, streamed in constant memory,
// with a known share of invalid rows and personal data that is easy to
// search for.
package importtest

import (
	"bytes"
	"fmt"
	"io"
)

// Header is the header line of the files: common names that the import's
// header mapping must recognize.
const Header = "E-mail,First Name,Surname,Phone Number,Company,Job Title,Country,Time Zone,Email Opt-In,attr.plan\n"

// Person is the personal data of row i, as stored after normalization.
type Person struct {
	Email, Phone, LastName string
}

// PersonOf returns the personal data of row i (1-based).
func PersonOf(i int) Person {
	return Person{
		Email:    fmt.Sprintf("zelda.person%d@example.com", i),
		Phone:    fmt.Sprintf("+1415555%04d", i%10000),
		LastName: fmt.Sprintf("Quixotez%d", i),
	}
}

// Bad reports whether row i (1-based) is invalid in a file where badPer100
// of every 100 rows are: rows 1..badPer100 of each hundred.
func Bad(i, badPer100 int) bool { return (i-1)%100 < badPer100 }

// row appends row i to b.
func row(b []byte, i, badPer100 int) []byte {
	p := PersonOf(i)
	email, phone, zone := p.Email, fmt.Sprintf("(415) 555-%04d", i%10000), "America/Los_Angeles"
	if Bad(i, badPer100) {
		switch i % 3 {
		case 0:
			email = "not-an-email"
		case 1:
			phone = "12"
		default:
			zone = "Mars/Olympus"
		}
	}
	return fmt.Appendf(b, "%s,Zed,%s,%s,Acme Corp,\"Head of Things, Europe\",US,%s,yes,pro\n", email, p.LastName, phone, zone)
}

// Reader streams a file of rows rows (lines 2..rows+1) after the header,
// badPer100 of every 100 of them invalid, without holding the file.
func Reader(rows, badPer100 int) io.Reader {
	return &reader{rows: rows, bad: badPer100, buf: []byte(Header)}
}

type reader struct {
	rows, bad, next int
	buf             []byte
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next >= r.rows {
			return 0, io.EOF
		}
		r.next++
		r.buf = row(r.buf[:0], r.next, r.bad)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// CSV returns a whole file as Reader makes it.
func CSV(rows, badPer100 int) string {
	var b bytes.Buffer
	io.Copy(&b, Reader(rows, badPer100))
	return b.String()
}
