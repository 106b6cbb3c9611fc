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
//
// # Versions
//
// The module requires gin v1.9.1, the lowest release with no published
// advisory against it: earlier releases are affected by GO-2020-0001
// (CVE-2020-36567, GHSA-6vm3-jj99-7229; fixed in v1.6.0), GO-2021-0052
// (CVE-2020-28483, GHSA-h395-qcrw-5vmq; v1.7.7), GHSA-3vp4-m3rf-835h
// (CVE-2023-26125; v1.9.0, listed by GitHub, excluded from the Go database
// as GO-2023-1755) and GO-2023-1737 (CVE-2023-29401, GHSA-2c4m-59x9-fr2g;
// v1.9.1). CI tests the module at exactly this version
// (.ci/minversions.sh).
package ginauth
