package store_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

// recorder is a fake cache: it records what the feed asks of it.
type recorder struct {
	mu      sync.Mutex
	ids     []string
	flushes int
	events  chan string // "id:<id>" or "flush"
}

func newRecorder() *recorder { return &recorder{events: make(chan string, 1000)} }

func (r *recorder) InvalidateSandbox(id string) {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	r.events <- "id:" + id
}

func (r *recorder) Flush() {
	r.mu.Lock()
	r.flushes++
	r.mu.Unlock()
	r.events <- "flush"
}

// await waits (bounded) for the event want, skipping others, and returns
// how long it took.
func (r *recorder) await(t *testing.T, want string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-r.events:
			if ev == want {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("no %q event within 10s", want)
		}
	}
}

// none checks that no event arrives for a short while.
func (r *recorder) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-r.events:
		t.Fatalf("unexpected event %q", ev)
	case <-time.After(d):
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func listenT(t *testing.T, url string, inv store.Invalidator, opts ...store.ListenOption) *store.Listener {
	t.Helper()
	l, err := store.Listen(testCtx(t), url, inv, append([]store.ListenOption{store.WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	if !l.Connected() {
		t.Fatal("Listen returned before the listener was connected")
	}
	return l
}

func TestListenerDeliversChanges(t *testing.T) {
	url := pgtest.URL(t)
	s := openT(t, url)
	rec := newRecorder()
	listenT(t, url, rec)
	ctx := testCtx(t)

	info, _, err := s.CreateSandbox(ctx, store.NewSandbox{Owner: "u"})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.CreateSandbox(ctx, store.NewSandbox{Owner: "u"})
	if err != nil {
		t.Fatal(err)
	}
	rec.none(t, 100*time.Millisecond) // inserts need no invalidation

	t.Run("status change", func(t *testing.T) {
		var worst time.Duration
		for i, st := range []core.Status{core.StatusPaused, core.StatusRunning, core.StatusPaused, core.StatusRunning, core.StatusError} {
			start := time.Now()
			if err := s.SetStatus(ctx, info.ID, st); err != nil {
				t.Fatal(err)
			}
			rec.await(t, "id:"+info.ID)
			lat := time.Since(start)
			worst = max(worst, lat)
			t.Logf("change %d (%s): SetStatus commit to InvalidateSandbox: %v", i, st, lat)
		}
		t.Logf("worst feed latency over 5 changes: %v", worst)
	})
	t.Run("same status again does not notify", func(t *testing.T) {
		if err := s.SetStatus(ctx, info.ID, core.StatusError); err != nil {
			t.Fatal(err)
		}
		rec.none(t, 100*time.Millisecond)
	})
	t.Run("key rotation", func(t *testing.T) {
		if _, err := s.RotateKey(ctx, info.ID); err != nil {
			t.Fatal(err)
		}
		rec.await(t, "id:"+info.ID)
	})
	t.Run("owner change by hand", func(t *testing.T) {
		if _, err := s.DB().ExecContext(ctx, `UPDATE sandboxes SET owner = 'v' WHERE id = $1`, info.ID); err != nil {
			t.Fatal(err)
		}
		rec.await(t, "id:"+info.ID)
	})
	t.Run("delete", func(t *testing.T) {
		if err := s.DeleteSandbox(ctx, info.ID); err != nil {
			t.Fatal(err)
		}
		rec.await(t, "id:"+info.ID)
	})
	t.Run("rolled back change does not notify", func(t *testing.T) {
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sandboxes SET status = 'PAUSED' WHERE id = $1`, other.ID); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		rec.none(t, 100*time.Millisecond)
	})
	t.Run("truncate flushes", func(t *testing.T) {
		if _, err := s.DB().ExecContext(ctx, `TRUNCATE sandboxes`); err != nil {
			t.Fatal(err)
		}
		rec.await(t, "flush")
	})
}

// Two listeners (two servers) both hear a change made through a third
// connection: the fleet case.
func TestListenerFanOut(t *testing.T) {
	url := pgtest.URL(t)
	s := openT(t, url)
	a, b := newRecorder(), newRecorder()
	listenT(t, url, a)
	listenT(t, url, b)
	info, _, err := s.CreateSandbox(testCtx(t), store.NewSandbox{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(testCtx(t), info.ID, core.StatusPaused); err != nil {
		t.Fatal(err)
	}
	t.Logf("latency A %v, B %v", a.await(t, "id:"+info.ID), b.await(t, "id:"+info.ID))
}

func listenerPIDs(t *testing.T, s *store.SQL) []int {
	t.Helper()
	rows, err := s.DB().QueryContext(testCtx(t),
		`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
		store.ListenerApplicationName)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var p int
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
	}
	return pids
}

func TestListenerReconnectFlushes(t *testing.T) {
	url := pgtest.URL(t)
	s := openT(t, url)
	rec := newRecorder()
	l := listenT(t, url, rec, store.WithReconnectBackoff(10*time.Millisecond, 200*time.Millisecond))
	ctx := testCtx(t)
	info, _, err := s.CreateSandbox(ctx, store.NewSandbox{})
	if err != nil {
		t.Fatal(err)
	}

	for round := range 2 {
		pids := listenerPIDs(t, s)
		if len(pids) != 1 {
			t.Fatalf("round %d: %d listener backends, want 1", round, len(pids))
		}
		if _, err := s.DB().ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pids[0]); err != nil {
			t.Fatal(err)
		}
		d := rec.await(t, "flush")
		t.Logf("round %d: terminated backend %d; reconnected and flushed after %v", round, pids[0], d)
		if !l.Connected() {
			t.Fatal("flushed but not connected")
		}
		// The new connection hears changes again.
		st := core.StatusPaused
		if round == 1 {
			st = core.StatusRunning
		}
		if err := s.SetStatus(ctx, info.ID, st); err != nil {
			t.Fatal(err)
		}
		rec.await(t, "id:"+info.ID)
	}
}

// Waking up for health checks leaves the connection usable.
func TestListenerHealthCheck(t *testing.T) {
	url := pgtest.URL(t)
	s := openT(t, url)
	rec := newRecorder()
	listenT(t, url, rec, store.WithHealthCheckInterval(10*time.Millisecond))
	time.Sleep(150 * time.Millisecond) // several health checks
	info, _, err := s.CreateSandbox(testCtx(t), store.NewSandbox{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(testCtx(t), info.ID, core.StatusPaused); err != nil {
		t.Fatal(err)
	}
	rec.await(t, "id:"+info.ID)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.flushes != 0 {
		t.Fatalf("%d flushes: a health check dropped the connection", rec.flushes)
	}
}

func TestListenerCloseLeavesNothing(t *testing.T) {
	url := pgtest.URL(t)
	s := openT(t, url)
	before := goleak.IgnoreCurrent()
	l, err := store.Listen(testCtx(t), url, newRecorder(), store.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if len(listenerPIDs(t, s)) != 1 {
		t.Fatal("no listener backend while running")
	}
	done := make(chan struct{})
	go func() { l.Close(); l.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if l.Connected() {
		t.Fatal("Connected after Close")
	}
	goleak.VerifyNone(t, before)
	// The server side goes away too (asynchronously).
	deadline := time.Now().Add(5 * time.Second)
	for len(listenerPIDs(t, s)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the listener's backend is still there after Close")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close while reconnecting (the server refuses connections) also stops.
func TestListenerCloseWhileReconnecting(t *testing.T) {
	url := pgtest.URL(t)
	s := openT(t, url)
	before := goleak.IgnoreCurrent()
	l, err := store.Listen(testCtx(t), url, newRecorder(), store.WithLogger(quietLogger()),
		store.WithReconnectBackoff(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// Forbid new connections to this database (from the server's own
	// database: not allowed from inside), then kill the listener's.
	admin, err := pgx.Connect(testCtx(t), pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	db := pgx.Identifier{mustDBName(t, s)}.Sanitize()
	_, err = admin.Exec(testCtx(t), `ALTER DATABASE `+db+` ALLOW_CONNECTIONS false`)
	admin.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range listenerPIDs(t, s) {
		if _, err := s.DB().ExecContext(testCtx(t), `SELECT pg_terminate_backend($1)`, p); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("listener did not notice the lost connection")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a few failed attempts
	l.Close()
	goleak.VerifyNone(t, before)
}

func mustDBName(t *testing.T, s *store.SQL) string {
	var name string
	if err := s.DB().QueryRowContext(testCtx(t), `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestListenRejectsBadConfig(t *testing.T) {
	ctx := testCtx(t)
	pg := "postgres://127.0.0.1:1/db?sslmode=disable&connect_timeout=1"
	for name, c := range map[string]struct {
		url  string
		inv  store.Invalidator
		opts []store.ListenOption
	}{
		"nil invalidator":   {pg, nil, nil},
		"sqlite path":       {"x.db", newRecorder(), nil},
		"nil logger":        {pg, newRecorder(), []store.ListenOption{store.WithLogger(nil)}},
		"nil option":        {pg, newRecorder(), []store.ListenOption{nil}},
		"backoff min > max": {pg, newRecorder(), []store.ListenOption{store.WithReconnectBackoff(time.Second, time.Millisecond)}},
		"backoff zero":      {pg, newRecorder(), []store.ListenOption{store.WithReconnectBackoff(0, time.Second)}},
		"backoff huge":      {pg, newRecorder(), []store.ListenOption{store.WithReconnectBackoff(time.Second, time.Hour)}},
		"health tiny":       {pg, newRecorder(), []store.ListenOption{store.WithHealthCheckInterval(time.Microsecond)}},
		"unreachable":       {pg, newRecorder(), nil},
	} {
		if l, err := store.Listen(ctx, c.url, c.inv, c.opts...); err == nil {
			l.Close()
			t.Errorf("%s: Listen succeeded", name)
		}
	}
}
