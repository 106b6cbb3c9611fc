package main

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Logs that a flood cannot amplify (docs/design.md §8). The validator
// samples its own warning and error lines; sandboxd samples the lines it
// writes per request the same way: per kind of line, the first lines of
// each interval are written, the rest are counted, and the next line of
// that kind after the interval is preceded by one "Suppressed repeated log
// lines" line with the count. Nothing vanishes without a trace, and no
// client can make sandboxd write more than a fixed number of lines a second.
//
// The access log samples every status on its own: 4xx and 5xx (what a flood
// of bad keys or tokens produces) at accessRejectedBurst lines a second per
// status, 2xx and 3xx at accessOKBurst lines a second per status, which a
// small deployment's honest traffic stays under (so it keeps one line per
// request) and an agent hammering with a valid key cannot exceed.
const (
	accessRejectedBurst = 5
	accessOKBurst       = 100
	errorLogBurst       = 5 // sandboxd's own error lines, per kind
	logSampleInterval   = time.Second
)

// logSampler writes at most burst lines per interval per key.
type logSampler struct {
	logger   *slog.Logger
	burst    int
	interval time.Duration
	now      func() time.Time
	mu       sync.Mutex
	states   map[string]*sampleState // keys come from a small fixed set
}

type sampleState struct {
	start      time.Time // of the current interval
	written    int       // lines written in the current interval
	suppressed int64     // lines left out since the last summary
	level      slog.Level
}

func newLogSampler(l *slog.Logger, burst int) *logSampler {
	return &logSampler{logger: l, burst: burst, interval: logSampleInterval, now: time.Now, states: map[string]*sampleState{}}
}

// log writes the line unless key has used up this interval's burst.
func (s *logSampler) log(ctx context.Context, key string, level slog.Level, msg string, attrs ...slog.Attr) {
	if !s.logger.Enabled(ctx, level) {
		return
	}
	now := s.now()
	s.mu.Lock()
	st := s.states[key]
	if st == nil {
		st = &sampleState{}
		s.states[key] = st
	}
	if st.start.IsZero() || now.Sub(st.start) >= s.interval {
		st.start, st.written = now, 0
	}
	if st.written >= s.burst {
		st.suppressed++
		st.level = max(st.level, level)
		s.mu.Unlock()
		return
	}
	st.written++
	suppressed := st.suppressed
	st.suppressed = 0
	s.mu.Unlock()
	if suppressed > 0 {
		s.summary(ctx, key, level, suppressed)
	}
	s.logger.LogAttrs(ctx, level, msg, attrs...)
}

func (s *logSampler) summary(ctx context.Context, key string, level slog.Level, n int64) {
	s.logger.LogAttrs(ctx, level, "Suppressed repeated log lines", slog.String("reason", key), slog.Int64("suppressed", n))
}

// flush writes the summaries still pending (at shutdown).
func (s *logSampler) flush() {
	s.mu.Lock()
	type pending struct {
		key   string
		level slog.Level
		n     int64
	}
	var out []pending
	for k, st := range s.states {
		if st.suppressed > 0 {
			out = append(out, pending{k, st.level, st.suppressed})
			st.suppressed = 0
		}
	}
	s.mu.Unlock()
	for _, p := range out {
		s.summary(context.Background(), p.key, p.level, p.n)
	}
}

// accessLogger writes the access log: one line per request, sampled per
// status as described above.
type accessLogger struct {
	log      *slog.Logger
	ok       *logSampler // 1xx, 2xx, 3xx
	rejected *logSampler // 4xx, 5xx
	panics   *logSampler
}

func newAccessLogger(l *slog.Logger) *accessLogger {
	return &accessLogger{log: l, ok: newLogSampler(l, accessOKBurst), rejected: newLogSampler(l, accessRejectedBurst),
		panics: newLogSampler(l, errorLogBurst)}
}

// request logs one request: method, path, status, duration; never headers,
// so never a key or a token.
func (a *accessLogger) request(r *http.Request, status int, d time.Duration) {
	s := a.ok
	if status >= 400 {
		s = a.rejected
	}
	s.log(r.Context(), "request_"+strconv.Itoa(status), slog.LevelInfo, "request", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", status), slog.Duration("duration", d))
}

// panicked logs a handler's panic.
func (a *accessLogger) panicked(r *http.Request, p any) {
	a.panics.log(r.Context(), "handler_panic", slog.LevelError, "handler panicked", slog.String("path", r.URL.Path), slog.Any("panic", p))
}

func (a *accessLogger) flush() {
	a.ok.flush()
	a.rejected.flush()
	a.panics.flush()
}

// serverErrorLog is http.Server's ErrorLog, sampled: a client can make the
// server log per connection (a bad TLS handshake, a malformed request).
func serverErrorLog(s *logSampler) *log.Logger { return log.New(samplerWriter{s}, "", 0) }

type samplerWriter struct{ s *logSampler }

func (w samplerWriter) Write(p []byte) (int, error) {
	w.s.log(context.Background(), "http_server", slog.LevelWarn, strings.TrimSpace(string(p)))
	return len(p), nil
}
