package otelauth_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestImportsAPIOnly keeps the library light: it imports the OpenTelemetry
// API and sandboxauth's core, never the SDK (tests only) nor the store
// module.
func TestImportsAPIOnly(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"go.opentelemetry.io/otel": true, "go.opentelemetry.io/otel/attribute": true,
		"go.opentelemetry.io/otel/metric": true, "go.opentelemetry.io/otel/trace": true,
		"github.com/sandboxauth/sandboxauth/core": true,
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, ".") && !allowed[imp] {
			t.Errorf("otelauth imports %s: only the OpenTelemetry API and core are allowed", imp)
		}
	}
}
