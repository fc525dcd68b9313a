// Package outbox is how Alto tells people things on one machine, in place
// of SES and SNS: every e-mail is an RFC 5322 message file (.eml) in a
// folder, and every alarm is an entry in the platform's audit log plus an
// error-level log line.
//
// A message file appears whole or not at all (written to a temporary file,
// synced, then linked into place), with mode 0600 in a folder of mode 0700.
// Its name is a digest of the message's ID, so sending an ID twice, even
// from two processes at once, leaves one file: the second Send finds the
// name taken and does nothing. A file holds the recipients' addresses, as
// any mail spool does: guard the folder like the database.
package outbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alto/alto/shared/notify"
)

// Limits of a message.
const (
	MaxRecipients = 50
	MaxSubjectLen = 500     // bytes
	MaxTextLen    = 1 << 20 // bytes
	MaxIDLen      = 512     // bytes
)

// IDHeader carries Email.ID in a message file.
const IDHeader = "X-Alto-Message-Id"

// Options configure an Outbox.
type Options struct {
	// From is the sender's address; DefaultFrom if empty.
	From string
	// Now is the clock of the Date header; nil means time.Now.
	Now func() time.Time
}

// DefaultFrom is the sender of messages when Options.From is empty.
const DefaultFrom = "alto@localhost"

// Outbox is a notify.Mailer writing message files into a folder. It may be
// used concurrently, also by several processes sharing the folder.
type Outbox struct {
	dir  string
	from string
	now  func() time.Time
}

var _ notify.Mailer = (*Outbox)(nil)

// New returns the Outbox over dir, creating the folder (0700) if needed.
// Returns an error if From is not a plain address or dir cannot be created.
func New(dir string, opts Options) (*Outbox, error) {
	if opts.From == "" {
		opts.From = DefaultFrom
	}
	if err := checkAddress(opts.From); err != nil {
		return nil, fmt.Errorf("outbox: new: from: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: new: %w", err)
	}
	return &Outbox{dir: dir, from: opts.From, now: opts.Now}, nil
}

// Dir is the folder the Outbox writes to.
func (o *Outbox) Dir() string { return o.dir }

// Send writes m as a message file. A message whose ID was sent before is
// not written again. Returns an error wrapping notify.ErrInvalid (naming
// what, never the value) for no or too many recipients, an address that
// is not a plain addr-spec, an empty subject, a line break in the subject
// or ID, or a message over the limits; ctx's error if it has ended.
func (o *Outbox) Send(ctx context.Context, m notify.Email) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("outbox: send: %w", err)
	}
	if err := Validate(m); err != nil {
		return fmt.Errorf("outbox: send: %w", err)
	}
	data := o.render(m)
	name := fileName(m.ID)
	if err := createFile(filepath.Join(o.dir, name), data); err != nil {
		if errors.Is(err, fs.ErrExist) && m.ID != "" {
			return nil // sent before
		}
		return fmt.Errorf("outbox: send: write message: %w", err)
	}
	return nil
}

// Validate returns an error wrapping notify.ErrInvalid if m cannot be sent
// as given (see Send).
func Validate(m notify.Email) error {
	invalid := func(what string) error { return fmt.Errorf("%w: %s", notify.ErrInvalid, what) }
	switch {
	case len(m.To) == 0:
		return invalid("no recipient")
	case len(m.To) > MaxRecipients:
		return invalid(fmt.Sprintf("more than %d recipients", MaxRecipients))
	case strings.TrimSpace(m.Subject) == "":
		return invalid("no subject")
	case len(m.Subject) > MaxSubjectLen || !utf8.ValidString(m.Subject) || strings.ContainsAny(m.Subject, "\r\n\x00"):
		return invalid("subject too long, not UTF-8 or with a line break")
	case len(m.Text) > MaxTextLen || !utf8.ValidString(m.Text) || strings.ContainsRune(m.Text, 0):
		return invalid("text too long or not UTF-8")
	case len(m.ID) > MaxIDLen || strings.IndexFunc(m.ID, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		return invalid("ID longer than 512 bytes or not printable ASCII without spaces")
	}
	for i, to := range m.To {
		if err := checkAddress(to); err != nil {
			return invalid(fmt.Sprintf("recipient %d: %v", i, err))
		}
	}
	return nil
}

// checkAddress accepts a bare addr-spec (no display name, no line break).
func checkAddress(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.ContainsAny(s, "\r\n<>,;") || len(s) > 254 {
		return errors.New("not a plain e-mail address")
	}
	return nil
}

// render returns m as an RFC 5322 message with CRLF line endings, a
// quoted-printable UTF-8 body and RFC 2047 encoded subject.
func (o *Outbox) render(m notify.Email) []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("Date", o.now().UTC().Format(time.RFC1123Z))
	header("From", o.from)
	header("To", strings.Join(m.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Message-ID", "<"+messageID(m.ID)+"@alto.localhost>")
	if m.ID != "" {
		header(IDHeader, m.ID)
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(m.Text)) // writes to a bytes.Buffer do not fail
	qp.Close()
	return b.Bytes()
}

// Messages reads every message in the folder back, oldest first (by Date,
// then file name): what an operator or a test looks at. Returns an error
// naming the file that cannot be read or parsed.
func (o *Outbox) Messages() ([]notify.Email, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: messages: %w", err)
	}
	type dated struct {
		at   time.Time
		name string
		m    notify.Email
	}
	var all []dated
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".eml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		m, at, err := readMessage(filepath.Join(o.dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("outbox: messages: %s: %w", e.Name(), err)
		}
		all = append(all, dated{at, e.Name(), m})
	}
	slices.SortFunc(all, func(a, b dated) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]notify.Email, len(all))
	for i, d := range all {
		out[i] = d.m
	}
	return out, nil
}

func readMessage(path string) (notify.Email, time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return notify.Email{}, time.Time{}, err
	}
	defer f.Close()
	msg, err := mail.ReadMessage(bufio.NewReader(f))
	if err != nil {
		return notify.Email{}, time.Time{}, err
	}
	var m notify.Email
	to, err := msg.Header.AddressList("To")
	if err != nil {
		return m, time.Time{}, err
	}
	for _, a := range to {
		m.To = append(m.To, a.Address)
	}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return m, time.Time{}, err
	}
	m.ID = msg.Header.Get(IDHeader)
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		return m, time.Time{}, err
	}
	m.Text = strings.ReplaceAll(string(body), "\r\n", "\n")
	at, _ := msg.Header.Date()
	return m, at, nil
}

// fileName is the message file's name: a digest of the ID (so the same ID
// always lands on the same name), or random when there is no ID.
func fileName(id string) string {
	return "m-" + messageID(id) + ".eml"
}

func messageID(id string) string {
	if id == "" {
		b := make([]byte, 16)
		rand.Read(b)
		return "r" + hex.EncodeToString(b)
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// createFile writes data to path (mode 0600) atomically and only if path
// does not exist: a synced temporary file is hard-linked into place, which
// fails with fs.ErrExist if another writer got there first.
func createFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
