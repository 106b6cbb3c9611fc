package cache_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// FuzzCacheModel drives a Cache with operation sequences decoded from the
// input and checks every answer against a reference model of what the
// cache promises (docs/design.md §6), not of how it works:
//
//   - Accepted (key → sandbox S, RUNNING): the store must have mapped the
//     key to S at some step within max-stale, and S must have been RUNNING at
//     some step within the TTL, both no earlier than the last invalidation
//     concerning the answer (Invalidate of the key, InvalidateSandbox of S,
//     Flush). An answer from memory (core.SourceCache, PeekSandbox) must
//     moreover rest on a store call for that key that accepted it, made
//     after that invalidation and less than a TTL ago.
//   - A record with another status: S has that status now, and the key
//     mapped to S within max-stale (a status recheck sees the status, not
//     the key).
//   - Not found: always allowed, except that a lookup of a key that is valid
//     now (its sandbox RUNNING, the store answering) must be accepted, with
//     that sandbox: the cache never falsely rejects a valid key.
//   - Any other error: only while the store fails.
//   - Source: core.SourceCache exactly when no store call was made;
//     core.SourceRecheck for a stale entry, core.SourceStore otherwise.
//   - Bookkeeping: Len agrees with go-cache; with no call in progress the
//     invalidation log and the flight map are empty; each lookup reports
//     exactly one of hit, miss, stale recheck, and the observer's entry
//     counts follow Len.
//
// Keys are never reused (as real keys, 32 random bytes, are not), so a key
// belongs to at most one sandbox in its life. Time moves only forward.
//
//	go test -run '^$' -fuzz '^FuzzCacheModel$' -fuzztime 1m ./cache
func FuzzCacheModel(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runModel(t, data)
	})
}

// TestCacheModelRandom runs the model on a few thousand pseudo-random
// sequences, so that a plain `go test` (which runs FuzzCacheModel only on
// its seeds and testdata/fuzz/FuzzCacheModel) exercises it more widely.
func TestCacheModelRandom(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	state := uint64(0x9e3779b97f4a7c15)
	for i := range n {
		data := make([]byte, 16+i%200)
		for j := range data {
			state ^= state << 13
			state ^= state >> 7
			state ^= state << 17
			data[j] = byte(state)
		}
		runModel(t, data)
		if t.Failed() {
			t.Fatalf("sequence %d: %x", i, data)
		}
	}
}

// The model's constants.
const (
	modelTTL       = time.Second
	modelSandboxes = 3
)

// modelStore is the store behind the cache in the model: sandboxes s0..s2,
// each with a status and any number of keys. It counts its calls.
type modelStore struct {
	mu      sync.Mutex
	keys    map[string]string      // valid key -> sandbox id
	status  map[string]core.Status // sandbox id -> status, for the sandboxes that exist
	failing bool
	calls   int
}

var errModelDown = errors.New("model store is down")

func (m *modelStore) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.failing {
		return nil, errModelDown
	}
	id, ok := m.keys[key]
	if !ok {
		return nil, core.ErrNotFound
	}
	return &core.SandboxInfo{ID: id, CreatedByUserID: "u", Status: m.status[id],
		ExposedURLs: []core.ExposedURL{{Name: "AGENT_SERVER", URL: "http://" + id, Port: 1}}}, nil
}

func (m *modelStore) SandboxStatus(ctx context.Context, id string) (core.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if m.failing {
		return "", errModelDown
	}
	st, ok := m.status[id]
	if !ok {
		return "", core.ErrNotFound
	}
	return st, nil
}

// snapshot is the store's state after one step, and the clock then.
type snapshot struct {
	at     time.Time
	keys   map[string]string
	status map[string]core.Status
}

// recordingObserver keeps every event.
type recordingObserver struct {
	mu     sync.Mutex
	events []observed
}

type observed struct {
	ev      core.CacheEvent
	entries int
}

func (o *recordingObserver) ObserveCache(ev core.CacheEvent, entries int) {
	o.mu.Lock()
	o.events = append(o.events, observed{ev, entries})
	o.mu.Unlock()
}

func (o *recordingObserver) take() []observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	ev := o.events
	o.events = nil
	return ev
}

// model is one run: the cache, the store, and what the model remembers.
type model struct {
	t        *testing.T
	c        *cache.Cache
	st       *modelStore
	clock    *fakeClock
	obs      *recordingObserver
	maxStale time.Duration
	step     int
	history  []snapshot // history[i]: after step i
	issued   []string   // every key ever issued, in order
	nextKey  int

	invalKey     map[string]int // key -> step of its last Invalidate
	invalSandbox map[string]int // sandbox -> step of its last InvalidateSandbox
	flushed      int            // step of the last Flush
	accepted     map[string][]snapshotRef
	log          []string // the operations so far, for failure messages
}

// snapshotRef is a store call that accepted a key: at which step, when.
type snapshotRef struct {
	step int
	at   time.Time
	id   string
}

func runModel(t *testing.T, data []byte) {
	if len(data) == 0 {
		return
	}
	cfg, ops := data[0], data[1:]
	withStatus := cfg&1 == 1
	maxStale := time.Duration(1+int(cfg>>1)%10) * modelTTL
	st := &modelStore{keys: map[string]string{}, status: map[string]core.Status{}}
	var inner core.Store = st
	if !withStatus {
		inner = lookupOnly{st}
	}
	m := &model{t: t, st: st, clock: newClock(), obs: &recordingObserver{}, maxStale: maxStale,
		invalKey: map[string]int{}, invalSandbox: map[string]int{}, accepted: map[string][]snapshotRef{}}
	c, err := cache.New(inner, cache.WithTTL(modelTTL), cache.WithMaxStale(maxStale), cache.WithCleanupInterval(0),
		cache.WithClock(m.clock.Now), cache.WithObserver(m.obs))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m.c = c
	m.logf("config: status lookup %v, max-stale %v", withStatus, maxStale)
	for i := range modelSandboxes {
		id := fmt.Sprintf("s%d", i)
		st.status[id] = core.StatusRunning
		m.issue(id)
	}
	m.snap()
	for len(ops) >= 2 && m.step < 400 {
		op, arg := ops[0], ops[1]
		ops = ops[2:]
		m.step++
		m.apply(op, arg)
		m.snap()
		m.checkBookkeeping()
		if t.Failed() {
			t.Logf("operations:\n%s", m.history_())
			return
		}
	}
}

func (m *model) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf("%3d %v ", m.step, m.clock.Now().Format("15:04:05.000"))+fmt.Sprintf(format, args...))
}

func (m *model) history_() string {
	out := ""
	for _, l := range m.log {
		out += l + "\n"
	}
	return out
}

// issue gives sandbox id a new key, never used before.
func (m *model) issue(id string) string {
	k := fmt.Sprintf("key-%d", m.nextKey)
	m.nextKey++
	m.st.keys[k] = id
	m.issued = append(m.issued, k)
	return k
}

// revoke drops every key of sandbox id.
func (m *model) revoke(id string) {
	for k, sid := range m.st.keys {
		if sid == id {
			delete(m.st.keys, k)
		}
	}
}

func (m *model) snap() {
	m.st.mu.Lock()
	defer m.st.mu.Unlock()
	m.history = append(m.history, snapshot{at: m.clock.Now(), keys: maps.Clone(m.st.keys), status: maps.Clone(m.st.status)})
}

// pickKey chooses among the keys ever issued and one never issued.
func (m *model) pickKey(arg byte) string {
	i := int(arg) % (len(m.issued) + 1)
	if i == len(m.issued) {
		return "key-never-issued"
	}
	return m.issued[i]
}

func pickSandbox(arg byte) string { return fmt.Sprintf("s%d", int(arg)%modelSandboxes) }

var modelStatuses = []core.Status{core.StatusRunning, core.StatusPaused, core.StatusError, core.StatusRunning}

func (m *model) apply(op, arg byte) {
	st := m.st
	switch op % 16 {
	case 0, 1, 2, 3:
		m.lookup(m.pickKey(arg))
	case 4:
		m.peek(m.pickKey(arg))
	case 5:
		id := pickSandbox(arg)
		if _, ok := st.status[id]; ok {
			s := modelStatuses[int(arg/modelSandboxes)%len(modelStatuses)]
			st.status[id] = s
			m.logf("status %s = %s", id, s)
		}
	case 6:
		id := pickSandbox(arg)
		if _, ok := st.status[id]; ok {
			m.revoke(id)
			m.logf("rotate %s: new key %s", id, m.issue(id))
		}
	case 7:
		id := pickSandbox(arg)
		if _, ok := st.status[id]; ok {
			m.logf("add key %s to %s", m.issue(id), id)
		}
	case 8:
		id := pickSandbox(arg)
		m.revoke(id)
		delete(st.status, id)
		m.logf("delete %s", id)
	case 9:
		id := pickSandbox(arg)
		if _, ok := st.status[id]; !ok {
			st.status[id] = core.StatusRunning
			m.logf("re-create %s with key %s", id, m.issue(id))
		}
	case 10:
		k := m.pickKey(arg)
		m.c.Invalidate(k)
		m.invalKey[k] = m.step
		m.logf("Invalidate(%s)", k)
		m.expectEvents(core.CacheInvalidation)
	case 11:
		id := pickSandbox(arg)
		m.c.InvalidateSandbox(id)
		m.invalSandbox[id] = m.step
		m.logf("InvalidateSandbox(%s)", id)
		m.expectEvents(core.CacheInvalidation)
	case 12:
		m.c.Flush()
		m.flushed = m.step
		m.logf("Flush")
		m.expectEvents(core.CacheFlush)
		if n := m.c.Len(); n != 0 {
			m.t.Errorf("%d entries after Flush", n)
		}
	case 13:
		before := m.c.Len()
		m.c.RunCleanup()
		m.logf("cleanup")
		evs := m.obs.take()
		if len(evs) != before-m.c.Len() {
			m.t.Errorf("cleanup dropped %d entries, reported %d events", before-m.c.Len(), len(evs))
		}
		m.checkEvictions(evs)
	case 14:
		var d time.Duration
		if arg < 128 {
			d = time.Duration(arg) * 10 * time.Millisecond
		} else {
			d = time.Duration(arg-128) * 250 * time.Millisecond
		}
		m.clock.Advance(d)
		m.logf("advance %v", d)
	case 15:
		st.failing = !st.failing
		m.logf("store failing = %v", st.failing)
	}
}

// lookup runs LookupSandboxSource and checks the answer.
func (m *model) lookup(key string) {
	callsBefore := m.st.calls
	info, src, err := m.c.LookupSandboxSource(context.Background(), key)
	calls := m.st.calls - callsBefore
	m.logf("lookup %s: %v, %v, %v (%d store calls)", key, brief(info), src, err, calls)
	t := m.t
	switch {
	case src == core.SourceCache && calls != 0:
		t.Errorf("source %v with %d store calls", src, calls)
	case (src == core.SourceStore || src == core.SourceRecheck) && calls != 1:
		t.Errorf("source %v with %d store calls, want 1", src, calls)
	case src == core.SourceNone:
		t.Errorf("source none on an open cache")
	}
	evs := m.obs.take()
	want := map[core.Source]core.CacheEvent{core.SourceCache: core.CacheHit, core.SourceStore: core.CacheMiss, core.SourceRecheck: core.CacheStaleRecheck}[src]
	if len(evs) == 0 || evs[0].ev != want {
		t.Errorf("events %v, want %v first", evs, want)
	} else {
		m.checkEvictions(evs[1:])
	}
	if len(evs) > 0 && evs[len(evs)-1].ev == core.CacheEviction && evs[len(evs)-1].entries != m.c.Len() {
		t.Errorf("last eviction reported %d entries, Len %d", evs[len(evs)-1].entries, m.c.Len())
	}

	id, valid := m.st.keys[key]
	mustAccept := valid && m.st.status[id] == core.StatusRunning && !m.st.failing
	switch {
	case err == nil:
		m.checkRecord(key, info, src == core.SourceCache)
		if info.Status == core.StatusRunning && src != core.SourceCache {
			m.accepted[key] = append(m.accepted[key], snapshotRef{m.step, m.clock.Now(), info.ID})
		}
		if mustAccept && (info.Status != core.StatusRunning || info.ID != id) {
			t.Errorf("valid key of RUNNING %s answered %v", id, brief(info))
		}
		// Scribble on the copy: nothing the cache serves later may change.
		info.ID, info.Status, info.ExposedURLs[0].URL = "evil", core.StatusRunning, "http://evil"
	case errors.Is(err, core.ErrNotFound):
		if mustAccept {
			t.Errorf("valid key of RUNNING %s answered not found", id)
		}
	default:
		if !m.st.failing {
			t.Errorf("error %v while the store answers", err)
		}
		if mustAccept {
			t.Errorf("valid key answered %v", err)
		}
	}
}

// peek runs PeekSandbox and checks the answer: a hit is an answer from memory.
func (m *model) peek(key string) {
	callsBefore := m.st.calls
	info, ok := m.c.PeekSandbox(key)
	m.logf("peek %s: %v %v", key, brief(info), ok)
	if m.st.calls != callsBefore {
		m.t.Errorf("PeekSandbox called the store")
	}
	evs := m.obs.take()
	switch {
	case ok && (len(evs) != 1 || evs[0].ev != core.CacheHit || evs[0].entries != m.c.Len()):
		m.t.Errorf("peek hit reported %v", evs)
	case !ok && len(evs) != 0:
		m.t.Errorf("peek miss reported %v", evs)
	}
	if ok {
		if info.Status != core.StatusRunning {
			m.t.Errorf("PeekSandbox served a %s record", info.Status)
		}
		m.checkRecord(key, info, true)
	}
}

// lastInvalidation is the step of the last invalidation that concerns an
// answer of key for sandbox id.
func (m *model) lastInvalidation(key, id string) int {
	return max(m.invalKey[key], m.invalSandbox[id], m.flushed)
}

// checkRecord checks an answer (key → info) against the model.
func (m *model) checkRecord(key string, info *core.SandboxInfo, fromMemory bool) {
	t, now := m.t, m.clock.Now()
	if info == nil {
		t.Errorf("nil record and no error")
		return
	}
	if info.ExposedURLs == nil || info.ExposedURLs[0].URL != "http://"+info.ID || info.CreatedByUserID != "u" {
		t.Errorf("record %+v is not the store's", info)
	}
	since := m.lastInvalidation(key, info.ID)
	mapped, running := false, false
	for i := len(m.history) - 1; i >= since && i >= 0; i-- {
		h := m.history[i]
		if !h.at.After(now.Add(-m.maxStale)) {
			break
		}
		if h.keys[key] == info.ID {
			mapped = true
		}
		if h.at.After(now.Add(-modelTTL)) && h.status[info.ID] == core.StatusRunning {
			running = true
		}
	}
	if !mapped {
		t.Errorf("%s answered for %s: the key did not belong to it within max-stale (%v) since step %d", key, info.ID, m.maxStale, since)
	}
	if info.Status != core.StatusRunning {
		if cur, ok := m.st.status[info.ID]; !ok || cur != info.Status {
			t.Errorf("%s answered %s %s; the store says %q", key, info.ID, info.Status, cur)
		}
		return
	}
	if !running {
		t.Errorf("%s accepted for %s: not RUNNING within the TTL since step %d", key, info.ID, since)
	}
	if fromMemory {
		ok := false
		for _, a := range m.accepted[key] {
			if a.step > since && a.id == info.ID && a.at.After(now.Add(-modelTTL)) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s served from memory for %s without a store call that accepted it within the TTL since step %d", key, info.ID, since)
		}
	}
}

// expectEvents checks that the step reported exactly evs, each with Len.
func (m *model) expectEvents(evs ...core.CacheEvent) {
	got := m.obs.take()
	if len(got) != len(evs) {
		m.t.Errorf("events %v, want %v", got, evs)
		return
	}
	for i, ev := range evs {
		if got[i].ev != ev || got[i].entries != m.c.Len() {
			m.t.Errorf("event %d: %v, want %v with %d entries", i, got[i], ev, m.c.Len())
		}
	}
}

// checkEvictions checks that evs are evictions, each one entry fewer.
func (m *model) checkEvictions(evs []observed) {
	for i, e := range evs {
		if e.ev != core.CacheEviction {
			m.t.Errorf("event %v among evictions", e)
		}
		if i > 0 && e.entries != evs[i-1].entries-1 {
			m.t.Errorf("evictions report %v", evs)
		}
	}
}

// checkBookkeeping checks the invariants that hold between steps.
func (m *model) checkBookkeeping() {
	if a, b := m.c.Len(), m.c.GoCacheLen(); a != b {
		m.t.Errorf("Len %d, go-cache holds %d", a, b)
	}
	if b := m.c.Bookkeeping(); b.Invalidations != 0 || b.InProgress != 0 || b.Unchecked != 0 || b.Joinable != 0 ||
		b.RememberedIDs != 0 || b.RememberedKeys != 0 || b.InvalidationBytes != 0 {
		m.t.Errorf("bookkeeping left with no call in progress: %+v", b)
	}
	if evs := m.obs.take(); len(evs) != 0 {
		m.t.Errorf("events outside any operation: %v", evs)
	}
}

func brief(info *core.SandboxInfo) string {
	if info == nil {
		return "-"
	}
	return info.ID + "/" + string(info.Status)
}

// fuzzSeeds are hand-written sequences: the paths the model must see.
func fuzzSeeds() [][]byte {
	const (
		look, peek, status, rotate, addKey, del, create = 0, 4, 5, 6, 7, 8, 9
		inval, invalSB, flush, cleanup, advance, fail   = 10, 11, 12, 13, 14, 15
	)
	return [][]byte{
		// Hits, then stale rechecks, then past max-stale (status lookup on).
		{0x03, look, 0, look, 0, peek, 0, advance, 100, look, 0, advance, 100, peek, 0, look, 0, advance, 200, look, 0},
		// A pause seen within a TTL; a rotation seen within max-stale.
		{0x13, look, 0, status, 3, look, 0, advance, 100, look, 0, look, 1, rotate, 1, look, 1, advance, 110, look, 1, advance, 140, look, 1, look, 3},
		// Invalidations of a key, of a sandbox, Flush; a store failure in between.
		{0x05, look, 0, look, 1, inval, 0, peek, 0, look, 0, invalSB, 1, look, 1, fail, 0, look, 2, advance, 105, look, 0, fail, 0, flush, 0, look, 0},
		// Deletion and re-creation, a second key, cleanup after max-stale.
		{0x02, look, 0, addKey, 0, look, 3, del, 0, advance, 101, look, 0, look, 3, create, 0, look, 4, advance, 250, cleanup, 0, look, 4, peek, 4},
		// A rotated key rechecked every 1.5 s must die at max-stale (3 s).
		{0x05, look, 0, rotate, 0, advance, 134, look, 0, advance, 134, look, 0, advance, 134, look, 0, advance, 134, look, 0},
		// Without a status lookup: rechecks are full lookups.
		{0x00, look, 1, advance, 100, look, 1, status, 4, advance, 100, look, 1, look, 1, status, 1, look, 1, cleanup, 0},
	}
}
