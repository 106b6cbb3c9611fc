package ginauth

import (
	"errors"

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
	onError  ErrorHandler
	param    string // WithSandboxParam's route parameter, or ""
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
// one the route parameter name names (c.Param, e.g. :sandbox_id). A bound
// route always needs a sandbox: with WithCredentialsOptional an absent header
// is answered 401 on it. See docs/design.md §5.
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
	c := config{onError: WriteError}
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
	cfg.onError(c, err)
	if !c.Writer.Written() {
		WriteError(c, err)
	}
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
			// gin hands out parameters unescaped already.
			rt.Bound, rt.SandboxID = true, c.Param(cfg.param)
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
