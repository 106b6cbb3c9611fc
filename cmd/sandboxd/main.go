// Command sandboxd is a small real service built on sandboxauth: it keeps
// sandboxes and their owners' secrets in SQLite (default) or PostgreSQL and
// serves the secrets to the sandboxes' session keys, on the router of your
// choice. See the README for a walkthrough.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "sandboxd:", err)
		}
		os.Exit(2)
	}
}

var errUsage = errors.New("usage")

// server is one sandboxd instance: store, cache, change feed, validator, router.
type server struct {
	cfg      config
	db       *store.SQL
	cache    *cache.Cache // nil when --cache-ttl 0
	listener *store.Listener
	handler  http.Handler
	log      *slog.Logger
	metrics  *metrics // --metrics-addr's registry and observer; nil when off
	access   *accessLogger
	errLogs  *logSampler
}

// newServer opens the store and builds everything but the network listener.
func newServer(ctx context.Context, cfg config, log *slog.Logger) (*server, error) {
	maxConns := cfg.DBMaxConns
	if maxConns <= 0 {
		maxConns = defaultDBMaxConns
	}
	db, err := store.Open(ctx, cfg.DB, store.WithMaxOpenConns(maxConns))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &server{cfg: cfg, db: db, log: log, metrics: newMetrics(cfg)}
	s.access, s.errLogs = newAccessLogger(log), newLogSampler(log, errorLogBurst)
	secrets, err := openSecrets(ctx, db)
	if err != nil {
		s.Close()
		return nil, err
	}
	keyLimiter, adminLimiter, err := failureLimiters(cfg.FailureLimit)
	if err != nil {
		s.Close()
		return nil, err
	}
	// Session-key lookups are bounded under the cache, so that cached keys
	// never wait for a slot (limits.go).
	limited, err := core.LimitLookups(db, lookupSlots(maxConns), 0)
	if err != nil {
		s.Close()
		return nil, err
	}
	lookups := limited
	a := &app{db: db, secrets: secrets, adminToken: sha256.Sum256([]byte(cfg.AdminToken)), adminLimiter: adminLimiter,
		log: log, errLogs: s.errLogs}
	if cfg.CacheTTL > 0 {
		c, err := cache.New(limited, append(s.metrics.cacheOptions(), cache.WithTTL(cfg.CacheTTL))...)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.cache, lookups, a.inv = c, c, c
		if store.IsPostgres(cfg.DB) {
			// Other instances' writes reach this cache through NOTIFY.
			s.listener, err = store.Listen(ctx, cfg.DB, c, append(s.metrics.listenOptions(), store.WithLogger(log))...)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("change feed: %w", err)
			}
		}
	}
	vopts := []core.Option{core.WithMode(cfg.Mode), core.WithLogger(log)}
	if keyLimiter != nil {
		vopts = append(vopts, core.WithFailureLimiter(keyLimiter))
	}
	v, err := core.New(lookups, append(s.metrics.validatorOptions(), vopts...)...)
	if err != nil {
		s.Close()
		return nil, err
	}
	router, err := newRouter(cfg.Framework, v, a)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.handler = withAccessLog(s.access, canonicalPaths(router))
	return s, nil
}

// Close stops the change feed and the cache and closes the store.
func (s *server) Close() {
	if s.listener != nil {
		_ = s.listener.Close()
	}
	if s.cache != nil {
		_ = s.cache.Close()
	}
	_ = s.db.Close()
	if s.access != nil {
		s.access.flush()
		s.errLogs.flush()
	}
}

// run parses the configuration, serves until ctx is done, then shuts down
// gracefully. ready, if not nil, receives the bound address.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		fmt.Fprintln(stderr, "sandboxd:", err)
		return errUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	generated := false
	if cfg.AdminToken == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		cfg.AdminToken = base64.RawURLEncoding.EncodeToString(b)
		generated = true
	}
	s, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	stopMetrics, err := s.serveMetrics(log) // before the public listener: ready means both listen
	if err != nil {
		return err
	}
	defer stopMetrics()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if generated {
		// Only now: a server that failed to start has no token to show.
		fmt.Fprintf(stdout, "sandboxd: generated admin token (shown once): %s\n", cfg.AdminToken)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          serverErrorLog(s.errLogs),
	}
	log.Info("sandboxd listening", "addr", ln.Addr().String(), "framework", cfg.Framework, "mode", string(cfg.Mode),
		"db", store.Describe(cfg.DB), "cache_ttl", cfg.CacheTTL.String(), "change_feed", s.listener != nil,
		"db_max_conns", cfg.DBMaxConns, "failure_limit", cfg.FailureLimit)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("sandboxd shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
