package echo5auth

import (
	"errors"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/sandboxauth/sandboxauth/core"
)

// Option configures the middleware.
type Option func(*config) error

type config struct {
	optional bool
	skipper  middleware.Skipper
	param    string // WithSandboxParam's route parameter, or ""
}

// WithCredentialsOptional lets a request WITHOUT the header through with no
// sandbox in its context. A present header (even empty) is still validated
// and rejected when bad. Default: credentials are required.
func WithCredentialsOptional() Option {
	return func(c *config) error { c.optional = true; return nil }
}

// WithSkipper sets echo's middleware.Skipper to exempt requests from
// authentication (health checks, say). Skipped requests carry no sandbox.
// Default: none.
func WithSkipper(skip middleware.Skipper) Option {
	return func(c *config) error {
		if skip == nil {
			return errors.New("sandboxauth/echo5auth: nil skipper")
		}
		c.skipper = skip
		return nil
	}
}

// WithSandboxParam binds the route to a sandbox: the middleware answers 403
// "Session API key does not match sandbox" unless the accepted sandbox is
// the one the route parameter name names (read as RouteParam(c, name)
// reads it). A bound route needs a sandbox: with WithCredentialsOptional an
// absent header is answered 401. Mount a bound middleware where echo has
// routed the request (e.Use, a group, a route; not e.Pre): without the
// parameter it refuses every request.
func WithSandboxParam(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("sandboxauth/echo5auth: empty route parameter name")
		}
		c.param = name
		return nil
	}
}

// Middleware returns the authentication middleware. A rejected request never
// reaches the next handler: the middleware returns the *core.Error itself,
// which echo v5's default HTTPErrorHandler renders through the core error
// table (see the package documentation).
func Middleware(v *core.Validator, opts ...Option) (echo.MiddlewareFunc, error) {
	if v == nil {
		return nil, errors.New("sandboxauth/echo5auth: nil validator")
	}
	var cfg config
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("sandboxauth/echo5auth: nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if cfg.skipper != nil && cfg.skipper(c) {
				return next(c)
			}
			r := c.Request()
			rt := core.Route{Optional: cfg.optional}
			if cfg.param != "" {
				rt.Bound, rt.SandboxID = true, RouteParam(c, cfg.param)
			}
			ctx, info, err := v.Authenticate(r, rt)
			if err != nil {
				return Reject(c, err)
			}
			if info != nil {
				c.SetRequest(r.WithContext(ctx))
			}
			return next(c)
		}
	}, nil
}

// Sandbox returns the sandbox the middleware accepted for this request.
func Sandbox(c *echo.Context) (*core.SandboxInfo, bool) {
	if c == nil || c.Request() == nil {
		return nil, false
	}
	return core.SandboxFromContext(c.Request().Context())
}

// Reject sets the headers of err's row of the core error table other than
// Content-Type (Cache-Control: no-store, X-Content-Type-Options: nosniff,
// and Retry-After for 429 and 503) on the response, and returns err
// unchanged for echo's HTTPErrorHandler. It is what the middleware returns
// on a rejection; a handler returning a core check's error, e.g. from
// core.RequireOwner, through Reject is answered with the same headers.
// Content-Type is left to the error handler (echo v5's default sets
// application/json), so a handler that answers in HTML is not forced into
// JSON.
func Reject(c *echo.Context, err error) error {
	if c == nil || err == nil {
		return err
	}
	resp := core.ResponseFor(err)
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if resp.RetryAfter != "" {
		h.Set("Retry-After", resp.RetryAfter)
	}
	return err
}

// RouteParam returns the route parameter name as the path names it,
// unescaped, whatever the router's configuration: it is the sandbox id
// WithSandboxParam compares, and what a handler of a bound route should act
// on.
//
// echo's default router matches a path with an escaped "/" on
// r.URL.RawPath and hands out its parameters still percent-encoded; with
// RouterConfig.UnescapePathParamValues or UseEscapedPathForMatching it hands
// them out decoded. Decoding an already decoded value again would let
// "/sandboxes/a%2541" ("a%41" once decoded) pass for sandbox "aA", so
// RouteParam decodes a parameter only when the route's parameters, put back
// into the route's path, give r.URL.RawPath: that is, when they are as
// RawPath has them (core.RouteParam).
func RouteParam(c *echo.Context, name string) string {
	if c == nil {
		return ""
	}
	v := c.Param(name)
	r := c.Request()
	if r == nil || r.URL == nil || r.URL.RawPath == "" {
		return v // nothing escaped: nothing to decode
	}
	return core.RouteParam(r, routedPath(c), v)
}

// routedPath is the route's path with its parameter values filled in: what
// the router matched them in.
func routedPath(c *echo.Context) string {
	pv := c.PathValues()
	vals := make([]any, len(pv))
	for i, p := range pv {
		vals[i] = p.Value
	}
	return c.RouteInfo().Reverse(vals...)
}
