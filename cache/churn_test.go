package cache_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// The churn load test is off by default (it runs for about 15 s):
//
//	go test -run '^TestChurn$' -churn -v ./cache
//
// -churn.ttl and -churn.dur change the cache's TTL and each row's duration.
var (
	churnRun = flag.Bool("churn", false, "run TestChurn, the invalidation-churn load test (~15 s)")
	churnTTL = flag.Duration("churn.ttl", cache.DefaultTTL, "TestChurn: the cache's TTL")
	churnDur = flag.Duration("churn.dur", 2*time.Second, "TestChurn: how long each row runs")
)

// latencyStore is a store of n hot sandboxes (hot-i has key churnKey(i)),
// every call of which takes delay, as a database round trip does. It
// implements core.StatusStore (the cache's stale rechecks) and counts calls.
type latencyStore struct {
	delay    time.Duration
	byKey    map[string]*core.SandboxInfo
	byID     map[string]*core.SandboxInfo
	lookups  atomic.Int64
	statuses atomic.Int64
}

func churnKey(i int) string { return fmt.Sprintf("sk-churn-%04d-0123456789abcdefghijklmnopqrstu", i) }

func newLatencyStore(n int, delay time.Duration) *latencyStore {
	s := &latencyStore{delay: delay, byKey: map[string]*core.SandboxInfo{}, byID: map[string]*core.SandboxInfo{}}
	for i := range n {
		info := &core.SandboxInfo{ID: fmt.Sprintf("hot-%d", i), CreatedByUserID: "u", Status: core.StatusRunning}
		s.byKey[churnKey(i)], s.byID[info.ID] = info, info
	}
	return s
}

func (s *latencyStore) wait(ctx context.Context) error {
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *latencyStore) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	s.lookups.Add(1)
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	if info, ok := s.byKey[key]; ok {
		return info.Clone(), nil
	}
	return nil, core.ErrNotFound
}

func (s *latencyStore) SandboxStatus(ctx context.Context, id string) (core.Status, error) {
	s.statuses.Add(1)
	if err := s.wait(ctx); err != nil {
		return "", err
	}
	if info, ok := s.byID[id]; ok {
		return info.Status, nil
	}
	return "", core.ErrNotFound
}

// churnResult is one row of the churn table.
type churnResult struct {
	served, failed    int64 // requests accepted / not
	lookups, statuses int64 // store calls
	invalidations     int64
	elapsed           time.Duration
}

// runChurn runs workers goroutines that validate random keys among hot for
// dur through a cache over a store of the given latency, while another
// goroutine calls InvalidateSandbox on sandboxes that are NOT among the hot
// ones (each id new) at rate per second.
func runChurn(tb testing.TB, delay time.Duration, rate, workers, hot int, ttl, dur time.Duration) churnResult {
	tb.Helper()
	st := newLatencyStore(hot, delay)
	c, err := cache.New(st, cache.WithTTL(ttl), cache.WithCleanupInterval(0))
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	v, err := core.New(c)
	if err != nil {
		tb.Fatal(err)
	}
	keys := make([]string, hot)
	for i := range keys {
		keys[i] = churnKey(i)
	}

	var res churnResult
	var served, failed, invalidations atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			ctx := context.Background()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := v.Validate(ctx, keys[rng.IntN(len(keys))]); err != nil {
					failed.Add(1)
				} else {
					served.Add(1)
				}
			}
		}()
	}
	if rate > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Go's timers fire about once a millisecond at best here: issue
			// the invalidations that are due every millisecond, in a burst.
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			var n int64
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				due := int64(time.Since(start).Seconds() * float64(rate))
				for ; n < due; n++ {
					c.InvalidateSandbox(fmt.Sprintf("other-%d", n))
				}
				invalidations.Store(n)
			}
		}()
	}
	time.Sleep(dur)
	close(stop)
	wg.Wait()
	res.elapsed = time.Since(start)
	res.served, res.failed, res.invalidations = served.Load(), failed.Load(), invalidations.Load()
	res.lookups, res.statuses = st.lookups.Load(), st.statuses.Load()
	return res
}

// TestChurn prints the table of docs/design.md §6 and cache/README.md:
// requests served and store calls under invalidation churn of OTHER
// sandboxes. Invalidating sandboxes nobody asks for must not cost store
// calls; it is off by default (see -churn).
func TestChurn(t *testing.T) {
	if !*churnRun {
		t.Skip("the churn load test runs with -churn")
	}
	const workers, hot = 8, 200
	rows := []struct {
		delay time.Duration
		rate  int
	}{
		{2 * time.Millisecond, 0}, {2 * time.Millisecond, 10}, {2 * time.Millisecond, 100},
		{2 * time.Millisecond, 1000}, {2 * time.Millisecond, 5000},
		{20 * time.Millisecond, 0}, {20 * time.Millisecond, 500},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d goroutines, %d hot keys, TTL %v, %v per row\n", workers, hot, *churnTTL, *churnDur)
	fmt.Fprintf(&b, "| store | invalidations/s (other sandboxes) | requests served | requests/s | store calls (lookups + status) | failed |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|\n")
	for _, r := range rows {
		res := runChurn(t, r.delay, r.rate, workers, hot, *churnTTL, *churnDur)
		fmt.Fprintf(&b, "| %v | %d (done: %d) | %d | %.0f | %d (%d + %d) | %d |\n", r.delay, r.rate, res.invalidations,
			res.served, float64(res.served)/res.elapsed.Seconds(), res.lookups+res.statuses, res.lookups, res.statuses, res.failed)
		if res.failed != 0 {
			t.Errorf("store %v, %d/s: %d requests failed", r.delay, r.rate, res.failed)
		}
	}
	t.Log("\n" + b.String())
}

// TestChurnShort is the regression guard of TestChurn, short enough to run
// always: 1000 invalidations/s of other sandboxes must leave the store calls
// near the number of hot keys, where every request used to reach the store.
func TestChurnShort(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	const hot = 50
	res := runChurn(t, 2*time.Millisecond, 1000, 4, hot, time.Minute, 300*time.Millisecond)
	if calls := res.lookups + res.statuses; calls > 3*hot || res.failed != 0 {
		t.Errorf("%d invalidations of other sandboxes: %d store calls for %d hot keys (want at most %d), %d served, %d failed",
			res.invalidations, calls, hot, 3*hot, res.served, res.failed)
	}
}
