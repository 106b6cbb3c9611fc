package core

import (
	"net/http"
	"net/url"
	"path"
	"strings"
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

// RouteParam returns v, a parameter a router read from the request's path,
// unescaped exactly once, so that every router compares the same sandbox id
// (docs/design.md §5). routed is the path the router matched v in, rebuilt
// from the route's pattern and its parameter values (the adapters do this:
// chiauth, ginauth, echoauth and echo5auth each have a RouteParam), or ""
// when it cannot be rebuilt.
//
// A router that matches the escaped path (r.URL.RawPath, when a path has an
// escape such as %2F) hands out parameters still percent-encoded; one that
// matches the decoded r.URL.Path, or unescapes its parameters, hands them
// out decoded. Decoding a decoded value again would let "/sandboxes/sb%2541"
// (sandbox "sb%41") pass for sandbox "sbA"; not decoding an encoded one
// would let it pass for sandbox "sb%2541". So v is decoded only when routed
// is the escaped path. When a middleware rewrote the routing path (a
// trailing slash stripped, the path cleaned) the paths are compared cleaned;
// a value that could be either, and that decoding would change, is refused:
// RouteParam returns "", which matches no sandbox (fail closed).
func RouteParam(r *http.Request, routed, v string) string {
	if r == nil || r.URL == nil || v == "" {
		return v
	}
	if routed == "" {
		return onceOrNothing(v)
	}
	u := r.URL
	escaped := u.EscapedPath()
	switch routed {
	case u.Path: // matched on the decoded path (also when nothing is escaped)
		return v
	case escaped: // matched on the escaped path: the values are escaped
		return unescape(v)
	}
	c := path.Clean(routed)
	decoded, raw := c == path.Clean(u.Path), c == path.Clean(escaped)
	switch {
	case decoded && !raw:
		return v
	case raw && !decoded:
		return unescape(v)
	}
	return onceOrNothing(v)
}

// unescape decodes v once; a value that does not decode matches nothing.
func unescape(v string) string {
	u, err := url.PathUnescape(v)
	if err != nil {
		return ""
	}
	return u
}

// onceOrNothing returns v when decoding could not change it, else "".
func onceOrNothing(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	return ""
}
