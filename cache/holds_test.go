package cache_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// TestHeldKeyEscapesTheFailureLimit: a sandbox's key that the cache holds
// (stale, about to be rechecked) is not refused because another client
// behind the same address used up the address's budget of failures.
func TestHeldKeyEscapesTheFailureLimit(t *testing.T) {
	clock := newClock()
	st := newTestStore(t)
	c := newCache(t, st, clock)
	lim, err := core.NewFailureLimiter(1)
	if err != nil {
		t.Fatal(err)
	}
	v, err := core.New(c, core.WithFailureLimiter(lim))
	if err != nil {
		t.Fatal(err)
	}
	req := func(key string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "192.0.2.1:1234" // one egress address for every sandbox
		r.Header.Set(core.HeaderName, key)
		return r
	}
	if _, _, err := v.Authenticate(req(key1a), core.Route{}); err != nil {
		t.Fatal(err)
	}
	if c.Holds("guess") || !c.Holds(key1a) {
		t.Fatal("Holds wrong")
	}
	_, _, _ = v.Authenticate(req("guess-1"), core.Route{}) // the neighbour's budget of 1
	if _, _, err := v.Authenticate(req("guess-2"), core.Route{}); !errors.Is(err, core.ErrTooManyFailures) {
		t.Fatalf("attacker: %v, want 429", err)
	}
	clock.Advance(c.TTL() + time.Millisecond) // stale: rechecked with the store
	if _, _, err := v.Authenticate(req(key1a), core.Route{}); err != nil {
		t.Errorf("held key from the limited address: %v", err)
	}
	clock.Advance(c.MaxStale())
	if c.Holds(key1a) {
		t.Error("an entry past max-stale is still held")
	}
}

// blockingStore blocks until its context ends.
type blockingStore struct{}

func (blockingStore) LookupSandbox(ctx context.Context, _ string) (*core.SandboxInfo, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestValidatorTimeoutBoundsTheSharedCall: the validator hands the cache
// its lookup timeout as a deadline without arming a timer; the cache's
// shared call keeps it, so a store that hangs is answered 503 on the
// validator's timeout, not the cache's (5 s by default), for the first
// caller and for a caller that joins it.
func TestValidatorTimeoutBoundsTheSharedCall(t *testing.T) {
	c := newCache(t, blockingStore{}, nil)
	v, err := core.New(c, core.WithLookupTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set(core.HeaderName, "some-key")
			_, _, err := v.Authenticate(r, core.Route{})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, core.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want 503 for the deadline", err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("answered after %v: the validator's 100ms timeout did not bound the call", d)
	}
}

// sleepyStore ignores its context: it answers not found after d.
type sleepyStore struct{ d time.Duration }

func (s sleepyStore) LookupSandbox(context.Context, string) (*core.SandboxInfo, error) {
	time.Sleep(s.d)
	return nil, core.ErrNotFound
}

// joinAfter starts first, waits until its store call is in flight, then
// starts second on the same key; it returns how long second took and its
// error.
func joinAfter(t *testing.T, c *cache.Cache, first, second *core.Validator) (time.Duration, error) {
	t.Helper()
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set(core.HeaderName, "joined-key")
		return r
	}
	firstDone := make(chan struct{})
	go func() { _, _, _ = first.Authenticate(req(), core.Route{}); close(firstDone) }()
	deadline := time.Now().Add(time.Second)
	for c.WaitersFor("joined-key") == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	_, _, err := second.Authenticate(req(), core.Route{})
	took := time.Since(start)
	<-firstDone
	return took, err
}

// TestJoinerKeepsItsOwnTimeout: a caller that joins a shared store call
// started with a later deadline (another validator on the same cache) is
// answered 503 on its own timeout, not the call's.
func TestJoinerKeepsItsOwnTimeout(t *testing.T) {
	c := newCache(t, blockingStore{}, nil)
	slow, _ := core.New(c, core.WithLookupTimeout(1500*time.Millisecond))
	fast, _ := core.New(c, core.WithLookupTimeout(100*time.Millisecond))
	took, err := joinAfter(t, c, slow, fast)
	if !errors.Is(err, core.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("joiner: %v, want 503 for its deadline", err)
	}
	if took > time.Second {
		t.Errorf("joiner answered after %v; its timeout is 100ms", took)
	}
}

// TestJoinerOfAStoreThatIgnoresItsContext: the store call cannot be cut
// short, but a caller that joined it is still answered 503 on its timeout.
func TestJoinerOfAStoreThatIgnoresItsContext(t *testing.T) {
	c := newCache(t, sleepyStore{d: 1500 * time.Millisecond}, nil)
	v, _ := core.New(c, core.WithLookupTimeout(100*time.Millisecond))
	took, err := joinAfter(t, c, v, v)
	if !errors.Is(err, core.ErrUnavailable) {
		t.Errorf("joiner: %v, want 503", err)
	}
	if took > time.Second {
		t.Errorf("joiner answered after %v; its timeout is 100ms", took)
	}
}

// sourceStore is a third-party store that reports sources like the cache
// does, and waits for its context.
type sourceStore struct{}

func (sourceStore) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	info, _, err := sourceStore{}.LookupSandboxSource(ctx, key)
	return info, err
}

func (sourceStore) LookupSandboxSource(ctx context.Context, _ string) (*core.SandboxInfo, core.Source, error) {
	child, cancel := context.WithCancel(ctx) // derived contexts must end too
	defer cancel()
	<-child.Done()
	return nil, core.SourceStore, child.Err()
}

// TestOtherStoresGetARealDeadline: only the cache is handed the timerless
// deadline; any other store, even one with the cache's methods, gets a
// context whose Done closes at the validator's timeout.
func TestOtherStoresGetARealDeadline(t *testing.T) {
	v, _ := core.New(sourceStore{}, core.WithLookupTimeout(100*time.Millisecond))
	start := time.Now()
	_, err := v.Validate(context.Background(), "k")
	if !errors.Is(err, core.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v, want 503 for the deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("answered after %v; the timeout is 100ms", d)
	}
}
