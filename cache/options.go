package cache

import (
	"errors"
	"fmt"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

// Defaults and bounds of the options.
const (
	// DefaultTTL is how long an entry is served without asking the store.
	// It is the staleness bound when nothing calls InvalidateSandbox.
	DefaultTTL = 2 * time.Second
	// MaxTTL is the largest TTL New accepts: a longer one would let a
	// paused sandbox's key live on for too long.
	MaxTTL = time.Minute
	// DefaultMaxStaleFactor sets the default max-stale to this many TTLs.
	DefaultMaxStaleFactor = 10
	// MaxMaxStale is the largest max-stale New accepts.
	MaxMaxStale = time.Hour
	// DefaultCleanupInterval is how often expired entries are dropped.
	DefaultCleanupInterval = time.Minute
	// MinCleanupInterval is the shortest non-zero cleanup interval.
	MinCleanupInterval = time.Second
)

// Option configures a Cache.
type Option func(*config) error

type config struct {
	ttl      time.Duration
	maxStale time.Duration // 0 = DefaultMaxStaleFactor * ttl
	timeout  time.Duration
	cleanup  time.Duration
	now      func() time.Time   // nil = the real clock
	observer core.CacheObserver // nil = none
}

// WithTTL sets how long an entry is fresh, i.e. served without a store call.
// Default DefaultTTL; it must be in (0, MaxTTL].
func WithTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 || d > MaxTTL {
			return fmt.Errorf("sandboxauth/cache: TTL must be in (0, %v], got %v", MaxTTL, d)
		}
		c.ttl = d
		return nil
	}
}

// WithMaxStale sets the age up to which a stale entry is rechecked with a
// status lookup instead of being dropped for a full lookup. Default
// DefaultMaxStaleFactor times the TTL (capped at MaxMaxStale); it must be at
// least the TTL and at most MaxMaxStale (checked after all options apply).
func WithMaxStale(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 || d > MaxMaxStale {
			return fmt.Errorf("sandboxauth/cache: max-stale must be in (0, %v], got %v", MaxMaxStale, d)
		}
		c.maxStale = d
		return nil
	}
}

// WithLookupTimeout bounds a shared store call (a miss or a recheck), on top
// of the first waiting caller's own deadline. Default
// core.DefaultLookupTimeout; it must be positive.
func WithLookupTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("sandboxauth/cache: lookup timeout must be positive, got %v", d)
		}
		c.timeout = d
		return nil
	}
}

// WithCleanupInterval sets how often a background goroutine drops entries
// older than max-stale, to free their memory (an old entry is never served
// either way). Default DefaultCleanupInterval; 0 starts no goroutine;
// otherwise at least MinCleanupInterval. Close stops the goroutine.
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || (d > 0 && d < MinCleanupInterval) {
			return fmt.Errorf("sandboxauth/cache: cleanup interval must be 0 or at least %v, got %v", MinCleanupInterval, d)
		}
		c.cleanup = d
		return nil
	}
}

// WithClock sets the clock entries are aged by. Default time.Now. Tests
// inject a fake clock to cross TTL boundaries without sleeping.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("sandboxauth/cache: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithObserver sets the observer told of the cache's events (metrics):
// every hit, miss and stale recheck of a lookup, every entry evicted (a
// status change, a key not found, the cleanup's age limit), every
// Invalidate or InvalidateSandbox and every Flush, each with the number of
// entries held after it. It is called on the request's goroutine, never
// with the cache's lock held; it must be fast and must not block. Default
// none, which costs a nil check. See docs/design.md §9 for the metrics.
func WithObserver(o core.CacheObserver) Option {
	return func(c *config) error {
		if o == nil {
			return errors.New("sandboxauth/cache: nil observer")
		}
		c.observer = o
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	c := config{ttl: DefaultTTL, timeout: core.DefaultLookupTimeout, cleanup: DefaultCleanupInterval}
	for _, o := range opts {
		if o == nil {
			return c, errors.New("sandboxauth/cache: nil option")
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	if c.maxStale == 0 {
		c.maxStale = min(DefaultMaxStaleFactor*c.ttl, MaxMaxStale)
	}
	if c.maxStale < c.ttl {
		return c, fmt.Errorf("sandboxauth/cache: max-stale %v is shorter than the TTL %v", c.maxStale, c.ttl)
	}
	return c, nil
}
