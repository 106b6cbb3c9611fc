package cache

import "crypto/sha256"

// Bounds of the invalidation log. Past either, the oldest invalidation is
// forgotten and the store calls that began before it are treated as if a
// Flush had happened: they finish for their callers but store nothing.
const (
	maxInvalidations     = 1024     // invalidations remembered
	maxInvalidationBytes = 64 << 10 // bytes of sandbox ids remembered
)

// invalidations is what a Cache remembers to make invalidations precise
// (docs/design.md §6). A full lookup's sandbox is known only once the store
// answers, so an InvalidateSandbox cannot find the store calls it concerns
// when it runs; instead each call notes the generation it began at, and
// when it finishes it looks for an invalidation of its key or of the sandbox
// it found that is younger than itself. Only the invalidations younger than
// the oldest call in progress can concern anyone: the log keeps those, in
// order, and forgets the rest as calls finish. With no call in progress it
// is empty; it never holds more than maxInvalidations entries nor
// maxInvalidationBytes of ids, whatever the rate of invalidations or the
// number of distinct ids.
//
// Every field is guarded by Cache.mu.
type invalidations struct {
	gen        uint64 // bumped by every invalidation, Flush and Close
	sandboxGen uint64 // gen of the last InvalidateSandbox
	// The store calls in progress: checked, oldest first, those that will
	// check the log when they finish; unchecked, those that will store
	// nothing whatever they find (after a Flush, or older than what the log
	// forgot). Close cancels both.
	checked, unchecked flightList

	log       []invalidation // from logHead on: oldest first, gen increasing
	logHead   int
	logBytes  int                          // len of the ids in the log
	bySandbox map[string]uint64            // sandbox id -> gen of its last logged invalidation
	byKey     map[[sha256.Size]byte]uint64 // key digest -> gen of its last logged invalidation
}

// invalidation is one InvalidateSandbox (id) or Invalidate (key).
type invalidation struct {
	gen   uint64
	id    string
	key   [sha256.Size]byte
	isKey bool
}

func (v *invalidations) logLen() int { return len(v.log) - v.logHead }

// recordLocked logs r (r.gen == s.gen) for the store calls in progress.
func (s *Cache) recordLocked(r invalidation) {
	if s.checked.head == nil {
		return // every later call begins after it
	}
	if len(s.log) == cap(s.log) && s.logHead >= len(s.log)/2 {
		n := copy(s.log, s.log[s.logHead:])
		clear(s.log[n:])
		s.log, s.logHead = s.log[:n], 0
	}
	s.log = append(s.log, r)
	if r.isKey {
		if s.byKey == nil {
			s.byKey = map[[sha256.Size]byte]uint64{}
		}
		s.byKey[r.key] = r.gen
	} else {
		if s.bySandbox == nil {
			s.bySandbox = map[string]uint64{}
		}
		s.bySandbox[r.id] = r.gen
		s.logBytes += len(r.id)
	}
	for s.logLen() > maxInvalidations || s.logBytes > maxInvalidationBytes {
		old := s.popLocked()
		// The calls that began before old can no longer be checked against
		// it: they store nothing, and later callers do not join them.
		for f := s.checked.head; f != nil && f.gen < old.gen; f = s.checked.head {
			s.uncheckLocked(f)
		}
	}
	s.pruneLocked()
}

// popLocked forgets the oldest logged invalidation and returns it.
func (s *Cache) popLocked() invalidation {
	r := s.log[s.logHead]
	s.log[s.logHead] = invalidation{}
	s.logHead++
	if s.logHead == len(s.log) {
		s.log, s.logHead = s.log[:0], 0
	}
	if r.isKey {
		if s.byKey[r.key] == r.gen {
			delete(s.byKey, r.key)
		}
	} else {
		s.logBytes -= len(r.id)
		if s.bySandbox[r.id] == r.gen {
			delete(s.bySandbox, r.id)
		}
	}
	return r
}

// pruneLocked forgets the invalidations older than every call in progress.
func (s *Cache) pruneLocked() {
	for s.logLen() > 0 && (s.checked.head == nil || s.log[s.logHead].gen <= s.checked.head.gen) {
		s.popLocked()
	}
}

// mayStoreLocked reports whether the call f, which found the running
// sandbox id, may store its answer: it was not cancelled (every waiter
// left, or its deadline passed: a later call may already have answered
// for the key), no later call for the key replaced it, no invalidation of
// its key or of id, no Flush and no Close happened since it began.
func (s *Cache) mayStoreLocked(f *flight, id string) bool {
	if f.noStore || f.superseded || f.state.Load() != live || s.closed.Load() {
		return false
	}
	if g, ok := s.byKey[f.k]; ok && g > f.gen {
		return false
	}
	if g, ok := s.bySandbox[id]; ok && g > f.gen {
		return false
	}
	return true
}

// firstInvalidationLocked returns the generation of the first
// InvalidateSandbox(id) after gen, 0 if there was none. A call in progress
// that began at gen finds all of them in the log.
func (s *Cache) firstInvalidationLocked(id string, gen uint64) uint64 {
	if g, ok := s.bySandbox[id]; !ok || g <= gen {
		return 0
	}
	for _, r := range s.log[s.logHead:] {
		if r.gen > gen && !r.isKey && r.id == id {
			return r.gen
		}
	}
	return 0
}

// uncheckLocked makes the call f store nothing and moves it to unchecked:
// it no longer needs the log. Later callers do not join it.
func (s *Cache) uncheckLocked(f *flight) {
	f.noStore = true
	if s.flights[f.k] == f {
		delete(s.flights, f.k)
	}
	f.remove()
	s.unchecked.push(f)
}

// dropAllLocked makes every call in progress store nothing (Flush, Close)
// and forgets the log, which no call needs any more.
func (s *Cache) dropAllLocked() {
	for f := s.checked.head; f != nil; f = s.checked.head {
		s.uncheckLocked(f)
	}
	clear(s.log)
	s.log, s.logHead, s.logBytes = s.log[:0], 0, 0
	clear(s.bySandbox)
	clear(s.byKey)
}
