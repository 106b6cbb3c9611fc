package echo5auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/sandboxauth/sandboxauth/authtest"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/echo5auth"
)

const sandboxRoute = "/api/v1/sandboxes/:sandbox_id/settings/secrets"

// mw builds a middleware or fails t.
func mw(t testing.TB, v *core.Validator, opts ...echo5auth.Option) echo.MiddlewareFunc {
	t.Helper()
	m, err := echo5auth.Middleware(v, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mount builds an Echo with the adapter as route middleware on the suite's
// three routes. With errorHandler nil, echo's default HTTPErrorHandler
// answers rejections.
func mount(t testing.TB, v *core.Validator, endpoint http.Handler, errorHandler echo.HTTPErrorHandler) *echo.Echo {
	t.Helper()
	e := echo.New()
	if errorHandler != nil {
		e.HTTPErrorHandler = errorHandler
	}
	h := echo.WrapHandler(endpoint)
	e.GET(authtest.PathProtected, h, mw(t, v))
	e.GET(authtest.PathOptional, h, mw(t, v, echo5auth.WithCredentialsOptional()))
	e.GET(sandboxRoute, h, mw(t, v, echo5auth.WithSandboxParam("sandbox_id")))
	return e
}

// TestConformance: the suite (uncached, cached, recheck, and the byte
// identity with the net/http adapter) with route middleware and echo v5's
// default error handler.
func TestConformance(t *testing.T) {
	authtest.Run(t, func(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
		return mount(t, v, endpoint, nil)
	})
}

// TestConformanceGroups: the same, with every middleware on a group.
func TestConformanceGroups(t *testing.T) {
	authtest.Run(t, func(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
		e := echo.New()
		h := echo.WrapHandler(endpoint)
		e.Group(authtest.PathProtected, mw(t, v)).GET("", h)
		e.Group(authtest.PathOptional, mw(t, v, echo5auth.WithCredentialsOptional())).GET("", h)
		e.Group("/api/v1/sandboxes/:sandbox_id", mw(t, v, echo5auth.WithSandboxParam("sandbox_id"))).GET("/settings/secrets", h)
		return e
	})
}

// TestConformanceDelegatingErrorHandler: an application's own handler that
// passes what it does not render to echo's default answers the same bytes.
func TestConformanceDelegatingErrorHandler(t *testing.T) {
	authtest.Run(t, func(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
		def := echo.DefaultHTTPErrorHandler(false)
		return mount(t, v, endpoint, func(c *echo.Context, err error) {
			if echo.StatusCode(err) == http.StatusTeapot {
				_ = c.String(http.StatusTeapot, "never")
				return
			}
			def(c, err)
		})
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

// endpoint answers which sandbox it saw.
var endpoint = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	info, ok := core.SandboxFromContext(r.Context())
	w.Header().Set("Content-Type", "text/plain")
	if ok {
		fmt.Fprintf(w, "sandbox %s\n", info.ID)
		return
	}
	fmt.Fprintln(w, "anonymous")
})

func serve(h http.Handler, method, path, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if key != "" {
		req.Header.Set(core.HeaderName, key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// sameAnswer requires got to be the reference's answer: status, header map
// and body bytes.
func sameAnswer(t *testing.T, label string, got, ref *httptest.ResponseRecorder) {
	t.Helper()
	if got.Code != ref.Code || !reflect.DeepEqual(got.Header(), ref.Header()) || got.Body.String() != ref.Body.String() {
		t.Errorf("%s:\n got      %d %v %q\n net/http %d %v %q", label, got.Code, got.Header(), got.Body, ref.Code, ref.Header(), ref.Body)
	}
}

// An application's own HTTPErrorHandler receives the *core.Error itself.
func TestCustomHTTPErrorHandlerReceivesTypedError(t *testing.T) {
	var got error
	e := mount(t, newValidator(t, newStore(t)), endpoint, func(c *echo.Context, err error) {
		got = err
		_ = c.String(http.StatusTeapot, "custom")
	})
	rec := serve(e, http.MethodGet, authtest.PathProtected, keyPaused)

	if rec.Code != http.StatusTeapot || rec.Body.String() != "custom" {
		t.Errorf("answer %d %q, want the custom handler's 418", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q: the middleware must leave it to the error handler", ct)
	}
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the middleware's headers are missing: %v", rec.Header())
	}
	ce, ok := got.(*core.Error)
	if !ok {
		t.Fatalf("%T reached the error handler, want the *core.Error itself", got)
	}
	var as *core.Error
	if !errors.As(got, &as) || as != ce || ce.Code != core.CodeNotRunning || ce.SandboxID != "sb2" || ce.Status != core.StatusPaused {
		t.Fatalf("errors.As(%v) to *core.Error: %+v", got, as)
	}
	if !errors.Is(got, core.ErrNotRunning) {
		t.Error("errors.Is(err, core.ErrNotRunning) is false")
	}
	if echo.StatusCode(got) != http.StatusUnauthorized {
		t.Errorf("echo.StatusCode(err) = %d, want 401", echo.StatusCode(got))
	}
	if strings.Contains(got.Error(), keyPaused) {
		t.Errorf("the error text names the key: %s", got)
	}
}

// A store outage is 503 with Retry-After through the default handler, byte
// for byte as net/http, and the error carries the store's message redacted
// but not its error value.
func Test503CarriesRedactedCauseAndRetryAfter(t *testing.T) {
	cause := errors.New("connection refused")
	v := newValidator(t, core.StoreFunc(func(context.Context, string) (*core.SandboxInfo, error) { return nil, cause }))
	var got error
	def := echo.DefaultHTTPErrorHandler(false)
	e := mount(t, v, endpoint, func(c *echo.Context, err error) { got = err; def(c, err) })
	rec := serve(e, http.MethodGet, authtest.PathProtected, keyRunning)
	sameAnswer(t, "503", rec, serve(authtest.NetHTTP(t, v, endpoint), http.MethodGet, authtest.PathProtected, keyRunning))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("got %d, Retry-After %q; want 503, 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	if !errors.Is(got, core.ErrUnavailable) || errors.Is(got, cause) || !strings.Contains(got.Error(), "connection refused") {
		t.Errorf("error %v: want ErrUnavailable carrying the store's message but not its error value", got)
	}
}

// 429 from the failure limiter: Retry-After and the body as net/http.
func Test429LikeNetHTTP(t *testing.T) {
	answers := func(h func(v *core.Validator) http.Handler) []*httptest.ResponseRecorder {
		l, err := core.NewFailureLimiter(1)
		if err != nil {
			t.Fatal(err)
		}
		hh := h(newValidator(t, newStore(t), core.WithFailureLimiter(l)))
		return []*httptest.ResponseRecorder{
			serve(hh, http.MethodGet, authtest.PathProtected, "sk-unknown-0123456789"),
			serve(hh, http.MethodGet, authtest.PathProtected, "sk-unknown-0123456789"),
		}
	}
	got := answers(func(v *core.Validator) http.Handler { return mount(t, v, endpoint, nil) })
	ref := answers(func(v *core.Validator) http.Handler { return authtest.NetHTTP(t, v, endpoint) })
	if ref[1].Code != http.StatusTooManyRequests {
		t.Fatalf("the reference answered %d, want 429: the case tests nothing", ref[1].Code)
	}
	for i := range got {
		sameAnswer(t, fmt.Sprint("request ", i), got[i], ref[i])
	}
}

// A handler may return a core check's error as is: echo v5's default
// handler answers it through the table (status, Content-Type, body);
// through Reject it carries the table's other headers too, exactly as
// core.WriteError writes it. Other errors are echo's as before.
func TestHandlerReturnsCoreError(t *testing.T) {
	owner := func(c *echo.Context) error {
		_, err := core.RequireOwner(&core.SandboxInfo{ID: "sb3"})
		return err
	}
	e := echo.New()
	e.GET("/owner", owner)
	e.GET("/owner-rejected", func(c *echo.Context) error { return echo5auth.Reject(c, owner(c)) })
	e.GET("/teapot", func(*echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "short and stout") })
	e.GET("/plain", func(*echo.Context) error { return errors.New("boom") })
	e.GET("/wrapped", func(c *echo.Context) error { return fmt.Errorf("listing secrets: %w", owner(c)) })

	row := core.ResponseFor(core.ErrOwnerRequired)
	for path, want := range map[string]struct {
		status int
		body   string
	}{
		"/owner":   {row.Status, row.Body},
		"/wrapped": {row.Status, row.Body},
		"/teapot":  {http.StatusTeapot, `{"message":"short and stout"}` + "\n"},
		"/plain":   {http.StatusInternalServerError, `{"message":"Internal Server Error"}` + "\n"},
	} {
		rec := serve(e, http.MethodGet, path, "")
		if rec.Code != want.status || rec.Body.String() != want.body || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q %q, want %d %q application/json", path, rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"), want.status, want.body)
		}
	}
	ref := httptest.NewRecorder()
	core.WriteError(ref, core.ErrOwnerRequired)
	sameAnswer(t, "Reject", serve(e, http.MethodGet, "/owner-rejected", ""), ref)
	if echo5auth.Reject(nil, core.ErrMissingKey) != core.ErrMissingKey {
		t.Error("Reject(nil, err) does not return err")
	}
}

// Route-level middleware: only the routes that name it authenticate.
func TestRouteLevelMiddleware(t *testing.T) {
	v := newValidator(t, newStore(t))
	e := echo.New()
	h := echo.WrapHandler(endpoint)
	e.GET("/open", h)
	e.GET("/closed", h, mw(t, v))
	e.POST("/closed", h) // same path, another method, no middleware
	for _, tc := range []struct {
		method, path, key string
		status            int
		body              string
	}{
		{http.MethodGet, "/open", "", 200, "anonymous\n"},
		{http.MethodGet, "/open", keyRunning, 200, "anonymous\n"},
		{http.MethodGet, "/closed", "", 401, core.ResponseFor(core.ErrMissingKey).Body},
		{http.MethodGet, "/closed", keyRunning, 200, "sandbox sb1\n"},
		{http.MethodPost, "/closed", "", 200, "anonymous\n"},
	} {
		rec := serve(e, tc.method, tc.path, tc.key)
		if rec.Code != tc.status || rec.Body.String() != tc.body {
			t.Errorf("%s %s key=%q: %d %q, want %d %q", tc.method, tc.path, tc.key, rec.Code, rec.Body, tc.status, tc.body)
		}
	}
}

// The accessor and the request context agree in a native echo v5 handler,
// in nested groups, with the binding on the outer group.
func TestSandboxAccessorInGroups(t *testing.T) {
	v := newValidator(t, newStore(t))
	e := echo.New()
	api := e.Group("/api/v1")
	g := api.Group("/sandboxes/:id", mw(t, v, echo5auth.WithSandboxParam("id")))
	g.GET("/whoami", func(c *echo.Context) error {
		info, ok := echo5auth.Sandbox(c)
		fromCtx, ok2 := core.SandboxFromContext(c.Request().Context())
		if !ok || !ok2 || info != fromCtx {
			return c.String(http.StatusInternalServerError, "accessor and context disagree")
		}
		return c.String(http.StatusOK, info.ID+"/"+info.CreatedByUserID)
	})
	api.GET("/health", func(c *echo.Context) error { return c.String(http.StatusOK, "ok") })
	for _, tc := range []struct {
		path, key string
		status    int
		body      string
	}{
		{"/api/v1/sandboxes/sb1/whoami", keyRunning, 200, "sb1/u1"},
		{"/api/v1/sandboxes/sb3/whoami", keyRunning, 403, core.ResponseFor(core.ErrSandboxMismatch).Body},
		{"/api/v1/sandboxes/sb3/whoami", keyOwnerless, 200, "sb3/"},
		{"/api/v1/sandboxes/sb1/whoami", "", 401, core.ResponseFor(core.ErrMissingKey).Body},
		{"/api/v1/health", "", 200, "ok"},
	} {
		rec := serve(e, http.MethodGet, tc.path, tc.key)
		if rec.Code != tc.status || rec.Body.String() != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
	}
}

func TestSandboxAccessorWithoutMiddleware(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	if info, ok := echo5auth.Sandbox(c); ok || info != nil {
		t.Errorf("Sandbox on a bare request = %v, %v; want nil, false", info, ok)
	}
	if info, ok := echo5auth.Sandbox(nil); ok || info != nil {
		t.Errorf("Sandbox(nil) = %v, %v; want nil, false", info, ok)
	}
	if got := echo5auth.RouteParam(nil, "id"); got != "" {
		t.Errorf("RouteParam(nil) = %q", got)
	}
}

// Once a response is committed, echo's default handler writes nothing more.
func TestCommittedResponseIsLeftAlone(t *testing.T) {
	auth := mw(t, newValidator(t, newStore(t)))
	early := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			_ = c.String(http.StatusAccepted, "early")
			return next(c)
		}
	}
	e := echo.New()
	ran := false
	e.GET("/x", func(*echo.Context) error { ran = true; return nil }, early, auth)
	srv := httptest.NewServer(e)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || string(b) != "early" || ran {
		t.Errorf("got %d %q (handler ran: %v), want the early 202 alone", resp.StatusCode, b, ran)
	}
}

// HEAD: echo's default handler answers the status and the middleware's
// headers, with no body and so no Content-Type (documented).
func TestHEAD(t *testing.T) {
	e := echo.New()
	e.HEAD("/x", echo.WrapHandler(endpoint), mw(t, newValidator(t, newStore(t))))
	rec := serve(e, http.MethodHead, "/x", "")
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("Cache-Control") != "no-store" ||
		rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
}

func TestConstructorsValidate(t *testing.T) {
	v := newValidator(t, newStore(t))
	if _, err := echo5auth.Middleware(nil); err == nil {
		t.Error("nil validator accepted")
	}
	for name, opt := range map[string]echo5auth.Option{
		"nil option":     nil,
		"nil skipper":    echo5auth.WithSkipper(nil),
		"empty param":    echo5auth.WithSandboxParam(""),
		"nil after good": nil,
	} {
		if _, err := echo5auth.Middleware(v, echo5auth.WithCredentialsOptional(), opt); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := echo5auth.Middleware(v, echo5auth.WithCredentialsOptional(), echo5auth.WithSandboxParam("id"),
		echo5auth.WithSkipper(func(*echo.Context) bool { return false })); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}

func TestSkipper(t *testing.T) {
	auth := mw(t, newValidator(t, newStore(t)), echo5auth.WithSkipper(func(c *echo.Context) bool { return c.Path() == "/healthz" }))
	e := echo.New()
	e.Use(auth)
	var sawSandbox bool
	h := func(c *echo.Context) error { _, sawSandbox = echo5auth.Sandbox(c); return c.NoContent(http.StatusOK) }
	e.GET("/healthz", h)
	e.GET("/other", h)
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/other": http.StatusUnauthorized} {
		sawSandbox = false
		if rec := serve(e, http.MethodGet, path, ""); rec.Code != want || sawSandbox {
			t.Errorf("%s: %d (sandbox %v), want %d without sandbox", path, rec.Code, sawSandbox, want)
		}
	}
}

// A bound route needs a sandbox, credentials optional or not.
func TestBoundOptionalNeedsSandbox(t *testing.T) {
	v := newValidator(t, newStore(t))
	e := echo.New()
	e.GET("/s/:id", echo.WrapHandler(endpoint), mw(t, v, echo5auth.WithCredentialsOptional(), echo5auth.WithSandboxParam("id")))
	if rec := serve(e, http.MethodGet, "/s/sb1", ""); rec.Code != http.StatusUnauthorized || rec.Body.String() != core.ResponseFor(core.ErrMissingKey).Body {
		t.Errorf("no key: %d %q", rec.Code, rec.Body)
	}
	if rec := serve(e, http.MethodGet, "/s/sb1", keyRunning); rec.Code != http.StatusOK {
		t.Errorf("own sandbox: %d %q", rec.Code, rec.Body)
	}
}

// The binding fails closed where the route has no such parameter, and before
// routing (e.Pre), where echo knows no parameters yet.
func TestBindingFailsClosedWithoutParameter(t *testing.T) {
	v := newValidator(t, newStore(t))
	bound := mw(t, v, echo5auth.WithSandboxParam("sandbox_id"))
	ok := func(c *echo.Context) error { return c.NoContent(http.StatusOK) }
	noParam := echo.New()
	noParam.GET("/sandboxes/:id", ok, bound)
	pre := echo.New()
	pre.Pre(bound)
	pre.GET("/sandboxes/:sandbox_id", ok)
	for name, e := range map[string]*echo.Echo{"other parameter": noParam, "e.Pre": pre} {
		if rec := serve(e, http.MethodGet, "/sandboxes/sb1", keyRunning); rec.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, rec.Code)
		}
	}
}

// The binding compares the sandbox id as the path names it, decoded once,
// with every configuration of echo's router: the default hands out
// parameters of a path with an escaped "/" still escaped (RawPath), the
// other two decoded, and decoding those again would be a second decoding.
func TestRouteParamDecodesOnceOnEveryRouter(t *testing.T) {
	store := core.NewMemoryStore()
	for key, id := range map[string]string{"k-slash": "sb/1", "k-pct": "a%41", "k-A": "aA"} {
		if err := store.Put(key, core.SandboxInfo{ID: id, CreatedByUserID: "u", Status: core.StatusRunning}); err != nil {
			t.Fatal(err)
		}
	}
	v := newValidator(t, store)
	routers := map[string]echo.RouterConfig{
		"default":                   {},
		"UnescapePathParamValues":   {UnescapePathParamValues: true},
		"UseEscapedPathForMatching": {UseEscapedPathForMatching: true},
		"both":                      {UnescapePathParamValues: true, UseEscapedPathForMatching: true},
	}
	for name, rc := range routers {
		e := echo.NewWithConfig(echo.Config{Router: echo.NewRouter(rc)})
		var seen string
		h := func(c *echo.Context) error { seen = echo5auth.RouteParam(c, "id"); return c.NoContent(http.StatusOK) }
		e.GET("/b/:id", h, mw(t, v, echo5auth.WithSandboxParam("id")))
		e.GET("/c/:id/:rest", h, mw(t, v, echo5auth.WithSandboxParam("id")))
		for _, tc := range []struct {
			path, key string
			status    int
			id        string
		}{
			// "a%2541" is "a%41" decoded once; "%41" makes the path's
			// escaping non-canonical, so RawPath is set.
			{"/c/a%2541/%41", "k-pct", 200, "a%41"},
			{"/c/a%2541/%41", "k-A", 403, ""},
			{"/c/a%41/x", "k-A", 200, "aA"},
			{"/b/a%2541", "k-pct", 200, "a%41"},
			{"/b/a%2541", "k-A", 403, ""},
		} {
			seen = ""
			rec := serve(e, http.MethodGet, tc.path, tc.key)
			if rec.Code != tc.status || seen != tc.id {
				t.Errorf("%s: %s with %s: %d (handler saw %q), want %d (%q)", name, tc.path, tc.key, rec.Code, seen, tc.status, tc.id)
			}
		}
		// An escaped "/" in the id. (A route's last parameter takes the
		// rest of the path in echo, so the router that routes the decoded
		// path matches "sb/1" too.)
		seen = ""
		if rec := serve(e, http.MethodGet, "/b/sb%2F1", "k-slash"); rec.Code != http.StatusOK || seen != "sb/1" {
			t.Errorf("%s: /b/sb%%2F1: %d (handler saw %q), want 200 (%q)", name, rec.Code, seen, "sb/1")
		}
	}
}
