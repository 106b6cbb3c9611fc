package echoauth_test

import (
	"os"
	"strings"
	"testing"
)

// TestOnlyOwnFramework fails when this module's dependency graph (its go.sum
// and go.mod) names another framework: an echo user must never download gin
// or chi.
func TestOnlyOwnFramework(t *testing.T) {
	for _, file := range []string{"go.sum", "go.mod"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []string{"github.com/gin-gonic/gin", "github.com/go-chi/chi"} {
			if strings.Contains(string(b), other) {
				t.Errorf("%s names %s", file, other)
			}
		}
		if file == "go.sum" && !strings.Contains(string(b), "github.com/labstack/echo/v4 ") {
			t.Error("go.sum does not name echo: is this the right file?")
		}
	}
}
