package cache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sandboxauth/sandboxauth/cache"
	"github.com/sandboxauth/sandboxauth/core"
)

// countingStore counts the lookups that reach the store behind the cache.
type countingStore struct {
	*core.MemoryStore
	lookups int
}

func (s *countingStore) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	s.lookups++
	return s.MemoryStore.LookupSandbox(ctx, key)
}

// Put the cache between the validator and the store; pause a sandbox and
// invalidate it, as an admin API or a change feed does.
func Example() {
	store := &countingStore{MemoryStore: core.NewMemoryStore()}
	_ = store.Put("sk-example-key", core.SandboxInfo{ID: "sb-1", CreatedByUserID: "u1", Status: core.StatusRunning})

	c, err := cache.New(store, cache.WithTTL(2*time.Second))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	v, err := core.New(c)
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	for range 3 {
		info, err := v.Validate(ctx, "sk-example-key")
		fmt.Println(info.ID, err)
	}
	fmt.Println("store lookups:", store.lookups)

	// Pause the sandbox. Without the next line the key would pass for at
	// most the TTL; with it, not once more.
	_ = store.SetStatus("sb-1", core.StatusPaused)
	c.InvalidateSandbox("sb-1")
	_, err = v.Validate(ctx, "sk-example-key")
	fmt.Println(errors.Is(err, core.ErrNotRunning), core.ResponseFor(err).Status)
	// Output:
	// sb-1 <nil>
	// sb-1 <nil>
	// sb-1 <nil>
	// store lookups: 1
	// true 401
}
