module github.com/sandboxauth/sandboxauth/otelauth

go 1.26.0

require (
	github.com/sandboxauth/sandboxauth v0.1.0
	go.opentelemetry.io/otel v1.47.0
	go.opentelemetry.io/otel/metric v1.47.0
	go.opentelemetry.io/otel/sdk v1.47.0
	go.opentelemetry.io/otel/sdk/metric v1.47.0
	go.opentelemetry.io/otel/trace v1.47.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/patrickmn/go-cache v2.1.0+incompatible // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

// The replace directive below points at this checkout, so that the module
// builds on its own (GOWORK=off, as .ci/run does) with the requirement
// above set to a version that may not be on a module proxy yet. Go ignores
// replace directives in the go.mod of a dependency: a consumer gets the
// required versions from the proxy. scripts/release.sh sets them to each
// release (RELEASING.md).
replace github.com/sandboxauth/sandboxauth => ../
