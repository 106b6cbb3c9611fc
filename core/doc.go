// Package core is the framework-neutral heart of sandboxauth: it decides
// whether a request's X-Session-API-Key belongs to a RUNNING sandbox, and how
// every rejection is answered. The adapters (stdlib, chiauth, ginauth,
// echoauth, echo5auth) only move a request in and a decision out. The rules
// it follows are written down in the repository's design document,
// docs/design.md, which the comments here cite by section.
//
// # Architecture
//
//	request ──► adapter ──► Validator.Authenticate(r, Route) ──► Store.LookupSandbox
//	              │               │  header rules              (yours: a table,
//	              │               │  Peeker fast path           a runtime API;
//	              │               │  failure limit (429)        or MemoryStore,
//	              │               │  lookup (timeout,           the SQL backend,
//	              │               │    panic → 503)             package cache)
//	              │               │  status, owner, route binding
//	              │               ▼
//	              │      ctx + *SandboxInfo ─► handler       Observer ◄─ one Decision
//	              │               or *Error
//	              ▼
//	      ResponseFor(err): one table → status, headers, {"detail","code"}
//
// A Store is the only thing a user must write. It resolves a key to a
// SandboxInfo, or returns ErrNotFound; any other error is a backend failure.
// Two optional extensions are discovered with type assertions: StatusStore
// (status by sandbox id, for the cache's rechecks) and Peeker (answers from
// memory without I/O: the cache's fast path). MemoryStore is the in-memory
// Store, for tests, examples and single-process tools.
//
// # Files
//
// options.go (Option and its With... constructors), validator.go (Validator,
// Route, Authenticate, Validate), header.go (the header rules), keys.go
// (Digest, Fingerprint, NewKey, Redact), errors.go (Code, Error, the
// sentinels), response.go (the error table and its HTTP rendering),
// context.go (WithSandbox, SandboxFromContext), routes.go (route-level
// checks), limiter.go (FailureLimiter), logsample.go (log sampling),
// observer.go (Observer and the event types), store.go and memory.go.
//
// # Order of checks
//
// Validator.Authenticate applies, in this order (docs/design.md §2, §4, §8):
//
//  1. Header absent or empty: 401 "X-Session-API-Key header is required",
//     without a store call. The key is read from the header only; no query
//     string, form or cookie fallback. On a credentials-optional route
//     (Route.Optional) an absent header passes, without a sandbox.
//  2. More than one header value, longer than WithMaxKeyLength (512 bytes by
//     default) or containing a control character: 401 "Invalid session API
//     key" (code malformed_session_key), without a store call.
//  3. A fresh answer from the store's memory (Peeker), if it has one.
//     Otherwise, with WithFailureLimiter, a client that has used up its
//     budget of failed attempts: 429 "Too many failed attempts, try again
//     later", without a store call (unless the cache holds the key). The
//     budget is taken before the lookup and given back when the key is
//     accepted or the store fails. Otherwise the store lookup, bounded by
//     WithLookupTimeout and by the request's context. No sandbox: 401
//     "Invalid session API key". A store error, a timeout, a panic or a
//     cancelled request: 503 with Retry-After — a backend failure is never
//     reported as a bad key, and never lets the request through.
//  4. Status other than RUNNING: 401 "Sandbox is not running" (logged as a
//     warning with sandbox_id and status), whatever the owner and the mode.
//  5. No owner in ModeSaaS: 401 "Sandbox had no user specified" (logged as an
//     error with sandbox_id). In ModeOSS an ownerless sandbox is accepted.
//  6. A bound route (Route.Bound, the adapters' WithSandboxParam) naming
//     another sandbox: 403 "Session API key does not match sandbox".
//
// The key is matched exactly (no trimming, case-sensitive), the lookup is not
// scoped to any caller, and the key is never logged: log lines carry at most
// Fingerprint(key), eight hex digits of its SHA-256, and store error messages
// are passed through Redact. Repeated warning and error lines are sampled per
// reason: the first of each is always written, and a line "Suppressed
// repeated log lines" counts what was left out.
//
// The accepted sandbox is copied into the request context (one allocation
// for the context and the copy) and returned; SandboxFromContext reads it
// back anywhere the context goes (an unexported key type; the accessor
// returns (value, ok)). A handler may change its copy without affecting any
// other request or cache.
//
// Route-level checks for handlers (docs/design.md §5) are plain functions
// over the accepted sandbox: CheckSandboxID, RequireOwner for routes acting
// for the owner, CheckCaller for dual authentication.
//
// # Observing decisions
//
// WithObserver sets an Observer that is told of every decision: one call per
// answered session-key request (route-binding rejections included) with the
// outcome (CodeAccepted or the rejection's Code), its Source (rejected before
// any lookup, cache hit, stale-entry recheck, store lookup), the lookup's
// duration and, when one was resolved, the sandbox id. Without an observer
// nothing is measured and the hit path costs what it always did. Package
// cache reports its events to a CacheObserver and the change feed of module
// store to a FeedObserver. Codes, sources and events are bounded sets, safe
// as metric labels; the key never reaches an observer, and the sandbox id is
// for spans and logs, not labels (docs/design.md §9).
//
// # Errors
//
// Every check returns an *Error with a stable Code. errors.Is compares codes
// (errors.Is(err, ErrNotRunning)), errors.As gives the SandboxID, Status and
// cause, and Unwrap reaches the cause (errors.Is(err, context.DeadlineExceeded)).
// ResponseFor maps any error to its row of the one table every adapter
// renders through (docs/design.md §3); an *Error also reports its row's
// status (StatusCode) and marshals to its row's body (MarshalJSON), for
// routers whose error handlers ask the error itself:
//
//	code                         status  detail
//	missing_session_key          401     X-Session-API-Key header is required
//	malformed_session_key        401     Invalid session API key
//	invalid_session_key          401     Invalid session API key
//	sandbox_not_running          401     Sandbox is not running
//	sandbox_no_user              401     Sandbox had no user specified
//	sandbox_mismatch             403     Session API key does not match sandbox
//	sandbox_no_associated_user   401     Sandbox has no associated user
//	unknown_caller               401     Cannot determine authenticated user
//	owner_mismatch               403     Session API key does not belong to the authenticated user
//	too_many_failures            429     Too many failed attempts, try again later  (Retry-After: 1)
//	store_unavailable            503     Session API key could not be verified, try again later  (Retry-After: 1)
//	internal_error               500     Internal server error  (any error that is not an *Error)
//
// Bodies are application/json, {"detail":"...","code":"..."} and a newline;
// "detail" is byte for byte what the Python reference sends. Error answers
// also carry Cache-Control: no-store and X-Content-Type-Options: nosniff.
package core
