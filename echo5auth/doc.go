// Package echo5auth is the echo v5 (github.com/labstack/echo/v5) adapter of
// sandboxauth: an echo.MiddlewareFunc that authenticates the
// X-Session-API-Key header with a core.Validator and stores the accepted
// sandbox in the request's context.Context, so Sandbox(c) and
// core.SandboxFromContext(c.Request().Context()) both see it. For echo v4
// use package echoauth; the two modules share nothing but core, and this
// one's dependency graph holds neither echo v4, gin nor chi.
//
// One constructor, Middleware, with three options: WithCredentialsOptional,
// WithSkipper, and WithSandboxParam, which binds the route to the sandbox
// its parameter names (403 "Session API key does not match sandbox"
// otherwise) in the same middleware. It goes wherever echo takes middleware:
// e.Use, e.Group, a route. A bound middleware reads the parameter, so mount
// it where echo has routed the request (not e.Pre: there it refuses every
// request).
//
// # Rejections
//
// A rejection is returned, the echo way, as an error for the Echo
// instance's HTTPErrorHandler: the *core.Error itself, not wrapped.
// *core.Error implements echo's HTTPStatusCoder (StatusCode) and
// json.Marshaler (the table's body), so echo v5's default HTTPErrorHandler
// answers the status and body of the core error table with Content-Type
// application/json; the middleware sets the table's other headers
// (Cache-Control: no-store, X-Content-Type-Options: nosniff, Retry-After
// for 429 and 503) before it returns. The answer is then byte-identical to
// the net/http adapter's (a test compares them), with no error handler to
// install. Exceptions: a HEAD request gets the status and headers but no
// body and so no Content-Type, and nothing is written once the response is
// committed.
//
// An application's own HTTPErrorHandler gets the typed error:
// errors.As(err, &coreErr) and errors.Is(err, core.ErrNotRunning) work, and
// echo.StatusCode(err) is the table's status. Content-Type is left to the
// error handler, so one that answers in HTML is not forced into JSON. It
// must write a response: echo writes nothing after it, so a handler that
// only logs turns every rejection (even a 503) into an empty 200. Pass what
// you do not render yourself to echo.DefaultHTTPErrorHandler(false).
//
// A handler may return a core check's error (core.RequireOwner,
// core.CheckCaller): the default handler answers it through the table as
// well. Return it through Reject to add the table's other headers, as the
// middleware does.
//
// # Route parameters
//
// echo's default router matches a path with an escaped "/" ("sb%2F1") on
// r.URL.RawPath and hands out its parameters still escaped; with
// RouterConfig.UnescapePathParamValues or UseEscapedPathForMatching it
// hands them out decoded. WithSandboxParam compares the id decoded exactly
// once under each configuration, as net/http and gin name it; RouteParam
// reads a parameter the same way, for the handler of a bound route.
//
// # Versions
//
// The module requires echo v5.4.6, the lowest release with no published
// advisory against it that the Go module proxy serves: earlier v5 releases
// are affected by GO-2026-4502 (GHSA-pgvm-wxw2-hrv9, fixed in v5.0.3),
// GHSA-vfp3-v2gw-7wfq (v5.2.1), GHSA-2ffq-g2xg-c22p, GHSA-99jh-6h7p-pp36,
// GHSA-h9g5-28mm-hx3g, GHSA-r7w9-592q-9vg4, GHSA-v753-g4cw-jm48,
// GHSA-375p-5qhx-8wq4, GHSA-3pmx-cf9f-34xr (v5.4.0), GHSA-3f6j-cw5h-qw9c
// (v5.4.5) and GHSA-h6x5-phvw-c55c (v5.4.6). None of them is in code this
// package calls (static files, proxy, redirects, JSONP, method override,
// client IP); they are raised so that no application gets an affected echo
// through this module. CI tests the module at exactly this version
// (.ci/minversions.sh). The three advisories published with echo v4.16.6
// (GHSA-w5j2-g3fc-pwr6, GHSA-76qj-xf66-r429, GHSA-5hp7-4fcm-57f9: proxy and
// static files) came after v5.4.6; should they list v5, raise the minimum
// to the first v5 release that fixes them.
package echo5auth
