package otelauth_test

import (
	"context"
	"maps"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/otelauth"
)

// Every decision counts once by code; the histogram has one sample per
// decision that had a lookup, by source, in the advertised buckets.
func TestDecisionMetrics(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	us := time.Microsecond
	for _, d := range []core.Decision{
		{Code: core.CodeAccepted, Source: core.SourceCache, Duration: 3 * us, SandboxID: "sb-1"},
		{Code: core.CodeAccepted, Source: core.SourceCache, Duration: 4 * us, SandboxID: "sb-1"},
		{Code: core.CodeAccepted, Source: core.SourceStore, Duration: 2 * time.Millisecond, SandboxID: "sb-1"},
		{Code: core.CodeAccepted, Source: core.SourceRecheck, Duration: 300 * us, SandboxID: "sb-2"},
		{Code: core.CodeInvalidKey, Source: core.SourceStore, Duration: 1500 * us},
		{Code: core.CodeInvalidKey, Source: core.SourceStore, Duration: 700 * us},
		{Code: core.CodeMissingKey, Source: core.SourceNone},
		{Code: core.CodeMalformedKey, Source: core.SourceNone},
		{Code: core.CodeSandboxMismatch, Source: core.SourceCache, Duration: 2 * us, SandboxID: "sb-2"},
		{Code: core.CodeNotRunning, Source: core.SourceStore, Duration: 2 * time.Millisecond, SandboxID: "sb-3"},
		{Code: core.CodeTooManyFailures, Source: core.SourceNone},
		{Code: "a_code_core_adds_later", Source: core.SourceNone},
	} {
		h.obs.ObserveDecision(ctx, d)
	}
	got := h.collect(t)
	equalCounts(t, "decisions", got.counter(t, otelauth.MetricDecisions, otelauth.AttrCode), map[string]int64{
		"accepted": 4, "invalid_session_key": 2, "missing_session_key": 1, "malformed_session_key": 1,
		"sandbox_mismatch": 1, "sandbox_not_running": 1, "too_many_failures": 1, "a_code_core_adds_later": 1,
	})
	if u := got[otelauth.MetricDecisions].Unit; u != "{decision}" {
		t.Errorf("decisions unit %q", u)
	}
	hist := got.histogram(t)
	counts := map[string]int64{}
	for src, dp := range hist {
		counts[src] = int64(dp.Count)
	}
	equalCounts(t, "lookup duration samples by source", counts, map[string]int64{"cache": 3, "store": 4, "recheck": 1})
	wantSums := map[string]float64{"cache": 9e-6, "store": 6.2e-3, "recheck": 3e-4}
	for src, want := range wantSums {
		if s := hist[src].Sum; math.Abs(s-want) > 1e-12 {
			t.Errorf("duration sum{source=%s} = %g, want %g", src, s, want)
		}
	}
	// 2, 3 and 4 µs: the buckets (1, 2.5] and (2.5, 5] µs.
	wantBuckets := make([]uint64, len(otelauth.DurationBuckets)+1)
	wantBuckets[1], wantBuckets[2] = 1, 2
	if b := hist["cache"].BucketCounts; !equalUint(b, wantBuckets) {
		t.Errorf("cache buckets %v, want %v", b, wantBuckets)
	}
	// Nothing for the cache or the feed: those gauges are not reported.
	for _, name := range []string{otelauth.MetricCacheEntries, otelauth.MetricFeedConnected} {
		if v, ok := got.gauge(t, name); ok {
			t.Errorf("%s reported (%d) before any event", name, v)
		}
	}
}

func equalUint(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The request's span gets the code and source, the sandbox id when
// accepted, and one rejection event otherwise; never the sandbox id of a
// rejected key.
func TestSpanAnnotations(t *testing.T) {
	h := newHarness(t)
	for _, d := range []core.Decision{
		{Code: core.CodeAccepted, Source: core.SourceCache, Duration: time.Microsecond, SandboxID: "sb-1"},
		{Code: core.CodeInvalidKey, Source: core.SourceStore, Duration: time.Millisecond},
		{Code: core.CodeNotRunning, Source: core.SourceRecheck, Duration: time.Millisecond, SandboxID: "sb-3"},
		{Code: core.CodeMissingKey, Source: core.SourceNone},
	} {
		ctx, span := h.tracer.Start(context.Background(), string(d.Code))
		h.obs.ObserveDecision(ctx, d)
		span.End()
	}
	ended := h.spans.Ended()
	if len(ended) != 4 {
		t.Fatalf("%d spans ended, want 4", len(ended))
	}
	want := []struct {
		attrs  map[string]string
		events int
	}{
		{map[string]string{"sandboxauth.code": "accepted", "sandboxauth.source": "cache", "sandboxauth.sandbox_id": "sb-1"}, 0},
		{map[string]string{"sandboxauth.code": "invalid_session_key", "sandboxauth.source": "store"}, 1},
		{map[string]string{"sandboxauth.code": "sandbox_not_running", "sandboxauth.source": "recheck"}, 1},
		{map[string]string{"sandboxauth.code": "missing_session_key", "sandboxauth.source": "none"}, 1},
	}
	for i, s := range ended {
		if got := spanAttrs(s); !maps.Equal(got, want[i].attrs) {
			t.Errorf("span %s: attributes %v, want %v", s.Name(), got, want[i].attrs)
		}
		evs := s.Events()
		if len(evs) != want[i].events {
			t.Fatalf("span %s: %d events, want %d", s.Name(), len(evs), want[i].events)
		}
		for _, ev := range evs {
			if ev.Name != otelauth.SpanEventRejected {
				t.Errorf("span %s: event %q, want %q", s.Name(), ev.Name, otelauth.SpanEventRejected)
			}
			if len(ev.Attributes) != 1 || ev.Attributes[0] != attribute.String("sandboxauth.code", s.Name()) {
				t.Errorf("span %s: event attributes %v, want sandboxauth.code=%s", s.Name(), ev.Attributes, s.Name())
			}
		}
	}
}

// No span, a non-recording span, or annotations turned off: metrics only.
func TestSpanAnnotationsOff(t *testing.T) {
	off := newHarness(t, otelauth.WithSpanAnnotations(false))
	ctx, span := off.tracer.Start(context.Background(), "off")
	off.obs.ObserveDecision(ctx, core.Decision{Code: core.CodeInvalidKey, Source: core.SourceStore})
	span.End()
	if s := off.spans.Ended()[0]; len(s.Attributes()) != 0 || len(s.Events()) != 0 {
		t.Errorf("annotations off: span got %v, %v", s.Attributes(), s.Events())
	}
	nonRecording := trace.ContextWithSpanContext(context.Background(), trace.SpanContext{})
	off.obs.ObserveDecision(nonRecording, core.Decision{Code: core.CodeAccepted, Source: core.SourceCache})
	on := newHarness(t)
	on.obs.ObserveDecision(context.Background(), core.Decision{Code: core.CodeAccepted, Source: core.SourceCache})
	on.obs.ObserveDecision(nonRecording, core.Decision{Code: core.CodeInvalidKey, Source: core.SourceStore})
	equalCounts(t, "decisions, annotations off", off.collect(t).counter(t, otelauth.MetricDecisions, otelauth.AttrCode),
		map[string]int64{"invalid_session_key": 1, "accepted": 1})
	equalCounts(t, "decisions without a span", on.collect(t).counter(t, otelauth.MetricDecisions, otelauth.AttrCode),
		map[string]int64{"invalid_session_key": 1, "accepted": 1})
}

func TestCacheMetrics(t *testing.T) {
	h := newHarness(t)
	for _, e := range []struct {
		ev      core.CacheEvent
		entries int
	}{
		{core.CacheMiss, 1}, {core.CacheHit, 1}, {core.CacheHit, 1}, {core.CacheHit, 1},
		{core.CacheMiss, 2}, {core.CacheStaleRecheck, 2}, {core.CacheEviction, 1},
		{core.CacheMiss, 2}, {core.CacheInvalidation, 1}, {core.CacheFlush, 0}, {core.CacheMiss, 1},
		{core.CacheHit, 1},
	} {
		h.obs.ObserveCache(e.ev, e.entries)
	}
	got := h.collect(t)
	equalCounts(t, "cache events", got.counter(t, otelauth.MetricCacheEvents, otelauth.AttrEvent), map[string]int64{
		"hit": 4, "miss": 4, "stale_recheck": 1, "eviction": 1, "invalidation": 1, "flush": 1,
	})
	if v, ok := got.gauge(t, otelauth.MetricCacheEntries); !ok || v != 1 {
		t.Errorf("cache entries %d (reported %v), want 1", v, ok)
	}
	h.obs.ObserveCache(core.CacheFlush, 0)
	if v, ok := h.collect(t).gauge(t, otelauth.MetricCacheEntries); !ok || v != 0 {
		t.Errorf("cache entries after a flush %d (reported %v), want 0", v, ok)
	}
	if _, ok := got.gauge(t, otelauth.MetricFeedConnected); ok {
		t.Error("feed gauge reported without a feed")
	}
}

func TestFeedMetrics(t *testing.T) {
	h := newHarness(t)
	got := h.collect(t)
	if _, ok := got.gauge(t, otelauth.MetricFeedConnected); ok {
		t.Fatal("feed gauge reported before any feed event")
	}
	step := func(name string, wantUp, wantReconnects, wantNotifications int64, evs ...core.FeedEvent) {
		t.Helper()
		for _, ev := range evs {
			h.obs.ObserveFeed(ev)
		}
		got := h.collect(t)
		if v, ok := got.gauge(t, otelauth.MetricFeedConnected); !ok || v != wantUp {
			t.Errorf("%s: feed connected %d (reported %v), want %d", name, v, ok, wantUp)
		}
		equalCounts(t, name+": reconnects", got.counter(t, otelauth.MetricFeedReconnects, ""), nonZero(wantReconnects))
		equalCounts(t, name+": notifications", got.counter(t, otelauth.MetricFeedNotifications, ""), nonZero(wantNotifications))
	}
	step("connected", 1, 0, 0, core.FeedConnected)
	step("notifications", 1, 0, 3, core.FeedNotification, core.FeedNotification, core.FeedNotification)
	step("disconnected", 0, 0, 3, core.FeedDisconnected)
	step("reconnected", 1, 1, 3, core.FeedReconnect, core.FeedConnected, core.FeedFlush)
	step("again", 1, 2, 4, core.FeedDisconnected, core.FeedReconnect, core.FeedConnected, core.FeedFlush, core.FeedNotification)
	step("closed", 0, 2, 4, core.FeedDisconnected)
	if err := h.obs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.obs.Close(); err != nil {
		t.Fatal(err)
	}
	h.obs.ObserveFeed(core.FeedConnected) // harmless after Close
	if _, ok := h.collect(t).gauge(t, otelauth.MetricFeedConnected); ok {
		t.Error("feed gauge still reported after Close")
	}
}

// nonZero is the counter map of a sum without attributes: absent until
// the first increment.
func nonZero(n int64) map[string]int64 {
	if n == 0 {
		return nil
	}
	return map[string]int64{"": n}
}

func TestNewOptions(t *testing.T) {
	if _, err := otelauth.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	if _, err := otelauth.New(otelauth.WithMeterProvider(nil)); err == nil {
		t.Error("WithMeterProvider(nil) succeeded")
	}
	// Default: the global meter provider.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(mp)
	defer otel.SetMeterProvider(prev)
	obs, err := otelauth.New()
	if err != nil {
		t.Fatal(err)
	}
	obs.ObserveDecision(context.Background(), core.Decision{Code: core.CodeAccepted, Source: core.SourceCache})
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if len(rm.ScopeMetrics) != 1 || rm.ScopeMetrics[0].Scope.Name != otelauth.ScopeName {
		t.Fatalf("the global provider got %+v", rm.ScopeMetrics)
	}
}
