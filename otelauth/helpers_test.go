package otelauth_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sandboxauth/sandboxauth/otelauth"
)

// harness is an Observer on an SDK meter provider read by hand, and a
// tracer whose spans are recorded.
type harness struct {
	obs    *otelauth.Observer
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tracer trace.Tracer
}

func newHarness(t testing.TB, opts ...otelauth.Option) *harness {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	obs, err := otelauth.New(append([]otelauth.Option{otelauth.WithMeterProvider(mp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{obs: obs, reader: reader, spans: rec, tracer: tp.Tracer("test")}
}

// collected is one collection, by instrument name.
type collected map[string]metricdata.Metrics

func (h *harness) collect(t testing.TB) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := collected{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelauth.ScopeName {
			t.Fatalf("scope %q, want %q", sm.Scope.Name, otelauth.ScopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// attrValue returns the value of key in set ("" when absent), and fails
// the test when set has any other attribute.
func attrValue(t testing.TB, set attribute.Set, key string) string {
	t.Helper()
	for _, kv := range set.ToSlice() {
		if string(kv.Key) != key {
			t.Fatalf("unexpected metric attribute %s=%s (only %q is allowed)", kv.Key, kv.Value.String(), key)
		}
	}
	v, _ := set.Value(attribute.Key(key))
	return v.AsString()
}

// counter returns a monotonic cumulative int64 sum's values by the value
// of key ("" for a sum without attributes); nil when the metric is absent.
func (c collected) counter(t testing.TB, name, key string) map[string]int64 {
	t.Helper()
	m, ok := c[name]
	if !ok {
		return nil
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok || !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality {
		t.Fatalf("%s: %T (monotonic %v), want a cumulative monotonic int64 sum", name, m.Data, sum.IsMonotonic)
	}
	out := map[string]int64{}
	for _, dp := range sum.DataPoints {
		out[attrValue(t, dp.Attributes, key)] += dp.Value
	}
	return out
}

// gauge returns an int64 gauge's single value; ok is false when the metric
// or its data point is absent.
func (c collected) gauge(t testing.TB, name string) (v int64, ok bool) {
	t.Helper()
	m, present := c[name]
	if !present {
		return 0, false
	}
	g, isGauge := m.Data.(metricdata.Gauge[int64])
	if !isGauge {
		t.Fatalf("%s: %T, want an int64 gauge", name, m.Data)
	}
	switch len(g.DataPoints) {
	case 0:
		return 0, false
	case 1:
		if g.DataPoints[0].Attributes.Len() != 0 {
			t.Fatalf("%s: attributes %v, want none", name, g.DataPoints[0].Attributes.ToSlice())
		}
		return g.DataPoints[0].Value, true
	}
	t.Fatalf("%s: %d data points, want 1", name, len(g.DataPoints))
	return 0, false
}

// histogram returns the duration histogram's data points by source.
func (c collected) histogram(t testing.TB) map[string]metricdata.HistogramDataPoint[float64] {
	t.Helper()
	m, ok := c[otelauth.MetricLookupDuration]
	if !ok {
		return nil
	}
	if m.Unit != "s" {
		t.Fatalf("%s: unit %q, want s", m.Name, m.Unit)
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok || h.Temporality != metricdata.CumulativeTemporality {
		t.Fatalf("%s: %T, want a cumulative float64 histogram", m.Name, m.Data)
	}
	out := map[string]metricdata.HistogramDataPoint[float64]{}
	for _, dp := range h.DataPoints {
		src := attrValue(t, dp.Attributes, otelauth.AttrSource)
		if !slices.Equal(dp.Bounds, otelauth.DurationBuckets) {
			t.Fatalf("%s{source=%s}: bounds %v, want DurationBuckets", m.Name, src, dp.Bounds)
		}
		out[src] = dp
	}
	return out
}

func equalCounts(t testing.TB, what string, got, want map[string]int64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// spanAttrs returns a span's attributes as strings.
func spanAttrs(s sdktrace.ReadOnlySpan) map[string]string {
	out := map[string]string{}
	for _, kv := range s.Attributes() {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}
