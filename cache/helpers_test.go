package cache_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// Every test of the package ends without a leaked goroutine: no cleanup
// loop, no shared store call outlives its Store.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The fixture: sandbox sb1 (owner u1, RUNNING) has keys key1a and key1b;
// sb2 (ownerless, RUNNING) has key2; sb3 is PAUSED with key3.
const (
	key1a = "sk-cache-test-key-1a-0123456789abcdefghijklmn"
	key1b = "sk-cache-test-key-1b-0123456789abcdefghijklmn"
	key2  = "sk-cache-test-key-2-0123456789abcdefghijklmno"
	key3  = "sk-cache-test-key-3-0123456789abcdefghijklmno"
	keyNo = "sk-cache-test-unknown-0123456789abcdefghijklm"
)

var allKeys = []string{key1a, key1b, key2, key3, keyNo}

func fixture(t testing.TB) *core.MemoryStore {
	t.Helper()
	m := core.NewMemoryStore()
	urls := []core.ExposedURL{{Name: "AGENT_SERVER", URL: "http://127.0.0.1:9", Port: 9}}
	for _, p := range []struct {
		key  string
		info core.SandboxInfo
	}{
		{key1a, core.SandboxInfo{ID: "sb1", CreatedByUserID: "u1", Status: core.StatusRunning, ExposedURLs: urls}},
		{key1b, core.SandboxInfo{ID: "sb1", CreatedByUserID: "u1", Status: core.StatusRunning, ExposedURLs: urls}},
		{key2, core.SandboxInfo{ID: "sb2", Status: core.StatusRunning}},
		{key3, core.SandboxInfo{ID: "sb3", CreatedByUserID: "u1", Status: core.StatusPaused}},
	} {
		if err := m.Put(p.key, p.info); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// fakeClock is the injectable clock: tests move it, nothing sleeps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testStore wraps a MemoryStore, counts its calls, and can fail or block them.
type testStore struct {
	mem      *core.MemoryStore
	lookups  atomic.Int64
	statuses atomic.Int64

	mu      sync.Mutex
	err     error         // returned by every call while set
	gate    chan struct{} // while set, calls block until it is closed or their ctx ends
	entered chan struct{} // receives (without blocking) when a call begins
	lastCtx context.Context
}

func newTestStore(t testing.TB) *testStore {
	return &testStore{mem: fixture(t), entered: make(chan struct{}, 1000)}
}

func (s *testStore) setErr(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }

// block makes calls wait; the returned func releases them. It forgets the
// calls made so far, so that waitEntered sees only the calls that block.
func (s *testStore) block() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	for len(s.entered) > 0 {
		<-s.entered
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(gate)
		})
	}
}

func (s *testStore) enter(ctx context.Context) error {
	s.mu.Lock()
	gate, err := s.gate, s.err
	s.lastCtx = ctx
	s.mu.Unlock()
	select {
	case s.entered <- struct{}{}:
	default:
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (s *testStore) callCtx() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastCtx
}

// waitEntered waits until a store call has begun.
func (s *testStore) waitEntered(t testing.TB) {
	t.Helper()
	select {
	case <-s.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the store was never called")
	}
}

// LookupSandbox reads the record first and only then blocks, as a real
// store does whose answer is on its way back: what it returns may be stale.
func (s *testStore) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	s.lookups.Add(1)
	info, lookupErr := s.mem.LookupSandbox(ctx, key)
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	return info, lookupErr
}

func (s *testStore) SandboxStatus(ctx context.Context, id string) (core.Status, error) {
	s.statuses.Add(1)
	if err := s.enter(ctx); err != nil {
		return "", err
	}
	return s.mem.SandboxStatus(ctx, id)
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (s *testStore) calls() int64 { return s.lookups.Load() + s.statuses.Load() }

// lookupOnly hides the StatusStore of a store.
type lookupOnly struct{ core.Store }

// newCache builds a cache over inner with a fake clock and no cleanup
// goroutine unless opts say otherwise, closed at the end of the test.
func newCache(t testing.TB, inner core.Store, clock *fakeClock, opts ...cache.Option) *cache.Cache {
	t.Helper()
	base := []cache.Option{cache.WithTTL(time.Second), cache.WithMaxStale(10 * time.Second), cache.WithCleanupInterval(0)}
	if clock != nil {
		base = append(base, cache.WithClock(clock.Now))
	}
	c, err := cache.New(inner, append(base, opts...)...)
	if err != nil {
		t.Fatalf("cache.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// syncBuffer is a concurrency-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newValidator(t testing.TB, s core.Store, opts ...core.Option) (*core.Validator, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := core.New(s, append([]core.Option{core.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v, logs
}

// expect validates key and checks the outcome: want nil = accepted as sandbox id.
func expect(t testing.TB, v *core.Validator, key string, want error, id string) {
	t.Helper()
	info, err := v.Validate(context.Background(), key)
	switch {
	case want == nil && err != nil:
		t.Fatalf("Validate: %v, want accepted", err)
	case want == nil && info.ID != id:
		t.Fatalf("Validate accepted sandbox %q, want %q", info.ID, id)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("Validate: %v (%v), want %v", err, info, want)
	}
}
