package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

// secretDBs returns a factory of fresh store databases per available dialect.
func secretDBs(t *testing.T) map[string]func(t *testing.T) *store.SQL {
	open := func(t *testing.T, dsn string) *store.SQL {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	m := map[string]func(t *testing.T) *store.SQL{
		"sqlite": func(t *testing.T) *store.SQL { return open(t, filepath.Join(t.TempDir(), "s.db")) },
	}
	if os.Getenv(pgtest.EnvURL) != "" || os.Getenv("CI") == "true" {
		m["postgres"] = func(t *testing.T) *store.SQL { return open(t, pgtest.URL(t)) }
	}
	return m
}

func mustSecrets(t *testing.T, s *store.SQL) *secretStore {
	t.Helper()
	ss, err := openSecrets(context.Background(), s)
	if err != nil {
		t.Fatalf("openSecrets: %v", err)
	}
	return ss
}

// The secrets sandboxd serves: per user, exact names, values never listed,
// sorted bytewise, overwritten in place, bad input refused with nothing
// written.
func TestSecretStore(t *testing.T) {
	for name, newDB := range secretDBs(t) {
		t.Run(name, func(t *testing.T) {
			ss := mustSecrets(t, newDB(t))
			c := context.Background()
			got, err := ss.List(c, "u1")
			if err != nil || got == nil || len(got) != 0 {
				t.Fatalf("List(no secrets) = %#v, %v; want an empty non-nil slice", got, err)
			}
			for _, s := range []struct{ name, value, desc string }{
				{"b_token", "value-b", "the b token"},
				{"a_token", "value-a", ""},
				{"C_TOKEN", "multi\nline ünïcode value", "upper"},
				{"empty", "", "empty value is allowed"},
			} {
				if err := ss.Set(c, "u1", s.name, s.value, s.desc); err != nil {
					t.Fatalf("Set(%s): %v", s.name, err)
				}
			}
			want := []secretMeta{{"C_TOKEN", "upper"}, {"a_token", ""}, {"b_token", "the b token"}, {"empty", "empty value is allowed"}}
			if got, err = ss.List(c, "u1"); err != nil || !slices.Equal(got, want) {
				t.Fatalf("List = %#v, %v; want %#v (sorted bytewise)", got, err, want)
			}
			if v, err := ss.Get(c, "u1", "C_TOKEN"); err != nil || v != "multi\nline ünïcode value" {
				t.Fatalf("Get = %q, %v", v, err)
			}
			for _, ref := range [][2]string{{"u1", "A_TOKEN"}, {"u1", "missing"}, {"U1", "a_token"}, {"u2", "a_token"}} {
				if _, err := ss.Get(c, ref[0], ref[1]); !errors.Is(err, errSecretNotFound) {
					t.Fatalf("Get(%q, %q) = %v; want errSecretNotFound", ref[0], ref[1], err)
				}
			}
			if err := ss.Set(c, "u1", "a_token", "value-a2", "rotated"); err != nil {
				t.Fatal(err)
			}
			if v, _ := ss.Get(c, "u1", "a_token"); v != "value-a2" {
				t.Fatalf("after overwrite: %q", v)
			}
			for what, err := range map[string]error{
				"empty user":           ss.Set(c, "", "n", "v", ""),
				"empty name":           ss.Set(c, "u1", "", "v", ""),
				"control char":         ss.Set(c, "u1", "a\tb", "v", ""),
				"NUL in value":         ss.Set(c, "u1", "a_token", "x\x00y", ""),
				"value not UTF-8":      ss.Set(c, "u1", "a_token", "\xc3\x28", ""),
				"value too long":       ss.Set(c, "u1", "a_token", strings.Repeat("v", maxSecretValueLen+1), ""),
				"description too long": ss.Set(c, "u1", "a_token", "v", strings.Repeat("d", maxSecretDescLen+1)),
			} {
				if !errors.Is(err, errBadSecret) {
					t.Errorf("Set with %s = %v; want errBadSecret", what, err)
				}
			}
			if _, err := ss.List(c, ""); !errors.Is(err, errBadSecret) {
				t.Errorf("List(empty user) = %v", err)
			}
			if v, _ := ss.Get(c, "u1", "a_token"); v != "value-a2" {
				t.Fatalf("a refused Set changed the value: %q", v)
			}
			cancelled, cancel := context.WithCancel(c)
			cancel()
			if err := ss.Set(cancelled, "u1", "a_token", "changed", ""); err == nil || errors.Is(err, errBadSecret) {
				t.Errorf("Set with a cancelled context = %v", err)
			}
			if _, err := ss.Get(cancelled, "u1", "a_token"); err == nil || errors.Is(err, errSecretNotFound) {
				t.Errorf("Get with a cancelled context = %v: a failure must not look like not-found", err)
			}
		})
	}
}

// previousSecretsTable is user_secrets as the store's schema version 1
// created it in the previous release.
var previousSecretsTable = map[store.Dialect]string{
	store.DialectSQLite: `CREATE TABLE user_secrets (
			user_id     TEXT NOT NULL CHECK (user_id <> ''),
			name        TEXT NOT NULL CHECK (name <> ''),
			value       TEXT NOT NULL,
			description TEXT NOT NULL DEFAULT '',
			updated_at  TEXT NOT NULL,
			PRIMARY KEY (user_id, name)
		)`,
	store.DialectPostgres: `CREATE TABLE user_secrets (
			user_id     TEXT NOT NULL CHECK (user_id <> ''),
			name        TEXT NOT NULL CHECK (name <> ''),
			value       TEXT NOT NULL,
			description TEXT NOT NULL DEFAULT '',
			updated_at  TIMESTAMPTZ NOT NULL,
			PRIMARY KEY (user_id, name)
		)`,
}

// A database of the previous release already has user_secrets (the store
// made it): sandboxd keeps the table and its rows, and opening twice, or
// from two instances at once, is fine.
func TestSecretsTableOfPreviousRelease(t *testing.T) {
	for name, newDB := range secretDBs(t) {
		t.Run(name, func(t *testing.T) {
			s := newDB(t)
			if _, err := s.DB().Exec(previousSecretsTable[s.Dialect()]); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB().Exec(`INSERT INTO user_secrets VALUES ('u1', 'OLD', 'kept', 'from before', '2024-01-01T00:00:00Z')`); err != nil {
				t.Fatal(err)
			}
			ss := mustSecrets(t, s)
			mustSecrets(t, s)
			if v, err := ss.Get(context.Background(), "u1", "OLD"); err != nil || v != "kept" {
				t.Fatalf("the previous release's secret: %q, %v", v, err)
			}
			if list, err := ss.List(context.Background(), "u1"); err != nil || len(list) != 1 || list[0] != (secretMeta{"OLD", "from before"}) {
				t.Fatalf("List = %#v, %v", list, err)
			}
		})
	}
}

func TestSecretsTableConcurrentCreate(t *testing.T) {
	url := pgtest.URL(t)
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := store.Open(context.Background(), url, store.WithMaxOpenConns(2))
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			_, err = openSecrets(context.Background(), s)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent openSecrets: %v", err)
		}
	}
}
