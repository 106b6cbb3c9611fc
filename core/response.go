package core

import (
	"encoding/json"
	"io"
	"net/http"
)

// Response is how an error is answered over HTTP: one row of the table that
// every adapter renders through, so that no two adapters can drift
// (docs/design.md §3).
type Response struct {
	Code       Code
	Status     int    // HTTP status
	Detail     string // the "detail" text, byte for byte as docs/design.md §2-§5
	RetryAfter string // Retry-After header value, set only for 429 and 503
	Body       string // {"detail":...,"code":...} followed by a newline
}

// ContentType is the Content-Type of every error body.
const ContentType = "application/json"

// retryAfterSeconds is what a 503 advises; store outages are usually short.
const retryAfterSeconds = "1"

// tableOrder lists the codes in the order of the table in docs/design.md §3.
var tableOrder = []Code{CodeMissingKey, CodeMalformedKey, CodeInvalidKey, CodeNotRunning, CodeNoUser,
	CodeSandboxMismatch, CodeOwnerRequired, CodeUnknownCaller, CodeOwnerMismatch, CodeTooManyFailures,
	CodeUnavailable, CodeInternal}

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
	// The limiter refills a token a second at its default of 60 a minute.
	{Code: CodeTooManyFailures, Status: http.StatusTooManyRequests, Detail: "Too many failed attempts, try again later", RetryAfter: "1"},
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

// ResponseFor maps any error to its HTTP answer. Errors that are not an
// *Error of this package (and nil) get the 500 row: the answer fails closed.
func ResponseFor(err error) Response {
	if err == nil {
		return table[CodeInternal]
	}
	return responseFor(codeOf(err))
}

// SetHeaders sets the headers of an error answer on h: Content-Type,
// Cache-Control: no-store, X-Content-Type-Options: nosniff and, for 429 and
// 503, Retry-After.
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

// StatusCode returns the HTTP status of e's row of the table. Routers whose
// error handlers ask an error for its status (echo v5) answer with it.
func (e *Error) StatusCode() int { return responseFor(e.Code).Status }

// MarshalJSON returns e's row's body without its final newline,
// {"detail":...,"code":...}: an error handler that marshals the error
// (echo v5's default) sends the table's bytes.
func (e *Error) MarshalJSON() ([]byte, error) {
	b := responseFor(e.Code).Body
	return []byte(b[:len(b)-1]), nil
}
