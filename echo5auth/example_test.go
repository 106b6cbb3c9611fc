package echo5auth_test

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v5"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/echo5auth"
)

// A complete small app: the middleware bound to the route's sandbox on a
// group of sandbox-scoped routes, the accessor in the handler, and echo v5's
// default error handler answering every rejection.
func Example() {
	store := core.NewMemoryStore()
	_ = store.Put("sk-live", core.SandboxInfo{ID: "sb-1", CreatedByUserID: "alice", Status: core.StatusRunning})
	_ = store.Put("sk-paused", core.SandboxInfo{ID: "sb-2", CreatedByUserID: "bob", Status: core.StatusPaused})
	_ = store.Put("sk-lone", core.SandboxInfo{ID: "sb-3", Status: core.StatusRunning})
	v, err := core.New(store, core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	auth, err := echo5auth.Middleware(v, echo5auth.WithSandboxParam("sandbox_id"))
	if err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.GET("/healthz", func(c *echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	g := e.Group("/api/v1/sandboxes/:sandbox_id", auth)
	g.GET("/settings/secrets", func(c *echo.Context) error {
		sb, _ := echo5auth.Sandbox(c)
		owner, err := core.RequireOwner(sb)
		if err != nil {
			return echo5auth.Reject(c, err) // a core check's error, answered through the same table
		}
		return c.String(http.StatusOK, "secrets of "+owner+" for sandbox "+sb.ID+"\n")
	})

	for _, tc := range []struct{ path, key string }{
		{"/healthz", ""},
		{"/api/v1/sandboxes/sb-1/settings/secrets", "sk-live"},
		{"/api/v1/sandboxes/sb-1/settings/secrets", ""},
		{"/api/v1/sandboxes/sb-9/settings/secrets", "sk-live"},
		{"/api/v1/sandboxes/sb-2/settings/secrets", "sk-paused"},
		{"/api/v1/sandboxes/sb-3/settings/secrets", "sk-lone"},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.key != "" {
			req.Header.Set("X-Session-API-Key", tc.key)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 ok
	// 200 secrets of alice for sandbox sb-1
	// 401 {"detail":"X-Session-API-Key header is required","code":"missing_session_key"}
	// 403 {"detail":"Session API key does not match sandbox","code":"sandbox_mismatch"}
	// 401 {"detail":"Sandbox is not running","code":"sandbox_not_running"}
	// 401 {"detail":"Sandbox has no associated user","code":"sandbox_no_associated_user"}
}

// An application's own HTTPErrorHandler receives the *core.Error itself and
// may answer as it likes, passing the rest to echo's default.
func ExampleMiddleware_customErrorHandler() {
	v, err := core.New(core.NewMemoryStore())
	if err != nil {
		panic(err)
	}
	auth, err := echo5auth.Middleware(v)
	if err != nil {
		panic(err)
	}
	e := echo.New()
	def := echo.DefaultHTTPErrorHandler(false)
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		var ce *core.Error
		if errors.As(err, &ce) {
			_ = c.JSON(ce.StatusCode(), map[string]string{"error": string(ce.Code)})
			return
		}
		def(c, err)
	}
	e.GET("/hook", func(c *echo.Context) error { return c.NoContent(http.StatusNoContent) }, auth)

	for _, method := range []string{http.MethodPost, http.MethodGet} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(method, "/hook", nil))
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 405 {"message":"Method Not Allowed"}
	// 401 {"error":"missing_session_key"}
}

// Credentials-optional routes let an anonymous request through; a skipper
// exempts routes from authentication altogether.
func ExampleWithCredentialsOptional() {
	store := core.NewMemoryStore()
	_ = store.Put("sk-demo", core.SandboxInfo{ID: "sb1", Status: core.StatusRunning})
	v, err := core.New(store)
	if err != nil {
		panic(err)
	}
	auth, err := echo5auth.Middleware(v,
		echo5auth.WithCredentialsOptional(),
		echo5auth.WithSkipper(func(c *echo.Context) bool { return c.Path() == "/healthz" }))
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.Use(auth)
	e.GET("/healthz", func(c *echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/events", func(c *echo.Context) error {
		if sb, ok := echo5auth.Sandbox(c); ok {
			return c.String(http.StatusOK, "from "+sb.ID+"\n")
		}
		return c.String(http.StatusOK, "anonymous\n")
	})
	for _, tc := range []struct{ path, key string }{{"/healthz", ""}, {"/events", ""}, {"/events", "sk-demo"}, {"/events", "sk-wrong"}} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.key != "" {
			req.Header.Set("X-Session-API-Key", tc.key)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 ok
	// 200 anonymous
	// 200 from sb1
	// 401 {"detail":"Invalid session API key","code":"invalid_session_key"}
}

// RouteParam reads a route parameter as the binding does: decoded once,
// here an id with an escaped "/", which echo's default router hands out
// still escaped.
func ExampleRouteParam() {
	e := echo.New()
	e.GET("/files/:name", func(c *echo.Context) error {
		return c.String(http.StatusOK, c.Param("name")+" -> "+echo5auth.RouteParam(c, "name")+"\n")
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/files/a%2Fb", nil))
	fmt.Print(rec.Body.String())
	// Output:
	// a%2Fb -> a/b
}
