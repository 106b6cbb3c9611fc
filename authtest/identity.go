package authtest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// NetHTTP is the Factory of the net/http adapter (package stdlib) on a Go
// 1.22 ServeMux. It is the reference of the suite's "identity/" cases: the
// answers every other adapter must reproduce byte for byte.
func NetHTTP(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
	auth, err := stdlib.Middleware(v)
	if err != nil {
		t.Fatal(err)
	}
	optional, err := stdlib.Middleware(v, stdlib.WithCredentialsOptional())
	if err != nil {
		t.Fatal(err)
	}
	bound, err := stdlib.Middleware(v, stdlib.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+PathProtected, auth(endpoint))
	mux.Handle("GET "+PathOptional, optional(endpoint))
	mux.Handle("GET "+PathSandboxPattern, bound(endpoint))
	return mux
}

// controlledHeaders are the headers the error table sets.
var controlledHeaders = []string{"Content-Type", "Cache-Control", "X-Content-Type-Options", "Retry-After"}

// runIdentity sends the same requests to the reference (the net/http
// adapter) and to the factory's handler and requires the same status, the
// same header map and the same body bytes: "on the default setup of every
// framework the answer is byte-identical".
func runIdentity(t *testing.T, factory Factory, s *suite) {
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := core.SandboxFromContext(r.Context())
		if err := handlerChecks(r, info); err != nil {
			core.WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		id := "anonymous"
		if info != nil {
			id = info.ID
		}
		_, _ = w.Write([]byte("hello " + id))
	})
	validators := map[string]func(t *testing.T) *core.Validator{
		"oss": func(t *testing.T) *core.Validator { return newValidator(t, newFixtureStore(t)) },
		"saas": func(t *testing.T) *core.Validator {
			return newValidator(t, newFixtureStore(t), core.WithMode(core.ModeSaaS))
		},
		"down": func(t *testing.T) *core.Validator {
			return newValidator(t, core.StoreFunc(func(context.Context, string) (*core.SandboxInfo, error) {
				return nil, errBackend
			}))
		},
		// A failure budget of one: the case's prime request spends it.
		"limited": func(t *testing.T) *core.Validator {
			l, err := core.NewFailureLimiter(1)
			if err != nil {
				t.Fatal(err)
			}
			return newValidator(t, newFixtureStore(t), core.WithFailureLimiter(l))
		},
	}
	type identityCase struct {
		name, validator, path string
		keys                  []string
		status                int
		prime                 int  // requests with KeyUnknown sent first, each answered 401
		slash                 bool // the path holds an escaped "/" (WithoutEscapedSlash)
	}
	cases := []identityCase{
		{"missing", "oss", PathProtected, nil, 401, 0, false},
		{"empty", "oss", PathProtected, []string{""}, 401, 0, false},
		{"duplicate", "oss", PathProtected, []string{KeyRunning, KeyRunning}, 401, 0, false},
		{"oversized", "oss", PathProtected, []string{strings.Repeat("k", core.DefaultMaxKeyLength+1)}, 401, 0, false},
		{"unknown", "oss", PathProtected, []string{KeyUnknown}, 401, 0, false},
		{"paused", "oss", PathProtected, []string{KeyFor(core.StatusPaused)}, 401, 0, false},
		{"saas-no-user", "saas", PathProtected, []string{KeyOwnerless}, 401, 0, false},
		{"store-down", "down", PathProtected, []string{KeyRunning}, 503, 0, false},
		{"store-down-optional", "down", PathOptional, []string{KeyRunning}, 503, 0, false},
		{"mismatch", "oss", SandboxPath(SandboxOwnerless), []string{KeyRunning}, 403, 0, false},
		{"bound-no-key", "oss", SandboxPath(SandboxRunning), nil, 401, 0, false},
		{"owner-required", "oss", PathProtected + "?require_owner", []string{KeyOwnerless}, 401, 0, false},
		{"dual-auth-other", "oss", PathProtected + "?caller=user-2", []string{KeyRunning}, 403, 0, false},
		{"accepted", "oss", PathProtected, []string{KeyRunning}, 200, 0, false},
		{"accepted-bound", "oss", SandboxPath(SandboxRunning), []string{KeyRunning}, 200, 0, false},
		{"optional-absent", "oss", PathOptional, nil, 200, 0, false},
		{"optional-absent-store-down", "down", PathOptional, nil, 200, 0, false},
		{"too-many-failures", "limited", PathProtected, []string{KeyUnknown}, 429, 1, false},
		{"too-many-failures-valid-key", "limited", PathProtected, []string{KeyRunning}, 429, 1, false},
		{"too-many-failures-bound", "limited", SandboxPath(SandboxRunning), []string{KeyRunning}, 429, 1, false},
	}
	for _, er := range EscapedRoutes {
		p := SandboxPath(er.Segment)
		cases = append(cases,
			identityCase{"escaped-" + er.Name, "oss", p, []string{KeyForID(er.ID)}, 200, 0, er.Slash},
			identityCase{"escaped-" + er.Name + "-lookalike", "oss", p, []string{KeyForID(er.LookAlike)}, 403, 0, er.Slash})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var recs [2]*httptest.ResponseRecorder
			for i, build := range []Factory{NetHTTP, factory} {
				// A validator for each: the prime requests spend a budget
				// of each handler's own.
				h := build(t, validators[c.validator](t), endpoint)
				for j := 0; j < c.prime; j++ {
					req := httptest.NewRequest(http.MethodGet, PathProtected, nil)
					req.Header.Set(core.HeaderName, KeyUnknown)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusUnauthorized {
						t.Fatalf("handler %d: prime request %d answered %d, want 401", i, j, rec.Code)
					}
				}
				req := httptest.NewRequest(http.MethodGet, c.path, nil)
				for _, k := range c.keys {
					req.Header.Add(core.HeaderName, k)
				}
				recs[i] = httptest.NewRecorder()
				h.ServeHTTP(recs[i], req)
			}
			ref, got := recs[0], recs[1]
			if ref.Code != c.status {
				t.Fatalf("the reference answered %d, want %d: the case tests nothing", ref.Code, c.status)
			}
			if c.slash && s.noEscapedSlash && got.Code == http.StatusNotFound {
				t.Logf("%s: 404, allowed by WithoutEscapedSlash", c.path)
				return
			}
			if got.Code != ref.Code {
				t.Errorf("status %d, net/http adapter %d", got.Code, ref.Code)
			}
			if !reflect.DeepEqual(got.Header(), ref.Header()) {
				t.Errorf("headers:\n got       %v\n net/http  %v", got.Header(), ref.Header())
			}
			for _, h := range controlledHeaders {
				if got.Header().Get(h) != ref.Header().Get(h) {
					t.Errorf("%s: %q, net/http adapter %q", h, got.Header().Get(h), ref.Header().Get(h))
				}
			}
			if got.Body.String() != ref.Body.String() {
				t.Errorf("body:\n got      %q\n net/http %q", got.Body, ref.Body)
			}
		})
	}
}

// newValidator builds a validator that logs nowhere.
func newValidator(t *testing.T, s core.Store, opts ...core.Option) *core.Validator {
	t.Helper()
	v, err := core.New(s, append([]core.Option{core.WithLogger(discardLogger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var discardLogger = slog.New(slog.DiscardHandler)
