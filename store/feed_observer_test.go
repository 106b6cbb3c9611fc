package store_test

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

// feedLog records, in one ordered log, what the feed tells its observer
// ("connected", ...) and what it asks of its cache ("inv:flush", "inv:<id>").
type feedLog struct{ events chan string }

func newFeedLog() *feedLog { return &feedLog{events: make(chan string, 1000)} }

func (f *feedLog) ObserveFeed(ev core.FeedEvent) { f.events <- ev.String() }
func (f *feedLog) InvalidateSandbox(id string)   { f.events <- "inv:" + id }
func (f *feedLog) Flush()                        { f.events <- "inv:flush" }

// expect reads the next len(want) events (waiting at most 10 s for them)
// and checks that they are want, exactly and in order.
func (f *feedLog) expect(t *testing.T, step string, want ...string) {
	t.Helper()
	var got []string
	deadline := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case ev := <-f.events:
			got = append(got, ev)
		case <-deadline:
			t.Fatalf("%s: got events %q within 10s, want %q", step, got, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got events %q, want %q", step, got, want)
	}
}

// quiet checks that no event arrives for a short while.
func (f *feedLog) quiet(t *testing.T, step string) {
	t.Helper()
	select {
	case ev := <-f.events:
		t.Fatalf("%s: unexpected event %q", step, ev)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestListenerFeedObserverEvents kills the listener's connection twice and
// checks the exact sequence of feed events around it, interleaved with what
// the listener does to the cache.
func TestListenerFeedObserverEvents(t *testing.T) {
	url := pgtest.URL(t)
	s := openT(t, url)
	log := newFeedLog()
	l, err := store.Listen(testCtx(t), url, log, store.WithLogger(quietLogger()),
		store.WithFeedObserver(log), store.WithReconnectBackoff(10*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	log.expect(t, "Listen", "connected")
	log.quiet(t, "idle")
	ctx := testCtx(t)
	info, _, err := s.CreateSandbox(ctx, store.NewSandbox{})
	if err != nil {
		t.Fatal(err)
	}
	log.quiet(t, "insert")

	for round := range 2 {
		pids := listenerPIDs(t, s)
		if len(pids) != 1 {
			t.Fatalf("round %d: %d listener backends, want 1", round, len(pids))
		}
		if _, err := s.DB().ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pids[0]); err != nil {
			t.Fatal(err)
		}
		log.expect(t, "connection killed", "disconnected", "reconnect", "connected", "inv:flush", "flush")
		if !l.Connected() {
			t.Fatal("connected event seen, but Connected is false")
		}
		log.quiet(t, "after reconnect")

		st := core.StatusPaused
		if round == 1 {
			st = core.StatusRunning
		}
		if err := s.SetStatus(ctx, info.ID, st); err != nil {
			t.Fatal(err)
		}
		log.expect(t, "status change", "notification", "inv:"+info.ID)
	}

	if _, err := s.DB().ExecContext(ctx, `TRUNCATE sandboxes`); err != nil {
		t.Fatal(err)
	}
	log.expect(t, "truncate (empty payload)", "notification", "inv:flush", "flush")

	l.Close()
	log.expect(t, "Close", "disconnected")
	log.quiet(t, "after Close")
}

func TestListenRejectsNilFeedObserver(t *testing.T) {
	pg := "postgres://127.0.0.1:1/db?sslmode=disable&connect_timeout=1"
	l, err := store.Listen(testCtx(t), pg, newRecorder(), store.WithFeedObserver(nil))
	if err == nil {
		l.Close()
		t.Fatal("Listen accepted WithFeedObserver(nil)")
	}
	if !strings.Contains(err.Error(), "WithFeedObserver") {
		t.Fatalf("error %q does not name WithFeedObserver", err)
	}
}

// panickyFeed is a feedLog whose observer panics after recording a
// notification.
type panickyFeed struct{ *feedLog }

func (p panickyFeed) ObserveFeed(ev core.FeedEvent) {
	p.feedLog.ObserveFeed(ev)
	if ev == core.FeedNotification {
		panic("observer bug")
	}
}

// A FeedObserver that panics does not end the process (it runs on the
// listener's goroutine) nor stop the feed: the invalidation it was told
// about still happens, and the panic is logged.
func TestListenerSurvivesObserverPanic(t *testing.T) {
	url := pgtest.URL(t)
	s := openT(t, url)
	log := newFeedLog()
	var logs lockedBuffer
	l, err := store.Listen(testCtx(t), url, log, store.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		store.WithFeedObserver(panickyFeed{log}))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	log.expect(t, "Listen", "connected")
	ctx := testCtx(t)
	info, _, err := s.CreateSandbox(ctx, store.NewSandbox{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []core.Status{core.StatusPaused, core.StatusRunning} {
		if err := s.SetStatus(ctx, info.ID, st); err != nil {
			t.Fatal(err)
		}
		log.expect(t, "status change, observer panics", "notification", "inv:"+info.ID)
	}
	if !l.Connected() {
		t.Error("the feed is no longer connected")
	}
	if n := strings.Count(logs.String(), "change feed observer panicked"); n != 2 {
		t.Errorf("%d panics logged, want 2:\n%s", n, logs.String())
	}
}

// lockedBuffer is a log sink safe for the listener's goroutine and the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
