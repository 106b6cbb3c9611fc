package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

type config struct {
	repo    string    // directory holding go.work
	version string    // canonical semantic version
	out     string    // proxy directory
	rev     string    // git revision; empty: the working tree
	time    time.Time // the .info Time
}

// repoModule is one module of the repository.
type repoModule struct {
	Path string // module path
	Rel  string // directory relative to the repository root, "." for the root
	Dir  string // absolute directory
}

// published is what build wrote for one module.
type published struct {
	Path, Version string
	Hash          string // h1: hash of the zip, as go.sum records it
}

// build writes every module of cfg.repo at cfg.version into the proxy at
// cfg.out.
func build(cfg config) ([]published, error) {
	if !semver.IsValid(cfg.version) || semver.Canonical(cfg.version) != cfg.version || semver.Build(cfg.version) != "" {
		return nil, fmt.Errorf("version %q is not a canonical semantic version like v0.1.0", cfg.version)
	}
	repo, err := filepath.Abs(cfg.repo)
	if err != nil {
		return nil, err
	}
	mods, err := modules(repo)
	if err != nil {
		return nil, err
	}
	git := isGitWorkTree(repo)
	if cfg.rev != "" && !git {
		return nil, fmt.Errorf("-rev %s: %s is not a git work tree", cfg.rev, repo)
	}
	var stage string // a copy of the files git would commit
	if git && cfg.rev == "" {
		if stage, err = os.MkdirTemp("", "modproxy-stage-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(stage)
		if err := stageWorkTree(repo, stage); err != nil {
			return nil, err
		}
	}
	var out []published
	for _, m := range mods {
		p, err := publish(cfg, repo, stage, m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// modules lists the modules of go.work in repo, the root first, skipping
// those under an internal/ directory. A nested module's path must be the
// root's path plus its directory: tags name modules by directory.
func modules(repo string) ([]repoModule, error) {
	workFile := filepath.Join(repo, "go.work")
	data, err := os.ReadFile(workFile)
	if err != nil {
		return nil, err
	}
	wf, err := modfile.ParseWork(workFile, data, nil)
	if err != nil {
		return nil, err
	}
	var mods []repoModule
	rootPath := ""
	for _, u := range wf.Use {
		dir := filepath.Clean(filepath.Join(repo, filepath.FromSlash(u.Path)))
		rel, err := filepath.Rel(repo, dir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("go.work uses %s, outside the repository", u.Path)
		}
		rel = filepath.ToSlash(rel)
		if slices.Contains(strings.Split(rel, "/"), "internal") {
			continue
		}
		gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			return nil, err
		}
		path := modfile.ModulePath(gomod)
		if path == "" {
			return nil, fmt.Errorf("%s/go.mod has no module directive", rel)
		}
		if rel == "." {
			rootPath = path
		}
		mods = append(mods, repoModule{Path: path, Rel: rel, Dir: dir})
	}
	if rootPath == "" {
		return nil, errors.New("go.work does not use the root module (.)")
	}
	for _, m := range mods {
		if m.Rel != "." && m.Path != rootPath+"/"+m.Rel {
			return nil, fmt.Errorf("module %s is in %s/: its path must be %s/%s", m.Path, m.Rel, rootPath, m.Rel)
		}
	}
	slices.SortFunc(mods, func(a, b repoModule) int {
		switch {
		case a.Rel == ".":
			return -1
		case b.Rel == ".":
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	return mods, nil
}

func isGitWorkTree(dir string) bool {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--is-inside-work-tree").Output()
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// stageWorkTree copies into stage the regular files of repo that git would
// commit: tracked files that still exist, and untracked files that
// .gitignore does not exclude.
func stageWorkTree(repo, stage string) error {
	cmd := exec.Command("git", "-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	list, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %v: %s", err, stderr.String())
	}
	for name := range strings.SplitSeq(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		src := filepath.Join(repo, filepath.FromSlash(name))
		fi, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			continue // symbolic links never go into a module zip
		}
		dst := filepath.Join(stage, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := copyFile(dst, src); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// publish writes the .zip, .mod, .info and list of one module.
func publish(cfg config, repo, stage string, m repoModule) (published, error) {
	mv := module.Version{Path: m.Path, Version: cfg.version}
	if err := module.Check(mv.Path, mv.Version); err != nil {
		return published{}, err
	}
	escPath, err := module.EscapePath(mv.Path)
	if err != nil {
		return published{}, err
	}
	escVer, err := module.EscapeVersion(mv.Version)
	if err != nil {
		return published{}, err
	}
	dir := filepath.Join(cfg.out, filepath.FromSlash(escPath), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return published{}, err
	}
	zipFile := filepath.Join(dir, escVer+".zip")
	if err := writeZip(cfg, repo, stage, m, mv, zipFile); err != nil {
		return published{}, err
	}
	if _, err := modzip.CheckZip(mv, zipFile); err != nil {
		return published{}, err
	}
	gomod, err := goModFromZip(mv, zipFile)
	if err != nil {
		return published{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, escVer+".mod"), gomod, 0o644); err != nil {
		return published{}, err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{mv.Version, cfg.time})
	if err != nil {
		return published{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, escVer+".info"), append(info, '\n'), 0o644); err != nil {
		return published{}, err
	}
	if err := addToList(filepath.Join(dir, "list"), mv.Version); err != nil {
		return published{}, err
	}
	hash, err := dirhash.HashZip(zipFile, dirhash.Hash1)
	if err != nil {
		return published{}, err
	}
	return published{Path: mv.Path, Version: mv.Version, Hash: hash}, nil
}

func writeZip(cfg config, repo, stage string, m repoModule, mv module.Version, name string) (err error) {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	switch {
	case cfg.rev != "":
		subdir := ""
		if m.Rel != "." {
			subdir = m.Rel + "/"
		}
		return modzip.CreateFromVCS(f, mv, repo, cfg.rev, subdir)
	case stage != "":
		return modzip.CreateFromDir(f, mv, filepath.Join(stage, filepath.FromSlash(m.Rel)))
	default:
		return modzip.CreateFromDir(f, mv, m.Dir)
	}
}

// goModFromZip returns the go.mod the zip holds: the .mod file a proxy
// serves must be exactly that.
func goModFromZip(mv module.Version, zipFile string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "modproxy-unzip-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := modzip.Unzip(dir, mv, zipFile); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, "go.mod"))
}

// addToList adds version to a proxy's list file, keeping it sorted.
func addToList(name, version string) error {
	var versions []string
	data, err := os.ReadFile(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, v := range strings.Fields(string(data)) {
		if v != version {
			versions = append(versions, v)
		}
	}
	versions = append(versions, version)
	semver.Sort(versions)
	return os.WriteFile(name, []byte(strings.Join(versions, "\n")+"\n"), 0o644)
}
