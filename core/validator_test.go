package core_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

const secretKey = "sk-test-secret-key-that-must-never-be-logged-0001"

// countingStore wraps a MemoryStore and counts lookups.
type countingStore struct {
	*core.MemoryStore
	n atomic.Int64
}

func (c *countingStore) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	c.n.Add(1)
	return c.MemoryStore.LookupSandbox(ctx, key)
}

func newStore(t *testing.T, infos map[string]core.SandboxInfo) *countingStore {
	t.Helper()
	m := core.NewMemoryStore()
	for k, info := range infos {
		if err := m.Put(k, info); err != nil {
			t.Fatal(err)
		}
	}
	return &countingStore{MemoryStore: m}
}

func newValidator(t *testing.T, s core.Store, opts ...core.Option) (*core.Validator, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := core.New(s, append([]core.Option{core.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(buf.String(), secretKey) {
			t.Errorf("the key was logged:\n%s", buf.String())
		}
	})
	return v, &buf
}

func running(id, owner string) core.SandboxInfo {
	return core.SandboxInfo{ID: id, CreatedByUserID: owner, Status: core.StatusRunning}
}

func TestNewValidatesOptions(t *testing.T) {
	s := core.NewMemoryStore()
	bad := map[string][]core.Option{
		"unknown mode":      {core.WithMode("SaaS")},
		"empty mode":        {core.WithMode("")},
		"nil logger":        {core.WithLogger(nil)},
		"zero timeout":      {core.WithLookupTimeout(0)},
		"negative timeout":  {core.WithLookupTimeout(-time.Second)},
		"zero key length":   {core.WithMaxKeyLength(0)},
		"huge key length":   {core.WithMaxKeyLength(1 << 20)},
		"nil option":        {nil},
		"second one is bad": {core.WithMode(core.ModeSaaS), core.WithMode("x")},
	}
	for name, opts := range bad {
		if v, err := core.New(s, opts...); err == nil || v != nil {
			t.Errorf("%s: New = %v, %v; want an error", name, v, err)
		}
	}
	if _, err := core.New(nil); err == nil {
		t.Error("nil store accepted")
	}
	v, err := core.New(s)
	if err != nil || v.Mode() != core.ModeOSS {
		t.Fatalf("defaults: %v %v", v, err)
	}
}

func TestKeyFromHeader(t *testing.T) {
	v, _ := newValidator(t, core.NewMemoryStore(), core.WithMaxKeyLength(16))
	cases := []struct {
		name   string
		values []string
		want   *core.Error // nil = accepted
	}{
		{"absent", nil, core.ErrMissingKey},
		{"empty", []string{""}, core.ErrMissingKey},
		{"two values", []string{"a", "b"}, core.ErrMalformedKey},
		{"two empty values", []string{"", ""}, core.ErrMalformedKey},
		{"at bound", []string{strings.Repeat("k", 16)}, nil},
		{"over bound", []string{strings.Repeat("k", 17)}, core.ErrMalformedKey},
		{"NUL", []string{"a\x00b"}, core.ErrMalformedKey},
		{"newline", []string{"a\nb"}, core.ErrMalformedKey},
		{"tab", []string{"a\tb"}, core.ErrMalformedKey},
		{"DEL", []string{"a\x7fb"}, core.ErrMalformedKey},
		{"escape", []string{"\x1b[31m"}, core.ErrMalformedKey},
		{"spaces kept", []string{" a "}, nil},
		{"utf-8 kept", []string{"clé"}, nil},
	}
	for _, c := range cases {
		h := http.Header{}
		for _, val := range c.values {
			h.Add(core.HeaderName, val)
		}
		key, err := v.KeyFromHeader(h)
		switch {
		case c.want == nil && (err != nil || key != c.values[0]):
			t.Errorf("%s: got %q, %v; want the value unchanged", c.name, key, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// Lower-case header names arrive canonicalised by net/http.
	h := http.Header{}
	h.Set("x-session-api-key", "k")
	if key, err := v.KeyFromHeader(h); err != nil || key != "k" {
		t.Errorf("canonicalised header: %q %v", key, err)
	}
	if !core.HeaderPresent(http.Header{"X-Session-Api-Key": {""}}) || core.HeaderPresent(http.Header{}) {
		t.Error("HeaderPresent wrong")
	}
}

// TestOrderOfChecks pins docs/design.md §2 row by row on the core validator.
func TestOrderOfChecks(t *testing.T) {
	s := newStore(t, map[string]core.SandboxInfo{
		secretKey:          running("sb-1", "u1"),
		"ownerless":        running("sb-2", ""),
		"ownerless-paused": {ID: "sb-3", Status: core.StatusPaused},
		"starting":         {ID: "sb-4", Status: core.StatusStarting, CreatedByUserID: "u1"},
	})
	cases := []struct {
		mode  core.Mode
		key   string
		want  *core.Error
		calls int64
	}{
		{core.ModeOSS, "", core.ErrMissingKey, 0},
		{core.ModeOSS, "nope", core.ErrInvalidKey, 1},
		{core.ModeOSS, strings.ToUpper(secretKey), core.ErrInvalidKey, 1},
		{core.ModeOSS, secretKey + " ", core.ErrInvalidKey, 1}, // no trimming
		{core.ModeOSS, " " + secretKey, core.ErrInvalidKey, 1},
		{core.ModeOSS, "starting", core.ErrNotRunning, 1},
		{core.ModeOSS, "ownerless-paused", core.ErrNotRunning, 1},
		{core.ModeSaaS, "ownerless-paused", core.ErrNotRunning, 1}, // status before owner
		{core.ModeSaaS, "ownerless", core.ErrNoUser, 1},
		{core.ModeOSS, "ownerless", nil, 1},
		{core.ModeSaaS, secretKey, nil, 1},
	}
	for _, c := range cases {
		s.n.Store(0)
		v, logs := newValidator(t, s, core.WithMode(c.mode))
		info, err := v.Validate(context.Background(), c.key)
		if c.want == nil {
			if err != nil || info == nil {
				t.Errorf("%s %q: %v, want accepted", c.mode, c.key, err)
			}
		} else if !errors.Is(err, c.want) || info != nil {
			t.Errorf("%s %q: %v %v, want %v", c.mode, c.key, info, err, c.want)
		}
		if n := s.n.Load(); n != c.calls {
			t.Errorf("%s %q: %d store calls, want %d", c.mode, c.key, n, c.calls)
		}
		if c.want == core.ErrNotRunning && !strings.Contains(logs.String(), "Session key rejected for non-running sandbox") {
			t.Errorf("%s %q: no warning logged:\n%s", c.mode, c.key, logs)
		}
	}
}

func TestNotRunningErrorCarriesSandboxAndStatus(t *testing.T) {
	s := newStore(t, map[string]core.SandboxInfo{secretKey: {ID: "sb-9", Status: core.StatusError, CreatedByUserID: "u"}})
	v, logs := newValidator(t, s)
	_, err := v.Validate(context.Background(), secretKey)
	var e *core.Error
	if !errors.As(err, &e) || e.SandboxID != "sb-9" || e.Status != core.StatusError || e.Code != core.CodeNotRunning {
		t.Fatalf("got %#v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "sandbox_id=sb-9") || !strings.Contains(logs.String(), "status=ERROR") {
		t.Errorf("warning lacks attrs:\n%s", logs)
	}
	if strings.Contains(err.Error(), secretKey) {
		t.Error("error message carries the key")
	}
}

func TestStoreSeesEveryUser(t *testing.T) {
	// The lookup is not scoped to a caller: the store is asked for the key
	// alone, whoever owns the sandbox.
	var got string
	store := core.StoreFunc(func(ctx context.Context, key string) (*core.SandboxInfo, error) {
		got = key
		return &core.SandboxInfo{ID: "sb", CreatedByUserID: "someone-else", Status: core.StatusRunning}, nil
	})
	v, _ := newValidator(t, store, core.WithMode(core.ModeSaaS))
	info, err := v.Validate(context.Background(), secretKey)
	if err != nil || info.CreatedByUserID != "someone-else" || got != secretKey {
		t.Fatalf("%v %v %q", info, err, got)
	}
}

func TestStoreFailuresAre503(t *testing.T) {
	boom := errors.New("db down while looking up " + secretKey)
	cases := map[string]core.StoreFunc{
		"error": func(context.Context, string) (*core.SandboxInfo, error) { return nil, boom },
		"panic": func(_ context.Context, key string) (*core.SandboxInfo, error) { panic("bad " + key) },
		"nil, nil": func(context.Context, string) (*core.SandboxInfo, error) {
			return nil, nil
		},
		"timeout": func(ctx context.Context, _ string) (*core.SandboxInfo, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}
	for name, store := range cases {
		v, logs := newValidator(t, store, core.WithLookupTimeout(20*time.Millisecond))
		_, err := v.Validate(context.Background(), secretKey)
		if !errors.Is(err, core.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
			continue
		}
		if core.ResponseFor(err).Status != http.StatusServiceUnavailable {
			t.Errorf("%s: not 503", name)
		}
		if strings.Contains(err.Error(), secretKey) {
			t.Errorf("%s: error text carries the key: %v", name, err)
		}
		if !strings.Contains(logs.String(), "Session key lookup failed") {
			t.Errorf("%s: failure not logged:\n%s", name, logs)
		}
	}
	v, _ := newValidator(t, cases["error"])
	if _, err := v.Validate(context.Background(), secretKey); errors.Is(err, boom) {
		t.Errorf("the store's own error (which may hold the key) is reachable through the chain: %v", err)
	}
	v, _ = newValidator(t, cases["timeout"], core.WithLookupTimeout(time.Millisecond))
	if _, err := v.Validate(context.Background(), secretKey); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout cause: %v", err)
	}
}

// panickingPeeker is a store whose fast path panics (its own bug, or a
// cache observer's on a hit); its lookup would accept the key.
type panickingPeeker struct{ core.StoreFunc }

func (panickingPeeker) PeekSandbox(key string) (*core.SandboxInfo, bool) { panic("peek bug " + key) }

// A panicking Peeker is a store failure: 503, logged without the key, and
// never the lookup's acceptance behind it.
func TestPeekerPanicIs503(t *testing.T) {
	lookups := 0
	st := panickingPeeker{func(context.Context, string) (*core.SandboxInfo, error) {
		lookups++
		info := running("sb", "u")
		return &info, nil
	}}
	v, logs := newValidator(t, st)
	_, err := v.Validate(context.Background(), secretKey)
	if !errors.Is(err, core.ErrUnavailable) || core.ResponseFor(err).Status != http.StatusServiceUnavailable {
		t.Fatalf("panicking Peeker: %v, want 503", err)
	}
	if strings.Contains(err.Error(), secretKey) || strings.Contains(logs.String(), secretKey) {
		t.Errorf("the key leaked: %v\n%s", err, logs)
	}
	if !strings.Contains(logs.String(), "store panicked: peek bug") || lookups != 0 {
		t.Errorf("lookups %d, logs:\n%s", lookups, logs)
	}
}

func TestCancelledContextSkipsStore(t *testing.T) {
	s := newStore(t, map[string]core.SandboxInfo{secretKey: running("sb", "u")})
	v, _ := newValidator(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Validate(ctx, secretKey); !errors.Is(err, core.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request: %v", err)
	}
	if s.n.Load() != 0 {
		t.Error("store called for a request that was already gone")
	}
}

func TestNilContextDoesNotPanic(t *testing.T) {
	s := newStore(t, map[string]core.SandboxInfo{secretKey: running("sb", "u")})
	v, _ := newValidator(t, s)
	var nilCtx context.Context
	if _, err := v.Validate(nilCtx, secretKey); err != nil {
		t.Errorf("Validate(nil ctx): %v", err)
	}
	ctx, info, err := v.Authenticate(nil, core.Route{})
	if !errors.Is(err, core.ErrMissingKey) || info != nil || ctx == nil {
		t.Errorf("Authenticate(nil request): %v %v %v", ctx, info, err)
	}
}

func TestWrappedNotFoundIsInvalidKey(t *testing.T) {
	store := core.StoreFunc(func(context.Context, string) (*core.SandboxInfo, error) {
		return nil, errors.Join(errors.New("no rows"), core.ErrNotFound)
	})
	v, _ := newValidator(t, store)
	if _, err := v.Validate(context.Background(), secretKey); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("%v", err)
	}
}

func TestValidateReturnsCopies(t *testing.T) {
	info := running("sb", "u")
	info.ExposedURLs = []core.ExposedURL{{Name: "a", URL: "http://a", Port: 1}}
	s := newStore(t, map[string]core.SandboxInfo{secretKey: info})
	v, _ := newValidator(t, s)
	got, err := v.Validate(context.Background(), secretKey)
	if err != nil {
		t.Fatal(err)
	}
	got.Status, got.ExposedURLs[0].URL = core.StatusPaused, "http://evil"
	again, err := v.Validate(context.Background(), secretKey)
	if err != nil || again.ExposedURLs[0].URL != "http://a" {
		t.Fatalf("mutation leaked: %v %v", again, err)
	}
}

// memoryStore serves some keys from "memory" and counts fallbacks.
type memoryStore struct {
	countingStore
	peeked atomic.Int64
}

func (m *memoryStore) PeekSandbox(key string) (*core.SandboxInfo, bool) {
	m.peeked.Add(1)
	if key == "hot" {
		return &core.SandboxInfo{ID: "hot", Status: core.StatusPaused}, true
	}
	return nil, false
}

func TestMemoryStoreFastPathStillRunsPolicy(t *testing.T) {
	m := &memoryStore{countingStore: *newStore(t, map[string]core.SandboxInfo{"cold": running("cold", "u")})}
	v, _ := newValidator(t, m)
	if _, err := v.Validate(context.Background(), "hot"); !errors.Is(err, core.ErrNotRunning) {
		t.Errorf("a peeked PAUSED record must be rejected: %v", err)
	}
	if _, err := v.Validate(context.Background(), "cold"); err != nil {
		t.Errorf("fallback lookup: %v", err)
	}
	if m.peeked.Load() != 2 || m.n.Load() != 1 {
		t.Errorf("peeked %d, looked up %d; want 2, 1", m.peeked.Load(), m.n.Load())
	}
}

func TestAuthenticate(t *testing.T) {
	s := newStore(t, map[string]core.SandboxInfo{secretKey: running("sb", "u")})
	v, _ := newValidator(t, s)
	req := func(vals ...string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		for _, x := range vals {
			r.Header.Add(core.HeaderName, x)
		}
		return r
	}
	optional := core.Route{Optional: true}
	r := req()
	if c, info, err := v.Authenticate(r, optional); err != nil || info != nil || c != r.Context() {
		t.Errorf("optional, absent: %v %v", info, err)
	}
	if _, _, err := v.Authenticate(req(), core.Route{Optional: true, Bound: true, SandboxID: "sb"}); !errors.Is(err, core.ErrMissingKey) {
		t.Errorf("optional but bound, absent: %v", err)
	}
	if _, _, err := v.Authenticate(req(""), optional); !errors.Is(err, core.ErrMissingKey) {
		t.Errorf("optional, empty: %v", err)
	}
	if _, _, err := v.Authenticate(req(), core.Route{}); !errors.Is(err, core.ErrMissingKey) {
		t.Errorf("required, absent: %v", err)
	}
	if _, _, err := v.Authenticate(req("x", "y"), optional); !errors.Is(err, core.ErrMalformedKey) {
		t.Errorf("optional, duplicate: %v", err)
	}
	if _, _, err := v.Authenticate(req("nope"), core.Route{}); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("invalid: %v", err)
	}
	if _, _, err := v.Authenticate(req(secretKey), core.Route{Bound: true, SandboxID: "other"}); !errors.Is(err, core.ErrSandboxMismatch) {
		t.Errorf("bound to another sandbox: %v", err)
	}
	if _, _, err := v.Authenticate(req(secretKey), core.Route{Bound: true}); !errors.Is(err, core.ErrSandboxMismatch) {
		t.Errorf("bound to an empty id: %v", err)
	}
	c, info, err := v.Authenticate(req(secretKey), core.Route{Bound: true, SandboxID: "sb"})
	if err != nil || info == nil || info.ID != "sb" {
		t.Fatalf("valid: %v %v", info, err)
	}
	fromCtx, found := core.SandboxFromContext(c)
	if !found || fromCtx != info {
		t.Errorf("context holds %v %v, want the returned record", fromCtx, found)
	}
	if s, ok := c.(interface{ String() string }); !ok || strings.Contains(s.String(), secretKey) {
		t.Error("context String missing or leaks the key")
	}
}

// TestKeyNeverLeaksThroughStoreErrors: a store that puts the key into its
// error, quoted, escaped or in a field, must not get it into a log line,
// an error message or the error chain.
func TestKeyNeverLeaksThroughStoreErrors(t *testing.T) {
	key := `sk-"quoted"\back/slash?&=+%-0123456789`
	stores := map[string]core.StoreFunc{
		"%q": func(context.Context, string) (*core.SandboxInfo, error) {
			return nil, fmt.Errorf("lookup %q: connection reset", key)
		},
		"url.Error": func(context.Context, string) (*core.SandboxInfo, error) {
			return nil, &url.Error{Op: "Get", URL: "http://runtime/sandboxes?key=" + url.QueryEscape(key), Err: errors.New("refused")}
		},
		"path": func(context.Context, string) (*core.SandboxInfo, error) {
			return nil, errors.New("GET /keys/" + url.PathEscape(key) + ": 500")
		},
	}
	for name, store := range stores {
		var buf bytes.Buffer
		v, err := core.New(store, core.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Validate(context.Background(), key)
		if !errors.Is(err, core.ErrUnavailable) {
			t.Fatalf("%s: %v", name, err)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			t.Errorf("%s: the store's *url.Error is reachable through the chain", name)
		}
		text := err.Error() + fmt.Sprintf(" %+v %#v ", err, err) + buf.String()
		for _, form := range []string{"quoted", "back", url.QueryEscape(key), url.PathEscape(key)} {
			if strings.Contains(text, form) {
				t.Errorf("%s: a form of the key (%q) leaked:\n%s", name, form, text)
			}
		}
	}
}
