package cache_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// TestStoreCallContext: the context a store receives behaves as a context
// does, also when the store derives its own from it, as database drivers
// do: cancelled when the last caller leaves, bounded by the lookup timeout,
// and without a goroutine per derived context.
func TestStoreCallContext(t *testing.T) {
	type result struct {
		err      error
		deadline time.Time
	}
	// derivingStore derives a context with a long timeout and waits on it.
	deriving := func(entered chan<- int, results chan<- result) core.Store {
		return core.StoreFunc(func(ctx context.Context, key string) (*core.SandboxInfo, error) {
			cctx, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			entered <- runtime.NumGoroutine()
			<-cctx.Done()
			d, _ := cctx.Deadline()
			results <- result{cctx.Err(), d}
			return nil, cctx.Err()
		})
	}
	t.Run("cancelled-with-its-last-caller", func(t *testing.T) {
		entered, results := make(chan int, 1), make(chan result, 1)
		c := newCache(t, deriving(entered, results), newClock())
		ctx, cancel := context.WithCancel(context.Background())
		before := runtime.NumGoroutine()
		done := make(chan error, 1)
		go func() { _, err := c.LookupSandbox(ctx, key1a); done <- err }()
		if during := <-entered; during != before+1 {
			t.Errorf("%d goroutines during the call, %d before: want only the caller's", during, before)
		}
		cancel()
		if r := <-results; !errors.Is(r.err, context.Canceled) {
			t.Errorf("derived context: %v, want cancelled", r.err)
		}
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("caller: %v", err)
		}
	})
	t.Run("bounded-by-the-lookup-timeout", func(t *testing.T) {
		entered, results := make(chan int, 1), make(chan result, 1)
		c := newCache(t, deriving(entered, results), newClock(), cache.WithLookupTimeout(30*time.Millisecond))
		start := time.Now()
		go func() { _, _ = c.LookupSandbox(context.Background(), key1a) }()
		<-entered
		r := <-results
		if !errors.Is(r.err, context.DeadlineExceeded) || r.deadline.Sub(start) > time.Second {
			t.Errorf("derived context: %v, deadline in %v; want the lookup timeout", r.err, r.deadline.Sub(start))
		}
	})
	t.Run("AfterFunc", func(t *testing.T) {
		type afterFuncer interface{ AfterFunc(func()) func() bool }
		fired, stopped := make(chan struct{}), make(chan bool, 1)
		st := core.StoreFunc(func(ctx context.Context, key string) (*core.SandboxInfo, error) {
			a, ok := ctx.(afterFuncer)
			if !ok {
				return nil, errors.New("the call's context has no AfterFunc")
			}
			stop := a.AfterFunc(func() { t.Error("a stopped function ran") })
			stopped <- stop()
			a.AfterFunc(func() { close(fired) })
			<-ctx.Done()
			return nil, ctx.Err()
		})
		c := newCache(t, st, newClock())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := c.LookupSandbox(ctx, key1a); done <- err }()
		if !<-stopped {
			t.Error("stop before the end returned false")
		}
		cancel()
		<-fired
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("caller: %v", err)
		}
	})
}
