package cache

import (
	"context"
	"errors"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

// flight is one store call shared by every caller that wants the same key
// while it runs. It is golang.org/x/sync/singleflight plus what that package
// cannot express: a count of the callers still waiting, so that the call is
// cancelled when the last one gives up and never because one of them did.
// Its fields other than done are guarded by Store.mu.
type flight struct {
	done    chan struct{} // closed when info and err are set
	info    *core.SandboxInfo
	err     error
	waiters int
	cancel  context.CancelFunc
	stale   *entry // the entry this flight rechecks; nil for a full lookup
}

// do joins the flight for k, starting it if there is none, and waits for its
// result or for ctx to end. The result is shared: callers copy it.
func (s *Cache) do(ctx context.Context, k, key string, stale *entry) (*core.SandboxInfo, error) {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if stale != nil {
		// stale was read without the lock. If an invalidation (or a
		// refresh) replaced it since, it must not be rechecked and stored
		// again: the recheck only asks for the sandbox's status, which says
		// nothing about whether this key still belongs to it. Fall back to
		// a full lookup.
		if cur, ok := s.get(k); !ok || cur != stale {
			stale = nil
		}
	}
	f := s.flights[k]
	// Join only a flight that asks the store what this caller needs: a
	// caller whose entry is past its horizon (stale == nil) must not take
	// the answer of a status recheck of that entry, which cannot tell a
	// revoked key. It starts its own flight; the other one finishes for its
	// waiters (run removes only its own map slot).
	if f == nil || f.stale != stale {
		fctx, cancel := s.flightContext(ctx)
		f = &flight{done: make(chan struct{}), cancel: cancel, stale: stale}
		s.flights[k] = f
		// The age of what this call finds is counted from now, before the
		// store is asked: a status change after this instant is seen at
		// most one TTL later.
		go s.run(fctx, f, k, key, stale, s.gen, s.now())
	}
	f.waiters++
	s.mu.Unlock()

	select {
	case <-f.done:
		return f.info, f.err
	case <-ctx.Done():
		s.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
			if s.flights[k] == f { // a later caller must not join a cancelled call
				delete(s.flights, k)
			}
		}
		s.mu.Unlock()
		return nil, ctx.Err()
	}
}

// flightContext derives the context of a shared store call from its first
// caller's: the same values, none of its cancellation, and a deadline that is
// the earlier of the caller's and the lookup timeout.
func (s *Cache) flightContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return context.WithDeadline(context.WithoutCancel(ctx), deadline)
}

// run makes the store call of f and publishes its result. It caches a
// RUNNING record unless an invalidation (or Close) happened since the flight
// began (gen), and evicts the sandbox's entries when it learns the sandbox is
// not running or gone.
func (s *Cache) run(ctx context.Context, f *flight, k, key string, stale *entry, gen uint64, start time.Time) {
	defer f.cancel()
	info, err := s.storeCall(ctx, key, stale)

	s.mu.Lock()
	if s.flights[k] == f {
		delete(s.flights, k)
	}
	switch {
	case err == nil && info.Status == core.StatusRunning:
		if gen == s.gen {
			// A status recheck proves the sandbox runs, not that the key is
			// still its key (it may have been rotated): it refreshes the
			// entry but never extends its max-stale horizon, which only a
			// full lookup sets. A revoked key thus dies within max-stale
			// even if nobody invalidates it.
			horizon := start.Add(s.stale)
			if stale != nil && s.status != nil {
				horizon = stale.staleUntil
			}
			s.putLocked(k, info, start, horizon)
		}
	case err == nil:
		s.evictSandboxLocked(info.ID)
		if stale != nil && stale.info.ID != info.ID {
			s.evictSandboxLocked(stale.info.ID)
		}
	case errors.Is(err, core.ErrNotFound):
		if stale != nil {
			s.evictSandboxLocked(stale.info.ID)
		}
		if e, ok := s.get(k); ok {
			s.unindexLocked(e.info.ID, k)
			s.entries.Delete(k)
		}
	}
	// Any other error keeps a stale entry: it is rechecked again, never
	// served without a successful recheck.
	f.info, f.err = info, err
	s.mu.Unlock()
	close(f.done)
}
