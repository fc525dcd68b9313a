package scrub_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/alto/alto/shared/scrub"
)

var key = []byte("0123456789abcdef0123456789abcdef")

// logger returns a logger whose JSON output, scrubbed, goes to the returned
// buffer.
func logger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(scrub.New(slog.NewJSONHandler(&buf, nil), key)), &buf
}

func parseLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var ms []map[string]any
	for line := range bytes.Lines(b) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("unmarshal %q: %v", line, err)
		}
		ms = append(ms, m)
	}
	return ms
}

func TestSlogtest(t *testing.T) {
	var buf bytes.Buffer
	h := scrub.New(slog.NewJSONHandler(&buf, nil), key)
	if err := slogtest.TestHandler(h, func() []map[string]any { return parseLines(t, buf.Bytes()) }); err != nil {
		t.Fatal(err)
	}
}

func TestSlogtestRun(t *testing.T) {
	var buf *bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf = new(bytes.Buffer)
		return scrub.New(slog.NewJSONHandler(buf, nil), key)
	}, func(t *testing.T) map[string]any {
		ms := parseLines(t, buf.Bytes())
		if len(ms) != 1 {
			t.Fatalf("got %d records, want 1", len(ms))
		}
		return ms[0]
	})
}

func digest(prefix, v string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(v))
	return prefix + hex.EncodeToString(m.Sum(nil)[:4])
}

// logged is what one test record should and should not produce.
type logged struct {
	name   string
	log    func(l *slog.Logger)
	absent []string // plaintext that must not appear
	want   []string // text that must appear
}

// run logs each case and checks its output.
func run(t *testing.T, cases []logged) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, buf := logger()
			tc.log(l)
			out := buf.String()
			if !json.Valid(bytes.TrimSpace(buf.Bytes())) {
				t.Fatalf("output is not one JSON record: %s", out)
			}
			for _, a := range tc.absent {
				if strings.Contains(strings.ToLower(out), strings.ToLower(a)) {
					t.Errorf("output contains %q: %s", a, out)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q: %s", w, out)
				}
			}
		})
	}
}

func TestENC06_Emails(t *testing.T) {
	d := digest("email:", "jane.doe+crm@example.co.uk")
	run(t, []logged{
		{"message", func(l *slog.Logger) { l.Info("sent to jane.doe+crm@example.co.uk.") },
			[]string{"jane", "example.co.uk"}, []string{`"sent to ` + d + `."`}},
		{"attribute, upper case digests like lower", func(l *slog.Logger) { l.Info("x", "to", "Jane.Doe+CRM@Example.CO.UK") },
			[]string{"jane", "example"}, []string{`"to":"` + d + `"`}},
		{"mailto and angle brackets", func(l *slog.Logger) {
			l.Info("x", "from", "Jane <jane.doe+crm@example.co.uk>", "link", "mailto:jane.doe+crm@example.co.uk")
		}, []string{"jane.doe", "example"}, []string{"<" + d + ">", "mailto:" + d}},
		{"unicode", func(l *slog.Logger) { l.Info("x", "to", "josé.müller@bücher.de") },
			[]string{"josé", "müller", "bücher"}, []string{digest("email:", "josé.müller@bücher.de")}},
		{"two in one string", func(l *slog.Logger) { l.Info("merge a@example.com into b@example.org") },
			[]string{"a@", "b@", "example"}, []string{digest("email:", "a@example.com"), digest("email:", "b@example.org")}},
	})
}

func TestENC06_Phones(t *testing.T) {
	var cases []logged
	for _, p := range []string{
		"+14155552671", "+1 415 555 2671", "+1-415-555-2671", "(415) 555-2671", "(415)555-2671",
		"415-555-2671", "415.555.2671", "555-2671", "+44 20 7946 0958", "+44 (0)20 7946 0958",
		"020 7946 0958", "06 12 34 56 78", "+33 6 12 34 56 78", "030 1234567",
	} {
		cases = append(cases, logged{"message " + p, func(l *slog.Logger) { l.Info("call " + p + " now") },
			[]string{p}, []string{`"call [phone] now"`}})
		cases = append(cases, logged{"attribute " + p, func(l *slog.Logger) { l.Info("x", "phone", p) },
			[]string{p}, []string{`"phone":"[phone]"`}})
	}
	cases = append(cases, logged{"after a date", func(l *slog.Logger) { l.Info("on 2024-03-01 call 415-555-2671") },
		[]string{"415-555-2671", "555-2671"}, []string{"[phone]"}})
	for _, k := range []string{"phone", "mobile", "phoneNumber", "contact_tel", "msisdn"} {
		cases = append(cases, logged{"national number under " + k, func(l *slog.Logger) { l.Info("x", k, "4155552671") },
			[]string{"4155552671"}, []string{`"` + k + `":"[phone]"`}})
	}
	cases = append(cases, logged{"tel URI", func(l *slog.Logger) { l.Info("x", "uri", "tel:+14155552671") },
		[]string{"4155552671"}, []string{"tel:[phone]"}})
	run(t, cases)
}

func TestENC06_Tokens(t *testing.T) {
	const jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJqYW5lIiwib3JnIjoiYWNtZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	const jwe = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXYtaXYtaXY.Y2lwaGVydGV4dA.dGFnLXRhZw"
	run(t, []logged{
		{"JWT in message", func(l *slog.Logger) { l.Info("token " + jwt + " rejected") },
			[]string{"eyJ", "c2lnbmF0dXJl"}, []string{`"token [token] rejected"`}},
		{"JWE in attribute", func(l *slog.Logger) { l.Info("x", "jwe", jwe) },
			[]string{"eyJ", "Y2lwaGVydGV4dA", "dGFnLXRhZw"}, []string{`"jwe":"[token]"`}},
		{"bearer JWT", func(l *slog.Logger) { l.Info("x", "header", "Bearer "+jwt) },
			[]string{"eyJ"}, []string{`"header":"Bearer [token]"`}},
		{"bearer opaque", func(l *slog.Logger) { l.Info("got bearer s3cr3t-0paque_tok.en~ from client") },
			[]string{"s3cr3t", "0paque"}, []string{"bearer [token] from client"}},
		{"basic credentials", func(l *slog.Logger) { l.Info("x", "h", "Basic amFuZTpodW50ZXIy") }, // jane:hunter2
			[]string{"amFuZTpodW50ZXIy"}, []string{`"h":"Basic [token]"`}},
		{"English is not a token", func(l *slog.Logger) { l.Info("the bearer token is missing; basic idea") },
			nil, []string{`"the bearer token is missing; basic idea"`}},
	})
}

func TestENC06_IPs(t *testing.T) {
	v4 := digest("ip:", "203.0.113.7")
	v6 := digest("ip:", "2001:db8::1")
	run(t, []logged{
		{"IPv4 in message", func(l *slog.Logger) { l.Info("login from 203.0.113.7:51234") },
			[]string{"203.0.113.7", "203.0"}, []string{`"login from ` + v4 + `:51234"`}},
		{"IPv4 attribute", func(l *slog.Logger) { l.Info("x", "client", "203.0.113.7") },
			[]string{"203.0.113.7"}, []string{`"client":"` + v4 + `"`}},
		{"IPv6 compressed", func(l *slog.Logger) { l.Info("x", "client", "2001:db8::1") },
			[]string{"2001:db8"}, []string{`"client":"` + v6 + `"`}},
		{"IPv6 long form digests like short", func(l *slog.Logger) { l.Info("x", "client", "2001:0DB8:0000:0000:0000:0000:0000:0001") },
			[]string{"2001:0db8", "0000:0001"}, []string{`"client":"` + v6 + `"`}},
		{"IPv6 in brackets with port", func(l *slog.Logger) { l.Info("dial [2001:db8::1]:443 failed") },
			[]string{"2001:db8"}, []string{`"dial [` + v6 + `]:443 failed"`}},
		{"IPv6 after a label", func(l *slog.Logger) { l.Info("addr:2001:db8::1: refused") },
			[]string{"2001:db8"}, []string{"addr:" + v6 + ": refused"}},
		{"IPv6 with zone", func(l *slog.Logger) { l.Info("x", "peer", "fe80::1ff:fe23:4567:890a%eth0") },
			[]string{"fe80", "890a"}, []string{`"peer":"` + digest("ip:", "fe80::1ff:fe23:4567:890a") + `"`}},
		{"IPv4-mapped IPv6 digests like IPv4", func(l *slog.Logger) { l.Info("x", "client", "::ffff:203.0.113.7") },
			[]string{"203.0.113.7"}, []string{`"client":"` + v4 + `"`}},
		{"IPv6 without digits", func(l *slog.Logger) { l.Info("x", "client", "fe::ab") },
			[]string{"fe::ab"}, []string{digest("ip:", "fe::ab")}},
		{"net.IP value", func(l *slog.Logger) { l.Info("x", "ip", net.ParseIP("203.0.113.7")) },
			[]string{"203.0.113.7"}, []string{v4}},
		{"netip.Addr value", func(l *slog.Logger) { l.Info("x", "ip", netip.MustParseAddr("2001:db8::1")) },
			[]string{"2001:db8"}, []string{v6}},
	})
}

type credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Phone    string `json:"phone"`
}

type emailAddr string

type lazyEmail struct{}

func (lazyEmail) LogValue() slog.Value { return slog.StringValue("lazy@example.com") }

func TestENC06_SecretKeys(t *testing.T) {
	var cases []logged
	for _, k := range []string{
		"password", "Password", "user_password", "passwd", "token", "access_token", "accessToken", "refreshToken",
		"id_token", "secret", "client_secret", "clientSecret", "authorization", "Authorization", "proxy-authorization",
		"cookie", "Cookie", "set-cookie", "Set-Cookie", "key", "api_key", "apiKey", "APIKey", "x-api-key",
		"X-API-Key", "apikey", "private_key", "secretKey", "session_id", "credentials",
	} {
		cases = append(cases, logged{k, func(l *slog.Logger) { l.Info("x", k, "hunter2-plain") },
			[]string{"hunter2"}, []string{`"` + k + `":"[redacted]"`}})
	}
	cases = append(cases,
		logged{"group value", func(l *slog.Logger) { l.Info("x", slog.Group("token", "raw", "hunter2-plain")) },
			[]string{"hunter2"}, []string{`"token":"[redacted]"`}},
		logged{"int value", func(l *slog.Logger) { l.Info("x", "pin_token", 123456) },
			[]string{"123456"}, []string{`"pin_token":"[redacted]"`}},
		logged{"ordinary keys kept", func(l *slog.Logger) {
			l.Info("x", "monkey", "banana", "keyboard", "qwerty", "tokenizer", "bpe", "author", "ann")
		}, nil, []string{`"monkey":"banana"`, `"keyboard":"qwerty"`, `"tokenizer":"bpe"`, `"author":"ann"`}},
	)
	run(t, cases)
}

func TestENC06_NestedAndIndirect(t *testing.T) {
	run(t, []logged{
		{"group", func(l *slog.Logger) {
			l.Info("x", slog.Group("req", slog.String("email", "a@example.com"), slog.Group("h", slog.String("authorization", "Bearer abcdefgh123"))))
		}, []string{"a@example.com", "abcdefgh123"}, []string{digest("email:", "a@example.com"), `"authorization":"[redacted]"`}},
		{"WithAttrs", func(l *slog.Logger) {
			l.With("user", "a@example.com", "cookie", "sid=1").Info("x")
		}, []string{"a@example.com", "sid=1"}, []string{digest("email:", "a@example.com"), `"cookie":"[redacted]"`}},
		{"WithGroup then attrs", func(l *slog.Logger) {
			l.WithGroup("ctx").With("ip", "203.0.113.7").Info("x", "phone", "+14155552671")
		}, []string{"203.0.113.7", "4155552671"}, []string{`"ctx":{"ip":"` + digest("ip:", "203.0.113.7") + `","phone":"[phone]"}`}},
		{"error", func(l *slog.Logger) {
			l.Error("x", "err", fmt.Errorf("lookup %s: %w", "a@example.com", errors.New("boom")))
		}, []string{"a@example.com"}, []string{`"err":"lookup ` + digest("email:", "a@example.com") + `: boom"`}},
		{"struct", func(l *slog.Logger) {
			l.Info("x", "creds", credentials{User: "a@example.com", Password: "hunter2", Phone: "+14155552671"})
		}, []string{"a@example.com", "hunter2", "4155552671"}, []string{`"password":"[redacted]"`, `"phone":"[phone]"`}},
		{"map", func(l *slog.Logger) {
			l.Info("x", "m", map[string]any{"a@example.com": 1, "list": []string{"203.0.113.7"}})
		}, []string{"a@example.com", "203.0.113.7"}, []string{digest("email:", "a@example.com"), digest("ip:", "203.0.113.7")}},
		{"named string type", func(l *slog.Logger) { l.Info("x", "to", emailAddr("a@example.com")) },
			[]string{"a@example.com"}, []string{digest("email:", "a@example.com")}},
		{"bytes", func(l *slog.Logger) { l.Info("x", "raw", []byte("to a@example.com")) },
			[]string{"a@example.com", "YUBleGFtcGxlLmNvbQ"}, []string{digest("email:", "a@example.com")}},
		{"LogValuer", func(l *slog.Logger) { l.Info("x", "lazy", lazyEmail{}) },
			[]string{"lazy@example.com"}, []string{digest("email:", "lazy@example.com")}},
		{"key holding an email", func(l *slog.Logger) { l.Info("x", "a@example.com", 1) },
			[]string{"a@example.com"}, []string{digest("email:", "a@example.com")}},
		{"group name holding an email", func(l *slog.Logger) { l.WithGroup("a@example.com").Info("x", "k", 1) },
			[]string{"a@example.com"}, []string{digest("email:", "a@example.com")}},
	})
}

// TestNotPersonal checks that what looks like a phone or an address but is
// not stays readable.
func TestNotPersonal(t *testing.T) {
	for _, s := range []string{
		"request 123e4567-e89b-12d3-a456-426614174000 done",
		"12345678-1234-1234-1234-123456789012",
		"at 2024-01-02T12:30:45.123Z",
		"at 2024-01-02 12:30:45+02:00",
		"on 02.01.2024 and 2024/01/02",
		"took 1.234567s at 12:30:45",
		"wrote 1048576 bytes in 12345 ms, status 200",
		"trace 4bf92f3577b34da6a3ce929d0e0e4736",
		"HTTP/1.1 200 OK",
		"go1.26.8 linux/amd64",
		"mac 00:1a:2b:3c:4d:5e",
		"ratio 3.14159265",
		"error: bad thing: retry",
		"the bearer token is missing",
		"plain words without anything",
		"/v1/contacts/{id}",
		"1 234 56",
	} {
		l, buf := logger()
		l.Info(s)
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] != s {
			t.Errorf("logged %q, got %q", s, m["msg"])
		}
	}
}

func TestLongStringsAreCut(t *testing.T) {
	l, buf := logger()
	l.Info(strings.Repeat("jane.doe@example.com ", 10000)) // 210,000 bytes
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	msg := m["msg"].(string)
	if strings.Contains(msg, "jane") || !strings.HasSuffix(msg, scrub.Truncated) || len(msg) > scrub.MaxScan {
		t.Fatalf("logged %d bytes ending %q, want at most %d bytes, no plaintext, ending %q",
			len(msg), msg[max(0, len(msg)-40):], scrub.MaxScan, scrub.Truncated)
	}
}

func TestDigestsDependOnKey(t *testing.T) {
	var a, b bytes.Buffer
	slog.New(scrub.New(slog.NewJSONHandler(&a, nil), key)).Info("a@example.com")
	slog.New(scrub.New(slog.NewJSONHandler(&b, nil), []byte("another key, also 32 bytes long!"))).Info("a@example.com")
	if bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("two keys gave the same digest: %s", a.Bytes())
	}
}

func TestNewPanicsOnShortKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New with a 15-byte key did not panic")
		}
	}()
	scrub.New(slog.DiscardHandler, make([]byte, 15))
}

// recorder keeps the last record it handled.
type recorder struct{ r slog.Record }

func (h *recorder) Enabled(context.Context, slog.Level) bool      { return true }
func (h *recorder) Handle(_ context.Context, r slog.Record) error { h.r = r; return nil }
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h *recorder) WithGroup(string) slog.Handler                 { return h }

func TestCleanRecordPassesWithoutAllocating(t *testing.T) {
	h := scrub.New(&recorder{}, key)
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request completed", 0)
	r.AddAttrs(slog.String("method", "GET"), slog.String("route", "/v1/contacts/{id}"),
		slog.Int("status", 200), slog.Duration("took", time.Millisecond), slog.Bool("cached", true))
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = h.Handle(ctx, r) }); n != 0 {
		t.Fatalf("Handle of a clean record allocates %v times, want 0", n)
	}
}

// The record of both benchmarks: a typical request log line, once clean and
// once with personal data.
func benchRecords() map[string]slog.Record {
	clean := slog.NewRecord(time.Now(), slog.LevelInfo, "request completed", 0)
	clean.AddAttrs(slog.String("method", "GET"), slog.String("route", "/v1/contacts/{id}"),
		slog.String("org", "acme"), slog.Int("status", 200), slog.Duration("took", 1234*time.Microsecond),
		slog.String("request_id", "req-abcdefabcdef"))
	pii := slog.NewRecord(time.Now(), slog.LevelInfo, "request completed for jane.doe@example.com", 0)
	pii.AddAttrs(slog.String("method", "POST"), slog.String("route", "/v1/contacts"),
		slog.String("org", "acme"), slog.Int("status", 201), slog.Duration("took", 1234*time.Microsecond),
		slog.String("client_ip", "203.0.113.7"), slog.String("phone", "+1 415 555 2671"),
		slog.String("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2ln"))
	return map[string]slog.Record{"clean": clean, "pii": pii}
}

func benchmark(b *testing.B, scrubbed bool) {
	for _, name := range []string{"clean", "pii"} {
		r := benchRecords()[name]
		b.Run(name, func(b *testing.B) {
			var h slog.Handler = slog.NewJSONHandler(io.Discard, nil)
			if scrubbed {
				h = scrub.New(h, key)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_ = h.Handle(ctx, r)
			}
		})
	}
}

// BenchmarkScrubbedLogBaseline is the JSON handler alone; BenchmarkScrubbedLog
// the same records through the scrubber. Their ratio is the scrubber's
// overhead.
func BenchmarkScrubbedLogBaseline(b *testing.B) { benchmark(b, false) }
func BenchmarkScrubbedLog(b *testing.B)         { benchmark(b, true) }
