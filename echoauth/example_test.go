package echoauth_test

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v4"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/echoauth"
)

// A complete small app: the middleware, binding the route to the sandbox
// :sandbox_id names, on a group of sandbox-scoped routes, and the accessor
// in the handler.
func Example() {
	store := core.NewMemoryStore()
	_ = store.Put("sk-live", core.SandboxInfo{ID: "sb-1", CreatedByUserID: "alice", Status: core.StatusRunning})
	_ = store.Put("sk-paused", core.SandboxInfo{ID: "sb-2", CreatedByUserID: "bob", Status: core.StatusPaused})
	v, err := core.New(store, core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	auth, err := echoauth.Middleware(v, echoauth.WithSandboxParam("sandbox_id"))
	if err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.HTTPErrorHandler = echoauth.ErrorHandler // optional: exact bytes even in Debug mode
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	g := e.Group("/api/v1/sandboxes/:sandbox_id", auth)
	g.GET("/settings/secrets", func(c echo.Context) error {
		sb, _ := echoauth.Sandbox(c)
		owner, err := core.RequireOwner(sb)
		if err != nil {
			return err // a core check's error is answered through the same table
		}
		return c.String(http.StatusOK, "secrets of "+owner+" for sandbox "+sb.ID+"\n")
	})

	for _, tc := range []struct{ path, key string }{
		{"/healthz", ""},
		{"/api/v1/sandboxes/sb-1/settings/secrets", "sk-live"},
		{"/api/v1/sandboxes/sb-1/settings/secrets", ""},
		{"/api/v1/sandboxes/sb-9/settings/secrets", "sk-live"},
		{"/api/v1/sandboxes/sb-2/settings/secrets", "sk-paused"},
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
}

// An application's own HTTPErrorHandler receives the typed *core.Error in
// the *echo.HTTPError's Internal and may answer as it likes.
func ExampleMiddleware_customErrorHandler() {
	v, err := core.New(core.NewMemoryStore())
	if err != nil {
		panic(err)
	}
	auth, err := echoauth.Middleware(v)
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var ce *core.Error
		if errors.As(err, &ce) {
			_ = c.JSON(core.ResponseFor(ce).Status, map[string]string{"error": string(ce.Code)})
			return
		}
		e.DefaultHTTPErrorHandler(err, c)
	}
	e.GET("/hook", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, auth)

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/hook", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/hook", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
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
	auth, err := echoauth.Middleware(v,
		echoauth.WithCredentialsOptional(),
		echoauth.WithSkipper(func(c echo.Context) bool { return c.Path() == "/healthz" }))
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.Use(auth)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/events", func(c echo.Context) error {
		if sb, ok := echoauth.Sandbox(c); ok {
			return c.String(http.StatusOK, "from "+sb.ID+"\n")
		}
		return c.String(http.StatusOK, "anonymous\n")
	})
	for _, tc := range []struct{ path, key string }{{"/healthz", ""}, {"/events", ""}, {"/events", "sk-demo"}} {
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
}
