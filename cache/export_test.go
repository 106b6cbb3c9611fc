package cache

// Hooks for the external tests (package cache_test); compiled only into tests.

// WaitersFor returns how many callers wait on the store call of key in
// progress, 0 if there is none.
func (s *Cache) WaitersFor(key string) int {
	d := digest(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.flights[string(d[:])]; f != nil {
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
