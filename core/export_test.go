package core

import (
	"net/http"
	"time"
)

// Test hooks into unexported parts.

// Responses returns the whole error table in its documented order.
func Responses() []Response {
	out := make([]Response, 0, len(tableOrder))
	for _, c := range tableOrder {
		out = append(out, table[c])
	}
	return out
}

// KeyFromHeader applies the header rules.
func (v *Validator) KeyFromHeader(h http.Header) (string, error) { return v.keyFromHeader(h) }

// HeaderPresent reports whether the header is there at all.
func HeaderPresent(h http.Header) bool { return headerPresent(h) }

// Mode and Logger report the validator's settings.
func (v *Validator) Mode() Mode { return v.mode }

// SetLogClock replaces the log sampler's clock and interval.
func (v *Validator) SetLogClock(now func() time.Time, interval time.Duration) {
	v.logs.now, v.logs.interval = now, interval
}

// NewFailureLimiterForTest builds a limiter with a fake clock and a small table.
func NewFailureLimiterForTest(perMinute, maxClients int, now func() time.Time) *FailureLimiter {
	return newFailureLimiter(perMinute, maxClients, now)
}

// Len returns the number of clients a limiter tracks.
func (l *FailureLimiter) Len() int { return l.tracked() }
