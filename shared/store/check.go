package store

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckKey returns an error wrapping ErrInvalid if k breaks the port's key
// rules (both parts present, at most MaxKeyLen bytes, UTF-8, no NUL).
// Adapters call it before touching storage; errors name the part, never
// its value, since keys may hold personal data.
func CheckKey(k Key) error {
	if err := checkPart("pk", k.PK, true); err != nil {
		return err
	}
	return checkPart("sk", k.SK, true)
}

// CheckKeys checks every key of a batch like CheckKey; the error names the
// first malformed key by its index.
func CheckKeys(keys []Key) error {
	for i, k := range keys {
		if err := CheckKey(k); err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
	}
	return nil
}

// CheckItem checks it's keys, index and size like CheckKey.
func CheckItem(it Item) error {
	if err := CheckKey(Key{PK: it.PK, SK: it.SK}); err != nil {
		return err
	}
	if err := checkPart("index", it.Index, false); err != nil {
		return err
	}
	if len(it.Data) > MaxItemSize {
		return fmt.Errorf("data is %d bytes, want at most %d: %w", len(it.Data), MaxItemSize, ErrInvalid)
	}
	return nil
}

// CheckQuery checks q's partition or index, prefix and limit.
func CheckQuery(q Query) error {
	var err error
	if q.Index != "" {
		err = checkPart("index", q.Index, true)
	} else {
		err = checkPart("pk", q.PK, true)
	}
	if err == nil {
		err = checkPart("prefix", q.Prefix, false)
	}
	if err == nil && (q.Limit < 0 || q.Limit > MaxLimit) {
		err = fmt.Errorf("limit %d, want 0 to %d: %w", q.Limit, MaxLimit, ErrInvalid)
	}
	return err
}

func checkPart(name, s string, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("%s is empty: %w", name, ErrInvalid)
	case len(s) > MaxKeyLen:
		return fmt.Errorf("%s is %d bytes, want at most %d: %w", name, len(s), MaxKeyLen, ErrInvalid)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%s contains NUL: %w", name, ErrInvalid)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not UTF-8: %w", name, ErrInvalid)
	}
	return nil
}

// CheckPut checks it like CheckItem and that cond is a known condition.
func CheckPut(it Item, cond Cond) error {
	if cond < Always || cond > IfVersion {
		return fmt.Errorf("unknown condition %d: %w", cond, ErrInvalid)
	}
	return CheckItem(it)
}
