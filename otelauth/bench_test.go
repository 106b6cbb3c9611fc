package otelauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// benchKey has the length of a real key (32 random bytes, base64url: 43),
// like cache's BenchmarkHit.
const benchKey = "sk-bench-0123456789abcdefghijklmnopqrstuvwx"

// noop is the cheapest observer there is: what an observer costs the
// validator beyond its own work.
type noop struct{}

func (noop) ObserveDecision(context.Context, core.Decision) {}
func (noop) ObserveCache(core.CacheEvent, int)              {}

// hitValidator is the validator over a warm cache, as in cache's
// BenchmarkHit, with the given options; cacheObs, if not nil, observes the
// cache too.
func hitValidator(tb testing.TB, cacheObs core.CacheObserver, opts ...core.Option) *core.Validator {
	tb.Helper()
	m := core.NewMemoryStore()
	err := m.Put(benchKey, core.SandboxInfo{
		ID: "sb-bench", CreatedByUserID: "u1", SandboxSpecID: "spec", Status: core.StatusRunning,
		ExposedURLs: []core.ExposedURL{{Name: "AGENT_SERVER", URL: "http://127.0.0.1:9", Port: 9}},
		CreatedAt:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	if err != nil {
		tb.Fatal(err)
	}
	copts := []cache.Option{cache.WithTTL(cache.MaxTTL), cache.WithCleanupInterval(0)}
	if cacheObs != nil {
		copts = append(copts, cache.WithObserver(cacheObs))
	}
	c, err := cache.New(m, copts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	v, err := core.New(c, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	if _, _, err := v.Authenticate(benchRequest(), core.Route{}); err != nil { // fills the cache
		tb.Fatal(err)
	}
	return v
}

func benchRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(core.HeaderName, benchKey)
	return r
}

// variant is one observer setup of the hit path.
type variant struct {
	name  string
	opts  []core.Option
	cache core.CacheObserver // observes the cache too, or nil
	ctx   func(context.Context) (context.Context, func())
}

// observers are the variants measured: none, a no-op one, and the
// OpenTelemetry one on the SDK (a manual reader: measurements are
// aggregated as in production, never exported), without and with a
// recording request span; the "+cache" ones observe the cache too, as a
// service wired for metrics does.
func observers(tb testing.TB) []variant {
	h := newHarness(tb)
	plain := func(ctx context.Context) (context.Context, func()) { return ctx, func() {} }
	withSpan := func(ctx context.Context) (context.Context, func()) {
		ctx, span := h.tracer.Start(ctx, "request")
		return ctx, func() { span.End() }
	}
	return []variant{
		{"none", nil, nil, plain},
		{"noop", []core.Option{core.WithObserver(noop{})}, nil, plain},
		{"noop+cache", []core.Option{core.WithObserver(noop{})}, noop{}, plain},
		{"otel", []core.Option{core.WithObserver(h.obs)}, nil, plain},
		{"otel+cache", []core.Option{core.WithObserver(h.obs)}, h.obs, plain},
		{"otel+span", []core.Option{core.WithObserver(h.obs)}, nil, withSpan},
	}
}

// BenchmarkHitObserver is a cache hit through Validator.Authenticate (what
// every adapter calls) with no observer, a no-op observer and the
// OpenTelemetry observer. The span variant's span is started before the
// timed loop: only the observer's annotations are measured, on a span
// that accumulates them (attributes are overwritten, events are capped by
// the SDK's span limits).
func BenchmarkHitObserver(b *testing.B) {
	for _, o := range observers(b) {
		b.Run("observer="+o.name, func(b *testing.B) { // benchstat -col /observer
			v := hitValidator(b, o.cache, o.opts...)
			b.Run("seq", func(b *testing.B) {
				b.ReportAllocs()
				ctx, end := o.ctx(context.Background())
				defer end()
				r := benchRequest().WithContext(ctx)
				for b.Loop() {
					if _, _, err := v.Authenticate(r, core.Route{}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					ctx, end := o.ctx(context.Background())
					defer end()
					r := benchRequest().WithContext(ctx)
					for pb.Next() {
						if _, _, err := v.Authenticate(r, core.Route{}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// TestHitPathAllocations pins the cost of an observer on the cached hit
// path: an Authenticate hit allocates exactly once (the request context
// holding the copy of the record), with no observer and with a no-op one,
// on the validator alone or on the cache too.
// The OpenTelemetry observer's count is logged, not pinned: it is the
// SDK's.
func TestHitPathAllocations(t *testing.T) {
	for _, o := range observers(t) {
		v := hitValidator(t, o.cache, o.opts...)
		ctx, end := o.ctx(context.Background())
		r := benchRequest().WithContext(ctx)
		n := testing.AllocsPerRun(1000, func() {
			if _, _, err := v.Authenticate(r, core.Route{}); err != nil {
				t.Fatal(err)
			}
		})
		end()
		switch o.name {
		case "none", "noop", "noop+cache":
			if n != 1 {
				t.Errorf("hit with observer %s: %v allocations, want 1", o.name, n)
			}
		default:
			t.Logf("hit with observer %s: %v allocations", o.name, n)
		}
	}
}
