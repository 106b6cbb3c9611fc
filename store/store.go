package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sandboxauth/sandboxauth/core"
)

// Backend is everything a sandboxauth server needs from its database: the
// lookups of core.Store and core.StatusStore that the validator and the cache
// use, and the administrative writes, key lifecycle included
// (docs/design.md §11). *SQL implements it, and package storetest checks any
// implementation against the same suite. Every write is atomic: a concurrent
// lookup sees the sandbox either before or after it, never in between.
type Backend interface {
	core.Store
	core.StatusStore

	// CreateSandbox stores a new sandbox with a random id and a fresh random
	// session key and returns both. The key is shown this once: only its
	// SHA-256 digest is stored.
	CreateSandbox(ctx context.Context, s NewSandbox) (info core.SandboxInfo, key string, err error)
	// SetStatus changes a sandbox's status (and clears its status detail),
	// as reported by the sandbox runtime: it never touches the key, so a
	// sandbox set RUNNING again answers to the same key.
	// It returns core.ErrNotFound when there is no such sandbox.
	SetStatus(ctx context.Context, sandboxID string, status core.Status) error
	// DeleteSandbox removes a sandbox, so that its key stops resolving.
	// It returns core.ErrNotFound when there is no such sandbox.
	DeleteSandbox(ctx context.Context, sandboxID string) error
	// PauseSandbox sets a sandbox PAUSED and revokes its key in one atomic
	// step: from then on a lookup of the key is core.ErrNotFound, also after
	// the sandbox is resumed (which issues a new key). Pausing a paused
	// sandbox is not an error. It returns core.ErrNotFound when there is no
	// such sandbox.
	PauseSandbox(ctx context.Context, sandboxID string) error
	// ResumeSandbox sets a sandbox that is not RUNNING to RUNNING with a
	// fresh key, which it returns (shown this once), revoking every older key
	// in the same atomic step. It returns core.ErrAlreadyRunning when the
	// sandbox is RUNNING (nothing is changed) and core.ErrNotFound when there
	// is no such sandbox.
	ResumeSandbox(ctx context.Context, sandboxID string) (key string, err error)
	// RotateKey replaces a sandbox's key with a fresh one and returns it; in
	// the same atomic step every older key stops resolving. The status is
	// unchanged. It returns core.ErrNotFound when there is no such sandbox.
	RotateKey(ctx context.Context, sandboxID string) (key string, err error)
}

// NewSandbox describes a sandbox to create.
type NewSandbox struct {
	Owner        string      // the creating user's id; "" = no owner
	SpecID       string      // the sandbox spec (image/template) id; optional
	Status       core.Status // initial status; "" means core.StatusRunning
	StatusDetail string      // optional human-readable detail of the status
}

// ErrInvalidInput is wrapped by every error that rejects an argument (an empty
// id or name, an unknown status, an oversized or non-UTF-8 value). Such calls
// write nothing. A server answers them 400.
var ErrInvalidInput = errors.New("sandboxauth/store: invalid input")

// Input bounds. They keep every value storable in both databases (and a
// sandbox id small enough for a NOTIFY payload).
const (
	MaxIDLen          = 128     // sandbox ids and owners, in bytes
	MaxNameLen        = 255     // spec ids, in bytes
	MaxDescriptionLen = 4 << 10 // status details, in bytes
	idBytes           = 16      // random bytes in a generated sandbox id
	timePrecision     = time.Microsecond
)

// newKey returns a fresh session key (core.NewKey) and its SHA-256 hex
// digest, the only form a store keeps.
func newKey() (key, digest string, err error) {
	if key, err = core.NewKey(); err != nil {
		return "", "", err
	}
	return key, core.DigestHex(key), nil
}

// newID returns a fresh random sandbox id (32 lowercase hex digits).
func newID() (string, error) {
	var b [idBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sandboxauth/store: generate id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// now is the creation time as both databases keep it: UTC, microseconds.
func now() time.Time { return time.Now().UTC().Truncate(timePrecision) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, args...)...)
}

// checkText validates a text argument: at most max bytes, valid UTF-8, no NUL
// (PostgreSQL text cannot hold one) and, when strict, no control characters
// at all (identifiers end up in URLs and log lines).
func checkText(what, s string, required bool, max int, strict bool) error {
	switch {
	case s == "" && required:
		return invalid("empty %s", what)
	case len(s) > max:
		return invalid("%s longer than %d bytes", what, max)
	case !utf8.ValidString(s):
		return invalid("%s is not valid UTF-8", what)
	case strings.IndexByte(s, 0) >= 0:
		return invalid("%s contains a NUL byte", what)
	}
	if strict {
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				return invalid("%s contains a control character", what)
			}
		}
	}
	return nil
}

func checkSandboxID(id string) error { return checkText("sandbox id", id, true, MaxIDLen, true) }

func checkStatus(s core.Status) error {
	if !s.Valid() {
		return invalid("unknown sandbox status %q", truncate(string(s), 32))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// normalize validates a NewSandbox and fills in its default status.
func (n NewSandbox) normalize() (NewSandbox, error) {
	if n.Status == "" {
		n.Status = core.StatusRunning
	}
	if err := checkStatus(n.Status); err != nil {
		return n, err
	}
	if err := checkText("owner", n.Owner, false, MaxIDLen, true); err != nil {
		return n, err
	}
	if err := checkText("spec id", n.SpecID, false, MaxNameLen, true); err != nil {
		return n, err
	}
	if err := checkText("status detail", n.StatusDetail, false, MaxDescriptionLen, false); err != nil {
		return n, err
	}
	return n, nil
}

// newSandbox validates n and makes the record, key and key digest of a new
// sandbox: what every Backend's CreateSandbox stores.
func newSandbox(n NewSandbox) (info core.SandboxInfo, key, digest string, err error) {
	if n, err = n.normalize(); err != nil {
		return info, "", "", err
	}
	id, err := newID()
	if err != nil {
		return info, "", "", err
	}
	if key, digest, err = newKey(); err != nil {
		return info, "", "", err
	}
	return core.SandboxInfo{
		ID:              id,
		CreatedByUserID: n.Owner,
		SandboxSpecID:   n.SpecID,
		Status:          n.Status,
		StatusDetail:    n.StatusDetail,
		CreatedAt:       now(),
	}, key, digest, nil
}
