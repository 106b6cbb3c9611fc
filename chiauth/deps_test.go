package chiauth_test

import (
	"os"
	"strings"
	"testing"
)

// TestOnlyChiInDependencyGraph keeps a chi user from downloading another
// framework: go.sum (the module's whole dependency graph) and go.mod may
// name chi v5, but no other web framework (nor another major of chi).
func TestOnlyChiInDependencyGraph(t *testing.T) {
	foreign := []string{"github.com/gin-gonic/gin", "github.com/labstack/echo", "github.com/go-chi/chi "}
	sawChi := false
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, f := range foreign {
				if strings.Contains(line, f) {
					t.Errorf("%s:%d names another framework: %s", name, i+1, line)
				}
			}
			if name == "go.sum" && strings.HasPrefix(line, "github.com/go-chi/chi/v5 ") {
				sawChi = true
			}
		}
	}
	if !sawChi {
		t.Error("go.sum does not list github.com/go-chi/chi/v5: is it the chiauth module's go.sum?")
	}
}
