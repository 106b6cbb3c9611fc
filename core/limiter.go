package core

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bounds of a FailureLimiter.
const (
	// maxClients is how many clients a FailureLimiter tracks at most.
	maxClients = 1 << 16
	// sweepEvery is how often, at most, a full table is swept of idle clients.
	sweepEvery = time.Second
)

// FailureLimiter limits failed attempts per client with a token bucket per
// client (golang.org/x/time/rate): a failure takes a token, a client with no
// token left is refused until one refills. Successful requests never touch
// it. Its memory is bounded: it tracks at most 65,536 clients;
// when full it first forgets clients whose bucket has refilled (they owe
// nothing), and clients it still cannot track share one overflow bucket, so
// a flood from many addresses is limited as one client rather than growing
// the table. Safe for concurrent use.
type FailureLimiter struct {
	limit    rate.Limit
	burst    int
	max      int
	now      func() time.Time
	mu       sync.Mutex
	clients  map[string]*rate.Limiter
	overflow *rate.Limiter
	swept    time.Time
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
	l := rate.Limit(float64(perMinute) / 60)
	return &FailureLimiter{limit: l, burst: perMinute, max: maxClients, now: now,
		clients: map[string]*rate.Limiter{}, overflow: rate.NewLimiter(l, perMinute)}
}

// Limited reports whether client has no failed attempt left: its next
// request is to be refused (429) without further work.
func (l *FailureLimiter) Limited(client string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[client]
	if b == nil {
		if len(l.clients) < l.max {
			return false // an untracked client with room to track it owes nothing
		}
		b = l.overflow
	}
	return b.TokensAt(now) < 1
}

// Fail records a failed attempt of client.
func (l *FailureLimiter) Fail(client string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[client]
	if b == nil {
		if len(l.clients) >= l.max {
			l.sweepLocked(now)
		}
		if len(l.clients) < l.max {
			b = rate.NewLimiter(l.limit, l.burst)
			l.clients[client] = b
		} else {
			b = l.overflow
		}
	}
	b.AllowN(now, 1)
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
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.clients, c)
		}
	}
}

// RemoteAddrClientID is the default client identity of a FailureLimiter:
// the host of r.RemoteAddr (the connection's peer), without the port.
func RemoteAddrClientID(r *http.Request) string {
	if r == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
