package cache_test

import (
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
