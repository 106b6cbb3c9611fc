package core

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Fingerprint returns the first 8 hex digits of the key's SHA-256: enough to
// correlate log lines, far too little to recover or replay the key. It is the
// most of a key that this project ever logs.
func Fingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:4])
}

// Digest returns the full SHA-256 of key, the form in which stores and caches
// keep keys.
func Digest(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

// DigestHex is Digest in lowercase hex, as the SQL store keeps it.
func DigestHex(key string) string {
	sum := Digest(key)
	return hex.EncodeToString(sum[:])
}

// Redact replaces every occurrence of key in s with "[REDACTED]". Store
// errors and panic values pass through it before they are logged or wrapped,
// in case a store echoed the key it was given.
func Redact(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[REDACTED]")
}

// redactedError wraps a store error so that its message never carries the
// key, while errors.Is and errors.As still reach the original.
// The message is redacted once, at construction; the key itself is not kept.
type redactedError struct {
	err error
	msg string
}

func redactError(err error, key string) error {
	return &redactedError{err: err, msg: Redact(err.Error(), key)}
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
