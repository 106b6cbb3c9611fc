package echoauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/sandboxauth/sandboxauth/authtest"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/echoauth"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

const sandboxRoute = "/api/v1/sandboxes/:sandbox_id/settings/secrets"

// mount builds an Echo with the adapter on the suite's three routes, the
// sandbox route bound by the middleware (WithSandboxParam). With
// errorHandler nil, echo's default HTTPErrorHandler answers rejections.
func mount(t testing.TB, v *core.Validator, endpoint http.Handler, errorHandler echo.HTTPErrorHandler) *echo.Echo {
	t.Helper()
	auth, err := echoauth.Middleware(v)
	if err != nil {
		t.Fatal(err)
	}
	optional, err := echoauth.Middleware(v, echoauth.WithCredentialsOptional())
	if err != nil {
		t.Fatal(err)
	}
	bound, err := echoauth.Middleware(v, echoauth.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	if errorHandler != nil {
		e.HTTPErrorHandler = errorHandler
	}
	h := echo.WrapHandler(endpoint)
	e.GET(authtest.PathProtected, h, auth)
	e.GET(authtest.PathOptional, h, optional)
	e.GET(sandboxRoute, h, bound)
	return e
}

func TestConformance(t *testing.T) {
	authtest.Run(t, func(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
		return mount(t, v, endpoint, nil)
	})
}

func TestConformanceWithErrorHandler(t *testing.T) {
	authtest.Run(t, func(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
		return mount(t, v, endpoint, echoauth.ErrorHandler)
	})
}

const (
	keyRunning   = "sk-test-running-0123456789"
	keyPaused    = "sk-test-paused-0123456789"
	keyOwnerless = "sk-test-ownerless-0123456789"
)

func newStore(t *testing.T) *core.MemoryStore {
	t.Helper()
	m := core.NewMemoryStore()
	for key, info := range map[string]core.SandboxInfo{
		keyRunning:   {ID: "sb1", Status: core.StatusRunning, CreatedByUserID: "u1"},
		keyPaused:    {ID: "sb2", Status: core.StatusPaused, CreatedByUserID: "u1"},
		keyOwnerless: {ID: "sb3", Status: core.StatusRunning},
	} {
		if err := m.Put(key, info); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func newValidator(t *testing.T, s core.Store, opts ...core.Option) *core.Validator {
	t.Helper()
	v, err := core.New(s, append([]core.Option{core.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// endpoint answers which sandbox it saw, as a handler behind either adapter would.
var endpoint = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	info, ok := core.SandboxFromContext(r.Context())
	w.Header().Set("Content-Type", "text/plain")
	if ok {
		fmt.Fprintf(w, "sandbox %s\n", info.ID)
		return
	}
	fmt.Fprintln(w, "anonymous")
})

// ErrorHandler keeps the exact bytes where echo's default handler indents.
func TestErrorHandlerExactInDebugAndPretty(t *testing.T) {
	v := newValidator(t, newStore(t))
	want := core.ResponseFor(core.ErrInvalidKey)
	for _, debug := range []bool{false, true} {
		e := mount(t, v, endpoint, echoauth.ErrorHandler)
		e.Debug = debug
		req := httptest.NewRequest(http.MethodGet, "/protected?pretty", nil)
		req.Header.Set(core.HeaderName, "sk-unknown")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != want.Status || rec.Body.String() != want.Body || rec.Header().Get("Content-Type") != core.ContentType {
			t.Errorf("debug=%v: %d %q %q; want %d %q", debug, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), want.Status, want.Body)
		}
	}
}

func TestCustomHTTPErrorHandlerReceivesTypedError(t *testing.T) {
	var got error
	e := mount(t, newValidator(t, newStore(t)), endpoint, func(err error, c echo.Context) {
		got = err
		_ = c.String(http.StatusTeapot, "custom")
	})
	req := httptest.NewRequest(http.MethodGet, "/protected", nil)
	req.Header.Set(core.HeaderName, keyPaused)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)

	if rec.Code != http.StatusTeapot || rec.Body.String() != "custom" {
		t.Errorf("answer %d %q, want the custom handler's 418", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q: the middleware must leave it to the error handler", ct)
	}
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the middleware's headers are missing: %v", rec.Header())
	}
	var ce *core.Error
	if !errors.As(got, &ce) || ce.Code != core.CodeNotRunning || ce.SandboxID != "sb2" || ce.Status != core.StatusPaused {
		t.Fatalf("errors.As(%v) to *core.Error: %+v", got, ce)
	}
	if !errors.Is(got, core.ErrNotRunning) {
		t.Error("errors.Is(err, core.ErrNotRunning) is false")
	}
	var he *echo.HTTPError
	if !errors.As(got, &he) {
		t.Fatalf("%T is not an *echo.HTTPError", got)
	}
	row := core.ResponseFor(core.ErrNotRunning)
	if he.Code != row.Status || fmt.Sprint(he.Message) != row.Detail || he.Internal != ce {
		t.Errorf("HTTPError{Code: %d, Message: %v, Internal: %v}; want %d, %q and the *core.Error", he.Code, he.Message, he.Internal, row.Status, row.Detail)
	}
	if strings.Contains(got.Error(), keyPaused) {
		t.Errorf("the error text names the key: %s", got)
	}
}

func Test503CarriesRedactedCauseAndRetryAfter(t *testing.T) {
	cause := errors.New("connection refused")
	v := newValidator(t, core.StoreFunc(func(context.Context, string) (*core.SandboxInfo, error) { return nil, cause }))
	var got error
	e := mount(t, v, endpoint, func(err error, c echo.Context) {
		got = err
		echoauth.ErrorHandler(err, c)
	})
	req := httptest.NewRequest(http.MethodGet, "/protected", nil)
	req.Header.Set(core.HeaderName, keyRunning)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("got %d, Retry-After %q; want 503, 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	// The store's message survives (redacted); the store's error value does
	// not, since its fields may hold the key (see core's redaction).
	if !errors.Is(got, core.ErrUnavailable) || errors.Is(got, cause) || !strings.Contains(got.Error(), "connection refused") {
		t.Errorf("error %v: want ErrUnavailable carrying the store's message but not its error value", got)
	}
}

func TestErrorHandlerDelegatesOtherErrors(t *testing.T) {
	e := echo.New()
	e.HTTPErrorHandler = echoauth.ErrorHandler
	e.GET("/teapot", func(echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "short and stout") })
	e.GET("/plain", func(echo.Context) error { return errors.New("boom") })
	e.GET("/owner", func(c echo.Context) error {
		// A handler may return a core check's error as is.
		_, err := core.RequireOwner(&core.SandboxInfo{ID: "sb3"})
		return err
	})
	for path, want := range map[string]struct {
		status int
		body   string
	}{
		"/teapot": {http.StatusTeapot, `{"message":"short and stout"}` + "\n"},
		"/plain":  {http.StatusInternalServerError, `{"message":"Internal Server Error"}` + "\n"},
		"/owner":  {http.StatusUnauthorized, core.ResponseFor(core.ErrOwnerRequired).Body},
	} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want.status || rec.Body.String() != want.body {
			t.Errorf("%s: %d %q, want %d %q", path, rec.Code, rec.Body.String(), want.status, want.body)
		}
	}
}

// Once a response is committed, neither echo's handler nor ErrorHandler
// writes a second one.
func TestCommittedResponseIsLeftAlone(t *testing.T) {
	v := newValidator(t, newStore(t))
	auth, err := echoauth.Middleware(v)
	if err != nil {
		t.Fatal(err)
	}
	early := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			_ = c.String(http.StatusAccepted, "early")
			return next(c)
		}
	}
	for _, eh := range []echo.HTTPErrorHandler{nil, echoauth.ErrorHandler} {
		e := echo.New()
		if eh != nil {
			e.HTTPErrorHandler = eh
		}
		ran := false
		e.GET("/x", func(echo.Context) error { ran = true; return nil }, early, auth)
		srv := httptest.NewServer(e)
		resp, err := srv.Client().Get(srv.URL + "/x")
		if err != nil {
			srv.Close()
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != http.StatusAccepted || string(b) != "early" || ran {
			t.Errorf("got %d %q (handler ran: %v), want the early 202 alone", resp.StatusCode, b, ran)
		}
	}
}

// HEAD: echo's default handler answers status and headers with no body;
// ErrorHandler answers exactly as the net/http adapter does.
func TestHEAD(t *testing.T) {
	v := newValidator(t, newStore(t))
	auth, err := echoauth.Middleware(v)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := stdlib.Middleware(v)
	if err != nil {
		t.Fatal(err)
	}
	head := func(h http.Handler) *http.Response {
		srv := httptest.NewServer(h)
		defer srv.Close()
		req, _ := http.NewRequest(http.MethodHead, srv.URL+"/x", nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp.Header.Del("Date")
		return resp
	}
	want := head(sa(endpoint))
	for _, eh := range []echo.HTTPErrorHandler{nil, echoauth.ErrorHandler} {
		e := echo.New()
		if eh != nil {
			e.HTTPErrorHandler = eh
		}
		e.HEAD("/x", echo.WrapHandler(endpoint), auth)
		got := head(e)
		if got.StatusCode != http.StatusUnauthorized || got.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("handler %v: %d %v", eh != nil, got.StatusCode, got.Header)
		}
		if eh != nil && !maps.EqualFunc(got.Header, want.Header, func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }) {
			t.Errorf("ErrorHandler HEAD headers %v, stdlib %v", got.Header, want.Header)
		}
	}
}

func TestConstructorsValidate(t *testing.T) {
	v := newValidator(t, newStore(t))
	if _, err := echoauth.Middleware(nil); err == nil {
		t.Error("nil validator accepted")
	}
	if _, err := echoauth.Middleware(nil, echoauth.WithSandboxParam("id")); err == nil {
		t.Error("nil validator accepted with a binding")
	}
	for name, opts := range map[string][]echoauth.Option{
		"nil option":                {nil},
		"nil skipper":               {echoauth.WithSkipper(nil)},
		"empty parameter name":      {echoauth.WithSandboxParam("")},
		"nil option after a binder": {echoauth.WithSandboxParam("id"), nil},
	} {
		if mw, err := echoauth.Middleware(v, opts...); err == nil || mw != nil {
			t.Errorf("%s accepted by Middleware", name)
		}
	}
	if mw, err := echoauth.Middleware(v, echoauth.WithCredentialsOptional(), echoauth.WithSkipper(func(echo.Context) bool { return false }),
		echoauth.WithSandboxParam("id")); err != nil || mw == nil {
		t.Errorf("valid options refused: %v", err)
	}
}

func TestSkipper(t *testing.T) {
	auth, err := echoauth.Middleware(newValidator(t, newStore(t)),
		echoauth.WithSkipper(func(c echo.Context) bool { return c.Path() == "/healthz" }))
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.Use(auth)
	var sawSandbox bool
	h := func(c echo.Context) error { _, sawSandbox = echoauth.Sandbox(c); return c.NoContent(http.StatusOK) }
	e.GET("/healthz", h)
	e.GET("/other", h)
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/other": http.StatusUnauthorized} {
		sawSandbox = false
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want || sawSandbox {
			t.Errorf("%s: %d (sandbox %v), want %d without sandbox", path, rec.Code, sawSandbox, want)
		}
	}
}

// The accessor and the request context agree, in a native echo handler, in
// a group whose middleware binds the group's route.
func TestSandboxAccessorInGroup(t *testing.T) {
	v := newValidator(t, newStore(t))
	auth, err := echoauth.Middleware(v, echoauth.WithSandboxParam("id"))
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	g := e.Group("/api/v1/sandboxes/:id", auth)
	g.GET("/whoami", func(c echo.Context) error {
		info, ok := echoauth.Sandbox(c)
		fromCtx, ok2 := core.SandboxFromContext(c.Request().Context())
		if !ok || !ok2 || info != fromCtx {
			return c.String(http.StatusInternalServerError, "accessor and context disagree")
		}
		return c.String(http.StatusOK, info.ID+"/"+info.CreatedByUserID)
	})
	for _, tc := range []struct {
		path, key string
		status    int
		body      string
	}{
		{"/api/v1/sandboxes/sb1/whoami", keyRunning, 200, "sb1/u1"},
		{"/api/v1/sandboxes/sb3/whoami", keyRunning, 403, core.ResponseFor(core.ErrSandboxMismatch).Body},
		{"/api/v1/sandboxes/sb3/whoami", keyOwnerless, 200, "sb3/"},
		{"/api/v1/sandboxes/sb1/whoami", "", 401, core.ResponseFor(core.ErrMissingKey).Body},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.key != "" {
			req.Header.Set(core.HeaderName, tc.key)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tc.status || rec.Body.String() != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
	}
}

func TestSandboxAccessorWithoutMiddleware(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	if info, ok := echoauth.Sandbox(c); ok || info != nil {
		t.Errorf("Sandbox on a bare request = %v, %v; want nil, false", info, ok)
	}
	if info, ok := echoauth.Sandbox(nil); ok || info != nil {
		t.Errorf("Sandbox(nil) = %v, %v; want nil, false", info, ok)
	}
}

// The binding fails closed where the route has no such parameter, and before
// routing (e.Pre), where echo knows no parameters yet: a valid key is
// answered 403, a missing one 401, and the handler never runs.
func TestSandboxParamFailsClosedWithoutParameter(t *testing.T) {
	v := newValidator(t, newStore(t))
	bound, err := echoauth.Middleware(v, echoauth.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	ok := func(c echo.Context) error { ran++; return c.NoContent(http.StatusOK) }
	noParam := echo.New()
	noParam.GET("/sandboxes/:id", ok, bound)
	pre := echo.New()
	pre.Pre(bound)
	pre.GET("/sandboxes/:sandbox_id", ok)
	for name, e := range map[string]*echo.Echo{"other parameter": noParam, "e.Pre": pre} {
		for key, want := range map[string]*core.Error{keyRunning: core.ErrSandboxMismatch, "": core.ErrMissingKey} {
			req := httptest.NewRequest(http.MethodGet, "/sandboxes/sb1", nil)
			if key != "" {
				req.Header.Set(core.HeaderName, key)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			row := core.ResponseFor(want)
			if rec.Code != row.Status || rec.Body.String() != row.Body {
				t.Errorf("%s, key %q: %d %q, want %d %q", name, key, rec.Code, rec.Body.String(), row.Status, row.Body)
			}
		}
	}
	if ran != 0 {
		t.Errorf("handler ran %d times", ran)
	}
}

// The skipper exempts requests from the whole middleware, the route binding
// included; every other request is authenticated and bound.
func TestSandboxParamSkipper(t *testing.T) {
	bound, err := echoauth.Middleware(newValidator(t, newStore(t)), echoauth.WithSandboxParam("sandbox_id"),
		echoauth.WithSkipper(func(c echo.Context) bool { return c.Request().Method == http.MethodOptions }))
	if err != nil {
		t.Fatal(err)
	}
	var sawSandbox string
	h := func(c echo.Context) error {
		if info, ok := echoauth.Sandbox(c); ok {
			sawSandbox = info.ID
		}
		return c.NoContent(http.StatusNoContent)
	}
	e := echo.New()
	e.Add(http.MethodOptions, "/sandboxes/:sandbox_id", h, bound)
	e.GET("/sandboxes/:sandbox_id", h, bound)
	for _, tc := range []struct {
		method, id, key string
		want            int
		sandbox         string
	}{
		{http.MethodOptions, "sb1", "", http.StatusNoContent, ""},
		{http.MethodOptions, "other", "", http.StatusNoContent, ""},
		{http.MethodGet, "sb1", "", http.StatusUnauthorized, ""},
		{http.MethodGet, "other", keyRunning, http.StatusForbidden, ""},
		{http.MethodGet, "sb1", keyRunning, http.StatusNoContent, "sb1"},
	} {
		sawSandbox = ""
		req := httptest.NewRequest(tc.method, "/sandboxes/"+tc.id, nil)
		if tc.key != "" {
			req.Header.Set(core.HeaderName, tc.key)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tc.want || sawSandbox != tc.sandbox {
			t.Errorf("%s %s key %q: %d (sandbox %q), want %d (sandbox %q)", tc.method, tc.id, tc.key, rec.Code, sawSandbox, tc.want, tc.sandbox)
		}
	}
}

// A bound route always needs a sandbox: without the header it is answered
// 401, credentials optional or not; the binding's rejections reach a custom
// HTTPErrorHandler as typed errors.
func TestSandboxParamNeedsSandbox(t *testing.T) {
	v := newValidator(t, newStore(t))
	var got []error
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		got = append(got, err)
		_ = c.String(http.StatusTeapot, "custom")
	}
	ran := 0
	h := func(c echo.Context) error { ran++; return c.NoContent(http.StatusNoContent) }
	for prefix, opts := range map[string][]echoauth.Option{
		"/s/": {echoauth.WithSandboxParam("sandbox_id")},
		"/o/": {echoauth.WithCredentialsOptional(), echoauth.WithSandboxParam("sandbox_id")},
	} {
		mw, err := echoauth.Middleware(v, opts...)
		if err != nil {
			t.Fatal(err)
		}
		e.GET(prefix+":sandbox_id", h, mw)
	}
	for _, prefix := range []string{"/s/", "/o/"} {
		for _, tc := range []struct {
			id, key string
			want    *core.Error
		}{
			{"sb1", "", core.ErrMissingKey},
			{"sb3", keyRunning, core.ErrSandboxMismatch},
		} {
			got = nil
			req := httptest.NewRequest(http.MethodGet, prefix+tc.id, nil)
			if tc.key != "" {
				req.Header.Set(core.HeaderName, tc.key)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusTeapot || rec.Body.String() != "custom" {
				t.Errorf("%s%s key %q: %d %q, want the custom handler's 418", prefix, tc.id, tc.key, rec.Code, rec.Body.String())
			}
			var ce *core.Error
			var he *echo.HTTPError
			if len(got) != 1 || !errors.Is(got[0], tc.want) || !errors.As(got[0], &ce) || !errors.As(got[0], &he) || he.Code != core.ResponseFor(tc.want).Status {
				t.Errorf("%s%s key %q: error handler got %v, want one *echo.HTTPError carrying %v", prefix, tc.id, tc.key, got, tc.want)
			}
		}
	}
	if ran != 0 {
		t.Errorf("handler ran %d times after rejections", ran)
	}
}

// TestBindingUnescapesRawPathParams: echo routes on RawPath when the path has
// an escaped "/", handing out escaped parameters; the binding must compare
// the id as the path names it, like net/http and gin.
func TestBindingUnescapesRawPathParams(t *testing.T) {
	store := core.NewMemoryStore()
	if err := store.Put("k", core.SandboxInfo{ID: "sb/1", CreatedByUserID: "u", Status: core.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	v, _ := core.New(store)
	bound, err := echoauth.Middleware(v, echoauth.WithSandboxParam("id"))
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	ok := func(c echo.Context) error { return c.NoContent(http.StatusOK) }
	e.Group("/a/:id", bound).GET("/x", ok)
	e.GET("/b/:id", ok, bound)
	for p, want := range map[string]int{
		"/a/sb%2F1/x": http.StatusOK, "/b/sb%2F1": http.StatusOK,
		"/a/sb%2F2/x": http.StatusForbidden, "/b/sb%2F2": http.StatusForbidden,
	} {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		req.Header.Set(core.HeaderName, "k")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s: %d %s, want %d", p, rec.Code, rec.Body, want)
		}
	}
}
