package chiauth_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/sandboxauth/sandboxauth/authtest"
	"github.com/sandboxauth/sandboxauth/chiauth"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

type middleware = func(http.Handler) http.Handler

// mustFor returns a function that unwraps a constructor's (middleware, error)
// pair, failing t on the error.
func mustFor(t testing.TB) func(middleware, error) middleware {
	return func(mw middleware, err error) middleware {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return mw
	}
}

// withFactory mounts every route with r.With on one flat router.
func withFactory(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
	must := mustFor(t)
	auth := must(chiauth.Middleware(v))
	optional := must(chiauth.Middleware(v, stdlib.WithCredentialsOptional()))
	bound := must(chiauth.Middleware(v, chiauth.WithSandboxParam("sandbox_id")))
	r := chi.NewRouter()
	r.With(auth).Method(http.MethodGet, authtest.PathProtected, endpoint)
	r.With(optional).Method(http.MethodGet, authtest.PathOptional, endpoint)
	r.With(bound).Method(http.MethodGet, authtest.PathSandboxPattern, endpoint)
	return r
}

// nestedFactory mounts the same routes with r.Group, r.Route and a mounted
// sub-router, the middlewares installed with Use: the bound one inside the
// r.Route that names the parameter, in front of a sub-router mounted there.
func nestedFactory(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
	must := mustFor(t)
	auth := must(chiauth.Middleware(v))
	optional := must(chiauth.Middleware(v, stdlib.WithCredentialsOptional()))
	bound := must(chiauth.Middleware(v, chiauth.WithSandboxParam("sandbox_id")))
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(auth)
		r.Method(http.MethodGet, authtest.PathProtected, endpoint)
	})
	r.Group(func(r chi.Router) {
		r.Use(optional)
		r.Method(http.MethodGet, authtest.PathOptional, endpoint)
	})
	r.Route("/api/v1/sandboxes/{sandbox_id}", func(r chi.Router) {
		r.Use(bound)
		settings := chi.NewRouter()
		settings.Method(http.MethodGet, "/secrets", endpoint)
		r.Mount("/settings", settings)
	})
	return r
}

func TestConformanceWith(t *testing.T)   { authtest.Run(t, withFactory) }
func TestConformanceNested(t *testing.T) { authtest.Run(t, nestedFactory) }

const (
	keyRunning = "sk-chi-running-0123456789abcdefghijklmnopqrstuvwxyz"
	keyPaused  = "sk-chi-paused-0123456789abcdefghijklmnopqrstuvwxyz"
	sbRunning  = "sb1"
)

func newStore(t testing.TB) *core.MemoryStore {
	t.Helper()
	m := core.NewMemoryStore()
	for key, info := range map[string]core.SandboxInfo{
		keyRunning: {ID: sbRunning, Status: core.StatusRunning, CreatedByUserID: "u1"},
		keyPaused:  {ID: "sb2", Status: core.StatusPaused, CreatedByUserID: "u1"},
	} {
		if err := m.Put(key, info); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func newValidator(t testing.TB, s core.Store, opts ...core.Option) *core.Validator {
	t.Helper()
	v, err := core.New(s, append([]core.Option{core.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// seen is what whoami reports: the sandbox through both accessors and the
// chi URL parameter the route bound.
type seen struct {
	Accessor string `json:"accessor"`
	Context  string `json:"context"`
	Param    string `json:"param"`
}

// whoami is an endpoint that reports what it saw.
func whoami(w http.ResponseWriter, r *http.Request) {
	var s seen
	if info, ok := chiauth.Sandbox(r); ok {
		s.Accessor = info.ID
	}
	if info, ok := core.SandboxFromContext(r.Context()); ok {
		s.Context = info.ID
	}
	s.Param = chi.URLParam(r, "sandbox_id")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s)
}

func serve(h http.Handler, path, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if key != "" {
		req.Header.Set(core.HeaderName, key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// expectAnswer checks status and, for rejections, the exact body of the
// shared error table.
func expectAnswer(t *testing.T, rec *httptest.ResponseRecorder, want *core.Error) {
	t.Helper()
	if want == nil {
		if rec.Code != http.StatusOK {
			t.Errorf("status %d (body %q), want 200", rec.Code, rec.Body)
		}
		return
	}
	row := core.ResponseFor(want)
	if rec.Code != row.Status || rec.Body.String() != row.Body {
		t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, row.Status, row.Body)
	}
}

// TestChiRouting authenticates and binds routes built every way chi offers:
// Group+Use, With, Route+Use, nested Route, Group and With inside Route, and
// a sub-router mounted under a pattern that names the parameter.
func TestChiRouting(t *testing.T) {
	must := mustFor(t)
	v := newValidator(t, newStore(t))
	auth := must(chiauth.Middleware(v))
	bound := must(chiauth.Middleware(v, chiauth.WithSandboxParam("sandbox_id")))

	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	r.Group(func(r chi.Router) {
		r.Use(auth)
		r.Get("/group", whoami)
	})
	r.With(auth).Get("/with", whoami)
	r.With(bound).Get("/flat/{sandbox_id}", whoami)
	r.Route("/api/v1/sandboxes/{sandbox_id}", func(r chi.Router) {
		r.Group(func(r chi.Router) {
			r.Use(auth)
			r.Get("/unbound", whoami)
		})
		r.With(bound).Get("/settings/secrets", whoami)
		r.Route("/files", func(r chi.Router) {
			r.Use(bound)
			r.Get("/{name}", whoami)
		})
	})
	hooks := chi.NewRouter()
	hooks.Use(bound)
	hooks.Get("/events", whoami)
	r.Mount("/hooks/{sandbox_id}", hooks)

	// The same router mounted under a prefix of an outer router.
	outer := chi.NewRouter()
	outer.Mount("/v2", r)

	for _, root := range []struct {
		name   string
		h      http.Handler
		prefix string
	}{{"router", r, ""}, {"mounted-in-outer", outer, "/v2"}} {
		t.Run(root.name, func(t *testing.T) {
			for _, tc := range []struct {
				path  string
				key   string
				want  *core.Error
				param string // the sandbox_id the endpoint sees
			}{
				{"/healthz", "", nil, ""},
				{"/group", "", core.ErrMissingKey, ""},
				{"/group", keyPaused, core.ErrNotRunning, ""},
				{"/group", keyRunning, nil, ""},
				{"/with", "", core.ErrMissingKey, ""},
				{"/with", keyRunning, nil, ""},
				{"/flat/" + sbRunning, keyRunning, nil, sbRunning},
				{"/flat/other", keyRunning, core.ErrSandboxMismatch, ""},
				{"/flat/" + sbRunning, "", core.ErrMissingKey, ""},
				{"/api/v1/sandboxes/other/unbound", keyRunning, nil, "other"},
				{"/api/v1/sandboxes/" + sbRunning + "/settings/secrets", keyRunning, nil, sbRunning},
				{"/api/v1/sandboxes/other/settings/secrets", keyRunning, core.ErrSandboxMismatch, ""},
				{"/api/v1/sandboxes/" + sbRunning + "/settings/secrets", keyPaused, core.ErrNotRunning, ""},
				{"/api/v1/sandboxes/" + sbRunning + "/files/a.txt", keyRunning, nil, sbRunning},
				{"/api/v1/sandboxes/other/files/a.txt", keyRunning, core.ErrSandboxMismatch, ""},
				{"/api/v1/sandboxes/" + sbRunning + "/files/a.txt", "", core.ErrMissingKey, ""},
				{"/hooks/" + sbRunning + "/events", keyRunning, nil, sbRunning},
				{"/hooks/other/events", keyRunning, core.ErrSandboxMismatch, ""},
				{"/hooks/" + sbRunning + "/events", "sk-unknown", core.ErrInvalidKey, ""},
			} {
				rec := serve(root.h, root.prefix+tc.path, tc.key)
				t.Run(tc.path, func(t *testing.T) {
					expectAnswer(t, rec, tc.want)
					if tc.want != nil || tc.path == "/healthz" {
						return
					}
					var s seen
					if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
						t.Fatalf("endpoint body %q: %v", rec.Body, err)
					}
					if s != (seen{Accessor: sbRunning, Context: sbRunning, Param: tc.param}) {
						t.Errorf("endpoint saw %+v, want sandbox %q and param %q", s, sbRunning, tc.param)
					}
				})
			}
		})
	}
}

// TestSandboxParamBeforeRoutingFailsClosed pins the misuse the package
// documentation warns about: a bound middleware installed with Use on the
// router that routes the parameter runs before the parameter is known, and
// every request is refused.
func TestSandboxParamBeforeRoutingFailsClosed(t *testing.T) {
	bound := mustFor(t)(chiauth.Middleware(newValidator(t, newStore(t)), chiauth.WithSandboxParam("sandbox_id")))
	ran := false
	r := chi.NewRouter()
	r.Use(bound)
	r.Get("/x/{sandbox_id}", func(http.ResponseWriter, *http.Request) { ran = true })
	expectAnswer(t, serve(r, "/x/"+sbRunning, keyRunning), core.ErrSandboxMismatch)
	expectAnswer(t, serve(r, "/x/"+sbRunning, ""), core.ErrMissingKey)
	if ran {
		t.Error("endpoint ran")
	}
}

// TestSandboxParamWithoutSandbox: a bound route always needs a sandbox, so a
// request without the header is answered 401 there, credentials optional or
// not.
func TestSandboxParamWithoutSandbox(t *testing.T) {
	must := mustFor(t)
	v := newValidator(t, newStore(t))
	ran := 0
	endpoint := func(w http.ResponseWriter, r *http.Request) { ran++; whoami(w, r) }
	r := chi.NewRouter()
	r.With(must(chiauth.Middleware(v, chiauth.WithSandboxParam("sandbox_id")))).Get("/x/{sandbox_id}", endpoint)
	r.With(must(chiauth.Middleware(v, stdlib.WithCredentialsOptional(), chiauth.WithSandboxParam("sandbox_id")))).Get("/o/{sandbox_id}", endpoint)
	for _, p := range []string{"/x/", "/o/"} {
		expectAnswer(t, serve(r, p+sbRunning, ""), core.ErrMissingKey)
		expectAnswer(t, serve(r, p+"other", keyRunning), core.ErrSandboxMismatch)
	}
	if ran != 0 {
		t.Errorf("endpoint ran %d times", ran)
	}
	expectAnswer(t, serve(r, "/o/"+sbRunning, keyRunning), nil)
}

func TestConstructorsValidate(t *testing.T) {
	v := newValidator(t, newStore(t))
	if mw, err := chiauth.Middleware(nil); err == nil || mw != nil {
		t.Error("nil validator accepted")
	}
	if mw, err := chiauth.Middleware(nil, chiauth.WithSandboxParam("sandbox_id")); err == nil || mw != nil {
		t.Error("nil validator accepted with a binding")
	}
	for name, opts := range map[string][]chiauth.Option{
		"nil option":                {nil},
		"nil skipper":               {stdlib.WithSkipper(nil)},
		"nil error handler":         {stdlib.WithErrorHandler(nil)},
		"empty URL parameter name":  {chiauth.WithSandboxParam("")},
		"nil option after a binder": {chiauth.WithSandboxParam("sandbox_id"), nil},
	} {
		if mw, err := chiauth.Middleware(v, opts...); err == nil || mw != nil {
			t.Errorf("%s accepted by Middleware", name)
		}
	}
	if mw, err := chiauth.Middleware(v, stdlib.WithCredentialsOptional(), chiauth.WithSandboxParam("sandbox_id"),
		stdlib.WithSkipper(func(*http.Request) bool { return false }),
		stdlib.WithErrorHandler(func(http.ResponseWriter, *http.Request, error) {})); err != nil || mw == nil {
		t.Errorf("valid options refused: %v", err)
	}
}

func TestSkipperBypassesAuthWithoutSandbox(t *testing.T) {
	mw := mustFor(t)(chiauth.Middleware(newValidator(t, newStore(t)),
		stdlib.WithSkipper(func(r *http.Request) bool { return r.URL.Path == "/healthz" })))
	r := chi.NewRouter()
	r.Use(mw)
	r.Get("/healthz", whoami)
	r.Get("/other", whoami)

	rec := serve(r, "/healthz", "")
	if rec.Code != http.StatusOK || rec.Body.String() != "{\"accessor\":\"\",\"context\":\"\",\"param\":\"\"}\n" {
		t.Errorf("skipped route: %d %q; want 200 without sandbox", rec.Code, rec.Body)
	}
	expectAnswer(t, serve(r, "/other", ""), core.ErrMissingKey)
}

// TestRouteBindingHonoursSkipper: a request the skipper exempts passes a
// bound route without a sandbox; every other one is authenticated and bound.
func TestRouteBindingHonoursSkipper(t *testing.T) {
	mw := mustFor(t)(chiauth.Middleware(newValidator(t, newStore(t)), chiauth.WithSandboxParam("sandbox_id"),
		stdlib.WithSkipper(func(r *http.Request) bool { return r.Method == http.MethodOptions })))
	r := chi.NewRouter()
	r.With(mw).Get("/s/{sandbox_id}", whoami)
	r.With(mw).Options("/s/{sandbox_id}", whoami)

	req := httptest.NewRequest(http.MethodOptions, "/s/other", nil)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "{\"accessor\":\"\",\"context\":\"\",\"param\":\"other\"}\n" {
		t.Errorf("skipped request: %d %q; want 200 without sandbox", rec.Code, rec.Body)
	}
	expectAnswer(t, serve(r, "/s/"+sbRunning, ""), core.ErrMissingKey)
	expectAnswer(t, serve(r, "/s/other", keyRunning), core.ErrSandboxMismatch)
	rec = serve(r, "/s/"+sbRunning, keyRunning)
	if rec.Code != http.StatusOK || rec.Body.String() != "{\"accessor\":\"sb1\",\"context\":\"sb1\",\"param\":\"sb1\"}\n" {
		t.Errorf("bound request: %d %q; want 200 with sandbox sb1", rec.Code, rec.Body)
	}
}

func TestCredentialsOptional(t *testing.T) {
	mw := mustFor(t)(chiauth.Middleware(newValidator(t, newStore(t)), stdlib.WithCredentialsOptional()))
	r := chi.NewRouter()
	r.With(mw).Get("/o", whoami)
	rec := serve(r, "/o", "")
	if rec.Code != http.StatusOK || rec.Body.String() != "{\"accessor\":\"\",\"context\":\"\",\"param\":\"\"}\n" {
		t.Errorf("absent key: %d %q; want 200 without sandbox", rec.Code, rec.Body)
	}
	expectAnswer(t, serve(r, "/o", "sk-unknown"), core.ErrInvalidKey)
	expectAnswer(t, serve(r, "/o", keyRunning), nil)
}

func TestErrorHandlerReceivesTypedError(t *testing.T) {
	var got []error
	handler := stdlib.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err error) {
		got = append(got, err)
		w.WriteHeader(http.StatusTeapot)
	})
	ran := 0
	r := chi.NewRouter()
	r.With(mustFor(t)(chiauth.Middleware(newValidator(t, newStore(t)), handler, chiauth.WithSandboxParam("sandbox_id")))).
		Get("/s/{sandbox_id}", func(http.ResponseWriter, *http.Request) { ran++ })

	for _, tc := range []struct {
		key, id string
		want    *core.Error
	}{
		{"sk-unknown", sbRunning, core.ErrInvalidKey},
		{"", sbRunning, core.ErrMissingKey},
		{keyPaused, sbRunning, core.ErrNotRunning},
		{keyRunning, "other", core.ErrSandboxMismatch},
	} {
		got = nil
		rec := serve(r, "/s/"+tc.id, tc.key)
		if rec.Code != http.StatusTeapot || rec.Body.Len() != 0 {
			t.Errorf("status %d %q, want the custom handler's bare 418", rec.Code, rec.Body)
		}
		var ce *core.Error
		if len(got) != 1 || !errors.Is(got[0], tc.want) || !errors.As(got[0], &ce) {
			t.Errorf("error handler got %v, want one %v", got, tc.want)
		}
	}
	if ran != 0 {
		t.Errorf("endpoint ran %d times after rejections", ran)
	}
}

func TestSandboxAccessorWithoutMiddleware(t *testing.T) {
	if info, ok := chiauth.Sandbox(httptest.NewRequest(http.MethodGet, "/", nil)); ok || info != nil {
		t.Errorf("Sandbox on a bare request = %v, %v; want nil, false", info, ok)
	}
	if info, ok := chiauth.Sandbox(nil); ok || info != nil {
		t.Errorf("Sandbox(nil) = %v, %v; want nil, false", info, ok)
	}
}

// TestBindingUnescapesRawPathParams: chi routes on RawPath when the path has
// an escaped "/", handing out escaped parameters; the binding must compare
// the id as the path names it, like net/http and gin.
func TestBindingUnescapesRawPathParams(t *testing.T) {
	store := core.NewMemoryStore()
	if err := store.Put("k", core.SandboxInfo{ID: "sb/1", CreatedByUserID: "u", Status: core.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	v, _ := core.New(store)
	must := mustFor(t)
	r := chi.NewRouter()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	bound := must(chiauth.Middleware(v, chiauth.WithSandboxParam("id")))
	r.Route("/a/{id}", func(r chi.Router) {
		r.Use(bound)
		r.Get("/", ok)
	})
	r.With(bound).Get("/b/{id}", ok)
	for p, want := range map[string]int{
		"/a/sb%2F1/": http.StatusOK, "/b/sb%2F1": http.StatusOK,
		"/a/sb%2F2/": http.StatusForbidden, "/b/sb%2F2": http.StatusForbidden,
	} {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		req.Header.Set(core.HeaderName, "k")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s: %d %s, want %d", p, rec.Code, rec.Body, want)
		}
	}
}
