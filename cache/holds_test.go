package cache_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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
