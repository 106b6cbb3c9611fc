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

// WithSandbox returns a child of ctx carrying a private copy of info. It is
// the one place every adapter stores an accepted sandbox. A nil info returns
// ctx unchanged.
func WithSandbox(ctx context.Context, info *SandboxInfo) context.Context {
	if info == nil {
		return ctx
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
	return c
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

// MustSandboxFromContext is SandboxFromContext for handlers that are only
// ever mounted behind a mandatory middleware; it panics when there is no
// sandbox, which is a wiring bug, never a request's fault.
func MustSandboxFromContext(ctx context.Context) *SandboxInfo {
	info, ok := SandboxFromContext(ctx)
	if !ok {
		panic("sandboxauth: no sandbox in context: is the middleware mounted on this route?")
	}
	return info
}
