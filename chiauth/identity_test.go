package chiauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/sandboxauth/sandboxauth/chiauth"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// TestByteIdenticalToStdlib sends the same requests to the net/http adapter
// on a ServeMux and to this adapter on a chi router and requires the same
// status, the same header set and the same body bytes.
func TestByteIdenticalToStdlib(t *testing.T) {
	const route = "/api/v1/sandboxes/{sandbox_id}/settings/secrets"
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := core.SandboxFromContext(r.Context())
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello " + info.ID))
	})
	build := func(v *core.Validator) (std, chiRouter http.Handler) {
		auth, err := stdlib.Middleware(v)
		if err != nil {
			t.Fatal(err)
		}
		bind, err := stdlib.MatchPathValue("sandbox_id")
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET "+route, auth(bind(endpoint)))

		must := mustFor(t)
		cauth := must(chiauth.Middleware(v))
		cbind := must(chiauth.MatchURLParam("sandbox_id"))
		r := chi.NewRouter()
		r.With(cauth, cbind).Method(http.MethodGet, route, endpoint)
		return mux, r
	}

	healthy := newValidator(t, newStore(t))
	saas := newValidator(t, func() core.Store {
		m := newStore(t)
		if err := m.Put("sk-ownerless-0123456789", core.SandboxInfo{ID: "sb3", Status: core.StatusRunning}); err != nil {
			t.Fatal(err)
		}
		return m
	}(), core.WithMode(core.ModeSaaS))
	failing := newValidator(t, core.StoreFunc(func(context.Context, string) (*core.SandboxInfo, error) {
		return nil, errors.New("connection refused")
	}))
	path := func(id string) string { return "/api/v1/sandboxes/" + id + "/settings/secrets" }

	for _, tc := range []struct {
		name   string
		v      *core.Validator
		id     string
		keys   []string
		status int
	}{
		{"missing", healthy, sbRunning, nil, http.StatusUnauthorized},
		{"empty", healthy, sbRunning, []string{""}, http.StatusUnauthorized},
		{"duplicate", healthy, sbRunning, []string{keyRunning, keyRunning}, http.StatusUnauthorized},
		{"unknown", healthy, sbRunning, []string{"sk-unknown"}, http.StatusUnauthorized},
		{"paused", healthy, "sb2", []string{keyPaused}, http.StatusUnauthorized},
		{"saas-no-user", saas, "sb3", []string{"sk-ownerless-0123456789"}, http.StatusUnauthorized},
		{"mismatch", healthy, "other", []string{keyRunning}, http.StatusForbidden},
		{"store-down", failing, sbRunning, []string{keyRunning}, http.StatusServiceUnavailable},
		{"accepted", healthy, sbRunning, []string{keyRunning}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			std, chiRouter := build(tc.v)
			var recs [2]*httptest.ResponseRecorder
			for i, h := range []http.Handler{std, chiRouter} {
				req := httptest.NewRequest(http.MethodGet, path(tc.id), nil)
				for _, k := range tc.keys {
					req.Header.Add(core.HeaderName, k)
				}
				recs[i] = httptest.NewRecorder()
				h.ServeHTTP(recs[i], req)
			}
			s, c := recs[0], recs[1]
			if s.Code != tc.status {
				t.Fatalf("stdlib answered %d, want %d: the case tests nothing", s.Code, tc.status)
			}
			if c.Code != s.Code {
				t.Errorf("status: chi %d, stdlib %d", c.Code, s.Code)
			}
			if !reflect.DeepEqual(c.Header(), s.Header()) {
				t.Errorf("headers:\n chi    %v\n stdlib %v", c.Header(), s.Header())
			}
			for _, h := range []string{"Content-Type", "Cache-Control", "X-Content-Type-Options", "Retry-After"} {
				if c.Header().Get(h) != s.Header().Get(h) {
					t.Errorf("%s: chi %q, stdlib %q", h, c.Header().Get(h), s.Header().Get(h))
				}
			}
			if c.Body.String() != s.Body.String() {
				t.Errorf("body:\n chi    %q\n stdlib %q", c.Body, s.Body)
			}
		})
	}
}
