package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/sandboxauth/sandboxauth/core"
)

// Dialect names the SQL database behind a *SQL.
type Dialect string

// The supported dialects.
const (
	DialectSQLite   Dialect = "sqlite"   // modernc.org/sqlite, pure Go, one machine
	DialectPostgres Dialect = "postgres" // github.com/jackc/pgx/v5 through database/sql
)

// SQL is the database/sql Backend on SQLite or PostgreSQL. Sandboxes are kept
// in the table sandboxes with the SHA-256 hex digest of their key (unique
// index; after a pause, a digest that no key has: revokedDigest); the key
// itself is never sent to the database. Every write is a single statement or a single
// transaction, so it is atomic. SQL is safe for concurrent use; close it with
// Close.
type SQL struct {
	db      *sql.DB
	dialect Dialect
	q       queries
}

var _ Backend = (*SQL)(nil)

// Option configures Open.
type Option func(*config)

type config struct {
	maxOpenConns    int
	maxOpenConnsSet bool
	busyTimeout     time.Duration
}

// WithMaxOpenConns bounds the connection pool (n >= 1). Default: database/sql's
// default (unbounded) for a file database; PostgreSQL users should set it
// below the server's max_connections.
func WithMaxOpenConns(n int) Option {
	return func(c *config) { c.maxOpenConns, c.maxOpenConnsSet = n, true }
}

// WithBusyTimeout sets how long a SQLite write waits for a competing writer
// (1ms to 10min). Default 5s. Ignored on PostgreSQL.
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// Open connects to the database named by dsn and brings its schema up to
// date (idempotent; concurrent Opens of one PostgreSQL database serialize on
// an advisory lock).
//
// PostgreSQL, through pgx, is selected by a postgres:// or postgresql:// URL
// or by a key=value connection string ("host=db port=5432 user=app
// password=... dbname=sandboxes"; see IsPostgres). Its connections carry the
// application_name StoreApplicationName unless the DSN sets one.
//
// Anything else is a SQLite database: a file path (created if missing, in a
// directory that must exist) or a file: URI, optionally with
// modernc.org/sqlite query parameters. A URL of another scheme is refused,
// never taken for a file name. Unless the DSN sets them, SQLite connections
// get WAL journaling, a busy timeout, foreign keys on and immediate
// transactions. ":memory:" works (one connection, so one database) but does
// not persist.
//
// No error of Open contains the DSN's password. ctx bounds the connection
// check and the migration.
func Open(ctx context.Context, dsn string, opts ...Option) (*SQL, error) {
	cfg := config{busyTimeout: 5 * time.Second}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("sandboxauth/store: nil Option")
		}
		o(&cfg)
	}
	if cfg.maxOpenConnsSet && cfg.maxOpenConns < 1 {
		return nil, errors.New("sandboxauth/store: WithMaxOpenConns: n must be >= 1")
	}
	if cfg.busyTimeout < time.Millisecond || cfg.busyTimeout > 10*time.Minute {
		return nil, errors.New("sandboxauth/store: WithBusyTimeout: must be between 1ms and 10min")
	}
	dsn = strings.TrimSpace(dsn) // an env file's stray space or newline
	kind, err := classify(dsn)
	if err != nil {
		return nil, err
	}

	var (
		db      *sql.DB
		dialect Dialect
		path    string // the SQLite file, for errors
	)
	switch kind {
	case dsnPostgres:
		pc, err := pgConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("sandboxauth/store: %w", err)
		}
		if _, ok := pc.RuntimeParams["application_name"]; !ok {
			pc.RuntimeParams["application_name"] = StoreApplicationName
		}
		db, dialect = stdlib.OpenDB(*pc), DialectPostgres
	default:
		sdsn, memory, err := sqliteDSN(dsn, cfg.busyTimeout)
		if err != nil {
			return nil, err
		}
		if !memory {
			path = sqlitePath(dsn)
			if err := checkSQLiteDir(path); err != nil {
				return nil, err
			}
		}
		if db, err = sql.Open("sqlite", sdsn); err != nil {
			return nil, fmt.Errorf("sandboxauth/store: open SQLite: %w", err)
		}
		dialect = DialectSQLite
		if memory {
			// Each connection to :memory: is its own empty database.
			cfg.maxOpenConns = 1
			db.SetConnMaxLifetime(0)
			db.SetConnMaxIdleTime(0)
		}
	}
	if cfg.maxOpenConns > 0 {
		db.SetMaxOpenConns(cfg.maxOpenConns)
		db.SetMaxIdleConns(cfg.maxOpenConns)
	}
	s := &SQL{db: db, dialect: dialect, q: newQueries(dialect)}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if path != "" {
			return nil, sqliteOpenError(path, err)
		}
		return nil, fmt.Errorf("sandboxauth/store: connect to %s: %w", dialect, pgError(dsn, err))
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		if path != "" {
			return nil, fmt.Errorf("sandboxauth/store: SQLite database %s: %w", shown(path), err)
		}
		return nil, err
	}
	return s, nil
}

// sqliteDSN adds this package's defaults to a SQLite DSN, leaving alone any
// parameter the caller set. It reports whether the database is in memory.
func sqliteDSN(dsn string, busy time.Duration) (string, bool, error) {
	path, query, _ := strings.Cut(dsn, "?")
	if path == "" {
		return "", false, errors.New("sandboxauth/store: empty SQLite path")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", false, fmt.Errorf("sandboxauth/store: SQLite DSN parameters: %w", err)
	}
	memory := path == ":memory:" || path == "file::memory:" || q.Get("mode") == "memory"
	set := func(k, v string, aliases ...string) {
		for _, a := range append([]string{k}, aliases...) {
			if q.Has(a) {
				return
			}
		}
		for _, p := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), strings.TrimPrefix(k, "_")) {
				return
			}
		}
		q.Set(k, v)
	}
	set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10), "_timeout")
	set("_foreign_keys", "1", "_fk")
	set("_txlock", "immediate")
	if !memory {
		set("_journal_mode", "WAL", "_journal")
		set("_synchronous", "NORMAL", "_sync")
	}
	return path + "?" + q.Encode(), memory, nil
}

// DB returns the underlying pool, for health checks and for queries of your
// own. Do not close it; call Close.
func (s *SQL) DB() *sql.DB { return s.db }

// Dialect reports which database s talks to. A server uses it to decide
// between a PostgreSQL change feed (Listen) and invalidating its cache
// in-process after its own writes (SQLite is one process).
func (s *SQL) Dialect() Dialect { return s.dialect }

// Close closes the connection pool.
func (s *SQL) Close() error { return s.db.Close() }

// queries holds the statements with the dialect's placeholders.
type queries struct {
	lookup, status, insert, setStatus, del, rotate string
	pause, statusForUpdate, resume                 string
}

func newQueries(d Dialect) queries {
	r := func(q string) string { return rebind(d, q) }
	return queries{
		lookup:    r(`SELECT id, owner, spec_id, status, status_detail, created_at FROM sandboxes WHERE key_digest = ?`),
		status:    r(`SELECT status FROM sandboxes WHERE id = ?`),
		insert:    r(`INSERT INTO sandboxes (id, owner, spec_id, status, status_detail, created_at, key_digest) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		setStatus: r(`UPDATE sandboxes SET status = ?, status_detail = '' WHERE id = ?`),
		del:       r(`DELETE FROM sandboxes WHERE id = ?`),
		rotate:    r(`UPDATE sandboxes SET key_digest = ? WHERE id = ?`),
		// Pausing replaces the digest in the same statement that sets the
		// status: no lookup can find the key of a paused sandbox.
		pause:           r(`UPDATE sandboxes SET status = 'PAUSED', status_detail = '', key_digest = ? WHERE id = ?`),
		statusForUpdate: r(`SELECT status FROM sandboxes WHERE id = ?` + forUpdate(d)),
		resume:          r(`UPDATE sandboxes SET status = 'RUNNING', status_detail = '', key_digest = ? WHERE id = ?`),
	}
}

// forUpdate locks the row read by a read-then-write transaction on
// PostgreSQL. SQLite needs nothing: its transactions are BEGIN IMMEDIATE
// (see Open), which takes the database's write lock at once. (A DSN that
// sets _txlock=deferred instead makes such a transaction fail, never
// interleave, when another write lands between its read and its write.)
func forUpdate(d Dialect) string {
	if d == DialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, ... (the statements
// of this package have no ? inside literals).
func rebind(d Dialect, q string) string {
	if d != DialectPostgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// timeArg is how a timestamp is sent: PostgreSQL has timestamptz, SQLite
// keeps RFC 3339 text in UTC (which sorts and compares correctly).
func (s *SQL) timeArg(t time.Time) any {
	if s.dialect == DialectPostgres {
		return t
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// timeScanner reads either representation back.
type timeScanner struct{ t *time.Time }

func (ts timeScanner) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		*ts.t = v.UTC()
	case string:
		return ts.parse(v)
	case []byte:
		return ts.parse(string(v))
	default:
		return fmt.Errorf("sandboxauth/store: cannot read %T as a time", v)
	}
	return nil
}

func (ts timeScanner) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("sandboxauth/store: bad stored time: %w", err)
	}
	*ts.t = t.UTC()
	return nil
}

func wrap(op string, err error) error {
	return fmt.Errorf("sandboxauth/store: %s: %w", op, err)
}

// LookupSandbox implements core.Store. It queries by the SHA-256 hex digest of
// key (exact match, every user's sandboxes) and returns core.ErrNotFound when
// no sandbox has it.
func (s *SQL) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	if key == "" {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, core.ErrNotFound
	}
	var (
		info   core.SandboxInfo
		status string
	)
	err := s.db.QueryRowContext(ctx, s.q.lookup, core.DigestHex(key)).Scan(
		&info.ID, &info.CreatedByUserID, &info.SandboxSpecID, &status, &info.StatusDetail,
		timeScanner{&info.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.ErrNotFound
	}
	if err != nil {
		return nil, wrap("lookup sandbox", err)
	}
	info.Status = core.Status(status)
	return &info, nil
}

// SandboxStatus implements core.StatusStore.
func (s *SQL) SandboxStatus(ctx context.Context, sandboxID string) (core.Status, error) {
	var status string
	err := s.db.QueryRowContext(ctx, s.q.status, sandboxID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", core.ErrNotFound
	}
	if err != nil {
		return "", wrap("sandbox status", err)
	}
	return core.Status(status), nil
}

// CreateSandbox implements Backend.
func (s *SQL) CreateSandbox(ctx context.Context, n NewSandbox) (core.SandboxInfo, string, error) {
	info, key, digest, err := newSandbox(n)
	if err != nil {
		return core.SandboxInfo{}, "", err
	}
	if _, err := s.db.ExecContext(ctx, s.q.insert, info.ID, info.CreatedByUserID, info.SandboxSpecID,
		string(info.Status), info.StatusDetail, s.timeArg(info.CreatedAt), digest); err != nil {
		return core.SandboxInfo{}, "", wrap("create sandbox", err)
	}
	return info, key, nil
}

// execOne runs a write that must touch exactly one sandbox row.
func (s *SQL) execOne(ctx context.Context, op, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return core.ErrNotFound
	}
	return nil
}

// SetStatus implements Backend.
func (s *SQL) SetStatus(ctx context.Context, sandboxID string, status core.Status) error {
	if err := checkSandboxID(sandboxID); err != nil {
		return err
	}
	if err := checkStatus(status); err != nil {
		return err
	}
	return s.execOne(ctx, "set status", s.q.setStatus, string(status), sandboxID)
}

// DeleteSandbox implements Backend.
func (s *SQL) DeleteSandbox(ctx context.Context, sandboxID string) error {
	if err := checkSandboxID(sandboxID); err != nil {
		return err
	}
	return s.execOne(ctx, "delete sandbox", s.q.del, sandboxID)
}

// RotateKey implements Backend. A sandbox has one key column, so the single
// UPDATE that stores the new digest is also the one that revokes every older
// key. Rotating a paused sandbox's key gives it a key again, which is refused
// all the same while the sandbox is not RUNNING.
func (s *SQL) RotateKey(ctx context.Context, sandboxID string) (string, error) {
	if err := checkSandboxID(sandboxID); err != nil {
		return "", err
	}
	key, digest, err := newKey()
	if err != nil {
		return "", err
	}
	if err := s.execOne(ctx, "rotate key", s.q.rotate, digest, sandboxID); err != nil {
		return "", err
	}
	return key, nil
}

// PauseSandbox implements Backend: one UPDATE sets the status and replaces
// the key digest with revokedDigest(sandboxID), which no key has, so nobody
// holds a key of the paused sandbox (the column stays NOT NULL and unique;
// no schema change). Pausing a paused sandbox changes nothing.
func (s *SQL) PauseSandbox(ctx context.Context, sandboxID string) error {
	if err := checkSandboxID(sandboxID); err != nil {
		return err
	}
	return s.execOne(ctx, "pause sandbox", s.q.pause, revokedDigest(sandboxID), sandboxID)
}

// revokedDigest is the key digest of a paused sandbox: the bitwise complement
// of a SHA-256 digest of the sandbox id. It is a well-formed digest (64
// lowercase hex digits, as the schema requires), one per sandbox (unique),
// and the digest of no key: finding a key whose SHA-256 it is would be a
// preimage attack on SHA-256, since nobody knows a preimage of it (unlike the
// digest of any string that could be written down). Being a function of the
// id, it makes a second pause a no-op that notifies nothing.
func revokedDigest(sandboxID string) string {
	sum := sha256.Sum256([]byte("sandboxauth/store: revoked key of sandbox " + sandboxID))
	for i := range sum {
		sum[i] = ^sum[i]
	}
	return hex.EncodeToString(sum[:])
}

// ResumeSandbox implements Backend: one transaction reads the status (row
// locked on PostgreSQL, database write-locked on SQLite) and, unless the
// sandbox is RUNNING, sets RUNNING and the new key's digest.
func (s *SQL) ResumeSandbox(ctx context.Context, sandboxID string) (key string, err error) {
	if err := checkSandboxID(sandboxID); err != nil {
		return "", err
	}
	key, digest, err := newKey()
	if err != nil {
		return "", err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", wrap("resume sandbox", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var status string
	switch err := tx.QueryRowContext(ctx, s.q.statusForUpdate, sandboxID).Scan(&status); {
	case errors.Is(err, sql.ErrNoRows):
		return "", core.ErrNotFound
	case err != nil:
		return "", wrap("resume sandbox", err)
	case core.Status(status) == core.StatusRunning:
		return "", core.ErrAlreadyRunning
	}
	if _, err := tx.ExecContext(ctx, s.q.resume, digest, sandboxID); err != nil {
		return "", wrap("resume sandbox", err)
	}
	if err := tx.Commit(); err != nil {
		return "", wrap("resume sandbox", err)
	}
	return key, nil
}
