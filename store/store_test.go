package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
	"github.com/sandboxauth/sandboxauth/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sqlBackend lets the suite read the SQL store's tables.
type sqlBackend struct{ *store.SQL }

func (b sqlBackend) Dump(ctx context.Context) ([]string, error) {
	vals, err := storetest.DumpTables(ctx, b.DB(), "sandboxes", "sandboxauth_schema_version")
	// Compare dumps as sets: row order is not guaranteed.
	if err == nil {
		sortStrings(vals)
	}
	return vals, err
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openT(t *testing.T, dsn string, opts ...store.Option) *store.SQL {
	t.Helper()
	s, err := store.Open(testCtx(t), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func sqlitePath(t *testing.T) string { return filepath.Join(t.TempDir(), "sandboxes.db") }

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		return sqlBackend{openT(t, sqlitePath(t))}
	})
}

func TestSQLiteInMemoryDSN(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		return sqlBackend{openT(t, ":memory:")}
	})
}

func TestPostgres(t *testing.T) {
	pgtest.ServerURL(t) // skip (or fail in CI) before creating anything
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		return sqlBackend{openT(t, pgtest.URL(t))}
	})
}

func TestDialect(t *testing.T) {
	if d := openT(t, sqlitePath(t)).Dialect(); d != store.DialectSQLite {
		t.Fatalf("Dialect = %q", d)
	}
	for dsn, want := range map[string]bool{
		"postgres://h/db": true, "postgresql://h/db": true, "POSTGRES://h/db": true,
		"host=127.0.0.1 port=5432 user=u password=p dbname=d": true,
		"dbname=d":                           true,
		"  host = h  dbname = d":             true,
		"user=u host=/var/run/postgresql":    true,
		"sandboxd.db":                        false,
		"file:x.db":                          false,
		"file:x.db?mode=memory&cache=shared": false,
		"/tmp/postgres://":                   false,
		"x.db?_journal_mode=DELETE":          false,
		"dir/hostname=x.db":                  false,
		"":                                   false,
		"mysql://u@h/db":                     false,
		// Surrounding white space (an env file's) is ignored.
		" postgres://h/db\n":                           true,
		"\thost=h dbname=d ":                           true,
		"host=h application_name=svc://x password=a@b": true,
		// A value may hold ';' and '=' as long as no keyword follows the
		// ';' (a generated password).
		"host=h password=Zq;Ab=9x dbname=d":       true,
		"host=h user=app options=-csearch_path=a": true,
		// Keywords are case-sensitive and the whole string must be
		// key=value pairs: these are not PostgreSQL (Open refuses
		// HOST=, Dbname= and host=h;password=, and takes the others for
		// SQLite files).
		"host=h;password=x":      false,
		"host=h;Database=x":      false,
		"HOST=upper.db":          false,
		"/data/backup port=2.db": false,
		"backup port=2.db":       false,
		"Dbname=x.db":            false,
		// host=x.db is a valid connection string (host x.db); ./ or file:
		// makes it a SQLite file.
		"host=x.db":      true,
		"./host=x.db":    false,
		"file:host=x.db": false,
	} {
		if got := store.IsPostgres(dsn); got != want {
			t.Errorf("IsPostgres(%q) = %v", dsn, got)
		}
	}
}

// The SQLite file (and its WAL) never holds a key, in any form the suite
// could think of; it does hold the digest, so the scan sees the data.
func TestSQLiteFileHoldsNoKey(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, filepath.Join(dir, "db.sqlite"))
	ctx := testCtx(t)
	var keys []string
	for range 5 {
		info, key, err := s.CreateSandbox(ctx, store.NewSandbox{Owner: "u"})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
		rotated, err := s.RotateKey(ctx, info.ID)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, rotated)
	}
	var all []byte
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte(core.DigestHex(keys[len(keys)-1]))) {
		t.Fatalf("the database files (%v) do not contain the last key's digest: the scan sees nothing", files)
	}
	for _, k := range keys {
		if bytes.Contains(all, []byte(k)) {
			t.Fatal("a session key is in the SQLite files")
		}
	}
}

func TestMigrationIdempotent(t *testing.T) {
	path := sqlitePath(t)
	s1 := openT(t, path)
	info, key, err := s1.CreateSandbox(testCtx(t), store.NewSandbox{Owner: "u"})
	if err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, path) // migrates again: a no-op
	got, err := s2.LookupSandbox(testCtx(t), key)
	if err != nil || got.ID != info.ID {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	var v, n int
	if err := s2.DB().QueryRow(`SELECT MAX(version), COUNT(*) FROM sandboxauth_schema_version`).Scan(&v, &n); err != nil {
		t.Fatal(err)
	}
	if v != store.SchemaVersion || n != 1 {
		t.Fatalf("schema version %d (%d rows), want %d (1 row)", v, n, store.SchemaVersion)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := sqlitePath(t)
	s := openT(t, path)
	if _, err := s.DB().Exec(`UPDATE sandboxauth_schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(testCtx(t), path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema = %v; want an error", err)
	}
}

// The CHECK constraint is the last line of defence: even a buggy writer
// cannot put anything but a lowercase hex SHA-256 in key_digest.
func TestSchemaRejectsRawKeys(t *testing.T) {
	for name, dsn := range dsns(t) {
		t.Run(name, func(t *testing.T) {
			s := openT(t, dsn())
			q := `INSERT INTO sandboxes (id, owner, spec_id, status, status_detail, created_at, key_digest) VALUES ('x', '', '', 'RUNNING', '', '2024-01-01T00:00:00Z', 'not-a-digest-but-a-raw-key-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456')`
			if _, err := s.DB().Exec(q); err == nil {
				t.Fatal("the schema accepted a key_digest that is not a SHA-256 hex digest")
			}
			q = `INSERT INTO sandboxes (id, owner, spec_id, status, status_detail, created_at, key_digest) VALUES ('x', '', '', 'running', '', '2024-01-01T00:00:00Z', '` + core.DigestHex("k") + `')`
			if _, err := s.DB().Exec(q); err == nil {
				t.Fatal("the schema accepted an unknown status")
			}
		})
	}
}

// dsns returns a DSN factory per available database.
func dsns(t *testing.T) map[string]func() string {
	m := map[string]func() string{"sqlite": func() string { return sqlitePath(t) }}
	if os.Getenv(pgtest.EnvURL) != "" {
		m["postgres"] = func() string { return pgtest.URL(t) }
	}
	return m
}

func TestPostgresConcurrentOpen(t *testing.T) {
	url := pgtest.URL(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	stores := make(chan *store.SQL, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.Open(context.Background(), url, store.WithMaxOpenConns(2))
			if err != nil {
				errs <- err
				return
			}
			stores <- s
		}()
	}
	wg.Wait()
	close(errs)
	close(stores)
	for s := range stores {
		s.Close()
	}
	for err := range errs {
		t.Fatalf("concurrent Open: %v", err)
	}
	s := openT(t, url)
	var v, rows int
	if err := s.DB().QueryRow(`SELECT MAX(version), COUNT(*) FROM sandboxauth_schema_version`).Scan(&v, &rows); err != nil {
		t.Fatal(err)
	}
	if v != store.SchemaVersion || rows != 1 {
		t.Fatalf("schema version %d in %d rows", v, rows)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	ctx := testCtx(t)
	for name, c := range map[string]struct {
		dsn  string
		opts []store.Option
	}{
		"empty dsn":          {"", nil},
		"mysql url":          {"mysql://u@h/db", nil},
		"zero max conns":     {sqlitePath(t), []store.Option{store.WithMaxOpenConns(0)}},
		"negative max conns": {sqlitePath(t), []store.Option{store.WithMaxOpenConns(-1)}},
		"zero busy timeout":  {sqlitePath(t), []store.Option{store.WithBusyTimeout(0)}},
		"huge busy timeout":  {sqlitePath(t), []store.Option{store.WithBusyTimeout(time.Hour)}},
		"nil option":         {sqlitePath(t), []store.Option{nil}},
		"bad postgres url":   {"postgres://h:notaport/db", nil},
		"bad sqlite param":   {sqlitePath(t) + "?_txlock=sometimes", nil},
	} {
		if s, err := store.Open(ctx, c.dsn, c.opts...); err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

// A PostgreSQL outage is a backend error, never ErrNotFound.
func TestPostgresUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := store.Open(ctx, "postgres://nobody:secret-password@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if errors.Is(err, core.ErrNotFound) {
		t.Fatal("an outage looks like not-found")
	}
	if strings.Contains(err.Error(), "secret-password") {
		t.Fatal("the password is in the error")
	}
}

func TestSQLiteDefaultsCanBeOverridden(t *testing.T) {
	s := openT(t, sqlitePath(t)+"?_journal_mode=DELETE")
	var mode string
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(mode, "delete") {
		t.Fatalf("journal_mode = %q, want the DSN's DELETE", mode)
	}
	s2 := openT(t, sqlitePath(t))
	if err := s2.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(mode, "wal") {
		t.Fatalf("default journal_mode = %q, want wal", mode)
	}
	var fk, busy int
	if err := s2.DB().QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v", fk, err)
	}
	if err := s2.DB().QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != 5000 {
		t.Fatalf("busy_timeout = %d, %v", busy, err)
	}
}
