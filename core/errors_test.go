package core_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sandboxauth/sandboxauth/core"
)

// TestErrorTable pins the wire format of docs/design.md §2-§5, byte for byte.
func TestErrorTable(t *testing.T) {
	want := map[*core.Error]struct {
		status int
		detail string
	}{
		core.ErrMissingKey:      {401, "X-Session-API-Key header is required"},
		core.ErrMalformedKey:    {401, "Invalid session API key"},
		core.ErrInvalidKey:      {401, "Invalid session API key"},
		core.ErrNotRunning:      {401, "Sandbox is not running"},
		core.ErrNoUser:          {401, "Sandbox had no user specified"},
		core.ErrSandboxMismatch: {403, "Session API key does not match sandbox"},
		core.ErrOwnerRequired:   {401, "Sandbox has no associated user"},
		core.ErrUnknownCaller:   {401, "Cannot determine authenticated user"},
		core.ErrOwnerMismatch:   {403, "Session API key does not belong to the authenticated user"},
		core.ErrTooManyFailures: {429, "Too many failed attempts, try again later"},
		core.ErrUnavailable:     {503, "Session API key could not be verified, try again later"},
	}
	for e, w := range want {
		r := core.ResponseFor(e)
		if r.Status != w.status || r.Detail != w.detail {
			t.Errorf("%s: %d %q, want %d %q", e.Code, r.Status, r.Detail, w.status, w.detail)
		}
		wantBody := fmt.Sprintf("{\"detail\":%q,\"code\":%q}\n", w.detail, e.Code)
		// The error renders itself the same way (echo v5's default handler
		// asks it for its status and marshals it).
		wrapped := &core.Error{Code: e.Code, SandboxID: "sb", Err: errors.New("cause")}
		if js, err := json.Marshal(wrapped); err != nil || string(js)+"\n" != wantBody || wrapped.StatusCode() != w.status {
			t.Errorf("%s: renders itself as %d %s, %v", e.Code, wrapped.StatusCode(), js, err)
		}
		if r.Body != wantBody {
			t.Errorf("%s: body %q, want %q", e.Code, r.Body, wantBody)
		}
		if (r.Status == 503 || r.Status == 429) != (r.RetryAfter != "") {
			t.Errorf("%s: Retry-After %q", e.Code, r.RetryAfter)
		}
	}
	if n := len(core.Responses()); n != len(want)+1 {
		t.Errorf("table has %d rows, want %d", n, len(want)+1)
	}
	for _, r := range core.Responses() {
		var body map[string]string
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body["detail"] != r.Detail || len(body) != 2 {
			t.Errorf("%s: body %q is not {detail, code}", r.Code, r.Body)
		}
	}
}

func TestUnknownErrorsFailClosed(t *testing.T) {
	for _, err := range []error{nil, errors.New("x"), &core.Error{Code: "made-up"}} {
		r := core.ResponseFor(err)
		if r.Status != http.StatusInternalServerError || r.Code != core.CodeInternal {
			t.Errorf("%v: %d %s, want 500 internal_error", err, r.Status, r.Code)
		}
	}
}

func TestErrorMatching(t *testing.T) {
	cause := errors.New("boom")
	err := fmt.Errorf("wrapped: %w", &core.Error{Code: core.CodeUnavailable, SandboxID: "sb", Err: cause})
	if !errors.Is(err, core.ErrUnavailable) || errors.Is(err, core.ErrInvalidKey) || !errors.Is(err, cause) {
		t.Error("errors.Is wrong")
	}
	var e *core.Error
	if !errors.As(err, &e) || e.SandboxID != "sb" {
		t.Error("errors.As wrong")
	}
	msg := err.Error()
	for _, part := range []string{"Session API key could not be verified", "sandbox sb", "boom"} {
		if !strings.Contains(msg, part) {
			t.Errorf("message %q lacks %q", msg, part)
		}
	}
	if errors.Is(err, errors.New("Sandbox is not running")) {
		t.Error("matched a foreign error")
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	core.WriteError(rec, fmt.Errorf("ctx: %w", core.ErrUnavailable))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("503: %d %v", rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	core.WriteError(rec, core.ErrMissingKey)
	if rec.Code != 401 || rec.Header().Get("Retry-After") != "" || rec.Body.String() != core.ResponseFor(core.ErrMissingKey).Body {
		t.Errorf("401: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
}

func TestRouteChecks(t *testing.T) {
	owned := &core.SandboxInfo{ID: "sb1", CreatedByUserID: "u1", Status: core.StatusRunning}
	ownerless := &core.SandboxInfo{ID: "sb2", Status: core.StatusRunning}
	checks := []struct {
		name string
		err  error
		want *core.Error
	}{
		{"id match", core.CheckSandboxID(owned, "sb1"), nil},
		{"id mismatch", core.CheckSandboxID(owned, "sb2"), core.ErrSandboxMismatch},
		{"id empty route", core.CheckSandboxID(owned, ""), core.ErrSandboxMismatch},
		{"id case", core.CheckSandboxID(owned, "SB1"), core.ErrSandboxMismatch},
		{"id no sandbox", core.CheckSandboxID(nil, "sb1"), core.ErrMissingKey},
		{"caller match", core.CheckCaller(owned, "u1"), nil},
		{"caller empty", core.CheckCaller(owned, ""), core.ErrUnknownCaller},
		{"caller other", core.CheckCaller(owned, "u2"), core.ErrOwnerMismatch},
		{"caller ownerless", core.CheckCaller(ownerless, "u1"), core.ErrOwnerMismatch},
		{"caller no sandbox", core.CheckCaller(nil, "u1"), core.ErrMissingKey},
	}
	for _, c := range checks {
		if c.want == nil && c.err != nil || c.want != nil && !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	if owner, err := core.RequireOwner(owned); owner != "u1" || err != nil {
		t.Errorf("RequireOwner(owned) = %q %v", owner, err)
	}
	if _, err := core.RequireOwner(ownerless); !errors.Is(err, core.ErrOwnerRequired) || core.ResponseFor(err).Status != 401 {
		t.Errorf("RequireOwner(ownerless) = %v", err)
	}
	if _, err := core.RequireOwner(nil); !errors.Is(err, core.ErrMissingKey) {
		t.Errorf("RequireOwner(nil) = %v", err)
	}
}

func TestRouteParam(t *testing.T) {
	req := func(target string) *http.Request { return httptest.NewRequest(http.MethodGet, target, nil) }
	// "sb%2541" names sandbox "sb%41"; a router that matched the escaped
	// path hands out "sb%2541", one that matched the decoded path "sb%41".
	r := req("/sandboxes/sb%2541/x%2Fy")
	if r.URL.RawPath == "" {
		t.Fatal("test request has no RawPath")
	}
	for _, c := range []struct {
		name, routed, v, want string
	}{
		{"matched the escaped path", "/sandboxes/sb%2541/x%2Fy", "sb%2541", "sb%41"},
		{"matched the decoded path", "/sandboxes/sb%41/x/y", "sb%41", "sb%41"},
		{"escaped, trailing slash stripped", "/sandboxes/sb%2541/x%2Fy/", "sb%2541", "sb%41"},
		{"decoded, path cleaned", "/sandboxes//sb%41/x/y", "sb%41", "sb%41"},
		{"cannot tell, decoding would change it", "/other/sb%2541", "sb%2541", ""},
		{"cannot tell, nothing to decode", "/other/sb", "sb", "sb"},
		{"no routed path", "", "sb%2541", ""},
		{"bad escape", "/sandboxes/sb%2541/x%2Fy", "bad%zz", ""},
	} {
		if got := core.RouteParam(r, c.routed, c.v); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	plain := req("/sandboxes/sb1")
	if got := core.RouteParam(plain, "/sandboxes/sb1", "sb1"); got != "sb1" {
		t.Errorf("plain path: %q", got)
	}
	if got := core.RouteParam(nil, "", "x"); got != "x" {
		t.Errorf("nil request: %q", got)
	}
}
