package chiauth

import (
	"net/http"
	"strings"

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
// one the chi URL parameter name names, read as RouteParam reads it (unescaped
// exactly once, however chi routed the request). Mount the middleware where
// chi knows the parameter: r.With on the route, or r.Use inside the r.Route
// that names it. A bound route always needs a sandbox. See docs/design.md §5.
func WithSandboxParam(name string) Option {
	if name == "" {
		return stdlib.WithSandboxParam(name) // the same error
	}
	return stdlib.WithSandboxParamFunc(func(r *http.Request) string { return RouteParam(r, name) })
}

// RouteParam returns the chi URL parameter name as the path names it,
// unescaped exactly once: it is the sandbox id WithSandboxParam compares, and
// what a handler of a bound route should act on (chi.URLParam alone may hand
// out the id still escaped).
//
// chi matches a path with escapes on r.URL.RawPath and hands out its
// parameters percent-encoded, but matches on the decoded r.URL.Path when a
// middleware set the routing path from it (middleware.StripSlashes does),
// handing them out decoded. Decoding a decoded value again would let
// "/sandboxes/sb%2541" (sandbox "sb%41") pass for sandbox "sbA"; not decoding
// an encoded one would let it pass for sandbox "sb%2541". So RouteParam puts
// the parameters back into the route's pattern (chi's RoutePatterns, with
// URLParams in order) and decodes the value only when that spells the
// escaped path: when chi matched on it. When the routing path was rewritten
// (a trailing slash stripped, the path cleaned), the comparison is made on
// the cleaned paths; a value that could be either and that decoding would
// change is refused: RouteParam returns "", which matches no sandbox.
func RouteParam(r *http.Request, name string) string {
	if r == nil {
		return ""
	}
	v := chi.URLParam(r, name)
	if r.URL == nil || v == "" {
		return v
	}
	built, ok := routedPath(r)
	if !ok {
		built = ""
	}
	return core.RouteParam(r, built, v)
}

// routedPath returns the route's patterns, joined as chi joins them, with
// the request's parameter values in place of {name}, {name:regexp} and the
// wildcards: the path chi matched, as chi saw it. ok is false when the
// parameters do not fit the patterns.
func routedPath(r *http.Request) (string, bool) {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || len(rctx.RoutePatterns) == 0 {
		return "", false
	}
	keys, vals := rctx.URLParams.Keys, rctx.URLParams.Values
	if len(vals) < len(keys) {
		return "", false
	}
	pattern := strings.Join(rctx.RoutePatterns, "")
	var b strings.Builder
	k := 0
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '{':
			end := closingBrace(pattern, i)
			if end < 0 || k >= len(keys) {
				return "", false
			}
			key, _, _ := strings.Cut(pattern[i+1:end], ":")
			if keys[k] != key {
				return "", false
			}
			b.WriteString(vals[k])
			k++
			i = end
		case '*':
			if k >= len(keys) || keys[k] != "*" {
				return "", false
			}
			k++
			if i+1 < len(pattern) {
				// A mounted router's wildcard: the next pattern goes on
				// from here ("/*/" is "/", as in chi's RoutePattern).
				if pattern[i+1] != '/' || !strings.HasSuffix(b.String(), "/") {
					return "", false
				}
				i++
				continue
			}
			// The last wildcard. chi empties a mount's wildcard before the
			// mounted router runs its middlewares; the value it matched is
			// still the request's path value "*".
			w := vals[k-1]
			if w == "" {
				w = r.PathValue("*")
			}
			b.WriteString(w)
		default:
			b.WriteByte(c)
		}
	}
	if k != len(keys) {
		return "", false
	}
	return b.String(), true
}

// closingBrace returns the index of the '}' closing the '{' at open,
// counting nested braces as chi does (a regexp may hold some), or -1.
func closingBrace(p string, open int) int {
	depth := 0
	for i := open; i < len(p); i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
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
