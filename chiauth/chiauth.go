package chiauth

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// ErrorHandler answers a rejected request; it receives the typed *core.Error
// and must write a response. It is the net/http adapter's type.
type ErrorHandler = stdlib.ErrorHandler

// Option configures Middleware and MatchURLParam.
type Option func(*config) error

type config struct {
	std []stdlib.Option // what both constructors hand to the net/http adapter
}

// WithCredentialsOptional lets a request WITHOUT the header through with no
// sandbox in its context; a present header (even empty) is still validated.
// Default: credentials are required. MatchURLParam ignores it (a bound route
// needs a sandbox).
func WithCredentialsOptional() Option {
	return func(c *config) error {
		c.std = append(c.std, stdlib.WithCredentialsOptional())
		return nil
	}
}

// WithSkipper exempts the requests for which skip returns true (health
// checks, say); they carry no sandbox and MatchURLParam lets them pass too.
// Default: none.
func WithSkipper(skip func(*http.Request) bool) Option {
	return func(c *config) error {
		if skip == nil {
			return errors.New("sandboxauth/chiauth: nil skipper")
		}
		c.std = append(c.std, stdlib.WithSkipper(skip))
		return nil
	}
}

// WithSandboxParam makes Middleware also do what MatchURLParam(name) does —
// answer 403 unless the accepted sandbox is the one core.RouteParam(r, chi.URLParam(r, name))
// names — in the same middleware. Mount it where chi knows the parameter
// (r.With, or r.Use inside the r.Route that names it). A bound route needs a
// sandbox: with WithCredentialsOptional an absent header is answered 401.
func WithSandboxParam(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("sandboxauth/chiauth: empty URL parameter name")
		}
		c.std = append(c.std, stdlib.WithRouteSandboxID(func(r *http.Request) string { return core.RouteParam(r, chi.URLParam(r, name)) }))
		return nil
	}
}

// WithErrorHandler replaces core.WriteError as the answer to rejections.
func WithErrorHandler(h ErrorHandler) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("sandboxauth/chiauth: nil error handler")
		}
		c.std = append(c.std, stdlib.WithErrorHandler(h))
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		if o == nil {
			return c, errors.New("sandboxauth/chiauth: nil option")
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Middleware returns the authentication middleware, for r.Use, r.With,
// r.Group or r.Route. An accepted sandbox is stored in the request's
// context; a rejected request is answered through the error handler and
// never reaches the next handler.
func Middleware(v *core.Validator, opts ...Option) (func(http.Handler) http.Handler, error) {
	if v == nil {
		return nil, errors.New("sandboxauth/chiauth: nil validator")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return stdlib.Middleware(v, c.std...)
}

// MatchURLParam returns a middleware, mounted after Middleware on routes such
// as /api/v1/sandboxes/{sandbox_id}/..., that answers 403 "Session API key
// does not match sandbox" unless the accepted sandbox is the one named by the
// chi URL parameter name (read with chi.URLParam), and 401 when there is no
// accepted sandbox. See the package documentation for where to mount it.
func MatchURLParam(name string, opts ...Option) (func(http.Handler) http.Handler, error) {
	if name == "" {
		return nil, errors.New("sandboxauth/chiauth: empty URL parameter name")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return stdlib.MatchSandboxID(func(r *http.Request) string { return core.RouteParam(r, chi.URLParam(r, name)) }, c.std...)
}

// Sandbox returns the sandbox the middleware accepted for r, and false when
// there is none. It equals core.SandboxFromContext(r.Context()).
func Sandbox(r *http.Request) (*core.SandboxInfo, bool) {
	if r == nil {
		return nil, false
	}
	return core.SandboxFromContext(r.Context())
}
