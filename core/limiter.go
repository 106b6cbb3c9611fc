package core

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Bounds of a FailureLimiter.
const (
	// maxClients is how many clients a FailureLimiter tracks at most.
	maxClients = 1 << 16
	// sweepEvery is how often, at most, a full table is swept of idle clients.
	sweepEvery = time.Second
)

// FailureLimiter limits failed attempts per client with a token bucket per
// client, as docs/design.md §8 describes. An attempt whose outcome needs
// work (a store lookup, a token comparison) takes its token BEFORE the
// work, with Attempt, and gives it back when it turns out not to be a
// failure: concurrent requests cannot all pass a check that is only charged
// later. A client with no token left is refused until one refills.
//
// The bucket is a few lines here rather than golang.org/x/time/rate's
// Limiter: a rate.Reservation cancelled after the same client has taken a
// later token gives back less than the token (nothing, once a refill
// interval has passed), so slow lookups that overlap, accepted ones
// included, would use up an honest client's budget. Giving a token back
// here is exact.
//
// Its memory is bounded: clients are kept by a 16-byte hash of their
// identity, at most 65,536 of them; when the table is full, clients whose
// bucket has refilled (they owe nothing) are forgotten first, then a
// random one, so a new client always gets a budget of its own and a flood
// from many addresses cannot lock out honest clients. Safe for concurrent
// use.
type FailureLimiter struct {
	perSecond float64 // tokens refilled per second
	burst     float64 // a bucket's size
	max       int
	now       func() time.Time
	mu        sync.Mutex
	clients   map[clientKey]*bucket
	swept     time.Time
}

// bucket is one client's tokens as of last; guarded by FailureLimiter.mu.
type bucket struct {
	tokens float64
	last   time.Time
}

// clientKey is a client identity's hash: the table's size does not depend
// on what the identity function returns (a header can be a megabyte).
type clientKey [16]byte

func keyOf(client string) clientKey {
	d := Digest(client)
	return clientKey(d[:16])
}

// NewFailureLimiter returns a limiter that allows each client perMinute
// failed attempts per minute, with a burst of perMinute (so a client may
// fail perMinute times at once, then once every 60/perMinute seconds).
// perMinute must be positive.
func NewFailureLimiter(perMinute int) (*FailureLimiter, error) {
	if perMinute <= 0 {
		return nil, fmt.Errorf("sandboxauth: failure limit must be positive, got %d", perMinute)
	}
	return newFailureLimiter(perMinute, maxClients, time.Now), nil
}

func newFailureLimiter(perMinute, maxClients int, now func() time.Time) *FailureLimiter {
	return &FailureLimiter{perSecond: float64(perMinute) / 60, burst: float64(perMinute), max: maxClients, now: now,
		clients: map[clientKey]*bucket{}}
}

// tokensLocked returns b's tokens at now: what it had at b.last plus what
// refilled since, at most a burst. A clock that went back refills nothing.
func (l *FailureLimiter) tokensLocked(b *bucket, now time.Time) float64 {
	t := b.tokens
	if d := now.Sub(b.last); d > 0 {
		t += d.Seconds() * l.perSecond
	}
	return min(t, l.burst)
}

// setLocked records that b has tokens at now (never moving b.last back).
func setLocked(b *bucket, tokens float64, now time.Time) {
	b.tokens = tokens
	if now.After(b.last) {
		b.last = now
	}
}

// Attempt takes one attempt from client's budget ahead of the work that
// decides whether it failed. ok is false when the client has none left: do
// not do the work, answer 429 (ErrTooManyFailures). Otherwise call Forgive
// on the returned Attempt if the attempt did not fail; a failure keeps its
// token.
func (l *FailureLimiter) Attempt(client string) (a Attempt, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(keyOf(client), now)
	t := l.tokensLocked(b, now)
	if t < 1 {
		return Attempt{}, false
	}
	setLocked(b, t-1, now)
	return Attempt{l: l, b: b}, true
}

// Attempt is one attempt's token; see FailureLimiter.Attempt.
type Attempt struct {
	l *FailureLimiter
	b *bucket
}

// Forgive gives the attempt's token back: it did not fail. Forgiving the
// zero Attempt (of a refused attempt) does nothing. A client forgotten in
// the meantime (the table was full) already starts again with a full
// budget; its old bucket is gone and the token with it.
func (a Attempt) Forgive() {
	if a.l == nil {
		return
	}
	now := a.l.now()
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	setLocked(a.b, min(a.l.tokensLocked(a.b, now)+1, a.l.burst), now)
}

// bucketLocked returns client k's bucket, making room for it if needed.
func (l *FailureLimiter) bucketLocked(k clientKey, now time.Time) *bucket {
	if b := l.clients[k]; b != nil {
		return b
	}
	if len(l.clients) >= l.max {
		l.sweepLocked(now)
	}
	for c := range l.clients { // map order is random: evicts a random client
		if len(l.clients) < l.max {
			break
		}
		delete(l.clients, c)
	}
	b := &bucket{tokens: l.burst, last: now}
	l.clients[k] = b
	return b
}

// tracked returns the number of clients tracked.
func (l *FailureLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// sweepLocked forgets the clients whose bucket is full again, at most once
// per sweepEvery (a sweep is linear in the table).
func (l *FailureLimiter) sweepLocked(now time.Time) {
	if now.Sub(l.swept) < sweepEvery {
		return
	}
	l.swept = now
	for c, b := range l.clients {
		if l.tokensLocked(b, now) >= l.burst {
			delete(l.clients, c)
		}
	}
}

// RemoteAddrClientID is the default client identity of a FailureLimiter:
// the address of r.RemoteAddr (the connection's peer) without the port; an
// IPv6 address counts as its /64, the block one host is usually given, so
// that a host cannot get a new budget per address. IPv4-mapped IPv6
// addresses count as IPv4.
func RemoteAddrClientID(r *http.Request) string {
	if r == nil {
		return ""
	}
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}
