package cache

// Hooks for the external tests (package cache_test); compiled only into tests.

// WaitersFor returns how many callers wait on the store call of key in
// progress, 0 if there is none.
func (s *Cache) WaitersFor(key string) int {
	d := digest(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.flights[d]; f != nil {
		return f.waiters
	}
	return 0
}

// RunCleanup runs one pass of the cleanup goroutine's work.
func (s *Cache) RunCleanup() { s.cleanup() }

// EntryKeys returns the keys under which go-cache holds entries.
func (s *Cache) EntryKeys() []string {
	var out []string
	for k := range s.entries.Items() {
		out = append(out, k)
	}
	return out
}

// IndexedSandboxes returns how many sandboxes the index tracks.
func (s *Cache) IndexedSandboxes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.index)
}

// Bookkeeping is what the Cache holds besides its entries: the invalidations
// it remembers (and the bytes of their ids), the store calls in progress
// that will check them and those that will store nothing, the joinable
// calls, and the sandboxes indexed.
type Bookkeeping struct {
	Invalidations, InvalidationBytes, RememberedIDs, RememberedKeys int
	InProgress, Unchecked, Joinable, Indexed                        int
}

// Bookkeeping returns the sizes of the Cache's bookkeeping.
func (s *Cache) Bookkeeping() Bookkeeping {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := Bookkeeping{Invalidations: s.logLen(), InvalidationBytes: s.logBytes, RememberedIDs: len(s.bySandbox),
		RememberedKeys: len(s.byKey), Joinable: len(s.flights), Indexed: len(s.index)}
	for f := s.checked.head; f != nil; f = f.next {
		b.InProgress++
	}
	for f := s.unchecked.head; f != nil; f = f.next {
		b.Unchecked++
	}
	return b
}

// GoCacheLen is the number of items go-cache holds: Len must agree.
func (s *Cache) GoCacheLen() int { return s.entries.ItemCount() }

// MaxInvalidations is the bound of the invalidation log.
const MaxInvalidations = maxInvalidations
