package core

import (
	"context"
	"errors"
	"time"

	"github.com/sandboxauth/sandboxauth/internal/lookupctx"
)

// ErrNotFound is returned by a Store when no sandbox has the presented key
// (and by a StatusStore when no sandbox has the id). Any other error from a
// store is a backend failure and is answered 503, never 401.
var ErrNotFound = errors.New("sandboxauth: no such sandbox")

// ErrAlreadyRunning is returned when resuming a sandbox that is RUNNING:
// resuming issues a new key, which a running sandbox does not ask for.
var ErrAlreadyRunning = errors.New("sandboxauth: sandbox is already running")

// Store resolves a session key to its sandbox. It is the one thing a user
// must provide: their sandbox table, their runtime API, or one of the stores
// this project ships (MemoryStore; the SQL backend of module store).
//
// LookupSandbox must match the key exactly (no trimming, case-sensitive) and
// must see every user's sandboxes. It returns ErrNotFound (possibly wrapped)
// when no sandbox has the key. The returned record belongs to the caller. The
// context carries the request's cancellation and the validator's timeout.
type Store interface {
	LookupSandbox(ctx context.Context, key string) (*SandboxInfo, error)
}

// StoreFunc adapts a plain function to a Store.
type StoreFunc func(ctx context.Context, key string) (*SandboxInfo, error)

// LookupSandbox calls f(ctx, key).
func (f StoreFunc) LookupSandbox(ctx context.Context, key string) (*SandboxInfo, error) {
	return f(ctx, key)
}

// StatusStore is optionally implemented by a Store that can read a sandbox's
// status by id more cheaply than a full lookup. The cache uses it to recheck
// stale entries. It returns ErrNotFound when the sandbox no longer exists.
type StatusStore interface {
	SandboxStatus(ctx context.Context, sandboxID string) (Status, error)
}

// Peeker is optionally implemented by a Store that can answer some lookups
// from memory without I/O: the validator's fast path (package cache
// implements it). The validator asks it first and, when ok is true, skips the
// lookup timeout and the call to LookupSandbox. The returned record is
// shared: callers must not modify or retain it; the validator copies it into
// the request context.
type Peeker interface {
	PeekSandbox(key string) (info *SandboxInfo, ok bool)
}

// sourceLookup is implemented by a Store that can say where an answer came
// from (package cache: a stale-entry recheck or a full store lookup), for the
// Source of a Decision. Stores without it count as SourceStore.
type sourceLookup interface {
	LookupSandboxSource(ctx context.Context, key string) (*SandboxInfo, Source, error)
}

// deadlineOwner is implemented by package cache's Cache alone (no other
// package can name lookupctx.Mark): it bounds its shared store call, and
// each caller's wait, by the deadline of the context it is given, even when
// that context's Done does not close at the deadline. The validator then
// hands it its lookup timeout as a deadline without arming a timer. Every
// other store gets a real context.WithTimeout.
type deadlineOwner interface {
	OwnsLookupDeadline(lookupctx.Mark)
}

// deadlineCtx is ctx with an earlier deadline that nothing enforces but the
// store it is handed to (a deadlineOwner). It never reaches a user's store.
type deadlineCtx struct {
	context.Context
	deadline time.Time
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// withDeadline returns ctx with deadline d, or ctx itself if its own is
// earlier.
func withDeadline(ctx context.Context, d time.Time) context.Context {
	if pd, ok := ctx.Deadline(); ok && !pd.After(d) {
		return ctx
	}
	return &deadlineCtx{Context: ctx, deadline: d}
}

// holder is implemented by a Store that keeps entries of keys it has
// resolved (package cache): Holds reports whether it holds one for key,
// fresh or stale. The failure limiter spares such keys (docs/design.md §8).
type holder interface {
	Holds(key string) bool
}
