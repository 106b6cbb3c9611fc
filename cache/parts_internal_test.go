package cache

import (
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

// BenchmarkHitParts splits a hit (PeekSandbox) into its parts, to say where
// the time goes: the digest, the clock read, the map read.
func BenchmarkHitParts(b *testing.B) {
	const key = "sk-bench-0123456789abcdefghijklmnopqrstuvwx" // 43 bytes, like a real key
	b.Run("sha256", func(b *testing.B) {
		for b.Loop() {
			_ = digest(key)
		}
	})
	b.Run("time.Now", func(b *testing.B) {
		for b.Loop() {
			_ = time.Now()
		}
	})
	b.Run("time.Until", func(b *testing.B) {
		t := time.Now().Add(time.Minute)
		for b.Loop() {
			_ = time.Until(t) > 0
		}
	})
	s, err := New(core.NewMemoryStore(), WithTTL(MaxTTL), WithCleanupInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d := digest(key)
	s.mu.Lock()
	now := time.Now()
	s.putLocked(string(d[:]), &core.SandboxInfo{ID: "sb", Status: core.StatusRunning}, now, now.Add(s.stale))
	s.mu.Unlock()
	b.Run("map-read", func(b *testing.B) {
		for b.Loop() {
			_, _ = s.get(string(d[:]))
		}
	})
	b.Run("peek", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := s.PeekSandbox(key); !ok {
				b.Fatal("miss")
			}
		}
	})
}
