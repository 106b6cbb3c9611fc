package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

// TestWalkthroughPostgres is the walkthrough on PostgreSQL, every framework.
func TestWalkthroughPostgres(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			walkthrough(t, startInstance(t, config{Framework: fw, DB: pgtest.URL(t), CacheTTL: 2 * time.Second}))
		})
	}
}

// TestFleetPausePropagates: two instances with separate 30 s caches on one
// PostgreSQL. While clients keep hitting B, a pause goes through A; B must
// answer 401 "Sandbox is not running" within 100 ms of A's response, and no
// request to B that starts after B's first 401 may succeed.
func TestFleetPausePropagates(t *testing.T) {
	url := pgtest.URL(t)
	a := startInstance(t, config{Framework: "stdlib", DB: url, CacheTTL: 30 * time.Second})
	b := startInstance(t, config{Framework: "gin", DB: url, CacheTTL: 30 * time.Second})
	if b.srv.listener == nil || !b.srv.listener.Connected() {
		t.Fatal("instance B has no change feed")
	}
	id, key := a.create("u1", "RUNNING")
	path := secretsPath(id)
	notRunning := coreBody(core.ErrNotRunning)

	const rounds, clients = 20, 2
	const bound = 100 * time.Millisecond
	var latencies []time.Duration
	for round := range rounds {
		if r := a.admin("PUT", "/admin/sandboxes/"+id+"/status", `{"status":"RUNNING"}`); r.status != 204 {
			t.Fatalf("resume: %d", r.status)
		}
		// Wait until B serves the key again (its cache was invalidated by
		// the resume's own notification), so B answers from a warm cache.
		warmDeadline := time.Now().Add(5 * time.Second)
		for b.do("GET", path, "", core.HeaderName, key).status != 200 {
			if time.Now().After(warmDeadline) {
				t.Fatalf("round %d: B never accepted the resumed key", round)
			}
			time.Sleep(time.Millisecond)
		}
		var (
			stop      atomic.Bool
			firstDeny atomic.Int64 // unix nanos of the first 401 B answered
			wg        sync.WaitGroup
			mu        sync.Mutex
			lateOK    []string
		)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5000 && !stop.Load(); i++ { // bounded in count and time
					start := time.Now()
					r := b.do("GET", path, "", core.HeaderName, key)
					end := time.Now()
					switch {
					case r.status == http.StatusUnauthorized && strings.TrimSpace(r.body) == notRunning:
						firstDeny.CompareAndSwap(0, end.UnixNano())
					case r.status == http.StatusOK:
						if fd := firstDeny.Load(); fd != 0 && start.UnixNano() > fd {
							mu.Lock()
							lateOK = append(lateOK, fmt.Sprintf("request started %v after B's first 401 succeeded", time.Duration(start.UnixNano()-fd)))
							mu.Unlock()
						}
					default:
						mu.Lock()
						lateOK = append(lateOK, fmt.Sprintf("unexpected answer %d %q", r.status, r.body))
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond) // B under load, serving from cache
		r := a.admin("PUT", "/admin/sandboxes/"+id+"/status", `{"status":"PAUSED"}`)
		paused := time.Now()
		if r.status != 204 {
			t.Fatalf("pause: %d", r.status)
		}
		deadline := paused.Add(2 * time.Second)
		for firstDeny.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
		time.Sleep(20 * time.Millisecond) // keep hitting B for a while after the 401
		stop.Store(true)
		wg.Wait()
		for _, msg := range lateOK {
			t.Errorf("round %d: %s", round, msg)
		}
		fd := firstDeny.Load()
		if fd == 0 {
			t.Fatalf("round %d: B still accepted the key 2 s after the pause\nB logs:\n%s", round, b.logs.String()[max(0, len(b.logs.String())-3000):])
		}
		lat := time.Duration(fd - paused.UnixNano())
		if lat < 0 {
			lat = 0 // B noticed before A's response reached the client
		}
		if lat > bound {
			t.Errorf("round %d: B answered 401 %v after A's response, want within %v", round, lat, bound)
		}
		// Every request to B from now on must fail.
		if r := b.do("GET", path, "", core.HeaderName, key); r.status != 401 {
			t.Errorf("round %d: B answered %d after the pause", round, r.status)
		}
		latencies = append(latencies, lat)
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
	t.Logf("pause propagation A -> B over %d rounds: p50 %v, p99 %v, max %v", len(latencies), pct(0.5), pct(0.99), latencies[len(latencies)-1])
}
