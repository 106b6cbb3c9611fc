module github.com/sandboxauth/sandboxauth/echoauth

go 1.26.0

require (
	github.com/labstack/echo/v4 v4.16.6
	github.com/sandboxauth/sandboxauth v0.1.0
)

require (
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/patrickmn/go-cache v2.1.0+incompatible // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

// The replace directives below point at this checkout, so that the module
// builds on its own (GOWORK=off, as .ci/run does) with the requirements
// above set to a version that may not be on a module proxy yet. Go ignores
// replace directives in the go.mod of a dependency: a consumer gets the
// required versions from the proxy. scripts/release.sh sets them to each
// release (RELEASING.md).
replace github.com/sandboxauth/sandboxauth => ../
