module github.com/sandboxauth/sandboxauth/chiauth

go 1.26.0

require github.com/sandboxauth/sandboxauth v0.1.0

require github.com/go-chi/chi/v5 v5.3.0

require github.com/patrickmn/go-cache v2.1.0+incompatible // indirect

// The replace directives below point at this checkout, so that the module
// builds on its own (GOWORK=off, as .ci/run does) with the requirements
// above set to a version that may not be on a module proxy yet. Go ignores
// replace directives in the go.mod of a dependency: a consumer gets the
// required versions from the proxy. scripts/release.sh sets them to each
// release (RELEASING.md).
replace github.com/sandboxauth/sandboxauth => ../
