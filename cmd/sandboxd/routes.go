package main

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"

	"github.com/sandboxauth/sandboxauth/chiauth"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/echoauth"
	"github.com/sandboxauth/sandboxauth/ginauth"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// route is one row of the route table, identical on every framework.
// Patterns are written in net/http syntax; wildcards are converted for gin
// and echo.
type route struct {
	method, pattern string
	session         bool // session key + route binding on {sandbox_id}
	h               handlerFunc
}

func (a *app) routes() []route {
	return []route{
		{http.MethodGet, "/healthz", false, a.healthz},
		{http.MethodGet, "/api/v1/sandboxes/{sandbox_id}/settings/secrets", true, a.listSecrets},
		{http.MethodGet, "/api/v1/sandboxes/{sandbox_id}/settings/secrets/{name}", true, a.getSecret},
		{http.MethodPost, "/admin/sandboxes", false, a.admin(a.createSandbox)},
		{http.MethodPut, "/admin/sandboxes/{id}/status", false, a.admin(a.setStatus)},
		{http.MethodDelete, "/admin/sandboxes/{id}", false, a.admin(a.deleteSandbox)},
		{http.MethodPost, "/admin/sandboxes/{id}/pause", false, a.admin(a.pauseSandbox)},   // lifecycle.go
		{http.MethodPost, "/admin/sandboxes/{id}/resume", false, a.admin(a.resumeSandbox)}, // lifecycle.go
		{http.MethodPost, "/admin/sandboxes/{id}/rotate-key", false, a.admin(a.rotateKey)}, // lifecycle.go
		{http.MethodPut, "/admin/users/{user}/secrets/{name}", false, a.admin(a.putSecret)},
	}
}

// sandboxParam is the route parameter session keys are bound to.
const sandboxParam = "sandbox_id"

func notFound(w http.ResponseWriter, _ *http.Request) {
	writeDetail(w, http.StatusNotFound, "Not Found")
}

var wildcard = regexp.MustCompile(`\{([a-z_]+)\}`)

// colonPattern turns /a/{b} into /a/:b for gin and echo.
func colonPattern(p string) string { return wildcard.ReplaceAllString(p, ":$1") }

// newRouter mounts the route table on the chosen framework. Unknown paths and
// methods answer 404 {"detail":"Not Found"} everywhere.
func newRouter(framework string, v *core.Validator, a *app) (http.Handler, error) {
	switch framework {
	case "stdlib":
		return stdlibRouter(v, a)
	case "chi":
		return chiRouter(v, a)
	case "gin":
		return ginRouter(v, a)
	case "echo":
		return echoRouter(v, a)
	case "echo5":
		return echo5Router(v, a) // echo5.go
	}
	return nil, fmt.Errorf("unknown framework %q", framework)
}

func stdlibRouter(v *core.Validator, a *app) (http.Handler, error) {
	auth, err := stdlib.Middleware(v, stdlib.WithSandboxParam(sandboxParam))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", notFound)
	for _, rt := range a.routes() {
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rt.h(w, r, r.PathValue) })
		if rt.session {
			h = auth(h)
		}
		mux.Handle(rt.method+" "+rt.pattern, h)
	}
	return mux, nil
}

func chiRouter(v *core.Validator, a *app) (http.Handler, error) {
	auth, err := chiauth.Middleware(v, chiauth.WithSandboxParam(sandboxParam))
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.NotFound(notFound)
	r.MethodNotAllowed(notFound)
	for _, rt := range a.routes() {
		h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			rt.h(w, req, func(name string) string { return chiauth.RouteParam(req, name) })
		})
		for _, m := range methods(rt.method) {
			if rt.session {
				r.With(auth).Method(m, rt.pattern, h)
			} else {
				r.Method(m, rt.pattern, h)
			}
		}
	}
	return r, nil
}

func ginRouter(v *core.Validator, a *app) (http.Handler, error) {
	auth, err := ginauth.Middleware(v, ginauth.WithSandboxParam(sandboxParam))
	if err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// Route like the others: no redirects, escaped segments kept whole and
	// their parameters unescaped.
	e.RedirectTrailingSlash, e.RedirectFixedPath = false, false
	e.UseRawPath, e.UnescapePathValues = true, true
	e.NoRoute(func(c *gin.Context) { notFound(c.Writer, c.Request) })
	for _, rt := range a.routes() {
		h := func(c *gin.Context) {
			rt.h(c.Writer, c.Request, func(name string) string { return ginauth.RouteParam(c, name) })
		}
		for _, m := range methods(rt.method) {
			if rt.session {
				e.Handle(m, colonPattern(rt.pattern), auth, h)
			} else {
				e.Handle(m, colonPattern(rt.pattern), h)
			}
		}
	}
	return e, nil
}

func echoRouter(v *core.Validator, a *app) (http.Handler, error) {
	auth, err := echoauth.Middleware(v, echoauth.WithSandboxParam(sandboxParam))
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var he *echo.HTTPError
		if errors.As(err, &he) && (he.Code == http.StatusNotFound || he.Code == http.StatusMethodNotAllowed) && !c.Response().Committed {
			c.Response().Header().Del("Allow") // set by echo's router for its 405
			notFound(c.Response(), c.Request())
			return
		}
		echoauth.ErrorHandler(err, c) // *core.Error through the table, the rest to echo's default
	}
	for _, rt := range a.routes() {
		h := func(c echo.Context) error {
			rt.h(c.Response(), c.Request(), func(name string) string { return echoauth.RouteParam(c, name) })
			return nil
		}
		for _, m := range methods(rt.method) {
			if rt.session {
				e.Add(m, colonPattern(rt.pattern), h, auth)
			} else {
				e.Add(m, colonPattern(rt.pattern), h)
			}
		}
	}
	return e, nil
}

// methods lists the methods a route answers: GET routes answer HEAD too,
// as net/http's ServeMux does on its own.
func methods(m string) []string {
	if m == http.MethodGet {
		return []string{http.MethodGet, http.MethodHead}
	}
	return []string{m}
}

// canonicalPaths answers 404 to a path that is not in canonical form
// ("//x", "/a/../b", "/x/"), which ServeMux would redirect and the other
// routers would route each their own way, and to OPTIONS, which echo alone
// answers by itself: every framework then sees the same requests.
func canonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; path.Clean(p) != p || r.Method == http.MethodOptions {
			notFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withAccessLog logs a structured line per request (method, path, status,
// duration; never headers, so never a key or a token), sampled per status
// so that a flood cannot amplify itself into the logs (logsample.go), and
// turns a handler panic into a 500 instead of a dropped connection.
func withAccessLog(log *accessLogger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.panicked(r, p)
				if sw.status == 0 {
					writeDetail(sw, http.StatusInternalServerError, "Internal server error")
				}
			}
			log.request(r, sw.status, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}
