package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

func TestParseConfigLimits(t *testing.T) {
	none := func(string) string { return "" }
	c, err := parseConfig(nil, none, io.Discard)
	if err != nil || c.DBMaxConns != 25 || c.FailureLimit != 60 {
		t.Fatalf("defaults: db-max-conns %d, failure-limit %d, %v; want 25, 60", c.DBMaxConns, c.FailureLimit, err)
	}
	env := map[string]string{"SANDBOXD_DB_MAX_CONNS": "7", "SANDBOXD_FAILURE_LIMIT": "0"}
	c, err = parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.DBMaxConns != 7 || c.FailureLimit != 0 {
		t.Fatalf("env: %d %d %v", c.DBMaxConns, c.FailureLimit, err)
	}
	c, err = parseConfig([]string{"--db-max-conns", "3", "--failure-limit", "10"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.DBMaxConns != 3 || c.FailureLimit != 10 {
		t.Fatalf("flags over env: %d %d %v", c.DBMaxConns, c.FailureLimit, err)
	}
	for _, args := range [][]string{
		{"--db-max-conns", "0"}, {"--db-max-conns", "-1"}, {"--db-max-conns", "lots"}, {"--db-max-conns", ""},
		{"--failure-limit", "-1"}, {"--failure-limit", "1.5"}, {"--failure-limit", "99999999999"},
	} {
		if _, err := parseConfig(args, none, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	for maxConns, want := range map[int]int{25: 20, 10: 8, 5: 4, 2: 1, 1: 1, 100: 80} {
		if got := lookupSlots(maxConns); got != want {
			t.Errorf("lookupSlots(%d) = %d, want %d", maxConns, got, want)
		}
	}
}

// An invalid value from the environment is named as the environment
// variable, one from the command line as the flag; neither shows a secret.
func TestConfigErrorsNameTheirSource(t *testing.T) {
	for _, c := range []struct{ flag, env, value string }{
		{"framework", "SANDBOXD_FRAMEWORK", "fiber"},
		{"mode", "SANDBOXD_MODE", "SaaS"},
		{"cache-ttl", "SANDBOXD_CACHE_TTL", "soon"},
		{"cache-ttl", "SANDBOXD_CACHE_TTL", "3h"},
		{"db-max-conns", "SANDBOXD_DB_MAX_CONNS", "0"},
		{"failure-limit", "SANDBOXD_FAILURE_LIMIT", "-5"},
		{"admin-token", "SANDBOXD_ADMIN_TOKEN", "short-secret"},
	} {
		_, err := parseConfig(nil, func(k string) string {
			if k == c.env {
				return c.value
			}
			return ""
		}, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), c.env+":") || strings.Contains(err.Error(), "--"+c.flag) {
			t.Errorf("%s=%s: error %v; want it to name %s", c.env, c.value, err, c.env)
		}
		_, err = parseConfig([]string{"--" + c.flag, c.value}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "--"+c.flag+":") {
			t.Errorf("--%s %s: error %v; want it to name --%s", c.flag, c.value, err, c.flag)
		}
		if err != nil && c.flag == "admin-token" && strings.Contains(err.Error(), c.value) {
			t.Errorf("the admin token is in the error: %v", err)
		}
	}
	// A flag given on the command line wins over a bad environment value.
	if _, err := parseConfig([]string{"--framework", "chi"}, func(k string) string {
		if k == "SANDBOXD_FRAMEWORK" {
			return "fiber"
		}
		return ""
	}, io.Discard); err != nil {
		t.Errorf("flag over a bad env value: %v", err)
	}
}

func TestDescribeDB(t *testing.T) {
	for dsn, want := range map[string]string{
		"sandboxd.db":                                                            "sandboxd.db",
		"file:x.db?_journal_mode=WAL":                                            "file:x.db?_journal_mode=WAL",
		"postgres://u:secret@127.0.0.1/db":                                       "postgres://u:xxxxx@127.0.0.1/db",
		"host=127.0.0.1 port=5432 user=u password=secret dbname=d":               "host=127.0.0.1 port=5432 user=u password=xxxxx dbname=d",
		"host=h password='sec ret' dbname=d":                                     "host=h password=xxxxx dbname=d",
		`password='it\'s secret' host=h`:                                         "password=xxxxx host=h",
		"host = h  sslpassword = secret sslmode=verify-full":                     "host=h sslpassword=xxxxx sslmode=verify-full",
		"host=h password='unterminated secret":                                   "(unparseable PostgreSQL connection string)",
		"postgres://u:secret@h:notaport/db":                                      "(unparseable database URL)",
		"postgresql://u@h/db?sslpassword=secret&password=secret&sslmode=require": "",
		"host=h application_name='my app'":                                       "host=h application_name='my app'",
		// A value holding "://" does not make a key=value string a URL.
		"sslrootcert=/etc/ssl/root.crt host=db user=app password=secret application_name=svc://x": "sslrootcert=/etc/ssl/root.crt host=db user=app password=xxxxx application_name=svc://x",
		"host=/var/run/postgresql password=a/b://c-secret dbname=x":                               "host=/var/run/postgresql password=xxxxx dbname=x",
		" host=h password=secret\n": "host=h password=xxxxx",
		// Strings the store refuses are not shown where they may hold one.
		"jdbc:postgresql://u:secret@h/db":   "(database connection string not shown)",
		"u:secret@tcp(h:3306)/db":           "(database connection string not shown)",
		"mysql://u:secret@h/db":             "(database connection string not shown)",
		"host=h Password=secret":            "",
		" postgres://u:secret@127.0.0.1/db": "postgres://u:xxxxx@127.0.0.1/db",
		"./host=x.db":                       "./host=x.db",
		// Connection strings of other forms, refused by the store.
		"Host=db;Username=app;Password=secret;Database=sandboxes": "(database connection string not shown)",
		"HOST=db PASSWORD=secret":                                 "(database connection string not shown)",
		"Server=db;Pwd =secret":                                   "(database connection string not shown)",
		"host=db;password=secret":                                 "",
	} {
		got := store.Describe(dsn)
		if strings.Contains(got, "secret") || (want != "" && got != want) {
			t.Errorf("Describe(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// --db forms end to end: a key=value string is PostgreSQL (with the change
// feed), another scheme is refused, and no string of either kind becomes a
// SQLite file or shows its password.
func TestDBConnectionStringForms(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dsn := range []string{
		"host=127.0.0.1 port=1 user=u password=secret-pw dbname=d connect_timeout=2 sslmode=disable",
		"mysql://u:secret-pw@127.0.0.1/db",
		"user=u password=secret-pw",
		// Other forms and cases: refused, never a file named after them.
		"Host=127.0.0.1;Username=u;Password=secret-pw;Database=d",
		"HOST=127.0.0.1 PASSWORD=secret-pw",
		"host=127.0.0.1;password=secret-pw",
		"host=127.0.0.1 port=notaport password = secret-pw",
		"POSTGRES://u:secret-pw:x@127.0.0.1:bad/db",
	} {
		var stdout, stderr syncBuffer
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, []string{"--addr", "127.0.0.1:0"}, func(k string) string {
			if k == "SANDBOXD_DB" {
				return dsn
			}
			return ""
		}, &stdout, &stderr, nil)
		cancel()
		if err == nil {
			t.Fatalf("--db %q: run succeeded", dsn)
		}
		if all := err.Error() + stdout.String() + stderr.String(); strings.Contains(all, "secret-pw") {
			t.Errorf("--db %q: the password was shown: %s", dsn, all)
		}
		if strings.Contains(err.Error(), `SQLite database "`) {
			t.Errorf("--db %q was taken for a SQLite file: %v", dsn, err)
		}
		if stdout.String() != "" {
			t.Errorf("--db %q: a server that did not start printed %q", dsn, stdout.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files created: %v", entries)
	}

	// The real thing, as key=value.
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	kv := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", u.Hostname(), u.Port(), u.User.Username(), strings.TrimPrefix(u.Path, "/"))
	in := startInstance(t, config{DB: kv, CacheTTL: time.Second})
	if in.srv.listener == nil {
		t.Error("a key=value PostgreSQL database got no change feed")
	}
	id, key := in.create("u1", "RUNNING")
	expect(t, "key=value database", in.do("GET", secretsPath(id), "", "X-Session-API-Key", key), 200, "")
}

// The SQLite open error names the path and the reason, and the generated
// admin token is printed only by a server that is listening.
func TestStartupFailuresPrintNoToken(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexistent", "dir", "x.db")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--addr", "127.0.0.1:0", "--db", missing}, []string{missing, "does not exist"}},
		{[]string{"--addr", busy.Addr().String(), "--db", filepath.Join(t.TempDir(), "ok.db")}, []string{busy.Addr().String()}},
	} {
		var stdout, stderr syncBuffer
		err := run(context.Background(), c.args, func(string) string { return "" }, &stdout, &stderr, nil)
		if err == nil {
			t.Fatalf("%q: run succeeded", c.args)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not name %q", c.args, err, w)
			}
		}
		if strings.Contains(stdout.String(), "admin token") {
			t.Errorf("%q: a server that did not start printed its token: %q", c.args, stdout.String())
		}
	}
}
