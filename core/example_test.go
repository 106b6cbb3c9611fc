package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sandboxauth/sandboxauth/core"
)

func Example() {
	store := core.NewMemStore()
	_ = store.Put("sk-live-123", core.SandboxInfo{ID: "sb-1", CreatedByUserID: "alice", Status: core.StatusRunning})
	_ = store.Put("sk-paused-456", core.SandboxInfo{ID: "sb-2", CreatedByUserID: "bob", Status: core.StatusPaused})

	v, err := core.New(store, core.WithMode(core.ModeSaaS))
	if err != nil {
		panic(err)
	}
	for _, key := range []string{"sk-live-123", "sk-paused-456", "sk-unknown"} {
		info, err := v.Validate(context.Background(), key)
		if err != nil {
			r := core.ResponseFor(err)
			fmt.Printf("%d %s", r.Status, r.Body)
			continue
		}
		fmt.Println("accepted", info.ID, "owned by", info.CreatedByUserID)
	}
	// Output:
	// accepted sb-1 owned by alice
	// 401 {"detail":"Sandbox is not running","code":"sandbox_not_running"}
	// 401 {"detail":"Invalid session API key","code":"invalid_session_key"}
}

// A store is any function (or type) that resolves a key; ErrNotFound means
// "no such key", any other error is a backend failure answered with 503.
func ExampleStoreFunc() {
	store := core.StoreFunc(func(ctx context.Context, key string) (*core.SandboxInfo, error) {
		if key == "sk-1" {
			return &core.SandboxInfo{ID: "sb-1", Status: core.StatusRunning}, nil
		}
		if key == "sk-db-down" {
			return nil, errors.New("connection refused")
		}
		return nil, core.ErrNotFound
	})
	v, _ := core.New(store)
	_, err := v.Validate(context.Background(), "sk-db-down")
	fmt.Println(errors.Is(err, core.ErrUnavailable), core.ResponseFor(err).Status)
	// Output: true 503
}

func ExampleValidator_Authenticate() {
	store := core.NewMemStore()
	_ = store.Put("sk-1", core.SandboxInfo{ID: "sb-1", Status: core.StatusRunning})
	v, _ := core.New(store)

	h := http.Header{}
	h.Set(core.HeaderName, "sk-1")
	ctx, ok, err := v.Authenticate(context.Background(), h, false)
	info, _ := core.SandboxFromContext(ctx)
	fmt.Println(ok, err, info.ID)
	// Output: true <nil> sb-1
}

func ExampleCheckSandboxID() {
	info := &core.SandboxInfo{ID: "sb-1", Status: core.StatusRunning}
	err := core.CheckSandboxID(info, "sb-2") // the {sandbox_id} of the route
	r := core.ResponseFor(err)
	fmt.Println(r.Status, r.Detail)
	// Output: 403 Session API key does not match sandbox
}
