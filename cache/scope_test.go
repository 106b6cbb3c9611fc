package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// TestInvalidationIsScoped pins issue 14: an invalidation affects what it
// names and nothing else. Lookups of other keys and sandboxes that are in
// progress store their answer, and callers keep sharing them.
func TestInvalidationIsScoped(t *testing.T) {
	others := map[string]func(*cache.Cache){
		"InvalidateSandbox-other": func(c *cache.Cache) {
			for i := range 100 {
				c.InvalidateSandbox(fmt.Sprintf("sb-other-%d", i))
			}
		},
		"InvalidateSandbox-sibling": func(c *cache.Cache) { c.InvalidateSandbox("sb2") },
		"Invalidate-other-key":      func(c *cache.Cache) { c.Invalidate(key1b) },
	}
	for name, invalidate := range others {
		t.Run(name+"/cold-lookup-stores-and-is-shared", func(t *testing.T) {
			st := newTestStore(t)
			c := newCache(t, st, newClock())
			release := st.block()
			defer release()
			done := make(chan error, 2)
			lookup := func() { _, err := c.LookupSandbox(context.Background(), key1a); done <- err }
			go lookup()
			st.waitEntered(t)
			invalidate(c)
			go lookup() // joins after the invalidations: takes the same answer
			waitFor(t, "the second caller to join", func() bool { return c.WaitersFor(key1a) == 2 })
			release()
			for range 2 {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			if st.lookups.Load() != 1 {
				t.Errorf("%d store calls, want 1 shared", st.lookups.Load())
			}
			if _, ok := c.PeekSandbox(key1a); !ok {
				t.Error("the lookup's answer was not stored")
			}
		})
		t.Run(name+"/recheck-refreshes", func(t *testing.T) {
			st := newTestStore(t)
			clock := newClock()
			c := newCache(t, st, clock)
			if _, err := c.LookupSandbox(context.Background(), key1a); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Second) // stale
			release := st.block()
			defer release()
			done := make(chan error, 1)
			go func() { _, err := c.LookupSandbox(context.Background(), key1a); done <- err }()
			st.waitEntered(t)
			invalidate(c)
			release()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if _, ok := c.PeekSandbox(key1a); !ok {
				t.Error("the recheck's answer was not stored")
			}
		})
		t.Run(name+"/entries-kept", func(t *testing.T) {
			st := newTestStore(t)
			c := newCache(t, st, newClock())
			if _, err := c.LookupSandbox(context.Background(), key1a); err != nil {
				t.Fatal(err)
			}
			invalidate(c)
			if _, ok := c.PeekSandbox(key1a); !ok {
				t.Error("an unrelated invalidation dropped the entry")
			}
		})
	}

	// One store call for a stampede, with invalidations of other sandboxes
	// between every two callers.
	t.Run("stampede-under-churn", func(t *testing.T) {
		const n = 50
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		release := st.block()
		defer release()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.LookupSandbox(context.Background(), key1a)
				errs <- err
			}()
			if i == 0 {
				st.waitEntered(t)
			}
			c.InvalidateSandbox(fmt.Sprintf("sb-other-%d", i))
		}
		waitFor(t, "every caller to join", func() bool { return c.WaitersFor(key1a) == n })
		release()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if st.calls() != 1 || c.Len() != 1 {
			t.Errorf("%d store calls, %d entries; want 1 and 1", st.calls(), c.Len())
		}
	})

	// A caller that joins a lookup after an InvalidateSandbox must not take
	// an answer that names no sandbox either: the key may have been issued
	// since (a resumed sandbox). It asks once more.
	t.Run("late-caller-of-an-unknown-key-asks-again", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		release := st.block()
		defer release()
		done := make(chan error, 2)
		go func() { _, err := c.LookupSandbox(context.Background(), keyNo); done <- err }()
		st.waitEntered(t)
		if err := st.mem.Put(keyNo, core.SandboxInfo{ID: "sb-new", Status: core.StatusRunning}); err != nil {
			t.Fatal(err)
		}
		c.InvalidateSandbox("sb-new")
		go func() {
			info, err := c.LookupSandbox(context.Background(), keyNo)
			if err == nil && info.ID != "sb-new" {
				err = fmt.Errorf("accepted as %s", info.ID)
			}
			done <- err
		}()
		waitFor(t, "the second caller to join", func() bool { return c.WaitersFor(keyNo) == 2 })
		release()
		var notFound, accepted int
		for range 2 {
			switch err := <-done; {
			case err == nil:
				accepted++
			case errors.Is(err, core.ErrNotFound):
				notFound++
			default:
				t.Fatal(err)
			}
		}
		if notFound != 1 || accepted != 1 || st.lookups.Load() != 2 {
			t.Errorf("not found %d, accepted %d, lookups %d; want 1, 1, 2", notFound, accepted, st.lookups.Load())
		}
	})
}

// TestInvalidationMemoryBounded: whatever the rate of invalidations and the
// number of distinct ids, the cache remembers a bounded number of them, and
// none once no lookup is in progress.
func TestInvalidationMemoryBounded(t *testing.T) {
	const flood = 3 * cache.MaxInvalidations
	long := strings.Repeat("x", 200)
	t.Run("nothing-in-progress", func(t *testing.T) {
		c := newCache(t, newTestStore(t), newClock())
		for i := range flood {
			c.InvalidateSandbox(fmt.Sprintf("sb-%d-%s", i, long))
			c.Invalidate(fmt.Sprintf("key-%d", i))
		}
		if b := c.Bookkeeping(); b != (cache.Bookkeeping{}) {
			t.Errorf("bookkeeping after %d invalidations with no lookup in progress: %+v", 2*flood, b)
		}
	})
	t.Run("a-lookup-stuck-in-progress", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		release := st.block()
		defer release()
		done := make(chan error, 1)
		go func() { _, err := c.LookupSandbox(context.Background(), key1a); done <- err }()
		st.waitEntered(t)
		for i := range flood {
			c.InvalidateSandbox(fmt.Sprintf("sb-%d-%s", i, long))
			c.Invalidate(fmt.Sprintf("key-%d", i))
			if i%97 == 0 {
				b := c.Bookkeeping()
				if b.Invalidations > cache.MaxInvalidations || b.InvalidationBytes > 64<<10 ||
					b.RememberedIDs+b.RememberedKeys > cache.MaxInvalidations {
					t.Fatalf("after %d invalidations: %+v", 2*i, b)
				}
			}
		}
		// It could not be checked against the invalidations it missed: it
		// answers its caller but stores nothing (and later callers no
		// longer join it).
		if b := c.Bookkeeping(); b.InProgress != 0 || b.Unchecked != 1 || b.Joinable != 0 || b.Invalidations != 0 {
			t.Errorf("the stuck lookup is still checked against the log: %+v", b)
		}
		release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if c.Len() != 0 {
			t.Error("a lookup older than the remembered invalidations stored its answer")
		}
		if _, err := c.LookupSandbox(context.Background(), key1a); err != nil || c.Len() != 1 {
			t.Errorf("a later lookup: %v, %d entries; want stored", err, c.Len())
		}
		if b := c.Bookkeeping(); b != (cache.Bookkeeping{Indexed: 1}) {
			t.Errorf("bookkeeping at rest: %+v", b)
		}
	})
	t.Run("Close-cancels-a-lookup-the-log-forgot", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		defer st.block()()
		done := make(chan error, 1)
		go func() { _, err := c.LookupSandbox(context.Background(), key1a); done <- err }()
		st.waitEntered(t)
		for i := range flood {
			c.Invalidate(fmt.Sprintf("key-%d", i))
		}
		_ = c.Close()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("lookup after Close: %v, want cancelled", err)
		}
	})
	t.Run("distinct-unknown-keys", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		for i := range 10000 {
			if _, err := c.LookupSandbox(context.Background(), fmt.Sprintf("unknown-%d", i)); !errors.Is(err, core.ErrNotFound) {
				t.Fatal(err)
			}
		}
		if b := c.Bookkeeping(); b != (cache.Bookkeeping{}) || c.Len() != 0 {
			t.Errorf("after 10000 unknown keys: %+v, %d entries", b, c.Len())
		}
	})
}
