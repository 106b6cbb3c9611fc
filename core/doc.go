// Package core is the framework-neutral heart of sandboxauth: it decides
// whether a request's X-Session-API-Key belongs to a RUNNING sandbox, and how
// every rejection is answered. The adapters (stdlib, chiauth, ginauth,
// echoauth) only move a request's header in and a decision out.
//
// # Architecture
//
//	request ──► adapter ──► Validator.Authenticate ──► Store.LookupSandbox
//	              │               │  header rules          (yours: a table,
//	              │               │  lookup (timeout,       a runtime API;
//	              │               │    panic → 503)         or MemStore,
//	              │               │  status, then owner     store.SQL, cache)
//	              │               ▼
//	              │        ctx + copy of SandboxInfo ─► handler
//	              │               or *Error
//	              ▼
//	      ResponseFor(err): one table → status, headers, {"detail","code"}
//
// A Store is the only thing a user must write. It resolves a key to a
// SandboxInfo, or returns ErrNotFound; any other error is a backend failure.
// StatusStore (status by sandbox id) and MemoryStore (in-memory answers, used
// by package cache) are optional extensions that the validator and the cache
// discover with type assertions.
//
// # Order of checks
//
// Validator.Authenticate applies, in this order (SPEC §1.2 and §4):
//
//  1. Header absent or empty: 401 "X-Session-API-Key header is required",
//     without a store call. The key is read from the header only; no query
//     string, form or cookie fallback.
//  2. More than one header value, longer than WithMaxKeyLength (512 bytes by
//     default) or containing a control character: 401 "Invalid session API
//     key" (code malformed_session_key), without a store call.
//  3. The store lookup, bounded by WithLookupTimeout and by the request's
//     context. No sandbox: 401 "Invalid session API key". A store error, a
//     timeout, a panic or a cancelled request: 503 with Retry-After — a
//     backend failure is never reported as a bad key, and never lets the
//     request through.
//  4. Status other than RUNNING: 401 "Sandbox is not running" (logged as a
//     warning with sandbox_id and status), whatever the owner and the mode.
//  5. No owner in ModeSaaS: 401 "Sandbox had no user specified" (logged as an
//     error with sandbox_id). In ModeOSS an ownerless sandbox is accepted.
//
// The key is matched exactly (no trimming, case-sensitive), the lookup is not
// scoped to any caller, and the key is never logged: log lines carry at most
// Fingerprint(key), eight hex digits of its SHA-256, and store error messages
// are passed through Redact.
//
// The accepted sandbox is copied into the request context with WithSandbox and
// read back with SandboxFromContext (an unexported key type; the accessor
// returns (value, ok)). A handler may change its copy without affecting any
// other request or cache.
//
// Route-level checks (SPEC §1.4) are plain functions over the accepted
// sandbox: CheckSandboxID for /sandboxes/{sandbox_id}/... routes (403 on a
// mismatch), RequireOwner for routes acting for the owner, CheckCaller for
// dual authentication.
//
// # Errors
//
// Every check returns an *Error with a stable Code. errors.Is compares codes
// (errors.Is(err, ErrNotRunning)), errors.As gives the SandboxID, Status and
// cause, and Unwrap reaches the cause (errors.Is(err, context.DeadlineExceeded)).
// ResponseFor maps any error to its row of the one table every adapter
// renders through:
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
//	store_unavailable            503     Session API key could not be verified, try again later  (Retry-After: 1)
//	internal_error               500     Internal server error  (any error that is not an *Error)
//
// Bodies are application/json, {"detail":"...","code":"..."} and a newline;
// "detail" is byte for byte what the Python reference sends. Error answers
// also carry Cache-Control: no-store and X-Content-Type-Options: nosniff.
package core
