// Package stdlib is the net/http adapter of sandboxauth: a plain
// func(http.Handler) http.Handler middleware that authenticates the
// X-Session-API-Key header with a core.Validator and stores the accepted
// sandbox in the request's context.
package stdlib

import (
	"errors"
	"net/http"

	"github.com/sandboxauth/sandboxauth/core"
)

// ErrorHandler answers a rejected request; the default is core.WriteError,
// which renders the shared error table. If it writes nothing, the default
// answer is written after it: a rejection never becomes an empty 200.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// Option configures the middleware.
type Option func(*config) error

type config struct {
	optional bool
	skipper  func(*http.Request) bool
	onError  ErrorHandler               // a custom handler (WithErrorHandler), or nil: the table
	routeID  func(*http.Request) string // the route's sandbox id (WithSandboxParam), or nil
}

// WithCredentialsOptional lets a request WITHOUT the header through with no
// sandbox in its context. A present header (even empty) is still validated
// and rejected when bad. Default: credentials are required.
func WithCredentialsOptional() Option {
	return func(c *config) error { c.optional = true; return nil }
}

// WithSkipper sets a function that exempts requests from authentication
// (health checks, say). Skipped requests carry no sandbox. Default: none.
func WithSkipper(skip func(*http.Request) bool) Option {
	return func(c *config) error {
		if skip == nil {
			return errors.New("sandboxauth/stdlib: nil skipper")
		}
		c.skipper = skip
		return nil
	}
}

// WithSandboxParam binds the route to a sandbox: the middleware answers 403
// "Session API key does not match sandbox" unless the accepted sandbox is
// the one the path wildcard name names (r.PathValue, Go 1.22 patterns such
// as /api/v1/sandboxes/{sandbox_id}/...). A bound route always needs a
// sandbox: with WithCredentialsOptional an absent header is answered 401 on
// it. See docs/design.md §5.
func WithSandboxParam(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("sandboxauth: empty route parameter name")
		}
		c.routeID = func(r *http.Request) string { return r.PathValue(name) }
		return nil
	}
}

// WithSandboxParamFunc is WithSandboxParam for any other router: routeID
// returns the sandbox id the route names, unescaped (pass a parameter that
// your router may hand out percent-encoded through core.RouteParam).
// chiauth.WithSandboxParam is this with chi.URLParam.
func WithSandboxParamFunc(routeID func(*http.Request) string) Option {
	return func(c *config) error {
		if routeID == nil {
			return errors.New("sandboxauth/stdlib: nil route id function")
		}
		c.routeID = routeID
		return nil
	}
}

// WithErrorHandler replaces core.WriteError as the answer to rejections.
func WithErrorHandler(h ErrorHandler) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("sandboxauth/stdlib: nil error handler")
		}
		c.onError = h
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	var c config // onError nil: core.WriteError
	for _, o := range opts {
		if o == nil {
			return c, errors.New("sandboxauth/stdlib: nil option")
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// reject answers err through the error handler, and through the table if
// the handler wrote nothing. The default handler, the table itself, always
// writes: only a custom one is watched.
func (c config) reject(w http.ResponseWriter, r *http.Request, err error) {
	if c.onError == nil {
		core.WriteError(w, err)
		return
	}
	tw := &trackingWriter{ResponseWriter: w}
	c.onError(tw, r, err)
	if !tw.wrote {
		core.WriteError(w, err)
	}
}

// trackingWriter records whether anything was written through it. An
// empty Write before any header is dropped: passed on, net/http would
// commit an empty 200 (a template that rendered nothing, say), and the
// table's answer could not follow it.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) { t.wrote = true; t.ResponseWriter.WriteHeader(code) }
func (t *trackingWriter) Write(p []byte) (int, error) {
	if len(p) == 0 && !t.wrote {
		return 0, nil
	}
	t.wrote = true
	return t.ResponseWriter.Write(p)
}
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Middleware returns the authentication middleware, the adapter's one
// constructor. An accepted sandbox is stored in the request's context (read
// it with Sandbox); a rejected request is answered through the error handler
// and never reaches next.
func Middleware(v *core.Validator, opts ...Option) (func(http.Handler) http.Handler, error) {
	if v == nil {
		return nil, errors.New("sandboxauth/stdlib: nil validator")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.skipper != nil && c.skipper(r) {
				next.ServeHTTP(w, r)
				return
			}
			rt := core.Route{Optional: c.optional}
			if c.routeID != nil {
				rt.Bound, rt.SandboxID = true, c.routeID(r)
			}
			ctx, info, err := v.Authenticate(r, rt)
			if err != nil {
				c.reject(w, r, err)
				return
			}
			if info != nil {
				r = r.WithContext(ctx)
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// Sandbox returns the sandbox the middleware accepted for r, and false when
// there is none (or r is nil).
func Sandbox(r *http.Request) (*core.SandboxInfo, bool) {
	if r == nil {
		return nil, false
	}
	return core.SandboxFromContext(r.Context())
}
