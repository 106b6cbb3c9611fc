package cache_test

import (
	"context"
	"errors"
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
