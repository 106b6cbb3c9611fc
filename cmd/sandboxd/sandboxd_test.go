package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
)

const adminToken = "test-admin-token-0123456789"

// syncBuffer collects logs from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// instance is one sandboxd under test, served over real HTTP.
type instance struct {
	t    *testing.T
	srv  *server
	http *httptest.Server
	logs *syncBuffer
}

func startInstance(t *testing.T, cfg config) *instance {
	t.Helper()
	if cfg.Framework == "" {
		cfg.Framework = "stdlib"
	}
	if cfg.Mode == "" {
		cfg.Mode = core.ModeOSS
	}
	if cfg.DB == "" {
		cfg.DB = filepath.Join(t.TempDir(), "sandboxd.db")
	}
	cfg.AdminToken = adminToken
	logs := &syncBuffer{}
	s, err := newServer(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	in := &instance{t: t, srv: s, http: httptest.NewServer(s.handler), logs: logs}
	t.Cleanup(func() {
		in.http.Close()
		s.Close()
	})
	return in
}

type reply struct {
	status int
	header http.Header
	body   string
}

// do sends a request; hdr is alternating header names and values.
func (in *instance) do(method, path, body string, hdr ...string) reply {
	in.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, in.http.URL+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := in.http.Client().Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func (in *instance) admin(method, path, body string) reply {
	in.t.Helper()
	return in.do(method, path, body, "Authorization", "Bearer "+adminToken)
}

func (in *instance) create(owner, status string) (id, key string) {
	in.t.Helper()
	r := in.admin("POST", "/admin/sandboxes", fmt.Sprintf(`{"owner":%q,"status":%q}`, owner, status))
	if r.status != http.StatusCreated {
		in.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var out struct {
		ID  string `json:"id"`
		Key string `json:"session_api_key"`
	}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || out.ID == "" || len(out.Key) < 43 {
		in.t.Fatalf("create body %q: %v", r.body, err)
	}
	return out.ID, out.Key
}

func secretsPath(id string) string { return "/api/v1/sandboxes/" + id + "/settings/secrets" }

func expect(t *testing.T, step string, r reply, status int, body string) {
	t.Helper()
	if r.status != status || (body != "" && strings.TrimSpace(r.body) != body) {
		t.Errorf("%s: got %d %q, want %d %q", step, r.status, r.body, status, body)
	}
}

func detail(s string) string { return fmt.Sprintf(`{"detail":%q}`, s) }

func coreBody(e *core.Error) string { return strings.TrimSpace(core.ResponseFor(e).Body) }

// walkthrough is the README's walkthrough plus the bad inputs, as a test. It
// returns a transcript with ids and keys masked, to compare frameworks.
func walkthrough(t *testing.T, in *instance) []string {
	t.Helper()
	var transcript []string
	note := func(step string, r reply) {
		transcript = append(transcript, fmt.Sprintf("%s -> %d %s %s", step, r.status, r.header.Get("Content-Type"), strings.TrimSpace(r.body)))
	}
	r := in.do("GET", "/healthz", "")
	expect(t, "healthz", r, 200, "")
	note("healthz", r)

	id, key := in.create("u1", "RUNNING")
	other, _ := in.create("u2", "")
	r = in.admin("PUT", "/admin/users/u1/secrets/GITHUB_TOKEN", `{"value":"ghp_abc","description":"GitHub"}`)
	expect(t, "put secret", r, 204, "")
	note("put secret", r)
	r = in.admin("PUT", "/admin/users/u2/secrets/OTHER", `{"value":"nope"}`)
	expect(t, "put other user's secret", r, 204, "")

	r = in.do("GET", secretsPath(id), "", core.HeaderName, key)
	expect(t, "list", r, 200, `{"secrets":[{"name":"GITHUB_TOKEN","description":"GitHub"}]}`)
	note("list", r)
	if strings.Contains(r.body, "ghp_abc") {
		t.Error("list shows a secret value")
	}
	r = in.do("GET", secretsPath(id)+"/GITHUB_TOKEN", "", core.HeaderName, key)
	expect(t, "get", r, 200, "ghp_abc")
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("get: Content-Type %q", r.header.Get("Content-Type"))
	}
	note("get", r)
	r = in.do("GET", secretsPath(id)+"/OTHER", "", core.HeaderName, key)
	expect(t, "another user's secret", r, 404, detail("Secret not found"))
	note("other user's secret", r)
	// Escaped and odd paths are read the same way on every framework.
	r = in.admin("PUT", "/admin/users/u1/secrets/a%2Fb%20c", `{"value":"slashed"}`)
	note("put escaped name", r)
	r = in.do("GET", secretsPath(id)+"/a%2Fb%20c", "", core.HeaderName, key)
	note("get escaped name", r)
	r = in.do("GET", secretsPath(id), "", core.HeaderName, key)
	note("list with escaped name", r)
	r = in.do("HEAD", secretsPath(id), "", core.HeaderName, key)
	note("head", r)
	r = in.do("HEAD", secretsPath(id), "")
	note("head without key", r)
	for _, c := range []struct{ label, path string }{
		{"trailing slash", "/healthz/"},
		{"secrets trailing slash", secretsPath(id) + "/"},
		{"secret trailing slash", secretsPath(id) + "/GITHUB_TOKEN/"},
		{"double slash", "//healthz"},
		{"upper case", "/HEALTHZ"},
		{"dot-dot", "/api/v1/sandboxes/" + id + "/settings/../settings/secrets"},
		{"escaped id", "/api/v1/sandboxes/%" + fmt.Sprintf("%X", id[0]) + id[1:] + "/settings/secrets"},
	} {
		note("odd path: "+c.label, in.do("GET", c.path, "", core.HeaderName, key))
	}
	note("options", in.do("OPTIONS", secretsPath(id), "", core.HeaderName, key))
	r = in.do("POST", "/admin/sandboxes", "{}", "Authorization", "bearer "+adminToken)
	expect(t, "lower-case bearer scheme", r, 201, "")
	r = in.do("GET", secretsPath(other), "", core.HeaderName, key)
	expect(t, "another sandbox's route", r, 403, coreBody(core.ErrSandboxMismatch))
	note("other sandbox", r)
	r = in.do("GET", secretsPath(id), "")
	expect(t, "no key", r, 401, coreBody(core.ErrMissingKey))
	note("no key", r)
	r = in.do("GET", secretsPath(id)+"?X-Session-API-Key="+key, "")
	expect(t, "key in query", r, 401, coreBody(core.ErrMissingKey))
	r = in.do("GET", secretsPath(id), "", core.HeaderName, key+"x")
	expect(t, "wrong key", r, 401, coreBody(core.ErrInvalidKey))
	note("wrong key", r)

	// Admin API: the token, and bad input.
	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong-token-0123456789"}, {"Authorization", adminToken}, {core.HeaderName, key}} {
		r = in.do("POST", "/admin/sandboxes", "{}", h...)
		expect(t, fmt.Sprintf("admin with %v", h), r, 401, detail("Invalid admin token"))
	}
	note("admin without token", r)
	for _, c := range []struct{ step, method, path, body string }{
		{"malformed json", "POST", "/admin/sandboxes", `{"owner":`},
		{"unknown field", "POST", "/admin/sandboxes", `{"owner":"u","colour":"red"}`},
		{"two objects", "POST", "/admin/sandboxes", `{"owner":"u"}{"owner":"v"}`},
		{"unknown status on create", "POST", "/admin/sandboxes", `{"owner":"u","status":"running"}`},
		{"unknown status", "PUT", "/admin/sandboxes/" + id + "/status", `{"status":"SLEEPING"}`},
		{"missing status", "PUT", "/admin/sandboxes/" + id + "/status", `{}`},
		{"wrong type", "PUT", "/admin/sandboxes/" + id + "/status", `{"status":1}`},
		{"missing value", "PUT", "/admin/users/u1/secrets/X", `{"description":"d"}`},
	} {
		r = in.admin(c.method, c.path, c.body)
		if r.status != 400 || !strings.Contains(r.body, `"detail"`) {
			t.Errorf("%s: %d %s, want 400 with a detail", c.step, r.status, r.body)
		}
		note(c.step, reply{r.status, r.header, ""})
	}
	r = in.admin("POST", "/admin/sandboxes", `{"owner":"`+strings.Repeat("a", maxBodyBytes)+`"}`)
	expect(t, "oversized body", r, 413, detail("Request body too large"))
	r = in.admin("PUT", "/admin/sandboxes/sb-does-not-exist/status", `{"status":"PAUSED"}`)
	expect(t, "unknown sandbox", r, 404, detail("Sandbox not found"))
	note("unknown sandbox", r)
	r = in.admin("DELETE", "/admin/sandboxes/sb-does-not-exist", "")
	expect(t, "delete unknown sandbox", r, 404, detail("Sandbox not found"))
	// Nothing half-written: the sandbox is still RUNNING after the bad updates.
	r = in.do("GET", secretsPath(id), "", core.HeaderName, key)
	expect(t, "still running after bad input", r, 200, "")

	// Pause: the key dies at once, even with the cache on.
	r = in.admin("PUT", "/admin/sandboxes/"+id+"/status", `{"status":"PAUSED"}`)
	expect(t, "pause", r, 204, "")
	r = in.do("GET", secretsPath(id)+"/GITHUB_TOKEN", "", core.HeaderName, key)
	expect(t, "after pause", r, 401, coreBody(core.ErrNotRunning))
	note("after pause", r)
	r = in.admin("PUT", "/admin/sandboxes/"+id+"/status", `{"status":"RUNNING"}`)
	expect(t, "resume", r, 204, "")
	expect(t, "after resume", in.do("GET", secretsPath(id), "", core.HeaderName, key), 200, "")
	r = in.admin("DELETE", "/admin/sandboxes/"+id, "")
	expect(t, "delete", r, 204, "")
	r = in.do("GET", secretsPath(id), "", core.HeaderName, key)
	expect(t, "after delete", r, 401, coreBody(core.ErrInvalidKey))
	note("after delete", r)

	// Ownerless sandboxes have no secrets to fetch.
	lone, loneKey := in.create("", "RUNNING")
	r = in.do("GET", secretsPath(lone), "", core.HeaderName, loneKey)
	if in.srv.cfg.Mode == core.ModeSaaS {
		expect(t, "ownerless, saas", r, 401, coreBody(core.ErrNoUser))
	} else {
		expect(t, "ownerless, oss", r, 401, coreBody(core.ErrOwnerRequired))
	}
	note("ownerless", r)
	r = in.do("GET", "/no/such/route", "")
	expect(t, "unknown route", r, 404, detail("Not Found"))
	note("unknown route", r)
	r = in.do("DELETE", "/healthz", "")
	expect(t, "wrong method", r, 404, detail("Not Found"))
	if allow := r.header.Values("Allow"); len(allow) != 0 {
		t.Errorf("wrong method: 404 with Allow %q (echo's 405 header), unlike the other frameworks", allow)
	}
	note("wrong method", r)

	if logs := in.logs.String(); strings.Contains(logs, key) || strings.Contains(logs, loneKey) || strings.Contains(logs, adminToken) {
		t.Errorf("a key or the admin token was logged:\n%s", logs)
	}
	return transcript
}

var masker = regexp.MustCompile(`sb-[A-Za-z0-9_-]+`)

// TestWalkthroughEveryFramework runs the walkthrough on SQLite under each
// framework, with and without the cache, and requires identical transcripts.
func TestWalkthroughEveryFramework(t *testing.T) {
	var want []string
	for _, fw := range frameworks {
		for _, ttl := range []time.Duration{0, 30 * time.Second} {
			t.Run(fmt.Sprintf("%s/ttl=%v", fw, ttl), func(t *testing.T) {
				got := walkthrough(t, startInstance(t, config{Framework: fw, CacheTTL: ttl}))
				for i := range got {
					got[i] = masker.ReplaceAllString(got[i], "sb-X")
				}
				if want == nil {
					want = got
					return
				}
				if len(got) != len(want) {
					t.Fatalf("%s: %d steps, stdlib %d", fw, len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("%s answers differently from stdlib:\n got: %s\nwant: %s", fw, got[i], want[i])
					}
				}
			})
		}
	}
}

func TestWalkthroughSaaS(t *testing.T) {
	walkthrough(t, startInstance(t, config{Mode: core.ModeSaaS, CacheTTL: 2 * time.Second}))
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{"SANDBOXD_FRAMEWORK": "gin", "SANDBOXD_MODE": "saas", "SANDBOXD_CACHE_TTL": "5s", "SANDBOXD_DB": "x.db"}
	getenv := func(k string) string { return env[k] }
	c, err := parseConfig(nil, getenv, io.Discard)
	if err != nil || c.Framework != "gin" || c.Mode != core.ModeSaaS || c.CacheTTL != 5*time.Second || c.DB != "x.db" || c.Addr != "127.0.0.1:8080" {
		t.Errorf("env: %+v %v", c, err)
	}
	c, err = parseConfig([]string{"--framework", "echo", "--cache-ttl", "0", "--addr", "127.0.0.1:0"}, getenv, io.Discard)
	if err != nil || c.Framework != "echo" || c.CacheTTL != 0 || c.Addr != "127.0.0.1:0" {
		t.Errorf("flags over env: %+v %v", c, err)
	}
	c, err = parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.Framework != "stdlib" || c.Mode != core.ModeOSS || c.CacheTTL != 2*time.Second || c.DB != "sandboxd.db" || c.AdminToken != "" {
		t.Errorf("defaults: %+v %v", c, err)
	}
	for _, args := range [][]string{
		{"--framework", "fiber"}, {"--mode", "SaaS"}, {"--cache-ttl", "-1s"}, {"--cache-ttl", "2h"},
		{"--cache-ttl", "soon"}, {"--admin-token", "short"}, {"--addr", ""}, {"--db", ""}, {"extra"}, {"--nope"},
	} {
		if _, err := parseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	for _, dsn := range []string{"postgres://u:secret@127.0.0.1/db", "postgres://127.0.0.1/db?user=u&password=secret",
		"postgresql://u@h/db?sslpassword=secret&sslmode=require"} {
		if got := store.Describe(dsn); strings.Contains(got, "secret") || !strings.Contains(got, "127.0.0.1") && !strings.Contains(got, "@h/") {
			t.Errorf("Describe(%q) = %q", dsn, got)
		}
	}
	// Secrets in the environment never reach the usage text.
	var usage bytes.Buffer
	secretEnv := map[string]string{"SANDBOXD_ADMIN_TOKEN": "env-admin-token-very-secret", "SANDBOXD_DB": "postgres://u:dbsecret@h/db"}
	for _, args := range [][]string{{"-h"}, {"--bogus"}} {
		_, _ = parseConfig(args, func(k string) string { return secretEnv[k] }, &usage)
	}
	if strings.Contains(usage.String(), "very-secret") || strings.Contains(usage.String(), "dbsecret") || !strings.Contains(usage.String(), "-admin-token") {
		t.Errorf("usage text:\n%s", usage.String())
	}
	c, err = parseConfig(nil, func(k string) string { return secretEnv[k] }, io.Discard)
	if err != nil || c.AdminToken != secretEnv["SANDBOXD_ADMIN_TOKEN"] || c.DB != secretEnv["SANDBOXD_DB"] {
		t.Errorf("env not applied: %+v %v", c, err)
	}
}

// TestRunServesAndShutsDown drives run() as main does: a real listener on
// 127.0.0.1, a generated admin token printed once, graceful shutdown.
func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	db := filepath.Join(t.TempDir(), "run.db")
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--framework", "chi"}, func(k string) string {
			if k == "SANDBOXD_DB" {
				return db
			}
			return ""
		}, &stdout, &stderr, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	m := regexp.MustCompile(`admin token \(shown once\): (\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no admin token printed: %q", stdout.String())
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/admin/sandboxes", strings.NewReader(`{"owner":"u"}`))
	req.Header.Set("Authorization", "Bearer "+m[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("create with the printed token: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no graceful shutdown")
	}
	if strings.Contains(stderr.String(), m[1]) {
		t.Error("the admin token was logged")
	}
	if !strings.Contains(stderr.String(), `"msg":"request"`) {
		t.Errorf("no structured access log:\n%s", stderr.String())
	}
}
