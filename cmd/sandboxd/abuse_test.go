package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

// randomKey is a well-formed key no sandbox has.
func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// serve sends one request through in's handler, in process, as the client
// at remote (an address that need not exist: the limiter only reads it).
func (in *instance) serve(remote, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	in.srv.handler.ServeHTTP(w, req)
	return w
}

var tooMany = coreBody(core.ErrTooManyFailures)

// TestFailureLimitSessionKeys, on every framework: with --failure-limit 60,
// an honest burst of 50 failures is answered normally, a flood meets 429
// (Retry-After, the table's detail) long before 300 failures, a valid key of
// another client still works, and so does the flooding client's own cached
// valid key.
func TestFailureLimitSessionKeys(t *testing.T) {
	const flooder, other = "192.0.2.1:4000", "192.0.2.2:4000"
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			in := startInstance(t, config{Framework: fw, CacheTTL: 30 * time.Second, FailureLimit: 60})
			id, key := in.create("u1", "RUNNING")
			otherID, otherKey := in.create("u2", "RUNNING")
			path := secretsPath(id)
			if w := in.serve(flooder, "GET", path, "", core.HeaderName, key); w.Code != 200 { // now cached
				t.Fatalf("warm-up: %d", w.Code)
			}
			for i := range 50 {
				w := in.serve(flooder, "GET", path, "", core.HeaderName, randomKey())
				if w.Code != 401 || strings.TrimSpace(w.Body.String()) != coreBody(core.ErrInvalidKey) {
					t.Fatalf("honest failure %d: %d %s, want 401", i+1, w.Code, w.Body)
				}
			}
			first429 := 0
			for i := 51; i <= 300; i++ {
				w := in.serve(flooder, "GET", path, "", core.HeaderName, randomKey())
				if w.Code == 429 {
					if strings.TrimSpace(w.Body.String()) != tooMany || w.Header().Get("Retry-After") == "" {
						t.Fatalf("429 answer: %s, Retry-After %q", w.Body, w.Header().Get("Retry-After"))
					}
					if first429 == 0 {
						first429 = i
					}
				} else if first429 != 0 && w.Code != 401 {
					t.Fatalf("failure %d: %d %s", i, w.Code, w.Body)
				}
			}
			if first429 == 0 || first429 > 70 {
				t.Fatalf("first 429 at failure %d, want soon after 60", first429)
			}
			// Valid keys are not held back: another client's, and the
			// flooder's own key while it is cached.
			if w := in.serve(other, "GET", secretsPath(otherID), "", core.HeaderName, otherKey); w.Code != 200 {
				t.Errorf("another client's valid key during the flood: %d %s", w.Code, w.Body)
			}
			if w := in.serve(flooder, "GET", path, "", core.HeaderName, key); w.Code != 200 {
				t.Errorf("the flooding client's cached valid key: %d %s", w.Code, w.Body)
			}
		})
	}
}

// TestFailureLimitAdminToken, on every framework: wrong admin tokens are
// limited the same way, with their own budget, before the token is checked.
func TestFailureLimitAdminToken(t *testing.T) {
	const flooder, other = "192.0.2.1:4000", "192.0.2.2:4000"
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			in := startInstance(t, config{Framework: fw, FailureLimit: 60})
			first429 := 0
			for i := 1; i <= 300; i++ {
				w := in.serve(flooder, "POST", "/admin/sandboxes", "{}", "Authorization", fmt.Sprintf("Bearer wrong-token-%020d", i))
				switch {
				case w.Code == 401 && i <= 50:
				case w.Code == 429:
					if strings.TrimSpace(w.Body.String()) != tooMany || w.Header().Get("Retry-After") == "" ||
						!strings.Contains(w.Body.String(), `"detail":"Too many failed attempts, try again later"`) {
						t.Fatalf("429 answer: %s, Retry-After %q", w.Body, w.Header().Get("Retry-After"))
					}
					if first429 == 0 {
						first429 = i
					}
				case w.Code == 401 && first429 == 0:
				default:
					t.Fatalf("wrong token %d: %d %s", i, w.Code, w.Body)
				}
			}
			if first429 == 0 || first429 > 70 {
				t.Fatalf("first 429 at attempt %d, want soon after 60", first429)
			}
			// The right token always passes: untrusted code sharing the
			// operator's address cannot lock the operator out.
			if w := in.serve(flooder, "POST", "/admin/sandboxes", "{}", "Authorization", "Bearer "+adminToken); w.Code != 201 {
				t.Errorf("the right token from a limited address: %d %s", w.Code, w.Body)
			}
			if w := in.serve(flooder, "POST", "/admin/sandboxes", "{}", "Authorization", "Bearer wrong-token-again-0000000"); w.Code != 429 {
				t.Errorf("a wrong token from the limited address after a right one: %d", w.Code)
			}
			// Another client is not affected; nor are the flooder's
			// session keys (a separate budget).
			w := in.serve(other, "POST", "/admin/sandboxes", `{"owner":"u1"}`, "Authorization", "Bearer "+adminToken)
			if w.Code != 201 {
				t.Fatalf("another client with the right token: %d %s", w.Code, w.Body)
			}
			id, key := in.create("u1", "RUNNING")
			if w := in.serve(flooder, "GET", secretsPath(id), "", core.HeaderName, key); w.Code != 200 {
				t.Errorf("the admin flooder's session key: %d %s", w.Code, w.Body)
			}
		})
	}
}

// TestFailureLimitOff: --failure-limit 0 turns both limits off.
func TestFailureLimitOff(t *testing.T) {
	in := startInstance(t, config{FailureLimit: 0})
	id, _ := in.create("u1", "RUNNING")
	for i := range 300 {
		if w := in.serve("192.0.2.1:1", "GET", secretsPath(id), "", core.HeaderName, randomKey()); w.Code != 401 {
			t.Fatalf("failure %d with the limit off: %d", i+1, w.Code)
		}
		if w := in.serve("192.0.2.1:1", "POST", "/admin/sandboxes", "{}", "Authorization", "Bearer nope-nope-nope-nope"); w.Code != 401 {
			t.Fatalf("admin failure %d with the limit off: %d", i+1, w.Code)
		}
	}
}

// TestFailureLimitRateOverHTTP measures what one flooding client gets over
// real HTTP on 127.0.0.1 for a few seconds: the failed attempts answered 429
// each second, and how few it gets through as 401 (the limiter's refill).
func TestFailureLimitRateOverHTTP(t *testing.T) {
	in := startInstance(t, config{CacheTTL: 2 * time.Second, FailureLimit: 60})
	id, _ := in.create("u1", "RUNNING")
	const dur, workers = 3 * time.Second, 4
	var n401, n429, other atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200000 && time.Since(start) < dur; i++ {
				status, _, err := in.get(secretsPath(id), randomKey())
				switch {
				case err != nil:
					other.Add(1)
					return
				case status == 401:
					n401.Add(1)
				case status == 429:
					n429.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	t.Logf("one client, %d workers, %.1fs: %d answered 429 (%.0f/s), %d answered 401 (%.1f/s), %d other",
		workers, el, n429.Load(), float64(n429.Load())/el, n401.Load(), float64(n401.Load())/el, other.Load())
	if other.Load() != 0 {
		t.Errorf("%d unexpected answers", other.Load())
	}
	// 60 at once, then one a second; each worker may slip one more in
	// between the limiter's check and its count of the failure.
	if max401 := int64(60 + el + workers + 2); n401.Load() > max401 {
		t.Errorf("%d failures got through as 401, want at most %d", n401.Load(), max401)
	}
}

var floodFor = flag.Duration("sandboxd.flood", 2*time.Second, "how long TestLogLinesUnderFlood floods sandboxd")

// TestLogLinesUnderFlood floods sandboxd (default configuration: cache 2 s,
// failure limit 60) with random keys over HTTP on 127.0.0.1 and counts the
// log lines it wrote: bounded by the sampling budget per second, not by the
// number of requests. go test -run TestLogLinesUnderFlood -args -sandboxd.flood=20s
func TestLogLinesUnderFlood(t *testing.T) {
	for _, limit := range []int{60, 0} {
		t.Run(fmt.Sprintf("failure-limit=%d", limit), func(t *testing.T) {
			in := startInstance(t, config{CacheTTL: 2 * time.Second, FailureLimit: limit})
			id, key := in.create("u1", "RUNNING")
			before := strings.Count(in.logs.String(), "\n")
			const workers = 4
			var requests, valid atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 10_000_000 && time.Since(start) < *floodFor; i++ {
						k := randomKey()
						if w == 0 && i%100 == 0 {
							k = key // some honest traffic among the flood
							valid.Add(1)
						}
						if _, _, err := in.get(secretsPath(id), k); err != nil {
							return
						}
						requests.Add(1)
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			in.srv.access.flush()
			in.srv.errLogs.flush()
			logs := in.logs.String()
			lines := strings.Count(logs, "\n") - before
			t.Logf("flood of %v: %d requests (%d valid), %d log lines", el.Round(time.Millisecond), requests.Load(), valid.Load(), lines)
			// Per second at most: 5 lines per rejected status (401, 429),
			// 100 per accepted one, a summary line each; plus the first
			// second's lines and the final summaries.
			secs := int(el.Seconds()) + 2
			if limitLines := secs*(2*(accessRejectedBurst+1)+int(min(valid.Load(), accessOKBurst))) + 10; lines > limitLines {
				t.Errorf("%d log lines for %d requests, want at most %d", lines, requests.Load(), limitLines)
			}
			if !strings.Contains(logs, "Suppressed repeated log lines") {
				t.Error("no summary of the suppressed lines")
			}
			if strings.Contains(logs, key) {
				t.Error("a key was logged")
			}
		})
	}
}

// The sampler writes the first lines of each interval per key, counts the
// rest and reports them on the key's next line (or at flush).
func TestLogSampler(t *testing.T) {
	var buf syncBuffer
	s := newLogSampler(slog.New(slog.NewTextHandler(&buf, nil)), 3)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	for range 10 {
		s.log(ctx, "a", slog.LevelWarn, "line a")
	}
	s.log(ctx, "b", slog.LevelWarn, "line b")
	if got := strings.Count(buf.String(), "line a"); got != 3 {
		t.Fatalf("%d lines of a in the first interval, want 3", got)
	}
	if !strings.Contains(buf.String(), "line b") {
		t.Fatal("key b was held back by key a")
	}
	now = now.Add(time.Second)
	s.log(ctx, "a", slog.LevelWarn, "line a")
	if !strings.Contains(buf.String(), "reason=a suppressed=7") {
		t.Fatalf("no summary of the 7 lines left out:\n%s", buf.String())
	}
	for range 5 {
		s.log(ctx, "a", slog.LevelWarn, "line a")
	}
	s.flush()
	if !strings.Contains(buf.String(), "reason=a suppressed=3") {
		t.Fatalf("flush did not report the pending count:\n%s", buf.String())
	}
	s.flush()
	if strings.Count(buf.String(), "Suppressed") != 2 {
		t.Fatalf("a second flush repeated a summary:\n%s", buf.String())
	}
}
