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

// fail spends one attempt of client and reports whether it had one.
func fail(l *core.FailureLimiter, client string) bool {
	_, ok := l.Attempt(client)
	return ok
}

func TestFailureLimiterBudgetAndRefill(t *testing.T) {
	clock := newFakeClock()
	l := core.NewFailureLimiterForTest(60, 100, clock.Now)
	for i := range 60 {
		if !fail(l, "a") {
			t.Fatalf("refused after %d failures, want 60 allowed", i)
		}
	}
	if fail(l, "a") {
		t.Fatal("a 61st failure in no time was allowed")
	}
	if !fail(l, "b") {
		t.Error("another client is limited")
	}
	clock.Advance(time.Second) // 60 a minute: one token a second
	if !fail(l, "a") {
		t.Error("still limited after a token refilled")
	}
	if fail(l, "a") {
		t.Error("the refilled token was not taken")
	}
	// A forgiven attempt gives its token back.
	clock.Advance(time.Second)
	a, ok := l.Attempt("a")
	if !ok {
		t.Fatal("no token after a refill")
	}
	a.Forgive()
	if !fail(l, "a") {
		t.Error("the forgiven token was not given back")
	}
	core.Attempt{}.Forgive() // the zero Attempt: nothing to give back, no panic
	if _, err := core.NewFailureLimiter(0); err == nil {
		t.Error("a zero limit was accepted")
	}
}

func TestFailureLimiterMemoryIsBounded(t *testing.T) {
	clock := newFakeClock()
	l := core.NewFailureLimiterForTest(2, 10, clock.Now)
	for i := range 1000 { // a flood from 1000 addresses
		fail(l, "10.0.0."+strconv.Itoa(i))
	}
	if n := l.Len(); n != 10 {
		t.Fatalf("tracked %d clients, want the bound 10", n)
	}
	// A new client gets a budget of its own, whatever the flood did.
	first, second := fail(l, "192.0.2.1"), fail(l, "192.0.2.1")
	if !first || !second {
		t.Error("a new client of a full table has no budget of its own")
	}
	if n := l.Len(); n != 10 {
		t.Errorf("tracked %d clients, want the bound 10", n)
	}
	// Identities of any length cost the same: the table keeps a hash.
	fail(l, strings.Repeat("x", 1<<20))
	if n := l.Len(); n != 10 {
		t.Errorf("tracked %d clients", n)
	}
}

func TestRemoteAddrClientID(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7:1234":                 "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443":     "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:80":          "192.0.2.7",
		"[fe80::1%eth0]:80":              "fe80::/64",
		"not-an-address":                 "not-an-address",
		"":                               "",
		"@":                              "@",
		"[2001:db8::1]":                  "[2001:db8::1]",
		"unix-socket-peer:with:colons:9": "unix-socket-peer:with:colons:9",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		if got := core.RemoteAddrClientID(r); got != want {
			t.Errorf("%q: %q, want %q", addr, got, want)
		}
	}
	if core.RemoteAddrClientID(nil) != "" {
		t.Error("nil request")
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
	for i := range 5 { // its whole budget is still there
		if !fail(lim, "203.0.113.9") {
			t.Fatalf("accepted requests consumed the budget: refused after %d", i)
		}
	}
	// Malformed keys count as failures (no store call either way).
	for range 5 {
		_, _, _ = v.Authenticate(requestFrom("192.0.2.50:1", "a\x00b"), core.Route{})
	}
	if fail(lim, "192.0.2.50") {
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
	first, second := fail(lim2, "192.0.2.60"), fail(lim2, "192.0.2.60")
	if !first || !second {
		t.Error("an outage consumed the client's budget")
	}
	// A custom client identity (a proxy's header).
	lim3 := core.NewFailureLimiterForTest(1, 100, clock.Now)
	v3, _ := newValidator(t, s, core.WithFailureLimiter(lim3),
		core.WithClientID(func(r *http.Request) string { return r.Header.Get("X-Real-Ip") }))
	r1 := requestFrom("10.0.0.1:1", "bad")
	r1.Header.Set("X-Real-Ip", "client-1")
	_, _, _ = v3.Authenticate(r1, core.Route{})
	if fail(lim3, "client-1") || !fail(lim3, "10.0.0.1") {
		t.Error("the client id function was not used")
	}
}

// slowUnknown answers not found after release is closed, counting calls.
type slowUnknown struct {
	calls   atomic.Int64
	release chan struct{}
}

func (s *slowUnknown) LookupSandbox(ctx context.Context, _ string) (*core.SandboxInfo, error) {
	s.calls.Add(1)
	select {
	case <-s.release:
		return nil, core.ErrNotFound
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestFailureLimitHoldsUnderConcurrency: the budget is taken before the
// lookup, so a burst of concurrent guesses cannot all reach the store
// while the first ones are still being looked up.
func TestFailureLimitHoldsUnderConcurrency(t *testing.T) {
	st := &slowUnknown{release: make(chan struct{})}
	lim, err := core.NewFailureLimiter(3)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := newValidator(t, st, core.WithFailureLimiter(lim))
	const n = 50
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, _, err := v.Authenticate(requestFrom("198.51.100.7:1", "guess-"+strconv.Itoa(i)), core.Route{})
			errs <- err
		}()
	}
	limited := 0
	for range n - 3 {
		if err := <-errs; !errors.Is(err, core.ErrTooManyFailures) {
			t.Fatalf("got %v, want 429 for all but the budget", err)
		}
		limited++
	}
	close(st.release)
	for range 3 {
		if err := <-errs; !errors.Is(err, core.ErrInvalidKey) {
			t.Errorf("a guess within the budget: %v", err)
		}
	}
	if st.calls.Load() != 3 || limited != n-3 {
		t.Errorf("%d store calls, %d limited; want 3 and %d", st.calls.Load(), limited, n-3)
	}
}

// TestHangingUpStillCosts: a guess whose client hangs up during the lookup
// is answered 503 but costs its token: the store did the work.
func TestHangingUpStillCosts(t *testing.T) {
	st := &slowUnknown{release: make(chan struct{})}
	lim, _ := core.NewFailureLimiter(2)
	v, _ := newValidator(t, st, core.WithFailureLimiter(lim))
	for i := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		r := requestFrom("198.51.100.8:1", "guess").WithContext(ctx)
		done := make(chan error, 1)
		go func() { _, _, err := v.Authenticate(r, core.Route{}); done <- err }()
		for st.calls.Load() != int64(i+1) {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; !errors.Is(err, core.ErrUnavailable) {
			t.Fatalf("hung-up request: %v", err)
		}
	}
	if _, _, err := v.Authenticate(requestFrom("198.51.100.8:1", "guess"), core.Route{}); !errors.Is(err, core.ErrTooManyFailures) {
		t.Errorf("after two hung-up guesses: %v, want 429", err)
	}
	if st.calls.Load() != 2 {
		t.Errorf("%d store calls, want 2", st.calls.Load())
	}
}

// TestMisconfiguredBindingIsNotTheClientsFault: a bound route whose
// parameter reads empty (a mistyped name) answers 403 but charges nothing.
func TestMisconfiguredBindingIsNotTheClientsFault(t *testing.T) {
	s := newStore(t, map[string]core.SandboxInfo{secretKey: running("sb", "u")})
	lim, _ := core.NewFailureLimiter(1)
	v, _ := newValidator(t, s, core.WithFailureLimiter(lim))
	for range 3 {
		if _, _, err := v.Authenticate(requestFrom("192.0.2.9:1", secretKey), core.Route{Bound: true}); !errors.Is(err, core.ErrSandboxMismatch) {
			t.Fatalf("%v, want 403", err)
		}
	}
	// A SandboxID alone binds the route.
	if _, _, err := v.Authenticate(requestFrom("192.0.2.9:1", secretKey), core.Route{SandboxID: "other"}); !errors.Is(err, core.ErrSandboxMismatch) {
		t.Errorf("SandboxID without Bound: %v, want 403", err)
	}
	if _, _, err := v.Authenticate(requestFrom("192.0.2.9:1", secretKey), core.Route{SandboxID: "other"}); !errors.Is(err, core.ErrTooManyFailures) {
		t.Errorf("after one real mismatch with a budget of 1: %v, want 429", err)
	}
}

// holdingStore says it holds one key (as a cache does for a stale entry).
type holdingStore struct {
	*countingStore
	held string
}

func (h holdingStore) Holds(key string) bool { return key == h.held }

// TestHeldKeysAreNotLimited: a client sharing its address with an attacker
// keeps its sandbox's key working when the cache rechecks it.
func TestHeldKeysAreNotLimited(t *testing.T) {
	s := holdingStore{countingStore: newStore(t, map[string]core.SandboxInfo{secretKey: running("sb", "u")}), held: secretKey}
	lim, _ := core.NewFailureLimiter(1)
	v, _ := newValidator(t, s, core.WithFailureLimiter(lim))
	_, _, _ = v.Authenticate(requestFrom("192.0.2.10:1", "guess"), core.Route{})
	if _, _, err := v.Authenticate(requestFrom("192.0.2.10:1", "guess2"), core.Route{}); !errors.Is(err, core.ErrTooManyFailures) {
		t.Fatalf("%v, want the address limited", err)
	}
	if _, _, err := v.Authenticate(requestFrom("192.0.2.10:1", secretKey), core.Route{}); err != nil {
		t.Errorf("a held key from a limited address: %v", err)
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
	// LimitLookups goes under a cache, never over it.
	if _, err := core.LimitLookups(peekStore{countingStore: newStore(t, nil)}, 1, 0); err == nil {
		t.Error("a Peeker (a cache) was wrapped")
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

func TestZeroMemoryStoreAndLogValue(t *testing.T) {
	var m core.MemoryStore
	if _, err := m.LookupSandbox(context.Background(), "k"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("empty zero store: %v", err)
	}
	if err := m.Put("k", running("sb", "u")); err != nil {
		t.Fatalf("zero store Put: %v", err)
	}
	if _, err := m.LookupSandbox(context.Background(), "k"); err != nil {
		t.Error(err)
	}
	// A JSON log line keeps the sandbox and the cause, not the client's body.
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Error("x", "err", &core.Error{Code: core.CodeUnavailable, SandboxID: "sb", Err: errors.New("db down")})
	if !strings.Contains(buf.String(), `"err":"sandboxauth: Session API key could not be verified, try again later (sandbox sb): db down"`) {
		t.Errorf("JSON log: %s", buf.String())
	}
}

func TestNilRequestIsOneDecision(t *testing.T) {
	rec := &recorder{}
	v, _ := newValidator(t, newStore(t, nil), core.WithObserver(rec))
	if _, _, err := v.Authenticate(nil, core.Route{}); !errors.Is(err, core.ErrMissingKey) {
		t.Fatal(err)
	}
	if len(rec.ds) != 1 || rec.ds[0].Code != core.CodeMissingKey {
		t.Errorf("decisions %+v", rec.ds)
	}
}

func TestStorePanicIsAStoreDecision(t *testing.T) {
	rec := &recorder{}
	v, _ := newValidator(t, core.StoreFunc(func(context.Context, string) (*core.SandboxInfo, error) { panic("boom") }), core.WithObserver(rec))
	_, _, _ = v.Authenticate(requestFrom("192.0.2.1:1", "k"), core.Route{})
	if len(rec.ds) != 1 || rec.ds[0].Source != core.SourceStore || rec.ds[0].Code != core.CodeUnavailable {
		t.Errorf("decisions %+v", rec.ds)
	}
}
