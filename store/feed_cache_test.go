package store_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

// The project's cache is what the feed drives.
var _ store.Invalidator = (*cache.Cache)(nil)

// Two servers with their own 30 s caches on one PostgreSQL: a pause through
// server A is refused by server B long before B's TTL, because B's listener
// invalidates B's cache.
func TestFeedInvalidatesAnotherServersCache(t *testing.T) {
	url := pgtest.URL(t)
	type server struct {
		store *store.SQL
		cache *cache.Cache
		v     *core.Validator
	}
	newServer := func() server {
		s := openT(t, url)
		c, err := cache.New(s, cache.WithTTL(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		v, err := core.New(c, core.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		listenT(t, url, c)
		return server{s, c, v}
	}
	a, b := newServer(), newServer()
	ctx := testCtx(t)

	info, key, err := a.store.CreateSandbox(ctx, store.NewSandbox{Owner: "u"})
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range []server{a, b} {
		if _, err := srv.v.Validate(ctx, key); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}
	start := time.Now()
	if err := a.store.SetStatus(ctx, info.ID, core.StatusPaused); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := b.v.Validate(ctx, key)
		if errors.Is(err, core.ErrNotRunning) {
			break
		}
		if err != nil {
			t.Fatalf("server B: %v", err)
		}
		// Bounded far below the 30 s TTL: only the feed can make B refuse.
		if time.Since(start) > 5*time.Second {
			t.Fatal("server B still accepts the paused sandbox's key after 5s")
		}
		time.Sleep(100 * time.Microsecond)
	}
	t.Logf("server B refused the key %v after server A paused the sandbox", time.Since(start))
}
