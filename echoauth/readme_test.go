package echoauth_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeSnippetIsTheExample keeps README.md's code in step with Example,
// which go test compiles and runs: every line of the README's Go block must
// be a line of example_test.go.
func TestReadmeSnippetIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(example), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	_, block, ok := strings.Cut(string(readme), "```go\n")
	block, _, closed := strings.Cut(block, "```")
	if !ok || !closed {
		t.Fatal("README.md has no Go code block")
	}
	n := 0
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			n++
			if !lines[l] {
				t.Errorf("README line not in example_test.go: %s", l)
			}
		}
	}
	if n < 10 {
		t.Errorf("README Go block has %d lines; is it the example?", n)
	}
}
