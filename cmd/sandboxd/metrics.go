package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
)

// The metrics sandboxd serves on --metrics-addr. Their names and labels are
// a contract (docs/design.md §9): dashboards and outside checks rely on
// them. Labels never carry a key, a key fingerprint or a sandbox id.
const (
	metricDecisions         = "sandboxauth_decisions_total"          // {code}
	metricLookupDuration    = "sandboxauth_lookup_duration_seconds"  // histogram {source}
	metricCacheEvents       = "sandboxauth_cache_events_total"       // {event}
	metricCacheEntries      = "sandboxauth_cache_entries"            // gauge
	metricFeedConnected     = "sandboxauth_feed_connected"           // gauge, 0 or 1
	metricFeedReconnects    = "sandboxauth_feed_reconnects_total"    // counter
	metricFeedNotifications = "sandboxauth_feed_notifications_total" // counter
)

// durationBuckets are the lookup histogram's buckets in seconds, from a
// cache hit (about a microsecond) to a lookup that runs into the lookup
// timeout; the same as package otelauth's.
var durationBuckets = []float64{
	0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// decisionCodes are the codes whose series exist (at 0) from the start, so
// that a rate over them is defined before the first rejection of a kind.
var decisionCodes = []core.Code{
	core.CodeAccepted, core.CodeMissingKey, core.CodeMalformedKey, core.CodeInvalidKey, core.CodeNotRunning,
	core.CodeNoUser, core.CodeSandboxMismatch, core.CodeTooManyFailures, core.CodeUnavailable, core.CodeInternal,
}

// metrics is sandboxd's Prometheus registry and the observer that feeds it:
// core.Observer for the validator, core.CacheObserver for the cache and
// core.FeedObserver for the change feed. A nil *metrics (no --metrics-addr)
// hands out no options, so nothing is observed and nothing is paid.
type metrics struct {
	reg *prometheus.Registry

	decisions *prometheus.CounterVec
	byCode    map[core.Code]prometheus.Counter // read-only once built
	bySource  [core.SourceStore + 1]prometheus.Observer

	cacheEvents  [core.CacheFlush + 1]prometheus.Counter
	cacheEntries prometheus.Gauge

	feedConnected     prometheus.Gauge
	feedReconnects    prometheus.Counter
	feedNotifications prometheus.Counter
}

var (
	_ core.Observer      = (*metrics)(nil)
	_ core.CacheObserver = (*metrics)(nil)
	_ core.FeedObserver  = (*metrics)(nil)
)

// newMetrics returns nil when --metrics-addr is off. The cache and feed
// metrics are registered by cacheOptions and listenOptions, so that they
// exist only where there is a cache or a change feed.
func newMetrics(cfg config) *metrics {
	if cfg.MetricsAddr == "" {
		return nil
	}
	m := &metrics{reg: prometheus.NewRegistry(), byCode: map[core.Code]prometheus.Counter{}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricDecisions,
		Help: "Session-key decisions by code: accepted, or the rejection's code. Every answered session-key request counts once.",
	}, []string{"code"})
	for _, c := range decisionCodes {
		m.byCode[c] = m.decisions.WithLabelValues(string(c))
	}
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    metricLookupDuration,
		Help:    "How long a decision's lookup took, by source: cache, recheck or store. Decisions rejected before any lookup are not observed.",
		Buckets: durationBuckets,
	}, []string{"source"})
	for _, s := range []core.Source{core.SourceCache, core.SourceRecheck, core.SourceStore} {
		m.bySource[s] = duration.WithLabelValues(s.String())
	}
	m.reg.MustRegister(m.decisions, duration)
	return m
}

// validatorOptions are the options that wire the validator to m.
func (m *metrics) validatorOptions() []core.Option {
	if m == nil {
		return nil
	}
	return []core.Option{core.WithObserver(m)}
}

// cacheOptions registers the cache metrics and returns the options that
// wire the cache to them.
func (m *metrics) cacheOptions() []cache.Option {
	if m == nil {
		return nil
	}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricCacheEvents,
		Help: "Session-key cache events: hit, miss, stale_recheck, eviction, invalidation, flush.",
	}, []string{"event"})
	for ev := range m.cacheEvents {
		m.cacheEvents[ev] = events.WithLabelValues(core.CacheEvent(ev).String())
	}
	m.cacheEntries = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: metricCacheEntries,
		Help: "Entries held by the session-key cache.",
	})
	m.reg.MustRegister(events, m.cacheEntries)
	return []cache.Option{cache.WithObserver(m)}
}

// listenOptions registers the change-feed metrics and returns the options
// that wire the listener to them.
func (m *metrics) listenOptions() []store.ListenOption {
	if m == nil {
		return nil
	}
	m.feedConnected = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: metricFeedConnected,
		Help: "1 while the PostgreSQL change feed is connected and listening, else 0.",
	})
	m.feedReconnects = prometheus.NewCounter(prometheus.CounterOpts{
		Name: metricFeedReconnects,
		Help: "Successful reconnections of the PostgreSQL change feed.",
	})
	m.feedNotifications = prometheus.NewCounter(prometheus.CounterOpts{
		Name: metricFeedNotifications,
		Help: "Change notifications received by the PostgreSQL change feed.",
	})
	m.reg.MustRegister(m.feedConnected, m.feedReconnects, m.feedNotifications)
	return []store.ListenOption{store.WithFeedObserver(m)}
}

// ObserveDecision implements core.Observer. The series of the known codes
// and sources are resolved in advance: no label lookup, no allocation.
func (m *metrics) ObserveDecision(_ context.Context, d core.Decision) {
	if c := m.byCode[d.Code]; c != nil {
		c.Inc()
	} else {
		m.decisions.WithLabelValues(string(d.Code)).Inc()
	}
	if int(d.Source) < len(m.bySource) && m.bySource[d.Source] != nil { // SourceNone has no series
		m.bySource[d.Source].Observe(d.Duration.Seconds())
	}
}

// ObserveCache implements core.CacheObserver.
func (m *metrics) ObserveCache(ev core.CacheEvent, entries int) {
	if int(ev) < len(m.cacheEvents) {
		m.cacheEvents[ev].Inc()
	}
	m.cacheEntries.Set(float64(entries))
}

// ObserveFeed implements core.FeedObserver.
func (m *metrics) ObserveFeed(ev core.FeedEvent) {
	switch ev {
	case core.FeedConnected:
		m.feedConnected.Set(1)
	case core.FeedDisconnected:
		m.feedConnected.Set(0)
	case core.FeedReconnect:
		m.feedReconnects.Inc()
	case core.FeedNotification:
		m.feedNotifications.Inc()
	}
}

// checkMetricsAddr validates --metrics-addr: off, or a host:port that is
// not the public listener's.
func checkMetricsAddr(c config) error {
	if c.MetricsAddr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(c.MetricsAddr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: want host:port, got %q", c.MetricsAddr)
	}
	if c.MetricsAddr == c.Addr && port != "0" { // port 0: two different ports, chosen at listen time
		return errors.New("--metrics-addr: must differ from --addr (metrics are never served on the public listener)")
	}
	return nil
}

// serveMetrics starts the --metrics-addr listener: GET /metrics in the
// Prometheus text format, 404 for everything else. It logs the bound
// address and returns a function that shuts the listener down. With
// metrics off it does nothing.
func (s *server) serveMetrics(log *slog.Logger) (stop func(), err error) {
	if s.metrics == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
	}))
	mux.HandleFunc("/", notFound)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("sandboxd metrics listener failed", "error", err.Error())
		}
	}()
	log.Info("sandboxd metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
