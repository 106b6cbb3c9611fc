package cache

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/internal/lookupctx"
)

// ErrClosed is returned by the lookups of a closed Cache. It is a backend
// failure to the validator: 503, never 401 and never 200.
var ErrClosed = errors.New("sandboxauth/cache: cache is closed")

// ErrNoStatusLookup is returned by SandboxStatus when the inner store does
// not implement core.StatusStore.
var ErrNoStatusLookup = errors.New("sandboxauth/cache: the inner store has no status lookup")

// Cache is a caching decorator around a core.Store. It implements
// core.Store, core.StatusStore (passed through to the inner store) and
// core.Peeker (the validator's allocation-free fast path). Build one with
// New, hand it to core.New, and Close it when done.
type Cache struct {
	inner    core.Store
	status   core.StatusStore // inner as a StatusStore, or nil
	ttl      time.Duration
	stale    time.Duration // max-stale
	timeout  time.Duration
	clock    func() time.Time   // WithClock's, or nil for the real clock
	epoch    time.Time          // time.Now() at New: times are epoch + time.Since(epoch)
	observer core.CacheObserver // WithObserver's, or nil

	// entries maps string(digest) to *entry. Reads (the hit path) take only
	// go-cache's read lock; every write happens under mu, through putLocked
	// and deleteLocked, which keep count.
	entries *gocache.Cache
	count   atomic.Int64  // len(entries), read without the lock
	puts    atomic.Uint64 // entries stored so far, read without the lock
	closed  atomic.Bool

	mu      sync.Mutex
	index   map[string]map[string]struct{} // sandbox id -> digests of its cached keys
	flights map[[sha256.Size]byte]*flight  // digest -> the joinable store call in progress
	// The store calls in progress and the invalidations they must see.
	invalidations

	stop     chan struct{} // closed by Close; nil without a cleanup goroutine
	stopped  chan struct{} // closed when the cleanup goroutine has returned
	shutdown sync.Once
}

// entry is one cached, accepted lookup. It is never modified once stored.
type entry struct {
	info       *core.SandboxInfo // RUNNING; shared, never handed out but to the validator's Peek
	freshUntil time.Time
	staleUntil time.Time
}

// New returns a Cache that caches the accepted lookups of store. Defaults are
// set first, then opts are applied and validated; the first invalid option
// is returned. Unless WithCleanupInterval(0) is given, New starts one cleanup
// goroutine, which Close stops.
func New(store core.Store, opts ...Option) (*Cache, error) {
	if store == nil {
		return nil, errors.New("sandboxauth/cache: nil store")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	s := &Cache{
		inner:    store,
		ttl:      c.ttl,
		stale:    c.maxStale,
		timeout:  c.timeout,
		clock:    c.now,
		epoch:    time.Now(),
		observer: c.observer,
		// Entries carry no go-cache expiration: its Get would read the wall
		// clock on every hit, a second clock read beside ours, which costs
		// as much as the rest of the map lookup. Entries are aged by our clock
		// alone, and dropped by cleanup. No go-cache janitor either (interval
		// 0): it stops only when the cache is garbage collected.
		entries: gocache.New(gocache.NoExpiration, 0),
		index:   map[string]map[string]struct{}{},
		flights: map[[sha256.Size]byte]*flight{},
	}
	s.status, _ = store.(core.StatusStore)
	if c.cleanup > 0 {
		s.stop, s.stopped = make(chan struct{}), make(chan struct{})
		go s.cleanupLoop(c.cleanup)
	}
	return s, nil
}

// TTL returns how long an entry is served without a store call: the
// staleness bound when nothing invalidates.
func (s *Cache) TTL() time.Duration { return s.ttl }

// MaxStale returns the age up to which a stale entry is rechecked.
func (s *Cache) MaxStale() time.Duration { return s.stale }

// before reports whether the Cache's clock is before t. With the real clock
// it is time.Until, which reads only the monotonic clock when t carries a
// monotonic reading (every time the real clock made does): half the cost of
// time.Now, which also reads the wall clock, on the hit path.
func (s *Cache) before(t time.Time) bool {
	if s.clock == nil {
		return time.Until(t) > 0
	}
	return s.clock().Before(t)
}

// digest returns the SHA-256 of key without copying it (core.Digest).
func digest(key string) [sha256.Size]byte { return core.Digest(key) }

// get returns the entry under the digest k (string(digest[:])).
func (s *Cache) get(k string) (*entry, bool) {
	v, ok := s.entries.Get(k)
	if !ok {
		return nil, false
	}
	e, ok := v.(*entry)
	return e, ok
}

// PeekSandbox implements core.Peeker: it returns the record of a FRESH
// entry for key without I/O, and false otherwise (stale, absent, closed).
// The record is shared: the caller must neither modify nor retain it. A hit
// is reported to the observer as core.CacheHit; a miss is not (the
// validator's LookupSandbox that follows it reports it).
func (s *Cache) PeekSandbox(key string) (*core.SandboxInfo, bool) {
	if s.closed.Load() {
		return nil, false
	}
	d := digest(key)
	e, ok := s.get(string(d[:])) // does not allocate: the string stays on the stack
	if !ok || !s.before(e.freshUntil) {
		return nil, false
	}
	if s.observer != nil {
		s.observer.ObserveCache(core.CacheHit, int(s.count.Load()))
	}
	return e.info, true
}

// OwnsLookupDeadline tells package core that the cache bounds its shared
// store call by the deadline of the context it is given, so the validator
// can hand it its lookup timeout as a deadline without arming a timer. It
// does nothing; its parameter's type can only be named inside this module.
func (s *Cache) OwnsLookupDeadline(lookupctx.Mark) {}

// Holds reports whether the cache holds an entry for key that it may still
// serve, fresh or stale (to be rechecked). Such a key was accepted before:
// the validator's failure limiter does not refuse it (docs/design.md §8),
// so a client that shares its address with an attacker keeps its sandbox's
// key working when the entry is rechecked.
func (s *Cache) Holds(key string) bool {
	if s.closed.Load() {
		return false
	}
	d := digest(key)
	e, ok := s.get(string(d[:]))
	return ok && s.before(e.staleUntil)
}

// LookupSandbox implements core.Store. A fresh entry is answered from memory;
// a stale one is rechecked with the store; a miss is a full lookup. Misses
// and rechecks of one key share a single store call. The returned record is
// the caller's own copy.
func (s *Cache) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	info, _, err := s.LookupSandboxSource(ctx, key)
	return info, err
}

// LookupSandboxSource is LookupSandbox that also says where the answer came
// from, for core.Decision.Source: core.SourceCache (a fresh entry, no I/O),
// core.SourceRecheck (a stale entry, rechecked with the store: a status
// lookup, or a full lookup when the inner store has no status lookup) or
// core.SourceStore (a full lookup: no usable entry). It is core.SourceNone
// when no lookup was made (a closed Cache, a context already done). The
// validator calls it instead of LookupSandbox when its store has it.
func (s *Cache) LookupSandboxSource(ctx context.Context, key string) (*core.SandboxInfo, core.Source, error) {
	if s.closed.Load() {
		return nil, core.SourceNone, ErrClosed
	}
	r := round{d: digest(key), key: key, first: true}
	// Another round only when the entry changed while the caller looked,
	// or the answer of a store call it joined was older than an
	// invalidation that concerned it (do).
	for {
		r.puts = s.puts.Load()
		e, found := s.get(string(r.d[:]))
		r.stale, r.cold = nil, !found
		if found {
			switch {
			case s.before(e.freshUntil):
				if s.observer != nil && r.first {
					s.observer.ObserveCache(core.CacheHit, int(s.count.Load()))
				}
				return e.info.Clone(), core.SourceCache, nil
			case s.before(e.staleUntil):
				r.stale = e
			}
		}
		if err := ctx.Err(); err != nil { // the caller is gone: start no store call
			return nil, core.SourceNone, err
		}
		info, src, retry, err := s.do(ctx, &r)
		switch {
		case retry && src == core.SourceNone:
			r.reread = true
			continue
		case retry:
			r.first = false
			continue
		case err != nil:
			return nil, src, err
		}
		return info.Clone(), src, nil
	}
}

// SandboxStatus implements core.StatusStore by passing the call through to
// the inner store; ErrNoStatusLookup if the inner store has no such lookup.
func (s *Cache) SandboxStatus(ctx context.Context, sandboxID string) (core.Status, error) {
	if s.status == nil {
		return "", ErrNoStatusLookup
	}
	return s.status.SandboxStatus(ctx, sandboxID)
}

// Invalidate drops the entry of key, if any. When it returns, no request for
// key is served from the cache until a new store call has resolved it, and
// no lookup of key that began before it can store its result. Lookups of
// other keys are not affected.
func (s *Cache) Invalidate(key string) {
	d := digest(key)
	k := string(d[:])
	s.mu.Lock()
	s.gen++
	delete(s.flights, d) // later callers start a new store call
	s.recordLocked(invalidation{gen: s.gen, key: d, isKey: true})
	if e, ok := s.get(k); ok {
		s.unindexLocked(e.info.ID, k)
		s.deleteLocked(k)
	}
	n := s.count.Load()
	s.mu.Unlock()
	s.observe(core.CacheInvalidation, n)
}

// InvalidateSandbox drops every entry of the sandbox id (a sandbox may have
// several keys). When it returns, no request for that sandbox is served from
// the cache, and no lookup that began before it and finds that sandbox can
// store its result. Entries and lookups of other sandboxes are not affected
// (docs/design.md §6), whatever the rate of invalidations.
func (s *Cache) InvalidateSandbox(id string) {
	s.mu.Lock()
	s.gen++
	// A full lookup in progress may find this sandbox: a caller that joins
	// it from now on checks its answer (joinableLocked).
	s.sandboxGen = s.gen
	s.recordLocked(invalidation{gen: s.gen, id: id})
	s.evictSandboxLocked(id)
	n := s.count.Load()
	s.mu.Unlock()
	s.observe(core.CacheInvalidation, n)
}

// Flush drops every entry, as a change feed does when it reconnects and may
// have missed notifications. No lookup that began before it stores its
// result.
func (s *Cache) Flush() {
	s.mu.Lock()
	s.gen++
	clear(s.flights)
	s.dropAllLocked()
	clear(s.index)
	s.entries.Flush()
	s.count.Store(0)
	s.mu.Unlock()
	s.observe(core.CacheFlush, 0)
}

// Len returns the number of entries held, including expired ones that the
// cleanup has not dropped yet.
func (s *Cache) Len() int { return int(s.count.Load()) }

// Close stops the cleanup goroutine (waiting for it), cancels the store
// calls in progress and drops every entry. Lookups on a closed Cache fail
// with ErrClosed. Close is idempotent and always returns nil.
func (s *Cache) Close() error {
	s.shutdown.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		s.gen++
		s.dropAllLocked() // every call in progress is now in unchecked
		for f := s.unchecked.head; f != nil; f = f.next {
			f.cancelLocked(context.Canceled)
		}
		clear(s.index)
		s.entries.Flush()
		s.count.Store(0)
		s.mu.Unlock()
		if s.stop != nil {
			close(s.stop)
			<-s.stopped
		}
	})
	return nil
}

// observe reports ev to the observer, if any.
func (s *Cache) observe(ev core.CacheEvent, entries int64) {
	if s.observer != nil {
		s.observer.ObserveCache(ev, int(entries))
	}
}

// observeHeld reports ev like observe, for a caller between starting or
// joining a flight and its end: a panic of the observer is returned, for the
// caller to raise again once the flight is settled. Raised at once, it
// would leave a flight that nobody finishes (every later request for the key
// would join it and wait out its timeout) or a waiter that never leaves.
func (s *Cache) observeHeld(ev core.CacheEvent, entries int64) (p any) {
	defer func() { p = recover() }()
	s.observe(ev, entries)
	return nil
}

// observeEvictions reports n evictions that left after entries, one by one,
// each with the count it left behind, as if reported as they happened. The
// observer is never called with mu held: it may call the Cache.
func (s *Cache) observeEvictions(n int, after int64) {
	if s.observer == nil {
		return
	}
	for i := n - 1; i >= 0; i-- {
		s.observer.ObserveCache(core.CacheEviction, int(after)+i)
	}
}

// putLocked stores info (RUNNING) under k, fresh for a TTL from start and
// rechecked until horizon (never later than fresh: then a full lookup).
func (s *Cache) putLocked(k string, info *core.SandboxInfo, start, horizon time.Time) {
	old, had := s.get(k)
	if had && old.info.ID != info.ID {
		s.unindexLocked(old.info.ID, k)
	}
	fresh := start.Add(s.ttl)
	if horizon.Before(fresh) {
		fresh = horizon
	}
	s.entries.Set(k, &entry{info: info, freshUntil: fresh, staleUntil: horizon}, gocache.NoExpiration)
	s.puts.Add(1)
	if !had {
		s.count.Add(1)
	}
	keys := s.index[info.ID]
	if keys == nil {
		keys = map[string]struct{}{}
		s.index[info.ID] = keys
	}
	keys[k] = struct{}{}
}

// deleteLocked drops the entry under k, which must exist.
func (s *Cache) deleteLocked(k string) {
	s.entries.Delete(k)
	s.count.Add(-1)
}

func (s *Cache) unindexLocked(id, k string) {
	if keys := s.index[id]; keys != nil {
		delete(keys, k)
		if len(keys) == 0 {
			delete(s.index, id)
		}
	}
}

// evictSandboxLocked drops every entry of the sandbox id and returns how
// many it dropped.
func (s *Cache) evictSandboxLocked(id string) int {
	n := 0
	for k := range s.index[id] {
		if e, ok := s.get(k); ok && e.info.ID == id {
			s.deleteLocked(k)
			n++
		}
	}
	delete(s.index, id)
	return n
}

// cleanupLoop drops old entries every interval until Close.
func (s *Cache) cleanupLoop(interval time.Duration) {
	defer close(s.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.cleanup()
		}
	}
}

// cleanup drops the entries that are past max-stale by the Cache's clock and
// prunes the sandbox index. Each dropped entry is a core.CacheEviction.
func (s *Cache) cleanup() {
	s.mu.Lock()
	n := 0
	for id, keys := range s.index {
		for k := range keys {
			e, ok := s.get(k)
			switch {
			case ok && e.info.ID != id: // now indexed under its new sandbox
				delete(keys, k)
			case !ok:
				delete(keys, k)
			case !s.before(e.staleUntil):
				s.deleteLocked(k)
				delete(keys, k)
				n++
			}
		}
		if len(keys) == 0 {
			delete(s.index, id)
		}
	}
	after := s.count.Load()
	s.mu.Unlock()
	// Run by the cleanup goroutine, a CacheObserver's panic would end the
	// process, with no request to fail: it is logged (slog's default
	// logger; the cache has no other) and the cleanup goes on next time.
	defer func() {
		if p := recover(); p != nil {
			slog.Default().Error("sandboxauth/cache: CacheObserver panicked reporting evictions of the cleanup",
				slog.String("panic", fmt.Sprint(p)))
		}
	}()
	s.observeEvictions(n, after)
}

// storeCall is the store call of a flight, with the flight as its context: a
// status recheck of stale, or a full lookup of key when stale is nil or the
// inner store has no status lookup. A panicking store becomes an error that
// does not carry the key.
func (s *Cache) storeCall(ctx context.Context, key string, stale *entry) (info *core.SandboxInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			info, err = nil, fmt.Errorf("sandboxauth/cache: store panicked: %s", core.Redact(fmt.Sprint(p), key))
		}
	}()
	if stale != nil && s.status != nil {
		st, err := s.status.SandboxStatus(ctx, stale.info.ID)
		switch {
		case err != nil:
			return nil, err
		case st == core.StatusRunning:
			return stale.info, nil // immutable: shared by the refreshed entry
		}
		info := stale.info.Clone()
		info.Status = st
		return info, nil
	}
	info, err = s.inner.LookupSandbox(ctx, key)
	if err == nil && info == nil {
		err = errors.New("sandboxauth/cache: store returned no sandbox and no error")
	}
	return info, err
}
