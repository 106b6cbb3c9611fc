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
	optional := must(chiauth.Middleware(v, chiauth.WithCredentialsOptional()))
	bind := must(chiauth.MatchURLParam("sandbox_id"))
	r := chi.NewRouter()
	r.With(auth).Method(http.MethodGet, authtest.PathProtected, endpoint)
	r.With(optional).Method(http.MethodGet, authtest.PathOptional, endpoint)
	r.With(auth, bind).Method(http.MethodGet, authtest.PathSandboxPattern, endpoint)
	return r
}

// nestedFactory mounts the same routes with r.Group, r.Route and a mounted
// sub-router, the middlewares installed with Use.
func nestedFactory(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
	must := mustFor(t)
	auth := must(chiauth.Middleware(v))
	optional := must(chiauth.Middleware(v, chiauth.WithCredentialsOptional()))
	bind := must(chiauth.MatchURLParam("sandbox_id"))
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
		r.Use(auth)
		settings := chi.NewRouter()
		settings.Use(bind)
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

func newStore(t testing.TB) *core.MemStore {
	t.Helper()
	m := core.NewMemStore()
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
// Group+Use, With, Route+Use, nested Route, With inside Route, and a
// sub-router mounted under a pattern that names the parameter.
func TestChiRouting(t *testing.T) {
	must := mustFor(t)
	v := newValidator(t, newStore(t))
	auth := must(chiauth.Middleware(v))
	bind := must(chiauth.MatchURLParam("sandbox_id"))

	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	r.Group(func(r chi.Router) {
		r.Use(auth)
		r.Get("/group", whoami)
	})
	r.With(auth).Get("/with", whoami)
	r.With(auth, bind).Get("/flat/{sandbox_id}", whoami)
	r.Route("/api/v1/sandboxes/{sandbox_id}", func(r chi.Router) {
		r.Use(auth)
		r.Get("/unbound", whoami)
		r.With(bind).Get("/settings/secrets", whoami)
		r.Route("/files", func(r chi.Router) {
			r.Use(bind)
			r.Get("/{name}", whoami)
		})
	})
	hooks := chi.NewRouter()
	hooks.Use(auth, bind)
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

// TestMatchURLParamBeforeRoutingFailsClosed pins the misuse the package
// documentation warns about: bound with Use on the router that routes the
// parameter, the parameter is not known yet and every request is refused.
func TestMatchURLParamBeforeRoutingFailsClosed(t *testing.T) {
	must := mustFor(t)
	auth := must(chiauth.Middleware(newValidator(t, newStore(t))))
	bind := must(chiauth.MatchURLParam("sandbox_id"))
	ran := false
	r := chi.NewRouter()
	r.Use(auth, bind)
	r.Get("/x/{sandbox_id}", func(http.ResponseWriter, *http.Request) { ran = true })
	expectAnswer(t, serve(r, "/x/"+sbRunning, keyRunning), core.ErrSandboxMismatch)
	if ran {
		t.Error("endpoint ran")
	}
}

func TestMatchURLParamWithoutSandbox(t *testing.T) {
	bind := mustFor(t)(chiauth.MatchURLParam("sandbox_id"))
	r := chi.NewRouter()
	r.With(bind).Get("/x/{sandbox_id}", whoami)
	expectAnswer(t, serve(r, "/x/"+sbRunning, keyRunning), core.ErrMissingKey)
}

func TestConstructorsValidate(t *testing.T) {
	v := newValidator(t, newStore(t))
	if mw, err := chiauth.Middleware(nil); err == nil || mw != nil {
		t.Error("nil validator accepted")
	}
	for name, opt := range map[string]chiauth.Option{
		"nil option":        nil,
		"nil skipper":       chiauth.WithSkipper(nil),
		"nil error handler": chiauth.WithErrorHandler(nil),
	} {
		if mw, err := chiauth.Middleware(v, opt); err == nil || mw != nil {
			t.Errorf("%s accepted by Middleware", name)
		}
		if mw, err := chiauth.MatchURLParam("sandbox_id", opt); err == nil || mw != nil {
			t.Errorf("%s accepted by MatchURLParam", name)
		}
	}
	if mw, err := chiauth.MatchURLParam(""); err == nil || mw != nil {
		t.Error("empty URL parameter name accepted")
	}
}

func TestSkipperBypassesAuthWithoutSandbox(t *testing.T) {
	mw := mustFor(t)(chiauth.Middleware(newValidator(t, newStore(t)),
		chiauth.WithSkipper(func(r *http.Request) bool { return r.URL.Path == "/healthz" })))
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

func TestCredentialsOptional(t *testing.T) {
	mw := mustFor(t)(chiauth.Middleware(newValidator(t, newStore(t)), chiauth.WithCredentialsOptional()))
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
	handler := chiauth.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err error) {
		got = append(got, err)
		w.WriteHeader(http.StatusTeapot)
	})
	must := mustFor(t)
	auth := must(chiauth.Middleware(newValidator(t, newStore(t)), handler))
	bind := must(chiauth.MatchURLParam("sandbox_id", handler))
	r := chi.NewRouter()
	r.With(auth, bind).Get("/s/{sandbox_id}", whoami)

	for _, tc := range []struct {
		key, id string
		want    *core.Error
	}{
		{"sk-unknown", sbRunning, core.ErrInvalidKey},
		{keyRunning, "other", core.ErrSandboxMismatch},
	} {
		got = nil
		rec := serve(r, "/s/"+tc.id, tc.key)
		if rec.Code != http.StatusTeapot {
			t.Errorf("status %d, want the custom handler's 418", rec.Code)
		}
		var ce *core.Error
		if len(got) != 1 || !errors.Is(got[0], tc.want) || !errors.As(got[0], &ce) {
			t.Errorf("error handler got %v, want one %v", got, tc.want)
		}
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

// TestConformanceBoundInMiddleware: the binding done by Middleware itself.
func TestConformanceBoundInMiddleware(t *testing.T) {
	authtest.Run(t, func(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
		must := mustFor(t)
		r := chi.NewRouter()
		r.With(must(chiauth.Middleware(v))).Method(http.MethodGet, authtest.PathProtected, endpoint)
		r.With(must(chiauth.Middleware(v, chiauth.WithCredentialsOptional()))).Method(http.MethodGet, authtest.PathOptional, endpoint)
		r.Route("/api/v1/sandboxes/{sandbox_id}", func(r chi.Router) {
			r.Use(must(chiauth.Middleware(v, chiauth.WithSandboxParam("sandbox_id"))))
			r.Method(http.MethodGet, "/settings/secrets", endpoint)
		})
		return r
	})
	if _, err := chiauth.Middleware(nil); err == nil {
		t.Error("nil validator accepted")
	}
	v, _ := core.New(core.NewMemStore())
	if _, err := chiauth.Middleware(v, chiauth.WithSandboxParam("")); err == nil {
		t.Error("empty parameter name accepted")
	}
}

// TestBindingUnescapesRawPathParams: chi routes on RawPath when the path has
// an escaped "/", handing out escaped parameters; the binding must compare
// the id as the path names it, like net/http and gin.
func TestBindingUnescapesRawPathParams(t *testing.T) {
	store := core.NewMemStore()
	if err := store.Put("k", core.SandboxInfo{ID: "sb/1", CreatedByUserID: "u", Status: core.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	v, _ := core.New(store)
	must := mustFor(t)
	r := chi.NewRouter()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	r.With(must(chiauth.Middleware(v)), must(chiauth.MatchURLParam("id"))).Get("/a/{id}", ok)
	r.With(must(chiauth.Middleware(v, chiauth.WithSandboxParam("id")))).Get("/b/{id}", ok)
	for _, p := range []string{"/a/sb%2F1", "/b/sb%2F1"} {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		req.Header.Set(core.HeaderName, "k")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d %s, want 200", p, rec.Code, rec.Body)
		}
	}
}
