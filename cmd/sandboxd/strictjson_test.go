package main

import (
	"context"
	"strings"
	"testing"
)

// countRows counts the rows of a table of the instance's database.
func (in *instance) countRows(table string) int {
	in.t.Helper()
	var n int
	if err := in.srv.db.DB().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		in.t.Fatal(err)
	}
	return n
}

// TestStrictAdminJSON: what encoding/json would let through silently is a
// 400 with a detail, on every framework, and nothing is written.
func TestStrictAdminJSON(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			in := startInstance(t, config{Framework: fw})
			id, key := in.create("u1", "RUNNING")
			if r := in.admin("PUT", "/admin/users/u1/secrets/TOKEN", `{"value":"v1","description":"d"}`); r.status != 204 {
				t.Fatalf("put secret: %d %s", r.status, r.body)
			}
			sandboxes, secrets := in.countRows("sandboxes"), in.countRows("user_secrets")
			for _, c := range []struct{ step, method, path, body, want string }{
				{"duplicate key", "POST", "/admin/sandboxes", `{"owner":"a","owner":"b"}`, "duplicate field"},
				{"duplicate key, escaped", "POST", "/admin/sandboxes", `{"owner":"a","\u006fwner":"b"}`, "duplicate field"},
				{"duplicate status", "PUT", "/admin/sandboxes/" + id + "/status", `{"status":"RUNNING","status":"PAUSED"}`, "duplicate field"},
				{"duplicate value", "PUT", "/admin/users/u1/secrets/TOKEN", `{"value":"x","value":"y"}`, "duplicate field"},
				{"upper-case field", "POST", "/admin/sandboxes", `{"OWNER":"a"}`, "case-sensitive"},
				{"title-case field", "PUT", "/admin/sandboxes/" + id + "/status", `{"Status":"PAUSED"}`, "case-sensitive"},
				{"case-folded field", "PUT", "/admin/users/u1/secrets/TOKEN", `{"Value":"x"}`, "case-sensitive"},
				{"Kelvin sign field", "POST", "/admin/sandboxes", `{"owner":"a","statu\u017f":"PAUSED"}`, "unknown field"},
				{"invalid UTF-8", "POST", "/admin/sandboxes", "{\"owner\":\"\xff\"}", "UTF-8"},
				{"invalid UTF-8 in a value", "PUT", "/admin/users/u1/secrets/TOKEN", "{\"value\":\"a\xc3\x28\"}", "UTF-8"},
				{"lone high surrogate", "POST", "/admin/sandboxes", `{"owner":"\ud800"}`, "UTF-8"},
				{"lone low surrogate", "PUT", "/admin/users/u1/secrets/TOKEN", `{"value":"x\udc00y"}`, "UTF-8"},
				{"reversed pair", "POST", "/admin/sandboxes", `{"owner":"\udc00\ud800"}`, "UTF-8"},
				{"truncated", "POST", "/admin/sandboxes", `{"owner":"a"`, "Malformed JSON"},
				// json.Decoder.More() is false before a } or a ]: a stray
				// closing bracket after the object is trailing data all the same.
				{"trailing }", "POST", "/admin/sandboxes", `{"owner":"a"}}`, "trailing data"},
				{"trailing ]", "PUT", "/admin/sandboxes/" + id + "/status", `{"status":"PAUSED"}]`, "trailing data"},
				{"trailing ] on pause", "POST", "/admin/sandboxes/" + id + "/pause", `{}]`, "trailing data"},
				{"second object", "POST", "/admin/sandboxes", `{"owner":"a"} {}`, "trailing data"},
				// The body is one object: null (which would decode into a
				// zero struct), an array or a scalar is not.
				{"null", "POST", "/admin/sandboxes", `null`, "JSON object"},
				{"null, status", "PUT", "/admin/sandboxes/" + id + "/status", ` null `, "JSON object"},
				{"null on pause", "POST", "/admin/sandboxes/" + id + "/pause", `null`, "JSON object"},
				{"array", "POST", "/admin/sandboxes", `[]`, "JSON object"},
				{"string", "PUT", "/admin/users/u1/secrets/TOKEN", `"x"`, "JSON object"},
				// Only JSON white space makes a body empty.
				{"NBSP only", "POST", "/admin/sandboxes", "\u00a0", "Malformed JSON"},
				{"NBSP only on pause", "POST", "/admin/sandboxes/" + id + "/pause", "\u00a0", "Malformed JSON"},
			} {
				r := in.admin(c.method, c.path, c.body)
				if r.status != 400 || !strings.Contains(r.body, `"detail"`) || !strings.Contains(r.body, c.want) {
					t.Errorf("%s: %d %s, want 400 with a detail about %q", c.step, r.status, strings.TrimSpace(r.body), c.want)
				}
			}
			// Nothing was written: no sandbox, no secret, no status change.
			if n := in.countRows("sandboxes"); n != sandboxes {
				t.Errorf("sandboxes: %d rows, want %d", n, sandboxes)
			}
			if n := in.countRows("user_secrets"); n != secrets {
				t.Errorf("user_secrets: %d rows, want %d", n, secrets)
			}
			expect(t, "still running", in.do("GET", secretsPath(id), "", "X-Session-API-Key", key), 200, "")
			expect(t, "secret unchanged", in.do("GET", secretsPath(id)+"/TOKEN", "", "X-Session-API-Key", key), 200, "v1")

			// What is valid stays valid: escapes, a surrogate pair, a
			// backslash before a u, an empty body where allowed.
			for _, body := range []string{`{"owner":"\ud83d\ude00"}`, `{"owner":"a\\u0041"}`, `{"owner":"\u0061"}`, ``, ` {} `, " \t\r\n", "{}\r\n"} {
				if r := in.admin("POST", "/admin/sandboxes", body); r.status != 201 {
					t.Errorf("valid body %q: %d %s", body, r.status, r.body)
				}
			}
			r := in.admin("PUT", "/admin/users/u1/secrets/EMOJI", `{"value":"\ud83d\ude00","description":"\u00e9"}`)
			expect(t, "escaped pair in a value", r, 204, "")
			expect(t, "escaped pair read back", in.do("GET", secretsPath(id)+"/EMOJI", "", "X-Session-API-Key", key), 200, "😀")
		})
	}
}

func TestCheckStrictJSON(t *testing.T) {
	type body struct {
		Owner  string  `json:"owner"`
		Status *string `json:"status"`
		Skip   string  `json:"-"`
		Plain  string
	}
	for in, ok := range map[string]bool{
		`{"owner":"a","status":"RUNNING","Plain":"p"}`:      true,
		`{"owner":"a","plain":"p"}`:                         false,
		`{"owner":{"x":1,"x":2}}`:                           false, // duplicates at any depth
		`{"owner":[{"x":1},{"x":2}]}`:                       true,
		`{"Skip":"x"}`:                                      false,
		`{"-":"x"}`:                                         false,
		`{"owner":"\\ud800"}`:                               true, // an escaped backslash, then text
		`{"owner":"\\\ud800"}`:                              false,
		`{"owner":"\"\ud800"}`:                              false,
		`"\ud800"`:                                          false,
		`{"owner":"a"} trailing`:                            true, // trailing data is the decoder's to refuse
		strings.Repeat("[", 100) + strings.Repeat("]", 100): false,
	} {
		err := checkStrictJSON([]byte(in), &body{})
		if (err == nil) != ok {
			t.Errorf("checkStrictJSON(%s) = %v, want ok=%v", in, err, ok)
		}
	}
}
