package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// HeaderName is the only place a session key is read from. There is no
// query-string, form or cookie fallback: keys in URLs end up in logs.
const HeaderName = "X-Session-API-Key"

// canonicalHeader is HeaderName as net/http stores it in an http.Header.
const canonicalHeader = "X-Session-Api-Key"

// Defaults of the options.
const (
	DefaultMaxKeyLength  = 512
	DefaultLookupTimeout = 5 * time.Second
)

// Validator checks session keys. It is safe for concurrent use; build one with
// New and share it between routes and adapters.
type Validator struct {
	store   Store
	memory  MemoryStore // store as a MemoryStore, or nil
	mode    Mode
	logger  *slog.Logger
	timeout time.Duration
	maxLen  int
}

// Option configures a Validator.
type Option func(*config) error

type config struct {
	mode    Mode
	logger  *slog.Logger
	timeout time.Duration
	maxLen  int
}

// WithMode sets the application mode. Default ModeOSS.
func WithMode(m Mode) Option {
	return func(c *config) error {
		if !m.Valid() {
			return fmt.Errorf("sandboxauth: unknown mode %q (want %q or %q)", m, ModeOSS, ModeSaaS)
		}
		c.mode = m
		return nil
	}
}

// WithLogger sets the logger for rejections and store failures. Default
// slog.Default(). The key is never logged, only a short fingerprint of its hash.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("sandboxauth: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithLookupTimeout bounds each store lookup. Default DefaultLookupTimeout;
// it must be positive. A lookup that runs out of time answers 503.
func WithLookupTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("sandboxauth: lookup timeout must be positive, got %v", d)
		}
		c.timeout = d
		return nil
	}
}

// WithMaxKeyLength bounds the length in bytes of a presented key; longer keys
// are rejected before any store call. Default DefaultMaxKeyLength; 1 to 8192.
func WithMaxKeyLength(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 8192 {
			return fmt.Errorf("sandboxauth: max key length must be in [1, 8192], got %d", n)
		}
		c.maxLen = n
		return nil
	}
}

// New returns a Validator over store. Secure defaults are set first, then the
// options are applied and validated; the first invalid option is returned.
func New(store Store, opts ...Option) (*Validator, error) {
	if store == nil {
		return nil, errors.New("sandboxauth: nil store")
	}
	c := config{mode: ModeOSS, logger: slog.Default(), timeout: DefaultLookupTimeout, maxLen: DefaultMaxKeyLength}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("sandboxauth: nil option")
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	v := &Validator{store: store, mode: c.mode, logger: c.logger, timeout: c.timeout, maxLen: c.maxLen}
	v.memory, _ = store.(MemoryStore)
	return v, nil
}

// Mode returns the validator's application mode.
func (v *Validator) Mode() Mode { return v.mode }

// Logger returns the validator's logger, for adapters that log on its behalf.
func (v *Validator) Logger() *slog.Logger { return v.logger }

// HeaderPresent reports whether h carries the session key header at all
// (even empty). Credentials-optional middleware passes only when it is absent.
func HeaderPresent(h http.Header) bool {
	_, ok := h[canonicalHeader]
	return ok
}

// KeyFromHeader applies the header rules of SPEC §1.2 and §4 and returns the
// key: absent or empty → ErrMissingKey; more than one value, longer than the
// bound, or containing a control character → ErrMalformedKey.
func (v *Validator) KeyFromHeader(h http.Header) (string, error) {
	vals := h[canonicalHeader]
	switch {
	case len(vals) == 0 || (len(vals) == 1 && vals[0] == ""):
		return "", ErrMissingKey
	case len(vals) > 1:
		return "", ErrMalformedKey
	}
	return vals[0], v.checkKey(vals[0])
}

func (v *Validator) checkKey(key string) error {
	if key == "" {
		return ErrMissingKey
	}
	if len(key) > v.maxLen {
		return ErrMalformedKey
	}
	if hasControl(key) {
		return ErrMalformedKey
	}
	return nil
}

// hasControl reports whether s contains a byte below 0x20 or 0x7f (DEL). It
// runs on every request, so it tests eight bytes per step: with
// lo = 0x0101..01 and hi = 0x8080..80, (x - 0x20*lo) &^ x & hi is non-zero
// iff some byte of x is below 0x20, and the same test on x ^ 0x7f*lo with 1
// finds a byte equal to 0x7f. Bytes of 0x80 and above (UTF-8) match neither.
func hasControl(s string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		d := x ^ (0x7f * lo)
		if ((x-0x20*lo)&^x|(d-lo)&^d)&hi != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// Authenticate reads the key from h, validates it, and returns ctx extended
// with a private copy of the accepted sandbox (read it back with
// SandboxFromContext). It is what every adapter calls.
//
// With optional set, an ABSENT header is not an error: Authenticate returns
// (ctx, false, nil) and the request proceeds without a sandbox. A present but
// empty or bad header is rejected all the same.
func (v *Validator) Authenticate(ctx context.Context, h http.Header, optional bool) (context.Context, bool, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if optional && !HeaderPresent(h) {
		return ctx, false, nil
	}
	key, err := v.KeyFromHeader(h)
	if err != nil {
		return ctx, false, err
	}
	info, err := v.validate(ctx, key)
	if err != nil {
		return ctx, false, err
	}
	return WithSandbox(ctx, info), true, nil
}

// Validate checks key (already taken from its header) in the order of SPEC
// §1.2 and returns a copy of the accepted sandbox, or an *Error.
func (v *Validator) Validate(ctx context.Context, key string) (*SandboxInfo, error) {
	if err := v.checkKey(key); err != nil {
		return nil, err
	}
	info, err := v.validate(ctx, key)
	if err != nil {
		return nil, err
	}
	return info.Clone(), nil
}

// ValidateInto is Validate that copies the accepted sandbox into dst instead
// of allocating a new record, reusing dst's ExposedURLs storage. On a cache
// hit it allocates nothing. On error dst is left unchanged.
func (v *Validator) ValidateInto(ctx context.Context, key string, dst *SandboxInfo) error {
	if dst == nil {
		return errors.New("sandboxauth: nil destination")
	}
	if err := v.checkKey(key); err != nil {
		return err
	}
	info, err := v.validate(ctx, key)
	if err != nil {
		return err
	}
	urls := append(dst.ExposedURLs[:0], info.ExposedURLs...)
	*dst = *info
	dst.ExposedURLs = urls
	return nil
}

// validate looks the key up and runs the policy. The returned record may be
// shared with a MemoryStore: callers copy it before handing it out.
func (v *Validator) validate(ctx context.Context, key string) (*SandboxInfo, error) {
	if ctx == nil { // a caller's bug, not a reason to panic
		ctx = context.Background()
	}
	info, err := v.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	return info, v.Check(ctx, info)
}

func (v *Validator) lookup(ctx context.Context, key string) (*SandboxInfo, error) {
	if v.memory != nil {
		if info, ok := v.memory.PeekSandbox(key); ok && info != nil {
			return info, nil
		}
	}
	if err := ctx.Err(); err != nil { // the request is already gone
		return nil, &Error{Code: CodeUnavailable, Err: err}
	}
	lctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	info, err := v.callStore(lctx, key)
	switch {
	case err == nil && info == nil:
		err = errors.New("store returned no sandbox and no error")
	case err == nil:
		return info, nil
	case errors.Is(err, ErrNotFound):
		// Checked first: the fingerprint costs a hash and two allocations,
		// on the path a flood of unknown keys takes.
		if v.logger.Enabled(ctx, slog.LevelDebug) {
			v.logger.LogAttrs(ctx, slog.LevelDebug, "Invalid session API key", slog.String("key_fp", Fingerprint(key)))
		}
		return nil, ErrInvalidKey
	}
	err = redactError(err, key)
	v.logger.LogAttrs(ctx, slog.LevelError, "Session key lookup failed",
		slog.String("key_fp", Fingerprint(key)), slog.String("error", err.Error()))
	return nil, &Error{Code: CodeUnavailable, Err: err}
}

// callStore calls the user's store and turns a panic into an error: a
// panicking store must neither crash the server nor let the request through.
func (v *Validator) callStore(ctx context.Context, key string) (info *SandboxInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			info, err = nil, fmt.Errorf("store panicked: %s", Redact(fmt.Sprint(p), key))
		}
	}()
	return v.store.LookupSandbox(ctx, key)
}

// Check runs the status and owner policy of SPEC §1.2 rows 3-4 on a resolved
// sandbox, logging as the spec says. A cache re-runs it on every hit.
func (v *Validator) Check(ctx context.Context, info *SandboxInfo) error {
	if info == nil {
		return ErrInvalidKey
	}
	if info.Status != StatusRunning {
		v.logger.LogAttrs(ctx, slog.LevelWarn, "Session key rejected for non-running sandbox",
			slog.String("sandbox_id", info.ID), slog.String("status", string(info.Status)))
		return &Error{Code: CodeNotRunning, SandboxID: info.ID, Status: info.Status}
	}
	if v.mode == ModeSaaS && !info.HasOwner() {
		v.logger.LogAttrs(ctx, slog.LevelError, "Sandbox had no user specified",
			slog.String("sandbox_id", info.ID))
		return &Error{Code: CodeNoUser, SandboxID: info.ID}
	}
	return nil
}
