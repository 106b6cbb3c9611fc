package core

import (
	"context"
	"time"
)

// Observer is told of every decision a Validator makes: one call per
// answered session-key request (route-binding rejections included), with
// the outcome, where the answer came from and how long the lookup took. It
// is how metrics and traces see the check (see docs/design.md §9); package
// otelauth implements it with OpenTelemetry, cmd/sandboxd with Prometheus.
//
// ObserveDecision runs on the request's goroutine, after the decision and
// before the answer is written: it must be fast, must not block, and must
// not keep d beyond the call. A Decision never carries the key or anything
// derived from it; its Code and Source are bounded sets, safe as metric
// labels; SandboxID is not (use it on spans and logs only). A panic in
// ObserveDecision reaches the caller of Authenticate (docs/design.md §9).
type Observer interface {
	ObserveDecision(ctx context.Context, d Decision)
}

// CodeAccepted is the Code of a Decision that accepted the key. It is never
// the Code of an *Error.
const CodeAccepted Code = "accepted"

// Decision is one answered session-key request.
type Decision struct {
	Code      Code          // CodeAccepted, or the rejection's code
	Source    Source        // where the sandbox record came from
	Duration  time.Duration // how long the lookup took; 0 for SourceNone
	SandboxID string        // the sandbox concerned, when one was resolved
}

// Source says how a decision was resolved.
type Source uint8

// The sources of a decision.
const (
	// SourceNone: rejected before any lookup (missing or malformed key,
	// failed-attempt limit).
	SourceNone Source = iota
	// SourceCache: answered from a cache's memory without I/O.
	SourceCache
	// SourceRecheck: a stale cache entry whose status was rechecked.
	SourceRecheck
	// SourceStore: a store lookup.
	SourceStore
)

var sourceNames = [...]string{SourceNone: "none", SourceCache: "cache", SourceRecheck: "recheck", SourceStore: "store"}

// String returns "none", "cache", "recheck" or "store".
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "unknown"
}

// CacheEvent is something a cache did; see CacheObserver.
type CacheEvent uint8

// The cache events.
const (
	CacheHit          CacheEvent = iota // a fresh entry answered without I/O
	CacheMiss                           // no usable entry: a full store lookup
	CacheStaleRecheck                   // a stale entry's status was rechecked
	CacheEviction                       // an entry was dropped (status change, not found, age)
	CacheInvalidation                   // Invalidate or InvalidateSandbox was called
	CacheFlush                          // Flush was called (a change feed reconnected)
)

var cacheEventNames = [...]string{CacheHit: "hit", CacheMiss: "miss", CacheStaleRecheck: "stale_recheck",
	CacheEviction: "eviction", CacheInvalidation: "invalidation", CacheFlush: "flush"}

// String returns the event's metric label: "hit", "miss", "stale_recheck",
// "eviction", "invalidation" or "flush".
func (e CacheEvent) String() string {
	if int(e) < len(cacheEventNames) {
		return cacheEventNames[e]
	}
	return "unknown"
}

// CacheObserver is told of a cache's events (package cache's WithObserver).
// entries is the number of entries held after the event. It runs on the
// hot path of every cached request: it must be fast and must not block. A
// panic while the cache answers a request fails that request with 503, as a
// panicking store does (docs/design.md §9).
type CacheObserver interface {
	ObserveCache(ev CacheEvent, entries int)
}

// FeedEvent is something a change feed did; see FeedObserver.
type FeedEvent uint8

// The change feed's events.
const (
	FeedConnected    FeedEvent = iota // listening; changes are being received
	FeedDisconnected                  // the connection was lost; changes may be missed
	FeedReconnect                     // a reconnection succeeded (after FeedDisconnected)
	FeedFlush                         // the cache was flushed (on reconnect, or an empty payload)
	FeedNotification                  // a change notification was received
)

var feedEventNames = [...]string{FeedConnected: "connected", FeedDisconnected: "disconnected",
	FeedReconnect: "reconnect", FeedFlush: "flush", FeedNotification: "notification"}

// String returns "connected", "disconnected", "reconnect", "flush" or "notification".
func (e FeedEvent) String() string {
	if int(e) < len(feedEventNames) {
		return feedEventNames[e]
	}
	return "unknown"
}

// FeedObserver is told of a change feed's events (package store's
// listener option WithFeedObserver).
type FeedObserver interface {
	ObserveFeed(ev FeedEvent)
}
