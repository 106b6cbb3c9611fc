package core

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// reason is a kind of log line the validator writes on a rejection or a
// store failure. Each is sampled on its own (docs/design.md §8).
type reason uint8

const (
	reasonNotRunning reason = iota
	reasonNoUser
	reasonLookupFailed
	numReasons
)

var reasonNames = [numReasons]string{"sandbox_not_running", "sandbox_no_user", "lookup_failed"}

// Sampling defaults: per reason, the first logBurst lines of each
// logInterval are written, the rest counted.
const (
	logBurst    = 10
	logInterval = time.Second
)

// sampler keeps one caller's flood from flooding the logs: per reason, at
// most burst lines per interval are written, always including the first
// one. When a later line of that reason opens a new interval, a line
// "Suppressed repeated log lines" with the reason and the count of lines
// left out is written before it, so nothing vanishes without a trace.
type sampler struct {
	logger   *slog.Logger
	burst    int
	interval time.Duration
	now      func() time.Time
	states   [numReasons]sampleState
}

type sampleState struct {
	mu         sync.Mutex
	start      time.Time // of the current interval; zero before the first line
	written    int       // lines written in the current interval
	suppressed int64     // lines left out since the last summary
}

func newSampler(l *slog.Logger) *sampler {
	return &sampler{logger: l, burst: logBurst, interval: logInterval, now: time.Now}
}

// log writes the line unless its reason has used up this interval's burst.
func (s *sampler) log(ctx context.Context, r reason, level slog.Level, msg string, attrs ...slog.Attr) {
	if !s.logger.Enabled(ctx, level) {
		return
	}
	st := &s.states[r]
	now := s.now()
	st.mu.Lock()
	if st.start.IsZero() || now.Sub(st.start) >= s.interval {
		st.start, st.written = now, 0
	}
	if st.written >= s.burst {
		st.suppressed++
		st.mu.Unlock()
		return
	}
	st.written++
	suppressed := st.suppressed
	st.suppressed = 0
	st.mu.Unlock()
	if suppressed > 0 {
		s.logger.LogAttrs(ctx, level, "Suppressed repeated log lines",
			slog.String("reason", reasonNames[r]), slog.Int64("suppressed", suppressed))
	}
	s.logger.LogAttrs(ctx, level, msg, attrs...)
}
