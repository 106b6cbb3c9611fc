package core_test

import (
	"context"
	"testing"

	"github.com/sandboxauth/sandboxauth/core"
)

// TestWithSandboxOneAllocation pins the cost of storing a sandbox with a few
// exposed URLs (one allocation) and that the request's copy stays private.
func TestWithSandboxOneAllocation(t *testing.T) {
	urls := []core.ExposedURL{{Name: "AGENT_SERVER", URL: "http://a", Port: 1}, {Name: "VSCODE", URL: "http://b", Port: 2}}
	info := &core.SandboxInfo{ID: "sb", Status: core.StatusRunning, ExposedURLs: urls}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = core.WithSandbox(ctx, info) }); n != 1 {
		t.Errorf("WithSandbox with 2 exposed URLs: %v allocations, want 1", n)
	}
	got, _ := core.SandboxFromContext(core.WithSandbox(ctx, info))
	got.ExposedURLs[0].URL = "http://evil"
	got.ExposedURLs = append(got.ExposedURLs, core.ExposedURL{Name: "X"})
	if urls[0].URL != "http://a" || len(info.ExposedURLs) != 2 {
		t.Errorf("the context's copy shares storage with the original: %+v", info.ExposedURLs)
	}
	many := &core.SandboxInfo{ID: "sb", ExposedURLs: make([]core.ExposedURL, 6)}
	got, _ = core.SandboxFromContext(core.WithSandbox(ctx, many))
	got.ExposedURLs[5].URL = "changed"
	if many.ExposedURLs[5].URL != "" || len(got.ExposedURLs) != 6 {
		t.Error("a long ExposedURLs is not copied")
	}
}
