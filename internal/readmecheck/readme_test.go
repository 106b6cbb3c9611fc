package readmecheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goBlocks returns the ```go blocks of a markdown text, in order.
func goBlocks(md string) []string {
	var out []string
	for {
		_, rest, ok := strings.Cut(md, "```go\n")
		if !ok {
			return out
		}
		block, after, _ := strings.Cut(rest, "```")
		out = append(out, block)
		md = after
	}
}

// TestModuleSectionsAreInTheRootReadme: the root README carries each
// module's section verbatim, so the two cannot drift.
func TestModuleSectionsAreInTheRootReadme(t *testing.T) {
	root := read(t, "README.md")
	for _, mod := range []string{"chiauth", "ginauth", "echoauth", "echo5auth", "cache"} {
		if section := read(t, mod+"/README.md"); !strings.Contains(root, strings.TrimSpace(section)) {
			t.Errorf("README.md does not contain %s/README.md verbatim", mod)
		}
	}
}

// TestSnippetsAreExamples: every line of the first Go block of each section
// is a line of that package's example_test.go, which go test runs.
func TestSnippetsAreExamples(t *testing.T) {
	root := read(t, "README.md")
	for heading, example := range map[string]string{
		"## net/http (`stdlib`)":   "stdlib/example_test.go",
		"## chi (`chiauth`)":       "chiauth/example_test.go",
		"## gin (`ginauth`)":       "ginauth/example_test.go",
		"## echo (`echoauth`)":     "echoauth/example_test.go",
		"## echo v5 (`echo5auth`)": "echo5auth/example_test.go",
	} {
		_, section, ok := strings.Cut(root, heading+"\n")
		if !ok {
			t.Errorf("README.md has no section %q", heading)
			continue
		}
		blocks := goBlocks(section)
		if len(blocks) == 0 {
			t.Errorf("%s: no Go snippet", heading)
			continue
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(read(t, example), "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		n := 0
		for _, l := range strings.Split(blocks[0], "\n") {
			if l = strings.TrimSpace(l); l != "" {
				n++
				if !lines[l] {
					t.Errorf("%s: snippet line not in %s: %s", heading, example, l)
				}
			}
		}
		if n < 8 {
			t.Errorf("%s: snippet has only %d lines", heading, n)
		}
	}
}
