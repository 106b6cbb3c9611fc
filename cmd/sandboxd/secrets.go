package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sandboxauth/sandboxauth/store"
)

// Users' secrets are sandboxd's own business, not the library's: the store
// keeps sandboxes and keys, and sandboxd keeps, beside them in the same
// database, the secrets it serves to the sandboxes' owners.

// secretMeta is what listing a user's secrets shows: never the value.
type secretMeta struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

var (
	// errSecretNotFound: the user has no secret of that name.
	errSecretNotFound = errors.New("secret not found")
	// errBadSecret is wrapped by every rejected argument; nothing is written.
	errBadSecret = errors.New("invalid input")
)

// Bounds of a secret, in bytes.
const (
	maxUserIDLen      = store.MaxIDLen
	maxSecretNameLen  = 255
	maxSecretValueLen = 64 << 10
	maxSecretDescLen  = 4 << 10
)

// secretsSchema creates the table user_secrets if it is missing. A database
// made by the previous release already has it, made by the store's schema
// version 1 with the same definition: IF NOT EXISTS keeps it and its rows.
var secretsSchema = map[store.Dialect]string{
	store.DialectSQLite: `CREATE TABLE IF NOT EXISTS user_secrets (
		user_id     TEXT NOT NULL CHECK (user_id <> ''),
		name        TEXT NOT NULL CHECK (name <> ''),
		value       TEXT NOT NULL,
		description TEXT NOT NULL DEFAULT '',
		updated_at  TEXT NOT NULL,
		PRIMARY KEY (user_id, name)
	)`,
	store.DialectPostgres: `CREATE TABLE IF NOT EXISTS user_secrets (
		user_id     TEXT NOT NULL CHECK (user_id <> ''),
		name        TEXT NOT NULL CHECK (name <> ''),
		value       TEXT NOT NULL,
		description TEXT NOT NULL DEFAULT '',
		updated_at  TIMESTAMPTZ NOT NULL,
		PRIMARY KEY (user_id, name)
	)`,
}

// secretStore keeps users' secrets in the table user_secrets.
type secretStore struct {
	db             *sql.DB
	set, list, get string              // the statements, with the dialect's placeholders
	timeArg        func(time.Time) any // a timestamp as the dialect keeps it
}

// openSecrets creates the secrets table if needed, on the store's database.
func openSecrets(ctx context.Context, s *store.SQL) (*secretStore, error) {
	d := s.Dialect()
	ddl, ok := secretsSchema[d]
	if !ok {
		return nil, fmt.Errorf("secrets: unsupported dialect %q", d)
	}
	if d == store.DialectPostgres {
		// Instances starting together would race on CREATE TABLE IF NOT
		// EXISTS (a unique violation in pg_type): serialize them.
		if err := pgCreateLocked(ctx, s.DB(), ddl); err != nil {
			return nil, err
		}
	} else if _, err := s.DB().ExecContext(ctx, ddl); err != nil {
		return nil, fmt.Errorf("secrets: create table: %w", err)
	}
	ss := &secretStore{db: s.DB()}
	ph := func(int) string { return "?" }
	ss.timeArg = func(t time.Time) any { return t.UTC().Format(time.RFC3339Nano) }
	if d == store.DialectPostgres {
		ph = func(n int) string { return fmt.Sprintf("$%d", n) }
		ss.timeArg = func(t time.Time) any { return t.UTC() }
	}
	ss.set = fmt.Sprintf(`INSERT INTO user_secrets (user_id, name, value, description, updated_at) VALUES (%s, %s, %s, %s, %s)
		ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value, description = excluded.description, updated_at = excluded.updated_at`,
		ph(1), ph(2), ph(3), ph(4), ph(5))
	ss.list = fmt.Sprintf(`SELECT name, description FROM user_secrets WHERE user_id = %s`, ph(1))
	ss.get = fmt.Sprintf(`SELECT value FROM user_secrets WHERE user_id = %s AND name = %s`, ph(1), ph(2))
	return ss, nil
}

// secretsLockID is the pg_advisory_xact_lock key that serializes the
// creation of the secrets table ("sbxdscrt" in ASCII).
const secretsLockID int64 = 0x7362786473637274

func pgCreateLocked(ctx context.Context, db *sql.DB, ddl string) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("secrets: create table: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, secretsLockID); err != nil {
		return fmt.Errorf("secrets: create table: %w", err)
	}
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("secrets: create table: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("secrets: create table: %w", err)
	}
	return nil
}

func badSecret(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errBadSecret}, args...)...)
}

// checkSecretText validates a text argument: at most max bytes, valid UTF-8,
// no NUL (PostgreSQL text cannot hold one) and, when strict, no control
// characters (user ids and names end up in URLs and log lines).
func checkSecretText(what, s string, required bool, max int, strict bool) error {
	switch {
	case s == "" && required:
		return badSecret("empty %s", what)
	case len(s) > max:
		return badSecret("%s longer than %d bytes", what, max)
	case !utf8.ValidString(s):
		return badSecret("%s is not valid UTF-8", what)
	case strings.IndexByte(s, 0) >= 0:
		return badSecret("%s contains a NUL byte", what)
	}
	if strict {
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				return badSecret("%s contains a control character", what)
			}
		}
	}
	return nil
}

func checkSecretRef(user, name string) error {
	if err := checkSecretText("user id", user, true, maxUserIDLen, true); err != nil {
		return err
	}
	return checkSecretText("secret name", name, true, maxSecretNameLen, true)
}

// Set creates or replaces the secret name of user.
func (s *secretStore) Set(ctx context.Context, user, name, value, description string) error {
	if err := checkSecretRef(user, name); err != nil {
		return err
	}
	if err := checkSecretText("secret value", value, false, maxSecretValueLen, false); err != nil {
		return err
	}
	if err := checkSecretText("secret description", description, false, maxSecretDescLen, false); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := s.db.ExecContext(ctx, s.set, user, name, value, description, s.timeArg(now)); err != nil {
		return fmt.Errorf("set secret: %w", err)
	}
	return nil
}

// List returns the names and descriptions (never the values) of user's
// secrets, sorted bytewise by name whatever the database's collation; an
// empty, non-nil slice when there are none.
func (s *secretStore) List(ctx context.Context, user string) ([]secretMeta, error) {
	if err := checkSecretText("user id", user, true, maxUserIDLen, true); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.list, user)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	defer rows.Close()
	out := []secretMeta{}
	for rows.Next() {
		var m secretMeta
		if err := rows.Scan(&m.Name, &m.Description); err != nil {
			return nil, fmt.Errorf("list secrets: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	slices.SortFunc(out, func(a, b secretMeta) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Get returns the value of user's secret name, or errSecretNotFound.
func (s *secretStore) Get(ctx context.Context, user, name string) (string, error) {
	if err := checkSecretRef(user, name); err != nil {
		return "", err
	}
	var v string
	err := s.db.QueryRowContext(ctx, s.get, user, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errSecretNotFound
	}
	if err != nil {
		return "", fmt.Errorf("get secret: %w", err)
	}
	return v, nil
}
