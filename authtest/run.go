package authtest

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
)

// Run runs every conformance case against the handlers factory builds,
// three times: under "uncached/" with the validator straight on the suite's
// store; under "cached/" with that store behind a cache.Cache (TTL one
// minute, so that repeated requests are cache hits); and under "recheck/"
// with a TTL of a nanosecond, so that every repeated request takes the
// stale-entry status recheck. All variants must give the same answers;
// "cached/" adds the cases that pin the cache's own promises. Under
// "identity/" the same requests go to the net/http adapter and to the
// factory's handler, whose status, headers and body bytes must be equal.
//
// The route cases include sandbox ids written with escapes ("sb%2F2",
// "sb%2541", "sb%41", "sb%7E3"): the id is compared after unescaping,
// exactly once, as net/http's r.PathValue reads it (docs/design.md §5). A
// router that cannot route an escaped "/" at all declares it with
// WithoutEscapedSlash.
// Each case gets its own store, validator and httptest.Server, and runs in
// parallel with the others.
func Run(t *testing.T, factory Factory, opts ...Option) {
	t.Helper()
	if factory == nil {
		t.Fatal("authtest.Run: nil factory")
	}
	base := suite{factory: factory}
	for _, o := range opts {
		o(&base)
	}
	t.Run("identity", func(t *testing.T) { runIdentity(t, factory, &base) })
	for _, variant := range []string{"uncached", "cached", "recheck"} {
		s := base
		s.cached = variant != "uncached"
		s.recheck = variant == "recheck"
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			cs := cases()
			if variant == "cached" {
				cs = append(cs, cacheCases()...)
			}
			for _, c := range cs {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, &s)
				})
			}
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, s *suite)
}

func cases() []testCase {
	cs := []testCase{
		{"header/missing", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected), core.ErrMissingKey)
			e.expectStoreCalls(0)
		}},
		{"header/empty", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected, ""), core.ErrMissingKey)
			e.expectStoreCalls(0)
		}},
		{"header/query-cookie-form-ignored", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+PathProtected+"?X-Session-API-Key="+KeyRunning+"&session_api_key="+KeyRunning, nil)
			req.AddCookie(&http.Cookie{Name: core.HeaderName, Value: KeyRunning})
			req.Header.Set("Authorization", "Bearer "+KeyRunning)
			e.expectRejected(e.do(req), core.ErrMissingKey)
			e.expectStoreCalls(0)
		}},
		{"header/duplicate", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected, KeyRunning, KeyRunning), core.ErrMalformedKey)
			e.expectStoreCalls(0)
		}},
		{"header/duplicate-one-empty", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected, "", KeyRunning), core.ErrMalformedKey)
			e.expectStoreCalls(0)
		}},
		{"header/oversized", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected, strings.Repeat("k", core.DefaultMaxKeyLength+1)), core.ErrMalformedKey)
			e.expectStoreCalls(0)
		}},
		{"header/at-size-bound-is-looked-up", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected, strings.Repeat("k", core.DefaultMaxKeyLength)), core.ErrInvalidKey)
			e.expectStoreCalls(1)
		}},
		{"header/control-character-tab", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected, "sk-with\ttab"), core.ErrMalformedKey)
			e.expectStoreCalls(0)
		}},
		{"header/control-character-raw", func(t *testing.T, s *suite) {
			// net/http's client refuses to send these; a hostile client does
			// not. Go's server may refuse them itself (400); either way the
			// store and the endpoint are never reached.
			e := s.newEnv(t)
			for _, bad := range []string{"sk-\x01-x", "sk-\x7f-x", "sk-\x1b[31m"} {
				code := e.rawRequest("GET " + PathProtected + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + core.HeaderName + ": " + bad + "\r\n\r\n")
				if code != http.StatusBadRequest && code != http.StatusUnauthorized {
					t.Errorf("control character %q: status %d, want 400 or 401", bad, code)
				}
			}
			e.expectStoreCalls(0)
			if e.calls.Load() != 0 {
				t.Error("endpoint ran")
			}
		}},
		{"key/unknown", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected, KeyUnknown), core.ErrInvalidKey)
			e.expectStoreCalls(1)
		}},
		{"key/case-sensitive", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected, strings.ToUpper(KeyRunning)), core.ErrInvalidKey)
		}},
		{"key/prefix-is-not-a-match", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected, KeyRunning[:len(KeyRunning)-1]), core.ErrInvalidKey)
		}},
		{"key/running-accepted-in-context", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			b := e.expectAccepted(e.get(PathProtected, KeyRunning), SandboxRunning)
			if b.Owner != Owner {
				t.Errorf("owner = %q, want %q", b.Owner, Owner)
			}
			if e.calls.Load() != 1 {
				t.Errorf("endpoint ran %d times, want 1", e.calls.Load())
			}
			e.expectOneResponse()
			// The endpoint scribbled on its record; the next request must not see it.
			b = e.expectAccepted(e.get(PathProtected, KeyRunning), SandboxRunning)
			if b.Owner != Owner {
				t.Errorf("second request saw owner %q: a handler's mutation leaked", b.Owner)
			}
			if info := e.lastSeen.Load(); info == nil || len(info.ExposedURLs) != 1 {
				t.Fatalf("record lost its exposed URLs: %+v", info)
			}
			if got, _ := e.mem.LookupSandbox(context.Background(), KeyRunning); got.ExposedURLs[0].URL != "http://127.0.0.1:9" {
				t.Errorf("a handler's mutation reached the store: %+v", got.ExposedURLs)
			}
		}},
		{"policy/ownerless-running-oss-accepted", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectAccepted(e.get(PathProtected, KeyOwnerless), SandboxOwnerless)
		}},
		{"policy/ownerless-running-saas-rejected", func(t *testing.T, s *suite) {
			e := s.newEnv(t, core.WithMode(core.ModeSaaS))
			e.expectRejected(e.get(PathProtected, KeyOwnerless), core.ErrNoUser)
			recs := e.logRecords("Sandbox had no user specified")
			if len(recs) != 1 || recs[0]["level"] != "ERROR" || recs[0]["sandbox_id"] != SandboxOwnerless {
				t.Errorf("want one ERROR log with sandbox_id, got %v\n%s", recs, e.logs)
			}
		}},
		{"policy/owned-running-saas-accepted", func(t *testing.T, s *suite) {
			e := s.newEnv(t, core.WithMode(core.ModeSaaS))
			e.expectAccepted(e.get(PathProtected, KeyRunning), SandboxRunning)
		}},
	}
	for _, mode := range []core.Mode{core.ModeOSS, core.ModeSaaS} {
		cs = append(cs, testCase{"policy/ownerless-paused-" + string(mode) + "-not-running", func(t *testing.T, s *suite) {
			e := s.newEnv(t, core.WithMode(mode))
			e.expectRejected(e.get(PathProtected, KeyOwnerlessPaused), core.ErrNotRunning)
			if len(e.logRecords("Sandbox had no user specified")) != 0 {
				t.Error("the owner rule ran before the status rule")
			}
		}})
	}
	for _, st := range core.Statuses() {
		if st == core.StatusRunning {
			continue
		}
		cs = append(cs, testCase{"policy/status-" + string(st) + "-rejected", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathProtected, KeyFor(st)), core.ErrNotRunning)
			recs := e.logRecords("Session key rejected for non-running sandbox")
			if len(recs) != 1 || recs[0]["level"] != "WARN" || recs[0]["sandbox_id"] != sandboxFor(st) || recs[0]["status"] != string(st) {
				t.Errorf("want one WARN log with sandbox_id and status, got %v\n%s", recs, e.logs)
			}
		}})
	}
	cs = append(cs,
		testCase{"policy/paused-after-accept", func(t *testing.T, s *suite) {
			// Without a cache the pause is seen at once. With one, the key
			// may pass until the TTL runs out (package cache tests that
			// bound with a fake clock), and not at all after
			// InvalidateSandbox.
			e := s.newEnv(t)
			e.expectAccepted(e.get(PathProtected, KeyRunning), SandboxRunning)
			if err := e.mem.SetStatus(SandboxRunning, core.StatusPaused); err != nil {
				t.Fatal(err)
			}
			if e.cache != nil && !s.recheck {
				e.resetCounts()
				e.expectAccepted(e.get(PathProtected, KeyRunning), SandboxRunning)
				e.cache.InvalidateSandbox(SandboxRunning)
			}
			if s.wrap == nil {
				e.resetCounts()
				e.expectRejected(e.get(PathProtected, KeyRunning), core.ErrNotRunning)
			}
		}},
		testCase{"store/error-is-503", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.probe.mode.Store(probeFail)
			e.expectRejected(e.get(PathProtected, KeyRunning), core.ErrUnavailable)
			if recs := e.logRecords("Session key lookup failed"); len(recs) != 1 || recs[0]["level"] != "ERROR" {
				t.Errorf("want one ERROR log for the store failure, got %v", recs)
			}
		}},
		testCase{"store/panic-is-503", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.probe.mode.Store(probePanic)
			e.expectRejected(e.get(PathProtected, KeyRunning), core.ErrUnavailable)
			e.probe.mode.Store(probeOK)
			e.resetCounts()
			e.expectAccepted(e.get(PathProtected, KeyRunning), SandboxRunning)
		}},
		testCase{"store/timeout-is-503", func(t *testing.T, s *suite) {
			e := s.newEnv(t, core.WithLookupTimeout(50*time.Millisecond))
			e.probe.mode.Store(probeBlock)
			start := time.Now()
			e.expectRejected(e.get(PathProtected, KeyRunning), core.ErrUnavailable)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("timeout of 50ms answered after %v", d)
			}
		}},
		testCase{"store/cancelled-request-stops-lookup", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.probe.mode.Store(probeBlock)
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+PathProtected, nil)
			req.Header.Set(core.HeaderName, KeyRunning)
			go func() {
				for e.probe.calls.Load() == 0 {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			if resp, err := e.srv.Client().Do(req); err == nil {
				resp.Body.Close()
				t.Errorf("request finished with %d while its lookup was blocked", resp.StatusCode)
			}
			select {
			case <-e.probe.sawDone:
			case <-time.After(5 * time.Second):
				t.Fatal("the store lookup did not see the request's cancellation")
			}
			if e.calls.Load() != 0 {
				t.Error("endpoint ran")
			}
		}},
		testCase{"optional/absent-passes-without-sandbox", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			r := e.get(PathOptional)
			if r.status != http.StatusOK || !strings.Contains(r.body, `"authenticated":false`) {
				t.Errorf("got %d %q, want 200 without a sandbox", r.status, r.body)
			}
			e.expectStoreCalls(0)
		}},
		testCase{"optional/empty-rejected", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathOptional, ""), core.ErrMissingKey)
		}},
		testCase{"optional/invalid-rejected", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathOptional, KeyUnknown), core.ErrInvalidKey)
		}},
		testCase{"optional/paused-rejected", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(PathOptional, KeyFor(core.StatusPaused)), core.ErrNotRunning)
		}},
		testCase{"optional/valid-accepted", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectAccepted(e.get(PathOptional, KeyRunning), SandboxRunning)
		}},
		testCase{"owner/required-ownerless-401", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectHandlerRejected(e.get(PathProtected+"?require_owner", KeyOwnerless), core.ErrOwnerRequired)
		}},
		testCase{"owner/required-owned-accepted", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectAccepted(e.get(PathProtected+"?require_owner", KeyRunning), SandboxRunning)
		}},
		testCase{"dual-auth/no-caller-401", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectHandlerRejected(e.get(PathProtected+"?caller=", KeyRunning), core.ErrUnknownCaller)
		}},
		testCase{"dual-auth/other-caller-403", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectHandlerRejected(e.get(PathProtected+"?caller=user-2", KeyRunning), core.ErrOwnerMismatch)
		}},
		testCase{"dual-auth/ownerless-sandbox-403", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectHandlerRejected(e.get(PathProtected+"?caller="+Owner, KeyOwnerless), core.ErrOwnerMismatch)
		}},
		testCase{"dual-auth/owner-caller-accepted", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectAccepted(e.get(PathProtected+"?caller="+Owner, KeyRunning), SandboxRunning)
		}},
		testCase{"route/matching-sandbox-accepted", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectAccepted(e.get(SandboxPath(SandboxRunning), KeyRunning), SandboxRunning)
		}},
		testCase{"route/other-sandbox-403", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(SandboxPath(SandboxOwnerless), KeyRunning), core.ErrSandboxMismatch)
		}},
		testCase{"route/missing-key-401-not-403", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(SandboxPath(SandboxRunning)), core.ErrMissingKey)
		}},
		testCase{"route/paused-sandbox-401-before-403", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			e.expectRejected(e.get(SandboxPath(SandboxRunning), KeyFor(core.StatusPaused)), core.ErrNotRunning)
		}},
	)
	for _, er := range EscapedRoutes {
		cs = append(cs, testCase{"route/escaped-" + er.Name, func(t *testing.T, s *suite) {
			// docs/design.md §5: the id a path names is compared after
			// unescaping, exactly once, as net/http's r.PathValue reads it.
			e := s.newEnv(t)
			p := SandboxPath(er.Segment)
			for _, id := range EscapedIDs {
				e.resetCounts()
				r := e.get(p, KeyForID(id))
				switch {
				case er.Slash && s.noEscapedSlash && r.status == http.StatusNotFound:
					// WithoutEscapedSlash: the router cannot route the
					// path; it must not have reached the endpoint.
					if n := e.calls.Load(); n != 0 {
						t.Errorf("%s answered 404 after the endpoint ran %d times", p, n)
					}
				case id == er.ID:
					if r.status != http.StatusOK {
						t.Errorf("%s (sandbox %q) with its key: %d %q, want 200", p, er.ID, r.status, r.body)
						continue
					}
					e.expectAccepted(r, er.ID)
				default:
					if r.status != http.StatusForbidden {
						t.Errorf("%s (sandbox %q) with the key of sandbox %q: %d %q, want 403", p, er.ID, id, r.status, r.body)
						continue
					}
					e.expectRejected(r, core.ErrSandboxMismatch)
				}
			}
		}})
	}
	cs = append(cs,
		testCase{"limiter/429-before-lookup", func(t *testing.T, s *suite) {
			// docs/design.md §8 and §2 row 1b: a client whose failure
			// budget is spent is answered 429 before any store call, and
			// another client keeps its own budget. Written one request
			// after the other, so it holds whether the budget is charged
			// after a failure or reserved before the lookup and given back.
			const budget = 3
			l, err := core.NewFailureLimiter(budget)
			if err != nil {
				t.Fatal(err)
			}
			rec := &decisionRecorder{}
			e := s.newEnv(t, core.WithFailureLimiter(l), core.WithObserver(rec))
			var want []core.Code
			for i := 0; i < budget; i++ {
				e.resetCounts()
				e.expectRejected(e.get(PathProtected, KeyUnknown), core.ErrInvalidKey)
				want = append(want, core.CodeInvalidKey)
			}
			looked := e.probe.calls.Load()
			for _, p := range []string{PathProtected, SandboxPath(SandboxRunning)} {
				e.resetCounts()
				r := e.get(p, KeyUnknown)
				e.expectRejected(r, core.ErrTooManyFailures)
				if ra := r.header.Get("Retry-After"); ra != "1" {
					t.Errorf("%s: Retry-After = %q, want 1", p, ra)
				}
				want = append(want, core.CodeTooManyFailures)
			}
			if n := e.probe.calls.Load(); n != looked {
				t.Errorf("the store was called %d times for the limited client's requests, want 0", n-looked)
			}
			// Another client has a budget of its own.
			const other = "198.51.100.7:4321"
			for _, p := range []string{PathProtected, SandboxPath(SandboxRunning)} {
				e.resetCounts()
				e.expectAccepted(e.getFrom(other, p, KeyRunning), SandboxRunning)
				want = append(want, core.CodeAccepted)
			}
			// The limited client's valid key: a key the cache holds (fresh,
			// or stale and about to be rechecked) is never limited (§2 row
			// 1b); without a cache the key would need a lookup, and the
			// client has no attempt left.
			e.resetCounts()
			r := e.get(PathProtected, KeyRunning)
			switch {
			case s.cached:
				e.expectAccepted(r, SandboxRunning)
			case s.wrap == nil:
				e.expectRejected(r, core.ErrTooManyFailures)
			case r.status == http.StatusOK: // the wrapper may be a cache of its own
				e.expectAccepted(r, SandboxRunning)
			default:
				e.expectRejected(r, core.ErrTooManyFailures)
			}
			if r.status == http.StatusOK {
				want = append(want, core.CodeAccepted)
			} else {
				want = append(want, core.CodeTooManyFailures)
			}
			got := rec.all()
			expectCodes(t, got, want)
			for _, d := range got {
				if d.Code == core.CodeTooManyFailures && (d.Source != core.SourceNone || d.Duration != 0 || d.SandboxID != "") {
					t.Errorf("429 decision %+v, want source none, no duration, no sandbox", d)
				}
			}
		}},
		testCase{"observer/one-decision-per-request", func(t *testing.T, s *suite) {
			// docs/design.md §9: every answered session-key request is one
			// decision, route-binding 403s included, the optional route's
			// pass-through excluded.
			rec := &decisionRecorder{}
			e := s.newEnv(t, core.WithObserver(rec))
			steps := []struct {
				path   string
				keys   []string
				status int
				code   core.Code // "": no decision
				id     string
			}{
				{PathProtected, []string{KeyRunning}, 200, core.CodeAccepted, SandboxRunning},
				{PathProtected, nil, 401, core.CodeMissingKey, ""},
				{PathProtected, []string{KeyRunning, KeyRunning}, 401, core.CodeMalformedKey, ""},
				{PathProtected, []string{KeyUnknown}, 401, core.CodeInvalidKey, ""},
				{PathProtected, []string{KeyFor(core.StatusPaused)}, 401, core.CodeNotRunning, sandboxFor(core.StatusPaused)},
				{SandboxPath(SandboxOwnerless), []string{KeyRunning}, 403, core.CodeSandboxMismatch, SandboxRunning},
				{SandboxPath(SandboxRunning), []string{KeyRunning}, 200, core.CodeAccepted, SandboxRunning},
				{SandboxPath(SandboxRunning), nil, 401, core.CodeMissingKey, ""},
				{SandboxPath("sb%2541"), []string{KeyForID("sbA")}, 403, core.CodeSandboxMismatch, "sbA"},
				{PathOptional, nil, 200, "", ""},
				{PathOptional, []string{KeyOwnerless}, 200, core.CodeAccepted, SandboxOwnerless},
				// The handler's own check answers 401; the validator accepted.
				{PathProtected + "?require_owner", []string{KeyOwnerless}, 401, core.CodeAccepted, SandboxOwnerless},
				{PathOptional, []string{KeyUnknown}, 401, core.CodeInvalidKey, ""},
			}
			var want []core.Code
			running := map[string]bool{} // keys of running sandboxes looked up once: cached from then on
			for i, st := range steps {
				r := e.get(st.path, st.keys...)
				if r.status != st.status {
					t.Errorf("request %d, %s: status %d %q, want %d", i, st.path, r.status, r.body, st.status)
				}
				if st.code != "" {
					want = append(want, st.code)
				}
				got := rec.all()
				if len(got) != len(want) {
					t.Fatalf("after request %d (%s, %d keys): %d decisions, want %d: %+v", i, st.path, len(st.keys), len(got), len(want), got)
				}
				if st.code == "" {
					continue
				}
				d := got[len(got)-1]
				if d.Code != st.code || d.SandboxID != st.id {
					t.Errorf("request %d, %s: decision %+v, want code %s, sandbox %q", i, st.path, d, st.code, st.id)
				}
				if len(st.keys) != 1 { // answered before any lookup
					if d.Source != core.SourceNone || d.Duration != 0 {
						t.Errorf("request %d, %s: decision %+v, want source none and no duration", i, st.path, d)
					}
					continue
				}
				wantSource := core.SourceStore
				if s.cached && running[st.keys[0]] {
					wantSource = core.SourceCache
					if s.recheck {
						wantSource = core.SourceRecheck
					}
				}
				if s.wrap == nil && d.Source != wantSource {
					t.Errorf("request %d, %s: decision source %s, want %s", i, st.path, d.Source, wantSource)
				}
				if st.id != "" && st.code != core.CodeNotRunning {
					running[st.keys[0]] = true
				}
			}
			expectCodes(t, rec.all(), want)
		}},
	)
	return cs
}

// expectCodes asserts that got holds exactly one decision per code of want,
// in order.
func expectCodes(t *testing.T, got []core.Decision, want []core.Code) {
	t.Helper()
	codes := make([]core.Code, len(got))
	for i, d := range got {
		codes[i] = d.Code
	}
	if !slices.Equal(codes, want) {
		t.Errorf("observed decisions %v, want %v", codes, want)
	}
}

// cacheCases pin the cache's own promises over HTTP; they run in the
// "cached/" variant only.
func cacheCases() []testCase {
	return []testCase{
		{"cache/hit-skips-store", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			for i := 0; i < 3; i++ {
				e.resetCounts()
				b := e.expectAccepted(e.get(PathProtected, KeyRunning), SandboxRunning)
				if b.Owner != Owner {
					t.Errorf("request %d saw owner %q: a handler's mutation reached the cache", i, b.Owner)
				}
			}
			e.resetCounts()
			e.expectAccepted(e.get(SandboxPath(SandboxRunning), KeyRunning), SandboxRunning)
			e.resetCounts()
			e.expectRejected(e.get(SandboxPath(SandboxOwnerless), KeyRunning), core.ErrSandboxMismatch)
			if s.wrap == nil {
				e.expectStoreCalls(1)
			}
		}},
		{"cache/policy-rerun-on-hit", func(t *testing.T, s *suite) {
			// The cache holds the ownerless sandbox (accepted in oss mode
			// by another validator on the same cache); saas must still
			// refuse it on a hit.
			e := s.newEnv(t, core.WithMode(core.ModeSaaS))
			oss, err := core.New(e.cache)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := oss.Validate(context.Background(), KeyOwnerless); err != nil {
				t.Fatalf("oss validator: %v", err)
			}
			e.expectRejected(e.get(PathProtected, KeyOwnerless), core.ErrNoUser)
			if s.wrap == nil {
				e.expectStoreCalls(1)
			}
		}},
		{"cache/rejections-not-cached", func(t *testing.T, s *suite) {
			e := s.newEnv(t)
			for i := 0; i < 2; i++ {
				e.resetCounts()
				e.expectRejected(e.get(PathProtected, KeyUnknown), core.ErrInvalidKey)
				e.resetCounts()
				e.expectRejected(e.get(PathProtected, KeyFor(core.StatusPaused)), core.ErrNotRunning)
			}
			e.resetCounts()
			e.probe.mode.Store(probeFail)
			e.expectRejected(e.get(PathProtected, KeyRunning), core.ErrUnavailable)
			e.probe.mode.Store(probeOK)
			e.resetCounts()
			e.expectAccepted(e.get(PathProtected, KeyRunning), SandboxRunning)
			if s.wrap == nil {
				e.expectStoreCalls(6)
			}
			if n := e.cache.Len(); n != 1 {
				t.Errorf("%d cache entries, want 1 (only the accepted key)", n)
			}
		}},
	}
}
