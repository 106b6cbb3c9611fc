package cache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

// slowFirst is a store whose first lookup reads, then stalls until
// released; later lookups answer at once. The key can be revoked.
type slowFirst struct {
	mu      sync.Mutex
	revoked bool
	n       atomic.Int32
	gate    chan struct{}
	entered chan struct{}
}

func (s *slowFirst) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	s.mu.Lock()
	revoked := s.revoked
	s.mu.Unlock()
	first := s.n.Add(1) == 1
	if first {
		s.entered <- struct{}{}
		<-s.gate
	}
	if revoked {
		return nil, core.ErrNotFound
	}
	return &core.SandboxInfo{ID: "sb1", CreatedByUserID: "u1", Status: core.StatusRunning}, nil
}

func (s *slowFirst) SandboxStatus(ctx context.Context, id string) (core.Status, error) {
	return core.StatusRunning, nil // the sandbox still runs; only the key was revoked
}

// A call that a later one replaced (it was a TTL old) stores nothing when it
// finishes last: its RUNNING, read before the key was revoked, must not
// overwrite what the later call learnt (not found), or status rechecks
// would accept the revoked key again up to max-stale.
func TestSupersededCallStoresNothing(t *testing.T) {
	st := &slowFirst{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	clock := newClock()
	c := newCache(t, st, clock) // TTL 1s, max-stale 10s
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { _, err := c.LookupSandbox(ctx, key1a); done <- err }()
	<-st.entered // A read RUNNING at t0 and stalls
	st.mu.Lock()
	st.revoked = true // the key is revoked (no invalidation: another instance, no feed)
	st.mu.Unlock()
	clock.Advance(time.Second)
	// B: a TTL later, does not join A; reads NotFound.
	if _, err := c.LookupSandbox(ctx, key1a); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("B: %v, want ErrNotFound", err)
	}
	close(st.gate) // A returns its old RUNNING answer to its own caller...
	if err := <-done; err != nil {
		t.Fatalf("A: %v", err)
	}
	if c.Holds(key1a) || c.Len() != 0 {
		t.Errorf("A stored its answer over B's: Holds %v, %d entries", c.Holds(key1a), c.Len())
	}
	clock.Advance(time.Second)
	if info, err := c.LookupSandbox(ctx, key1a); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("after the store answered not found, the revoked key: %v, %v; want ErrNotFound", info, err)
	}
	if n := st.n.Load(); n != 3 {
		t.Errorf("store lookups %d, want 3 (A, B, and the last, with nothing cached)", n)
	}
}

// While the store is slower than the TTL, each request a TTL after the last
// call starts the next one, but never more than four run at once for a key:
// later requests join the newest. The calls' answers are all served.
func TestOverlappingCallsPerKeyAreCapped(t *testing.T) {
	st := newTestStore(t)
	clock := newClock()
	c := newCache(t, st, clock) // TTL 1s
	release := st.block()
	defer release()
	const requests = 10
	errs := make(chan error, requests)
	lookup := func() { go func() { _, err := c.LookupSandbox(context.Background(), key1a); errs <- err }() }
	lookup()
	st.waitEntered(t)
	for i := 1; i < requests; i++ {
		clock.Advance(time.Second) // the newest call is a TTL old
		lookup()
		if i < 4 {
			st.waitEntered(t) // a call of its own
			continue
		}
		waitFor(t, "the request to join the newest call", func() bool { return c.WaitersFor(key1a) == 1+i-3 })
	}
	if n := st.lookups.Load(); n != 4 {
		t.Fatalf("store lookups %d for one key, want 4 (the cap)", n)
	}
	release()
	for range requests {
		if err := <-errs; err != nil {
			t.Errorf("lookup: %v", err)
		}
	}
}
