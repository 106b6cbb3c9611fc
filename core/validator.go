package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Validator checks session keys. It is safe for concurrent use; build one with
// New and share it between routes and adapters.
type Validator struct {
	store    Store
	peeker   Peeker       // store as a Peeker, or nil
	sources  sourceLookup // store as a sourceLookup, or nil
	holder   holder       // store as a holder, or nil
	owner    bool         // store is a deadlineOwner (package cache)
	mode     Mode
	logger   *slog.Logger
	logs     *sampler
	timeout  time.Duration
	maxLen   int
	observer Observer // nil: no decision is reported, and no clock is read
	limiter  *FailureLimiter
	clientID func(*http.Request) string
}

// New returns a Validator over store. Secure defaults are set first, then the
// options are applied and validated; the first invalid option is returned.
func New(store Store, opts ...Option) (*Validator, error) {
	if store == nil {
		return nil, errors.New("sandboxauth: nil store")
	}
	c := config{mode: ModeOSS, logger: slog.Default(), timeout: DefaultLookupTimeout, maxLen: DefaultMaxKeyLength,
		clientID: RemoteAddrClientID}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("sandboxauth: nil option")
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	v := &Validator{store: store, mode: c.mode, logger: c.logger, logs: newSampler(c.logger), timeout: c.timeout,
		maxLen: c.maxLen, observer: c.observer, limiter: c.limiter, clientID: c.clientID}
	v.peeker, _ = store.(Peeker)
	v.sources, _ = store.(sourceLookup)
	v.holder, _ = store.(holder)
	_, v.owner = store.(deadlineOwner)
	return v, nil
}

// Route is what the route being served asks of a session key, beside the
// rules every route shares. Adapters build it from their options; the zero
// Route requires a valid key and binds nothing.
type Route struct {
	// Optional lets a request WITHOUT the header through, with no sandbox.
	// A present header (even empty) is validated all the same.
	Optional bool
	// Bound requires the key's sandbox to be SandboxID, the sandbox the
	// route names (/api/v1/sandboxes/{sandbox_id}/...): otherwise 403
	// "Session API key does not match sandbox" (docs/design.md §5). A bound
	// route always needs a sandbox, Optional or not.
	Bound bool
	// SandboxID is the route's sandbox id, unescaped (see RouteParam). A
	// non-empty SandboxID binds the route even without Bound.
	SandboxID string
}

// Authenticate is what every adapter calls: it reads the key from r's
// header, validates it in the order of docs/design.md §2, applies rt, and
// returns r's context carrying a private copy of the accepted sandbox
// together with that copy (the same record SandboxFromContext returns). A
// rejection is an *Error, answered through ResponseFor; the context is then
// r's own.
//
// A credentials-optional route (rt.Optional, not bound) without the header
// returns (r.Context(), nil, nil). Every other call is one decision for the
// Observer.
func (v *Validator) Authenticate(r *http.Request, rt Route) (context.Context, *SandboxInfo, error) {
	if r == nil { // a caller's bug: fail closed, do not panic
		ctx := context.Background()
		return ctx, nil, v.reject(ctx, nil, decision{err: ErrMissingKey})
	}
	ctx := r.Context()
	bound := rt.Bound || rt.SandboxID != ""
	if rt.Optional && !bound && !headerPresent(r.Header) {
		return ctx, nil, nil
	}
	key, err := v.keyFromHeader(r.Header)
	if err != nil {
		return ctx, nil, v.reject(ctx, r, decision{err: err})
	}
	d := v.decide(ctx, r, key)
	if d.err == nil && bound {
		d.err = CheckSandboxID(d.info, rt.SandboxID)
		// A route that names no sandbox is the server's misconfiguration
		// (a mistyped parameter name), not the client's failed attempt.
		d.misconfigured = rt.SandboxID == ""
	}
	if d.err != nil {
		return ctx, nil, v.reject(ctx, r, d)
	}
	d.attempt.Forgive() // accepted: the attempt did not fail
	ctx, info := withSandbox(ctx, d.info)
	if v.observer != nil {
		v.observer.ObserveDecision(ctx, Decision{Code: CodeAccepted, Source: d.source, Duration: d.took, SandboxID: info.ID})
	}
	return ctx, info, nil
}

// Validate checks key (already taken from wherever a non-HTTP caller keeps
// it) in the order of docs/design.md §2 and returns a copy of the accepted
// sandbox, or an *Error. It reports one decision to the Observer. It has no
// client to limit: the failure limiter applies to Authenticate only.
func (v *Validator) Validate(ctx context.Context, key string) (*SandboxInfo, error) {
	if ctx == nil { // a caller's bug, not a reason to panic
		ctx = context.Background()
	}
	if err := v.checkKey(key); err != nil {
		return nil, v.reject(ctx, nil, decision{err: err})
	}
	d := v.decide(ctx, nil, key)
	if d.err != nil {
		return nil, v.reject(ctx, nil, d)
	}
	if v.observer != nil {
		v.observer.ObserveDecision(ctx, Decision{Code: CodeAccepted, Source: d.source, Duration: d.took, SandboxID: d.info.ID})
	}
	return d.info.Clone(), nil
}

// decision is what decide found: the record (shared with a Peeker: callers
// copy it before handing it out; set on policy rejections too), where it came
// from, how long the lookup took (measured only with an Observer), the
// rejection, and the failure limiter's token taken ahead of the lookup.
type decision struct {
	info          *SandboxInfo
	source        Source
	took          time.Duration
	err           error
	attempt       Attempt // the zero Attempt when no token was taken
	charged       bool    // a token was taken (attempt)
	misconfigured bool    // rejected for the route's fault, not the client's
}

// decide looks the key up and runs the policy. r is nil for Validate.
func (v *Validator) decide(ctx context.Context, r *http.Request, key string) decision {
	var start time.Time
	if v.observer != nil {
		start = time.Now()
	}
	var d decision
	if v.peeker != nil {
		info, err := v.peek(key)
		if err != nil {
			d.source, d.err = SourceCache, v.lookupFailed(ctx, key, err)
			return d
		}
		if info != nil {
			d.info, d.source = info, SourceCache
		}
	}
	if d.info == nil {
		// The failure budget is charged before the lookup, so concurrent
		// requests cannot all pass a check that is charged later; the token
		// is given back when the attempt does not fail. A key the cache
		// already holds (a stale entry about to be rechecked) is not
		// limited: a client sharing its address with an attacker keeps its
		// sandbox's key working.
		// The cache is asked only when the budget is spent: a client with
		// budget left pays no extra digest of its key.
		if r != nil && v.limiter != nil {
			att, ok := v.limiter.Attempt(v.client(r))
			switch {
			case ok:
				d.attempt, d.charged = att, true
			case v.holder == nil || !v.holder.Holds(key):
				return decision{err: ErrTooManyFailures}
			}
		}
		d.info, d.source, d.err = v.lookup(ctx, key)
		if d.err != nil && d.source == SourceNone { // no store call was made
			return d
		}
	}
	if v.observer != nil {
		d.took = time.Since(start)
	}
	if d.err == nil {
		d.err = v.check(ctx, d.info)
	}
	return d
}

// reject settles the client's failure budget for the rejection d.err,
// reports it to the Observer, and returns d.err.
func (v *Validator) reject(ctx context.Context, r *http.Request, d decision) error {
	code := codeOf(d.err)
	if r != nil && v.limiter != nil {
		switch {
		case !clientsFault(code, r) || d.misconfigured:
			d.attempt.Forgive()
		case !d.charged: // rejected without a lookup: charge it now
			v.limiter.Attempt(v.client(r))
		}
	}
	if v.observer != nil {
		id := ""
		if d.info != nil {
			id = d.info.ID
		}
		v.observer.ObserveDecision(ctx, Decision{Code: code, Source: d.source, Duration: d.took, SandboxID: id})
	}
	return d.err
}

// clientsFault reports whether a rejection counts as a failed attempt of
// r's client: a bad, unknown or refused key does, and so does a lookup cut
// short because the client hung up (the store did the work); a backend
// failure and the limit itself do not.
func clientsFault(c Code, r *http.Request) bool {
	switch c {
	case CodeUnavailable:
		return r.Context().Err() != nil
	case CodeInternal, CodeTooManyFailures:
		return false
	}
	return true
}

// client returns the limiter's identity of r's client.
func (v *Validator) client(r *http.Request) string {
	if id := v.clientID(r); id != "" {
		return id
	}
	return RemoteAddrClientID(r)
}

// lookup asks the store, bounded by the lookup timeout and the request.
func (v *Validator) lookup(ctx context.Context, key string) (*SandboxInfo, Source, error) {
	if err := ctx.Err(); err != nil { // the request is already gone: no store call
		return nil, SourceNone, &Error{Code: CodeUnavailable, Err: err}
	}
	var lctx context.Context
	if v.owner {
		// The cache bounds its shared store call, and each caller's wait,
		// by the deadline it is given (deadlineOwner): no timer to arm and
		// stop on every miss.
		lctx = withDeadline(ctx, time.Now().Add(v.timeout))
	} else {
		c, cancel := context.WithTimeout(ctx, v.timeout)
		defer cancel()
		lctx = c
	}
	info, src, err := v.callStore(lctx, key)
	switch {
	case err == nil && info == nil:
		err = errors.New("store returned no sandbox and no error")
	case err == nil:
		return info, src, nil
	case errors.Is(err, ErrNotFound):
		// Checked first: the fingerprint costs a hash and two allocations,
		// on the path a flood of unknown keys takes.
		if v.logger.Enabled(ctx, slog.LevelDebug) {
			v.logger.LogAttrs(ctx, slog.LevelDebug, "Invalid session API key", slog.String("key_fp", Fingerprint(key)))
		}
		return nil, src, ErrInvalidKey
	}
	return nil, src, v.lookupFailed(ctx, key, err)
}

// lookupFailed logs a failed lookup of key (sampled) and returns its
// answer, row 2a.
func (v *Validator) lookupFailed(ctx context.Context, key string, err error) error {
	err = redactError(err, key)
	v.logs.log(ctx, reasonLookupFailed, slog.LevelError, "Session key lookup failed",
		slog.String("key_fp", Fingerprint(key)), slog.String("error", err.Error()))
	return &Error{Code: CodeUnavailable, Err: err}
}

// peek asks the Peeker for a fresh entry of key (nil when it has none). A
// panicking Peeker (its code, or a CacheObserver it calls on a hit) is a
// store failure, as a panicking lookup is.
func (v *Validator) peek(key string) (info *SandboxInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			info, err = nil, storePanicked(p, key)
		}
	}()
	if info, ok := v.peeker.PeekSandbox(key); ok {
		return info, nil
	}
	return nil, nil
}

// storePanicked is the error of a store (or Peeker) that panicked with p
// while looking key up: the panic value without the key.
func storePanicked(p any, key string) error {
	return fmt.Errorf("store panicked: %s", Redact(fmt.Sprint(p), key))
}

// callStore calls the user's store and turns a panic into an error: a
// panicking store must neither crash the server nor let the request through.
func (v *Validator) callStore(ctx context.Context, key string) (info *SandboxInfo, src Source, err error) {
	defer func() {
		if p := recover(); p != nil {
			info, src, err = nil, SourceStore, storePanicked(p, key)
		}
	}()
	if v.sources != nil {
		return v.sources.LookupSandboxSource(ctx, key)
	}
	info, err = v.store.LookupSandbox(ctx, key)
	return info, SourceStore, err
}

// check runs the status and owner policy of docs/design.md §2 rows 3-4 on a
// resolved sandbox, logging as the design says. It runs on cache hits too.
func (v *Validator) check(ctx context.Context, info *SandboxInfo) error {
	if info == nil {
		return ErrInvalidKey
	}
	if info.Status != StatusRunning {
		v.logs.log(ctx, reasonNotRunning, slog.LevelWarn, "Session key rejected for non-running sandbox",
			slog.String("sandbox_id", info.ID), slog.String("status", string(info.Status)))
		return &Error{Code: CodeNotRunning, SandboxID: info.ID, Status: info.Status}
	}
	if v.mode == ModeSaaS && !info.HasOwner() {
		v.logs.log(ctx, reasonNoUser, slog.LevelError, "Sandbox had no user specified",
			slog.String("sandbox_id", info.ID))
		return &Error{Code: CodeNoUser, SandboxID: info.ID}
	}
	return nil
}
