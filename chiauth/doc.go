// Package chiauth is the go-chi/chi v5 adapter of sandboxauth.
//
// It authenticates the X-Session-API-Key header of callbacks from sandboxed
// agents with a core.Validator and stores the accepted sandbox in the
// request's context.Context, where Sandbox and core.SandboxFromContext find
// it. Middleware is a plain func(http.Handler) http.Handler, so it works
// with r.Use, r.With, r.Group, r.Route and mounted sub-routers:
//
//	auth, err := chiauth.Middleware(v, chiauth.WithSandboxParam("sandbox_id"))
//	r.Route("/api/v1/sandboxes/{sandbox_id}", func(r chi.Router) {
//		r.Use(auth)
//		r.Get("/settings/secrets", secrets)
//	})
//
// The adapter is the net/http adapter (package stdlib) with chi's route
// parameters: Option and ErrorHandler are stdlib's types, so
// stdlib.WithCredentialsOptional, stdlib.WithSkipper and
// stdlib.WithErrorHandler configure it as they are. Every decision is taken
// in package core and rejections are rendered through core.WriteError, so the
// status, headers and body are byte-identical to the net/http adapter.
//
// WithSandboxParam reads the parameter with RouteParam: chi.URLParam,
// unescaped exactly once whether chi matched the escaped or the decoded path
// (handlers of a bound route should read the id the same way). chi fills the
// parameter in only once it has routed the request: mount a bound middleware
// with r.With, or with r.Use inside the r.Route (or mounted router) whose
// pattern names the parameter. Mounted with r.Use on a router before
// routing, the parameter reads empty and every request is answered 403
// (fail closed).
//
// # Versions
//
// The module requires chi v5.3.0, the lowest v5 release with no published
// advisory against it: earlier releases are affected by GO-2026-5775
// (GHSA-9g5q-2w5x-hmxf) and GO-2026-5777 (GHSA-rjr7-jggh-pgcp), both
// RealIP IP spoofing in every v5 release before v5.3.0, GO-2026-5774
// (GHSA-3fxj-6jh8-hvhx; v5.2.1 to v5.2.5), GO-2025-3770
// (GHSA-vrw8-fxc6-2r93; v5.2.1) and GO-2026-4316 (GHSA-mqqf-5wvp-8fh8;
// v5.2.2 and v5.2.3). CI tests the module at exactly this version
// (.ci/minversions.sh).
package chiauth
