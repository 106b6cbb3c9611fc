// Package chiauth is the go-chi/chi v5 adapter of sandboxauth.
//
// It authenticates the X-Session-API-Key header of callbacks from sandboxed
// agents with a core.Validator and stores the accepted sandbox in the
// request's context.Context, where core.SandboxFromContext and Sandbox find
// it. Both middlewares are plain func(http.Handler) http.Handler values, so
// they work with r.Use, r.With, r.Group, r.Route and mounted sub-routers:
//
//	auth, err := chiauth.Middleware(v)
//	bind, err := chiauth.MatchURLParam("sandbox_id")
//	r.Route("/api/v1/sandboxes/{sandbox_id}", func(r chi.Router) {
//		r.Use(auth, bind)
//		r.Get("/settings/secrets", secrets)
//	})
//
// Every decision is taken in package core: Middleware delegates to the
// net/http adapter (package stdlib) and MatchURLParam to
// core.CheckSandboxID; rejections are rendered through core.WriteError, so
// the status, headers and body are byte-identical to the net/http adapter.
//
// MatchURLParam reads the parameter with chi.URLParam, which chi fills in
// only once it has routed the request: mount it with r.With, or with r.Use
// inside the r.Route (or mounted router) whose pattern names the parameter.
// Mounted with r.Use on a router before routing, the parameter reads empty
// and every request is answered 403 (fail closed).
package chiauth
