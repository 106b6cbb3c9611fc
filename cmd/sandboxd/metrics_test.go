package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

// running is a sandboxd started by run(), as main does, with its two
// listeners.
type running struct {
	t             *testing.T
	addr, metrics string // host:port of the public and the metrics listener
	logs          *syncBuffer
}

// startRun runs sandboxd with args (plus --addr and --metrics-addr on
// 127.0.0.1:0 and the test admin token) until the test ends.
func startRun(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	args = append([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--admin-token", adminToken}, args...)
	go func() { done <- run(ctx, args, func(string) string { return "" }, io.Discard, logs, ready) }()
	rn := &running{t: t, logs: logs}
	select {
	case rn.addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("sandboxd did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("no graceful shutdown")
		}
	})
	// The metrics listener is up before the public one, and says where.
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var rec struct{ Msg, Addr, Path string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "sandboxd metrics listening" {
			rn.metrics = rec.Addr
			if rec.Path != "/metrics" {
				t.Errorf("metrics log line: path %q", rec.Path)
			}
		}
	}
	if rn.metrics == "" || rn.metrics == rn.addr {
		t.Fatalf("no metrics address in the startup log (public %s):\n%s", rn.addr, logs.String())
	}
	return rn
}

// get sends a GET to host with the session key headers given.
func (rn *running) get(host, path string, keys ...string) (int, string) {
	rn.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+host+path, nil)
	if err != nil {
		rn.t.Fatal(err)
	}
	for _, k := range keys {
		req.Header.Add(core.HeaderName, k)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rn.t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (rn *running) admin(method, path, body string) (int, string) {
	rn.t.Helper()
	req, err := http.NewRequest(method, "http://"+rn.addr+path, strings.NewReader(body))
	if err != nil {
		rn.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rn.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (rn *running) create(owner, status string) (id, key string) {
	rn.t.Helper()
	code, body := rn.admin("POST", "/admin/sandboxes", fmt.Sprintf(`{"owner":%q,"status":%q}`, owner, status))
	var out struct {
		ID  string `json:"id"`
		Key string `json:"session_api_key"`
	}
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &out) != nil || out.ID == "" {
		rn.t.Fatalf("create: %d %s", code, body)
	}
	return out.ID, out.Key
}

// scrape reads /metrics from the metrics listener: each sample line,
// `name{labels} value`, by its name and labels as written.
func (rn *running) scrape() map[string]float64 {
	rn.t.Helper()
	resp, err := http.Get("http://" + rn.metrics + "/metrics")
	if err != nil {
		rn.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		rn.t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			rn.t.Fatalf("unparsable sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// expectSamples checks the value of each sample named in want; a sample
// absent from the scrape fails like a wrong value.
func expectSamples(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for name, w := range want {
		v, ok := got[name]
		if !ok {
			t.Errorf("%s: absent, want %v", name, w)
		} else if v != w {
			t.Errorf("%s = %v, want %v", name, v, w)
		}
	}
}

// TestMetricsEveryFramework starts sandboxd with --metrics-addr on every
// framework, sends a known mix of session-key requests and checks every
// counter of the contract (docs/design.md §9) to the unit.
func TestMetricsEveryFramework(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			rn := startRun(t, "--framework", fw, "--db", filepath.Join(t.TempDir(), "m.db"), "--cache-ttl", "1m")
			before := rn.scrape()
			for name, v := range before {
				if strings.HasPrefix(name, "sandboxauth_") && !strings.HasPrefix(name, metricLookupDuration+"_bucket") && v != 0 {
					t.Errorf("before any request: %s = %v", name, v)
				}
			}
			for _, name := range []string{metricFeedConnected, metricFeedReconnects, metricFeedNotifications} {
				if _, ok := before[name]; ok {
					t.Errorf("%s served without a change feed (SQLite)", name)
				}
			}

			id, key := rn.create("u1", "RUNNING")
			other, _ := rn.create("u2", "RUNNING")
			paused, pausedKey := rn.create("u3", "PAUSED")
			mix := []struct {
				what   string
				path   string
				keys   []string
				status int
				n      int
			}{
				{"accepted", secretsPath(id), []string{key}, 200, 5},
				{"unknown key", secretsPath(id), []string{"k" + strings.Repeat("x", 42)}, 401, 3},
				{"missing header", secretsPath(id), nil, 401, 2},
				{"paused sandbox", secretsPath(paused), []string{pausedKey}, 401, 2},
				{"another sandbox's route", secretsPath(other), []string{key}, 403, 1},
			}
			for _, m := range mix {
				for i := range m.n {
					if code, body := rn.get(rn.addr, m.path, m.keys...); code != m.status {
						t.Fatalf("%s #%d: %d %s, want %d", m.what, i, code, body, m.status)
					}
				}
			}
			// Not a session-key request: counted nowhere.
			if code, _ := rn.get(rn.addr, "/healthz"); code != 200 {
				t.Fatalf("healthz: %d", code)
			}

			got := rn.scrape()
			expectSamples(t, got, map[string]float64{
				`sandboxauth_decisions_total{code="accepted"}`:              5,
				`sandboxauth_decisions_total{code="invalid_session_key"}`:   3,
				`sandboxauth_decisions_total{code="missing_session_key"}`:   2,
				`sandboxauth_decisions_total{code="sandbox_not_running"}`:   2,
				`sandboxauth_decisions_total{code="sandbox_mismatch"}`:      1,
				`sandboxauth_decisions_total{code="malformed_session_key"}`: 0,
				`sandboxauth_decisions_total{code="store_unavailable"}`:     0,
				`sandboxauth_decisions_total{code="too_many_failures"}`:     0,
				// The first accepted request missed the cache; the other
				// four and the mismatch (the same key) were hits. Unknown
				// and paused keys are never cached: a store lookup each.
				// Missing headers were rejected before any lookup.
				`sandboxauth_lookup_duration_seconds_count{source="store"}`:   1 + 3 + 2,
				`sandboxauth_lookup_duration_seconds_count{source="cache"}`:   4 + 1,
				`sandboxauth_lookup_duration_seconds_count{source="recheck"}`: 0,
				`sandboxauth_cache_events_total{event="hit"}`:                 5,
				`sandboxauth_cache_events_total{event="miss"}`:                1 + 3 + 2,
				`sandboxauth_cache_events_total{event="stale_recheck"}`:       0,
				`sandboxauth_cache_events_total{event="eviction"}`:            0,
				`sandboxauth_cache_events_total{event="invalidation"}`:        0,
				`sandboxauth_cache_events_total{event="flush"}`:               0,
				`sandboxauth_cache_entries`:                                   1,
			})
			var total float64
			for name, v := range got {
				if strings.HasPrefix(name, metricDecisions+"{") {
					total += v
				}
				if strings.Contains(name, key) || strings.Contains(name, id) || strings.Contains(name, core.Fingerprint(key)) {
					t.Errorf("a metric names the key, its fingerprint or a sandbox id: %s", name)
				}
			}
			if total != 13 {
				t.Errorf("decisions in all: %v, want 13 (one per session-key request)", total)
			}
			if _, ok := got[`sandboxauth_lookup_duration_seconds_count{source="none"}`]; ok {
				t.Error("decisions without a lookup have a duration series")
			}
			if _, ok := got["go_goroutines"]; !ok {
				t.Error("no Go runtime metrics beside sandboxauth's")
			}

			// Never on the public listener; nothing else on the metrics one.
			for _, p := range []string{"/metrics", "/metrics/"} {
				if code, _ := rn.get(rn.addr, p); code != http.StatusNotFound {
					t.Errorf("public listener %s: %d, want 404", p, code)
				}
			}
			for _, p := range []string{"/", "/healthz", secretsPath(id)} {
				if code, _ := rn.get(rn.metrics, p, key); code != http.StatusNotFound {
					t.Errorf("metrics listener %s: %d, want 404", p, code)
				}
			}
		})
	}
}

// Without --metrics-addr there is no second listener and no observer.
func TestMetricsOffByDefault(t *testing.T) {
	c, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.MetricsAddr != "" {
		t.Fatalf("default --metrics-addr %q, %v; want off", c.MetricsAddr, err)
	}
	if m := newMetrics(c); m != nil || m.validatorOptions() != nil || m.cacheOptions() != nil || m.listenOptions() != nil {
		t.Error("metrics built, or options handed out, with --metrics-addr off")
	}
	in := startInstance(t, config{CacheTTL: time.Minute})
	if in.srv.metrics != nil {
		t.Error("a server without --metrics-addr has metrics")
	}
	if r := in.do("GET", "/metrics", ""); r.status != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %d", r.status)
	}
}

func TestParseMetricsAddr(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig(nil, env(map[string]string{"SANDBOXD_METRICS_ADDR": "127.0.0.1:9100"}), io.Discard)
	if err != nil || c.MetricsAddr != "127.0.0.1:9100" {
		t.Errorf("SANDBOXD_METRICS_ADDR: %q, %v", c.MetricsAddr, err)
	}
	c, err = parseConfig([]string{"--metrics-addr", ":9101"}, env(map[string]string{"SANDBOXD_METRICS_ADDR": "127.0.0.1:9100"}), io.Discard)
	if err != nil || c.MetricsAddr != ":9101" {
		t.Errorf("flag over env: %q, %v", c.MetricsAddr, err)
	}
	for _, bad := range [][]string{
		{"--metrics-addr", "9100"},
		{"--metrics-addr", "localhost"},
		{"--addr", "127.0.0.1:8080", "--metrics-addr", "127.0.0.1:8080"},
	} {
		if _, err := parseConfig(bad, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
			t.Errorf("%q: err %v, want a --metrics-addr error", bad, err)
		}
	}
}

// TestMetricsFeedReconnect: on PostgreSQL the feed metrics exist; killing
// the listener's connection (with new connections refused, so that the
// gap is seen) takes sandboxauth_feed_connected to 0, and letting it back
// in to 1 with one more reconnect; notifications are counted.
func TestMetricsFeedReconnect(t *testing.T) {
	url := pgtest.URL(t)
	rn := startRun(t, "--db", url, "--cache-ttl", "1m")
	got := rn.scrape()
	expectSamples(t, got, map[string]float64{
		metricFeedConnected: 1, metricFeedReconnects: 0, metricFeedNotifications: 0,
	})

	id, _ := rn.create("u1", "RUNNING")
	if code, body := rn.admin("PUT", "/admin/sandboxes/"+id+"/status", `{"status":"PAUSED"}`); code != 204 {
		t.Fatalf("pause: %d %s", code, body)
	}
	waitSample(t, rn, metricFeedNotifications, 1)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	admin, err := pgx.Connect(ctx, pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var db string
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	allow := func(on bool) {
		t.Helper()
		if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS %t`, pgx.Identifier{db}.Sanitize(), on)); err != nil {
			t.Fatal(err)
		}
	}
	allow(false)
	defer allow(true)
	tag, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, store.ListenerApplicationName)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("terminate the listener's backend: %v, %d rows", err, tag.RowsAffected())
	}
	waitSample(t, rn, metricFeedConnected, 0)
	expectSamples(t, rn.scrape(), map[string]float64{metricFeedReconnects: 0})

	allow(true)
	waitSample(t, rn, metricFeedConnected, 1)
	got = rn.scrape()
	expectSamples(t, got, map[string]float64{
		metricFeedConnected: 1, metricFeedReconnects: 1, metricFeedNotifications: 1,
		// The reconnection flushed the cache.
		`sandboxauth_cache_events_total{event="flush"}`: 1,
	})
}

// waitSample polls /metrics until name has the value want (10 s at most).
func waitSample(t *testing.T, rn *running, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, ok := rn.scrape()[name]
		if ok && v == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v (present %v) after 10s, want %v", name, v, ok, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
