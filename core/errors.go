package core

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// Code is a stable, machine-readable identifier of a rejection. It is sent
// as the "code" field of every error body, beside "detail".
type Code string

// The rejection codes. Their HTTP status and detail text are in the table
// returned by Responses.
const (
	CodeMissingKey      Code = "missing_session_key"        // 401, SPEC §1.2 row 1
	CodeMalformedKey    Code = "malformed_session_key"      // 401, SPEC §4 header rules
	CodeInvalidKey      Code = "invalid_session_key"        // 401, SPEC §1.2 row 2
	CodeNotRunning      Code = "sandbox_not_running"        // 401, SPEC §1.2 row 3
	CodeNoUser          Code = "sandbox_no_user"            // 401, SPEC §1.2 row 4 (saas)
	CodeSandboxMismatch Code = "sandbox_mismatch"           // 403, SPEC §1.4 route binding
	CodeOwnerRequired   Code = "sandbox_no_associated_user" // 401, SPEC §1.4 owner required
	CodeUnknownCaller   Code = "unknown_caller"             // 401, SPEC §1.4 dual auth
	CodeOwnerMismatch   Code = "owner_mismatch"             // 403, SPEC §1.4 dual auth
	CodeUnavailable     Code = "store_unavailable"          // 503, SPEC §1.3 backend failure
	CodeInternal        Code = "internal_error"             // 500, an error that is not a *Error
)

// Error is the error every check of this package returns. Match it with
// errors.Is against the sentinels below (which compares codes) or take it
// apart with errors.As. Its message never contains the session key.
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

// Unwrap returns the cause, so errors.Is(err, context.DeadlineExceeded) works.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Response is how an error is answered over HTTP: one row of the table that
// every adapter renders through, so that no two adapters can drift.
type Response struct {
	Code       Code
	Status     int    // HTTP status
	Detail     string // the "detail" text, byte for byte as SPEC §1.2-1.4
	RetryAfter string // Retry-After header value, set only for 503
	Body       string // {"detail":...,"code":...} followed by a newline
}

// ContentType is the Content-Type of every error body.
const ContentType = "application/json"

// retryAfterSeconds is what a 503 advises; store outages are usually short.
const retryAfterSeconds = "1"

var table = buildTable([]Response{
	{Code: CodeMissingKey, Status: http.StatusUnauthorized, Detail: "X-Session-API-Key header is required"},
	{Code: CodeMalformedKey, Status: http.StatusUnauthorized, Detail: "Invalid session API key"},
	{Code: CodeInvalidKey, Status: http.StatusUnauthorized, Detail: "Invalid session API key"},
	{Code: CodeNotRunning, Status: http.StatusUnauthorized, Detail: "Sandbox is not running"},
	{Code: CodeNoUser, Status: http.StatusUnauthorized, Detail: "Sandbox had no user specified"},
	{Code: CodeSandboxMismatch, Status: http.StatusForbidden, Detail: "Session API key does not match sandbox"},
	{Code: CodeOwnerRequired, Status: http.StatusUnauthorized, Detail: "Sandbox has no associated user"},
	{Code: CodeUnknownCaller, Status: http.StatusUnauthorized, Detail: "Cannot determine authenticated user"},
	{Code: CodeOwnerMismatch, Status: http.StatusForbidden, Detail: "Session API key does not belong to the authenticated user"},
	{Code: CodeUnavailable, Status: http.StatusServiceUnavailable, Detail: "Session API key could not be verified, try again later", RetryAfter: retryAfterSeconds},
	{Code: CodeInternal, Status: http.StatusInternalServerError, Detail: "Internal server error"},
})

func buildTable(rows []Response) map[Code]Response {
	m := make(map[Code]Response, len(rows))
	for _, r := range rows {
		b, err := json.Marshal(struct {
			Detail string `json:"detail"`
			Code   Code   `json:"code"`
		}{r.Detail, r.Code})
		if err != nil { // unreachable: two strings always marshal
			panic(err)
		}
		r.Body = string(b) + "\n"
		m[r.Code] = r
	}
	return m
}

func responseFor(c Code) Response {
	if r, ok := table[c]; ok {
		return r
	}
	return table[CodeInternal]
}

// Responses returns a copy of the whole error table, for documentation and tests.
func Responses() []Response {
	out := make([]Response, 0, len(table))
	for _, c := range []Code{CodeMissingKey, CodeMalformedKey, CodeInvalidKey, CodeNotRunning, CodeNoUser,
		CodeSandboxMismatch, CodeOwnerRequired, CodeUnknownCaller, CodeOwnerMismatch, CodeUnavailable, CodeInternal} {
		out = append(out, table[c])
	}
	return out
}

// ResponseFor maps any error to its HTTP answer. Errors that are not an
// *Error of this package (and nil) get the 500 row: the answer fails closed.
func ResponseFor(err error) Response {
	var e *Error
	if errors.As(err, &e) {
		return responseFor(e.Code)
	}
	return table[CodeInternal]
}

// SetHeaders sets the headers of an error answer on h: Content-Type,
// Cache-Control: no-store, X-Content-Type-Options: nosniff and, for 503,
// Retry-After.
func (r Response) SetHeaders(h http.Header) {
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.RetryAfter != "" {
		h.Set("Retry-After", r.RetryAfter)
	}
}

// WriteError answers err on w through the table: headers, status, body.
// It is the default error handler of the net/http and chi adapters.
func WriteError(w http.ResponseWriter, err error) {
	r := ResponseFor(err)
	r.SetHeaders(w.Header())
	w.WriteHeader(r.Status)
	_, _ = io.WriteString(w, r.Body)
}

// IsCode reports whether err is (or wraps) an *Error with code c.
func IsCode(err error, c Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == c
}
