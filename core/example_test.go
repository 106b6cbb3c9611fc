package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/sandboxauth/sandboxauth/core"
)

func Example() {
	store := core.NewMemoryStore()
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
	store := core.NewMemoryStore()
	_ = store.Put("sk-1", core.SandboxInfo{ID: "sb-1", Status: core.StatusRunning})
	v, _ := core.New(store)

	r := httptest.NewRequest("GET", "/api/v1/sandboxes/sb-1/settings", nil)
	r.Header.Set(core.HeaderName, "sk-1")
	// What an adapter does for a route bound with WithSandboxParam.
	ctx, info, err := v.Authenticate(r, core.Route{Bound: true, SandboxID: "sb-1"})
	fromCtx, _ := core.SandboxFromContext(ctx)
	fmt.Println(err, info.ID, fromCtx == info)

	_, _, err = v.Authenticate(r, core.Route{Bound: true, SandboxID: "sb-2"})
	fmt.Println(core.ResponseFor(err).Status)
	// Output:
	// <nil> sb-1 true
	// 403
}

func ExampleCheckSandboxID() {
	info := &core.SandboxInfo{ID: "sb-1", Status: core.StatusRunning}
	err := core.CheckSandboxID(info, "sb-2") // the {sandbox_id} of the route
	r := core.ResponseFor(err)
	fmt.Println(r.Status, r.Detail)
	// Output: 403 Session API key does not match sandbox
}
