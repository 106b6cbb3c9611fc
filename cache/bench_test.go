package cache_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// benchKey has the length of a real key (32 random bytes, base64url: 43).
const benchKey = "sk-bench-0123456789abcdefghijklmnopqrstuvwx"

func benchMemStore(b *testing.B) *core.MemoryStore {
	b.Helper()
	m := core.NewMemoryStore()
	err := m.Put(benchKey, core.SandboxInfo{
		ID: "sb-bench", CreatedByUserID: "u1", SandboxSpecID: "spec", Status: core.StatusRunning,
		ExposedURLs: []core.ExposedURL{{Name: "AGENT_SERVER", URL: "http://127.0.0.1:9", Port: 9}},
		CreatedAt:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// slowStore simulates a store 200 µs away (a database round trip).
type slowStore struct{ inner core.Store }

func (s slowStore) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	t := time.NewTimer(200 * time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.inner.LookupSandbox(ctx, key)
}

func benchCached(b *testing.B, inner core.Store) *core.Validator {
	b.Helper()
	c, err := cache.New(inner, cache.WithTTL(cache.MaxTTL), cache.WithCleanupInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return benchValidator(b, c)
}

func benchValidator(b *testing.B, s core.Store) *core.Validator {
	b.Helper()
	v, err := core.New(s)
	if err != nil {
		b.Fatal(err)
	}
	// Warm up (a cache fills here) and check the path accepts.
	if _, _, err := v.Authenticate(benchRequest(), core.Route{}); err != nil {
		b.Fatal(err)
	}
	return v
}

// benchRequest is a request carrying benchKey, as an adapter hands it over.
func benchRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(core.HeaderName, benchKey)
	return r
}

// runValidate measures Validator.Authenticate, what every adapter calls,
// sequentially and in parallel. Its one allocation is the request context
// that holds the copy of the accepted record.
func runValidate(b *testing.B, v *core.Validator) {
	b.Run("seq", func(b *testing.B) {
		b.ReportAllocs()
		r := benchRequest()
		for b.Loop() {
			if _, _, err := v.Authenticate(r, core.Route{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := benchRequest()
			for pb.Next() {
				if _, _, err := v.Authenticate(r, core.Route{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkHit is a cache hit through the validator: digest, map read,
// policy, copy into the request context.
func BenchmarkHit(b *testing.B) { runValidate(b, benchCached(b, benchMemStore(b))) }

// BenchmarkUncachedMemStore is the validator on the in-memory store, no cache.
func BenchmarkUncachedMemStore(b *testing.B) { runValidate(b, benchValidator(b, benchMemStore(b))) }

// BenchmarkSlowStore200us is a store with 200 µs of latency, with and
// without the cache in front.
func BenchmarkSlowStore200us(b *testing.B) {
	b.Run("uncached", func(b *testing.B) { runValidate(b, benchValidator(b, slowStore{benchMemStore(b)})) })
	b.Run("cached", func(b *testing.B) { runValidate(b, benchCached(b, slowStore{benchMemStore(b)})) })
}

// BenchmarkDigest is the floor of a hit: SHA-256 of a 43-byte key.
func BenchmarkDigest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = core.Digest(benchKey)
	}
}

// BenchmarkReject is an unknown key through the validator, on the in-memory
// store without and with the cache (bench's reject and reject-cached
// scenarios without the router): unknown keys are never cached, so the
// cached row is a miss and a store call every time, run by the request's own
// goroutine.
func BenchmarkReject(b *testing.B) {
	const unknown = "sk-bench-unknown-0123456789abcdefghijklmnop"
	run := func(b *testing.B, v *core.Validator) {
		b.ReportAllocs()
		r := benchRequest()
		r.Header.Set(core.HeaderName, unknown)
		for b.Loop() {
			if _, _, err := v.Authenticate(r, core.Route{}); err != core.ErrInvalidKey {
				b.Fatal(err)
			}
		}
	}
	b.Run("uncached", func(b *testing.B) { run(b, benchValidator(b, benchMemStore(b))) })
	b.Run("cached", func(b *testing.B) { run(b, benchCached(b, benchMemStore(b))) })
}

// nopObserver is the cheapest CacheObserver there is.
type nopObserver struct{}

func (nopObserver) ObserveCache(core.CacheEvent, int) {}

// BenchmarkPeek is the hit path, PeekSandbox, without an observer and with
// one that does nothing: both allocate nothing.
func BenchmarkPeek(b *testing.B) {
	for name, opts := range map[string][]cache.Option{
		"no-observer":  nil,
		"nop-observer": {cache.WithObserver(nopObserver{})},
	} {
		b.Run(name, func(b *testing.B) {
			c, err := cache.New(benchMemStore(b), append([]cache.Option{cache.WithTTL(cache.MaxTTL), cache.WithCleanupInterval(0)}, opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := c.LookupSandbox(context.Background(), benchKey); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := c.PeekSandbox(benchKey); !ok {
					b.Fatal("miss")
				}
			}
		})
	}
}
