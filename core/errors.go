package core

import (
	"errors"
	"log/slog"
)

// Code is a stable, machine-readable identifier of a rejection. It is sent
// as the "code" field of every error body, beside "detail".
type Code string

// The rejection codes. Their HTTP status and detail text are the rows of
// the error table (docs/design.md §3; ResponseFor).
const (
	CodeMissingKey      Code = "missing_session_key"        // 401, docs/design.md §2 row 1
	CodeMalformedKey    Code = "malformed_session_key"      // 401, docs/design.md §4 header rules
	CodeInvalidKey      Code = "invalid_session_key"        // 401, docs/design.md §2 row 2
	CodeNotRunning      Code = "sandbox_not_running"        // 401, docs/design.md §2 row 3
	CodeNoUser          Code = "sandbox_no_user"            // 401, docs/design.md §2 row 4 (saas)
	CodeSandboxMismatch Code = "sandbox_mismatch"           // 403, docs/design.md §5 route binding
	CodeOwnerRequired   Code = "sandbox_no_associated_user" // 401, docs/design.md §5 owner required
	CodeUnknownCaller   Code = "unknown_caller"             // 401, docs/design.md §5 dual auth
	CodeOwnerMismatch   Code = "owner_mismatch"             // 403, docs/design.md §5 dual auth
	CodeTooManyFailures Code = "too_many_failures"          // 429, docs/design.md §8 failed-attempt limit
	CodeUnavailable     Code = "store_unavailable"          // 503, docs/design.md §3 backend failure
	CodeInternal        Code = "internal_error"             // 500, an error that is not an *Error
)

// Error is the error every check of this package returns. Match it with
// errors.Is against the sentinels below (which compares codes) or take it
// apart with errors.As. Its message never contains the session key. How it
// is answered over HTTP is in response.go (ResponseFor, StatusCode,
// MarshalJSON).
type Error struct {
	Code      Code
	SandboxID string // the sandbox concerned, when one was resolved
	Status    Status // the sandbox's status, for CodeNotRunning
	Err       error  // the cause, for CodeUnavailable (a store error, a timeout)
}

// The sentinels, one per code. Compare with errors.Is(err, core.ErrNotRunning).
var (
	ErrMissingKey      = &Error{Code: CodeMissingKey}
	ErrMalformedKey    = &Error{Code: CodeMalformedKey}
	ErrInvalidKey      = &Error{Code: CodeInvalidKey}
	ErrNotRunning      = &Error{Code: CodeNotRunning}
	ErrNoUser          = &Error{Code: CodeNoUser}
	ErrSandboxMismatch = &Error{Code: CodeSandboxMismatch}
	ErrOwnerRequired   = &Error{Code: CodeOwnerRequired}
	ErrUnknownCaller   = &Error{Code: CodeUnknownCaller}
	ErrOwnerMismatch   = &Error{Code: CodeOwnerMismatch}
	ErrTooManyFailures = &Error{Code: CodeTooManyFailures}
	ErrUnavailable     = &Error{Code: CodeUnavailable}
)

func (e *Error) Error() string {
	msg := "sandboxauth: " + responseFor(e.Code).Detail
	if e.SandboxID != "" {
		msg += " (sandbox " + e.SandboxID + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// LogValue makes log/slog print the error's message, cause included:
// without it a JSON handler would marshal the error (MarshalJSON, the
// client's body) and drop the sandbox and the cause from the log line.
func (e *Error) LogValue() slog.Value { return slog.StringValue(e.Error()) }

// Unwrap returns the cause, so errors.Is(err, context.DeadlineExceeded) works.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// codeOf returns the code of err: its *Error's, or CodeInternal.
func codeOf(err error) Code {
	if e, ok := err.(*Error); ok { // the common case, without errors.As
		return e.Code
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
