package scenario

import (
	"errors"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sandboxauth/sandboxauth/chiauth"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/echoauth"
	"github.com/sandboxauth/sandboxauth/ginauth"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// buildStdlib: a Go 1.22 ServeMux, stdlib.Middleware with
// WithSandboxParam (authentication and route binding in one wrapper).
func buildStdlib(sc Scenario, v *core.Validator) (http.Handler, error) {
	endpoint := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sc.authenticated() {
			if _, ok := stdlib.Sandbox(r); !ok {
				http.Error(w, errNoSandbox, http.StatusInternalServerError)
				return
			}
		}
		writeBody(w)
	}))
	if sc != Bare {
		auth, err := stdlib.Middleware(v, stdlib.WithSandboxParam(Param))
		if err != nil {
			return nil, err
		}
		endpoint = auth(endpoint)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Pattern, endpoint)
	return mux, nil
}

// buildChi: a chi router, chiauth.Middleware with WithSandboxParam mounted
// with r.With (after routing, so the URL parameter is known).
func buildChi(sc Scenario, v *core.Validator) (http.Handler, error) {
	endpoint := func(w http.ResponseWriter, r *http.Request) {
		if sc.authenticated() {
			if _, ok := chiauth.Sandbox(r); !ok {
				http.Error(w, errNoSandbox, http.StatusInternalServerError)
				return
			}
		}
		writeBody(w)
	}
	r := chi.NewRouter()
	if sc == Bare {
		r.Get(Pattern, endpoint)
		return r, nil
	}
	auth, err := chiauth.Middleware(v, chiauth.WithSandboxParam(Param))
	if err != nil {
		return nil, err
	}
	r.With(auth).Get(Pattern, endpoint)
	return r, nil
}

var ginMode sync.Once

// ginPattern is Pattern in gin's and echo's parameter syntax.
const ginPattern = "/api/v1/sandboxes/:" + Param + "/settings/secrets"

// buildGin: gin.New() (no logger, no recovery: the bare router) in release
// mode, ginauth.Middleware with WithSandboxParam as a route handler.
func buildGin(sc Scenario, v *core.Validator) (http.Handler, error) {
	ginMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
	endpoint := func(c *gin.Context) {
		if sc.authenticated() {
			if _, ok := ginauth.Sandbox(c); !ok {
				c.String(http.StatusInternalServerError, errNoSandbox)
				return
			}
		}
		c.Data(http.StatusOK, "application/json", Body)
	}
	e := gin.New()
	if sc == Bare {
		e.GET(ginPattern, endpoint)
		return e, nil
	}
	auth, err := ginauth.Middleware(v, ginauth.WithSandboxParam(Param))
	if err != nil {
		return nil, err
	}
	e.GET(ginPattern, auth, endpoint)
	return e, nil
}

// keyAuthContextKey is where the KeyAuth scenario's validator stores the
// sandbox with c.Set, echo's own way.
const keyAuthContextKey = "sandbox"

// buildEcho: echo.New() with echoauth.ErrorHandler, echoauth.Middleware
// with WithSandboxParam as the route's one middleware; or, for KeyAuth,
// echo's middleware.KeyAuth with an equivalent map validator.
func buildEcho(sc Scenario, v *core.Validator) (http.Handler, error) {
	endpoint := func(c echo.Context) error {
		switch {
		case sc == KeyAuth:
			if _, ok := c.Get(keyAuthContextKey).(*core.SandboxInfo); !ok {
				return c.String(http.StatusInternalServerError, errNoSandbox)
			}
		case sc.authenticated():
			if _, ok := echoauth.Sandbox(c); !ok {
				return c.String(http.StatusInternalServerError, errNoSandbox)
			}
		}
		return c.Blob(http.StatusOK, "application/json", Body)
	}
	e := echo.New()
	e.HTTPErrorHandler = echoauth.ErrorHandler
	switch sc {
	case Bare:
		e.GET(ginPattern, endpoint)
	case KeyAuth:
		e.GET(ginPattern, endpoint, keyAuth())
	default:
		auth, err := echoauth.Middleware(v, echoauth.WithSandboxParam(Param))
		if err != nil {
			return nil, err
		}
		e.GET(ginPattern, endpoint, auth)
	}
	return e, nil
}

// keyAuth is what an echo user writes without sandboxauth: KeyAuth reading
// the header, and a validator that looks the plaintext key up in a map,
// accepts only a RUNNING sandbox bound to the route's sandbox_id, and keeps
// the record with c.Set. It does the same checks as sandboxauth's cached
// path, minus what makes that path safe: no hashing (the map holds
// plaintext keys), no header rules (duplicates, length, control
// characters), no private copy of the record.
func keyAuth() echo.MiddlewareFunc {
	info := Sandbox()
	keys := map[string]*core.SandboxInfo{Key: &info}
	return middleware.KeyAuthWithConfig(middleware.KeyAuthConfig{
		KeyLookup: "header:" + core.HeaderName,
		Validator: func(key string, c echo.Context) (bool, error) {
			sb, ok := keys[key]
			switch {
			case !ok:
				return false, nil
			case sb.Status != core.StatusRunning:
				return false, errors.New("sandbox is not running")
			case c.Param(Param) != sb.ID:
				return false, errors.New("session API key does not match sandbox")
			}
			c.Set(keyAuthContextKey, sb)
			return true, nil
		},
	})
}
