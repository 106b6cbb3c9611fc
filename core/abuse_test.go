package core_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)} }
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func requestFrom(addr string, keys ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = addr
	for _, k := range keys {
		r.Header.Add(core.HeaderName, k)
	}
	return r
}

func TestFailureLimiterBudgetAndRefill(t *testing.T) {
	clock := newFakeClock()
	l := core.NewFailureLimiterForTest(60, 100, clock.Now)
	for i := range 60 {
		if l.Limited("a") {
			t.Fatalf("limited after %d failures, want 60 allowed", i)
		}
		l.Fail("a")
	}
	if !l.Limited("a") {
		t.Fatal("not limited after 60 failures in no time")
	}
	if l.Limited("b") {
		t.Error("another client is limited")
	}
	clock.Advance(time.Second) // 60 a minute: one token a second
	if l.Limited("a") {
		t.Error("still limited after a token refilled")
	}
	l.Fail("a")
	if !l.Limited("a") {
		t.Error("the refilled token was not taken")
	}
	if _, err := core.NewFailureLimiter(0); err == nil {
		t.Error("a zero limit was accepted")
	}
}

func TestFailureLimiterMemoryIsBounded(t *testing.T) {
	clock := newFakeClock()
	l := core.NewFailureLimiterForTest(2, 10, clock.Now)
	for i := range 1000 { // a flood from 1000 addresses
		l.Fail("10.0.0." + strconv.Itoa(i))
	}
	if n := l.Len(); n != 10 {
		t.Fatalf("tracked %d clients, want the bound 10", n)
	}
	// Untracked clients share the overflow bucket, which the flood emptied.
	if !l.Limited("192.0.2.1") {
		t.Error("an untracked client of a full table is not limited by the overflow bucket")
	}
	// Once the tracked clients' buckets are full again they are forgotten
	// to make room.
	clock.Advance(2 * time.Minute)
	l.Fail("192.0.2.1")
	if n := l.Len(); n != 1 {
		t.Errorf("after the sweep %d clients tracked, want 1", n)
	}
}

func TestFailureLimitThroughAuthenticate(t *testing.T) {
	s := newStore(t, map[string]core.SandboxInfo{secretKey: running("sb", "u")})
	clock := newFakeClock()
	lim := core.NewFailureLimiterForTest(5, 100, clock.Now)
	v, _ := newValidator(t, s, core.WithFailureLimiter(lim))
	attacker := "198.51.100.7:4000"
	for i := range 5 {
		if _, _, err := v.Authenticate(requestFrom(attacker, "guess-"+strconv.Itoa(i)), core.Route{}); !errors.Is(err, core.ErrInvalidKey) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	before := s.n.Load()
	_, _, err := v.Authenticate(requestFrom(attacker, "guess-6"), core.Route{})
	if !errors.Is(err, core.ErrTooManyFailures) {
		t.Fatalf("sixth failure: %v, want 429", err)
	}
	r := core.ResponseFor(err)
	if r.Status != 429 || r.RetryAfter != "1" || r.Detail != "Too many failed attempts, try again later" {
		t.Errorf("answer %+v", r)
	}
	if s.n.Load() != before {
		t.Error("a limited request reached the store")
	}
	// The same client's valid key is limited too (the store is not asked
	// for a client over budget) ...
	if _, _, err := v.Authenticate(requestFrom(attacker, secretKey), core.Route{}); !errors.Is(err, core.ErrTooManyFailures) {
		t.Errorf("limited client, valid key: %v", err)
	}
	// ... but another client's is not, and accepting consumes nothing.
	for range 20 {
		if _, _, err := v.Authenticate(requestFrom("203.0.113.9:5000", secretKey), core.Route{}); err != nil {
			t.Fatalf("honest client: %v", err)
		}
	}
	if lim.Limited("203.0.113.9") {
		t.Error("accepted requests consumed the budget")
	}
	// Malformed keys count as failures (no store call either way).
	for range 5 {
		_, _, _ = v.Authenticate(requestFrom("192.0.2.50:1", "a\x00b"), core.Route{})
	}
	if !lim.Limited("192.0.2.50") {
		t.Error("malformed keys did not count")
	}
	// Backend failures are not the client's fault.
	down := core.StoreFunc(func(context.Context, string) (*core.SandboxInfo, error) { return nil, errors.New("down") })
	lim2 := core.NewFailureLimiterForTest(2, 100, clock.Now)
	v2, _ := newValidator(t, down, core.WithFailureLimiter(lim2))
	for range 5 {
		if _, _, err := v2.Authenticate(requestFrom("192.0.2.60:1", "k"), core.Route{}); !errors.Is(err, core.ErrUnavailable) {
			t.Fatalf("outage: %v, want 503 every time", err)
		}
	}
	// A custom client identity (a proxy's header).
	lim3 := core.NewFailureLimiterForTest(1, 100, clock.Now)
	v3, _ := newValidator(t, s, core.WithFailureLimiter(lim3),
		core.WithClientID(func(r *http.Request) string { return r.Header.Get("X-Real-Ip") }))
	r1 := requestFrom("10.0.0.1:1", "bad")
	r1.Header.Set("X-Real-Ip", "client-1")
	_, _, _ = v3.Authenticate(r1, core.Route{})
	if !lim3.Limited("client-1") || lim3.Limited("10.0.0.1") {
		t.Error("the client id function was not used")
	}
}

// peekStore answers one key from "memory".
type peekStore struct {
	*countingStore
	hot string
}

var hotRecord = &core.SandboxInfo{ID: "hot", CreatedByUserID: "u", Status: core.StatusRunning}

func (p peekStore) PeekSandbox(key string) (*core.SandboxInfo, bool) {
	if key == p.hot {
		return hotRecord, true
	}
	return nil, false
}

func TestFailureLimitSparesMemoryHits(t *testing.T) {
	s := peekStore{countingStore: newStore(t, nil), hot: "hot-key"}
	clock := newFakeClock()
	lim := core.NewFailureLimiterForTest(1, 100, clock.Now)
	v, _ := newValidator(t, s, core.WithFailureLimiter(lim))
	_, _, _ = v.Authenticate(requestFrom("192.0.2.1:1", "bad"), core.Route{})
	if _, _, err := v.Authenticate(requestFrom("192.0.2.1:1", "hot-key"), core.Route{}); err != nil {
		t.Errorf("a cached valid key of a limited client: %v", err)
	}
}

func TestLimitLookups(t *testing.T) {
	release := make(chan struct{})
	var inFlight, peak atomic.Int64
	slow := core.StoreFunc(func(ctx context.Context, key string) (*core.SandboxInfo, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nil, core.ErrNotFound
	})
	limited, err := core.LimitLookups(slow, 3, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := limited.(core.StatusStore); ok {
		t.Error("a StatusStore was made up for a store without one")
	}
	v, _ := newValidator(t, limited)
	const n = 40
	results := make(chan error, n)
	for i := range n {
		go func() {
			_, _, err := v.Authenticate(requestFrom("192.0.2.1:1", "k"+strconv.Itoa(i)), core.Route{})
			results <- err
		}()
	}
	busy := 0
	for range n - 3 { // all but the three holding a slot give up after 20ms
		err := <-results
		if !errors.Is(err, core.ErrUnavailable) || !errors.Is(err, core.ErrBusy) {
			t.Fatalf("got %v, want 503 wrapping ErrBusy", err)
		}
		busy++
	}
	close(release)
	for range 3 {
		if err := <-results; !errors.Is(err, core.ErrInvalidKey) {
			t.Errorf("a lookup that got a slot: %v", err)
		}
	}
	if peak.Load() != 3 || busy != n-3 {
		t.Errorf("peak %d concurrent lookups, %d busy; want 3 and %d", peak.Load(), busy, n-3)
	}
	// A status lookup is bounded too, and kept only where the store has one.
	ls, _ := core.LimitLookups(core.NewMemoryStore(), 1, 0)
	if _, ok := ls.(core.StatusStore); !ok {
		t.Error("the StatusStore of the inner store was lost")
	}
	for name, bad := range map[string]func() (core.Store, error){
		"nil store":     func() (core.Store, error) { return core.LimitLookups(nil, 1, 0) },
		"zero limit":    func() (core.Store, error) { return core.LimitLookups(slow, 0, 0) },
		"negative wait": func() (core.Store, error) { return core.LimitLookups(slow, 1, -time.Second) },
	} {
		if _, err := bad(); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestLogSampling(t *testing.T) {
	s := newStore(t, map[string]core.SandboxInfo{secretKey: {ID: "sb", Status: core.StatusPaused}})
	var buf bytes.Buffer
	v, err := core.New(s, core.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	v.SetLogClock(clock.Now, time.Second)
	for range 1000 {
		_, _ = v.Validate(context.Background(), secretKey)
	}
	lines := strings.Count(buf.String(), "Session key rejected for non-running sandbox")
	if lines != 10 {
		t.Fatalf("%d warning lines for 1000 rejections in one interval, want 10", lines)
	}
	buf.Reset()
	clock.Advance(time.Second)
	_, _ = v.Validate(context.Background(), secretKey)
	out := buf.String()
	if !strings.Contains(out, "Suppressed repeated log lines") || !strings.Contains(out, "suppressed=990") ||
		!strings.Contains(out, "reason=sandbox_not_running") || strings.Count(out, "Session key rejected") != 1 {
		t.Errorf("next interval:\n%s", out)
	}
	// Another reason has its own budget: its first line is always written.
	down := core.StoreFunc(func(context.Context, string) (*core.SandboxInfo, error) { return nil, errors.New("down") })
	buf.Reset()
	v2, _ := core.New(down, core.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	v2.SetLogClock(clock.Now, time.Second)
	for range 50 {
		_, _ = v2.Validate(context.Background(), "k")
	}
	if n := strings.Count(buf.String(), "Session key lookup failed"); n != 10 {
		t.Errorf("%d lookup-failure lines, want 10", n)
	}
}

// recorder is an Observer that keeps every decision.
type recorder struct {
	mu sync.Mutex
	ds []core.Decision
}

func (r *recorder) ObserveDecision(_ context.Context, d core.Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ds = append(r.ds, d)
}

func TestObserverSeesEveryDecisionOnce(t *testing.T) {
	s := newStore(t, map[string]core.SandboxInfo{
		secretKey: running("sb", "u"),
		"paused":  {ID: "sb-p", Status: core.StatusPaused},
	})
	rec := &recorder{}
	v, _ := newValidator(t, s, core.WithObserver(rec))
	bound := core.Route{Bound: true, SandboxID: "sb"}
	cases := []struct {
		keys   []string
		route  core.Route
		code   core.Code
		source core.Source
		id     string
	}{
		{[]string{secretKey}, bound, core.CodeAccepted, core.SourceStore, "sb"},
		{nil, core.Route{}, core.CodeMissingKey, core.SourceNone, ""},
		{[]string{"a", "b"}, core.Route{}, core.CodeMalformedKey, core.SourceNone, ""},
		{[]string{"nope"}, core.Route{}, core.CodeInvalidKey, core.SourceStore, ""},
		{[]string{"paused"}, core.Route{}, core.CodeNotRunning, core.SourceStore, "sb-p"},
		{[]string{secretKey}, core.Route{Bound: true, SandboxID: "other"}, core.CodeSandboxMismatch, core.SourceStore, "sb"},
	}
	for _, c := range cases {
		_, _, _ = v.Authenticate(requestFrom("192.0.2.1:1", c.keys...), c.route)
	}
	// A credentials-optional pass-through is not a decision.
	_, _, _ = v.Authenticate(requestFrom("192.0.2.1:1"), core.Route{Optional: true})
	if len(rec.ds) != len(cases) {
		t.Fatalf("%d decisions for %d requests: %+v", len(rec.ds), len(cases), rec.ds)
	}
	for i, c := range cases {
		d := rec.ds[i]
		if d.Code != c.code || d.Source != c.source || d.SandboxID != c.id {
			t.Errorf("case %d: %+v, want code %s source %s id %q", i, d, c.code, c.source, c.id)
		}
		if (d.Source == core.SourceNone) != (d.Duration == 0) {
			t.Errorf("case %d: duration %v for source %s", i, d.Duration, d.Source)
		}
	}
	if got := core.SourceRecheck.String() + core.CacheStaleRecheck.String() + core.FeedReconnect.String(); got != "recheckstale_recheckreconnect" {
		t.Errorf("names: %q", got)
	}
}

// nopObserver counts nothing: what the allocation test measures is the
// hook itself.
type nopObserver struct{}

func (nopObserver) ObserveDecision(context.Context, core.Decision) {}

func TestObserverAddsNoAllocation(t *testing.T) {
	s := peekStore{countingStore: newStore(t, nil), hot: "hot-key"}
	for name, opts := range map[string][]core.Option{
		"none": nil,
		"nop":  {core.WithObserver(nopObserver{})},
	} {
		v, err := core.New(s, opts...)
		if err != nil {
			t.Fatal(err)
		}
		r := requestFrom("192.0.2.1:1", "hot-key")
		allocs := testing.AllocsPerRun(200, func() {
			if _, _, err := v.Authenticate(r, core.Route{}); err != nil {
				t.Fatal(err)
			}
		})
		// One: the request context that holds the copy of the record.
		if allocs != 1 {
			t.Errorf("%s observer: %v allocs per memory hit, want 1", name, allocs)
		}
	}
}

func TestMemoryStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	m := core.NewMemoryStore()
	if err := m.Put("old", running("sb", "u")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Resume("sb"); !errors.Is(err, core.ErrAlreadyRunning) {
		t.Errorf("resume of a running sandbox: %v", err)
	}
	if err := m.Pause("sb"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.LookupSandbox(ctx, "old"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("paused sandbox's key: %v, want not found", err)
	}
	if st, _ := m.SandboxStatus(ctx, "sb"); st != core.StatusPaused {
		t.Errorf("status %s", st)
	}
	key, err := m.Resume("sb")
	if err != nil || len(key) != 43 {
		t.Fatalf("resume: %q %v", key, err)
	}
	if _, err := m.LookupSandbox(ctx, "old"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("old key after resume: %v", err)
	}
	if info, err := m.LookupSandbox(ctx, key); err != nil || info.Status != core.StatusRunning {
		t.Errorf("new key: %v %v", info, err)
	}
	rotated, err := m.RotateKey("sb")
	if err != nil || rotated == key {
		t.Fatalf("rotate: %v", err)
	}
	if _, err := m.LookupSandbox(ctx, key); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("key after rotation: %v", err)
	}
	if _, err := m.LookupSandbox(ctx, rotated); err != nil {
		t.Errorf("rotated key: %v", err)
	}
	// A status reported by the runtime keeps the key; resuming from it
	// still issues a new one.
	if err := m.SetStatus("sb", core.StatusPaused); err != nil {
		t.Fatal(err)
	}
	if _, err := m.LookupSandbox(ctx, rotated); err != nil {
		t.Errorf("SetStatus revoked the key: %v", err)
	}
	again, err := m.Resume("sb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.LookupSandbox(ctx, rotated); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("resume kept the old key: %v", err)
	}
	if _, err := m.LookupSandbox(ctx, again); err != nil {
		t.Error(err)
	}
	for name, err := range map[string]error{
		"pause":  m.Pause("none"),
		"resume": func() error { _, err := m.Resume("none"); return err }(),
		"rotate": func() error { _, err := m.RotateKey("none"); return err }(),
	} {
		if !errors.Is(err, core.ErrNotFound) {
			t.Errorf("%s of an unknown sandbox: %v", name, err)
		}
	}
}
