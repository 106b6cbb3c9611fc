package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// acceptedForms names the DSNs Open accepts, for its errors.
const acceptedForms = "want a SQLite file path (sandboxd.db) or file: URI, " +
	"a postgres:// or postgresql:// URL, or a PostgreSQL key=value connection string (host=... dbname=...)"

// StoreApplicationName is the application_name of the store's PostgreSQL
// connections (unless the DSN sets one), so that they can be told apart from
// the change feed's (ListenerApplicationName) in pg_stat_activity.
const StoreApplicationName = "sandboxauth-store"

// dsnKind is what a DSN names.
type dsnKind uint8

const (
	dsnSQLite dsnKind = iota
	dsnPostgres
)

var (
	// scheme matches a URL scheme followed by "//" (a Windows drive letter,
	// C:\x.db, has no "//").
	schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)
	// keywordRE matches a libpq keyword=value pair at the start of the
	// string or after white space: the connection-string form that pgx (and
	// libpq) accept beside URLs.
	keywordRE = regexp.MustCompile(`(?i)(?:^|\s)(?:` + strings.Join([]string{
		"host", "hostaddr", "port", "dbname", "user", "password", "passfile", "channel_binding",
		"connect_timeout", "client_encoding", "options", "application_name", "fallback_application_name",
		"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
		"replication", "gssencmode", "sslmode", "requiressl", "sslcompression", "sslcert", "sslkey",
		"sslpassword", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "sslnegotiation", "requirepeer",
		"ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib", "service",
		"target_session_attrs", "load_balance_hosts",
	}, "|") + `)\s*=`)
)

// classify tells what dsn names. A string that looks like a connection
// string of another database, or a URL of another scheme, is refused rather
// than taken for a SQLite file name (which Open would create).
func classify(dsn string) (dsnKind, error) {
	if dsn == "" {
		return 0, errors.New("sandboxauth/store: empty database DSN: " + acceptedForms)
	}
	if m := schemeRE.FindStringSubmatch(dsn); m != nil {
		switch strings.ToLower(m[1]) {
		case "postgres", "postgresql":
			return dsnPostgres, nil
		case "file":
			return dsnSQLite, nil
		}
		// Only the scheme is named: the rest may hold a password.
		return 0, fmt.Errorf("sandboxauth/store: unsupported database URL scheme %q: %s", truncate(m[1], 32), acceptedForms)
	}
	if keywordRE.MatchString(dsn) {
		return dsnPostgres, nil
	}
	return dsnSQLite, nil
}

// IsPostgres reports whether Open takes dsn for PostgreSQL: a postgres:// or
// postgresql:// URL, or a key=value connection string such as
// "host=db port=5432 user=app password=... dbname=sandboxes". A server uses
// it to decide whether to start the change feed (Listen accepts the same
// forms).
func IsPostgres(dsn string) bool {
	k, err := classify(dsn)
	return err == nil && k == dsnPostgres
}

// sqlitePath returns the file path of a SQLite DSN: without its query
// parameters and without a file: scheme.
func sqlitePath(dsn string) string {
	p, _, _ := strings.Cut(dsn, "?")
	if rest, ok := strings.CutPrefix(p, "file:"); ok {
		p = rest
		if rest, ok := strings.CutPrefix(p, "//"); ok { // file://host/path
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				p = rest[i:]
			}
		}
	}
	return p
}

// checkSQLiteDir fails with a clear reason when the directory that is to
// hold the database file does not exist (SQLite itself says only "unable to
// open database file").
func checkSQLiteDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("sandboxauth/store: SQLite database %q: directory %q does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("sandboxauth/store: SQLite database %q: %w", path, err)
	case !fi.IsDir():
		return fmt.Errorf("sandboxauth/store: SQLite database %q: %q is not a directory", path, dir)
	}
	return nil
}

// sqliteOpenError explains a failure to open the SQLite database at path,
// adding what the file system says where SQLite's own message is terse.
func sqliteOpenError(path string, err error) error {
	reason := ""
	if fi, serr := os.Stat(path); serr == nil {
		if fi.IsDir() {
			reason = " (it is a directory)"
		} else if f, oerr := os.OpenFile(path, os.O_RDWR, 0); oerr != nil {
			reason = " (" + oerr.Error() + ")"
		} else {
			f.Close()
		}
	} else if errors.Is(serr, os.ErrNotExist) {
		if f, cerr := os.CreateTemp(filepath.Dir(path), ".sandboxauth-probe-*"); cerr != nil {
			var pe *os.PathError
			if errors.As(cerr, &pe) {
				cerr = pe.Err
			}
			reason = " (cannot create a file in " + filepath.Dir(path) + ": " + cerr.Error() + ")"
		} else {
			f.Close()
			os.Remove(f.Name())
		}
	}
	return fmt.Errorf("sandboxauth/store: open SQLite database %q%s: %w", path, reason, err)
}
