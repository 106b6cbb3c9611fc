package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// rotate gives sandbox id a new key and revokes the old one, as a store's
// key rotation does: the sandbox stays RUNNING, only the key changes.
func rotate(t *testing.T, m *core.MemoryStore, id, newKey string) {
	t.Helper()
	if err := m.Delete(id); err != nil {
		t.Fatal(err)
	}
	if err := m.Put(newKey, core.SandboxInfo{ID: id, CreatedByUserID: "u", Status: core.StatusRunning}); err != nil {
		t.Fatal(err)
	}
}

// TestRevokedKeyDiesWithinMaxStale: status rechecks cannot tell that a key
// was rotated, so they must not keep an entry alive past the max-stale
// horizon of its last full lookup.
func TestRevokedKeyDiesWithinMaxStale(t *testing.T) {
	ctx := context.Background()
	m := core.NewMemoryStore()
	if err := m.Put("old-key", core.SandboxInfo{ID: "sb", CreatedByUserID: "u", Status: core.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	c, err := cache.New(m, cache.WithTTL(time.Second), cache.WithMaxStale(10*time.Second),
		cache.WithCleanupInterval(0), cache.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := core.New(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(ctx, "old-key"); err != nil {
		t.Fatal(err)
	}
	rotate(t, m, "sb", "new-key") // no InvalidateSandbox: the worst case
	var elapsed time.Duration
	for elapsed = 0; elapsed <= 10*time.Second; elapsed += 1500 * time.Millisecond {
		clock.Advance(1500 * time.Millisecond) // a request every 1.5 s: always stale, never older than max-stale
		if _, err := v.Validate(ctx, "old-key"); err != nil {
			if !errors.Is(err, core.ErrInvalidKey) {
				t.Fatalf("revoked key: %v, want invalid key", err)
			}
			break
		}
	}
	if elapsed > 10*time.Second {
		t.Fatalf("revoked key still accepted %v after rotation (max-stale 10s)", elapsed)
	}
}

// TestInvalidateDuringStaleRecheck: a request that read a stale entry just
// before InvalidateSandbox ran must not recheck that entry's status and
// store it again. The injected clock runs the invalidation (with a key
// rotation) in exactly that window: after LookupSandbox has classified the
// entry as stale, before it takes the lock.
func TestInvalidateDuringStaleRecheck(t *testing.T) {
	ctx := context.Background()
	m := core.NewMemoryStore()
	if err := m.Put("old-key", core.SandboxInfo{ID: "sb", CreatedByUserID: "u", Status: core.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	var c *cache.Cache
	armed, calls := false, 0
	now := func() time.Time {
		if armed {
			// LookupSandbox reads the clock twice to classify an entry
			// (fresh? then stale?); the window opens after the second.
			if calls++; calls == 2 {
				armed = false
				rotate(t, m, "sb", "new-key")
				c.InvalidateSandbox("sb")
			}
		}
		return clock.Now()
	}
	c, err := cache.New(m, cache.WithTTL(time.Second), cache.WithMaxStale(time.Minute),
		cache.WithCleanupInterval(0), cache.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.LookupSandbox(ctx, "old-key"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second) // stale
	armed = true
	_, _ = c.LookupSandbox(ctx, "old-key") // began before the invalidation: either answer is allowed
	if armed {
		t.Fatal("the invalidation hook never ran: the test no longer hits the window")
	}
	if _, err := c.LookupSandbox(ctx, "old-key"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("old key after rotation + InvalidateSandbox: %v, want ErrNotFound (entries: %d)", err, c.Len())
	}
}

// blockingStatus holds every status recheck until gate is closed.
type blockingStatus struct {
	*core.MemoryStore
	gate, entered chan struct{}
}

func (b *blockingStatus) SandboxStatus(ctx context.Context, id string) (core.Status, error) {
	b.entered <- struct{}{}
	<-b.gate
	return b.MemoryStore.SandboxStatus(ctx, id)
}

// TestPastHorizonCallerDoesNotJoinRecheck: a caller that finds the entry past
// its max-stale horizon needs a full lookup; it must not share a status
// recheck that began before the horizon passed (which would accept a key
// rotated without invalidation).
func TestPastHorizonCallerDoesNotJoinRecheck(t *testing.T) {
	ctx := context.Background()
	m := core.NewMemoryStore()
	if err := m.Put("old-key", core.SandboxInfo{ID: "sb", CreatedByUserID: "u", Status: core.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	bs := &blockingStatus{MemoryStore: m, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	clock := newClock()
	c, err := cache.New(bs, cache.WithTTL(time.Second), cache.WithMaxStale(10*time.Second),
		cache.WithCleanupInterval(0), cache.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.LookupSandbox(ctx, "old-key"); err != nil {
		t.Fatal(err)
	}
	rotate(t, m, "sb", "new-key")
	clock.Advance(9900 * time.Millisecond) // stale, inside the horizon: A rechecks the status
	aDone := make(chan error, 1)
	go func() { _, err := c.LookupSandbox(ctx, "old-key"); aDone <- err }()
	<-bs.entered
	clock.Advance(5 * time.Second) // past the horizon while A's recheck is in flight
	bDone := make(chan error, 1)
	go func() { _, err := c.LookupSandbox(ctx, "old-key"); bDone <- err }()
	select {
	case err := <-bDone:
		if !errors.Is(err, core.ErrNotFound) {
			t.Errorf("caller past the horizon: %v, want ErrNotFound from its own full lookup", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("caller past the horizon waited on the status recheck instead of a full lookup")
	}
	close(bs.gate)
	<-aDone // began inside the horizon: either answer is allowed
}
