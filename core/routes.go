package core

import (
	"net/http"
	"net/url"
)

// The route-level checks of docs/design.md §5. They take the accepted sandbox
// (nil when there is none) and return nil or an *Error to answer through the
// same table as every other rejection. Route binding is usually done by the
// adapters' WithSandboxParam option (Route.Bound); these functions are for
// handlers.

// CheckSandboxID enforces that the key belongs to the sandbox named by the
// route (for /api/v1/sandboxes/{sandbox_id}/...): a mismatch is 403
// "Session API key does not match sandbox". Without a sandbox it is 401
// "X-Session-API-Key header is required".
func CheckSandboxID(info *SandboxInfo, routeSandboxID string) error {
	if info == nil {
		return ErrMissingKey
	}
	if routeSandboxID == "" || info.ID != routeSandboxID {
		return &Error{Code: CodeSandboxMismatch, SandboxID: info.ID}
	}
	return nil
}

// RequireOwner returns the sandbox's owner for routes that act on the
// owner's behalf (secrets): no owner is 401 "Sandbox has no associated user".
func RequireOwner(info *SandboxInfo) (string, error) {
	if info == nil {
		return "", ErrMissingKey
	}
	if !info.HasOwner() {
		return "", &Error{Code: CodeOwnerRequired, SandboxID: info.ID}
	}
	return info.CreatedByUserID, nil
}

// CheckCaller is the dual-auth rule: a request authenticated both as a user
// (callerID, from the application's own login) and by a session key. No
// caller is 401 "Cannot determine authenticated user"; a sandbox owned by
// someone else is 403 "Session API key does not belong to the authenticated
// user".
func CheckCaller(info *SandboxInfo, callerID string) error {
	if info == nil {
		return ErrMissingKey
	}
	if callerID == "" {
		return &Error{Code: CodeUnknownCaller, SandboxID: info.ID}
	}
	if info.CreatedByUserID != callerID {
		return &Error{Code: CodeOwnerMismatch, SandboxID: info.ID}
	}
	return nil
}

// RouteParam returns a route parameter as the path names it, unescaped.
// Routers that match on r.URL.RawPath when it is set (chi, echo: a path with
// an escaped "/") hand out parameters still percent-encoded, where net/http
// and gin hand out "a/b" for "a%2Fb"; adapters pass their parameters through
// RouteParam so that every router compares the same sandbox id. A value that
// does not unescape is returned as is (and then matches no sandbox).
func RouteParam(r *http.Request, v string) string {
	if r == nil || r.URL == nil || r.URL.RawPath == "" {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}
