package cache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// hookObserver runs onMiss (once armed) when a caller reports its miss: after
// it joined the flight and released the lock, before it waits.
type hookObserver struct {
	armed  atomic.Bool
	onMiss func()
}

func (o *hookObserver) ObserveCache(ev core.CacheEvent, _ int) {
	if ev == core.CacheMiss && o.armed.CompareAndSwap(true, false) {
		o.onMiss()
	}
}

// A caller that joins a shared lookup AFTER InvalidateSandbox(sb1) returned
// must not be given that lookup's answer (docs/design.md §6), also when the
// caller's context ends at the moment the shared call finishes (wait may
// then pick the ready case).
func TestLateJoinerWhoseContextEndsNeverTakesATaintedAnswer(t *testing.T) {
	for i := 0; i < 40; i++ {
		st := newTestStore(t)
		obs := &hookObserver{}
		c := newCache(t, st, newClock(), cache.WithObserver(obs))
		release := st.block()
		runner := make(chan error, 1)
		go func() { _, err := c.LookupSandbox(context.Background(), key1a); runner <- err }()
		st.waitEntered(t) // the store has read sb1 RUNNING and is blocked

		// The pause, then its invalidation, which returns.
		if err := st.mem.SetStatus("sb1", core.StatusPaused); err != nil {
			t.Fatal(err)
		}
		c.InvalidateSandbox("sb1")

		// B starts after the invalidation returned.
		ctx, cancel := context.WithCancel(context.Background())
		obs.onMiss = func() {
			release()
			<-runner // the shared call has finished and published sb1 RUNNING
			cancel() // B's lookup context ends at the same moment
		}
		obs.armed.Store(true)
		info, err := c.LookupSandbox(ctx, key1a)
		if err == nil && info != nil && info.Status == core.StatusRunning {
			t.Fatalf("iteration %d: a lookup that began after InvalidateSandbox(sb1) returned was answered sb1 RUNNING (read before the pause)", i)
		}
		cancel()
	}
}

// The same through the validator: Validate ACCEPTS the paused sandbox for a
// request that began after InvalidateSandbox returned (its context ended as
// the shared call finished; an HTTP handler would run with it).
func TestLateJoinerTimeoutIsNotAcceptedByTheValidator(t *testing.T) {
	for i := 0; i < 40; i++ {
		st := newTestStore(t)
		obs := &hookObserver{}
		c := newCache(t, st, newClock(), cache.WithObserver(obs))
		v, _ := newValidator(t, c)
		release := st.block()
		runner := make(chan error, 1)
		go func() { _, err := c.LookupSandbox(context.Background(), key1a); runner <- err }()
		st.waitEntered(t)
		if err := st.mem.SetStatus("sb1", core.StatusPaused); err != nil {
			t.Fatal(err)
		}
		c.InvalidateSandbox("sb1")
		ctx, cancel := context.WithCancel(context.Background())
		obs.onMiss = func() { release(); <-runner; cancel() }
		obs.armed.Store(true)
		if info, err := v.Validate(ctx, key1a); err == nil {
			t.Fatalf("iteration %d: Validate accepted %s (%s) after InvalidateSandbox returned", i, info.ID, info.Status)
		}
	}
}

// A request that arrives a TTL or more after a slow store call began does
// not take that call's answer: it was read before the request arrived, and
// a status change in between would be accepted past the TTL. It makes the
// next call; requests within the TTL of a call still share it.
func TestNoJoinPastTheTTL(t *testing.T) {
	st := newTestStore(t)
	clock := newClock()
	c := newCache(t, st, clock) // TTL 1s
	v, _ := newValidator(t, c)
	release := st.block()
	defer release()

	validate := func() chan error {
		ch := make(chan error, 1)
		go func() { _, err := v.Validate(context.Background(), key1a); ch <- err }()
		return ch
	}
	first := validate()
	st.waitEntered(t) // the call has read RUNNING, and stalls
	if err := st.mem.SetStatus("sb1", core.StatusPaused); err != nil {
		t.Fatal(err)
	}
	clock.Advance(999 * time.Millisecond)
	within := validate() // within the TTL of the call: joins it
	waitFor(t, "the second request to join", func() bool { return c.WaitersFor(key1a) == 2 })
	clock.Advance(time.Millisecond) // the call is a TTL old
	late := validate()
	st.waitEntered(t) // the late request's own call, which reads PAUSED
	if n := st.lookups.Load(); n != 2 {
		t.Fatalf("store lookups %d, want 2: the first call and the late request's", n)
	}
	release()
	for name, ch := range map[string]chan error{"first": first, "within the TTL": within} {
		if err := <-ch; err != nil {
			t.Errorf("%s: %v, want accepted (the call read RUNNING before the pause)", name, err)
		}
	}
	if err := <-late; !errors.Is(err, core.ErrNotRunning) {
		t.Errorf("a request a TTL after the call began: %v, want ErrNotRunning", err)
	}
}
