package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	// DBMaxConns is --db-max-conns: the cap on the store's connection pool
	// (limits.go).
	DBMaxConns int
	// FailureLimit is --failure-limit: failed session-key and admin-token
	// attempts per client per minute, burst of the same (limits.go); 0 = off.
	FailureLimit int
	// MetricsAddr is --metrics-addr: a second listener serving GET /metrics
	// (metrics.go); "" = off.
	MetricsAddr string
}

// frameworks are the values of --framework.
var frameworks = []string{"stdlib", "chi", "gin", "echo", "echo5"}

// minAdminTokenLen keeps guessable admin tokens out.
const minAdminTokenLen = 16

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("sandboxd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	var mode, ttl, maxConns, failureLimit string
	// Defaults shown by -h are the built-in ones: environment values are
	// applied after parsing, so a secret in the environment (the admin
	// token, a database password) is never printed in the usage text.
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address (env SANDBOXD_ADDR)")
	fs.StringVar(&c.Framework, "framework", "stdlib", "router serving the routes: stdlib, chi, gin, echo (v4) or echo5 (echo v5) (env SANDBOXD_FRAMEWORK)")
	fs.StringVar(&c.DB, "db", "sandboxd.db", "SQLite file path, or a PostgreSQL postgres:// URL or key=value connection string (env SANDBOXD_DB)")
	fs.StringVar(&mode, "mode", "oss", "application mode: oss or saas (env SANDBOXD_MODE)")
	fs.StringVar(&ttl, "cache-ttl", "2s", "session-key cache TTL; 0 turns the cache off (env SANDBOXD_CACHE_TTL)")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token of the admin API; generated and printed once if empty (env SANDBOXD_ADMIN_TOKEN)")
	fs.StringVar(&maxConns, "db-max-conns", strconv.Itoa(defaultDBMaxConns), "cap on the store's database connections (env SANDBOXD_DB_MAX_CONNS)")
	fs.StringVar(&failureLimit, "failure-limit", strconv.Itoa(defaultFailureLimit), "failed session-key and admin-token attempts allowed per client per minute, burst of the same; 0 = off (env SANDBOXD_FAILURE_LIMIT)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "a second listen address serving GET /metrics (Prometheus text format), never the public one; empty = off (env SANDBOXD_METRICS_ADDR)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set, fromEnv := map[string]bool{}, map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, dst := range map[string]*string{
		"addr": &c.Addr, "framework": &c.Framework, "db": &c.DB, "mode": &mode, "cache-ttl": &ttl, "admin-token": &c.AdminToken,
		"db-max-conns": &maxConns, "failure-limit": &failureLimit,
		"metrics-addr": &c.MetricsAddr,
	} {
		env := "SANDBOXD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v := getenv(env); v != "" && !set[name] {
			*dst = v
			fromEnv[name] = env
		}
	}
	// source names where a value came from in an error: the flag, or the
	// environment variable that set it.
	source := func(flag string) string {
		if env, ok := fromEnv[flag]; ok {
			return env
		}
		return "--" + flag
	}
	c.Mode = core.Mode(mode)
	if !c.Mode.Valid() {
		return c, fmt.Errorf("%s: want oss or saas, got %q", source("mode"), mode)
	}
	d, err := time.ParseDuration(ttl)
	if ttl == "0" {
		d, err = 0, nil
	}
	switch {
	case err != nil:
		return c, fmt.Errorf("%s: %v", source("cache-ttl"), err)
	case d < 0 || d > cache.MaxTTL:
		return c, fmt.Errorf("%s: want 0 (off) up to %v, got %v", source("cache-ttl"), cache.MaxTTL, d)
	}
	c.CacheTTL = d
	known := false
	for _, f := range frameworks {
		known = known || f == c.Framework
	}
	if !known {
		return c, fmt.Errorf("%s: want one of %v, got %q", source("framework"), frameworks, c.Framework)
	}
	if c.Addr == "" {
		return c, errors.New("--addr: empty")
	}
	if c.DB == "" {
		return c, errors.New("--db: empty")
	}
	if c.AdminToken != "" && len(c.AdminToken) < minAdminTokenLen {
		return c, fmt.Errorf("%s: at least %d characters", source("admin-token"), minAdminTokenLen)
	}
	if c.DBMaxConns, err = parseCount(source("db-max-conns"), maxConns, 1, maxDBMaxConns); err != nil {
		return c, err
	}
	if c.FailureLimit, err = parseCount(source("failure-limit"), failureLimit, 0, maxFailureLimit); err != nil {
		return c, err
	}
	if err := checkMetricsAddr(c); err != nil {
		return c, err
	}
	return c, nil
}
