package scenario

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/echo5auth"
)

// buildEcho5: echo v5's echo.New() with its default error handler (which
// renders sandboxauth's rejections by itself), echo5auth.Middleware with
// WithSandboxParam as the route's one middleware; or, for KeyAuth, echo v5's
// middleware.KeyAuth with the same map validator as echo v4's cell.
func buildEcho5(sc Scenario, v *core.Validator) (http.Handler, error) {
	endpoint := func(c *echo.Context) error {
		switch {
		case sc == KeyAuth:
			if _, ok := c.Get(keyAuthContextKey).(*core.SandboxInfo); !ok {
				return c.String(http.StatusInternalServerError, errNoSandbox)
			}
		case sc.authenticated():
			if _, ok := echo5auth.Sandbox(c); !ok {
				return c.String(http.StatusInternalServerError, errNoSandbox)
			}
		}
		return c.Blob(http.StatusOK, "application/json", Body)
	}
	e := echo.New()
	switch sc {
	case Bare:
		e.GET(ginPattern, endpoint)
	case KeyAuth:
		e.GET(ginPattern, endpoint, keyAuth5())
	default:
		auth, err := echo5auth.Middleware(v, echo5auth.WithSandboxParam(Param))
		if err != nil {
			return nil, err
		}
		e.GET(ginPattern, endpoint, auth)
	}
	return e, nil
}

// keyAuth5 is keyAuth (frameworks.go) on echo v5: KeyAuth reading the
// header, a validator looking the plaintext key up in a map, accepting only
// a RUNNING sandbox bound to the route's sandbox_id, and keeping the record
// with c.Set.
func keyAuth5() echo.MiddlewareFunc {
	info := Sandbox()
	keys := map[string]*core.SandboxInfo{Key: &info}
	return middleware.KeyAuthWithConfig(middleware.KeyAuthConfig{
		KeyLookup: "header:" + core.HeaderName,
		Validator: func(c *echo.Context, key string, _ middleware.ExtractorSource) (bool, error) {
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
