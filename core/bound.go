package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrBusy is returned by a store made with LimitLookups when no lookup slot
// freed up in time. It is a backend failure to the validator: 503 with
// Retry-After, never 401 (docs/design.md §8).
var ErrBusy = errors.New("sandboxauth: too many store lookups in progress")

// defaultLookupWait is how long a lookup waits for a slot of LimitLookups.
const defaultLookupWait = 50 * time.Millisecond

// LimitLookups returns a Store that runs at most n lookups of store at once
// (status lookups included, when store is a StatusStore). A lookup that
// cannot start within wait fails at once with ErrBusy — answered 503 with
// Retry-After — instead of queueing without bound or opening one more
// database connection: when the database is slow, a flood of unknown keys
// (each a lookup of its own) cannot take every connection the fleet shares.
//
// Put it under the cache, so that it bounds real store calls: the cache
// already shares one call among the requests for the same key, and answers
// cached keys without a slot:
//
//	limited, err := core.LimitLookups(db, 20, 0)
//	...
//	c, err := cache.New(limited)
//
// Wrapping a cache instead (a Peeker) is refused: every hit would then take
// a slot. wait 0 means 50ms. n must be positive.
func LimitLookups(store Store, n int, wait time.Duration) (Store, error) {
	switch {
	case store == nil:
		return nil, errors.New("sandboxauth: nil store")
	case isPeeker(store):
		return nil, errors.New("sandboxauth: LimitLookups goes under a cache, not over it")
	case n <= 0:
		return nil, fmt.Errorf("sandboxauth: lookup limit must be positive, got %d", n)
	case wait < 0:
		return nil, fmt.Errorf("sandboxauth: lookup wait must not be negative, got %v", wait)
	case wait == 0:
		wait = defaultLookupWait
	}
	l := &limited{store: store, slots: make(chan struct{}, n), wait: wait}
	if st, ok := store.(StatusStore); ok {
		return &limitedStatus{limited: l, status: st}, nil
	}
	return l, nil
}

type limited struct {
	store Store
	slots chan struct{}
	wait  time.Duration
}

// acquire takes a slot, waiting at most l.wait (and not past ctx).
func (l *limited) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limited) release() { <-l.slots }

// LookupSandbox implements Store.
func (l *limited) LookupSandbox(ctx context.Context, key string) (*SandboxInfo, error) {
	if err := l.acquire(ctx); err != nil {
		return nil, err
	}
	defer l.release()
	return l.store.LookupSandbox(ctx, key)
}

type limitedStatus struct {
	*limited
	status StatusStore
}

// SandboxStatus implements StatusStore.
func (l *limitedStatus) SandboxStatus(ctx context.Context, id string) (Status, error) {
	if err := l.acquire(ctx); err != nil {
		return "", err
	}
	defer l.release()
	return l.status.SandboxStatus(ctx, id)
}

func isPeeker(s Store) bool {
	_, ok := s.(Peeker)
	return ok
}
