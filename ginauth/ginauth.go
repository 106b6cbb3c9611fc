package ginauth

import (
	"errors"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sandboxauth/sandboxauth/core"
)

// ErrorHandler answers a rejected request. It must write a response; if it
// writes nothing, the default answer is written after it (fail closed).
// Either way the error is already in c.Errors and the chain is aborted, so
// no later handler runs.
type ErrorHandler func(c *gin.Context, err error)

// Option configures Middleware.
type Option func(*config) error

type config struct {
	optional bool
	skipper  func(*gin.Context) bool
	onError  ErrorHandler // a custom handler (WithErrorHandler), or nil: the table
	param    string       // WithSandboxParam's route parameter, or ""
}

// WithCredentialsOptional lets a request WITHOUT the header through with no
// sandbox in its context. A present header (even empty) is still validated
// and rejected when bad. Default: credentials are required. A route bound
// with WithSandboxParam always needs a sandbox.
func WithCredentialsOptional() Option {
	return func(c *config) error { c.optional = true; return nil }
}

// WithSkipper sets a function that exempts requests from the middleware
// (health checks, say). Skipped requests carry no sandbox. Default: none.
func WithSkipper(skip func(*gin.Context) bool) Option {
	return func(c *config) error {
		if skip == nil {
			return errors.New("sandboxauth/ginauth: nil skipper")
		}
		c.skipper = skip
		return nil
	}
}

// WithSandboxParam binds the route to a sandbox: the middleware answers 403
// "Session API key does not match sandbox" unless the accepted sandbox is the
// one the route parameter name names (e.g. :sandbox_id), read as RouteParam
// reads it: unescaped exactly once, whatever the engine's UseRawPath and
// UnescapePathValues. A bound route always needs a sandbox: with
// WithCredentialsOptional an absent header is answered 401 on it. See
// docs/design.md §5.
func WithSandboxParam(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("sandboxauth/ginauth: empty route parameter name")
		}
		c.param = name
		return nil
	}
}

// WithErrorHandler replaces the default answer to rejections, which writes
// the row of core.ResponseFor (status, headers, body) byte for byte.
func WithErrorHandler(h ErrorHandler) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("sandboxauth/ginauth: nil error handler")
		}
		c.onError = h
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	var c config // onError nil: WriteError
	for _, o := range opts {
		if o == nil {
			return c, errors.New("sandboxauth/ginauth: nil option")
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// WriteError writes the answer of core.ResponseFor(err) on c: headers,
// status and body, the same bytes as the net/http adapter. It is the
// default ErrorHandler.
func WriteError(c *gin.Context, err error) {
	r := core.ResponseFor(err)
	r.SetHeaders(c.Writer.Header())
	c.Writer.WriteHeader(r.Status)
	_, _ = c.Writer.WriteString(r.Body)
}

// reject records err in c.Errors (type gin.ErrorTypePrivate), aborts the
// chain and answers through the error handler.
func (cfg *config) reject(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
	if cfg.onError == nil { // WriteError always writes: nothing to watch
		WriteError(c, err)
		return
	}
	w := c.Writer
	c.Writer = emptyWriteDropper{w}
	cfg.onError(c, err)
	c.Writer = w
	if !w.Written() {
		WriteError(c, err)
	}
}

// emptyWriteDropper drops an empty write made before anything was written:
// gin would commit an empty 200 for it (a template that rendered nothing,
// say), and the table's answer could not follow it.
type emptyWriteDropper struct{ gin.ResponseWriter }

func (d emptyWriteDropper) Write(p []byte) (int, error) {
	if len(p) == 0 && !d.Written() {
		return 0, nil
	}
	return d.ResponseWriter.Write(p)
}

func (d emptyWriteDropper) WriteString(s string) (int, error) {
	if s == "" && !d.Written() {
		return 0, nil
	}
	return d.ResponseWriter.WriteString(s)
}

// Middleware returns the authentication middleware, the adapter's one
// constructor. An accepted sandbox is stored in c.Request's context; a
// rejected request is recorded with c.Error, answered and aborted, so no
// later handler runs.
func Middleware(v *core.Validator, opts ...Option) (gin.HandlerFunc, error) {
	if v == nil {
		return nil, errors.New("sandboxauth/ginauth: nil validator")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return func(c *gin.Context) {
		if cfg.skipper != nil && cfg.skipper(c) {
			return
		}
		rt := core.Route{Optional: cfg.optional}
		if cfg.param != "" {
			rt.Bound, rt.SandboxID = true, RouteParam(c, cfg.param)
		}
		ctx, info, err := v.Authenticate(c.Request, rt)
		if err != nil {
			cfg.reject(c, err)
			return
		}
		if info != nil {
			c.Request = c.Request.WithContext(ctx)
		}
	}, nil
}

// Sandbox returns the sandbox the middleware accepted for this request, read
// from c.Request.Context() (the source of truth, also readable with
// core.SandboxFromContext by code that only has the context).
func Sandbox(c *gin.Context) (*core.SandboxInfo, bool) {
	if c == nil || c.Request == nil {
		return nil, false
	}
	return core.SandboxFromContext(c.Request.Context())
}

// RouteParam returns the route parameter name as the path names it,
// unescaped exactly once: it is the sandbox id WithSandboxParam compares, and
// what a handler of a bound route should act on (c.Param alone may hand out
// the id still escaped).
//
// gin matches on the decoded r.URL.Path by default, and its parameters are
// decoded. With Engine.UseRawPath it matches on r.URL.RawPath when the path
// has escapes, and hands out the parameters decoded with
// Engine.UnescapePathValues (the default) and still escaped without it.
// Decoding a decoded value again would let "/sandboxes/sb%2541" (sandbox
// "sb%41") pass for sandbox "sbA"; not decoding an escaped one would let
// "/sandboxes/sb%41" (sandbox "sbA") pass for sandbox "sb%41". So RouteParam
// puts the parameters back into the route's path (c.FullPath, with c.Params
// in order) and decodes the value only when that spells the escaped path:
// when gin matched on it without unescaping. With Engine.RemoveExtraSlash
// the comparison is made on the cleaned paths; a value that could be either
// and that decoding would change is refused: RouteParam returns "", which
// matches no sandbox.
//
// Values that gin unescapes itself are left as gin made them, so that a
// handler reading c.Param acts on the sandbox the middleware checked (gin
// unescapes with url.QueryUnescape, which also turns "+" into a space).
func RouteParam(c *gin.Context, name string) string {
	if c == nil {
		return ""
	}
	v := c.Param(name)
	r := c.Request
	if r == nil || r.URL == nil || v == "" {
		return v
	}
	built, ok := routedPath(c.FullPath(), c.Params)
	if !ok {
		built = ""
	}
	return core.RouteParam(r, built, v)
}

// routedPath returns the route's path (gin syntax: ":name" is one segment,
// "*name" the rest of the path, "/" included in its value) with the values
// of params in place of its parameters. ok is false when they do not fit.
func routedPath(fullPath string, params gin.Params) (string, bool) {
	if fullPath == "" {
		return "", false
	}
	var b strings.Builder
	k := 0
	for i := 0; i < len(fullPath); i++ {
		c := fullPath[i]
		if c != ':' && c != '*' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(fullPath[i:], '/')
		if end < 0 {
			end = len(fullPath)
		} else {
			end += i
		}
		if k >= len(params) || params[k].Key != fullPath[i+1:end] {
			return "", false
		}
		v := params[k].Value
		k++
		if c == '*' {
			// A catch-all's value starts with the "/" before it.
			s := b.String()
			if !strings.HasSuffix(s, "/") || !strings.HasPrefix(v, "/") {
				return "", false
			}
			b.Reset()
			b.WriteString(s[:len(s)-1])
		}
		b.WriteString(v)
		i = end - 1
	}
	if k != len(params) {
		return "", false
	}
	return b.String(), true
}
