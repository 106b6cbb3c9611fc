module github.com/sandboxauth/sandboxauth/ginauth

go 1.24

require (
	github.com/gin-gonic/gin v1.5.0
	github.com/sandboxauth/sandboxauth v0.1.0
)

require (
	github.com/gin-contrib/sse v0.1.0 // indirect
	github.com/go-playground/locales v0.12.1 // indirect
	github.com/go-playground/universal-translator v0.16.0 // indirect
	github.com/golang/protobuf v1.3.2 // indirect
	github.com/json-iterator/go v1.1.7 // indirect
	github.com/leodido/go-urn v1.1.0 // indirect
	github.com/mattn/go-isatty v0.0.9 // indirect
	github.com/modern-go/concurrent v0.0.0-20180228061459-e0a39a4cb421 // indirect
	github.com/modern-go/reflect2 v0.0.0-20180701023420-4b7aa43c6742 // indirect
	github.com/patrickmn/go-cache v2.1.0+incompatible // indirect
	github.com/ugorji/go/codec v1.1.7 // indirect
	golang.org/x/sys v0.0.0-20190813064441-fde4db37ae7a // indirect
	gopkg.in/go-playground/validator.v9 v9.29.1 // indirect
	gopkg.in/yaml.v2 v2.2.2 // indirect
)

// The replace directives below point at this checkout, so that the module
// builds on its own (GOWORK=off, as .ci/run does) with the requirements
// above set to a version that may not be on a module proxy yet. Go ignores
// replace directives in the go.mod of a dependency: a consumer gets the
// required versions from the proxy. scripts/release.sh sets them to each
// release (RELEASING.md).
replace github.com/sandboxauth/sandboxauth => ../
