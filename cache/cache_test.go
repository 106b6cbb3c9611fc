package cache_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

func TestNewValidatesOptions(t *testing.T) {
	m := core.NewMemoryStore()
	if _, err := cache.New(nil); err == nil {
		t.Error("nil store accepted")
	}
	for name, opts := range map[string][]cache.Option{
		"nil option":                {nil},
		"zero TTL":                  {cache.WithTTL(0)},
		"negative TTL":              {cache.WithTTL(-time.Second)},
		"TTL over the maximum":      {cache.WithTTL(cache.MaxTTL + time.Nanosecond)},
		"max-stale below TTL":       {cache.WithTTL(10 * time.Second), cache.WithMaxStale(5 * time.Second)},
		"max-stale below default":   {cache.WithMaxStale(time.Second)},
		"zero max-stale":            {cache.WithMaxStale(0)},
		"max-stale over maximum":    {cache.WithMaxStale(cache.MaxMaxStale + time.Nanosecond)},
		"zero lookup timeout":       {cache.WithLookupTimeout(0)},
		"negative cleanup interval": {cache.WithCleanupInterval(-time.Second)},
		"tiny cleanup interval":     {cache.WithCleanupInterval(time.Millisecond)},
		"nil clock":                 {cache.WithClock(nil)},
	} {
		if c, err := cache.New(m, opts...); err == nil {
			_ = c.Close()
			t.Errorf("%s: accepted", name)
		}
	}

	c, err := cache.New(m)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.TTL() != cache.DefaultTTL || c.MaxStale() != cache.DefaultMaxStaleFactor*cache.DefaultTTL {
		t.Errorf("defaults: TTL %v max-stale %v", c.TTL(), c.MaxStale())
	}
	c2, err := cache.New(m, cache.WithTTL(cache.MaxTTL), cache.WithMaxStale(cache.MaxTTL), cache.WithCleanupInterval(0))
	if err != nil {
		t.Fatalf("max-stale == TTL == MaxTTL rejected: %v", err)
	}
	defer c2.Close()
}

func TestFreshHitSkipsStoreAndRerunsPolicy(t *testing.T) {
	st := newTestStore(t)
	c := newCache(t, st, newClock())
	oss, _ := newValidator(t, c)
	saas, saasLogs := newValidator(t, c, core.WithMode(core.ModeSaaS))

	for range 3 {
		expect(t, oss, key1a, nil, "sb1")
		expect(t, oss, key2, nil, "sb2")
	}
	if n := st.calls(); n != 2 {
		t.Fatalf("store called %d times for 2 keys x 3 requests, want 2", n)
	}
	// The ownerless sb2 is cached; the saas validator must still refuse it.
	expect(t, saas, key2, core.ErrNoUser, "")
	if !strings.Contains(saasLogs.String(), "Sandbox had no user specified") {
		t.Errorf("owner rule not logged on a cache hit: %s", saasLogs)
	}
	if n := st.calls(); n != 2 {
		t.Errorf("store called on a hit: %d calls", n)
	}
	if info, ok := c.PeekSandbox(key1a); !ok || info.ID != "sb1" {
		t.Errorf("PeekSandbox(fresh) = %v, %v", info, ok)
	}
	if _, ok := c.PeekSandbox(keyNo); ok {
		t.Error("PeekSandbox of an unknown key succeeded")
	}
}

func TestOnlyAcceptedLookupsAreCached(t *testing.T) {
	st := newTestStore(t)
	c := newCache(t, st, newClock())
	v, _ := newValidator(t, c)

	for range 3 {
		expect(t, v, keyNo, core.ErrInvalidKey, "")
		expect(t, v, key3, core.ErrNotRunning, "")
	}
	if n := st.lookups.Load(); n != 6 {
		t.Errorf("store called %d times for 6 rejected requests, want 6 (nothing cached)", n)
	}
	st.setErr(errors.New("db down"))
	expect(t, v, key1a, core.ErrUnavailable, "")
	expect(t, v, key1a, core.ErrUnavailable, "")
	if n := st.lookups.Load(); n != 8 {
		t.Errorf("store errors were cached: %d calls", n)
	}
	// A flood of random keys cannot grow the cache.
	for range 500 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		expect(t, v, base64.RawURLEncoding.EncodeToString(b), core.ErrUnavailable, "")
	}
	st.setErr(nil)
	for range 500 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		expect(t, v, base64.RawURLEncoding.EncodeToString(b), core.ErrInvalidKey, "")
	}
	if n := c.Len(); n != 0 {
		t.Errorf("%d entries after only rejections, want 0", n)
	}
	expect(t, v, key1a, nil, "sb1")
	if n := c.Len(); n != 1 {
		t.Errorf("%d entries after one accepted key, want 1", n)
	}
}

func TestEntriesAreKeyedByDigest(t *testing.T) {
	st := newTestStore(t)
	c := newCache(t, st, newClock())
	v, logs := newValidator(t, c)
	expect(t, v, key1a, nil, "sb1")
	expect(t, v, key2, nil, "sb2")
	st.setErr(fmt.Errorf("cannot look up %s", key1b)) // a store that echoes the key
	expect(t, v, key1b, core.ErrUnavailable, "")
	want := map[string]bool{}
	for _, k := range []string{key1a, key2} {
		d := core.Digest(k)
		want[string(d[:])] = true
	}
	keys := c.EntryKeys()
	if len(keys) != 2 {
		t.Fatalf("%d entries, want 2", len(keys))
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("entry key %q is not the SHA-256 of a key", k)
		}
	}
	for _, k := range allKeys {
		if strings.Contains(logs.String(), k) {
			t.Errorf("a key was logged:\n%s", logs)
		}
	}
}

func TestStaleRecheck(t *testing.T) {
	for _, withStatus := range []bool{true, false} {
		t.Run(fmt.Sprintf("status-lookup=%v", withStatus), func(t *testing.T) {
			// fill caches key1a and key1b at t0 and moves the clock to t0+TTL (stale).
			fill := func(t *testing.T) (*testStore, *cache.Cache, *core.Validator, *fakeClock) {
				st := newTestStore(t)
				var inner core.Store = st
				if !withStatus {
					inner = lookupOnly{st}
				}
				clock := newClock()
				c := newCache(t, inner, clock)
				v, _ := newValidator(t, c)
				expect(t, v, key1a, nil, "sb1")
				expect(t, v, key1b, nil, "sb1")
				clock.Advance(time.Second)
				if _, ok := c.PeekSandbox(key1a); ok {
					t.Fatal("PeekSandbox served an entry of age TTL")
				}
				st.lookups.Store(0)
				return st, c, v, clock
			}
			wantCalls := func(t *testing.T, st *testStore, n int64) {
				t.Helper()
				if withStatus && (st.statuses.Load() != n || st.lookups.Load() != 0) {
					t.Errorf("status calls %d, lookups %d; want %d status calls and no lookup", st.statuses.Load(), st.lookups.Load(), n)
				}
				if !withStatus && st.lookups.Load() != n {
					t.Errorf("lookups %d, want %d", st.lookups.Load(), n)
				}
			}

			t.Run("still-running-refreshed", func(t *testing.T) {
				st, c, v, clock := fill(t)
				expect(t, v, key1a, nil, "sb1")
				wantCalls(t, st, 1)
				// Refreshed from the recheck: fresh for a whole TTL again.
				clock.Advance(time.Second - time.Nanosecond)
				expect(t, v, key1a, nil, "sb1")
				wantCalls(t, st, 1)
				if _, ok := c.PeekSandbox(key1a); !ok {
					t.Error("refreshed entry not fresh")
				}
			})
			t.Run("paused-evicted-and-rejected", func(t *testing.T) {
				st, c, v, _ := fill(t)
				if err := st.mem.SetStatus("sb1", core.StatusPaused); err != nil {
					t.Fatal(err)
				}
				expect(t, v, key1a, core.ErrNotRunning, "")
				wantCalls(t, st, 1)
				if c.Len() != 0 {
					t.Errorf("%d entries left; the paused sandbox's keys must all be evicted", c.Len())
				}
			})
			t.Run("deleted-is-invalid-key", func(t *testing.T) {
				st, c, v, _ := fill(t)
				if err := st.mem.Delete("sb1"); err != nil {
					t.Fatal(err)
				}
				expect(t, v, key1a, core.ErrInvalidKey, "")
				if c.Len() != 0 {
					t.Errorf("%d entries left after the sandbox was deleted", c.Len())
				}
			})
			t.Run("store-error-fails-closed", func(t *testing.T) {
				st, _, v, _ := fill(t)
				st.setErr(errors.New("db down"))
				expect(t, v, key1a, core.ErrUnavailable, "")
				expect(t, v, key1a, core.ErrUnavailable, "")
				wantCalls(t, st, 2) // the stale entry is never served without a recheck
				st.setErr(nil)
				expect(t, v, key1a, nil, "sb1")
			})
		})
	}
	t.Run("past-max-stale-is-a-miss", func(t *testing.T) {
		st := newTestStore(t)
		clock := newClock()
		c := newCache(t, st, clock)
		v, _ := newValidator(t, c)
		expect(t, v, key1a, nil, "sb1")
		clock.Advance(10 * time.Second)
		expect(t, v, key1a, nil, "sb1")
		if st.lookups.Load() != 2 || st.statuses.Load() != 0 {
			t.Errorf("lookups %d, status calls %d; want a full lookup past max-stale", st.lookups.Load(), st.statuses.Load())
		}
	})
}

// TestStalenessBound pins the number of docs/design.md §6: without
// invalidation a paused sandbox's key passes for at most TTL after the
// pause; after InvalidateSandbox it does not pass at all.
func TestStalenessBound(t *testing.T) {
	const ttl = time.Second
	const step = 50 * time.Millisecond
	for _, pauseAfter := range []time.Duration{0, step, ttl / 2, ttl - step, ttl, 3 * ttl / 2, 5*ttl + step} {
		t.Run(fmt.Sprintf("pause-at-%v", pauseAfter), func(t *testing.T) {
			st := newTestStore(t)
			clock := newClock()
			c := newCache(t, st, clock, cache.WithTTL(ttl))
			v, _ := newValidator(t, c)
			expect(t, v, key1a, nil, "sb1")
			// Keep the key in use every step until the pause: entries get
			// refreshed by rechecks along the way.
			for el := time.Duration(0); el < pauseAfter; el += step {
				clock.Advance(step)
				expect(t, v, key1a, nil, "sb1")
			}
			if err := st.mem.SetStatus("sb1", core.StatusPaused); err != nil {
				t.Fatal(err)
			}
			pausedAt := clock.Now()
			var lastPass time.Time
			for clock.Now().Before(pausedAt.Add(3 * ttl)) {
				if _, err := v.Validate(context.Background(), key1a); err == nil {
					lastPass = clock.Now()
				} else if !errors.Is(err, core.ErrNotRunning) {
					t.Fatalf("unexpected error %v", err)
				}
				clock.Advance(step)
			}
			if !lastPass.IsZero() && !lastPass.Before(pausedAt.Add(ttl)) {
				t.Errorf("the paused key passed %v after the pause; the bound is TTL = %v", lastPass.Sub(pausedAt), ttl)
			}
			if lastPass.IsZero() && pauseAfter == 0 {
				t.Error("the cache never served the key after the pause: the test does not exercise the cache")
			}
		})
	}
	t.Run("age-counts-from-the-start-of-the-store-call", func(t *testing.T) {
		// The store reads RUNNING, the sandbox is paused while the call is
		// still on its way back (600ms of it): the entry must be fresh for
		// TTL from when the call began, not from when it returned.
		mem := fixture(t)
		clock := newClock()
		slow := core.StoreFunc(func(ctx context.Context, key string) (*core.SandboxInfo, error) {
			info, err := mem.LookupSandbox(ctx, key)
			_ = mem.SetStatus("sb1", core.StatusPaused)
			clock.Advance(600 * time.Millisecond)
			return info, err
		})
		c := newCache(t, lookupOnly{slow}, clock, cache.WithTTL(ttl))
		v, _ := newValidator(t, c)
		pausedAt := clock.Now()
		expect(t, v, key1a, nil, "sb1") // raced with the pause: accepted
		clock.Advance(pausedAt.Add(ttl).Sub(clock.Now()))
		if _, ok := c.PeekSandbox(key1a); ok {
			t.Error("entry still fresh TTL after the store call began")
		}
	})
	t.Run("InvalidateSandbox-no-pass-at-all", func(t *testing.T) {
		st := newTestStore(t)
		clock := newClock()
		c := newCache(t, st, clock, cache.WithTTL(ttl))
		v, _ := newValidator(t, c)
		expect(t, v, key1a, nil, "sb1")
		expect(t, v, key1b, nil, "sb1")
		if err := st.mem.SetStatus("sb1", core.StatusPaused); err != nil {
			t.Fatal(err)
		}
		expect(t, v, key1a, nil, "sb1") // within TTL, no invalidation: still served
		c.InvalidateSandbox("sb1")
		for _, k := range []string{key1a, key1b} {
			expect(t, v, k, core.ErrNotRunning, "")
			if _, ok := c.PeekSandbox(k); ok {
				t.Errorf("PeekSandbox serves %s's sandbox after InvalidateSandbox", k[:12])
			}
		}
	})
}

// TestRealClock runs the fresh and stale paths on the real clock, which the
// Store reads through time.Until rather than time.Now.
func TestRealClock(t *testing.T) {
	st := newTestStore(t)
	long, err := cache.New(st, cache.WithTTL(time.Minute), cache.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	v, _ := newValidator(t, long)
	expect(t, v, key1a, nil, "sb1")
	expect(t, v, key1a, nil, "sb1")
	if st.lookups.Load() != 1 || st.statuses.Load() != 0 {
		t.Errorf("TTL 1m: lookups %d, status calls %d; want a hit", st.lookups.Load(), st.statuses.Load())
	}
	// A TTL of 1ns has passed by the next request: every entry is stale.
	short, err := cache.New(st, cache.WithTTL(time.Nanosecond), cache.WithMaxStale(time.Minute), cache.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	v, _ = newValidator(t, short)
	expect(t, v, key1a, nil, "sb1")
	expect(t, v, key1a, nil, "sb1")
	if st.lookups.Load() != 2 || st.statuses.Load() != 1 {
		t.Errorf("TTL 1ns: lookups %d, status calls %d; want a recheck", st.lookups.Load(), st.statuses.Load())
	}
}

func TestInvalidation(t *testing.T) {
	setup := func(t *testing.T) (*testStore, *cache.Cache, *core.Validator) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		v, _ := newValidator(t, c)
		expect(t, v, key1a, nil, "sb1")
		expect(t, v, key1b, nil, "sb1")
		expect(t, v, key2, nil, "sb2")
		st.lookups.Store(0)
		return st, c, v
	}
	cached := func(c *cache.Cache, k string) bool { _, ok := c.PeekSandbox(k); return ok }

	t.Run("Invalidate", func(t *testing.T) {
		st, c, v := setup(t)
		c.Invalidate(key1a)
		if cached(c, key1a) || !cached(c, key1b) || !cached(c, key2) {
			t.Error("Invalidate(key) must drop exactly that key")
		}
		expect(t, v, key1a, nil, "sb1")
		if st.lookups.Load() != 1 {
			t.Errorf("lookups %d, want 1 after Invalidate", st.lookups.Load())
		}
		c.Invalidate(keyNo) // not cached: a no-op
	})
	t.Run("InvalidateSandbox", func(t *testing.T) {
		_, c, _ := setup(t)
		c.InvalidateSandbox("sb1")
		if cached(c, key1a) || cached(c, key1b) || !cached(c, key2) {
			t.Error("InvalidateSandbox must drop every key of sb1 and only those")
		}
		if n := c.IndexedSandboxes(); n != 1 {
			t.Errorf("index tracks %d sandboxes, want 1", n)
		}
		c.InvalidateSandbox("sb-none")
	})
	t.Run("Flush", func(t *testing.T) {
		_, c, _ := setup(t)
		c.Flush()
		if c.Len() != 0 || c.IndexedSandboxes() != 0 {
			t.Errorf("after Flush: %d entries, %d indexed sandboxes", c.Len(), c.IndexedSandboxes())
		}
	})
}

// TestInvalidationRace: a lookup that began before an invalidation must not
// store its result after the invalidation returned, and a request after the
// invalidation must not join that lookup.
func TestInvalidationRace(t *testing.T) {
	for name, invalidate := range map[string]func(*cache.Cache){
		"Invalidate":        func(c *cache.Cache) { c.Invalidate(key1a) },
		"InvalidateSandbox": func(c *cache.Cache) { c.InvalidateSandbox("sb1") },
		"Flush":             func(c *cache.Cache) { c.Flush() },
	} {
		// start begins a lookup of key1a that reads the sandbox and then
		// blocks; the sandbox is paused and invalidate runs meanwhile.
		start := func(t *testing.T) (*testStore, *cache.Cache, *core.Validator, func(), chan error) {
			st := newTestStore(t)
			c := newCache(t, st, newClock())
			v, _ := newValidator(t, c)
			release := st.block()
			t.Cleanup(release)
			first := make(chan error, 1)
			go func() { _, err := v.Validate(context.Background(), key1a); first <- err }()
			st.waitEntered(t) // it has read RUNNING and is on its way back
			if err := st.mem.SetStatus("sb1", core.StatusPaused); err != nil {
				t.Fatal(err)
			}
			invalidate(c)
			return st, c, v, release, first
		}
		t.Run(name+"/late-result-not-stored", func(t *testing.T) {
			st, c, v, release, first := start(t)
			release()
			if err := <-first; err != nil { // it read RUNNING before the pause
				t.Errorf("request before the invalidation: %v, want accepted", err)
			}
			if c.Len() != 0 {
				t.Fatal("the lookup that began before the invalidation stored its result")
			}
			expect(t, v, key1a, core.ErrNotRunning, "")
			if st.lookups.Load() != 2 {
				t.Errorf("lookups %d, want 2", st.lookups.Load())
			}
		})
		// The later request does not take the earlier lookup's answer. It
		// either makes its own store call at once (Invalidate and Flush
		// take the lookup out of reach) or, after InvalidateSandbox, which
		// cannot tell which lookups will find its sandbox, waits for the
		// earlier one, sees that its answer names the invalidated sandbox,
		// and asks the store again.
		t.Run(name+"/later-request-gets-a-later-answer", func(t *testing.T) {
			st, c, v, release, first := start(t)
			second := make(chan error, 1)
			go func() { _, err := v.Validate(context.Background(), key1a); second <- err }()
			waitFor(t, "the second request to wait", func() bool {
				return st.lookups.Load() == 2 || c.WaitersFor(key1a) == 2
			})
			release()
			<-first
			if err := <-second; !errors.Is(err, core.ErrNotRunning) {
				t.Errorf("request after the invalidation: %v, want not running", err)
			}
			if st.lookups.Load() != 2 {
				t.Errorf("lookups %d, want 2", st.lookups.Load())
			}
		})
	}
}

func TestOneStoreCallPerKey(t *testing.T) {
	const n = 100
	run := func(t *testing.T, st *testStore, c *cache.Cache, v *core.Validator) {
		t.Helper()
		release := st.block()
		defer release()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set(core.HeaderName, key1a)
				ctx, got, err := v.Authenticate(r, core.Route{})
				if err == nil {
					if info, has := core.SandboxFromContext(ctx); got == nil || !has || info.ID != "sb1" {
						err = fmt.Errorf("accepted without sandbox sb1 in context: %v", info)
					}
				}
				errs <- err
			}()
		}
		// Release only once every request is waiting on the shared call
		// (or was served from memory, which a cold key cannot be).
		waitFor(t, "every request to wait on the shared call", func() bool { return c.WaitersFor(key1a) == n })
		release()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("cold-miss", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		v, _ := newValidator(t, c)
		run(t, st, c, v)
		if got := st.calls(); got != 1 {
			t.Errorf("%d concurrent requests with a cold key made %d store calls, want exactly 1", n, got)
		}
	})
	t.Run("stale-recheck", func(t *testing.T) {
		st := newTestStore(t)
		clock := newClock()
		c := newCache(t, st, clock)
		v, _ := newValidator(t, c)
		expect(t, v, key1a, nil, "sb1")
		clock.Advance(time.Second)
		run(t, st, c, v)
		if st.lookups.Load() != 1 || st.statuses.Load() != 1 {
			t.Errorf("%d concurrent rechecks: lookups %d, status calls %d; want 1 and 1", n, st.lookups.Load(), st.statuses.Load())
		}
	})
}

func TestSharedCallCancellation(t *testing.T) {
	t.Run("last-waiter-leaving-cancels", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		defer st.block()()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := c.LookupSandbox(ctx, key1a); done <- err }()
		st.waitEntered(t)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller got %v", err)
		}
		select {
		case <-st.callCtx().Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the store call was not cancelled when its only caller left")
		}
		if c.Len() != 0 {
			t.Error("a cancelled lookup was cached")
		}
	})
	t.Run("one-waiter-leaving-does-not-fail-others", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		release := st.block()
		defer release()
		ctxB, cancelB := context.WithCancel(context.Background())
		doneA, doneB := make(chan error, 1), make(chan error, 1)
		go func() { _, err := c.LookupSandbox(context.Background(), key1a); doneA <- err }()
		st.waitEntered(t)
		go func() { _, err := c.LookupSandbox(ctxB, key1a); doneB <- err }()
		waitFor(t, "both callers to wait on the shared call", func() bool { return c.WaitersFor(key1a) == 2 })
		cancelB()
		if err := <-doneB; !errors.Is(err, context.Canceled) { // at once: B only waits
			t.Errorf("B got %v, want its cancellation", err)
		}
		if err := st.callCtx().Err(); err != nil {
			t.Fatalf("the shared call was cancelled while A still waits: %v", err)
		}
		release()
		if err := <-doneA; err != nil {
			t.Errorf("A failed because B gave up: %v", err)
		}
		if st.lookups.Load() != 1 {
			t.Errorf("lookups %d, want 1 shared call", st.lookups.Load())
		}
	})
	// The first caller runs the store call on its own goroutine. When its
	// request ends while another caller waits, the call goes on for that
	// caller, uncancelled; the first caller gets its cancellation when the
	// call returns (bounded by the call's deadline), not before.
	t.Run("runner-leaving-does-not-fail-others", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		release := st.block()
		defer release()
		ctxA, cancelA := context.WithCancel(context.Background())
		doneA, doneB := make(chan error, 1), make(chan error, 1)
		go func() { _, err := c.LookupSandbox(ctxA, key1a); doneA <- err }()
		st.waitEntered(t)
		go func() { _, err := c.LookupSandbox(context.Background(), key1a); doneB <- err }()
		waitFor(t, "both callers to wait on the shared call", func() bool { return c.WaitersFor(key1a) == 2 })
		cancelA()
		waitFor(t, "A to stop counting as a waiter", func() bool { return c.WaitersFor(key1a) == 1 })
		if err := st.callCtx().Err(); err != nil {
			t.Fatalf("the shared call was cancelled while B still waits: %v", err)
		}
		release()
		if err := <-doneB; err != nil {
			t.Errorf("B failed because A gave up: %v", err)
		}
		if err := <-doneA; !errors.Is(err, context.Canceled) {
			t.Errorf("A got %v, want its cancellation", err)
		}
		if st.lookups.Load() != 1 {
			t.Errorf("lookups %d, want 1 shared call", st.lookups.Load())
		}
		if c.Len() != 1 {
			t.Errorf("%d entries: the call B kept alive must be cached", c.Len())
		}
	})
	t.Run("both-leaving-cancels", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		defer st.block()()
		ctxA, cancelA := context.WithCancel(context.Background())
		ctxB, cancelB := context.WithCancel(context.Background())
		doneA, doneB := make(chan error, 1), make(chan error, 1)
		go func() { _, err := c.LookupSandbox(ctxA, key1a); doneA <- err }()
		st.waitEntered(t)
		go func() { _, err := c.LookupSandbox(ctxB, key1a); doneB <- err }()
		waitFor(t, "both callers to wait on the shared call", func() bool { return c.WaitersFor(key1a) == 2 })
		cancelA()
		waitFor(t, "A to stop counting as a waiter", func() bool { return c.WaitersFor(key1a) == 1 })
		cancelB()
		for name, done := range map[string]chan error{"A": doneA, "B": doneB} {
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("%s got %v, want its cancellation", name, err)
			}
		}
		if !errors.Is(st.callCtx().Err(), context.Canceled) {
			t.Errorf("the call's context: %v, want cancelled once both callers left", st.callCtx().Err())
		}
		if st.lookups.Load() != 1 || c.Len() != 0 {
			t.Errorf("lookups %d, entries %d; want 1 and 0", st.lookups.Load(), c.Len())
		}
	})
	t.Run("bounded-by-lookup-timeout", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock(), cache.WithLookupTimeout(20*time.Millisecond))
		defer st.block()()
		if _, err := c.LookupSandbox(context.Background(), key1a); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the lookup timeout", err)
		}
	})
	t.Run("bounded-by-first-callers-deadline", func(t *testing.T) {
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		defer st.block()()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := c.LookupSandbox(ctx, key1a); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the deadline", err)
		}
		<-st.callCtx().Done()
		if _, ok := st.callCtx().Deadline(); !ok {
			t.Error("the shared call has no deadline")
		}
	})
	t.Run("values-pass-through", func(t *testing.T) {
		type ctxKey struct{}
		st := newTestStore(t)
		c := newCache(t, st, newClock())
		ctx := context.WithValue(context.Background(), ctxKey{}, "trace-1")
		if _, err := c.LookupSandbox(ctx, key1a); err != nil {
			t.Fatal(err)
		}
		if st.callCtx().Value(ctxKey{}) != "trace-1" {
			t.Error("the store call lost the caller's context values")
		}
	})
}

func TestRecordsAreCopies(t *testing.T) {
	st := newTestStore(t)
	c := newCache(t, st, newClock())
	v, _ := newValidator(t, c)
	ctx := context.Background()
	got, err := c.LookupSandbox(ctx, key1a) // the miss
	if err != nil {
		t.Fatal(err)
	}
	scribble := func(info *core.SandboxInfo) {
		info.Status, info.CreatedByUserID, info.ID = core.StatusPaused, "mallory", "sb-evil"
		info.ExposedURLs[0].URL = "http://evil.example"
	}
	scribble(got)
	hit, err := c.LookupSandbox(ctx, key1a) // the hit
	if err != nil {
		t.Fatal(err)
	}
	scribble(hit)
	info, err := v.Validate(ctx, key1a) // the validator's fast path
	if err != nil {
		t.Fatal(err)
	}
	scribble(info)
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	r.Header.Set(core.HeaderName, key1a)
	rctx, _, err := v.Authenticate(r, core.Route{})
	if err != nil {
		t.Fatal(err)
	}
	inCtx, _ := core.SandboxFromContext(rctx)
	scribble(inCtx)
	peek, ok := c.PeekSandbox(key1a)
	if !ok || peek.ID != "sb1" || peek.CreatedByUserID != "u1" || peek.Status != core.StatusRunning ||
		peek.ExposedURLs[0].URL != "http://127.0.0.1:9" {
		t.Errorf("the cached record was poisoned: %+v", peek)
	}
	if st.lookups.Load() != 1 {
		t.Errorf("lookups %d, want 1", st.lookups.Load())
	}
}

func TestPanickingStore(t *testing.T) {
	c := newCache(t, core.StoreFunc(func(ctx context.Context, key string) (*core.SandboxInfo, error) {
		panic("lookup of " + key + " exploded")
	}), newClock())
	v, logs := newValidator(t, c)
	expect(t, v, key1a, core.ErrUnavailable, "")
	if strings.Contains(logs.String(), key1a) {
		t.Errorf("the panic value leaked the key:\n%s", logs)
	}
	_, err := c.LookupSandbox(context.Background(), key1a)
	if err == nil || strings.Contains(err.Error(), key1a) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("panic error %q: want it redacted", err)
	}
	if c.Len() != 0 {
		t.Error("a panic was cached")
	}
}

func TestStoreReturningNothing(t *testing.T) {
	c := newCache(t, core.StoreFunc(func(context.Context, string) (*core.SandboxInfo, error) { return nil, nil }), newClock())
	if _, err := c.LookupSandbox(context.Background(), key1a); err == nil || errors.Is(err, core.ErrNotFound) {
		t.Errorf("nil, nil from the store: got %v, want a backend error", err)
	}
}

func TestSandboxStatusPassThrough(t *testing.T) {
	st := newTestStore(t)
	c := newCache(t, st, newClock())
	if s, err := c.SandboxStatus(context.Background(), "sb3"); err != nil || s != core.StatusPaused {
		t.Errorf("SandboxStatus = %v, %v", s, err)
	}
	if _, err := c.SandboxStatus(context.Background(), "nope"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("unknown sandbox: %v", err)
	}
	c2 := newCache(t, lookupOnly{st}, newClock())
	if _, err := c2.SandboxStatus(context.Background(), "sb1"); !errors.Is(err, cache.ErrNoStatusLookup) {
		t.Errorf("without an inner status lookup: %v", err)
	}
}

func TestCleanupDropsOldEntries(t *testing.T) {
	st := newTestStore(t)
	clock := newClock()
	c := newCache(t, st, clock)
	v, _ := newValidator(t, c)
	expect(t, v, key1a, nil, "sb1")
	clock.Advance(5 * time.Second)
	expect(t, v, key2, nil, "sb2")
	clock.Advance(5 * time.Second) // key1a's entry is now max-stale old, key2's is not
	c.RunCleanup()
	if c.Len() != 1 || c.IndexedSandboxes() != 1 {
		t.Errorf("after cleanup: %d entries, %d sandboxes; want 1 and 1", c.Len(), c.IndexedSandboxes())
	}
	clock.Advance(5 * time.Second)
	c.RunCleanup()
	if c.Len() != 0 || c.IndexedSandboxes() != 0 {
		t.Errorf("after the second cleanup: %d entries, %d sandboxes", c.Len(), c.IndexedSandboxes())
	}
}

func TestCloseStopsEverything(t *testing.T) {
	st := newTestStore(t)
	c, err := cache.New(st, cache.WithCleanupInterval(cache.MinCleanupInterval))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := newValidator(t, c)
	expect(t, v, key1a, nil, "sb1")

	release := st.block()
	defer release()
	inflight := make(chan error, 1)
	go func() { _, err := c.LookupSandbox(context.Background(), key2); inflight <- err }()
	st.waitEntered(t)

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-inflight; !errors.Is(err, context.Canceled) {
		t.Errorf("in-flight lookup after Close: %v, want cancelled", err)
	}
	// The cleanup goroutine and the shared call are gone.
	goleak.VerifyNone(t)
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, ok := c.PeekSandbox(key1a); ok {
		t.Error("a closed cache served an entry")
	}
	if _, err := c.LookupSandbox(context.Background(), key1a); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("lookup on a closed cache: %v, want ErrClosed", err)
	}
	expect(t, v, key1a, core.ErrUnavailable, "") // fail closed: 503
}
