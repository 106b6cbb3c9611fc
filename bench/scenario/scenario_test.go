package scenario_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sandboxauth/sandboxauth/bench/scenario"
	"github.com/sandboxauth/sandboxauth/core"
)

func TestSupports(t *testing.T) {
	if !scenario.Supports(scenario.Echo, scenario.KeyAuth) || !scenario.Supports(scenario.Echo5, scenario.KeyAuth) || scenario.Supports(scenario.Gin, scenario.KeyAuth) {
		t.Error("KeyAuth must run on echo (v4 and v5) only")
	}
	if scenario.Supports("fiber", scenario.Bare) || scenario.Supports(scenario.Chi, "nope") {
		t.Error("unknown names supported")
	}
	if _, err := scenario.Build(scenario.Chi, scenario.KeyAuth, scenario.Config{}); err == nil {
		t.Error("Build accepted chi/keyauth")
	}
	if _, err := scenario.Build(scenario.Chi, scenario.Slow, scenario.Config{Latency: -1}); err == nil {
		t.Error("Build accepted a negative latency")
	}
}

func TestLatencyStore(t *testing.T) {
	if _, err := scenario.NewLatencyStore(nil, 0); err == nil {
		t.Error("nil inner store accepted")
	}
	mem := core.NewMemoryStore()
	if err := mem.Put(scenario.Key, scenario.Sandbox()); err != nil {
		t.Fatal(err)
	}
	if _, err := scenario.NewLatencyStore(mem, -1); err == nil {
		t.Error("negative latency accepted")
	}
	s, err := scenario.NewLatencyStore(mem, scenario.DefaultLatency)
	if err != nil {
		t.Fatal(err)
	}
	w := s.Wait()
	if w.Target != scenario.DefaultLatency || w.Request < 0 || w.Request > w.Target || w.Measured <= 0 || w.Method == "" {
		t.Errorf("calibration %+v", w)
	}
	ctx := context.Background()
	info, err := s.LookupSandbox(ctx, scenario.Key)
	if err != nil || info.ID != scenario.SandboxID {
		t.Fatalf("lookup: %v, %v", info, err)
	}
	if _, err := s.LookupSandbox(ctx, scenario.UnknownKey); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	if st, err := s.SandboxStatus(ctx, scenario.SandboxID); err != nil || st != core.StatusRunning {
		t.Errorf("status: %v, %v", st, err)
	}
	// Each call waits: the mean cannot be below the calibrated request.
	if n, mean := s.Calls(); n != 3 || mean < w.Request {
		t.Errorf("%d calls, mean %v (request %v)", n, mean, w.Request)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.LookupSandbox(cancelled, scenario.Key); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled lookup: %v", err)
	}
}

func TestDiscardWriter(t *testing.T) {
	w := scenario.NewDiscardWriter()
	w.Header().Set("A", "b")
	_, _ = w.WriteString("abc")
	w.WriteHeader(500) // too late: the first status stays
	if w.Status() != 200 || w.Len() != 3 {
		t.Errorf("status %d, len %d", w.Status(), w.Len())
	}
	w.Reset()
	if w.Status() != 0 || w.Len() != 0 || len(w.Header()) != 0 {
		t.Error("Reset left state")
	}
}
