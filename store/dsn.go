package store

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	// semicolonPairRE matches "; word=" inside an unquoted value (see
	// semicolonPair).
	semicolonPairRE = regexp.MustCompile(`;\s*([A-Za-z_][A-Za-z_ ]*?)\s*=`)
	// foreignKeyRE matches the first keyword of a connection string of
	// another form (ADO.NET, ODBC, JDBC properties): never a SQLite path
	// worth guessing at.
	foreignKeyRE = regexp.MustCompile(`(?i)^\s*(server|data source|datasource|uid|user id|userid|username|pwd|initial catalog|integrated security|trusted_connection|driver|provider|dsn)\s*=`)
	// passwordKeyRE matches a password keyword with its "=" anywhere, in
	// any case.
	passwordKeyRE = regexp.MustCompile(`(?i)(password|pwd)\s*=`)
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

// semicolonPair reports whether the unquoted value v holds "; keyword="
// with a keyword of PostgreSQL or of another connection string form, in
// any case: pairs separated ADO.NET-style, host=db;password=x, which pgx
// would read as one host named "db;password=x" (and print in a connect
// error). A password such as Zq;Ab=9x is not one.
func semicolonPair(v string) bool {
	for _, m := range semicolonPairRE.FindAllStringSubmatch(v, -1) {
		w := strings.ToLower(m[1])
		if pgKeywords[w] || foreignKeyRE.MatchString(w+"=") {
			return true
		}
	}
	return false
}

// keywordValue reports whether s, as a whole, is a PostgreSQL key=value
// connection string: white-space separated keyword=value pairs (white space
// around "=" allowed, values single-quoted with \' and \\ escapes or
// unquoted with \ escapes, as pgx reads them), every keyword a known one,
// spelled exactly. When s starts like one but is not, problem says why,
// without quoting any value (it may be a password): a keyword in the wrong
// case, pairs separated by ';', an unknown keyword, an unterminated quote.
func keywordValue(s string) (ok bool, problem string) {
	const space = " \t\n\r\v\f"
	s = strings.TrimLeft(s, space)
	if s == "" {
		return false, ""
	}
	for first := true; s != ""; first = false {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			if first {
				return false, ""
			}
			return false, "text without keyword=value after the last pair"
		}
		key := strings.Trim(s[:eq], space)
		if !pgKeywords[key] {
			switch {
			case pgKeywords[strings.ToLower(key)]:
				return false, fmt.Sprintf("keyword %q must be written in lower case, %q", key, strings.ToLower(key))
			case first:
				return false, ""
			}
			return false, "unknown keyword"
		}
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
				return false, "unterminated quote"
			}
			s = s[end+1:]
			if s != "" && !strings.ContainsRune(space, rune(s[0])) {
				return false, "text right after a quoted value"
			}
		} else {
			end := 0
			for ; end < len(s) && !strings.ContainsRune(space, rune(s[end])); end++ {
				if s[end] == '\\' {
					end++
				}
			}
			end = min(end, len(s))
			if semicolonPair(s[:end]) {
				return false, "pairs are separated by white space, not ';' (quote a value that holds ';' and a keyword=)"
			}
			s = s[end:]
		}
		s = strings.TrimLeft(s, space)
	}
	return true, ""
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
	switch ok, problem := keywordValue(dsn); {
	case ok:
		return dsnPostgres, nil
	case problem != "":
		return 0, errors.New("sandboxauth/store: malformed PostgreSQL key=value connection string: " + problem +
			" (write ./name or file:name for a SQLite file whose name starts with keyword=); " + acceptedForms)
	}
	switch {
	case foreignKeyRE.MatchString(dsn) || passwordKeyRE.MatchString(dsn) && !explicitPath(dsn):
		return 0, errors.New("sandboxauth/store: not a supported connection string (an ADO.NET or ODBC form, or a password= in it; " +
			"write ./name or file:name for a SQLite file whose name reads like one): " + acceptedForms)
	case strings.Contains(dsn, "://"):
		return 0, errors.New("sandboxauth/store: unsupported database URL (a scheme:// inside the string; write file:name for a SQLite file whose name holds one): " + acceptedForms)
	case userPassRE.MatchString(dsn):
		return 0, errors.New("sandboxauth/store: a user:password@host connection string is not supported (write ./name or file:name for a SQLite file whose name looks like one): " + acceptedForms)
	}
	return dsnSQLite, nil
}

// explicitPath reports whether dsn is written as a file path (absolute, or
// relative from . or ..), which no connection string is.
func explicitPath(dsn string) bool {
	return strings.HasPrefix(dsn, "/") || strings.HasPrefix(dsn, "./") || strings.HasPrefix(dsn, "../")
}

// IsPostgres reports whether Open takes dsn for PostgreSQL: a postgres:// or
// postgresql:// URL (scheme in any case), or a string made entirely of
// PostgreSQL keyword=value pairs separated by white space, keywords spelled
// exactly (lower case), such as "host=db port=5432 user=app password=...
// dbname=sandboxes". A string that starts like one but is not (HOST=db,
// host=db;password=x) is refused by Open, never taken for a file name. Surrounding
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

// pgConfig parses a DSN that classify took for PostgreSQL, for pgx. The URL
// scheme is lower-cased (pgx knows only postgres:// and postgresql://, while
// classify accepts the scheme in any case), and the error never quotes the
// string: pgx's own redaction of passwords in its parse errors is best
// effort (password = x with spaces, a quoted value, a colon in a URL's
// password all showed through), so only its reason is kept, with every
// password the string holds blanked out.
func pgConfig(dsn string) (*pgx.ConnConfig, error) {
	dsn = strings.TrimSpace(dsn)
	if m := schemeRE.FindStringSubmatchIndex(dsn); m != nil {
		dsn = strings.ToLower(dsn[:m[3]]) + dsn[m[3]:]
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		reason := err.Error()
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) {
			c := *pe
			c.ConnString = "" // the reason alone: cannot parse ``: <reason>
			reason = strings.TrimPrefix(c.Error(), "cannot parse ``: ")
		}
		return nil, errors.New("parse PostgreSQL connection string: " + scrubSecrets(dsn, reason))
	}
	return cfg, nil
}

// pgError returns err with every password dsn holds blanked out of its
// text. An error whose text held one loses its chain (errors.Is/As), since
// the wrapped errors still hold the text; any other is returned as is.
func pgError(dsn string, err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	if clean := scrubSecrets(dsn, text); clean != text {
		return errors.New(clean)
	}
	return err
}

var (
	// secretValueRE finds the value of a password keyword (password,
	// sslpassword, any case; a URL query's too): quoted, or up to white
	// space, & or ;.
	secretValueRE = regexp.MustCompile(`(?i)(?:password|pwd)[^=\s&;]*\s*=\s*('(?:[^'\\]|\\.)*'?|[^\s&;]*)`)
)

// dsnSecrets returns the passwords dsn holds (as written, unquoted and
// URL-decoded), for blanking out of error texts: the values of password
// keywords and parameters, and a URL's userinfo after its first colon.
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(v string) {
		if v != "" {
			out = append(out, v)
		}
		if u, err := url.QueryUnescape(v); err == nil && u != v && u != "" {
			out = append(out, u)
		}
	}
	for _, m := range secretValueRE.FindAllStringSubmatch(dsn, -1) {
		v := m[1]
		add(v)
		if strings.HasPrefix(v, "'") {
			v = strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'")
			add(v)
			add(strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v))
		}
	}
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
				// A password with a raw @ or / (not percent-encoded) is
				// split by URL parsers, which end the user-info at the
				// first @ or the authority at the first /: its pieces then
				// show up as a host or a database name in errors.
				for _, piece := range strings.FieldsFunc(pw, func(r rune) bool { return strings.ContainsRune("@/?#", r) }) {
					if len(piece) >= 2 {
						add(piece)
					}
				}
			}
		}
	}
	// Longest first: a password that holds another is blanked whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// scrubSecrets blanks every password of dsn out of text.
func scrubSecrets(dsn, text string) string {
	for _, s := range dsnSecrets(dsn) {
		text = strings.ReplaceAll(text, s, "xxxxx")
	}
	return text
}
