package otelauth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sandboxauth/sandboxauth/core"
)

// ScopeName is the instrumentation scope of the meter the Observer creates.
const ScopeName = "github.com/sandboxauth/sandboxauth/otelauth"

// The instruments' names. Through OpenTelemetry's Prometheus exporter they
// read as the names sandboxd serves (sandboxauth_decisions_total,
// sandboxauth_lookup_duration_seconds, ...): see docs/design.md §9.
const (
	MetricDecisions         = "sandboxauth.decisions"          // Int64Counter {code}
	MetricLookupDuration    = "sandboxauth.lookup.duration"    // Float64Histogram, seconds {source}
	MetricCacheEvents       = "sandboxauth.cache.events"       // Int64Counter {event}
	MetricCacheEntries      = "sandboxauth.cache.entries"      // Int64ObservableGauge
	MetricFeedConnected     = "sandboxauth.feed.connected"     // Int64ObservableGauge, 0 or 1
	MetricFeedReconnects    = "sandboxauth.feed.reconnects"    // Int64Counter
	MetricFeedNotifications = "sandboxauth.feed.notifications" // Int64Counter
)

// The metric attributes' keys: bounded sets, never a key, a key's
// fingerprint or a sandbox id.
const (
	AttrCode   = "code"   // core.CodeAccepted or a rejection's core.Code
	AttrSource = "source" // "cache", "recheck" or "store"
	AttrEvent  = "event"  // a core.CacheEvent: "hit", "miss", ...
)

// What the Observer puts on the request's current span.
const (
	SpanAttrCode      = "sandboxauth.code"       // every decision
	SpanAttrSource    = "sandboxauth.source"     // every decision: "none", "cache", "recheck" or "store"
	SpanAttrSandboxID = "sandboxauth.sandbox_id" // accepted decisions only
	SpanEventRejected = "sandboxauth.rejected"   // a span event on every rejection, with SpanAttrCode
)

// DurationBuckets are the lookup-duration histogram's bucket boundaries in
// seconds, from a cache hit (about a microsecond) to a lookup that runs
// into core.DefaultLookupTimeout. They are advisory: an SDK View overrides
// them.
var DurationBuckets = []float64{
	0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// Observer records sandboxauth's decisions, cache events and change-feed
// events as OpenTelemetry metrics, and annotates the request's current span.
// It implements core.Observer, core.CacheObserver and core.FeedObserver;
// one Observer can serve a validator, its cache and its change feed. Build
// it with New. It is safe for concurrent use.
type Observer struct {
	decisions     metric.Int64Counter
	duration      metric.Float64Histogram
	cacheEvents   metric.Int64Counter
	reconnects    metric.Int64Counter
	notifications metric.Int64Counter
	reg           metric.Registration
	closeOnce     sync.Once
	closeErr      error
	spans         bool

	// Measurement options built once, so that a decision allocates nothing
	// for its attributes. Read-only after New.
	codes   map[core.Code]*codeAttrs
	sources [core.SourceStore + 1]sourceAttrs
	events  [core.CacheFlush + 1][]metric.AddOption

	entries   atomic.Int64 // cache entries after the last cache event
	cacheSeen atomic.Bool  // a cache event was observed: report entries
	feedUp    atomic.Int64 // 1 while the change feed is connected
	feedSeen  atomic.Bool  // a feed event was observed: report feedUp
}

type codeAttrs struct {
	add   []metric.AddOption // code=<code>
	span  attribute.KeyValue // sandboxauth.code=<code>
	event []trace.EventOption
}

type sourceAttrs struct {
	record []metric.RecordOption // source=<source>
	span   attribute.KeyValue    // sandboxauth.source=<source>
}

var (
	_ core.Observer      = (*Observer)(nil)
	_ core.CacheObserver = (*Observer)(nil)
	_ core.FeedObserver  = (*Observer)(nil)
)

// knownCodes are the codes whose attributes New builds in advance; any
// other code (one added to core later) still counts, at the cost of an
// allocation per decision.
var knownCodes = []core.Code{
	core.CodeAccepted, core.CodeMissingKey, core.CodeMalformedKey, core.CodeInvalidKey, core.CodeNotRunning,
	core.CodeNoUser, core.CodeSandboxMismatch, core.CodeOwnerRequired, core.CodeUnknownCaller,
	core.CodeOwnerMismatch, core.CodeTooManyFailures, core.CodeUnavailable, core.CodeInternal,
}

// Option configures New.
type Option func(*config) error

type config struct {
	mp    metric.MeterProvider
	spans bool
}

// WithMeterProvider sets the meter provider the instruments are created
// with. Default: the global one, otel.GetMeterProvider(), read when New
// runs (a global provider set later is delegated to by the API).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if mp == nil {
			return errors.New("sandboxauth/otelauth: nil meter provider")
		}
		c.mp = mp
		return nil
	}
}

// WithSpanAnnotations turns the attributes and events on the request's
// current span on or off. Default on. The Observer creates no spans, so it
// needs no tracer provider: it annotates the span that ctx already carries
// (the server span of otelhttp, otelgin, otelecho, ...), and does nothing
// when that span is not recording.
func WithSpanAnnotations(on bool) Option {
	return func(c *config) error {
		c.spans = on
		return nil
	}
}

// New creates the instruments and returns the Observer. Pass it to
// core.WithObserver, cache.WithObserver and store.WithFeedObserver.
func New(opts ...Option) (*Observer, error) {
	c := config{spans: true}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("sandboxauth/otelauth: nil option")
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	m := c.mp.Meter(ScopeName)
	o := &Observer{spans: c.spans, codes: make(map[core.Code]*codeAttrs, len(knownCodes))}
	var err, e error
	o.decisions, e = m.Int64Counter(MetricDecisions, metric.WithUnit("{decision}"),
		metric.WithDescription("Session-key decisions, by code (accepted or the rejection's code)."))
	err = errors.Join(err, e)
	o.duration, e = m.Float64Histogram(MetricLookupDuration, metric.WithUnit("s"),
		metric.WithDescription("How long a decision's lookup took, by source (cache, recheck, store)."),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	err = errors.Join(err, e)
	o.cacheEvents, e = m.Int64Counter(MetricCacheEvents, metric.WithUnit("{event}"),
		metric.WithDescription("Session-key cache events, by event."))
	err = errors.Join(err, e)
	o.reconnects, e = m.Int64Counter(MetricFeedReconnects, metric.WithUnit("{reconnect}"),
		metric.WithDescription("Successful reconnections of the change feed."))
	err = errors.Join(err, e)
	o.notifications, e = m.Int64Counter(MetricFeedNotifications, metric.WithUnit("{notification}"),
		metric.WithDescription("Change notifications received by the change feed."))
	err = errors.Join(err, e)
	entries, e := m.Int64ObservableGauge(MetricCacheEntries, metric.WithUnit("{entry}"),
		metric.WithDescription("Entries held by the session-key cache."))
	err = errors.Join(err, e)
	connected, e := m.Int64ObservableGauge(MetricFeedConnected,
		metric.WithDescription("1 while the change feed is connected and listening, else 0."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	o.reg, err = m.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		// Reported once the cache or the feed has said something, so that
		// a service without a feed has no feed gauge.
		if o.cacheSeen.Load() {
			obs.ObserveInt64(entries, o.entries.Load())
		}
		if o.feedSeen.Load() {
			obs.ObserveInt64(connected, o.feedUp.Load())
		}
		return nil
	}, entries, connected)
	if err != nil {
		return nil, err
	}

	for _, code := range knownCodes {
		o.codes[code] = newCodeAttrs(code)
	}
	for s := range o.sources {
		src := core.Source(s)
		o.sources[s] = sourceAttrs{
			record: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrSource, src.String())))},
			span:   attribute.String(SpanAttrSource, src.String()),
		}
	}
	for ev := range o.events {
		o.events[ev] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrEvent, core.CacheEvent(ev).String())))}
	}
	return o, nil
}

func newCodeAttrs(code core.Code) *codeAttrs {
	kv := attribute.String(SpanAttrCode, string(code))
	return &codeAttrs{
		add:   []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrCode, string(code))))},
		span:  kv,
		event: []trace.EventOption{trace.WithAttributes(kv)},
	}
}

// Close unregisters the gauges' callback: the cache-entries and
// feed-connected gauges are no longer reported. The counters and the
// histogram belong to the meter provider and stay until it shuts down.
// Observing after Close is harmless. It is safe to call more than once.
func (o *Observer) Close() error {
	o.closeOnce.Do(func() { o.closeErr = o.reg.Unregister() })
	return o.closeErr
}

// ObserveDecision implements core.Observer: it counts the decision by code,
// records the lookup's duration by source (decisions rejected before any
// lookup have none and are not recorded), and, when ctx carries a
// recording span, sets sandboxauth.code and sandboxauth.source on it, plus
// sandboxauth.sandbox_id when accepted, or adds a "sandboxauth.rejected"
// event carrying the code when rejected.
func (o *Observer) ObserveDecision(ctx context.Context, d core.Decision) {
	a := o.codes[d.Code]
	if a == nil {
		a = newCodeAttrs(d.Code)
	}
	o.decisions.Add(ctx, 1, a.add...)
	var src *sourceAttrs
	if int(d.Source) < len(o.sources) {
		src = &o.sources[d.Source]
	}
	if d.Source != core.SourceNone && src != nil {
		o.duration.Record(ctx, d.Duration.Seconds(), src.record...)
	}
	if !o.spans {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	srcKV := attribute.String(SpanAttrSource, d.Source.String())
	if src != nil {
		srcKV = src.span
	}
	if d.Code == core.CodeAccepted {
		if d.SandboxID != "" {
			span.SetAttributes(a.span, srcKV, attribute.String(SpanAttrSandboxID, d.SandboxID))
		} else {
			span.SetAttributes(a.span, srcKV)
		}
		return
	}
	span.SetAttributes(a.span, srcKV)
	span.AddEvent(SpanEventRejected, a.event...)
}

// ObserveCache implements core.CacheObserver: it counts the event and keeps
// the number of entries for the sandboxauth.cache.entries gauge.
func (o *Observer) ObserveCache(ev core.CacheEvent, entries int) {
	if int(ev) < len(o.events) {
		o.cacheEvents.Add(context.Background(), 1, o.events[ev]...)
	} else {
		o.cacheEvents.Add(context.Background(), 1, metric.WithAttributes(attribute.String(AttrEvent, ev.String())))
	}
	// Written only when it changes: every hit reports, and a store to a
	// shared word on every hit would bounce it between cores.
	if n := int64(entries); o.entries.Load() != n {
		o.entries.Store(n)
	}
	if !o.cacheSeen.Load() {
		o.cacheSeen.Store(true)
	}
}

// ObserveFeed implements core.FeedObserver: FeedConnected and
// FeedDisconnected set the sandboxauth.feed.connected gauge to 1 and 0,
// FeedReconnect and FeedNotification are counted. FeedFlush is not
// counted here: the cache counts its flushes (event "flush").
func (o *Observer) ObserveFeed(ev core.FeedEvent) {
	switch ev {
	case core.FeedConnected:
		o.feedUp.Store(1)
	case core.FeedDisconnected:
		o.feedUp.Store(0)
	case core.FeedReconnect:
		o.reconnects.Add(context.Background(), 1)
	case core.FeedNotification:
		o.notifications.Add(context.Background(), 1)
	}
	o.feedSeen.Store(true)
}
