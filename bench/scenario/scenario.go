// Package scenario builds the handlers that the benchmarks of this module
// measure: one framework (net/http ServeMux, chi, gin, echo v4, echo v5) serving
// GET /api/v1/sandboxes/{sandbox_id}/settings/secrets under one scenario
// (no auth, sandboxauth over the in-memory store, with the cache, the
// rejection path, a store with simulated latency, echo's KeyAuth in v4 and v5).
//
// Both the micro-benchmarks (bench_test.go) and the load command
// (cmd/loadtest) call Build, so they measure exactly the same handlers.
package scenario

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// Framework names a router.
type Framework string

// The frameworks, in the order tables and charts show them.
const (
	Stdlib Framework = "stdlib" // net/http ServeMux (Go 1.22 patterns) + package stdlib
	Chi    Framework = "chi"    // chi v5 + chiauth
	Gin    Framework = "gin"    // gin + ginauth
	Echo   Framework = "echo"   // echo v4 + echoauth
	Echo5  Framework = "echo5"  // echo v5 + echo5auth (echo5.go)
)

// Frameworks returns every framework, in display order.
func Frameworks() []Framework { return []Framework{Stdlib, Chi, Gin, Echo, Echo5} }

// Scenario names what sits in front of the route's handler.
type Scenario string

// The scenarios, in the order tables and charts show them.
const (
	// Bare is the route with no authentication at all: the baseline every
	// other scenario of the same framework is divided by.
	Bare Scenario = "bare"
	// MemoryStore is sandboxauth (authentication and route binding in one
	// middleware: the adapter's WithSandboxParam) over core.MemoryStore,
	// without the cache.
	MemoryStore Scenario = "memstore"
	// Cached is MemoryStore with the cache in front: every request is a hit.
	Cached Scenario = "cached"
	// Reject presents an unknown key to sandboxauth over core.MemoryStore: 401.
	Reject Scenario = "reject"
	// RejectCached presents an unknown key with the cache in front (unknown
	// keys are never cached, so each one is a miss and a store call): 401.
	RejectCached Scenario = "reject-cached"
	// Slow is sandboxauth over a store with simulated latency (200 µs by
	// default, see Wait), without the cache.
	Slow Scenario = "slow"
	// SlowCached is Slow with the cache in front: every request is a hit.
	SlowCached Scenario = "slow-cached"
	// KeyAuth is echo's own middleware.KeyAuth with an equivalent map
	// validator (echo v4 and echo v5 only): the outside baseline.
	KeyAuth Scenario = "keyauth"
)

// Scenarios returns every scenario, in display order.
func Scenarios() []Scenario {
	return []Scenario{Bare, MemoryStore, Cached, Reject, RejectCached, Slow, SlowCached, KeyAuth}
}

// MicroScenarios returns the scenarios of the micro-benchmarks: those whose
// cost is CPU, not a simulated wait.
func MicroScenarios() []Scenario {
	return []Scenario{Bare, MemoryStore, Cached, Reject, RejectCached, KeyAuth}
}

// Supports reports whether fw can run sc (KeyAuth is echo's own, in v4
// and v5).
func Supports(fw Framework, sc Scenario) bool {
	return slices.Contains(Frameworks(), fw) && slices.Contains(Scenarios(), sc) && (sc != KeyAuth || fw == Echo || fw == Echo5)
}

// ExpectedStatus is the status every request of sc must be answered with.
func (sc Scenario) ExpectedStatus() int {
	if sc == Reject || sc == RejectCached {
		return http.StatusUnauthorized
	}
	return http.StatusOK
}

// authenticated reports whether the handler of sc must see a sandbox.
func (sc Scenario) authenticated() bool { return sc != Bare && sc.ExpectedStatus() == http.StatusOK }

// The fixture. Key has the length of a real key (32 random bytes in
// base64url: 43 characters); UnknownKey has the same length.
const (
	SandboxID  = "sb-bench"
	Key        = "sk-bench-0123456789abcdefghijklmnopqrstuvwx"
	UnknownKey = "sk-bench-unknown-0123456789abcdefghijklmnop"
	// Path is the request path; the route is Pattern with the framework's
	// parameter syntax.
	Path    = "/api/v1/sandboxes/" + SandboxID + "/settings/secrets"
	Pattern = "/api/v1/sandboxes/{sandbox_id}/settings/secrets"
	// Param is the name of the route parameter that carries the sandbox id.
	Param = "sandbox_id"
)

// Body is what the route's handler answers on success.
var Body = []byte(`{"secrets":[]}` + "\n")

// Sandbox is the fixture's sandbox record: RUNNING, with an owner and one
// exposed URL, like a real agent sandbox.
func Sandbox() core.SandboxInfo {
	return core.SandboxInfo{
		ID: SandboxID, CreatedByUserID: "u-bench", SandboxSpecID: "spec-bench", Status: core.StatusRunning,
		ExposedURLs: []core.ExposedURL{{Name: "AGENT_SERVER", URL: "http://127.0.0.1:9", Port: 9}},
		CreatedAt:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// Config tunes Build. The zero value is the default.
type Config struct {
	// Latency is the simulated latency of the Slow and SlowCached stores.
	// Default DefaultLatency.
	Latency time.Duration
	// CacheTTL is the cache's TTL. Default cache.DefaultTTL (2 s): what a
	// user gets, so a long load run sees an occasional stale recheck.
	CacheTTL time.Duration
	// Logger is the validator's logger. Default slog.Default(); nothing is
	// logged at Info or above on any scenario's path.
	Logger *slog.Logger
}

// DefaultLatency is the default simulated store latency.
const DefaultLatency = 200 * time.Microsecond

// Target is one framework serving the route under one scenario.
type Target struct {
	Framework Framework
	Scenario  Scenario
	// Handler serves Path.
	Handler http.Handler
	// Key is the X-Session-API-Key value every request carries (the bare
	// route gets it too, so requests are identical across scenarios).
	Key string
	// Store is the latency store of Slow and SlowCached, else nil.
	Store *LatencyStore

	closers []func()
}

// Close releases the target's cache, if any. It is idempotent.
func (t *Target) Close() {
	for _, c := range t.closers {
		c()
	}
	t.closers = nil
}

// NewRequest returns a request for the target, as a client would send it.
func (t *Target) NewRequest() *http.Request { return t.NewRequestFor(SandboxID) }

// NewRequestFor returns the target's request (same key) for the route of
// sandbox id instead of SandboxID's: with any other id, the binding of the
// route to the sandbox must answer 403.
func (t *Target) NewRequestFor(id string) *http.Request {
	r, err := http.NewRequest(http.MethodGet, "http://127.0.0.1/api/v1/sandboxes/"+url.PathEscape(id)+"/settings/secrets", nil)
	if err != nil { // an escaped id in a constant URL: cannot happen
		panic(err)
	}
	r.Header.Set(core.HeaderName, t.Key)
	return r
}

// Build returns fw serving the route under sc.
func Build(fw Framework, sc Scenario, cfg Config) (*Target, error) {
	if !Supports(fw, sc) {
		return nil, fmt.Errorf("scenario: %s does not run %s", fw, sc)
	}
	if cfg.Latency == 0 {
		cfg.Latency = DefaultLatency
	}
	if cfg.Latency < 0 {
		return nil, errors.New("scenario: negative latency")
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = cache.DefaultTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t := &Target{Framework: fw, Scenario: sc, Key: Key}
	if sc == Reject || sc == RejectCached {
		t.Key = UnknownKey
	}
	var v *core.Validator
	if sc != Bare && sc != KeyAuth {
		var err error
		if v, err = t.validator(sc, cfg); err != nil {
			t.Close()
			return nil, err
		}
	}
	h, err := build(fw, sc, v)
	if err != nil {
		t.Close()
		return nil, err
	}
	t.Handler = h
	return t, nil
}

// validator builds the store chain of sc and a validator over it.
func (t *Target) validator(sc Scenario, cfg Config) (*core.Validator, error) {
	mem := core.NewMemoryStore()
	if err := mem.Put(Key, Sandbox()); err != nil {
		return nil, err
	}
	var store core.Store = mem
	if sc == Slow || sc == SlowCached {
		ls, err := NewLatencyStore(mem, cfg.Latency)
		if err != nil {
			return nil, err
		}
		t.Store, store = ls, ls
	}
	if sc == Cached || sc == RejectCached || sc == SlowCached {
		c, err := cache.New(store, cache.WithTTL(cfg.CacheTTL), cache.WithCleanupInterval(0))
		if err != nil {
			return nil, err
		}
		t.closers = append(t.closers, func() { _ = c.Close() })
		store = c
	}
	return core.New(store, core.WithLogger(cfg.Logger))
}

// build mounts the route on fw with sc's middleware.
func build(fw Framework, sc Scenario, v *core.Validator) (http.Handler, error) {
	switch fw {
	case Stdlib:
		return buildStdlib(sc, v)
	case Chi:
		return buildChi(sc, v)
	case Gin:
		return buildGin(sc, v)
	case Echo:
		return buildEcho(sc, v)
	case Echo5:
		return buildEcho5(sc, v)
	}
	return nil, fmt.Errorf("scenario: unknown framework %q", fw)
}

// writeBody answers the route's success on a net/http ResponseWriter.
func writeBody(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(Body)
}

// errNoSandbox is answered (500) when an authenticated scenario's handler
// finds no sandbox: a wiring bug the status test would catch.
const errNoSandbox = "no sandbox in context"
