package ginauth_test

import (
	"os"
	"strings"
	"testing"
)

// TestDependencyGraphHasNoOtherFramework fails if this module's go.sum (its
// whole dependency graph) names another web framework: a gin user must not
// download echo or chi.
func TestDependencyGraphHasNoOtherFramework(t *testing.T) {
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sum), "github.com/gin-gonic/gin ") {
		t.Fatal("go.sum does not list gin: is this the ginauth module's go.sum?")
	}
	for _, other := range []string{"github.com/labstack/echo", "github.com/go-chi/chi"} {
		if strings.Contains(string(sum), other) {
			t.Errorf("go.sum names %s", other)
		}
	}
}
