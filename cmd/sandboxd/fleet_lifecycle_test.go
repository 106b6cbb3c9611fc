package main

import (
	"fmt"
	"io"
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

// get sends GET path with key from a client goroutine (no t.Fatal there).
func (in *instance) get(path, key string) (int, string, error) {
	req, err := http.NewRequest("GET", in.http.URL+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set(core.HeaderName, key)
	resp, err := in.http.Client().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// hammer keeps clients sending key to in until stop is called. The old key
// may be accepted until the first rejection, which must be 401 "Invalid
// session API key" (the key revoked, never a half-written "Sandbox is not
// running"); no request STARTED after that first rejection may succeed.
type hammer struct {
	stopped   atomic.Bool
	firstDeny atomic.Int64 // unix nanos at which the first 401 was received
	wg        sync.WaitGroup
	mu        sync.Mutex
	problems  []string
}

func startHammer(in *instance, path, key string, clients int) *hammer {
	h := &hammer{}
	invalid := coreBody(core.ErrInvalidKey)
	for range clients {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			for i := 0; i < 20000 && !h.stopped.Load(); i++ { // bounded in count; stop bounds it in time
				start := time.Now()
				status, body, err := in.get(path, key)
				end := time.Now()
				switch {
				case err != nil:
					h.problem("request failed: %v", err)
				case status == http.StatusUnauthorized && body == invalid:
					h.firstDeny.CompareAndSwap(0, end.UnixNano())
				case status == http.StatusOK:
					if fd := h.firstDeny.Load(); fd != 0 && start.UnixNano() > fd {
						h.problem("a request started %v after B's first 401 succeeded with the old key", time.Duration(start.UnixNano()-fd))
					}
				default:
					h.problem("unexpected answer %d %q", status, body)
				}
			}
		}()
	}
	return h
}

func (h *hammer) problem(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.problems) < 10 {
		h.problems = append(h.problems, fmt.Sprintf(format, args...))
	}
}

// awaitDeny waits (bounded) for the first rejection.
func (h *hammer) awaitDeny(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for h.firstDeny.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
}

func (h *hammer) stop() []string {
	h.stopped.Store(true)
	h.wg.Wait()
	return h.problems
}

// fleetPair starts instances A and B with separate 30 s caches on one
// PostgreSQL database: only the change feed can make B refuse a key early.
func fleetPair(t *testing.T) (a, b *instance) {
	url := pgtest.URL(t)
	a = startInstance(t, config{Framework: "stdlib", DB: url, CacheTTL: 30 * time.Second})
	b = startInstance(t, config{Framework: "gin", DB: url, CacheTTL: 30 * time.Second})
	if b.srv.listener == nil || !b.srv.listener.Connected() {
		t.Fatal("instance B has no change feed")
	}
	return a, b
}

// warm waits until B accepts key (then from its cache).
func warm(t *testing.T, b *instance, path, key string, round int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if status, _, err := b.get(path, key); err == nil && status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("round %d: B never accepted the current key", round)
		}
		time.Sleep(time.Millisecond)
	}
}

const (
	fleetRounds  = 50
	fleetClients = 2
	fleetBound   = 100 * time.Millisecond
)

func reportPropagation(t *testing.T, what string, lat []time.Duration) {
	t.Helper()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1)+0.5)] }
	t.Logf("%s propagation A -> B over %d rounds: p50 %v, p99 %v, max %v", what, len(lat), pct(0.5), pct(0.99), lat[len(lat)-1])
}

// TestFleetRotatePropagates: while clients hammer instance B with a key, the
// key is rotated through instance A. B's first rejection of the old key
// comes within 100 ms of A's answer, no request to B started after it
// succeeds with the old key, and the new key works on B at once.
func TestFleetRotatePropagates(t *testing.T) {
	a, b := fleetPair(t)
	id, key := a.create("u1", "RUNNING")
	path := secretsPath(id)
	var lat []time.Duration
	for round := range fleetRounds {
		warm(t, b, path, key, round)
		h := startHammer(b, path, key, fleetClients)
		time.Sleep(10 * time.Millisecond) // B under load, serving from its cache
		r := a.admin("POST", "/admin/sandboxes/"+id+"/rotate-key", "")
		answered := time.Now()
		newKey := newKeyReply(t, fmt.Sprintf("round %d: rotate", round), r, id)
		h.awaitDeny(2 * time.Second)
		time.Sleep(10 * time.Millisecond) // keep hitting B after the first 401
		for _, p := range h.stop() {
			t.Errorf("round %d: %s", round, p)
		}
		fd := h.firstDeny.Load()
		if fd == 0 {
			t.Fatalf("round %d: B still accepted the rotated-out key 2 s after the rotation", round)
		}
		d := max(0, time.Duration(fd-answered.UnixNano())) // 0: B refused before A's answer arrived
		if d > fleetBound {
			t.Errorf("round %d: B refused the old key %v after A's answer, want within %v", round, d, fleetBound)
		}
		lat = append(lat, d)
		if status, body, err := b.get(path, newKey); err != nil || status != 200 {
			t.Fatalf("round %d: the new key on B: %d %s %v", round, status, body, err)
		}
		if status, _, _ := b.get(path, key); status != 401 {
			t.Errorf("round %d: the old key on B after the round: %d", round, status)
		}
		key = newKey
	}
	reportPropagation(t, "rotate-key", lat)
}

// TestFleetPauseResumePropagates: the same with a pause, then a resume,
// through A. B refuses the old key within 100 ms of the pause's answer,
// keeps refusing it through and after the resume, and accepts the key the
// resume issued.
func TestFleetPauseResumePropagates(t *testing.T) {
	a, b := fleetPair(t)
	id, key := a.create("u1", "RUNNING")
	path := secretsPath(id)
	var lat []time.Duration
	for round := range fleetRounds {
		warm(t, b, path, key, round)
		h := startHammer(b, path, key, fleetClients)
		time.Sleep(10 * time.Millisecond)
		r := a.admin("POST", "/admin/sandboxes/"+id+"/pause", "")
		answered := time.Now()
		if r.status != 204 {
			h.stop()
			t.Fatalf("round %d: pause: %d %s", round, r.status, r.body)
		}
		h.awaitDeny(2 * time.Second)
		r = a.admin("POST", "/admin/sandboxes/"+id+"/resume", "")
		newKey := newKeyReply(t, fmt.Sprintf("round %d: resume", round), r, id)
		time.Sleep(10 * time.Millisecond) // the old key keeps failing after the resume
		for _, p := range h.stop() {
			t.Errorf("round %d: %s", round, p)
		}
		fd := h.firstDeny.Load()
		if fd == 0 {
			t.Fatalf("round %d: B still accepted the paused sandbox's key 2 s after the pause", round)
		}
		d := max(0, time.Duration(fd-answered.UnixNano()))
		if d > fleetBound {
			t.Errorf("round %d: B refused the old key %v after A's pause answer, want within %v", round, d, fleetBound)
		}
		lat = append(lat, d)
		if status, body, err := b.get(path, newKey); err != nil || status != 200 {
			t.Fatalf("round %d: the resumed sandbox's new key on B: %d %s %v", round, status, body, err)
		}
		if status, _, _ := b.get(path, key); status != 401 {
			t.Errorf("round %d: the old key on B after the resume: %d", round, status)
		}
		key = newKey
	}
	reportPropagation(t, "pause", lat)
}
