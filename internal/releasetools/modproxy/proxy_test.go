package main

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFiles creates files (path -> content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// run runs a command in dir with extra environment, failing the test on error.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// fixtureRepo is a two-module repository like this one (a root module and
// a nested one that requires it at the release version, with a replace),
// plus a tools module under internal/, an ignored file and an untracked one.
func fixtureRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	writeFiles(t, repo, map[string]string{
		"go.work":                 "go 1.24\n\nuse (\n\t.\n\t./sub\n\t./internal/tools\n)\n",
		"go.mod":                  "module example.com/lib\n\ngo 1.24\n",
		"lib.go":                  "package lib\n\n// Hello greets.\nfunc Hello() string { return \"hello from lib\" }\n",
		".gitignore":              "*.db\n",
		"state.db":                "ignored: must stay out of the zip",
		"sub/go.mod":              "module example.com/lib/sub\n\ngo 1.24\n\nrequire example.com/lib v0.1.0\n\nreplace example.com/lib => ../\n",
		"sub/sub.go":              "package sub\n\nimport \"example.com/lib\"\n\n// Greet passes lib's greeting on.\nfunc Greet() string { return lib.Hello() }\n",
		"internal/tools/go.mod":   "module example.com/lib/internal/tools\n\ngo 1.24\n",
		"internal/tools/tools.go": "package tools\n",
	})
	run(t, repo, nil, "git", "init", "-q")
	run(t, repo, nil, "git", "add", "go.work", "go.mod", "lib.go", ".gitignore", "sub", "internal")
	run(t, repo, []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid"}, "git", "commit", "-q", "-m", "fixture")
	writeFiles(t, repo, map[string]string{"extra.go": "package lib\n\n// Extra is not committed yet.\nconst Extra = 1\n"})
	return repo
}

func zipNames(t *testing.T, name string) []string {
	t.Helper()
	z, err := zip.OpenReader(name)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}

func TestBuildWorkTree(t *testing.T) {
	repo := fixtureRepo(t)
	out := t.TempDir()
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pub, err := build(config{repo: repo, version: "v0.1.0", out: out, time: when})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range pub {
		paths = append(paths, p.Path)
		if !strings.HasPrefix(p.Hash, "h1:") {
			t.Errorf("%s: hash %q", p.Path, p.Hash)
		}
	}
	if want := []string{"example.com/lib", "example.com/lib/sub"}; !slices.Equal(paths, want) {
		t.Fatalf("published %v, want %v (the internal/ module is never published)", paths, want)
	}

	v := filepath.Join(out, "example.com", "lib", "@v")
	if got, want := zipNames(t, filepath.Join(v, "v0.1.0.zip")), []string{
		"example.com/lib@v0.1.0/.gitignore",
		"example.com/lib@v0.1.0/extra.go", // untracked but not ignored: what a commit would hold
		"example.com/lib@v0.1.0/go.mod",
		"example.com/lib@v0.1.0/go.work",
		"example.com/lib@v0.1.0/lib.go",
	}; !slices.Equal(got, want) {
		t.Errorf("root zip holds\n%v\nwant\n%v\n(no state.db: ignored; no sub/ or internal/tools/: modules of their own)", got, want)
	}
	for name, want := range map[string]string{
		"list":        "v0.1.0\n",
		"v0.1.0.mod":  "module example.com/lib\n\ngo 1.24\n",
		"v0.1.0.info": `{"Version":"v0.1.0","Time":"2026-01-02T03:04:05Z"}` + "\n",
	} {
		got, err := os.ReadFile(filepath.Join(v, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	subMod, err := os.ReadFile(filepath.Join(out, "example.com", "lib", "sub", "@v", "v0.1.0.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(subMod), "require example.com/lib v0.1.0") {
		t.Errorf("sub's .mod is not its go.mod:\n%s", subMod)
	}

	// A second version joins the list, in semver order.
	if _, err := build(config{repo: repo, version: "v0.0.9", out: out, time: when}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(v, "list")); string(got) != "v0.0.9\nv0.1.0\n" {
		t.Errorf("list after a second version = %q", got)
	}
}

func TestBuildRevision(t *testing.T) {
	repo := fixtureRepo(t)
	out := t.TempDir()
	if _, err := build(config{repo: repo, version: "v0.1.0", out: out, rev: "HEAD", time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	got := zipNames(t, filepath.Join(out, "example.com", "lib", "@v", "v0.1.0.zip"))
	if slices.Contains(got, "example.com/lib@v0.1.0/extra.go") {
		t.Errorf("-rev HEAD zip holds the uncommitted extra.go: %v", got)
	}
	sub := zipNames(t, filepath.Join(out, "example.com", "lib", "sub", "@v", "v0.1.0.zip"))
	if want := []string{"example.com/lib/sub@v0.1.0/go.mod", "example.com/lib/sub@v0.1.0/sub.go"}; !slices.Equal(sub, want) {
		t.Errorf("-rev HEAD sub zip holds %v, want %v", sub, want)
	}
}

func TestBuildRefuses(t *testing.T) {
	repo := fixtureRepo(t)
	for _, v := range []string{"0.1.0", "v0.1", "v0.1.0+build"} {
		if _, err := build(config{repo: repo, version: v, out: t.TempDir()}); err == nil {
			t.Errorf("version %q accepted", v)
		}
	}
	writeFiles(t, repo, map[string]string{"sub/go.mod": "module example.com/other\n\ngo 1.24\n"})
	if _, err := build(config{repo: repo, version: "v0.1.0", out: t.TempDir()}); err == nil ||
		!strings.Contains(err.Error(), "its path must be example.com/lib/sub") {
		t.Errorf("a module whose path does not match its directory: err = %v", err)
	}
}

// TestGoCommandInstalls is the point of the proxy: the go command, with
// nothing but this proxy, downloads the nested module at the version, pulls
// the root module through its requirement (the replace directive is
// ignored, as for any dependency), and builds a program that uses both.
func TestGoCommandInstalls(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	repo := fixtureRepo(t)
	proxy := t.TempDir()
	if _, err := build(config{repo: repo, version: "v0.1.0", out: proxy, time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	consumer := t.TempDir()
	writeFiles(t, consumer, map[string]string{
		"go.mod":  "module example.com/consumer\n\ngo 1.24\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/lib/sub\"\n)\n\nfunc main() { fmt.Println(sub.Greet()) }\n",
	})
	env := []string{
		"GOWORK=off", "GOFLAGS=-mod=mod -modcacherw", "GOTOOLCHAIN=local",
		"GOPROXY=file://" + filepath.ToSlash(proxy), "GOSUMDB=off",
		"GOMODCACHE=" + t.TempDir(),
	}
	run(t, consumer, env, goBin, "get", "example.com/lib/sub@v0.1.0")
	if got := run(t, consumer, env, goBin, "run", "."); got != "hello from lib\n" {
		t.Errorf("consumer printed %q", got)
	}
	sum, err := os.ReadFile(filepath.Join(consumer, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sum), "example.com/lib v0.1.0 h1:") {
		t.Errorf("go.sum lacks the root module:\n%s", sum)
	}
}
