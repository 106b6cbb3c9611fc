package stdlib_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sandboxauth/sandboxauth/authtest"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// The suite's reference factory is this adapter on a ServeMux, the sandbox
// route bound by Middleware itself (WithSandboxParam).
func TestConformance(t *testing.T) { authtest.Run(t, authtest.NetHTTP) }

func newValidator(t *testing.T) *core.Validator {
	t.Helper()
	m := core.NewMemoryStore()
	if err := m.Put("k1", core.SandboxInfo{ID: "sb1", Status: core.StatusRunning, CreatedByUserID: "u"}); err != nil {
		t.Fatal(err)
	}
	v, err := core.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// serve sends GET path with key (none when empty) to h.
func serve(h http.Handler, path, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if key != "" {
		req.Header.Set(core.HeaderName, key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// expectRow checks the exact status and body of the error table's row for want.
func expectRow(t *testing.T, what string, rec *httptest.ResponseRecorder, want *core.Error) {
	t.Helper()
	row := core.ResponseFor(want)
	if rec.Code != row.Status || rec.Body.String() != row.Body {
		t.Errorf("%s: %d %q, want %d %q", what, rec.Code, rec.Body, row.Status, row.Body)
	}
}

func TestConstructorsValidate(t *testing.T) {
	v := newValidator(t)
	if mw, err := stdlib.Middleware(nil); err == nil || mw != nil {
		t.Error("nil validator accepted")
	}
	for name, opts := range map[string][]stdlib.Option{
		"nil option":                {nil},
		"nil skipper":               {stdlib.WithSkipper(nil)},
		"nil error handler":         {stdlib.WithErrorHandler(nil)},
		"empty wildcard name":       {stdlib.WithSandboxParam("")},
		"nil route id function":     {stdlib.WithSandboxParamFunc(nil)},
		"nil option after a binder": {stdlib.WithSandboxParam("sandbox_id"), nil},
	} {
		if mw, err := stdlib.Middleware(v, opts...); err == nil || mw != nil {
			t.Errorf("%s accepted by Middleware", name)
		}
	}
	if mw, err := stdlib.Middleware(v, stdlib.WithCredentialsOptional(), stdlib.WithSandboxParam("sandbox_id"),
		stdlib.WithSkipper(func(*http.Request) bool { return false }),
		stdlib.WithErrorHandler(func(http.ResponseWriter, *http.Request, error) {})); err != nil || mw == nil {
		t.Errorf("valid options refused: %v", err)
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

// TestErrorHandlerReceivesTypedError: the custom handler answers every
// rejection of the middleware, the route binding's 403 included.
func TestErrorHandlerReceivesTypedError(t *testing.T) {
	var got []error
	mw, err := stdlib.Middleware(newValidator(t), stdlib.WithSandboxParam("sandbox_id"),
		stdlib.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			got = append(got, err)
			w.WriteHeader(http.StatusTeapot)
		}))
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	mux := http.NewServeMux()
	mux.Handle("GET /s/{sandbox_id}", mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran++ })))
	for _, c := range []struct {
		key, id string
		want    *core.Error
		code    core.Code
	}{
		{"nope", "sb1", core.ErrInvalidKey, core.CodeInvalidKey},
		{"", "sb1", core.ErrMissingKey, core.CodeMissingKey},
		{"k1", "other", core.ErrSandboxMismatch, core.CodeSandboxMismatch},
	} {
		got = nil
		rec := serve(mux, "/s/"+c.id, c.key)
		if rec.Code != http.StatusTeapot || rec.Body.Len() != 0 {
			t.Errorf("key %q on %s: %d %q, want the custom handler's bare 418", c.key, c.id, rec.Code, rec.Body)
		}
		var ce *core.Error
		if len(got) != 1 || !errors.Is(got[0], c.want) || !errors.As(got[0], &ce) || ce.Code != c.code {
			t.Errorf("key %q on %s: error handler got %v, want one *core.Error %v", c.key, c.id, got, c.want)
		}
	}
	if ran != 0 {
		t.Errorf("endpoint ran %d times after rejections", ran)
	}
}

func TestSilentErrorHandlerFailsClosed(t *testing.T) {
	silent := stdlib.WithErrorHandler(func(http.ResponseWriter, *http.Request, error) {})
	mw, err := stdlib.Middleware(newValidator(t), silent)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mw(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusUnauthorized || rec.Body.String() != core.ResponseFor(core.ErrMissingKey).Body {
		t.Errorf("a handler that wrote nothing left %d %q, want the table's 401", rec.Code, rec.Body)
	}

	// The same for the route binding's rejection.
	bound, err := stdlib.Middleware(newValidator(t), silent, stdlib.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /s/{sandbox_id}", bound(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })))
	expectRow(t, "bound route, other sandbox, silent handler", serve(mux, "/s/other", "k1"), core.ErrSandboxMismatch)
}

// An error handler whose only write is empty (a template that rendered
// nothing) wrote nothing: the table's answer follows, not an empty 200. A
// handler that wrote a status keeps it.
func TestEmptyWriteErrorHandlerFailsClosed(t *testing.T) {
	handlers := map[string]stdlib.ErrorHandler{
		"Write(nil)":      func(w http.ResponseWriter, _ *http.Request, _ error) { _, _ = w.Write(nil) },
		"Write([]byte{})": func(w http.ResponseWriter, _ *http.Request, _ error) { _, _ = w.Write([]byte{}) },
		"header only": func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.Header().Set("X-Seen", "1")
			_, _ = w.Write(nil)
		},
	}
	for name, h := range handlers {
		mw, err := stdlib.Middleware(newValidator(t), stdlib.WithErrorHandler(h))
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		mw(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		row := core.ResponseFor(core.ErrMissingKey)
		if rec.Code != row.Status || rec.Body.String() != row.Body {
			t.Errorf("%s: answer %d %q, want the table's %d %q", name, rec.Code, rec.Body, row.Status, row.Body)
		}
	}
	mw, err := stdlib.Middleware(newValidator(t), stdlib.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, _ error) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write(nil)
	}))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mw(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusTeapot || rec.Body.Len() != 0 {
		t.Errorf("a handler that wrote 418 left %d %q", rec.Code, rec.Body)
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

// TestRouteBindingHonoursSkipper: a request the skipper exempts passes a
// bound route without a sandbox; every other one is authenticated and bound.
func TestRouteBindingHonoursSkipper(t *testing.T) {
	skip := stdlib.WithSkipper(func(r *http.Request) bool { return r.Header.Get("X-Internal") == "1" })
	auth, err := stdlib.Middleware(newValidator(t), skip, stdlib.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	var sawSandbox string
	mux := http.NewServeMux()
	mux.Handle("GET /sandboxes/{sandbox_id}", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := stdlib.Sandbox(r); ok {
			sawSandbox = info.ID
		}
	})))
	for _, c := range []struct {
		internal, key, id string
		want              int
		sandbox           string
	}{
		{"1", "", "sb1", 200, ""},
		{"1", "", "other", 200, ""},
		{"", "", "sb1", 401, ""},
		{"", "k1", "sb1", 200, "sb1"},
		{"", "k1", "other", 403, ""},
	} {
		sawSandbox = ""
		req := httptest.NewRequest(http.MethodGet, "/sandboxes/"+c.id, nil)
		if c.internal != "" {
			req.Header.Set("X-Internal", c.internal)
		}
		if c.key != "" {
			req.Header.Set(core.HeaderName, c.key)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != c.want || sawSandbox != c.sandbox {
			t.Errorf("internal=%q key=%q id=%q: %d (sandbox %q), want %d (sandbox %q)", c.internal, c.key, c.id, rec.Code, sawSandbox, c.want, c.sandbox)
		}
	}
}

func TestBindingOptionsValidate(t *testing.T) {
	v := newValidator(t)
	if _, err := stdlib.Middleware(v, stdlib.WithSandboxParam("")); err == nil {
		t.Error("empty wildcard name accepted")
	}
	if _, err := stdlib.Middleware(v, stdlib.WithSandboxParamFunc(nil)); err == nil {
		t.Error("nil route id function accepted")
	}
	// Optional credentials on a bound route: an absent key is still 401.
	mw, err := stdlib.Middleware(v, stdlib.WithCredentialsOptional(), stdlib.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	mux := http.NewServeMux()
	mux.Handle("GET /s/{sandbox_id}", mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })))
	expectRow(t, "optional + bound, no key", serve(mux, "/s/sb1", ""), core.ErrMissingKey)
	if ran {
		t.Error("endpoint ran without a sandbox on a bound route")
	}
}

// TestSandboxParamFailsClosedWithoutParameter: where the path wildcard is
// unknown — a pattern that names another wildcard, or the middleware
// wrapping the mux, before routing — a valid key is answered 403.
func TestSandboxParamFailsClosedWithoutParameter(t *testing.T) {
	bound, err := stdlib.Middleware(newValidator(t), stdlib.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran++ })
	otherParam := http.NewServeMux()
	otherParam.Handle("GET /sandboxes/{id}", bound(ok))
	inner := http.NewServeMux()
	inner.Handle("GET /sandboxes/{sandbox_id}", ok)
	beforeRouting := bound(inner)
	for name, h := range map[string]http.Handler{"other wildcard": otherParam, "before routing": beforeRouting} {
		expectRow(t, name, serve(h, "/sandboxes/sb1", "k1"), core.ErrSandboxMismatch)
		expectRow(t, name+", no key", serve(h, "/sandboxes/sb1", ""), core.ErrMissingKey)
	}
	if ran != 0 {
		t.Errorf("endpoint ran %d times", ran)
	}
}

// TestSandboxParamFunc binds with the route id the function returns, and
// the binding is checked after authentication (401 before 403).
func TestSandboxParamFunc(t *testing.T) {
	var calls int
	mw, err := stdlib.Middleware(newValidator(t), stdlib.WithSandboxParamFunc(func(r *http.Request) string {
		calls++
		return strings.TrimPrefix(r.URL.Path, "/hooks/")
	}))
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := stdlib.Sandbox(r)
		seen = info.ID
	}))
	if rec := serve(h, "/hooks/sb1", "k1"); rec.Code != http.StatusOK || seen != "sb1" {
		t.Errorf("matching id: %d, sandbox %q; want 200 with sb1", rec.Code, seen)
	}
	expectRow(t, "other id", serve(h, "/hooks/sb2", "k1"), core.ErrSandboxMismatch)
	expectRow(t, "empty id", serve(h, "/hooks/", "k1"), core.ErrSandboxMismatch)
	expectRow(t, "no key", serve(h, "/hooks/sb1", ""), core.ErrMissingKey)
	expectRow(t, "bad key", serve(h, "/hooks/sb2", "nope"), core.ErrInvalidKey)
	if calls > 5 {
		t.Errorf("route id function called %d times for 5 requests, want at most once a request", calls)
	}
}
