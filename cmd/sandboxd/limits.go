package main

import (
	"fmt"
	"strconv"

	"github.com/sandboxauth/sandboxauth/core"
)

// Bounds of the load one client can put on sandboxd and its database
// (docs/design.md §8, §10).
const (
	// defaultDBMaxConns is --db-max-conns' default. A fleet shares
	// PostgreSQL's connections (100 by default): four instances at 25 leave
	// room for the change feeds (one more connection each), migrations and
	// an operator's psql.
	defaultDBMaxConns = 25
	maxDBMaxConns     = 10000
	// defaultFailureLimit is --failure-limit's default: 60 failed attempts a
	// minute per client, with a burst of 60. An honest client that fails a
	// few dozen times in a row is answered normally; a flood meets 429 after
	// its 60th failure, then gets one more attempt a second.
	defaultFailureLimit = 60
	maxFailureLimit     = 1_000_000
)

// lookupSlots is how many session-key lookups (and cache rechecks) may run
// at once on a pool of maxConns connections (core.LimitLookups, under the
// cache). A fifth of the pool, at least one connection, is kept for what is
// not a key lookup: the secrets a valid key fetches and the admin API's
// writes. So when the database is slow, a flood of distinct unknown keys —
// each a lookup of its own, since only accepted keys are cached — takes at
// most the slots and is answered 503 with Retry-After once they are busy,
// while valid keys with a fresh cache entry still get their secrets (a stale
// entry's recheck needs a slot like any lookup, and answers 503 while they
// are all busy: the TTL bounds how long a key is served without asking the
// database). With a single connection
// there is nothing to reserve: the one slot shares it.
//
//	--db-max-conns 25 → 20 lookups at once; 10 → 8; 5 → 4; 2 → 1; 1 → 1
func lookupSlots(maxConns int) int {
	return max(1, maxConns-max(1, maxConns/5))
}

// parseCount reads a whole number in [lo, hi] for the flag or environment
// variable named name.
func parseCount(name, s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: want a whole number from %d to %d, got %q", name, lo, hi, s)
	}
	return n, nil
}

// failureLimiters returns the limiters of failed session-key attempts and of
// failed admin-token attempts, perMinute each per client; nil, nil when
// perMinute is 0 (off). They are separate: a client's wrong admin tokens do
// not use up its session-key budget, nor the other way round.
func failureLimiters(perMinute int) (keys, admin *core.FailureLimiter, err error) {
	if perMinute == 0 {
		return nil, nil, nil
	}
	if keys, err = core.NewFailureLimiter(perMinute); err != nil {
		return nil, nil, err
	}
	if admin, err = core.NewFailureLimiter(perMinute); err != nil {
		return nil, nil, err
	}
	return keys, admin, nil
}
