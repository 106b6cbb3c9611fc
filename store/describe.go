package store

import (
	"net/url"
	"strings"
)

// Describe returns dsn in a form safe to log: a PostgreSQL URL without the
// password of its user info or of any *password query parameter, a
// key=value connection string with the value of every password keyword
// replaced by xxxxx, a SQLite path or file: URI as it is. A string Open
// refuses, or one that cannot be taken apart, is not shown (a placeholder
// says so) where it may hold a password.
//
// It follows how Open classifies the string, never what the string merely
// contains: a key=value string may hold "://" in a value
// (application_name=svc://x).
func Describe(dsn string) string {
	dsn = strings.TrimSpace(dsn) // as Open reads it
	lower := strings.ToLower(dsn)
	isURL := strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://")
	switch {
	case IsPostgres(dsn) && !isURL:
		return describeKeywordValue(dsn)
	case IsPostgres(dsn):
		// below
	case strings.HasPrefix(lower, "file:") && !strings.Contains(dsn, "@"):
		return dsn // a SQLite URI: no password in it
	case strings.Contains(dsn, "@") || strings.Contains(dsn, "://"):
		return "(database connection string not shown)"
	case looksKeywordValue(dsn):
		// A malformed key=value string (Open refuses it): shown only as
		// far as describeKeywordValue can take it apart, passwords hidden.
		return describeKeywordValue(dsn)
	case passwordKeyRE.MatchString(dsn) && !explicitPath(dsn):
		return "(database connection string not shown)"
	default:
		return dsn // a SQLite path
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable database URL)"
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

// describeKeywordValue shows a PostgreSQL key=value connection string
// (host=db port=5432 password='...') with the value of every key that names
// a password replaced by xxxxx. Values may be single-quoted, with \' and \\
// escapes, as libpq reads them. A string it cannot take apart is not shown.
func describeKeywordValue(dsn string) string {
	var out []string
	s := dsn
	for {
		s = strings.TrimLeft(s, " \t\n\r\f\v")
		if s == "" {
			break
		}
		key, rest, ok := strings.Cut(s, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t\n\r\f\v'\\") {
			return "(unparseable PostgreSQL connection string)"
		}
		rest = strings.TrimLeft(rest, " \t\n\r\f\v")
		var val string
		if strings.HasPrefix(rest, "'") {
			var b strings.Builder
			i, closed := 1, false
			for ; i < len(rest); i++ {
				c := rest[i]
				if c == '\\' && i+1 < len(rest) {
					i++
					b.WriteByte(rest[i])
					continue
				}
				if c == '\'' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return "(unparseable PostgreSQL connection string)"
			}
			val, s = b.String(), rest[i:]
		} else {
			end := strings.IndexAny(rest, " \t\n\r\f\v")
			if end < 0 {
				end = len(rest)
			}
			val, s = rest[:end], rest[end:]
		}
		if strings.Contains(strings.ToLower(key), "password") {
			val = "xxxxx"
		} else if passwordKeyRE.MatchString(val) { // host=db;password=x: pairs run together
			return "(unparseable PostgreSQL connection string)"
		}
		if val == "" || strings.ContainsAny(val, " '\\") {
			val = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(val) + "'"
		}
		out = append(out, key+"="+val)
	}
	return strings.Join(out, " ")
}

// looksKeywordValue reports whether s starts like a key=value connection
// string: a word of lower-case letters and underscores, then "=".
func looksKeywordValue(s string) bool {
	key, _, ok := strings.Cut(strings.TrimLeft(s, " \t\n\r\f\v"), "=")
	key = strings.TrimRight(key, " \t\n\r\f\v")
	if !ok || key == "" {
		return false
	}
	for _, c := range key {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}
