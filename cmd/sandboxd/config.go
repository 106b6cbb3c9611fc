package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// config is sandboxd's configuration: flags, each also readable from an
// environment variable; a flag given on the command line wins.
type config struct {
	Addr       string
	Framework  string
	DB         string
	Mode       core.Mode
	CacheTTL   time.Duration
	AdminToken string
}

// frameworks are the values of --framework.
var frameworks = []string{"stdlib", "chi", "gin", "echo"}

// minAdminTokenLen keeps guessable admin tokens out.
const minAdminTokenLen = 16

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("sandboxd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var c config
	var mode, ttl string
	fs.StringVar(&c.Addr, "addr", env("SANDBOXD_ADDR", "127.0.0.1:8080"), "listen address (env SANDBOXD_ADDR)")
	fs.StringVar(&c.Framework, "framework", env("SANDBOXD_FRAMEWORK", "stdlib"), "router serving the routes: stdlib, chi, gin or echo (env SANDBOXD_FRAMEWORK)")
	fs.StringVar(&c.DB, "db", env("SANDBOXD_DB", "sandboxd.db"), "SQLite file path, or a postgres:// URL (env SANDBOXD_DB)")
	fs.StringVar(&mode, "mode", env("SANDBOXD_MODE", "oss"), "application mode: oss or saas (env SANDBOXD_MODE)")
	fs.StringVar(&ttl, "cache-ttl", env("SANDBOXD_CACHE_TTL", "2s"), "session-key cache TTL; 0 turns the cache off (env SANDBOXD_CACHE_TTL)")
	fs.StringVar(&c.AdminToken, "admin-token", env("SANDBOXD_ADMIN_TOKEN", ""), "bearer token of the admin API; generated and printed once if empty (env SANDBOXD_ADMIN_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c.Mode = core.Mode(mode)
	if !c.Mode.Valid() {
		return c, fmt.Errorf("--mode: want oss or saas, got %q", mode)
	}
	d, err := time.ParseDuration(ttl)
	if ttl == "0" {
		d, err = 0, nil
	}
	switch {
	case err != nil:
		return c, fmt.Errorf("--cache-ttl: %v", err)
	case d < 0 || d > cache.MaxTTL:
		return c, fmt.Errorf("--cache-ttl: want 0 (off) up to %v, got %v", cache.MaxTTL, d)
	}
	c.CacheTTL = d
	known := false
	for _, f := range frameworks {
		known = known || f == c.Framework
	}
	if !known {
		return c, fmt.Errorf("--framework: want one of %v, got %q", frameworks, c.Framework)
	}
	if c.Addr == "" {
		return c, errors.New("--addr: empty")
	}
	if c.DB == "" {
		return c, errors.New("--db: empty")
	}
	if c.AdminToken != "" && len(c.AdminToken) < minAdminTokenLen {
		return c, fmt.Errorf("--admin-token: at least %d characters", minAdminTokenLen)
	}
	return c, nil
}

// describeDB names the database for logs without its password.
func describeDB(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.User != nil {
		return u.Redacted()
	}
	return dsn
}
