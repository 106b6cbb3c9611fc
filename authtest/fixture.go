// Package authtest is the conformance suite every sandboxauth adapter runs:
// the same cases of docs/design.md §2-§5, the failure limit of §8 and the
// decisions an Observer is told of (§9), over real HTTP, against the handler
// an adapter builds. An adapter's test calls Run with a Factory.
package authtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

// Routes a Factory must mount, all GET:
const (
	// PathProtected is behind the mandatory middleware.
	PathProtected = "/protected"
	// PathOptional is behind the middleware with credentials optional.
	PathOptional = "/optional"
	// PathSandboxPattern is behind the middleware with route binding
	// (WithSandboxParam) on the parameter "sandbox_id". Written here in net/http syntax;
	// a router uses its own (":sandbox_id" in gin and echo).
	PathSandboxPattern = "/api/v1/sandboxes/{sandbox_id}/settings/secrets"
)

// SandboxPath is PathSandboxPattern with the id filled in.
func SandboxPath(id string) string { return "/api/v1/sandboxes/" + id + "/settings/secrets" }

// Factory builds the handler under test: the adapter's middleware built with
// v, mounted on the three routes above (PathProtected, PathOptional with
// credentials optional, PathSandboxPattern with route binding on
// "sandbox_id"), each ending in endpoint. It fails t if it cannot.
type Factory func(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler

// StoreWrapper decorates the suite's store, e.g. with a cache, so the suite
// can prove the decoration changes no answer. It may register cleanups on t.
type StoreWrapper func(t testing.TB, s core.Store) core.Store

// Option configures Run.
type Option func(*suite)

// WithStoreWrapper runs every case with the store decorated by w. In the
// "cached/" variant the cache sits in front of w's store.
func WithStoreWrapper(w StoreWrapper) Option { return func(s *suite) { s.wrap = w } }

// WithoutEscapedSlash declares that the router under test cannot route a
// sandbox id holding an escaped "/" (a path segment such as "sb%2F2"): gin's
// default configuration matches on the decoded path, where that segment is
// two, and answers 404. It is the one exception the suite allows, and only
// of the fail-closed kind: such a request may then be answered 404 without
// the endpoint running, for any key. Any other answer must still be the one
// the suite requires without the option (200 with the sandbox the path names
// for that sandbox's key, 403 "Session API key does not match sandbox" for
// every other key), so a router that does route the path must route it
// right. Every other escaped id must be routed and compared as by net/http.
func WithoutEscapedSlash() Option { return func(s *suite) { s.noEscapedSlash = true } }

// The fixture's sandboxes, by key. Every key is long enough that finding it
// in a log line cannot be a coincidence.
const (
	KeyRunning          = "sk-running-0123456789abcdefghijklmnopqrstuvwxyz"
	KeyOwnerless        = "sk-ownerless-0123456789abcdefghijklmnopqrstuvwxyz"
	KeyOwnerlessPaused  = "sk-ownerless-paused-0123456789abcdefghijklmnopqrs"
	KeyUnknown          = "sk-unknown-0123456789abcdefghijklmnopqrstuvwxyz"
	SandboxRunning      = "sb-running"
	SandboxOwnerless    = "sb-ownerless"
	SandboxOwnerlessOff = "sb-ownerless-paused"
	Owner               = "user-1"
)

// KeyFor returns the fixture key of the owned sandbox "sb-<status>".
func KeyFor(s core.Status) string {
	if s == core.StatusRunning {
		return KeyRunning
	}
	return "sk-" + string(s) + "-0123456789abcdefghijklmnopqrstuvwxyz"
}

func sandboxFor(s core.Status) string {
	if s == core.StatusRunning {
		return SandboxRunning
	}
	return "sb-" + string(s)
}

func allKeys() []string {
	keys := []string{KeyOwnerless, KeyOwnerlessPaused, KeyUnknown}
	for _, s := range core.Statuses() {
		keys = append(keys, KeyFor(s))
	}
	for _, id := range EscapedIDs {
		keys = append(keys, KeyForID(id))
	}
	return keys
}

// EscapedIDs are the fixture's running sandboxes (owned by Owner, keys
// KeyForID) whose ids need escaping in a path, or look like something
// escaped: each of EscapedRoutes names one of them, and the others are what
// a router that decodes the path twice, or not at all, would compare instead
// (docs/design.md §5: the route's id is compared after unescaping, exactly
// once). Adapters reuse them to test router settings the suite cannot set.
var EscapedIDs = []string{"sb/2", "sb%2F2", "sb%41", "sbA", "sb%2541", "sb~3", "sb%7E3", "sb%41~", "sbA~"}

// KeyForID is the fixture key of the sandbox id, one of EscapedIDs.
func KeyForID(id string) string {
	return "sk-id-" + hex.EncodeToString([]byte(id)) + "-0123456789abcdefghijklmnop"
}

// EscapedRoute is a SandboxPath segment written with escapes, the sandbox it
// names (as net/http's r.PathValue reads it), and the look-alike a wrong
// number of decodings would name instead.
type EscapedRoute struct {
	Name      string
	Segment   string
	ID        string
	LookAlike string
	Slash     bool // the segment holds an escaped "/" (see WithoutEscapedSlash)
}

// EscapedRoutes are the escaped segments the suite routes. "sb%2541" alone
// leaves RawPath empty (it is the default escaping of "sb%41"), so routers
// match it on the decoded path; "%7E" (an escape net/http would not write)
// makes RawPath be set, so routers that use it match on it.
var EscapedRoutes = []EscapedRoute{
	{"slash", "sb%2F2", "sb/2", "sb%2F2", true},              // one segment, not two
	{"percent", "sb%2541", "sb%41", "sbA", false},            // decoded twice: "sbA"
	{"letter", "sb%41", "sbA", "sb%41", false},               // not decoded: "sb%41"
	{"tilde", "sb%7E3", "sb~3", "sb%7E3", false},             // RawPath keeps the escaped "~"
	{"percent-tilde", "sb%2541%7E", "sb%41~", "sbA~", false}, // decoded twice: "sbA~"
}

// NewEscapedStore returns a MemoryStore holding only the sandboxes of
// EscapedIDs, RUNNING, owned by Owner, under KeyForID.
func NewEscapedStore(t testing.TB) *core.MemoryStore {
	m := core.NewMemoryStore()
	for _, id := range EscapedIDs {
		if err := m.Put(KeyForID(id), core.SandboxInfo{ID: id, CreatedByUserID: Owner, Status: core.StatusRunning}); err != nil {
			t.Fatalf("escaped fixture: %v", err)
		}
	}
	return m
}

// newFixtureStore returns a MemoryStore holding the fixture.
func newFixtureStore(t testing.TB) *core.MemoryStore {
	m := core.NewMemoryStore()
	put := func(key string, info core.SandboxInfo) {
		info.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		info.SandboxSpecID = "spec-1"
		info.ExposedURLs = []core.ExposedURL{{Name: "AGENT_SERVER", URL: "http://127.0.0.1:9", Port: 9}}
		if err := m.Put(key, info); err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	for _, s := range core.Statuses() {
		put(KeyFor(s), core.SandboxInfo{ID: sandboxFor(s), CreatedByUserID: Owner, Status: s})
	}
	put(KeyOwnerless, core.SandboxInfo{ID: SandboxOwnerless, Status: core.StatusRunning})
	put(KeyOwnerlessPaused, core.SandboxInfo{ID: SandboxOwnerlessOff, Status: core.StatusPaused})
	for _, id := range EscapedIDs {
		put(KeyForID(id), core.SandboxInfo{ID: id, CreatedByUserID: Owner, Status: core.StatusRunning})
	}
	return m
}

// probeStore counts lookups and can be switched to fail, block or panic.
type probeStore struct {
	inner    core.Store
	calls    atomic.Int64
	mode     atomic.Int32 // one of probe*
	sawDone  chan struct{}
	doneOnce sync.Once
}

const (
	probeOK int32 = iota
	probeFail
	probeBlock
	probePanic
)

// errBackend is the store failure the suite injects. Its text names no key.
var errBackend = errors.New("connection refused (injected by authtest)")

func (p *probeStore) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	p.calls.Add(1)
	switch p.mode.Load() {
	case probeFail:
		return nil, errBackend
	case probeBlock:
		<-ctx.Done()
		p.doneOnce.Do(func() { close(p.sawDone) })
		return nil, ctx.Err()
	case probePanic:
		panic(fmt.Sprintf("injected panic while looking up %s", key))
	}
	return p.inner.LookupSandbox(ctx, key)
}

// SandboxStatus passes through, so a cache can recheck stale entries.
func (p *probeStore) SandboxStatus(ctx context.Context, id string) (core.Status, error) {
	p.calls.Add(1)
	if p.mode.Load() != probeOK {
		return "", errBackend
	}
	return p.inner.(core.StatusStore).SandboxStatus(ctx, id)
}

// logBuffer is a concurrency-safe sink for slog.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
