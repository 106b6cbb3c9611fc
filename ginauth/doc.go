// Package ginauth is the gin adapter of sandboxauth. Middleware
// authenticates the X-Session-API-Key header with a core.Validator and
// stores the accepted sandbox in the request's context.Context, so both
// Sandbox(c) and core.SandboxFromContext(c.Request.Context()) find it.
// Its option WithSandboxParam binds a route parameter such as :sandbox_id
// to that sandbox.
//
// A rejection is answered with the shared error table (core.ResponseFor),
// byte for byte the same as the net/http adapter, recorded with c.Error so
// that gin's loggers and error middleware see it, and aborted, so the
// handlers after it never run. The error's message never holds the key.
//
// This is its own Go module: only gin users download gin.
package ginauth
