// Package pgtest gives tests a fresh PostgreSQL database of their own.
//
// The server to use is named by the environment variable
// SANDBOXAUTH_TEST_POSTGRES_URL (a postgres:// URL of a role allowed to
// CREATE DATABASE). When it is unset, tests that need PostgreSQL are skipped
// locally, and fail loudly in CI (CI=true), so that CI can never pass by
// silently skipping them.
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.URL(t) // a new database, dropped when the test ends
//		s, err := store.Open(ctx, url)
//		...
//	}
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable naming the test PostgreSQL server.
const EnvURL = "SANDBOXAUTH_TEST_POSTGRES_URL"

// ServerURL returns the URL from EnvURL. When it is unset it skips the test,
// or fails it when the environment variable CI is true.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u != "" {
		return u
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("pgtest: %s is not set, and CI=true: PostgreSQL tests must run in CI, not be skipped. "+
			"Start PostgreSQL (see .ci/postgres.sh) and export %s=postgres://...", EnvURL, EnvURL)
	}
	t.Skipf("pgtest: %s not set; skipping PostgreSQL test", EnvURL)
	return ""
}

// URL creates an empty database with a random name on the server of
// ServerURL and returns a URL for it. The database is dropped (with its
// connections terminated) when the test and its subtests have finished, after
// any cleanup registered later, so that stores closed in their own cleanup
// are closed first. Parallel tests and test binaries never share a database.
func URL(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s must be a postgres:// URL", EnvURL)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := "sandboxauth_test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{name}.Sanitize()
	if err := admin(base, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := admin(base, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// admin runs one statement on a short-lived connection to the server's
// database (CREATE/DROP DATABASE cannot run in a transaction or a pool).
func admin(base, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}
