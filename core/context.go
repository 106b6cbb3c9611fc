package core

import (
	"context"
	"slices"
)

// sandboxKey is the unexported context key type: no other package can read
// or overwrite the sandbox this package stores.
type sandboxKey struct{}

func (sandboxKey) String() string { return "sandboxauth.sandbox" }

// sandboxCtx carries the accepted sandbox. Holding the copy inline costs one
// allocation for both the context node and the copy of the record; up to
// inlineURLs exposed URLs are copied into urls, in the same allocation.
type sandboxCtx struct {
	context.Context
	info SandboxInfo
	urls [inlineURLs]ExposedURL
}

// inlineURLs is how many exposed URLs a sandboxCtx holds without a second
// allocation: an agent sandbox typically exposes up to four (agent server,
// VS Code, two workers).
const inlineURLs = 4

func (c *sandboxCtx) Value(key any) any {
	if key == (sandboxKey{}) {
		return &c.info
	}
	return c.Context.Value(key)
}

func (c *sandboxCtx) String() string { return "sandboxauth.WithSandbox(" + c.info.ID + ")" }

// WithSandbox returns a child of ctx carrying a private copy of info, as
// Validator.Authenticate does for an accepted key; tests of handlers use it
// to stand in for the middleware. A nil info returns ctx unchanged.
func WithSandbox(ctx context.Context, info *SandboxInfo) context.Context {
	c, _ := withSandbox(ctx, info)
	return c
}

// withSandbox is WithSandbox that also returns the copy the context holds.
func withSandbox(ctx context.Context, info *SandboxInfo) (context.Context, *SandboxInfo) {
	if info == nil {
		return ctx, nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c := &sandboxCtx{Context: ctx, info: *info}
	switch n := len(info.ExposedURLs); {
	case n == 0:
	case n <= inlineURLs:
		c.info.ExposedURLs = c.urls[:n:n] // full capacity: an append reallocates
		copy(c.info.ExposedURLs, info.ExposedURLs)
	default:
		c.info.ExposedURLs = slices.Clone(info.ExposedURLs)
	}
	return c, &c.info
}

// SandboxFromContext returns the sandbox an adapter accepted for this
// request, and false when there is none (no middleware, or an absent key on
// a credentials-optional route). The record belongs to the request: changing
// it affects no other request and no cache.
func SandboxFromContext(ctx context.Context) (*SandboxInfo, bool) {
	if ctx == nil {
		return nil, false
	}
	info, ok := ctx.Value(sandboxKey{}).(*SandboxInfo)
	return info, ok && info != nil
}
