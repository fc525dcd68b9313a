// Package scrub removes personal data from logs (SPEC ENC-06): a slog.Handler
// that rewrites every record's message and attribute values before passing
// the record on.
//
// What it rewrites, anywhere in a string:
//
//   - an email address becomes "email:" and the first 8 hex digits of
//     HMAC-SHA256(key, lower-cased address), so one person's lines can be
//     correlated without the address;
//   - an IPv4 or IPv6 address becomes "ip:" and 8 hex digits of the same
//     HMAC over its canonical form;
//   - a phone number (E.164, or a formatted number of 7 to 15 digits)
//     becomes "[phone]";
//   - a JWT (three or five base64url segments starting with "eyJ"), and the
//     credential after "Bearer " or "Basic ", becomes "[token]".
//
// An attribute whose key names a secret (password, token, secret,
// authorization, cookie, key and their usual spellings: apiKey,
// access_token, Set-Cookie…) has its value replaced by "[redacted]".
// Groups, WithAttrs attributes and LogValuer results are scrubbed the same
// way; values of other kinds (structs, maps, custom string types) are
// scrubbed through their JSON form.
//
// A string of 7 or more digits under a key that names a phone (phone,
// mobile, tel, msisdn, fax…) becomes "[phone]" even without separators.
// Numbers logged as numbers (slog.Int) are left alone: log a phone number as
// a string, if at all. Dates, times and UUIDs are recognized so that they are
// not taken for phone numbers.
package scrub

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Replacements for what cannot be correlated.
const (
	Redacted  = "[redacted]"
	Phone     = "[phone]"
	Token     = "[token]"
	Truncated = "…[truncated]"
)

// MaxScan bounds the work of scrubbing one string: a string that needs
// scrubbing and is longer is cut to MaxScan bytes or a little less (at a
// space when one is near), and ends with Truncated.
const MaxScan = 32 << 10

// New returns a handler that scrubs every record and passes it to next.
// key is the HMAC key for email and IP digests: at least 16 random bytes,
// distinct from any blind-index key so log digests cannot be joined with
// stored ones. New panics if key is shorter. The handler may be used
// concurrently if next may.
func New(next slog.Handler, key []byte) slog.Handler {
	if len(key) < 16 {
		panic(fmt.Sprintf("scrub: key is %d bytes, want at least 16", len(key)))
	}
	key = slices.Clone(key)
	return &handler{next: next, s: &scrubber{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}}
}

type handler struct {
	next slog.Handler
	s    *scrubber
}

// Enabled reports whether next handles records at level.
func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle scrubs r and passes it to next. A record with nothing to scrub is
// passed as is, without allocating.
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	msg, changed := h.s.text(r.Message)
	var attrs []slog.Attr // nil until an attribute changes
	i := 0
	r.Attrs(func(a slog.Attr) bool {
		sa, ch := h.s.attr(a)
		if ch && attrs == nil {
			attrs = make([]slog.Attr, 0, r.NumAttrs())
			j := 0
			r.Attrs(func(b slog.Attr) bool {
				if j == i {
					return false
				}
				attrs = append(attrs, b)
				j++
				return true
			})
		}
		if attrs != nil {
			attrs = append(attrs, sa)
		}
		i++
		return true
	})
	if !changed && attrs == nil {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	if attrs != nil {
		out.AddAttrs(attrs...)
	} else {
		r.Attrs(func(a slog.Attr) bool {
			out.AddAttrs(a)
			return true
		})
	}
	return h.next.Handle(ctx, out)
}

// WithAttrs scrubs attrs and returns a handler whose next has them.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	scrubbed := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		scrubbed[i], _ = h.s.attr(a)
	}
	return &handler{next: h.next.WithAttrs(scrubbed), s: h.s}
}

// WithGroup returns a handler whose next qualifies later attributes with
// name (scrubbed).
func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	name, _ = h.s.text(name)
	return &handler{next: h.next.WithGroup(name), s: h.s}
}

// scrubber holds the HMAC key, as a pool of keyed hashes.
type scrubber struct {
	macs sync.Pool
}

// digest returns prefix and the first 8 hex digits of the HMAC of v.
func (s *scrubber) digest(prefix, v string) string {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(v))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	s.macs.Put(m)
	var out [4]byte
	return prefix + hex.EncodeToString(append(out[:0], sum[:4]...))
}

// attr returns a scrubbed, resolved, a, and whether it differs from a.
func (s *scrubber) attr(a slog.Attr) (slog.Attr, bool) {
	changed := false
	if a.Value.Kind() == slog.KindLogValuer {
		a.Value = a.Value.Resolve()
		changed = true // pass on the resolved value, not a second LogValue call
	}
	if key, ch := s.text(a.Key); ch {
		a.Key, changed = key, true
	}
	if secretKey(a.Key) {
		if a.Value.Kind() == slog.KindString && a.Value.String() == Redacted {
			return a, changed
		}
		a.Value = slog.StringValue(Redacted)
		return a, true
	}
	// A national number without separators ("4155552671") is a phone
	// number only by its key.
	if a.Value.Kind() == slog.KindString && scan(a.Value.String()).digits >= 7 && phoneKey(a.Key) {
		a.Value = slog.StringValue(Phone)
		return a, true
	}
	v, ch := s.value(a.Value)
	if ch {
		a.Value = v
	}
	return a, changed || ch
}

// value returns a scrubbed v and whether it differs from v.
func (s *scrubber) value(v slog.Value) (slog.Value, bool) {
	switch v.Kind() {
	case slog.KindString:
		if t, ch := s.text(v.String()); ch {
			return slog.StringValue(t), true
		}
	case slog.KindGroup:
		group := v.Group()
		var out []slog.Attr
		for i, a := range group {
			sa, ch := s.attr(a)
			if ch && out == nil {
				out = make([]slog.Attr, len(group))
				copy(out, group[:i])
			}
			if out != nil {
				out[i] = sa
			}
		}
		if out != nil {
			return slog.GroupValue(out...), true
		}
	case slog.KindAny:
		return s.anyValue(v.Any())
	case slog.KindLogValuer:
		r, _ := s.value(v.Resolve())
		return r, true
	}
	return v, false
}

// anyValue scrubs a value of kind Any: an error or byte slice as its text,
// anything else through its JSON form (what a JSON handler would print).
func (s *scrubber) anyValue(x any) (slog.Value, bool) {
	switch x := x.(type) {
	case nil:
		return slog.AnyValue(nil), false
	case error:
		if t, ch := s.text(x.Error()); ch {
			return slog.StringValue(t), true
		}
		return slog.AnyValue(x), false
	case []byte:
		if t, ch := s.text(string(x)); ch {
			return slog.StringValue(t), true
		}
		return slog.AnyValue(x), false
	}
	b, err := json.Marshal(x)
	if err != nil {
		t, _ := s.text(fmt.Sprintf("%+v", x))
		return slog.StringValue(t), true
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		t, _ := s.text(string(b))
		return slog.StringValue(t), true
	}
	if out, ch := s.jsonValue(generic); ch {
		return slog.AnyValue(out), true
	}
	return slog.AnyValue(x), false
}

// jsonValue scrubs a decoded JSON value: strings, object keys, and the
// values of secret keys.
func (s *scrubber) jsonValue(v any) (any, bool) {
	switch v := v.(type) {
	case string:
		return s.text(v)
	case []any:
		changed := false
		for i, e := range v {
			if se, ch := s.jsonValue(e); ch {
				v[i], changed = se, true
			}
		}
		return v, changed
	case map[string]any:
		changed := false
		out := make(map[string]any, len(v))
		for k, e := range v {
			sk, ch := s.text(k)
			changed = changed || ch
			if secretKey(sk) {
				out[sk], changed = Redacted, true
				continue
			}
			se, ch := s.jsonValue(e)
			out[sk], changed = se, changed || ch
		}
		return out, changed
	}
	return v, false
}

// Detectors. Each finds candidates; check (if not nil) validates one and
// says what replaces which part of it.
var (
	jwtRE    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2,4}`)
	bearerRE = regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9._~+/=-]+)`)
	basicRE  = regexp.MustCompile(`(?i)\bbasic\s+([A-Za-z0-9+/]+={0,2})`)
	emailRE  = regexp.MustCompile(`[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}`)
	// A bounded window, with two colons, in which digestIPv6 looks for an
	// address (at most 45 bytes and a zone): bounded so that scanning stays
	// linear.
	ipv6RE = regexp.MustCompile(`[0-9A-Fa-f.]{0,40}:[0-9A-Fa-f.]{0,40}:[0-9A-Fa-f:.]{0,48}(?:%[0-9A-Za-z_.-]{1,32})?`)
	ipv4RE = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)
	// Not personal data, but shaped like phone numbers: kept as they are.
	uuidRE = regexp.MustCompile(`\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b`)
	dateRE = regexp.MustCompile(`\b(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?`)
	// E.164, or groups of digits with separators (a last group of 6 to 8
	// digits only after a space or hyphen, as in "030 1234567", so that a
	// decimal such as "3.14159265" is not a phone number).
	phoneRE = regexp.MustCompile(`\+\d{7,15}\b|(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\b\d{1,5}(?:[ .-]\d{1,5}){0,5}(?:[ -]\d{6,8})?\b`)
)

type detector struct {
	re *regexp.Regexp
	// hint reports whether a string with these features may hold a match.
	hint func(f features) bool
	// wordStart refuses a match that starts in the middle of a word.
	wordStart bool
	// exhaustive says check searched the whole match, so after a refusal
	// the search goes on from the last 64 bytes of the match (an address
	// may straddle the end of it) rather than from its next character.
	exhaustive bool
	// check returns the part of the match m (submatch indexes into s) to
	// replace and its replacement, or ok false to refuse the match. A
	// replacement of "" keeps the text and protects it from later
	// detectors.
	check func(s *scrubber, text string, m []int) (start, end int, repl string, ok bool)
}

var detectors = []detector{
	{re: jwtRE, hint: func(f features) bool { return f.jwt }, check: whole(Token)},
	{re: bearerRE, hint: func(f features) bool { return f.bearer }, wordStart: true, check: checkBearer},
	{re: basicRE, hint: func(f features) bool { return f.basic }, wordStart: true, check: checkBasic},
	{re: emailRE, hint: func(f features) bool { return f.at }, check: digestEmail},
	{re: ipv6RE, hint: func(f features) bool { return f.colons >= 2 }, exhaustive: true, check: digestIPv6},
	{re: ipv4RE, hint: func(f features) bool { return f.digits >= 4 && f.dots >= 3 }, wordStart: true, check: digestIPv4},
	// UUIDs and dates matter only where a phone number may be.
	{re: uuidRE, hint: func(f features) bool { return f.digits >= 7 && f.hyphens >= 4 }, wordStart: true, check: whole("")},
	{re: dateRE, hint: mayBePhone, wordStart: true, check: keepDate},
	{re: phoneRE, hint: mayBePhone, wordStart: true, check: checkPhone},
}

func whole(repl string) func(*scrubber, string, []int) (int, int, string, bool) {
	return func(_ *scrubber, _ string, m []int) (int, int, string, bool) { return m[0], m[1], repl, true }
}

func checkBearer(_ *scrubber, text string, m []int) (int, int, string, bool) {
	tok := text[m[2]:m[3]]
	// "bearer token" is English; a credential is long or not all letters.
	if len(tok) < 8 && strings.IndexFunc(tok, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }) < 0 {
		return 0, 0, "", false
	}
	return m[2], m[3], Token, true
}

func checkBasic(_ *scrubber, text string, m []int) (int, int, string, bool) {
	// Basic credentials are base64 of "user:password"; "basic idea" is not.
	dec, err := base64.StdEncoding.DecodeString(text[m[2]:m[3]])
	if err != nil || !strings.Contains(string(dec), ":") {
		return 0, 0, "", false
	}
	return m[2], m[3], Token, true
}

func digestEmail(s *scrubber, text string, m []int) (int, int, string, bool) {
	return m[0], m[1], s.digest("email:", strings.ToLower(text[m[0]:m[1]])), true
}

func digestIPv4(s *scrubber, text string, m []int) (int, int, string, bool) {
	addr, err := netip.ParseAddr(text[m[0]:m[1]])
	if err != nil {
		return 0, 0, "", false
	}
	return m[0], m[1], s.digest("ip:", addr.String()), true
}

// digestIPv6 finds the leftmost, longest IPv6 address in a run of hex
// digits, colons and dots: the run may carry neighbours ("addr:2001:db8::1:"
// has a stray colon on each side) or be no address at all ("12:30:45").
func digestIPv6(s *scrubber, text string, m []int) (int, int, string, bool) {
	run := text[m[0]:m[1]]
	// An address starts at the run's start, after a separator, or at a
	// "::"; it ends at the run's end, before a separator, or after a "::".
	isStart := func(i int) bool {
		return i == 0 || run[i-1] == ':' || run[i-1] == '.' || strings.HasPrefix(run[i:], "::")
	}
	for st := 0; st+2 <= len(run); st++ {
		if !isStart(st) {
			continue
		}
		// The longest address text is 45 bytes, plus a zone.
		for en := min(len(run), st+64); en >= st+2; en-- {
			if en < len(run) && run[en] != ':' && run[en] != '.' && !strings.HasSuffix(run[:en], "::") {
				continue
			}
			// Only "::" or seven colons (six before a dotted IPv4) can
			// make an address: skip the parse of anything else.
			c := run[st:en]
			if colons := strings.Count(c, ":"); !strings.Contains(c, "::") && colons != 7 && colons != 6 {
				continue
			}
			addr, err := netip.ParseAddr(c)
			if err != nil || !addr.Is6() {
				continue
			}
			canon := addr.WithZone("").Unmap().String()
			return m[0] + st, m[0] + en, s.digest("ip:", canon), true
		}
	}
	return 0, 0, "", false
}

// keepDate protects a date (and time) unless it continues as a longer run
// of digit groups, which is more likely a phone number ("12-34-5678-90").
func keepDate(_ *scrubber, text string, m []int) (int, int, string, bool) {
	if rest := text[m[1]:]; len(rest) >= 2 && strings.IndexByte(" .-", rest[0]) >= 0 && isDigit(rest[1]) {
		return 0, 0, "", false
	}
	return m[0], m[1], "", true
}

func checkPhone(_ *scrubber, text string, m []int) (int, int, string, bool) {
	digits := 0
	for i := m[0]; i < m[1]; i++ {
		if isDigit(text[i]) {
			digits++
		}
	}
	if digits < 7 || digits > 15 {
		return 0, 0, "", false
	}
	return m[0], m[1], Phone, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isWord(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// features are what a single pass over a string finds: enough to skip the
// detectors that cannot match.
type features struct {
	digits, dots, hyphens, colons int
	at, jwt, bearer, basic        bool
}

func (f features) any() bool {
	return f.at || f.jwt || f.bearer || f.basic || f.colons >= 2 || mayBePhone(f)
}

func mayBePhone(f features) bool { return f.digits >= 7 }

// notable marks the bytes scan looks at; it skips all others.
var notable = func() (t [256]bool) {
	for _, c := range []byte("0123456789.-:@eBb") {
		t[c] = true
	}
	return t
}()

// scan returns the features of s, without allocating.
func scan(s string) features {
	var f features
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !notable[c] {
			continue
		}
		switch {
		case isDigit(c):
			f.digits++
		case c == '.':
			f.dots++
		case c == '-':
			f.hyphens++
		case c == ':':
			f.colons++
		case c == '@':
			f.at = true
		case c == 'e':
			f.jwt = f.jwt || strings.HasPrefix(s[i:], "eyJ")
		default: // 'b' or 'B'
			f.basic = f.basic || len(s)-i >= 5 && strings.EqualFold(s[i:i+5], "basic")
			f.bearer = f.bearer || len(s)-i >= 6 && strings.EqualFold(s[i:i+6], "bearer")
		}
	}
	return f
}

type span struct {
	start, end int
	repl       string // "" keeps the text
}

// text returns s scrubbed and whether it changed.
func (s *scrubber) text(str string) (string, bool) {
	// The fast path: most strings hold nothing any detector could match.
	f := scan(str)
	if !f.any() {
		return str, false
	}
	truncated := false
	if len(str) > MaxScan {
		str, truncated = cut(str), true
	}
	var buf [8]span
	spans := buf[:0] // sorted by start, not overlapping
	for _, d := range detectors {
		if !d.hint(f) {
			continue
		}
		// The spans of earlier detectors are prior[:n]; j skips those that
		// end before pos, which only grows, so overlap checks stay short.
		prior, n, j := spans, len(spans), 0
		for pos := 0; pos < len(str); {
			m := d.re.FindStringSubmatchIndex(str[pos:])
			if m == nil {
				break
			}
			for i := range m {
				if m[i] >= 0 {
					m[i] += pos
				}
			}
			// On a refusal, look again from the next character: a refused
			// candidate may hide a good one that starts inside it.
			next := m[0] + 1
			if _, size := utf8.DecodeRuneInString(str[m[0]:]); size > 1 {
				next = m[0] + size
			}
			if m[1] == m[0] {
				pos = next
				continue
			}
			if d.wordStart && m[0] > 0 && isWord(str[m[0]]) && isWord(str[m[0]-1]) {
				pos = next
				continue
			}
			for j < n && prior[j].end <= pos {
				j++
			}
			start, end, repl, ok := d.check(s, str, m)
			if !ok || overlaps(prior[j:n], start, end) {
				if d.exhaustive && m[1]-64 > next {
					next = m[1] - 64
				}
				pos = next
				continue
			}
			// After the earlier detectors' spans; sorted below.
			spans = append(spans, span{start, end, repl})
			prior = spans
			pos = end
		}
		if len(spans) > n {
			slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
		}
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		if sp.repl == "" {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(str))
		}
		b.WriteString(str[last:sp.start])
		b.WriteString(sp.repl)
		last = sp.end
	}
	if last == 0 && !truncated {
		return str, false
	}
	b.WriteString(str[last:])
	if truncated {
		b.WriteString(Truncated)
	}
	return b.String(), true
}

// cut returns the first MaxScan bytes of s, less the word the cut falls in
// (which could be the start of an address or number the detectors would no
// longer recognize).
func cut(s string) string {
	s = s[:MaxScan]
	for i := len(s) - 1; i >= MaxScan-256; i-- {
		if c := s[i]; c == ' ' || c == '\n' || c == '\t' {
			return s[:i+1]
		}
	}
	return s[:MaxScan-256]
}

// overlaps reports whether [start, end) overlaps one of spans, which are
// sorted by start and do not overlap.
func overlaps(spans []span, start, end int) bool {
	for _, sp := range spans {
		if sp.start >= end {
			return false
		}
		if start < sp.end {
			return true
		}
	}
	return false
}

// Words that make an attribute key secret, alone or as a part of a key
// split at separators and case changes ("apiKey", "X-Api-Key",
// "client_secret"), or as the end of a word ("accesstoken"); and whole keys,
// separators removed, that are secret compounds ("session_id").
var secretSuffixes = []string{"token", "tokens", "secret", "password", "passwd", "cookie"}

func isSecretWord(lw string) bool {
	switch lw {
	case "password", "passwords", "passwd", "pwd", "passphrase",
		"token", "tokens", "secret", "secrets",
		"authorization", "cookie", "cookies", "key", "keys",
		"credential", "credentials":
		return true
	}
	return false
}

func isSecretCompound(lw string) bool {
	switch lw {
	case "apikey", "privatekey", "secretkey", "accesskey", "signingkey",
		"sessionkey", "masterkey", "encryptionkey", "sessionid", "xapikey":
		return true
	}
	return false
}

func isPhoneWord(lw string) bool {
	switch lw {
	case "phone", "phones", "phonenumber", "mobile", "cell", "cellphone", "tel", "telephone", "msisdn", "fax":
		return true
	}
	return false
}

// lower returns the ASCII lower case of w in buf, or false if w does not
// fit (no word of interest is that long).
func lower(w string, buf *[32]byte) ([]byte, bool) {
	if len(w) > len(buf) {
		return nil, false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if isUpper(c) {
			c |= 0x20
		}
		buf[i] = c
	}
	return buf[:len(w)], true
}

// secretKey reports whether an attribute key names a secret. It does not
// allocate.
func secretKey(key string) bool {
	if key == "" {
		return false
	}
	var flat [32]byte
	n := 0
	for i := 0; i < len(key) && n <= len(flat); i++ {
		if c := key[i]; isWord(c) && c != '_' {
			if n == len(flat) {
				n++ // too long to be a compound
				break
			}
			if isUpper(c) {
				c |= 0x20
			}
			flat[n] = c
			n++
		}
	}
	if n <= len(flat) && isSecretCompound(string(flat[:n])) {
		return true
	}
	return anyWord(key, secretWord)
}

func secretWord(w string) bool {
	var buf [32]byte
	lw, ok := lower(w, &buf)
	if !ok {
		return false
	}
	if isSecretWord(string(lw)) {
		return true
	}
	for _, s := range secretSuffixes {
		if len(lw) > len(s) && string(lw[len(lw)-len(s):]) == s {
			return true
		}
	}
	return false
}

// phoneKey reports whether an attribute key names a phone number.
func phoneKey(key string) bool {
	return anyWord(key, func(w string) bool {
		var buf [32]byte
		lw, ok := lower(w, &buf)
		return ok && isPhoneWord(string(lw))
	})
}

// anyWord reports whether match holds for a word of key, split at
// non-alphanumerics, at a lower-to-upper change ("apiKey") and before the
// last capital of a run ("APIKey").
func anyWord(key string, match func(string) bool) bool {
	start := 0
	for i := 0; i <= len(key); i++ {
		boundary := i == len(key) || !isWord(key[i]) || key[i] == '_'
		if !boundary && i > start && isUpper(key[i]) &&
			(isLower(key[i-1]) || isDigit(key[i-1]) || i+1 < len(key) && isUpper(key[i-1]) && isLower(key[i+1])) {
			if match(key[start:i]) {
				return true
			}
			start = i
			continue
		}
		if boundary {
			if i > start && match(key[start:i]) {
				return true
			}
			start = i + 1
		}
	}
	return false
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
