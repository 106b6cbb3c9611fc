// Package echoauth is the echo (v4) adapter of sandboxauth: an
// echo.MiddlewareFunc that authenticates the X-Session-API-Key header with a
// core.Validator and stores the accepted sandbox in the request's
// context.Context, so core.SandboxFromContext(c.Request().Context()) and
// Sandbox(c) both see it.
//
// A rejection is returned, the echo way, as an *echo.HTTPError: Code is the
// status of the core error table, Internal is the typed *core.Error (so
// errors.As(err, &coreErr) works in an application's HTTPErrorHandler), and
// Message renders, through echo's default HTTPErrorHandler, to exactly the
// body of the error table (docs/design.md §3). The middleware also sets Cache-Control,
// X-Content-Type-Options and (for 429 and 503) Retry-After on the response before it
// returns; Content-Type is left to the error handler, so a handler that
// answers in HTML is not forced into JSON.
//
// Echo's default handler writes the same bytes as the net/http adapter
// except when the Echo instance is in Debug mode or the request carries a
// "pretty" query parameter (echo then indents its JSON), and for HEAD
// requests (status and headers only, no Content-Type). ErrorHandler renders
// every *core.Error through the table regardless, and passes any other error
// to echo's default handler.
//
// A custom HTTPErrorHandler must write a response: echo writes nothing after
// it, so one that only logs would turn a rejection (even a 503) into an
// empty 200. Delegate what you do not render yourself to ErrorHandler.
//
// # Versions
//
// The module requires echo v4.16.6, the lowest v4 release with no published
// advisory against it (echo's policy: security fixes only in the latest
// v4 release): earlier releases are affected by GO-2021-0051
// (CVE-2020-36565, GHSA-j453-hm5x-c46w; fixed after v4.1.17), GO-2022-1031
// (CVE-2022-40083, GHSA-crxj-hrmp-4rwf; v4.9.0), GHSA-vfp3-v2gw-7wfq
// (v4.15.4), GHSA-2ffq-g2xg-c22p, GHSA-h9g5-28mm-hx3g,
// GHSA-r7w9-592q-9vg4, GHSA-v753-g4cw-jm48, GHSA-375p-5qhx-8wq4,
// GHSA-3pmx-cf9f-34xr (v4.16.0), GHSA-246p-cpwv-v3jq and
// GHSA-99jh-6h7p-pp36 (v4.16.3), GHSA-3f6j-cw5h-qw9c (v4.16.4),
// GHSA-h6x5-phvw-c55c (v4.16.5), GHSA-w5j2-g3fc-pwr6, GHSA-76qj-xf66-r429
// and GHSA-5hp7-4fcm-57f9 (v4.16.6). CI tests the module at exactly this
// version (.ci/minversions.sh).
package echoauth
