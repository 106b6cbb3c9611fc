package cache

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

// flight is one store call shared by every caller that wants the same key
// while it runs: golang.org/x/sync/singleflight plus what that package cannot
// express, a count of the callers still waiting, so that the call is
// cancelled when the last one gives up and never because one of them did.
//
// The call runs on the goroutine of the caller that started it (the runner):
// no goroutine, channel or context is made for a lookup nobody else joins.
// A flight is itself the context of its store call: the runner's values,
// none of the runner's cancellation, a deadline that is the earlier of the
// runner's and the lookup timeout, and a Done channel that is closed when
// every waiting caller (the runner included) has left. The channel, and what
// feeds it (a context.AfterFunc on the runner's context, a timer for the
// lookup timeout), are made only if the store asks for Done: a store that
// never selects on it pays for none of them.
//
// The fields of the first two groups are set when the flight starts and
// never change; state is atomic; every other field is guarded by Cache.mu.
type flight struct {
	s     *Cache
	k     [sha256.Size]byte // the key's digest
	stale *entry            // the entry this flight rechecks; nil for a full lookup
	gen   uint64            // s.gen when the flight began
	puts  uint64            // s.puts when its runner read the entry (see cold)
	start time.Time         // the Cache's clock when it began: the age of what it finds

	parent   context.Context // the runner's context: values, and its departure
	deadline time.Time       // the call's deadline: the runner's or the lookup timeout's, the earlier

	waiters     int    // callers waiting for the result, the runner until it leaves
	lateJoiners int    // callers that joined after an InvalidateSandbox since gen
	taintGen    uint64 // the first invalidation of the found sandbox after gen, if lateJoiners
	cold        bool   // its runner read no entry for the key (when s.puts was puts)
	runnerGone  bool   // the runner's context ended while others waited
	noStore     bool   // an invalidation it cannot check happened: never store
	superseded  bool   // a later call for the key replaced it in the map: never store
	finished    bool   // info and err are set
	group       *group // the calls for the key that replaced one another while running, or nil

	ready chan struct{} // closed when finished; made when a second caller joins
	info  *core.SandboxInfo
	err   error

	done       chan struct{} // the call context's Done; made by the first Done call
	afterFuncs []*afterFunc  // registered by AfterFunc, run when it ends
	watching   bool          // stopRelay and timer are set up
	state      atomic.Uint32 // live, or why the call's context ended: Err without the lock
	stopRelay  func() bool   // stops the context.AfterFunc on parent
	timer      *time.Timer   // fires at deadline

	prev, next *flight     // neighbours in list
	list       *flightList // the list f is in: s.checked or s.unchecked; nil once finished
}

// flightList is a doubly linked list of flights, in the order they began.
type flightList struct{ head, tail *flight }

// push appends f, which is in no list.
func (l *flightList) push(f *flight) {
	f.prev, f.next, f.list = l.tail, nil, l
	if l.tail != nil {
		l.tail.next = f
	} else {
		l.head = f
	}
	l.tail = f
}

// remove takes f out of its list, if any.
func (f *flight) remove() {
	l := f.list
	if l == nil {
		return
	}
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next, f.list = nil, nil, nil
}

// closedChan is the Done channel of a flight that ended before anyone asked.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// source is where a flight's answer comes from, for LookupSandboxSource.
func (f *flight) source() core.Source {
	if f.stale != nil {
		return core.SourceRecheck
	}
	return core.SourceStore
}

// Deadline implements context.Context.
func (f *flight) Deadline() (time.Time, bool) { return f.deadline, true }

// Value implements context.Context: the runner's values.
func (f *flight) Value(key any) any { return f.parent.Value(key) }

// Done implements context.Context. The first call makes the channel and
// starts watching the runner's context and the lookup timeout.
func (f *flight) Done() <-chan struct{} {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.done == nil {
		if f.pollLocked(); f.state.Load() != live {
			f.done = closedChan
		} else {
			f.done = make(chan struct{})
			f.watchLocked()
		}
	}
	return f.done
}

// AfterFunc arranges for fn to run on its own goroutine once the call's
// context is done, as context.AfterFunc does; stop unregisters it. With it,
// a context the store derives from the flight (context.WithTimeout, as
// database drivers do) is tied to it without a goroutine of its own.
func (f *flight) AfterFunc(fn func()) (stop func() bool) {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.pollLocked(); f.state.Load() != live {
		go fn()
		return func() bool { return false }
	}
	f.watchLocked()
	a := &afterFunc{fn: fn}
	f.afterFuncs = append(f.afterFuncs, a)
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if a.fired {
			return false
		}
		a.fired = true
		return true
	}
}

// afterFunc is a function registered with flight.AfterFunc.
type afterFunc struct {
	fn    func()
	fired bool // run or stopped
}

// watchLocked starts watching the runner's context and the lookup timeout,
// once: from then on the call's context ends on time by itself.
func (f *flight) watchLocked() {
	if f.watching {
		return
	}
	f.watching = true
	if !f.runnerGone {
		f.stopRelay = context.AfterFunc(f.parent, f.parentDone)
	}
	f.timer = time.AfterFunc(time.Until(f.deadline), f.expire)
}

// Err implements context.Context. It looks at the runner's context and the
// clock itself (without a Done channel nothing watches them, and with one
// the watchers run a moment later), taking the lock only when either ended.
func (f *flight) Err() error {
	if err := f.cerr(); err != nil {
		return err
	}
	if f.parent.Err() == nil && time.Until(f.deadline) > 0 {
		return nil
	}
	f.s.mu.Lock()
	f.pollLocked()
	f.s.mu.Unlock()
	return f.cerr()
}

// The states of a flight's context.
const (
	live uint32 = iota
	canceled
	expired
)

// cerr is the error of the call's context: nil while it is live.
func (f *flight) cerr() error {
	switch f.state.Load() {
	case canceled:
		return context.Canceled
	case expired:
		return context.DeadlineExceeded
	}
	return nil
}

// String makes a flight print like the contexts it stands for.
func (f *flight) String() string { return "sandboxauth/cache.flight" }

// pollLocked does what the watchers of Done would have done by now.
func (f *flight) pollLocked() {
	if f.state.Load() != live {
		return
	}
	if !f.runnerGone {
		if err := f.parent.Err(); err != nil {
			f.runnerLeftLocked(err)
		}
	}
	if f.state.Load() == live && time.Until(f.deadline) <= 0 {
		f.cancelLocked(context.DeadlineExceeded)
	}
}

// parentDone runs (on its own goroutine) when the runner's context ends.
func (f *flight) parentDone() {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if !f.runnerGone && f.state.Load() == live {
		f.runnerLeftLocked(f.parent.Err())
	}
}

// expire runs (on its own goroutine) when the lookup timeout passes.
func (f *flight) expire() {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.cancelLocked(context.DeadlineExceeded)
}

// runnerLeftLocked records that the runner's request ended with err. Past
// its deadline, which bounds the call, the call ends for everyone; cancelled,
// the runner stops counting as a waiter and the call goes on for the others.
// The runner itself stays in the call until the store returns.
func (f *flight) runnerLeftLocked(err error) {
	f.runnerGone = true
	if errors.Is(err, context.DeadlineExceeded) { // the call's deadline is no later
		f.cancelLocked(context.DeadlineExceeded)
		return
	}
	f.waiters--
	if f.waiters <= 0 {
		f.cancelLocked(context.Canceled)
	}
}

// cancelLocked ends the call's context with err and releases its watchers.
// A later caller must not join a cancelled call: it leaves the map.
func (f *flight) cancelLocked(err error) {
	if f.state.Load() != live {
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		f.state.Store(expired)
	} else {
		f.state.Store(canceled)
	}
	if f.done != nil && f.done != closedChan {
		close(f.done)
	}
	for _, a := range f.afterFuncs {
		if !a.fired {
			a.fired = true
			go a.fn()
		}
	}
	f.afterFuncs = nil
	if f.stopRelay != nil {
		f.stopRelay()
		f.stopRelay = nil
	}
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	if f.s.flights[f.k] == f {
		delete(f.s.flights, f.k)
	}
}

// joinableLocked reports whether a caller that needs a recheck of stale (a
// full lookup if nil) may wait for f's answer. f must ask the store the same
// thing (a caller past the max-stale horizon must not take the answer of a
// status recheck, which cannot tell a revoked key) and be neither cancelled
// nor past saving. Invalidate and Flush take the flights they concern out of
// the map themselves.
//
// An InvalidateSandbox since f began does not close it: a full lookup's
// sandbox is unknown until the store answers, and invalidations of other
// sandboxes must not split a stampede into many store calls. A caller that
// joins after one (late) checks the answer instead (tainted) and, if that
// invalidation concerned it, asks again; with late false (a second
// attempt) it joins only a flight no InvalidateSandbox happened during.
// A recheck's sandbox is known, and its invalidation removed the entry: a
// caller that saw that entry no longer finds it current (do), so it never
// joins the recheck of an invalidated sandbox.
//
// Nor does a caller join a call that began a TTL or more ago (a slow
// store): its answer is as old as its start, too old to be fresh for a
// request that arrives now, which would otherwise be accepted up to the
// lookup timeout after a status change rather than within the TTL. It
// starts the next call, which later callers join: one call per key per TTL
// while the store is that slow, and never more than maxOverlap at once (a
// TTL far below the store's latency would otherwise turn a slow store into
// a stampede on it); past that, callers join the newest call.
func (s *Cache) joinableLocked(f *flight, stale *entry, late bool) bool {
	return f.stale == stale && f.state.Load() == live && !f.noStore && (late || s.sandboxGen <= f.gen) &&
		(s.before(f.start.Add(s.ttl)) || f.overlapLocked() >= maxOverlap)
}

// maxOverlap is how many store calls for one key may run at once because
// each began a TTL after the one before (joinableLocked).
const maxOverlap = 4

// group counts the calls for one key that are running at once because each
// replaced the one before in the map (startLocked). Shared by them, and
// counted down as each finishes, in whatever order. A call that left the
// map another way (cancelled, invalidated, flushed) takes its group with
// it: the next call starts a new one (docs/design.md §6; core.LimitLookups
// bounds a store that keeps working after its context ended).
type group struct{ running int }

// overlapLocked returns how many calls of f's group are running, f
// included.
func (f *flight) overlapLocked() int {
	if f.group == nil {
		return 1
	}
	return f.group.running
}

// tainted reports whether the answer of f, finished, may be given to a
// caller that joined it at generation joined, after an InvalidateSandbox
// that happened since f began: not if the store named a sandbox that was
// invalidated between f's start and the join, nor if it named none (not
// found: the key may have been issued since, which the invalidation told),
// nor if the invalidations could not all be remembered.
func (f *flight) tainted(joined uint64) bool {
	switch {
	case f.noStore:
		return true
	case f.err == nil:
		return f.taintGen != 0 && f.taintGen <= joined
	default:
		return errors.Is(f.err, core.ErrNotFound)
	}
}

// round is one attempt of a caller of LookupSandboxSource that found no
// fresh entry. A caller makes at most three: one more when the entry changed
// between its read and the lock (once), one more when the answer it shared
// was tainted (once, since the next round does not join late).
type round struct {
	d      [sha256.Size]byte
	key    string
	stale  *entry // the stale entry read (within its horizon), or nil
	cold   bool   // no entry at all was read...
	puts   uint64 // ...after s.puts was this
	first  bool   // no answer was refused yet: it may join late, and reports its event
	reread bool   // it read the entry again once already
}

// do answers r with a store call: it joins the flight for r's digest if one
// is joinable, and otherwise starts one and runs it itself. The result is
// shared: callers copy it. retry says the caller must look again: the entry
// changed since it read it (src is then core.SourceNone), or the answer of
// the flight it joined was tainted (src is the flight's; the next round is
// not first).
func (s *Cache) do(ctx context.Context, r *round) (info *core.SandboxInfo, src core.Source, retry bool, err error) {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil, core.SourceNone, false, ErrClosed
	}
	stale := r.stale
	if stale != nil {
		// stale was read without the lock. If an invalidation (or a
		// refresh) replaced it since, it must not be rechecked and stored
		// again: the recheck only asks for the sandbox's status, which says
		// nothing about whether this key still belongs to it. Fall back to
		// a full lookup.
		if cur, ok := s.get(string(r.d[:])); !ok || cur != stale {
			stale = nil
			if ok && !r.reread { // a refresh: it may be fresh, read it again
				s.mu.Unlock()
				return nil, core.SourceNone, true, nil
			}
		}
	} else if r.cold && s.puts.Load() != r.puts && !r.reread {
		// An entry may have been stored for the key since the caller
		// looked: read it again rather than ask the store once more.
		s.mu.Unlock()
		return nil, core.SourceNone, true, nil
	}
	ev := core.CacheMiss
	if stale != nil {
		ev = core.CacheStaleRecheck
	}
	if f := s.flights[r.d]; f != nil && s.joinableLocked(f, stale, r.first) {
		f.waiters++
		if f.ready == nil {
			f.ready = make(chan struct{})
		}
		joined, late := s.gen, s.sandboxGen > f.gen
		if late {
			f.lateJoiners++
		}
		n := s.count.Load()
		s.mu.Unlock()
		if r.first {
			if p := s.observeHeld(ev, n); p != nil {
				defer func() { panic(p) }()
			}
		}
		var left bool
		info, src, err, left = s.wait(ctx, f)
		if !left && late && f.tainted(joined) {
			// Never the tainted answer. A caller whose context ended (or
			// whose deadline passed) as the call finished does not ask
			// the store again either.
			if cerr := ctxErr(ctx); cerr != nil {
				return nil, src, false, cerr
			}
			return nil, src, true, nil
		}
		return info, src, false, err
	}
	// A flight that is not joinable stays in progress for its own waiters;
	// finish removes only its own map slot.
	f := s.startLocked(ctx, r, stale)
	n := s.count.Load()
	s.mu.Unlock()
	if r.first {
		if p := s.observeHeld(ev, n); p != nil {
			defer func() { panic(p) }()
		}
	}

	info, err = s.storeCall(f, r.key, stale)
	if s.finish(f, info, err) { // the runner's request ended while others waited
		return nil, f.source(), false, ctx.Err()
	}
	return info, f.source(), false, err
}

// startLocked makes the flight for d, in the map and in the in-progress
// list, with its runner as its one waiter.
func (s *Cache) startLocked(ctx context.Context, r *round, stale *entry) *flight {
	f := &flight{s: s, k: r.d, stale: stale, gen: s.gen, cold: r.cold, puts: r.puts, parent: ctx, waiters: 1}
	// The age of what this call finds is counted from now, before the store
	// is asked: a status change after this instant is seen at most one TTL
	// later. The deadline is on the real clock.
	real := s.epoch.Add(time.Since(s.epoch)) // time.Now without the wall clock read
	f.start = real
	if s.clock != nil {
		f.start = s.clock()
	}
	// The call keeps its deadline itself (its timer, armed only if the
	// store asks for Done, or a clock read in Err) rather than rely on the
	// runner's context to end at it: the validator hands a cache a context
	// that carries its lookup timeout as a deadline without arming a timer
	// for it (core's sourceLookup contract), so a miss costs no timer at
	// all unless the store watches Done.
	f.deadline = real.Add(s.timeout)
	if pd, ok := ctx.Deadline(); ok && pd.Before(f.deadline) {
		f.deadline = pd
	}
	if old := s.flights[r.d]; old != nil {
		// The call it replaces (not joinable: too old, or asking something
		// else) still answers its own waiters, but stores nothing: it
		// began earlier, and finishing later it would put an older answer
		// over this one's (a RUNNING read before a revocation over the
		// not-found read after it).
		old.superseded = true
		if old.group == nil {
			old.group = &group{running: 1}
		}
		f.group = old.group
		f.group.running++
	}
	s.flights[r.d] = f
	s.checked.push(f)
	return f
}

// wait waits for f's result as a caller that joined it, or for ctx to end.
// It reports whether it left before the result (ctx ended, or its deadline
// passed: the validator hands a cache a context whose Done does not close at
// its deadline, so a caller that joins a call started with a later deadline,
// or one whose store ignores its context, keeps its own bound here).
func (s *Cache) wait(ctx context.Context, f *flight) (info *core.SandboxInfo, src core.Source, err error, left bool) {
	var expired <-chan time.Time
	if d, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(d))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-f.ready:
		return f.info, f.source(), f.err, false
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = context.DeadlineExceeded
	}
	s.mu.Lock()
	if !f.finished {
		f.waiters--
		if f.waiters == 1 && !f.runnerGone {
			// Only the runner is left: has its request ended too?
			if err := f.parent.Err(); err != nil {
				f.runnerLeftLocked(err)
			}
		}
		if f.waiters <= 0 {
			f.cancelLocked(context.Canceled)
		}
	}
	s.mu.Unlock()
	return nil, f.source(), err, true
}

// ctxErr is ctx.Err, or context.DeadlineExceeded once ctx's deadline has
// passed even if nothing closed its Done.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= 0 {
		return context.DeadlineExceeded
	}
	return nil
}

// finish publishes the result of f's store call. It caches a RUNNING record
// unless an invalidation concerning it (of its key, of the sandbox the
// store named, a Flush, Close) happened since the flight began, and evicts
// the sandbox's entries when it learns the sandbox is not running or gone.
// It reports whether the runner's request ended while others waited.
func (s *Cache) finish(f *flight, info *core.SandboxInfo, err error) (runnerGone bool) {
	s.mu.Lock()
	if s.flights[f.k] == f {
		delete(s.flights, f.k)
	}
	if f.group != nil {
		f.group.running--
	}
	evicted := 0
	switch {
	case err == nil && info.Status == core.StatusRunning:
		if s.mayStoreLocked(f, info.ID) {
			// A status recheck proves the sandbox runs, not that the key is
			// still its key (it may have been rotated): it refreshes the
			// entry but never extends its max-stale horizon, which only a
			// full lookup sets. A revoked key thus dies within max-stale
			// even if nobody invalidates it.
			horizon := f.start.Add(s.stale)
			if f.stale != nil && s.status != nil {
				horizon = f.stale.staleUntil
			}
			s.putLocked(string(f.k[:]), info, f.start, horizon)
		}
	case err == nil:
		evicted += s.evictSandboxLocked(info.ID)
		if f.stale != nil && f.stale.info.ID != info.ID {
			evicted += s.evictSandboxLocked(f.stale.info.ID)
		}
	case errors.Is(err, core.ErrNotFound):
		if f.stale != nil {
			evicted += s.evictSandboxLocked(f.stale.info.ID)
		}
		// No entry for the key when the call began and none stored since:
		// nothing to drop, and no need to look (the path of unknown keys).
		if f.cold && s.puts.Load() == f.puts {
			break
		}
		if e, ok := s.get(string(f.k[:])); ok {
			k := string(f.k[:])
			s.unindexLocked(e.info.ID, k)
			s.deleteLocked(k)
			evicted++
		}
	}
	// Any other error keeps a stale entry: it is rechecked again, never
	// served without a successful recheck.
	if f.lateJoiners > 0 && err == nil && !f.noStore {
		f.taintGen = s.firstInvalidationLocked(info.ID, f.gen)
	}
	f.remove() // after the log was read: pruning forgets what f needed
	s.pruneLocked()
	f.info, f.err, f.finished = info, err, true
	runnerGone = f.runnerGone
	f.cancelLocked(context.Canceled) // the call is over: release its watchers
	if f.ready != nil {
		close(f.ready)
	}
	n := s.count.Load()
	s.mu.Unlock()
	s.observeEvictions(evicted, n)
	return runnerGone
}
