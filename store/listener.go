package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/sandboxauth/sandboxauth/core"
)

// Invalidator is what the change feed drives: a cache of sandbox lookups.
// The cache of package github.com/sandboxauth/sandboxauth/cache satisfies it.
// Both methods must be safe for concurrent use and must not block for long.
type Invalidator interface {
	// InvalidateSandbox drops every cached entry of the sandbox.
	InvalidateSandbox(id string)
	// Flush drops every cached entry.
	Flush()
}

// ListenerApplicationName is the application_name of the listener's
// connection (unless the URL sets one), so that it can be found in
// pg_stat_activity.
const ListenerApplicationName = "sandboxauth-listener"

// ListenOption configures Listen.
type ListenOption func(*listenConfig)

type listenConfig struct {
	logger         *slog.Logger
	minBackoff     time.Duration
	maxBackoff     time.Duration
	healthInterval time.Duration
	observer       core.FeedObserver // WithFeedObserver's, or nil
	observerSet    bool              // WithFeedObserver was given (nil is then an error)
}

// WithLogger sets the listener's logger. Default: slog.Default(). It logs
// lost connections (warning), reconnects (info) and nothing per
// notification; sandbox ids are logged, nothing secret is.
func WithLogger(l *slog.Logger) ListenOption {
	return func(c *listenConfig) { c.logger = l }
}

// WithReconnectBackoff sets the delay before the first reconnection attempt
// and the cap of the doubling delay between further attempts (jittered).
// Default 100ms and 5s. 1ms <= min <= max <= 1min.
func WithReconnectBackoff(min, max time.Duration) ListenOption {
	return func(c *listenConfig) { c.minBackoff, c.maxBackoff = min, max }
}

// WithHealthCheckInterval sets how long the listener waits for a
// notification before it pings the server to detect a dead connection
// (a half-open TCP connection delivers nothing and reports no error).
// Default 15s; 10ms to 10min.
func WithHealthCheckInterval(d time.Duration) ListenOption {
	return func(c *listenConfig) { c.healthInterval = d }
}

// pingTimeout bounds the health check's round trip.
const pingTimeout = 5 * time.Second

// Listener is the PostgreSQL change feed. It holds one dedicated connection
// that LISTENs on NotifyChannel, and for every notification calls
// InvalidateSandbox with the sandbox id (Flush for an empty payload). When
// the connection is lost it reconnects with capped, jittered exponential
// backoff and, once LISTEN is active again, calls Flush: notifications sent
// while it was away are lost, so every cached entry is suspect.
//
// The staleness bound with a feed is therefore the notification latency
// while connected (typically about a millisecond on a LAN) and the cache TTL
// while disconnected.
type Listener struct {
	cfg       listenConfig
	connCfg   *pgx.ConnConfig
	dsn       string // for blanking its passwords out of connect errors
	inv       Invalidator
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	connected atomic.Bool
}

// Listen connects to the PostgreSQL database at pgURL, starts listening on
// NotifyChannel and returns once LISTEN is active: from then on every
// committed change to the sandboxes table reaches inv. ctx bounds only this
// first connection; the listener runs until Close. Listen fails if the first
// connection fails (reconnection happens only after a successful start).
func Listen(ctx context.Context, pgURL string, inv Invalidator, opts ...ListenOption) (*Listener, error) {
	cfg := listenConfig{
		logger:         slog.Default(),
		minBackoff:     100 * time.Millisecond,
		maxBackoff:     5 * time.Second,
		healthInterval: 15 * time.Second,
	}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("sandboxauth/store: nil ListenOption")
		}
		o(&cfg)
	}
	switch {
	case inv == nil:
		return nil, errors.New("sandboxauth/store: Listen: nil Invalidator")
	case cfg.logger == nil:
		return nil, errors.New("sandboxauth/store: WithLogger: nil logger")
	case cfg.observerSet && cfg.observer == nil:
		return nil, errors.New("sandboxauth/store: WithFeedObserver: nil observer")
	case cfg.minBackoff < time.Millisecond || cfg.maxBackoff < cfg.minBackoff || cfg.maxBackoff > time.Minute:
		return nil, errors.New("sandboxauth/store: WithReconnectBackoff: want 1ms <= min <= max <= 1min")
	case cfg.healthInterval < 10*time.Millisecond || cfg.healthInterval > 10*time.Minute:
		return nil, errors.New("sandboxauth/store: WithHealthCheckInterval: want 10ms to 10min")
	case !IsPostgres(pgURL):
		return nil, errors.New("sandboxauth/store: Listen: want a postgres:// or postgresql:// URL or a key=value connection string")
	}
	connCfg, err := pgConfig(pgURL) // as IsPostgres reads it
	if err != nil {
		return nil, fmt.Errorf("sandboxauth/store: Listen: %w", err)
	}
	if _, ok := connCfg.RuntimeParams["application_name"]; !ok {
		connCfg.RuntimeParams["application_name"] = ListenerApplicationName
	}
	// A cancelled wait must leave the connection usable (the health check
	// relies on it): a read deadline, not a cancel request.
	connCfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}

	l := &Listener{cfg: cfg, connCfg: connCfg, dsn: pgURL, inv: inv, done: make(chan struct{})}
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.connected.Store(true)
	l.observe(core.FeedConnected)
	go l.run(runCtx, conn)
	return l, nil
}

// Connected reports whether the listener's connection is up and LISTENing.
// While it is false, changes are not being received (a health check may
// report the instance degraded); after it becomes true again the cache has
// been flushed.
func (l *Listener) Connected() bool { return l.connected.Load() }

// Close stops the listener, closes its connection and waits for its
// goroutine to exit. It is safe to call more than once and always returns nil.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		<-l.done
	})
	return nil
}

// connect opens the dedicated connection and LISTENs.
func (l *Listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.connCfg)
	if err != nil {
		return nil, fmt.Errorf("sandboxauth/store: Listen: connect: %w", pgError(l.dsn, err))
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("sandboxauth/store: Listen: LISTEN: %w", err)
	}
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

func (l *Listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	for {
		err := l.receive(ctx, conn)
		l.connected.Store(false)
		l.observe(core.FeedDisconnected)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		l.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "sandboxauth change feed lost its connection; reconnecting",
			slog.String("error", err.Error()))
		if conn = l.reconnect(ctx); conn == nil {
			return
		}
		l.connected.Store(true)
		l.observe(core.FeedReconnect)
		l.observe(core.FeedConnected)
		// Notifications sent while we were away are lost.
		l.inv.Flush()
		l.observe(core.FeedFlush)
		l.cfg.logger.LogAttrs(ctx, slog.LevelInfo, "sandboxauth change feed reconnected; cache flushed")
	}
}

// receive delivers notifications until the connection fails or ctx ends.
func (l *Listener) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, l.cfg.healthInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			l.observe(core.FeedNotification)
			if n.Payload == "" {
				l.inv.Flush()
				l.observe(core.FeedFlush)
			} else {
				l.inv.InvalidateSandbox(n.Payload)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Quiet for a while: make sure the connection is still alive.
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("health check: %w", err)
			}
		default:
			return err
		}
	}
}

// reconnect retries until it has a LISTENing connection (nil once ctx ends).
func (l *Listener) reconnect(ctx context.Context) *pgx.Conn {
	delay := l.cfg.minBackoff
	for attempt := 1; ; attempt++ {
		// Jittered within [delay/2, delay], so that a fleet does not reconnect in lockstep.
		wait := delay/2 + rand.N(delay/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := l.connect(actx)
		cancel()
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		l.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "sandboxauth change feed reconnect failed",
			slog.Int("attempt", attempt), slog.String("error", err.Error()))
		delay = min(2*delay, l.cfg.maxBackoff)
	}
}
