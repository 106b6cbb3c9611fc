package store_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

// v1Schema is the schema version 1 of the previous release, word for word:
// the sandboxes table with a NOT NULL key_digest, and user_secrets, which
// belongs to sandboxd now.
var v1Schema = map[string][]string{
	"sqlite": {
		`CREATE TABLE sandboxes (
			id            TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
			owner         TEXT NOT NULL DEFAULT '',
			spec_id       TEXT NOT NULL DEFAULT '',
			status        TEXT NOT NULL CHECK (status IN ('STARTING', 'RUNNING', 'PAUSED', 'ERROR', 'MISSING')),
			status_detail TEXT NOT NULL DEFAULT '',
			created_at    TEXT NOT NULL,
			key_digest    TEXT NOT NULL CHECK (length(key_digest) = 64 AND key_digest NOT GLOB '*[^0-9a-f]*')
		)`,
		`CREATE UNIQUE INDEX sandboxes_key_digest ON sandboxes (key_digest)`,
		`CREATE INDEX sandboxes_owner ON sandboxes (owner)`,
		`CREATE TABLE user_secrets (
			user_id     TEXT NOT NULL CHECK (user_id <> ''),
			name        TEXT NOT NULL CHECK (name <> ''),
			value       TEXT NOT NULL,
			description TEXT NOT NULL DEFAULT '',
			updated_at  TEXT NOT NULL,
			PRIMARY KEY (user_id, name)
		)`,
		`CREATE TABLE sandboxauth_schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO sandboxauth_schema_version (version) VALUES (1)`,
		`INSERT INTO sandboxes VALUES ('sb-old', 'u1', '', 'RUNNING', '', '2024-01-01T00:00:00Z', '` + core.DigestHex("old-key") + `')`,
		`INSERT INTO user_secrets VALUES ('u1', 'TOKEN', 'kept', 'd', '2024-01-01T00:00:00Z')`,
	},
	"postgres": {
		`CREATE TABLE sandboxes (
			id            TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
			owner         TEXT NOT NULL DEFAULT '',
			spec_id       TEXT NOT NULL DEFAULT '',
			status        TEXT NOT NULL CHECK (status IN ('STARTING', 'RUNNING', 'PAUSED', 'ERROR', 'MISSING')),
			status_detail TEXT NOT NULL DEFAULT '',
			created_at    TIMESTAMPTZ NOT NULL,
			key_digest    TEXT NOT NULL CHECK (key_digest ~ '^[0-9a-f]{64}$')
		)`,
		`CREATE UNIQUE INDEX sandboxes_key_digest ON sandboxes (key_digest)`,
		`CREATE INDEX sandboxes_owner ON sandboxes (owner)`,
		`CREATE TABLE user_secrets (
			user_id     TEXT NOT NULL CHECK (user_id <> ''),
			name        TEXT NOT NULL CHECK (name <> ''),
			value       TEXT NOT NULL,
			description TEXT NOT NULL DEFAULT '',
			updated_at  TIMESTAMPTZ NOT NULL,
			PRIMARY KEY (user_id, name)
		)`,
		`CREATE FUNCTION sandboxauth_notify_sandbox() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP = 'TRUNCATE' THEN
				PERFORM pg_notify('` + store.NotifyChannel + `', '');
				RETURN NULL;
			END IF;
			IF TG_OP = 'DELETE' OR OLD IS DISTINCT FROM NEW THEN
				PERFORM pg_notify('` + store.NotifyChannel + `', OLD.id);
			END IF;
			IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN
				PERFORM pg_notify('` + store.NotifyChannel + `', NEW.id);
			END IF;
			RETURN NULL;
		END
		$$`,
		`CREATE TRIGGER sandboxes_notify AFTER UPDATE OR DELETE ON sandboxes
			FOR EACH ROW EXECUTE FUNCTION sandboxauth_notify_sandbox()`,
		`CREATE TRIGGER sandboxes_notify_truncate AFTER TRUNCATE ON sandboxes
			FOR EACH STATEMENT EXECUTE FUNCTION sandboxauth_notify_sandbox()`,
		`CREATE TABLE sandboxauth_schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO sandboxauth_schema_version (version) VALUES (1)`,
		`INSERT INTO sandboxes VALUES ('sb-old', 'u1', '', 'RUNNING', '', '2024-01-01T00:00:00Z', '` + core.DigestHex("old-key") + `')`,
		`INSERT INTO user_secrets VALUES ('u1', 'TOKEN', 'kept', 'd', '2024-01-01T00:00:00Z')`,
	},
}

// A database made by the previous release (schema version 1) is opened as it
// is (the schema is still version 1: nothing is migrated): its sandboxes keep
// their keys, the lifecycle works on them, and the user_secrets table that
// this package no longer owns keeps its rows.
func TestUpgradeFromVersion1(t *testing.T) {
	for name, dsn := range dsns(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn()
			var raw *sql.DB
			var err error
			if name == "postgres" {
				raw, err = sql.Open("pgx", dsn)
			} else {
				raw, err = sql.Open("sqlite", dsn)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, stmt := range v1Schema[name] {
				if _, err := raw.Exec(stmt); err != nil {
					raw.Close()
					t.Fatalf("building the version 1 database: %v\n%s", err, stmt)
				}
			}
			raw.Close()

			s := openT(t, dsn)
			ctx := testCtx(t)
			var v int
			if err := s.DB().QueryRowContext(ctx, `SELECT MAX(version) FROM sandboxauth_schema_version`).Scan(&v); err != nil || v != store.SchemaVersion {
				t.Fatalf("schema version after upgrade = %d, %v; want %d", v, err, store.SchemaVersion)
			}
			if store.SchemaVersion != 1 {
				t.Fatalf("SchemaVersion = %d: a new version needs its migration tested here", store.SchemaVersion)
			}
			got, err := s.LookupSandbox(ctx, "old-key")
			if err != nil || got.ID != "sb-old" || got.CreatedByUserID != "u1" || got.Status != core.StatusRunning {
				t.Fatalf("the old sandbox after the upgrade: %+v, %v", got, err)
			}
			if err := s.PauseSandbox(ctx, "sb-old"); err != nil {
				t.Fatalf("PauseSandbox on an upgraded database: %v", err)
			}
			if _, err := s.LookupSandbox(ctx, "old-key"); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("old key after pause: %v", err)
			}
			key, err := s.ResumeSandbox(ctx, "sb-old")
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.LookupSandbox(ctx, key); err != nil || got.ID != "sb-old" {
				t.Fatalf("new key after resume: %+v, %v", got, err)
			}
			var value string
			if err := s.DB().QueryRowContext(ctx, `SELECT value FROM user_secrets WHERE user_id = 'u1' AND name = 'TOKEN'`).Scan(&value); err != nil || value != "kept" {
				t.Fatalf("user_secrets after the upgrade: %q, %v", value, err)
			}
			// Reopening is a no-op.
			openT(t, dsn)
		})
	}
}

// A table of the application that references sandboxes(id), with or without
// ON DELETE CASCADE, keeps its rows when a previous release's database is
// opened and through the whole key lifecycle: nothing drops or rebuilds the
// sandboxes table (foreign keys are on: Open's default).
func TestOpenKeepsRowsOfReferencingTables(t *testing.T) {
	for _, action := range []string{"ON DELETE CASCADE", ""} {
		t.Run("references "+action, func(t *testing.T) {
			dsn := sqlitePath(t)
			raw, err := sql.Open("sqlite", dsn+"?_pragma=foreign_keys(1)")
			if err != nil {
				t.Fatal(err)
			}
			stmts := append([]string{}, v1Schema["sqlite"]...)
			stmts = append(stmts,
				`CREATE TABLE app_events (sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) `+action+`, what TEXT)`,
				`INSERT INTO app_events VALUES ('sb-old', 'started')`)
			for _, stmt := range stmts {
				if _, err := raw.Exec(stmt); err != nil {
					raw.Close()
					t.Fatalf("%v\n%s", err, stmt)
				}
			}
			raw.Close()
			s := openT(t, dsn)
			ctx := testCtx(t)
			count := func(when string) {
				t.Helper()
				var n int
				if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM app_events`).Scan(&n); err != nil || n != 1 {
					t.Fatalf("app_events %s: %d rows, %v; want 1", when, n, err)
				}
			}
			count("after Open")
			if err := s.PauseSandbox(ctx, "sb-old"); err != nil {
				t.Fatal(err)
			}
			count("after PauseSandbox")
			if _, err := s.ResumeSandbox(ctx, "sb-old"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RotateKey(ctx, "sb-old"); err != nil {
				t.Fatal(err)
			}
			count("after ResumeSandbox and RotateKey")
		})
	}
}

// A fresh database has no user_secrets table: it is sandboxd's.
func TestFreshSchemaHasNoSecretsTable(t *testing.T) {
	s := openT(t, sqlitePath(t))
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'user_secrets'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("user_secrets tables: %d, %v", n, err)
	}
}

// Every form of connection string Open is given: the PostgreSQL ones are
// PostgreSQL, a URL of another scheme is refused with the accepted forms
// named, and none of them leaves a file behind or a password in an error.
func TestOpenConnectionStringForms(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx := testCtx(t)
	for _, dsn := range []string{
		"mysql://u:secret-pw@127.0.0.1/db",
		"sqlite://secret-pw.db",
		"redis://:secret-pw@127.0.0.1:6379/0",
	} {
		_, err := store.Open(ctx, dsn)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "secret-pw") || !strings.Contains(err.Error(), "postgres://") || !strings.Contains(err.Error(), "key=value") {
			t.Errorf("Open(%q) = %v; want an error naming the accepted forms and not the password", dsn, err)
		}
	}
	// Key=value strings are PostgreSQL: an unreachable one fails to
	// connect, a malformed one fails to parse; neither becomes a file.
	for _, dsn := range []string{
		"host=127.0.0.1 port=1 user=u password=secret-pw dbname=d connect_timeout=2 sslmode=disable",
		"host=127.0.0.1 port=notaport password=secret-pw",
		"password='secret-pw' host=127.0.0.1 port=1 sslmode=disable connect_timeout=2",
		"postgres://u:secret-pw@127.0.0.1:notaport/db",
		// Forms whose password pgx's own redaction let through.
		"host=127.0.0.1 port=notaport password = secret-pw",
		"host=127.0.0.1 port=notaport password= secret-pw",
		"host=127.0.0.1 port=notaport sslpassword = secret-pw",
		"host=127.0.0.1 port=notaport password='a\\'secret-pw x'",
		"host=127.0.0.1 connect_timeout=x password\t=secret-pw",
		"POSTGRES://u:secret:pw@127.0.0.1:bad/db",
		"postgres://u:secret:pw@127.0.0.1:bad/db",
		"Postgresql://u:secret-pw@127.0.0.1:1/db?connect_timeout=2",
		"postgresql://u:secret-pw x@127.0.0.1:1/db",
	} {
		_, err := store.Open(ctx, dsn)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "secret-pw") || strings.Contains(err.Error(), "secret:") {
			t.Errorf("Open(%q): the error shows the password: %v", dsn, err)
		}
		if strings.Contains(strings.ToLower(err.Error()), "sqlite") {
			t.Errorf("Open(%q) was taken for SQLite: %v", dsn, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Open left files behind: %v", entries)
	}
}

// A URL whose password holds a raw @ or / (not percent-encoded) is split by
// the URL parser: the pieces after the split show up as a host or database
// name in connect errors. Open and Listen blank them too.
func TestOpenBlanksPiecesOfASplitPassword(t *testing.T) {
	ctx := testCtx(t)
	for _, dsn := range []string{
		"postgres://app:hunter@2secretPW@127.0.0.1:1/db?connect_timeout=2",
		"postgres://app:hunter@2secretPW@db.invalid/db?connect_timeout=2",
		"postgres://app:1234/secretPW@127.0.0.1:1/db?connect_timeout=2",
	} {
		_, err := store.Open(ctx, dsn)
		if err == nil || strings.Contains(err.Error(), "secretPW") {
			t.Errorf("Open(%q) = %v; want an error without the password", dsn, err)
		}
		l, err := store.Listen(ctx, dsn, newRecorder(), store.WithLogger(quietLogger()))
		if err == nil {
			l.Close()
			t.Errorf("Listen(%q) succeeded", dsn)
		} else if strings.Contains(err.Error(), "secretPW") {
			t.Errorf("Listen(%q) = %v; want an error without the password", dsn, err)
		}
	}
}

// A DSN that is not exactly one of the accepted forms (a leading space from
// an env file, a JDBC URL, user:password@host, a scheme:// further in, a
// malformed key=value string) is never taken for a SQLite path, and no
// error quotes it: none shows the password, each names the accepted forms,
// none leaves a file behind.
func TestOpenNeverShowsPasswordOfMisshapenDSN(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx := testCtx(t)
	for _, dsn := range []string{
		"jdbc:postgresql://app:hunter2@db.internal/sandboxes",
		"JDBC:postgresql://app:hunter2@db.internal/sandboxes",
		"app:hunter2@tcp(db.internal:3306)/sandboxes",
		"app:hunter2@db.internal/sandboxes",
		"db/x//mysql://app:hunter2@db.internal/sandboxes",
		"x.db mysql://app:hunter2@h/db",
		"host=db.internal password='hunter2",
		"host=db.internal Password=hunter2",
		// Keywords in another case, ADO.NET and ODBC forms, ';' between
		// pairs: refused, not a SQLite file named after the string, and
		// not a host named "db;password=hunter2" in a connect error.
		"Host=db.internal;Username=app;Password=hunter2;Database=sandboxes",
		"HOST=db.internal PASSWORD=hunter2",
		"host=db.internal;password=hunter2",
		"host=db.internal port=5432;password=hunter2",
		"Server=db.internal;Database=sandboxes;User Id=app;Password=hunter2;",
		"Data Source=db.internal;Initial Catalog=x;Pwd=hunter2",
		"sandboxes.db password=hunter2",
	} {
		_, err := store.Open(ctx, dsn)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "key=value") {
			t.Errorf("Open(%q) = %v; want an error naming the accepted forms and not the password", dsn, err)
		}
	}
	// A PostgreSQL URL with a leading space is PostgreSQL: it fails to
	// connect (port 1), never as a SQLite path.
	for _, dsn := range []string{
		" postgres://app:hunter2@127.0.0.1:1/sandboxes?connect_timeout=2",
		"postgres://app:hunter2@127.0.0.1:1/sandboxes?connect_timeout=2\n",
	} {
		_, err := store.Open(ctx, dsn)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(strings.ToLower(err.Error()), "sqlite") {
			t.Errorf("Open(%q) = %v", dsn, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Open left files behind: %v", entries)
	}
	// A SQLite path that holds an @ is not quoted in an error.
	p := filepath.Join(dir, "no-such-dir", "app:hunter2@db.sqlite")
	if _, err := store.Open(ctx, p); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Open(a SQLite path with an @ in a missing directory) = %v", err)
	}
	// ./ and file: name SQLite files whose names read otherwise.
	for _, dsn := range []string{"./host=x.db", "file:host=y.db", "./user:pw@z.db", "./password=w.db", "./Host=v.db;Password=x", filepath.Join(dir, "pwd=u.db")} {
		s := openT(t, dsn)
		if s.Dialect() != store.DialectSQLite {
			t.Errorf("Open(%q): dialect %s", dsn, s.Dialect())
		}
	}
}

// A SQLite path in a directory that does not exist is named with the reason.
func TestOpenSQLiteMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nonexistent", "dir", "x.db")
	_, err := store.Open(testCtx(t), path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Open(%q) = %v; want the path and the reason", path, err)
	}
	_, err = store.Open(testCtx(t), "file:"+path+"?_journal_mode=WAL")
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open(file: URI in a missing directory) = %v", err)
	}
	// A directory where the file should be.
	d := t.TempDir()
	_, err = store.Open(testCtx(t), d)
	if err == nil || !strings.Contains(err.Error(), d) {
		t.Fatalf("Open(a directory) = %v", err)
	}
}

// A key=value connection string opens PostgreSQL, and the store's
// connections say who they are in pg_stat_activity.
func TestOpenPostgresKeywordValue(t *testing.T) {
	u := pgtest.URL(t)
	pc, err := pgxParse(u)
	if err != nil {
		t.Fatal(err)
	}
	kv := "host=" + pc.host + " port=" + pc.port + " user=" + pc.user + " dbname=" + pc.db + " sslmode=disable"
	if !store.IsPostgres(kv) {
		t.Fatalf("IsPostgres(%q) = false", kv)
	}
	s := openT(t, kv, store.WithMaxOpenConns(3))
	if s.Dialect() != store.DialectPostgres {
		t.Fatalf("Dialect = %q", s.Dialect())
	}
	ctx := testCtx(t)
	var app string
	if err := s.DB().QueryRowContext(ctx, `SELECT current_setting('application_name')`).Scan(&app); err != nil || app != store.StoreApplicationName {
		t.Fatalf("application_name = %q, %v; want %q", app, err, store.StoreApplicationName)
	}
	info, key, err := s.CreateSandbox(ctx, store.NewSandbox{Owner: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.LookupSandbox(ctx, key); err != nil || got.ID != info.ID {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	// The change feed takes the same form.
	l, err := store.Listen(ctx, kv, newRecorder(), store.WithLogger(quietLogger()))
	if err != nil {
		t.Fatalf("Listen(key=value): %v", err)
	}
	l.Close()

	// A URL's scheme in upper case is PostgreSQL for IsPostgres, and so
	// it is for Open and Listen (pgx alone knows only lower case).
	i := strings.Index(u, "://")
	upper := strings.ToUpper(u[:i]) + u[i:]
	if !store.IsPostgres(upper) {
		t.Fatalf("IsPostgres(%s...) = false", upper[:i+3])
	}
	su := openT(t, upper)
	if got, err := su.LookupSandbox(ctx, key); err != nil || got.ID != info.ID {
		t.Fatalf("lookup through an upper-case scheme: %+v, %v", got, err)
	}
	if l, err = store.Listen(ctx, upper, newRecorder(), store.WithLogger(quietLogger())); err != nil {
		t.Fatalf("Listen(upper-case scheme): %v", err)
	}
	l.Close()
}

type pgParts struct{ host, port, user, db string }

func pgxParse(u string) (pgParts, error) {
	c, err := pgx.ParseConfig(u)
	if err != nil {
		return pgParts{}, err
	}
	return pgParts{c.Host, strconv.Itoa(int(c.Port)), c.User, c.Database}, nil
}
