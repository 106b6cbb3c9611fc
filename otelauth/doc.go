// Package otelauth reports sandboxauth's session-key decisions, cache
// events and change-feed events to OpenTelemetry: counters, a duration
// histogram, gauges, and attributes and events on the request's current
// span. It depends on the OpenTelemetry API only (go.opentelemetry.io/otel,
// otel/metric, otel/trace): the SDK, exporters and providers are the
// application's choice, set globally or passed with WithMeterProvider.
//
// One Observer serves the three hooks of docs/design.md §9:
//
//	obs, err := otelauth.New()                          // the global meter provider
//	c, err := cache.New(st, cache.WithObserver(obs))    // cache events, entries
//	v, err := core.New(c, core.WithObserver(obs))       // decisions
//	l, err := store.Listen(ctx, pgURL, c, store.WithFeedObserver(obs)) // change feed (PostgreSQL)
//
// # Metrics
//
//	sandboxauth.decisions            Int64Counter        {code}    every answered session-key request, once
//	sandboxauth.lookup.duration      Float64Histogram s  {source}  cache | recheck | store (none: not recorded)
//	sandboxauth.cache.events         Int64Counter        {event}   hit | miss | stale_recheck | eviction | invalidation | flush
//	sandboxauth.cache.entries        Int64ObservableGauge          entries after the last cache event
//	sandboxauth.feed.connected       Int64ObservableGauge          1 while the change feed listens, else 0
//	sandboxauth.feed.reconnects      Int64Counter                  successful reconnections
//	sandboxauth.feed.notifications   Int64Counter                  notifications received
//
// The attribute keys are code, source and event, with bounded values;
// never a key, a key's fingerprint or a sandbox id. Through
// OpenTelemetry's Prometheus exporter the names read as cmd/sandboxd
// serves them: sandboxauth_decisions_total{code},
// sandboxauth_lookup_duration_seconds{source}, and so on. The two gauges
// are reported only once their cache or feed has reported an event, so a
// service without a change feed shows no feed gauge.
//
// # Spans
//
// The Observer starts no span: it annotates the one the request's context
// already carries (otelhttp's server span, or your framework's), when it is
// recording. Every decision sets sandboxauth.code and sandboxauth.source;
// an accepted one sets sandboxauth.sandbox_id; a rejected one adds the
// event "sandboxauth.rejected" with sandboxauth.code. The option
// WithSpanAnnotations(false) turns this off.
//
// # Cost
//
// The instruments' attribute sets are built once in New, so a decision
// adds no allocation of the Observer's own to a cache hit (the SDK's
// aggregation may); annotating a recording span adds one. See
// BenchmarkHitObserver.
package otelauth
