package store

import (
	"context"
	"database/sql"
	"fmt"
)

// SchemaVersion is the schema version this package migrates databases to. It
// is recorded in the table sandboxauth_schema_version.
const SchemaVersion = 1

// NotifyChannel is the PostgreSQL NOTIFY channel on which the triggers of the
// sandboxes table announce changes. The payload is the id of the sandbox
// whose row was updated or deleted, or "" after a TRUNCATE (everything
// changed). Listen subscribes to it.
const NotifyChannel = "sandboxauth_sandbox"

// migrationLockID is the pg_advisory_xact_lock key that serializes
// migrations of one PostgreSQL database ("sndbxauth" in ASCII, truncated).
const migrationLockID int64 = 0x736e646278617574

// migrations[d][i] brings a database of dialect d from version i to i+1.
//
// Version 1 of the previous release also created the table user_secrets: it
// belongs to sandboxd now, which creates it IF NOT EXISTS, so a database of
// that release keeps its table and its rows, and this package never touches
// them.
//
// A paused sandbox keeps a key digest: PauseSandbox stores one that no key
// has (revokedDigest; docs/design.md §11), so key_digest
// stays NOT NULL and pausing needs no schema change. (A SQLite migration
// that rebuilds a table would have to run with foreign keys off, or a table
// of the application that references sandboxes(id) would lose its rows.)
var migrations = map[Dialect][][]string{
	DialectSQLite: {{
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
	}},
	DialectPostgres: {{
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
		// The change feed: any real change to a sandbox row (status, key
		// digest, owner, ...) and any delete notifies the old id at commit; a
		// changed id notifies the new one too. TRUNCATE notifies "".
		`CREATE FUNCTION sandboxauth_notify_sandbox() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP = 'TRUNCATE' THEN
				PERFORM pg_notify('` + NotifyChannel + `', '');
				RETURN NULL;
			END IF;
			IF TG_OP = 'DELETE' OR OLD IS DISTINCT FROM NEW THEN
				PERFORM pg_notify('` + NotifyChannel + `', OLD.id);
			END IF;
			IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN
				PERFORM pg_notify('` + NotifyChannel + `', NEW.id);
			END IF;
			RETURN NULL;
		END
		$$`,
		`CREATE TRIGGER sandboxes_notify AFTER UPDATE OR DELETE ON sandboxes
			FOR EACH ROW EXECUTE FUNCTION sandboxauth_notify_sandbox()`,
		`CREATE TRIGGER sandboxes_notify_truncate AFTER TRUNCATE ON sandboxes
			FOR EACH STATEMENT EXECUTE FUNCTION sandboxauth_notify_sandbox()`,
	}},
}

// migrate brings the schema to SchemaVersion in one transaction. On
// PostgreSQL the transaction first takes an advisory lock, so that servers
// starting together migrate one after the other; on SQLite the transaction is
// BEGIN IMMEDIATE, which takes the write lock at once.
func (s *SQL) migrate(ctx context.Context) (err error) {
	steps := migrations[s.dialect]
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("migrate: begin", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if s.dialect == DialectPostgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockID); err != nil {
			return wrap("migrate: lock", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS sandboxauth_schema_version (version INTEGER NOT NULL)`); err != nil {
		return wrap("migrate: version table", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM sandboxauth_schema_version`).Scan(&current); err != nil {
		return wrap("migrate: read version", err)
	}
	if current > len(steps) {
		return fmt.Errorf("sandboxauth/store: database schema version %d is newer than this library's %d", current, len(steps))
	}
	for v := current; v < len(steps); v++ {
		for _, stmt := range steps[v] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return wrap(fmt.Sprintf("migrate to version %d", v+1), err)
			}
		}
		if err := setVersion(ctx, tx, s.dialect, v+1); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap("migrate: commit", err)
	}
	return nil
}

func setVersion(ctx context.Context, tx *sql.Tx, d Dialect, v int) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM sandboxauth_schema_version`); err != nil {
		return wrap("migrate: record version", err)
	}
	if _, err := tx.ExecContext(ctx, rebind(d, `INSERT INTO sandboxauth_schema_version (version) VALUES (?)`), v); err != nil {
		return wrap("migrate: record version", err)
	}
	return nil
}
