package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
	// userPassRE matches a string that starts like user:password@host (a
	// Go MySQL DSN, a URL without its scheme): never a SQLite path worth
	// guessing at, and it may hold a password. A Windows drive letter (one
	// letter before the colon) and a path (a slash before the colon) do not
	// match.
	userPassRE = regexp.MustCompile(`^[^\s/\\:@]{2,}:[^\s@]*@`)
	// pgKeywords are the keywords of a PostgreSQL key=value connection
	// string that libpq and pgx know, exactly as they are spelled (they are
	// case-sensitive: HOST=x is not a keyword).
	pgKeywords = map[string]bool{}
)

func init() {
	for _, k := range []string{
		"host", "hostaddr", "port", "dbname", "database", "user", "password", "passfile", "channel_binding",
		"connect_timeout", "client_encoding", "options", "application_name", "fallback_application_name",
		"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
		"replication", "gssencmode", "sslmode", "requiressl", "sslcompression", "sslcert", "sslkey",
		"sslcertmode", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "sslnegotiation", "requirepeer",
		"ssl_min_protocol_version", "ssl_max_protocol_version", "min_protocol_version", "max_protocol_version",
		"krbsrvname", "krbspn", "gsslib", "service", "servicefile", "require_auth",
		"target_session_attrs", "load_balance_hosts",
		// pgx's own
		"statement_cache_capacity", "description_cache_capacity", "default_query_exec_mode",
	} {
		pgKeywords[k] = true
	}
}

// keywordValue reports whether s, as a whole, is a PostgreSQL key=value
// connection string: white-space separated keyword=value pairs (white space
// around "=" allowed, values single-quoted with \' and \\ escapes or
// unquoted with \ escapes, as pgx reads them), every keyword a known one.
// started reports whether s at least starts with a known keyword and "=".
func keywordValue(s string) (ok, started bool) {
	const space = " \t\n\r\v\f"
	s = strings.TrimLeft(s, space)
	if s == "" {
		return false, false
	}
	for first := true; s != ""; first = false {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return false, !first
		}
		key := strings.Trim(s[:eq], space)
		if !pgKeywords[key] {
			return false, !first
		}
		started = true
		s = strings.TrimLeft(s[eq+1:], space)
		if strings.HasPrefix(s, "'") {
			end, closed := 1, false
			for ; end < len(s); end++ {
				if s[end] == '\\' {
					end++
					continue
				}
				if s[end] == '\'' {
					closed = true
					break
				}
			}
			if !closed {
				return false, true
			}
			s = s[end+1:]
			if s != "" && !strings.ContainsRune(space, rune(s[0])) {
				return false, true
			}
		} else {
			end := 0
			for ; end < len(s) && !strings.ContainsRune(space, rune(s[end])); end++ {
				if s[end] == '\\' {
					end++
				}
			}
			s = s[min(end, len(s)):]
		}
		s = strings.TrimLeft(s, space)
	}
	return true, true
}

// classify tells what dsn names (surrounding white space ignored). A string
// that looks like a connection string of another database, a JDBC URL, a
// URL of another scheme or user:password@host is refused rather than taken
// for a SQLite file name (which Open would create); the error never quotes
// it, since it may hold a password.
func classify(dsn string) (dsnKind, error) {
	dsn = strings.TrimSpace(dsn)
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
	lower := strings.ToLower(dsn)
	switch {
	case strings.HasPrefix(lower, "file:"):
		return dsnSQLite, nil
	case strings.HasPrefix(lower, "jdbc:"):
		return 0, errors.New("sandboxauth/store: a JDBC URL is not a Go database DSN (drop the jdbc: prefix of a PostgreSQL URL): " + acceptedForms)
	}
	// A value of a key=value string may hold "://" or "@"
	// (application_name=svc://x, password=a@b): this comes first.
	switch ok, started := keywordValue(dsn); {
	case ok:
		return dsnPostgres, nil
	case started:
		return 0, errors.New("sandboxauth/store: malformed PostgreSQL key=value connection string (unknown keyword or unterminated quote; write ./name or file:name for a SQLite file whose name starts with keyword=): " + acceptedForms)
	}
	switch {
	case strings.Contains(dsn, "://"):
		return 0, errors.New("sandboxauth/store: unsupported database URL (a scheme:// inside the string; write file:name for a SQLite file whose name holds one): " + acceptedForms)
	case userPassRE.MatchString(dsn):
		return 0, errors.New("sandboxauth/store: a user:password@host connection string is not supported (write ./name or file:name for a SQLite file whose name looks like one): " + acceptedForms)
	}
	return dsnSQLite, nil
}

// IsPostgres reports whether Open takes dsn for PostgreSQL: a postgres:// or
// postgresql:// URL (scheme in any case), or a string made entirely of
// PostgreSQL keyword=value pairs, keywords spelled exactly (lower case), such
// as "host=db port=5432 user=app password=... dbname=sandboxes". Surrounding
// white space is ignored. Everything else that Open accepts is a SQLite
// file: to name a SQLite file that would read as a connection string
// ("host=x.db"), write "./host=x.db" or "file:host=x.db". A server uses it
// to decide whether to start the change feed (Listen accepts the same
// forms).
func IsPostgres(dsn string) bool {
	k, err := classify(dsn)
	return err == nil && k == dsnPostgres
}

// shown is how an error quotes a SQLite path: never a string that could
// hold a password (an @ or a ://).
func shown(path string) string {
	if strings.Contains(path, "@") || strings.Contains(path, "://") {
		return "(path not shown: it contains @ or ://)"
	}
	return strconv.Quote(path)
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
		return fmt.Errorf("sandboxauth/store: SQLite database %s: directory %s does not exist", shown(path), shown(dir))
	case err != nil:
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // without the path
		}
		return fmt.Errorf("sandboxauth/store: SQLite database %s: directory %s: %w", shown(path), shown(dir), err)
	case !fi.IsDir():
		return fmt.Errorf("sandboxauth/store: SQLite database %s: %s is not a directory", shown(path), shown(dir))
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
			var pe *os.PathError
			if errors.As(oerr, &pe) {
				oerr = pe.Err // the path is named once, by shown
			}
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
			reason = " (cannot create a file in " + shown(filepath.Dir(path)) + ": " + cerr.Error() + ")"
		} else {
			f.Close()
			os.Remove(f.Name())
		}
	}
	return fmt.Errorf("sandboxauth/store: open SQLite database %s%s: %w", shown(path), reason, err)
}
