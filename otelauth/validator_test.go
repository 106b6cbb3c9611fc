package otelauth_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/otelauth"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// A real validator behind a cache, both observed, mounted with
// stdlib.Middleware on a bound route, answers a known mix of requests: the
// counters, the histogram, the cache's events and the request spans must
// say exactly what happened.
func TestValidatorThroughStdlib(t *testing.T) {
	h := newHarness(t)
	ms := core.NewMemoryStore()
	put := func(key, id string, st core.Status) {
		t.Helper()
		if err := ms.Put(key, core.SandboxInfo{ID: id, CreatedByUserID: "u1", Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	put("key-running-0123456789abcdefghijklmnopqrstu", "sb-1", core.StatusRunning)
	put("key-other-0123456789abcdefghijklmnopqrstuvw", "sb-2", core.StatusRunning)
	put("key-paused-0123456789abcdefghijklmnopqrstuv", "sb-3", core.StatusPaused)
	c, err := cache.New(ms, cache.WithTTL(time.Minute), cache.WithCleanupInterval(0), cache.WithObserver(h.obs))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := core.New(c, core.WithObserver(h.obs), core.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := stdlib.Middleware(v, stdlib.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := stdlib.Sandbox(r)
		_, _ = io.WriteString(w, info.ID)
	})
	// The server span, as otelhttp would start it, around the middleware.
	withSpan := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, span := h.tracer.Start(r.Context(), r.Header.Get("X-Case"))
			defer span.End()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /sandboxes/{sandbox_id}/x", withSpan(auth(ok)))

	send := func(label, sandbox string, keys ...string) int {
		r := httptest.NewRequest(http.MethodGet, "/sandboxes/"+sandbox+"/x", nil)
		r.Header.Set("X-Case", label)
		for _, k := range keys {
			r.Header.Add(core.HeaderName, k)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code
	}
	mix := []struct {
		label, sandbox string
		keys           []string
		status         int
		n              int
	}{
		{"accepted", "sb-1", []string{"key-running-0123456789abcdefghijklmnopqrstu"}, 200, 5},
		{"invalid_session_key", "sb-1", []string{"key-unknown-0123456789abcdefghijklmnopqrst"}, 401, 3},
		{"missing_session_key", "sb-1", nil, 401, 2},
		{"sandbox_not_running", "sb-3", []string{"key-paused-0123456789abcdefghijklmnopqrstuv"}, 401, 2},
		{"sandbox_mismatch", "sb-1", []string{"key-other-0123456789abcdefghijklmnopqrstuvw"}, 403, 1},
		{"malformed_session_key", "sb-1", []string{"a", "b"}, 401, 1},
	}
	for _, m := range mix {
		for range m.n {
			if got := send(m.label, m.sandbox, m.keys...); got != m.status {
				t.Fatalf("%s: status %d, want %d", m.label, got, m.status)
			}
		}
	}

	got := h.collect(t)
	equalCounts(t, "decisions", got.counter(t, otelauth.MetricDecisions, otelauth.AttrCode), map[string]int64{
		"accepted": 5, "invalid_session_key": 3, "missing_session_key": 2, "sandbox_not_running": 2,
		"sandbox_mismatch": 1, "malformed_session_key": 1,
	})
	// The first accepted request and the mismatch filled the cache from the
	// store; the other four accepted were hits. Unknown and paused keys are
	// never cached: a store lookup each. The missing and malformed headers
	// were rejected before any lookup: no sample.
	samples := map[string]int64{}
	for src, dp := range got.histogram(t) {
		samples[src] = int64(dp.Count)
	}
	equalCounts(t, "lookup samples by source", samples, map[string]int64{"store": 1 + 3 + 2 + 1, "cache": 4})
	// The cache saw the same: four hits and a miss for every store lookup.
	equalCounts(t, "cache events", got.counter(t, otelauth.MetricCacheEvents, otelauth.AttrEvent),
		map[string]int64{"hit": 4, "miss": 1 + 3 + 2 + 1})
	// It holds the two running keys (the mismatched one was accepted by the
	// store): the gauge says so from the next event on.
	if code := send("accepted", "sb-1", "key-running-0123456789abcdefghijklmnopqrstu"); code != 200 {
		t.Fatalf("one more hit: %d", code)
	}
	if n, ok := h.collect(t).gauge(t, otelauth.MetricCacheEntries); !ok || n != 2 {
		t.Errorf("cache entries %d (reported %v), want 2", n, ok)
	}

	spans := h.spans.Ended()
	if len(spans) != 15 {
		t.Fatalf("%d spans, want 15", len(spans))
	}
	for _, s := range spans {
		attrs := spanAttrs(s)
		code := s.Name()
		if attrs["sandboxauth.code"] != code {
			t.Errorf("span %s: sandboxauth.code %q", code, attrs["sandboxauth.code"])
		}
		id, hasID := attrs["sandboxauth.sandbox_id"]
		rejected := 0
		for _, ev := range s.Events() {
			if ev.Name == otelauth.SpanEventRejected {
				rejected++
			}
		}
		if code == "accepted" {
			if id != "sb-1" || rejected != 0 {
				t.Errorf("accepted span: sandbox_id %q, %d rejection events", id, rejected)
			}
		} else if hasID || rejected != 1 {
			t.Errorf("span %s: sandbox_id %q (present %v), %d rejection events, want none and 1", code, id, hasID, rejected)
		}
	}
}
