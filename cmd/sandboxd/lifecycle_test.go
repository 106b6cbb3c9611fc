package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

// newKeyReply checks a resume or rotate-key answer, 200
// {"id":...,"session_api_key":...}, and returns the key.
func newKeyReply(t *testing.T, step string, r reply, id string) string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%s: %d %s, want 200", step, r.status, r.body)
	}
	var out struct {
		ID  string `json:"id"`
		Key string `json:"session_api_key"`
	}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || out.ID != id || len(out.Key) != 43 {
		t.Fatalf("%s: body %q (%v), want the id and a new 43-character key", step, r.body, err)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", step, ct)
	}
	return out.Key
}

// lifecycle is the leaked-key story of docs/design.md §11 over HTTP. It
// returns a transcript (keys and ids left out) to compare frameworks.
func lifecycle(t *testing.T, in *instance) []string {
	t.Helper()
	var transcript []string
	note := func(step string, r reply) {
		body := strings.TrimSpace(r.body)
		if r.status == 200 && strings.Contains(body, "session_api_key") {
			body = "{id, new key}"
		}
		transcript = append(transcript, fmt.Sprintf("%s -> %d %s %s", step, r.status, r.header.Get("Content-Type"), body))
	}
	get := func(id, key string) reply { return in.do("GET", secretsPath(id), "", core.HeaderName, key) }
	invalid, notRunning := coreBody(core.ErrInvalidKey), coreBody(core.ErrNotRunning)

	id, leaked := in.create("u1", "RUNNING")
	expect(t, "running", get(id, leaked), 200, "")

	// Pause: the key is revoked, not merely refused.
	r := in.admin("POST", "/admin/sandboxes/"+id+"/pause", "")
	expect(t, "pause", r, 204, "")
	note("pause", r)
	r = get(id, leaked)
	expect(t, "paused, leaked key", r, 401, invalid)
	note("paused, leaked key", r)
	r = in.admin("POST", "/admin/sandboxes/"+id+"/pause", "")
	expect(t, "pause again", r, 204, "")

	// Resume: a new key; the leaked one stays dead.
	r = in.admin("POST", "/admin/sandboxes/"+id+"/resume", "")
	fresh := newKeyReply(t, "resume", r, id)
	note("resume", r)
	if fresh == leaked {
		t.Fatal("resume returned the old key")
	}
	r = get(id, leaked)
	expect(t, "resumed, leaked key", r, 401, invalid)
	note("resumed, leaked key", r)
	r = get(id, fresh)
	expect(t, "resumed, new key", r, 200, `{"secrets":[]}`)
	note("resumed, new key", r)

	// Resume of a RUNNING sandbox: 409, nothing changed.
	r = in.admin("POST", "/admin/sandboxes/"+id+"/resume", "")
	expect(t, "resume running", r, 409, detail("Sandbox is already running"))
	note("resume running", r)
	expect(t, "key after a refused resume", get(id, fresh), 200, "")

	// Rotation: the old key dies at once (the cache, if any, holds it).
	r = in.admin("POST", "/admin/sandboxes/"+id+"/rotate-key", "")
	rotated := newKeyReply(t, "rotate", r, id)
	note("rotate", r)
	r = get(id, fresh)
	expect(t, "rotated, old key", r, 401, invalid)
	note("rotated, old key", r)
	r = get(id, rotated)
	expect(t, "rotated, new key", r, 200, "")
	note("rotated, new key", r)

	// The runtime's status report never touches the key.
	r = in.admin("PUT", "/admin/sandboxes/"+id+"/status", `{"status":"PAUSED"}`)
	expect(t, "runtime pause", r, 204, "")
	r = get(id, rotated)
	expect(t, "runtime-paused key", r, 401, notRunning)
	note("runtime-paused key", r)
	r = in.admin("PUT", "/admin/sandboxes/"+id+"/status", `{"status":"RUNNING"}`)
	expect(t, "runtime resume", r, 204, "")
	r = get(id, rotated)
	expect(t, "runtime-resumed key", r, 200, "")
	note("runtime-resumed key", r)
	// Resuming a runtime-paused sandbox revokes the key it kept.
	in.admin("PUT", "/admin/sandboxes/"+id+"/status", `{"status":"PAUSED"}`)
	r = in.admin("POST", "/admin/sandboxes/"+id+"/resume", "")
	last := newKeyReply(t, "resume after runtime pause", r, id)
	expect(t, "key kept by the runtime pause, after resume", get(id, rotated), 401, invalid)
	expect(t, "newest key", get(id, last), 200, "")

	// Unknown sandboxes, bad ids, bad bodies, no token.
	for _, op := range []string{"pause", "resume", "rotate-key"} {
		r = in.admin("POST", "/admin/sandboxes/sb-does-not-exist/"+op, "")
		expect(t, op+" unknown", r, 404, detail("Sandbox not found"))
		note(op+" unknown", r)
		r = in.admin("POST", "/admin/sandboxes/"+id+"/"+op, `{"force":true}`)
		if r.status != 400 || !strings.Contains(r.body, `"detail"`) {
			t.Errorf("%s with an unknown field: %d %s, want 400 with a detail", op, r.status, r.body)
		}
		note(op+" with a body field", reply{r.status, r.header, ""})
		r = in.do("POST", "/admin/sandboxes/"+id+"/"+op, "")
		expect(t, op+" without token", r, 401, detail("Invalid admin token"))
		note(op+" without token", r)
		r = in.admin("GET", "/admin/sandboxes/"+id+"/"+op, "")
		expect(t, op+" with GET", r, 404, detail("Not Found"))
		if allow := r.header.Values("Allow"); len(allow) != 0 {
			t.Errorf("%s with GET: 404 with Allow %q, unlike the other frameworks", op, allow)
		}
	}
	// Nothing above changed the sandbox: the newest key still works.
	expect(t, "newest key after the refused calls", get(id, last), 200, "")

	// Delete keeps revoking at once.
	expect(t, "delete", in.admin("DELETE", "/admin/sandboxes/"+id, ""), 204, "")
	r = get(id, last)
	expect(t, "deleted", r, 401, invalid)
	note("deleted", r)
	r = in.admin("POST", "/admin/sandboxes/"+id+"/resume", "")
	expect(t, "resume deleted", r, 404, detail("Sandbox not found"))

	if logs := in.logs.String(); strings.Contains(logs, leaked) || strings.Contains(logs, fresh) || strings.Contains(logs, rotated) || strings.Contains(logs, last) {
		t.Errorf("a key was logged:\n%s", logs)
	}
	return transcript
}

// TestLifecycleEveryFramework runs the leaked-key story on SQLite under
// every framework, with and without the cache, and requires identical
// transcripts.
func TestLifecycleEveryFramework(t *testing.T) {
	var want []string
	for _, fw := range frameworks {
		for _, ttl := range []time.Duration{0, 30 * time.Second} {
			t.Run(fmt.Sprintf("%s/ttl=%v", fw, ttl), func(t *testing.T) {
				got := lifecycle(t, startInstance(t, config{Framework: fw, CacheTTL: ttl}))
				if want == nil {
					want = got
					return
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s answers differently from %s:\n got: %s\nwant: %s", fw, frameworks[0],
						strings.Join(got, "\n      "), strings.Join(want, "\n      "))
				}
			})
		}
	}
}

// TestLifecyclePostgres: the same story on PostgreSQL, every framework.
func TestLifecyclePostgres(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			lifecycle(t, startInstance(t, config{Framework: fw, DB: pgtest.URL(t), CacheTTL: 30 * time.Second}))
		})
	}
}

// An id no sandbox can have (longer than store.MaxIDLen, or not UTF-8) is
// an unknown sandbox: 404 on every admin route that names one, on every
// framework (docs/design.md §10), and nothing is written.
func TestAdminImpossibleSandboxIDIs404(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			in := startInstance(t, config{Framework: fw})
			in.create("u1", "RUNNING")
			before := in.countRows("sandboxes")
			for _, id := range []string{strings.Repeat("a", store.MaxIDLen+1), strings.Repeat("a", 200), "%ff"} {
				for _, c := range []struct{ method, path, body string }{
					{"POST", "/admin/sandboxes/" + id + "/pause", ""},
					{"POST", "/admin/sandboxes/" + id + "/resume", ""},
					{"POST", "/admin/sandboxes/" + id + "/rotate-key", ""},
					{"DELETE", "/admin/sandboxes/" + id, ""},
					{"PUT", "/admin/sandboxes/" + id + "/status", `{"status":"PAUSED"}`},
				} {
					if r := in.admin(c.method, c.path, c.body); r.status != 404 || !strings.Contains(r.body, "Sandbox not found") {
						t.Errorf("%s %s (id of %d bytes): %d %s, want 404 Sandbox not found", c.method, c.path[len(c.path)-12:], len(id), r.status, strings.TrimSpace(r.body))
					}
				}
			}
			// The body is still checked first: a bad status is 400.
			if r := in.admin("PUT", "/admin/sandboxes/"+strings.Repeat("a", 200)+"/status", `{"status":"paused"}`); r.status != 400 {
				t.Errorf("bad status for a long id: %d %s, want 400", r.status, r.body)
			}
			if n := in.countRows("sandboxes"); n != before {
				t.Errorf("sandboxes: %d rows, want %d", n, before)
			}
		})
	}
}

// After a pause, a status report of RUNNING leaves the sandbox running with
// no valid key (docs/design.md §11): the old key stays unknown, resume
// answers 409 (it is running), and rotate-key issues it a key.
func TestRunningReportAfterPauseLeavesNoKey(t *testing.T) {
	in := startInstance(t, config{})
	id, key := in.create("u1", "RUNNING")
	expect(t, "pause", in.admin("POST", "/admin/sandboxes/"+id+"/pause", ""), 204, "")
	expect(t, "report RUNNING", in.admin("PUT", "/admin/sandboxes/"+id+"/status", `{"status":"RUNNING"}`), 204, "")
	if r := in.do("GET", secretsPath(id), "", core.HeaderName, key); r.status != 401 || !strings.Contains(r.body, "Invalid session API key") {
		t.Fatalf("old key after pause and a RUNNING report: %d %s", r.status, r.body)
	}
	expect(t, "resume a running sandbox", in.admin("POST", "/admin/sandboxes/"+id+"/resume", ""), 409, "")
	nk := newKeyReply(t, "rotate-key", in.admin("POST", "/admin/sandboxes/"+id+"/rotate-key", ""), id)
	expect(t, "the rotated key", in.do("GET", secretsPath(id), "", core.HeaderName, nk), 200, "")
}
