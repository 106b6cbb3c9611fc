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

// gatedStore is a store whose every lookup reads the record, then waits on
// a gate of its own, ignoring its context (the answer is on its way back),
// until the test releases that one call.
type gatedStore struct {
	mu      sync.Mutex
	revoked bool
	gates   []chan struct{}
	entered chan int // the index of each call that began
	running atomic.Int32
	most    atomic.Int32 // the most calls running at once
}

func newGatedStore() *gatedStore { return &gatedStore{entered: make(chan int, 100)} }

func (s *gatedStore) LookupSandbox(_ context.Context, _ string) (*core.SandboxInfo, error) {
	n := s.running.Add(1)
	defer s.running.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	s.mu.Lock()
	revoked := s.revoked
	gate := make(chan struct{})
	s.gates = append(s.gates, gate)
	i := len(s.gates) - 1
	s.mu.Unlock()
	s.entered <- i
	<-gate
	if revoked {
		return nil, core.ErrNotFound
	}
	return &core.SandboxInfo{ID: "sb1", CreatedByUserID: "u1", Status: core.StatusRunning}, nil
}

func (s *gatedStore) SandboxStatus(context.Context, string) (core.Status, error) {
	return core.StatusRunning, nil
}

func (s *gatedStore) revoke() { s.mu.Lock(); s.revoked = true; s.mu.Unlock() }

func (s *gatedStore) release(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.gates[i]:
	default:
		close(s.gates[i])
	}
}

func (s *gatedStore) releaseAll() {
	s.mu.Lock()
	n := len(s.gates)
	s.mu.Unlock()
	for i := range n {
		s.release(i)
	}
}

func (s *gatedStore) waitEntered(t *testing.T) int {
	t.Helper()
	select {
	case i := <-s.entered:
		return i
	case <-time.After(10 * time.Second):
		t.Fatal("no store call began")
		return -1
	}
}

// The cap counts every call of the key still running, whatever order they
// finish in: a quick call in the middle does not hide the slow ones.
func TestOverlapCapCountsCallsFinishedOutOfOrder(t *testing.T) {
	st := newGatedStore()
	clock := newClock()
	c := newCache(t, st, clock) // TTL 1s
	defer st.releaseAll()
	lookup := func() chan error {
		ch := make(chan error, 1)
		go func() { _, err := c.LookupSandbox(context.Background(), key1a); ch <- err }()
		return ch
	}
	var results []chan error
	var calls []int
	for i := range 3 { // calls at t=0, 1 s and 2 s, each a TTL after the last
		if i > 0 {
			clock.Advance(time.Second)
		}
		results = append(results, lookup())
		calls = append(calls, st.waitEntered(t))
	}
	st.release(calls[1]) // the middle call finishes first
	if err := <-results[1]; err != nil {
		t.Fatal(err)
	}
	for range 2 { // two running: two more calls of their own
		clock.Advance(time.Second)
		results = append(results, lookup())
		st.waitEntered(t)
	}
	clock.Advance(time.Second)
	results = append(results, lookup()) // four running: it joins the newest
	waitFor(t, "the last request to join the newest call", func() bool { return c.WaitersFor(key1a) == 2 })
	if most := st.most.Load(); most != 4 {
		t.Errorf("at most %d calls ran at once for one key, want 4 (the cap)", most)
	}
	st.releaseAll()
	for i, ch := range results {
		if i != 1 {
			if err := <-ch; err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
	}
	if n := len(st.gates); n != 5 {
		t.Errorf("%d store calls, want 5", n)
	}
}

// A call that every waiter left (cancelled, out of the map) stores nothing
// when its store answers anyway: a later call may already have answered
// for the key, and an older RUNNING must not overwrite its not found.
func TestCancelledCallStoresNothing(t *testing.T) {
	st := newGatedStore()
	clock := newClock()
	c := newCache(t, st, clock)
	defer st.releaseAll()
	actx, aLeaves := context.WithCancel(context.Background())
	aDone := make(chan error, 1)
	go func() { _, err := c.LookupSandbox(actx, key1a); aDone <- err }()
	a := st.waitEntered(t) // A read RUNNING and stalls (its runner is in the store)
	jctx, jLeaves := context.WithCancel(context.Background())
	jDone := make(chan error, 1)
	go func() { _, err := c.LookupSandbox(jctx, key1a); jDone <- err }()
	waitFor(t, "J to join A's call", func() bool { return c.WaitersFor(key1a) == 2 })
	aLeaves()
	jLeaves()
	if err := <-jDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("J: %v, want context.Canceled", err)
	}
	waitFor(t, "A's call, which every request left, to leave the map", func() bool { return c.WaitersFor(key1a) == 0 })

	st.revoke()
	bDone := make(chan error, 1)
	go func() { _, err := c.LookupSandbox(context.Background(), key1a); bDone <- err }()
	st.release(st.waitEntered(t))
	if err := <-bDone; !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("B: %v, want ErrNotFound", err)
	}
	st.release(a) // A's RUNNING, read before the revocation, comes back last
	<-aDone
	if c.Holds(key1a) || c.Len() != 0 {
		t.Errorf("the cancelled call stored its answer: Holds %v, %d entries", c.Holds(key1a), c.Len())
	}
	clock.Advance(2 * time.Second)
	last := make(chan error, 1)
	go func() { _, err := c.LookupSandbox(context.Background(), key1a); last <- err }()
	st.release(st.waitEntered(t)) // nothing cached: a full lookup
	if err := <-last; !errors.Is(err, core.ErrNotFound) {
		t.Errorf("the revoked key: %v; want ErrNotFound", err)
	}
}
