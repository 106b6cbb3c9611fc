package chiauth

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// Option configures Middleware. It is the net/http adapter's option type:
// pass stdlib.WithCredentialsOptional, stdlib.WithSkipper and
// stdlib.WithErrorHandler as they are, and this package's WithSandboxParam
// to bind a route to the sandbox a chi URL parameter names.
type Option = stdlib.Option

// ErrorHandler answers a rejected request; it receives the typed *core.Error.
// It is the net/http adapter's type.
type ErrorHandler = stdlib.ErrorHandler

// WithSandboxParam binds the route to a sandbox: the middleware answers 403
// "Session API key does not match sandbox" unless the accepted sandbox is the
// one the chi URL parameter name names (chi.URLParam, unescaped with
// core.RouteParam). Mount the middleware where chi knows the parameter:
// r.With on the route, or r.Use inside the r.Route that names it. A bound
// route always needs a sandbox. See docs/design.md §5.
func WithSandboxParam(name string) Option {
	if name == "" {
		return stdlib.WithSandboxParam(name) // the same error
	}
	return stdlib.WithSandboxParamFunc(func(r *http.Request) string { return core.RouteParam(r, chi.URLParam(r, name)) })
}

// Middleware returns the authentication middleware, for r.Use, r.With,
// r.Group or r.Route: the net/http adapter's middleware, with chi's route
// parameters. An accepted sandbox is stored in the request's context; a
// rejected request is answered through the error handler and never reaches
// the next handler.
func Middleware(v *core.Validator, opts ...Option) (func(http.Handler) http.Handler, error) {
	return stdlib.Middleware(v, opts...)
}

// Sandbox returns the sandbox the middleware accepted for r, and false when
// there is none. It is stdlib.Sandbox.
func Sandbox(r *http.Request) (*core.SandboxInfo, bool) { return stdlib.Sandbox(r) }
