package stdlib_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sandboxauth/sandboxauth/authtest"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// The suite's reference factory is this adapter on a ServeMux.
func TestConformance(t *testing.T) { authtest.Run(t, authtest.NetHTTP) }

func newValidator(t *testing.T) *core.Validator {
	t.Helper()
	m := core.NewMemStore()
	if err := m.Put("k1", core.SandboxInfo{ID: "sb1", Status: core.StatusRunning, CreatedByUserID: "u"}); err != nil {
		t.Fatal(err)
	}
	v, err := core.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestConstructorsValidate(t *testing.T) {
	v := newValidator(t)
	if _, err := stdlib.Middleware(nil); err == nil {
		t.Error("nil validator accepted")
	}
	for name, opt := range map[string]stdlib.Option{
		"nil option":        nil,
		"nil skipper":       stdlib.WithSkipper(nil),
		"nil error handler": stdlib.WithErrorHandler(nil),
	} {
		if _, err := stdlib.Middleware(v, opt); err == nil {
			t.Errorf("%s accepted by Middleware", name)
		}
		if _, err := stdlib.MatchPathValue("id", opt); err == nil {
			t.Errorf("%s accepted by MatchPathValue", name)
		}
	}
	if _, err := stdlib.MatchPathValue(""); err == nil {
		t.Error("empty wildcard name accepted")
	}
}

func TestSkipperBypassesAuthWithoutSandbox(t *testing.T) {
	mw, err := stdlib.Middleware(newValidator(t), stdlib.WithSkipper(func(r *http.Request) bool { return r.URL.Path == "/healthz" }))
	if err != nil {
		t.Fatal(err)
	}
	var sawSandbox bool
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, sawSandbox = stdlib.Sandbox(r) }))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || sawSandbox {
		t.Errorf("skipped route: %d, sandbox %v; want 200 without sandbox", rec.Code, sawSandbox)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/other", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("unskipped route without key: %d, want 401", rec.Code)
	}
}

func TestErrorHandlerReceivesTypedError(t *testing.T) {
	var got error
	mw, err := stdlib.Middleware(newValidator(t), stdlib.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(core.HeaderName, "nope")
	mw(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusTeapot {
		t.Errorf("status %d, want the custom handler's 418", rec.Code)
	}
	if !core.IsCode(got, core.CodeInvalidKey) {
		t.Errorf("error handler got %v, want an invalid-key *core.Error", got)
	}
}

func TestSilentErrorHandlerFailsClosed(t *testing.T) {
	mw, err := stdlib.Middleware(newValidator(t), stdlib.WithErrorHandler(func(http.ResponseWriter, *http.Request, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mw(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusUnauthorized || rec.Body.String() != core.ResponseFor(core.ErrMissingKey).Body {
		t.Errorf("a handler that wrote nothing left %d %q, want the table's 401", rec.Code, rec.Body)
	}
}

func TestSandboxAccessorWithoutMiddleware(t *testing.T) {
	if info, ok := stdlib.Sandbox(nil); ok || info != nil {
		t.Error("Sandbox(nil) found a sandbox")
	}
	if info, ok := stdlib.Sandbox(httptest.NewRequest(http.MethodGet, "/", nil)); ok || info != nil {
		t.Errorf("Sandbox on a bare request = %v, %v; want nil, false", info, ok)
	}
}

func TestRouteBindingHonoursSkipper(t *testing.T) {
	skip := stdlib.WithSkipper(func(r *http.Request) bool { return r.Header.Get("X-Internal") == "1" })
	auth, err := stdlib.Middleware(newValidator(t), skip)
	if err != nil {
		t.Fatal(err)
	}
	bind, err := stdlib.MatchPathValue("sandbox_id", skip)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /sandboxes/{sandbox_id}", auth(bind(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))))
	for _, c := range []struct {
		internal, key string
		want          int
	}{{"1", "", 200}, {"", "", 401}, {"", "k1", 200}} {
		req := httptest.NewRequest(http.MethodGet, "/sandboxes/sb1", nil)
		if c.internal != "" {
			req.Header.Set("X-Internal", c.internal)
		}
		if c.key != "" {
			req.Header.Set(core.HeaderName, c.key)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("internal=%q key=%q: %d, want %d", c.internal, c.key, rec.Code, c.want)
		}
	}
	if _, err := stdlib.MatchSandboxID(nil); err == nil {
		t.Error("nil route id function accepted")
	}
}

// TestConformanceBoundInMiddleware runs the suite with the route binding
// done by Middleware itself (WithSandboxParam) instead of MatchPathValue.
func TestConformanceBoundInMiddleware(t *testing.T) {
	authtest.Run(t, func(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
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
		mux.Handle("GET "+authtest.PathProtected, auth(endpoint))
		mux.Handle("GET "+authtest.PathOptional, optional(endpoint))
		mux.Handle("GET "+authtest.PathSandboxPattern, bound(endpoint))
		return mux
	})
}

func TestBindingOptionsValidate(t *testing.T) {
	v := newValidator(t)
	if _, err := stdlib.Middleware(v, stdlib.WithSandboxParam("")); err == nil {
		t.Error("empty wildcard name accepted")
	}
	if _, err := stdlib.Middleware(v, stdlib.WithRouteSandboxID(nil)); err == nil {
		t.Error("nil route id function accepted")
	}
	// Optional credentials on a bound route: an absent key is still 401.
	mw, err := stdlib.Middleware(v, stdlib.WithCredentialsOptional(), stdlib.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /s/{sandbox_id}", mw(http.NotFoundHandler()))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/s/sb1", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("optional + bound, no key: %d, want 401", rec.Code)
	}
}
