package authtest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

type suite struct {
	factory Factory
	wrap    StoreWrapper
	cached  bool // the "cached/" and "recheck/" variants: a cache.Cache in front of the store
	recheck bool // the "recheck/" variant: every entry is stale at once

	noEscapedSlash bool // WithoutEscapedSlash
}

// suiteTTL is the cache TTL of the "cached/" variant: long enough that every
// repeated request of a case is a cache hit.
const suiteTTL = time.Minute

// env is one case's world: a store, a validator, a server.
type env struct {
	t        *testing.T
	probe    *probeStore
	mem      *core.MemoryStore
	cache    *cache.Cache // nil in the "uncached/" variant
	logs     *logBuffer
	srvLogs  *logBuffer
	srv      *httptest.Server
	calls    atomic.Int64 // endpoint calls
	headers  atomic.Int64 // WriteHeader calls seen by the outermost writer
	lastSeen atomic.Pointer[core.SandboxInfo]

	handlerRejections atomic.Int64 // answers written by handlerChecks
}

// handlerChecks applies core.RequireOwner and core.CheckCaller as a handler
// would, when the request's query asks for them.
func handlerChecks(r *http.Request, info *core.SandboxInfo) error {
	q := r.URL.Query()
	if q.Has("require_owner") {
		if _, err := core.RequireOwner(info); err != nil {
			return err
		}
	}
	if q.Has("caller") {
		return core.CheckCaller(info, q.Get("caller"))
	}
	return nil
}

// endpointBody is what the suite's endpoint answers.
type endpointBody struct {
	Authenticated bool   `json:"authenticated"`
	SandboxID     string `json:"sandbox_id"`
	Owner         string `json:"owner"`
	Status        string `json:"status"`
}

func (s *suite) newEnv(t *testing.T, opts ...core.Option) *env {
	t.Helper()
	e := &env{t: t, logs: &logBuffer{}, srvLogs: &logBuffer{}}
	e.mem = newFixtureStore(t)
	e.probe = &probeStore{inner: e.mem, sawDone: make(chan struct{})}
	var store core.Store = e.probe
	if s.wrap != nil {
		store = s.wrap(t, store)
	}
	if s.cached {
		ttl := suiteTTL
		if s.recheck {
			ttl = time.Nanosecond // every repeated request rechecks the status
		}
		c, err := cache.New(store, cache.WithTTL(ttl), cache.WithMaxStale(suiteTTL), cache.WithCleanupInterval(0))
		if err != nil {
			t.Fatalf("cache.New: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		e.cache, store = c, c
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := core.New(store, append([]core.Option{core.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		var body endpointBody
		info, ok := core.SandboxFromContext(r.Context())
		// The route-level checks of docs/design.md §5 that live in handlers, switched
		// on by the query: ?require_owner and ?caller=<authenticated user>.
		if err := handlerChecks(r, info); err != nil {
			e.handlerRejections.Add(1)
			core.WriteError(w, err)
			return
		}
		if ok {
			body = endpointBody{true, info.ID, info.CreatedByUserID, string(info.Status)}
			e.lastSeen.Store(info)
			// A handler that scribbles on its record must poison nothing.
			info.Status, info.CreatedByUserID = core.StatusPaused, "mallory"
			if len(info.ExposedURLs) > 0 {
				info.ExposedURLs[0].URL = "http://evil.example"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
	h := s.factory(t, v, endpoint)
	if h == nil {
		t.Fatal("factory returned a nil handler")
	}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A request of getFrom comes from another client: the server sees
		// the address it names, as if another peer had connected.
		if addr := r.Header.Get(remoteAddrHeader); addr != "" {
			r.Header.Del(remoteAddrHeader)
			r.RemoteAddr = addr
		}
		h.ServeHTTP(&countingWriter{ResponseWriter: w, n: &e.headers}, r)
	})
	e.srv = httptest.NewUnstartedServer(counted)
	e.srv.Config.ErrorLog = log.New(e.srvLogs, "", 0)
	e.srv.Start()
	t.Cleanup(func() {
		e.srv.Close()
		e.assertNoKeyLogged()
	})
	return e
}

// decisionRecorder is a core.Observer keeping every decision, in order.
type decisionRecorder struct {
	mu        sync.Mutex
	decisions []core.Decision
}

func (o *decisionRecorder) ObserveDecision(_ context.Context, d core.Decision) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.decisions = append(o.decisions, d)
}

func (o *decisionRecorder) all() []core.Decision {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]core.Decision(nil), o.decisions...)
}

// countingWriter counts status lines written through it.
type countingWriter struct {
	http.ResponseWriter
	n     *atomic.Int64
	wrote bool
}

func (w *countingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.n.Add(1)
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// result is one answer as the client saw it.
type result struct {
	status int
	header http.Header
	body   string
}

func (e *env) get(path string, keys ...string) result {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, k := range keys {
		req.Header.Add(core.HeaderName, k)
	}
	return e.do(req)
}

// remoteAddrHeader carries the remote address getFrom's request is to have.
// The suite's server takes it off before the adapter sees the request.
const remoteAddrHeader = "X-Authtest-Remote-Addr"

// getFrom is get from another client, at remoteAddr ("198.51.100.7:4321"):
// every other request of a case comes from the loopback address.
func (e *env) getFrom(remoteAddr, path string, keys ...string) result {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, k := range keys {
		req.Header.Add(core.HeaderName, k)
	}
	req.Header.Set(remoteAddrHeader, remoteAddr)
	return e.do(req)
}

func (e *env) do(req *http.Request) result {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

// expectHandlerRejected asserts the table's answer for want, written by the
// endpoint's own §1.4 check (so the endpoint ran, once, and wrote once).
func (e *env) expectHandlerRejected(r result, want *core.Error) {
	e.t.Helper()
	row := core.ResponseFor(want)
	if r.status != row.Status || r.body != row.Body || r.header.Get("Content-Type") != core.ContentType {
		e.t.Errorf("got %d %q (%s), want %d %q", r.status, r.body, r.header.Get("Content-Type"), row.Status, row.Body)
	}
	if e.handlerRejections.Load() != 1 {
		e.t.Errorf("handler check answered %d times, want 1", e.handlerRejections.Load())
	}
	e.expectOneResponse()
}

// expectRejected asserts the exact answer of the error table for want, that
// the endpoint did not run, and that exactly one response was written.
func (e *env) expectRejected(r result, want *core.Error) {
	e.t.Helper()
	row := core.ResponseFor(want)
	if r.status != row.Status {
		e.t.Errorf("status = %d, want %d (body %q)", r.status, row.Status, r.body)
	}
	if r.body != row.Body {
		e.t.Errorf("body = %q, want %q", r.body, row.Body)
	}
	var parsed struct {
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}
	if err := json.Unmarshal([]byte(r.body), &parsed); err != nil || parsed.Detail != row.Detail || parsed.Code != string(row.Code) {
		e.t.Errorf("body %q does not decode to detail %q code %q", r.body, row.Detail, row.Code)
	}
	if ct := r.header.Get("Content-Type"); ct != core.ContentType {
		e.t.Errorf("Content-Type = %q, want %q", ct, core.ContentType)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if ra := r.header.Get("Retry-After"); ra != row.RetryAfter {
		e.t.Errorf("Retry-After = %q, want %q", ra, row.RetryAfter)
	}
	if n := e.calls.Load(); n != 0 {
		e.t.Errorf("endpoint ran %d times on a rejected request", n)
	}
	e.expectOneResponse()
}

func (e *env) expectOneResponse() {
	e.t.Helper()
	if n := e.headers.Load(); n != 1 {
		e.t.Errorf("%d status lines written, want exactly 1", n)
	}
	if strings.Contains(e.srvLogs.String(), "superfluous") {
		e.t.Errorf("server log: %s", e.srvLogs.String())
	}
}

func (e *env) expectAccepted(r result, sandboxID string) endpointBody {
	e.t.Helper()
	if r.status != http.StatusOK {
		e.t.Fatalf("status = %d, want 200 (body %q)", r.status, r.body)
	}
	var b endpointBody
	if err := json.Unmarshal([]byte(r.body), &b); err != nil {
		e.t.Fatalf("endpoint body %q: %v", r.body, err)
	}
	if !b.Authenticated || b.SandboxID != sandboxID {
		e.t.Errorf("endpoint saw %+v through r.Context(), want sandbox %q", b, sandboxID)
	}
	if b.Status != string(core.StatusRunning) {
		e.t.Errorf("endpoint saw status %q, want RUNNING", b.Status)
	}
	return b
}

// resetCounts forgets the endpoint runs and status lines counted so far,
// before the next request of a case.
func (e *env) resetCounts() {
	e.calls.Store(0)
	e.headers.Store(0)
}

func (e *env) expectStoreCalls(want int64) {
	e.t.Helper()
	if n := e.probe.calls.Load(); n != want {
		e.t.Errorf("store called %d times, want %d", n, want)
	}
}

func (e *env) assertNoKeyLogged() {
	e.t.Helper()
	all := e.logs.String() + e.srvLogs.String()
	for _, k := range allKeys() {
		if strings.Contains(all, k) {
			e.t.Errorf("a session key appears in the logs:\n%s", all)
		}
	}
}

// logRecords returns the captured slog records with message msg.
func (e *env) logRecords(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// rawRequest sends bytes as-is (for headers net/http's client refuses to
// send) and returns the status code of the answer.
func (e *env) rawRequest(raw string) int {
	e.t.Helper()
	conn, err := net.DialTimeout("tcp", e.srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
