package bench_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/bench/scenario"
)

// build returns fw serving the route under sc, closed at the end of the
// test or benchmark.
func build(tb testing.TB, fw scenario.Framework, sc scenario.Scenario) *scenario.Target {
	tb.Helper()
	// A TTL of a minute: a micro-benchmark runs long enough for the default
	// 2 s to expire, which would measure a status recheck now and then.
	t, err := scenario.Build(fw, sc, scenario.Config{CacheTTL: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(t.Close)
	return t
}

// BenchmarkRoute measures one request through the router and the scenario's
// middleware into a no-op ResponseWriter. The request is built once and
// reused, for every framework alike.
func BenchmarkRoute(b *testing.B) {
	for _, fw := range scenario.Frameworks() {
		b.Run(string(fw), func(b *testing.B) {
			for _, sc := range scenario.MicroScenarios() {
				if !scenario.Supports(fw, sc) {
					continue
				}
				b.Run(string(sc), func(b *testing.B) {
					t := build(b, fw, sc)
					w, r := scenario.NewDiscardWriter(), t.NewRequest()
					want := sc.ExpectedStatus()
					if got := t.ServeOnce(w, r); got != want { // warm up (fills the cache)
						b.Fatalf("status %d, want %d", got, want)
					}
					b.ReportAllocs()
					for b.Loop() {
						if got := t.ServeOnce(w, r); got != want {
							b.Fatalf("status %d, want %d", got, want)
						}
					}
				})
			}
		})
	}
}

// TestScenarioStatuses pins what every benchmark measures: each scenario, on
// each framework, in-process and repeatedly (the cache's first and later
// requests), answers its expected status, and the authenticated scenarios
// reach the handler with a sandbox (the handler answers 500 without one).
func TestScenarioStatuses(t *testing.T) {
	for _, fw := range scenario.Frameworks() {
		for _, sc := range scenario.Scenarios() {
			if !scenario.Supports(fw, sc) {
				continue
			}
			t.Run(string(fw)+"/"+string(sc), func(t *testing.T) {
				tg := build(t, fw, sc)
				w := scenario.NewDiscardWriter()
				want := sc.ExpectedStatus()
				for i := range 3 {
					if got := tg.ServeOnce(w, tg.NewRequest()); got != want {
						t.Fatalf("request %d: status %d, want %d", i, got, want)
					}
					if want == http.StatusOK && w.Len() != len(scenario.Body) {
						t.Fatalf("request %d: %d body bytes, want %d", i, w.Len(), len(scenario.Body))
					}
				}
				if tg.Store != nil {
					n, _ := tg.Store.Calls()
					switch {
					case sc == scenario.Slow && n != 3:
						t.Errorf("uncached slow store called %d times for 3 requests, want 3", n)
					case sc == scenario.SlowCached && n != 1:
						t.Errorf("cached slow store called %d times for 3 requests, want 1", n)
					}
				}
			})
		}
	}
}

// TestWrongKeyIsRejected guards against a scenario that would accept
// anything: the same handlers refuse a request without the fixture's key
// (401), and a request with the fixture's valid key on the route of another
// sandbox (403 from sandboxauth's route binding; echo's KeyAuth answers every
// failure of its validator with 401), so the binding is active in every
// scenario that authenticates.
func TestWrongKeyIsRejected(t *testing.T) {
	for _, fw := range scenario.Frameworks() {
		for _, sc := range scenario.Scenarios() {
			if !scenario.Supports(fw, sc) || sc == scenario.Bare || sc.ExpectedStatus() != http.StatusOK {
				continue
			}
			t.Run(string(fw)+"/"+string(sc), func(t *testing.T) {
				tg := build(t, fw, sc)
				w := scenario.NewDiscardWriter()
				r := tg.NewRequest()
				r.Header.Set("X-Session-API-Key", scenario.UnknownKey)
				if got := tg.ServeOnce(w, r); got != http.StatusUnauthorized {
					t.Fatalf("unknown key: status %d, want 401", got)
				}
				wantOther := http.StatusForbidden
				if sc == scenario.KeyAuth {
					wantOther = http.StatusUnauthorized
				}
				// Twice: the first request fills the cache, the second is a
				// hit, and both must be refused.
				for i := range 2 {
					if got := tg.ServeOnce(w, tg.NewRequestFor("sb-other")); got != wantOther {
						t.Fatalf("valid key on another sandbox's route, request %d: status %d, want %d", i, got, wantOther)
					}
				}
				// The binding refuses the other id, not the key: the route
				// of the key's own sandbox still answers 200 afterwards.
				if got := tg.ServeOnce(w, tg.NewRequest()); got != http.StatusOK {
					t.Fatalf("valid key on its own route: status %d, want 200", got)
				}
			})
		}
	}
}
