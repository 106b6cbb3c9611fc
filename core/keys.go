package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// Fingerprint returns the first 8 hex digits of the key's SHA-256: enough to
// correlate log lines, far too little to recover or replay the key. It is the
// most of a key that this project ever logs.
func Fingerprint(key string) string {
	sum := Digest(key)
	return hex.EncodeToString(sum[:4])
}

// Digest returns the full SHA-256 of key, the form in which stores and caches
// keep keys. It runs on every lookup, so it hashes the key in place: a
// string-to-[]byte conversion would copy it (and allocate, for keys over 32
// bytes). Viewing the string's bytes is safe because sha256.Sum256 only reads
// its argument and retains nothing, so the immutable string is never written.
func Digest(key string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(key), len(key)))
}

// keyBytes is the number of random bytes in a key made by NewKey.
const keyBytes = 32

// NewKey returns a fresh session key: 32 bytes from crypto/rand in
// base64.RawURLEncoding (43 characters, no padding, safe in a header). The
// stores this project ships make every key with it.
func NewKey() (string, error) {
	b := make([]byte, keyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("sandboxauth: generating a session key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// DigestHex is Digest in lowercase hex, as the SQL store keeps it.
func DigestHex(key string) string {
	sum := Digest(key)
	return hex.EncodeToString(sum[:])
}

// Redact replaces every occurrence of key in s with "[REDACTED]": the key
// as is, as Go quotes it (%q, strconv.Quote), and URL-escaped (query and
// path). Store errors and panic values pass through it before they are
// logged or wrapped, in case a store echoed the key it was given.
func Redact(s, key string) string {
	if key == "" {
		return s
	}
	quoted := strconv.Quote(key)
	forms := []string{key, quoted[1 : len(quoted)-1], url.QueryEscape(key), url.PathEscape(key)}
	// Longest first, so that replacing one form cannot break up a longer
	// form that contains it and leave its pieces behind.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, form := range forms {
		s = strings.ReplaceAll(s, form, "[REDACTED]")
	}
	return s
}

// redactedError stands in for a store error: its message is the store's,
// redacted once at construction, and it does not keep the original error,
// whose fields (a *url.Error's URL, a driver's query arguments) may hold the
// key where no redaction reaches and any error reporter that walks the chain
// would find it. Only the context's verdict (and LimitLookups' ErrBusy) survives, so that
// errors.Is(err, context.DeadlineExceeded) still tells a timeout apart.
type redactedError struct {
	msg   string
	cause error // context.DeadlineExceeded, context.Canceled, ErrBusy or nil
}

func redactError(err error, key string) error {
	e := &redactedError{msg: Redact(err.Error(), key)}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.cause = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		e.cause = context.Canceled
	case errors.Is(err, ErrBusy):
		e.cause = ErrBusy
	}
	return e
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }
