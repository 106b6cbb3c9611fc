// Command modproxy writes a file-system Go module proxy holding every module
// of this repository at one version, built from the working tree (or from a
// git revision), so that a consumer can be tested against a release before
// its tags exist:
//
//	go run ./modproxy -repo ../.. -version v0.1.0 -out /tmp/proxy   # from internal/releasetools
//	GOPROXY=file:///tmp/proxy,https://proxy.golang.org GONOSUMDB=github.com/sandboxauth go get github.com/sandboxauth/sandboxauth@v0.1.0
//
// The modules are those listed in the repository's go.work, except the ones
// under an internal/ directory (tooling, never released). For each module,
// the proxy holds <module>/@v/list, vX.Y.Z.info, vX.Y.Z.mod and vX.Y.Z.zip
// (the GOPROXY protocol's layout, with paths escaped as the go command
// expects). The zip is made by golang.org/x/mod/zip.CreateFromDir from the
// files git would commit (tracked, plus untracked files that .gitignore does
// not exclude), so that stray databases and binaries stay out of it as they
// would stay out of a tag; with -rev, it is made from that revision instead,
// as a public proxy would make it from the tag.
//
// It prints one line per module: path, version and the h1: hash go.sum would
// record.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.repo, "repo", ".", "repository root: the directory holding go.work")
	flag.StringVar(&cfg.version, "version", "", "version to publish every module at, like v0.1.0 (required)")
	flag.StringVar(&cfg.out, "out", "", "proxy directory to write into; created if missing (required)")
	flag.StringVar(&cfg.rev, "rev", "", "git revision to build from instead of the working tree (a tag, HEAD, ...)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: modproxy -version vX.Y.Z -out DIR [-repo DIR] [-rev REV]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if cfg.version == "" || cfg.out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	cfg.time = time.Now().UTC().Truncate(time.Second)
	mods, err := build(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
	for _, m := range mods {
		fmt.Printf("%s %s %s\n", m.Path, m.Version, m.Hash)
	}
}
