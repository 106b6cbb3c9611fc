package cache_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// TestObserverScript pins the events of a scripted sequence, one by one,
// each with the number of entries after it.
func TestObserverScript(t *testing.T) {
	st := newTestStore(t)
	clock := newClock()
	obs := &recordingObserver{}
	c := newCache(t, st, clock, cache.WithObserver(obs))
	ctx := context.Background()
	lookup := func(key string) { _, _ = c.LookupSandbox(ctx, key) }
	type want = observed
	step := func(name string, do func(), events ...want) {
		t.Helper()
		do()
		got := obs.take()
		if len(got) != len(events) {
			t.Fatalf("%s: events %v, want %v", name, got, events)
		}
		for i := range got {
			if got[i] != events[i] {
				t.Fatalf("%s: events %v, want %v", name, got, events)
			}
		}
	}
	hit, miss, recheck := core.CacheHit, core.CacheMiss, core.CacheStaleRecheck
	evict, inval, flush := core.CacheEviction, core.CacheInvalidation, core.CacheFlush

	step("cold lookup", func() { lookup(key1a) }, want{miss, 0})
	step("peek hit", func() { c.PeekSandbox(key1a) }, want{hit, 1})
	step("lookup hit", func() { lookup(key1a) }, want{hit, 1})
	step("peek miss reports nothing", func() { c.PeekSandbox(keyNo) })
	step("unknown key", func() { lookup(keyNo) }, want{miss, 1})
	step("paused sandbox", func() { lookup(key3) }, want{miss, 1}) // not cached, nothing to evict
	step("second key", func() { lookup(key1b) }, want{miss, 1})
	step("other sandbox", func() { lookup(key2) }, want{miss, 2})
	clock.Advance(time.Second)
	step("stale recheck", func() { lookup(key1a) }, want{recheck, 3})
	step("stale peek reports nothing", func() { c.PeekSandbox(key1b) })
	if err := st.mem.Pause("sb1"); err != nil { // PAUSED and its keys revoked
		t.Fatal(err)
	}
	// key1b's recheck sees PAUSED: both of sb1's entries go.
	step("recheck finds it paused", func() { lookup(key1b) }, want{recheck, 3}, want{evict, 2}, want{evict, 1})
	step("Invalidate", func() { c.Invalidate(key2) }, want{inval, 0})
	step("Invalidate of nothing", func() { c.Invalidate(keyNo) }, want{inval, 0})
	step("refill", func() { lookup(key2) }, want{miss, 0})
	step("InvalidateSandbox", func() { c.InvalidateSandbox("sb2") }, want{inval, 0})
	step("refill", func() { lookup(key2) }, want{miss, 0})
	step("Flush", func() { c.Flush() }, want{flush, 0})
	step("refill", func() { lookup(key2) }, want{miss, 0})
	clock.Advance(time.Second)
	if err := st.mem.Delete("sb2"); err != nil {
		t.Fatal(err)
	}
	step("recheck finds it gone", func() { lookup(key2) }, want{recheck, 1}, want{evict, 0})
	if err := st.mem.Put(key2, core.SandboxInfo{ID: "sb2", Status: core.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	step("refill", func() { lookup(key2) }, want{miss, 0})
	clock.Advance(10 * time.Second)
	step("cleanup past max-stale", func() { c.RunCleanup() }, want{evict, 0})
	step("cleanup of nothing", func() { c.RunCleanup() })
	step("Close reports nothing", func() { _ = c.Close() })
	step("closed", func() { lookup(key2); c.PeekSandbox(key2) })
}

// TestHitPathAllocatesNothing: PeekSandbox, the validator's hit path, makes
// no allocation, with no observer and with one that does nothing.
func TestHitPathAllocatesNothing(t *testing.T) {
	for name, opts := range map[string][]cache.Option{
		"no-observer":  nil,
		"nop-observer": {cache.WithObserver(nopObserver{})},
	} {
		t.Run(name, func(t *testing.T) {
			c := newCache(t, newTestStore(t), nil, append([]cache.Option{cache.WithTTL(time.Minute), cache.WithMaxStale(time.Hour)}, opts...)...)
			if _, err := c.LookupSandbox(context.Background(), key1a); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if _, ok := c.PeekSandbox(key1a); !ok {
					t.Fatal("miss")
				}
			})
			if allocs != 0 {
				t.Errorf("PeekSandbox: %v allocs per hit, want 0", allocs)
			}
		})
	}
}

// TestMissOfUnknownKeyAllocations: an unknown key through the cache costs the
// record of its store call and nothing else.
func TestMissOfUnknownKeyAllocations(t *testing.T) {
	m := core.NewMemoryStore()
	c := newCache(t, m, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	uncached := testing.AllocsPerRun(1000, func() { _, _ = m.LookupSandbox(ctx, keyNo) })
	cached := testing.AllocsPerRun(1000, func() {
		if _, err := c.LookupSandbox(ctx, keyNo); !errors.Is(err, core.ErrNotFound) {
			t.Fatal(err)
		}
	})
	if cached > uncached+1 {
		t.Errorf("a miss of an unknown key: %v allocs through the cache, %v without; want at most one more", cached, uncached)
	}
}

func TestWithObserverRejectsNil(t *testing.T) {
	if c, err := cache.New(core.NewMemoryStore(), cache.WithObserver(nil)); err == nil {
		_ = c.Close()
		t.Error("nil observer accepted")
	}
}

// TestLookupSandboxSource: where each answer came from.
func TestLookupSandboxSource(t *testing.T) {
	for _, withStatus := range []bool{true, false} {
		st := newTestStore(t)
		var inner core.Store = st
		if !withStatus {
			inner = lookupOnly{st}
		}
		clock := newClock()
		c := newCache(t, inner, clock)
		ctx := context.Background()
		check := func(name, key string, want core.Source, wantErr error) {
			t.Helper()
			_, src, err := c.LookupSandboxSource(ctx, key)
			if src != want || !errors.Is(err, wantErr) {
				t.Errorf("status lookup %v, %s: %v, %v; want %v, %v", withStatus, name, src, err, want, wantErr)
			}
		}
		check("miss", key1a, core.SourceStore, nil)
		check("hit", key1a, core.SourceCache, nil)
		check("unknown", keyNo, core.SourceStore, core.ErrNotFound)
		clock.Advance(time.Second)
		check("stale", key1a, core.SourceRecheck, nil) // a full lookup without a status lookup, still a recheck
		check("refreshed", key1a, core.SourceCache, nil)
		clock.Advance(10 * time.Second)
		check("past max-stale", key1a, core.SourceStore, nil)
		gone, cancel := context.WithCancel(ctx)
		cancel()
		if _, src, err := c.LookupSandboxSource(gone, key2); src != core.SourceNone || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled before the lookup: %v, %v", src, err)
		}
		_ = c.Close()
		check("closed", key1a, core.SourceNone, cache.ErrClosed)
	}
}

// panickingObserver panics on the events it is armed for, once each.
type panickingObserver struct {
	mu    sync.Mutex
	armed map[core.CacheEvent]int // event -> panics left
}

func (p *panickingObserver) arm(ev core.CacheEvent, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.armed == nil {
		p.armed = map[core.CacheEvent]int{}
	}
	p.armed[ev] = n
}

func (p *panickingObserver) ObserveCache(ev core.CacheEvent, _ int) {
	p.mu.Lock()
	fire := p.armed[ev] > 0
	if fire {
		p.armed[ev]--
	}
	p.mu.Unlock()
	if fire {
		panic("observer bug " + ev.String())
	}
}

// A panicking CacheObserver is user code failing in the middle of a
// lookup: that request is answered 503, as for a panicking store, and
// nothing is left behind. The flight it started or joined is settled, so the
// next request for the key is served at once, with no second store call for
// a result that was stored.
func TestObserverPanicLeavesNothingBehind(t *testing.T) {
	st := newTestStore(t)
	obs := &panickingObserver{}
	c := newCache(t, st, newClock(), cache.WithObserver(obs))
	v, logs := newValidator(t, c, core.WithLookupTimeout(5*time.Second))

	// The runner's miss panics: 503 for it, the result is still stored.
	obs.arm(core.CacheMiss, 1)
	expect(t, v, key1a, core.ErrUnavailable, "")
	if !strings.Contains(logs.String(), "store panicked: observer bug miss") {
		t.Errorf("the panic was not logged as a failed lookup: %s", logs)
	}
	start := time.Now()
	expect(t, v, key1a, nil, "sb1")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the request after the panic took %v: it waited on a flight nobody finished", d)
	}
	if n := st.calls(); n != 1 {
		t.Errorf("store calls %d, want 1 (the panicking request's lookup, stored)", n)
	}

	// A joiner's miss panics: the joiner gets 503, the runner its answer,
	// and the joiner's wait is accounted for (the runner leaving cancels
	// nothing it should not: the key is served next, from the cache).
	release := st.block()
	runner := make(chan error, 1)
	go func() { _, err := v.Validate(context.Background(), key2); runner <- err }()
	st.waitEntered(t)
	obs.arm(core.CacheMiss, 1)
	joiner := make(chan error, 1)
	go func() { _, err := v.Validate(context.Background(), key2); joiner <- err }()
	waitFor(t, "the joiner's miss", func() bool { obs.mu.Lock(); defer obs.mu.Unlock(); return obs.armed[core.CacheMiss] == 0 })
	release()
	if err := <-runner; err != nil {
		t.Errorf("runner: %v, want accepted", err)
	}
	if err := <-joiner; !errors.Is(err, core.ErrUnavailable) {
		t.Errorf("joiner whose observer panicked: %v, want 503", err)
	}
	expect(t, v, key2, nil, "sb2")
	if n := st.calls(); n != 2 {
		t.Errorf("store calls %d, want 2 (one per key)", n)
	}

	// A hit that panics is answered 503; the next hit is served.
	obs.arm(core.CacheHit, 1)
	expect(t, v, key1a, core.ErrUnavailable, "")
	expect(t, v, key1a, nil, "sb1")
	if n := st.calls(); n != 2 {
		t.Errorf("store calls %d after hits, want still 2", n)
	}
}

// A CacheObserver that panics while a cleanup pass (the cleanup
// goroutine's work) reports its evictions does not end the process: the
// entries are dropped, the panic is logged by slog's default logger, and
// the next pass runs.
func TestCleanupSurvivesObserverPanic(t *testing.T) {
	var logs syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	st := newTestStore(t)
	clock := newClock()
	obs := &panickingObserver{}
	c := newCache(t, st, clock, cache.WithObserver(obs))
	for _, k := range []string{key1a, key2} {
		if _, err := c.LookupSandbox(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	obs.arm(core.CacheEviction, 1)
	clock.Advance(time.Minute) // past max-stale: a cleanup drops both
	c.RunCleanup()             // would panic
	if n := c.Len(); n != 0 {
		t.Errorf("%d entries after the cleanup, want 0", n)
	}
	if l := logs.String(); strings.Count(l, "CacheObserver panicked reporting evictions") != 1 || !strings.Contains(l, "observer bug eviction") {
		t.Errorf("log: %s", l)
	}
	if _, err := c.LookupSandbox(context.Background(), key1a); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	c.RunCleanup()
	if n := c.Len(); n != 0 {
		t.Errorf("%d entries after the next cleanup, want 0", n)
	}
}
