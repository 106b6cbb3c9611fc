package echo5auth_test

import (
	"os"
	"strings"
	"testing"
)

// TestOnlyOwnFramework fails when this module's dependency graph (its go.sum
// and go.mod) names another framework: an echo v5 user must never download
// gin, chi or echo v4.
func TestOnlyOwnFramework(t *testing.T) {
	for _, file := range []string{"go.sum", "go.mod"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []string{"github.com/gin-gonic/gin", "github.com/go-chi/chi", "github.com/labstack/echo/v4", "github.com/labstack/echo "} {
			if strings.Contains(string(b), other) {
				t.Errorf("%s names %s", file, other)
			}
		}
		if file == "go.sum" && !strings.Contains(string(b), "github.com/labstack/echo/v5 ") {
			t.Error("go.sum does not name echo v5: is this the right file?")
		}
	}
}
