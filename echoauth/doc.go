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
package echoauth
