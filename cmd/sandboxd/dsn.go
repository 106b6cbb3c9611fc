package main

import (
	"strings"
)

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
		} else if passwordKey(val) { // host=db;password=x: pairs run together
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

// passwordKey reports whether s holds a password keyword and "=" in any
// case (Password=, PWD =): a string the store refuses (HOST=db
// PASSWORD=x, ADO.NET's Host=db;Password=x), never shown.
func passwordKey(s string) bool {
	l := strings.ToLower(s)
	for _, k := range []string{"password", "pwd"} {
		for i := strings.Index(l, k); i >= 0; {
			if rest := strings.TrimLeft(l[i+len(k):], " \t"); strings.HasPrefix(rest, "=") {
				return true
			}
			next := strings.Index(l[i+1:], k)
			if next < 0 {
				break
			}
			i += 1 + next
		}
	}
	return false
}
