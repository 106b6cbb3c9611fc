package core

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Defaults of the options.
const (
	DefaultMaxKeyLength  = 512
	DefaultLookupTimeout = 5 * time.Second
)

// Option configures a Validator.
type Option func(*config) error

type config struct {
	mode     Mode
	logger   *slog.Logger
	timeout  time.Duration
	maxLen   int
	observer Observer
	limiter  *FailureLimiter
	clientID func(*http.Request) string
}

// WithMode sets the application mode. Default ModeOSS.
func WithMode(m Mode) Option {
	return func(c *config) error {
		if !m.Valid() {
			return fmt.Errorf("sandboxauth: unknown mode %q (want %q or %q)", m, ModeOSS, ModeSaaS)
		}
		c.mode = m
		return nil
	}
}

// WithLogger sets the logger for rejections and store failures. Default
// slog.Default(). The key is never logged, only a short fingerprint of its
// hash; repeated lines are sampled (docs/design.md §8).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("sandboxauth: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithLookupTimeout bounds each store lookup. Default DefaultLookupTimeout;
// it must be positive. A lookup that runs out of time answers 503.
func WithLookupTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("sandboxauth: lookup timeout must be positive, got %v", d)
		}
		c.timeout = d
		return nil
	}
}

// WithMaxKeyLength bounds the length in bytes of a presented key; longer keys
// are rejected before any store call. Default DefaultMaxKeyLength; 1 to 8192.
func WithMaxKeyLength(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 8192 {
			return fmt.Errorf("sandboxauth: max key length must be in [1, 8192], got %d", n)
		}
		c.maxLen = n
		return nil
	}
}

// WithObserver sets the observer told of every decision (metrics, traces).
// Default none, which costs nothing.
func WithObserver(o Observer) Option {
	return func(c *config) error {
		if o == nil {
			return errors.New("sandboxauth: nil observer")
		}
		c.observer = o
		return nil
	}
}

// WithFailureLimiter limits failed session-key attempts per client
// (docs/design.md §8): a client that has used up its budget is answered 429
// "Too many failed attempts, try again later" before any store call, until
// its budget refills. A request whose key is answered from a cache's memory
// is never limited, and accepted requests consume nothing. Default: no
// limit. Clients are told apart by WithClientID.
func WithFailureLimiter(l *FailureLimiter) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("sandboxauth: nil failure limiter")
		}
		c.limiter = l
		return nil
	}
}

// WithClientID sets how the failure limiter tells clients apart. Default
// RemoteAddrClientID, the connection's remote address without its port. Behind
// a reverse proxy every request comes from the proxy's address: pass a
// function that reads the header your proxy sets (and that the proxy
// overwrites, never passes through from the client), e.g.
//
//	core.WithClientID(func(r *http.Request) string { return r.Header.Get("X-Real-Ip") })
//
// An empty identity falls back to the remote address.
func WithClientID(id func(*http.Request) string) Option {
	return func(c *config) error {
		if id == nil {
			return errors.New("sandboxauth: nil client id function")
		}
		c.clientID = id
		return nil
	}
}
