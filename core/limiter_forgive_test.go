package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

// Accepted requests whose lookups overlap give their tokens back in full,
// even when the same client took another token a refill interval later
// (rate.Reservation.CancelAt gave back nothing then).
func TestFailureLimiterOverlappingSuccessesCostNothing(t *testing.T) {
	clock := newFakeClock()
	lim := core.NewFailureLimiterForTest(2, 100, clock.Now) // 2/min, burst 2: one token per 30s
	gate := make(chan struct{})
	started := make(chan struct{}, 4)
	st := core.StoreFunc(func(ctx context.Context, key string) (*core.SandboxInfo, error) {
		if key != "good" {
			return nil, core.ErrNotFound
		}
		started <- struct{}{}
		<-gate
		return &core.SandboxInfo{ID: "sb", Status: core.StatusRunning, CreatedByUserID: "u"}, nil
	})
	v, err := core.New(st, core.WithFailureLimiter(lim), core.WithLookupTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	const ip = "198.51.100.7:1"
	// One real failure first, so the bucket is below its burst.
	if _, _, err := v.Authenticate(requestFrom(ip, "guess0"), core.Route{}); !errors.Is(err, core.ErrInvalidKey) {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { _, _, err := v.Authenticate(requestFrom(ip, "good"), core.Route{}); done <- err }()
	<-started
	clock.Advance(31 * time.Second)
	go func() { _, _, err := v.Authenticate(requestFrom(ip, "good"), core.Route{}); done <- err }()
	<-started
	close(gate)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("accepted request: %v", err)
		}
	}
	// One failure 31s ago (more than a refill interval): the whole budget (2) must be there.
	for i := range 2 {
		if _, _, err := v.Authenticate(requestFrom(ip, "guess"), core.Route{}); errors.Is(err, core.ErrTooManyFailures) {
			t.Fatalf("failure %d answered 429: two accepted requests consumed budget", i+1)
		}
	}
}

// Forgive returns exactly one token, whatever the client did in between,
// and never more than the burst.
func TestFailureLimiterForgiveIsExact(t *testing.T) {
	clock := newFakeClock()
	l := core.NewFailureLimiterForTest(2, 100, clock.Now) // one token per 30 s
	a, ok := l.Attempt("c")
	if !ok {
		t.Fatal("first attempt refused")
	}
	clock.Advance(31 * time.Second)
	b, ok := l.Attempt("c")
	if !ok {
		t.Fatal("second attempt refused")
	}
	a.Forgive()
	b.Forgive()
	b.Forgive() // a second Forgive cannot raise the budget past the burst
	allowed := 0
	for range 5 {
		if _, ok := l.Attempt("c"); ok {
			allowed++
		}
	}
	if allowed != 2 {
		t.Fatalf("after two forgiven attempts %d of 5 allowed, want the burst, 2", allowed)
	}
	clock.Advance(30 * time.Second)
	if _, ok := l.Attempt("c"); !ok {
		t.Fatal("no token refilled after 30 s at 2/min")
	}
	if _, ok := l.Attempt("c"); ok {
		t.Fatal("two tokens refilled after 30 s at 2/min")
	}
}
