package core

import (
	"context"
	"errors"
)

// ErrNotFound is returned by a Store when no sandbox has the presented key
// (and by a StatusStore when no sandbox has the id). Any other error from a
// store is a backend failure and is answered 503, never 401.
var ErrNotFound = errors.New("sandboxauth: no such sandbox")

// Store resolves a session key to its sandbox. It is implemented by the user
// (their sandbox table, their runtime API) or by the stores this project ships.
//
// LookupSandbox must match the key exactly (no trimming, case-sensitive) and
// must see every user's sandboxes. It returns ErrNotFound (possibly wrapped)
// when no sandbox has the key. The returned record belongs to the caller. The
// context carries the request's cancellation and the validator's timeout.
type Store interface {
	LookupSandbox(ctx context.Context, key string) (*SandboxInfo, error)
}

// StatusStore is optionally implemented by a Store that can read a sandbox's
// status by id more cheaply than a full lookup. The cache uses it to recheck
// stale entries. It returns ErrNotFound when the sandbox no longer exists.
type StatusStore interface {
	SandboxStatus(ctx context.Context, sandboxID string) (Status, error)
}

// MemoryStore is optionally implemented by a Store that can answer some
// lookups from memory without I/O (package cache does). The validator asks it
// first and, when ok is true, skips the per-lookup timeout and the call to
// LookupSandbox. The returned record is shared: callers must not modify or
// retain it; the validator copies it into the request context.
type MemoryStore interface {
	PeekSandbox(key string) (info *SandboxInfo, ok bool)
}

// StoreFunc adapts a plain function to a Store.
type StoreFunc func(ctx context.Context, key string) (*SandboxInfo, error)

// LookupSandbox calls f(ctx, key).
func (f StoreFunc) LookupSandbox(ctx context.Context, key string) (*SandboxInfo, error) {
	return f(ctx, key)
}
