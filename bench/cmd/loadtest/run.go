package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/bench/scenario"
	"github.com/sandboxauth/sandboxauth/core"
)

// Config bounds and selects a load run. Every loop of a run is bounded in
// time (Duration, Warmup) and in count (MaxRequests, Rounds).
type Config struct {
	Duration    time.Duration // measured time per cell and round
	Warmup      time.Duration // unmeasured time per cell and round, before Duration
	Rounds      int           // passes over all cells, each in a new shuffled order
	Clients     int           // concurrent keep-alive clients per cell
	MaxRequests int64         // measured requests per cell and round, at most
	Frameworks  []scenario.Framework
	Scenarios   []scenario.Scenario
	Latency     time.Duration // simulated store latency of the slow scenarios
	Seed        uint64        // seeds the order of cells in each round
	AllocRuns   int           // in-process runs to count allocations per request (0: skip)
}

// Bounds of Config, so that no flag can start an unbounded run.
const (
	maxDuration = 5 * time.Minute
	maxRounds   = 100
	maxClients  = 256
	maxMaxReq   = 100_000_000
	// requestTimeout bounds one request of a client.
	requestTimeout = 5 * time.Second
)

// DefaultConfig is what the command runs without flags.
func DefaultConfig() Config {
	return Config{
		Duration: time.Second, Warmup: 100 * time.Millisecond, Rounds: 3, Clients: 8,
		MaxRequests: 2_000_000, Frameworks: scenario.Frameworks(), Scenarios: scenario.Scenarios(),
		Latency: scenario.DefaultLatency, Seed: 1, AllocRuns: 500,
	}
}

// validate checks c's bounds and names.
func (c Config) validate() error {
	switch {
	case c.Duration <= 0 || c.Duration > maxDuration:
		return fmt.Errorf("duration must be in (0, %v], got %v", maxDuration, c.Duration)
	case c.Warmup < 0 || c.Warmup > maxDuration:
		return fmt.Errorf("warmup must be in [0, %v], got %v", maxDuration, c.Warmup)
	case c.Rounds < 1 || c.Rounds > maxRounds:
		return fmt.Errorf("rounds must be in [1, %d], got %d", maxRounds, c.Rounds)
	case c.Clients < 1 || c.Clients > maxClients:
		return fmt.Errorf("clients must be in [1, %d], got %d", maxClients, c.Clients)
	case c.MaxRequests < 1 || c.MaxRequests > maxMaxReq:
		return fmt.Errorf("max-requests must be in [1, %d], got %d", maxMaxReq, c.MaxRequests)
	case c.Latency < 0 || c.Latency > time.Second:
		return fmt.Errorf("latency must be in [0, 1s], got %v", c.Latency)
	case c.AllocRuns < 0 || c.AllocRuns > 100_000:
		return fmt.Errorf("alloc runs must be in [0, 100000], got %d", c.AllocRuns)
	case len(c.Frameworks) == 0 || len(c.Scenarios) == 0:
		return errors.New("no framework or no scenario selected")
	}
	for _, fw := range c.Frameworks {
		if !slices.Contains(scenario.Frameworks(), fw) {
			return fmt.Errorf("unknown framework %q", fw)
		}
	}
	for _, sc := range c.Scenarios {
		if !slices.Contains(scenario.Scenarios(), sc) {
			return fmt.Errorf("unknown scenario %q", sc)
		}
	}
	return nil
}

// cell is one framework under one scenario.
type cell struct {
	fw scenario.Framework
	sc scenario.Scenario
}

// cells lists the cells of c in display order.
func (c Config) cells() []cell {
	var out []cell
	for _, fw := range c.Frameworks {
		for _, sc := range c.Scenarios {
			if scenario.Supports(fw, sc) {
				out = append(out, cell{fw, sc})
			}
		}
	}
	return out
}

// roundResult is one cell's measurement in one round.
type roundResult struct {
	requests int64
	errors   int64
	elapsed  time.Duration
}

// CellResult aggregates one cell over every round.
type CellResult struct {
	Framework scenario.Framework
	Scenario  scenario.Scenario
	Requests  int64
	Errors    int64 // requests that failed or got another status than expected
	Elapsed   time.Duration
	Rounds    []float64 // req/s of each round, in round order
	P50, P99  time.Duration
	Allocs    float64 // allocations per request in process (-1: not measured)
	// StoreCalls and StoreMean describe the latency store of the slow
	// scenarios during the measured rounds (the wait it really achieved).
	StoreCalls int64
	StoreMean  time.Duration

	lat []time.Duration
}

// RPS returns the cell's requests per second over all rounds.
func (r *CellResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Report is the outcome of a run.
type Report struct {
	Config   Config
	Cells    []*CellResult // display order
	Machine  Machine
	LoadEnd  string // /proc/loadavg when the run ended
	Wait     scenario.Wait
	Started  time.Time
	Finished time.Time
}

// Cell returns the result of fw under sc, or nil.
func (r *Report) Cell(fw scenario.Framework, sc scenario.Scenario) *CellResult {
	for _, c := range r.Cells {
		if c.Framework == fw && c.Scenario == sc {
			return c
		}
	}
	return nil
}

// Run measures every cell of cfg, Rounds times, each round in a new shuffled
// order. Progress goes to progress, one line per cell and round.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rep := &Report{Config: cfg, Machine: ReadMachine(), Started: time.Now()}
	if slices.Contains(cfg.Scenarios, scenario.Slow) || slices.Contains(cfg.Scenarios, scenario.SlowCached) {
		rep.Wait = scenario.CalibrateWait(cfg.Latency)
		fmt.Fprintf(progress, "simulated store latency: %v\n", rep.Wait)
	}
	cells := cfg.cells()
	byCell := map[cell]*CellResult{}
	for _, c := range cells {
		res := &CellResult{Framework: c.fw, Scenario: c.sc, Allocs: -1}
		if cfg.AllocRuns > 0 {
			a, err := allocsPerRequest(c, cfg)
			if err != nil {
				return nil, err
			}
			res.Allocs = a
		}
		byCell[c] = res
		rep.Cells = append(rep.Cells, res)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	order := slices.Clone(cells)
	for round := range cfg.Rounds {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, c := range order {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			res := byCell[c]
			rr, lat, err := runCell(ctx, c, cfg, res)
			if err != nil {
				return nil, fmt.Errorf("%s/%s round %d: %w", c.fw, c.sc, round+1, err)
			}
			res.Requests += rr.requests
			res.Errors += rr.errors
			res.Elapsed += rr.elapsed
			res.lat = append(res.lat, lat...)
			rps := 0.0
			if rr.elapsed > 0 {
				rps = float64(rr.requests) / rr.elapsed.Seconds()
			}
			res.Rounds = append(res.Rounds, rps)
			fmt.Fprintf(progress, "round %d/%d  %-7s %-14s %9.0f req/s  %d requests  %d errors\n",
				round+1, cfg.Rounds, c.fw, c.sc, rps, rr.requests, rr.errors)
		}
	}
	for _, res := range rep.Cells {
		slices.Sort(res.lat)
		res.P50, res.P99 = Percentile(res.lat, 50), Percentile(res.lat, 99)
		res.lat = nil
	}
	rep.Finished = time.Now()
	rep.LoadEnd = loadAvg()
	return rep, nil
}

// allocsPerRequest counts the allocations of one request of c served in
// process into a no-op writer: the same handler the load runs, and the
// same number the micro-benchmarks report.
func allocsPerRequest(c cell, cfg Config) (float64, error) {
	t, err := scenario.Build(c.fw, c.sc, scenario.Config{Latency: cfg.Latency, CacheTTL: time.Minute})
	if err != nil {
		return 0, err
	}
	defer t.Close()
	w, r := scenario.NewDiscardWriter(), t.NewRequest()
	want := c.sc.ExpectedStatus()
	if got := t.ServeOnce(w, r); got != want {
		return 0, fmt.Errorf("%s/%s: in-process status %d, want %d", c.fw, c.sc, got, want)
	}
	runs := cfg.AllocRuns
	if c.sc == scenario.Slow { // each run waits for the store
		runs = min(runs, 50)
	}
	return testing.AllocsPerRun(runs, func() { t.ServeOnce(w, r) }), nil
}

// runCell serves c on a fresh loopback server and drives it with
// cfg.Clients keep-alive clients: Warmup unmeasured, then Duration (or
// MaxRequests, whichever ends first) measured. It returns the measured
// requests and their latencies.
func runCell(ctx context.Context, c cell, cfg Config, res *CellResult) (roundResult, []time.Duration, error) {
	t, err := scenario.Build(c.fw, c.sc, scenario.Config{Latency: cfg.Latency})
	if err != nil {
		return roundResult{}, nil, err
	}
	defer t.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback only
	if err != nil {
		return roundResult{}, nil, err
	}
	srv := &http.Server{Handler: t.Handler, ReadHeaderTimeout: requestTimeout, IdleTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-served
	}()

	tr := &http.Transport{
		Proxy:               nil, // never a proxy: the target is on this machine
		MaxIdleConns:        cfg.Clients,
		MaxIdleConnsPerHost: cfg.Clients,
		MaxConnsPerHost:     cfg.Clients,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: requestTimeout}
	url := "http://" + ln.Addr().String() + scenario.Path
	want := c.sc.ExpectedStatus()

	// Warm-up: connections opened, caches filled; nothing recorded.
	if cfg.Warmup > 0 {
		drive(ctx, client, url, t.Key, want, cfg.Clients, time.Now().Add(cfg.Warmup), cfg.MaxRequests, false)
	}
	var calls0 int64
	var mean0 time.Duration
	if t.Store != nil {
		calls0, mean0 = t.Store.Calls()
	}
	start := time.Now()
	rr, lat := drive(ctx, client, url, t.Key, want, cfg.Clients, start.Add(cfg.Duration), cfg.MaxRequests, true)
	rr.elapsed = time.Since(start)
	if t.Store != nil {
		calls1, mean1 := t.Store.Calls()
		if n := calls1 - calls0; n > 0 {
			total := time.Duration(calls1)*mean1 - time.Duration(calls0)*mean0 + time.Duration(res.StoreCalls)*res.StoreMean
			res.StoreCalls += n
			res.StoreMean = total / time.Duration(res.StoreCalls)
		}
	}
	return rr, lat, nil
}

// drive runs clients goroutines that each send requests until deadline, ctx
// ends, or limit requests were started in all. With record, it returns the
// count and the latency of every request.
func drive(ctx context.Context, client *http.Client, url, key string, want, clients int, deadline time.Time, limit int64, record bool) (roundResult, []time.Duration) {
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(requestTimeout))
	defer cancel()
	var budget atomic.Int64
	budget.Store(limit)
	var (
		mu  sync.Mutex
		all []time.Duration
		rr  roundResult
		wg  sync.WaitGroup
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var n, bad int64
			for time.Now().Before(deadline) && ctx.Err() == nil && budget.Add(-1) >= 0 {
				start := time.Now()
				ok := get(ctx, client, url, key, want)
				d := time.Since(start)
				n++
				if !ok {
					bad++
				}
				if record {
					lat = append(lat, d)
				}
			}
			mu.Lock()
			rr.requests += n
			rr.errors += bad
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return rr, all
}

// get sends one request and reads the whole answer; it reports whether the
// status was the expected one.
func get(ctx context.Context, client *http.Client, url, key string, want int) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	req.Header.Set(core.HeaderName, key)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return err == nil && resp.StatusCode == want
}
