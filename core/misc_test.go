package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sandboxauth/sandboxauth/core"
)

func TestMemStore(t *testing.T) {
	ctx := context.Background()
	m := core.NewMemoryStore()
	for name, err := range map[string]error{
		"empty key":      m.Put("", running("a", "")),
		"empty id":       m.Put("k", core.SandboxInfo{Status: core.StatusRunning}),
		"bad status":     m.Put("k", core.SandboxInfo{ID: "a", Status: "running"}),
		"status unknown": m.SetStatus("a", "nope"),
	} {
		if err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if err := m.Put("k1", running("a", "u")); err != nil {
		t.Fatal(err)
	}
	if err := m.Put("k2", running("a", "u")); err != nil { // a second key for the same sandbox
		t.Fatal(err)
	}
	if err := m.Put("k1", running("b", "u")); err == nil {
		t.Error("a key was moved to another sandbox")
	}
	if err := m.SetStatus("a", core.StatusPaused); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k2"} {
		if info, err := m.LookupSandbox(ctx, k); err != nil || info.Status != core.StatusPaused {
			t.Errorf("%s: %v %v", k, info, err)
		}
	}
	if st, err := m.SandboxStatus(ctx, "a"); st != core.StatusPaused || err != nil {
		t.Errorf("status %v %v", st, err)
	}
	if err := m.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.LookupSandbox(ctx, "k2"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("deleted sandbox's key: %v", err)
	}
	if _, err := m.SandboxStatus(ctx, "a"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("deleted status: %v", err)
	}
	if !errors.Is(m.Delete("a"), core.ErrNotFound) || !errors.Is(m.SetStatus("a", core.StatusRunning), core.ErrNotFound) {
		t.Error("missing sandbox not reported")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.LookupSandbox(cancelled, "k1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled lookup: %v", err)
	}
	if _, err := m.SandboxStatus(cancelled, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled status: %v", err)
	}
	// Only digests are kept: the key appears nowhere in the store's memory dump.
	if err := m.Put(secretKey, running("c", "u")); err != nil {
		t.Fatal(err)
	}
	if dump := fmt.Sprintf("%#v", m); strings.Contains(dump, secretKey) {
		t.Error("MemoryStore holds the raw key")
	}
}

func TestMemStoreConcurrent(t *testing.T) {
	m := core.NewMemoryStore()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				key := fmt.Sprintf("k-%d-%d", i, j)
				_ = m.Put(key, running(fmt.Sprintf("sb-%d", i), "u"))
				_, _ = m.LookupSandbox(context.Background(), key)
				_ = m.SetStatus(fmt.Sprintf("sb-%d", i), core.StatusRunning)
			}
		}()
	}
	wg.Wait()
}

func TestRedactionHelpers(t *testing.T) {
	if got := core.Redact("lookup of abc failed (abc)", "abc"); got != "lookup of [REDACTED] failed ([REDACTED])" {
		t.Errorf("Redact = %q", got)
	}
	if got := core.Redact("x", ""); got != "x" {
		t.Errorf("Redact with empty key = %q", got)
	}
	fp := core.Fingerprint(secretKey)
	if len(fp) != 8 || strings.Contains(secretKey, fp) || fp != core.DigestHex(secretKey)[:8] {
		t.Errorf("Fingerprint = %q", fp)
	}
	if core.DigestHex("abc") != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Error("DigestHex is not SHA-256")
	}
}

func TestContextAccessors(t *testing.T) {
	ctx := context.Background()
	if info, ok := core.SandboxFromContext(ctx); ok || info != nil {
		t.Error("empty context has a sandbox")
	}
	var nilCtx context.Context // a nil context must not panic
	if _, ok := core.SandboxFromContext(nilCtx); ok {
		t.Error("nil context has a sandbox")
	}
	if core.WithSandbox(ctx, nil) != ctx {
		t.Error("WithSandbox(nil) changed the context")
	}
	type otherKey struct{}
	parent := context.WithValue(ctx, otherKey{}, "v")
	orig := &core.SandboxInfo{ID: "sb", ExposedURLs: []core.ExposedURL{{URL: "u"}}}
	c := core.WithSandbox(parent, orig)
	info, ok := core.SandboxFromContext(c)
	if !ok || info.ID != "sb" || c.Value(otherKey{}) != "v" {
		t.Fatal("lookup through the context chain broken")
	}
	info.ExposedURLs[0].URL = "changed"
	if orig.ExposedURLs[0].URL != "u" {
		t.Error("WithSandbox did not copy")
	}
	// A string key with the same text does not collide.
	if c.Value("sandboxauth.sandbox") != nil {
		t.Error("string key collides")
	}
}

func TestStatusAndMode(t *testing.T) {
	for _, s := range core.Statuses() {
		if !s.Valid() {
			t.Errorf("%s invalid", s)
		}
	}
	if core.Status("running").Valid() || core.Status("").Valid() {
		t.Error("lower-case or empty status valid")
	}
	if !core.ModeOSS.Valid() || !core.ModeSaaS.Valid() || core.Mode("SAAS").Valid() {
		t.Error("mode validity")
	}
	var nilInfo *core.SandboxInfo
	if nilInfo.Clone() != nil {
		t.Error("Clone(nil)")
	}
}

func TestRedactLongestFormFirst(t *testing.T) {
	// The quoted form of this key contains the raw key's tail ("b"), and the
	// raw key is inside its path-escaped form: no order may leave pieces.
	for _, key := range []string{`a"b`, `x y`, `q\"r`, `%41`} {
		for _, text := range []string{fmt.Sprintf("%q", key), key, url.QueryEscape(key), url.PathEscape(key)} {
			if got := core.Redact("err: "+text+" end", key); got != "err: [REDACTED] end" && got != `err: "[REDACTED]" end` {
				t.Errorf("Redact(%q, key %q) = %q", text, key, got)
			}
		}
	}
}
