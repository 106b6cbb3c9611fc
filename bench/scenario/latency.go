package scenario

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

// Wait is a calibrated way to park the calling goroutine for about Target,
// the way a goroutine waiting on a database's socket is parked.
//
// Go's timers (time.Sleep, time.NewTimer) cannot simulate a 200 µs store on
// this kind of machine: when the process is otherwise idle, the runtime
// waits in epoll with millisecond granularity, and a 200 µs sleep takes
// ~1.1 ms. A busy-wait hits the target but burns a CPU for the whole wait,
// which a real round trip does not (on 2 cores it starves the server and
// the clients of the load test). Blocking the thread in nanosleep(2) leaves
// the scheduler's P stuck in the system call until sysmon retakes it, which
// adds up to milliseconds of queueing under load. So on Linux a Wait arms a
// timerfd(2) and reads it through the runtime's network poller: the
// goroutine parks, its P runs other work, and epoll wakes it when the
// kernel's high-resolution timer fires, as it would for a socket that became
// readable. The wake-up costs ~50 µs here, so Request is chosen by
// calibration to make the median wait about Target. Elsewhere it falls back
// to time.Sleep(Target), uncalibrated.
type Wait struct {
	// Target is the wait asked for.
	Target time.Duration
	// Request is what is passed to the sleep call.
	Request time.Duration
	// Measured is the median wait of Request seen during calibration.
	Measured time.Duration
	// Method names the mechanism: "timerfd" or "time.Sleep".
	Method string
}

// Do blocks for about w.Target, then returns ctx's error, if any.
func (w Wait) Do(ctx context.Context) error {
	if w.Target > 0 {
		sleep(w.Request)
	}
	return ctx.Err()
}

// String describes w for reports.
func (w Wait) String() string {
	return w.Method + "(" + w.Request.String() + "), median " + w.Measured.Round(time.Microsecond).String() +
		" for a target of " + w.Target.String()
}

var (
	calMu sync.Mutex
	cal   = map[time.Duration]Wait{}
)

// calibrationSamples is the number of waits measured per candidate request.
const calibrationSamples = 21

// CalibrateWait returns a Wait whose median duration is as close to target
// as the candidates (target, target - 5%, ... 0) allow. The result is
// remembered per target, so the cost (tens of milliseconds) is paid once per
// process.
func CalibrateWait(target time.Duration) Wait {
	calMu.Lock()
	defer calMu.Unlock()
	if w, ok := cal[target]; ok {
		return w
	}
	w := Wait{Target: target, Method: sleepMethod}
	if target > 0 {
		w.Request, w.Measured = calibrate(target)
	}
	cal[target] = w
	return w
}

// calibrate walks the request down from target in 5% steps until the median
// wait is no longer above target, and returns the candidate whose median is
// closest to target.
func calibrate(target time.Duration) (req, med time.Duration) {
	if !calibrated {
		return target, medianWait(target)
	}
	step := max(target/20, time.Microsecond)
	best, bestMed := target, medianWait(target)
	for r := target - step; r >= 0 && bestMed > target; r -= step {
		m := medianWait(r)
		if absDur(m-target) < absDur(bestMed-target) {
			best, bestMed = r, m
		}
		if m <= target {
			break
		}
	}
	return best, bestMed
}

func medianWait(d time.Duration) time.Duration {
	xs := make([]time.Duration, calibrationSamples)
	for i := range xs {
		start := time.Now()
		sleep(d)
		xs[i] = time.Since(start)
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// LatencyStore is a core.Store and core.StatusStore that waits about a fixed
// latency (see Wait) before each call to an inner core.MemoryStore: a database
// a network hop away. It counts its calls and their total duration.
type LatencyStore struct {
	inner *core.MemoryStore
	wait  Wait
	calls atomic.Int64
	total atomic.Int64 // ns spent waiting
}

// NewLatencyStore wraps inner with a calibrated wait of latency.
func NewLatencyStore(inner *core.MemoryStore, latency time.Duration) (*LatencyStore, error) {
	if inner == nil {
		return nil, errors.New("scenario: nil inner store")
	}
	if latency < 0 {
		return nil, errors.New("scenario: negative latency")
	}
	return &LatencyStore{inner: inner, wait: CalibrateWait(latency)}, nil
}

// Wait returns the store's calibrated wait.
func (s *LatencyStore) Wait() Wait { return s.wait }

// Calls returns the number of store calls so far and their mean wait.
func (s *LatencyStore) Calls() (n int64, mean time.Duration) {
	n = s.calls.Load()
	if n == 0 {
		return 0, 0
	}
	return n, time.Duration(s.total.Load() / n)
}

func (s *LatencyStore) delay(ctx context.Context) error {
	start := time.Now()
	err := s.wait.Do(ctx)
	s.total.Add(int64(time.Since(start)))
	s.calls.Add(1)
	return err
}

// LookupSandbox implements core.Store.
func (s *LatencyStore) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	if err := s.delay(ctx); err != nil {
		return nil, err
	}
	return s.inner.LookupSandbox(ctx, key)
}

// SandboxStatus implements core.StatusStore.
func (s *LatencyStore) SandboxStatus(ctx context.Context, id string) (core.Status, error) {
	if err := s.delay(ctx); err != nil {
		return "", err
	}
	return s.inner.SandboxStatus(ctx, id)
}
