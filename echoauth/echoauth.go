package echoauth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

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
			return errors.New("sandboxauth/echoauth: nil skipper")
		}
		c.skipper = skip
		return nil
	}
}

// WithSandboxParam binds the route to a sandbox: the middleware rejects
// with 403 "Session API key does not match sandbox" unless the accepted
// sandbox is the one the route parameter name names (RouteParam). Mount it where echo has routed the request (e.Use, a
// group, a route; not e.Pre): without the parameter every request is
// refused. A bound route always needs a sandbox: with
// WithCredentialsOptional an absent header is answered 401 on it. See
// docs/design.md §5.
func WithSandboxParam(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("sandboxauth/echoauth: empty route parameter name")
		}
		c.param = name
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		if o == nil {
			return c, errors.New("sandboxauth/echoauth: nil option")
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Middleware returns the authentication middleware, the adapter's one
// constructor. A rejected request never reaches the next handler: the
// middleware returns an *echo.HTTPError (see the package documentation) for
// the Echo instance's HTTPErrorHandler.
func Middleware(v *core.Validator, opts ...Option) (echo.MiddlewareFunc, error) {
	if v == nil {
		return nil, errors.New("sandboxauth/echoauth: nil validator")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if c.skipper != nil && c.skipper(ec) {
				return next(ec)
			}
			r := ec.Request()
			rt := core.Route{Optional: c.optional}
			if c.param != "" {
				rt.Bound, rt.SandboxID = true, RouteParam(ec, c.param)
			}
			ctx, info, err := v.Authenticate(r, rt)
			if err != nil {
				return reject(ec, err)
			}
			if info != nil {
				ec.SetRequest(r.WithContext(ctx))
			}
			return next(ec)
		}
	}, nil
}

// RouteParam returns the route parameter name (c.Param) unescaped exactly
// once: the id WithSandboxParam compares, and what a handler of a bound
// route should act on. echo v4 matches a path with escapes on
// r.URL.RawPath and hands out its parameters still percent-encoded; see
// core.RouteParam.
func RouteParam(c echo.Context, name string) string {
	if c == nil {
		return ""
	}
	v := c.Param(name)
	r := c.Request()
	if r == nil || r.URL == nil || r.URL.RawPath == "" {
		return v // echo matched the decoded path: nothing to decode
	}
	return core.RouteParam(r, r.URL.RawPath, v)
}

// Sandbox returns the sandbox the middleware accepted for this request, read
// from c.Request().Context() (also readable with core.SandboxFromContext).
func Sandbox(c echo.Context) (*core.SandboxInfo, bool) {
	if c == nil || c.Request() == nil {
		return nil, false
	}
	return core.SandboxFromContext(c.Request().Context())
}

// reject sets the table's headers other than Content-Type on the response
// and returns the *echo.HTTPError for err.
func reject(c echo.Context, err error) error {
	resp := core.ResponseFor(err)
	h := make(http.Header, 4)
	resp.SetHeaders(h)
	delete(h, "Content-Type")
	dst := c.Response().Header()
	for k, vs := range h {
		dst[k] = vs
	}
	return &echo.HTTPError{Code: resp.Status, Message: message(resp), Internal: err}
}

// message is the Message of a rejection's *echo.HTTPError: it marshals to
// the table's body (echo's JSON encoder adds the final newline back) and
// prints as the detail text, so logs of err.Error() stay readable.
type message core.Response

// MarshalJSON returns the table's body without its final newline.
func (m message) MarshalJSON() ([]byte, error) { return []byte(strings.TrimSuffix(m.Body, "\n")), nil }

// String returns the detail text.
func (m message) String() string { return m.Detail }

// ErrorHandler is an echo.HTTPErrorHandler that answers any error carrying a
// *core.Error (a rejection of this package, or a core check a handler
// returned) through the core table, byte for byte as the net/http adapter,
// and passes every other error to echo's DefaultHTTPErrorHandler. Like echo's,
// it does nothing once the response is committed. Install it with
// e.HTTPErrorHandler = echoauth.ErrorHandler, or call it from your own.
func ErrorHandler(err error, c echo.Context) {
	var ce *core.Error
	if !errors.As(err, &ce) {
		if e := c.Echo(); e != nil {
			e.DefaultHTTPErrorHandler(err, c)
			return
		}
	}
	if c.Response().Committed {
		return
	}
	core.WriteError(c.Response(), err)
}
