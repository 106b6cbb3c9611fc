package chiauth_test

import (
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/sandboxauth/sandboxauth/chiauth"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// A complete small app: the session key is checked on every route of the
// sandbox API, the route is bound to the {sandbox_id} it names, and the
// handler reads the accepted sandbox with chiauth.Sandbox.
func Example() {
	store := core.NewMemoryStore()
	_ = store.Put("sk-live", core.SandboxInfo{ID: "sb-1", CreatedByUserID: "alice", Status: core.StatusRunning})
	_ = store.Put("sk-paused", core.SandboxInfo{ID: "sb-2", CreatedByUserID: "bob", Status: core.StatusPaused})
	v, err := core.New(store, core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	auth, err := chiauth.Middleware(v, chiauth.WithSandboxParam("sandbox_id"))
	if err != nil {
		log.Fatal(err)
	}

	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	r.Route("/api/v1/sandboxes/{sandbox_id}", func(r chi.Router) {
		r.Use(auth) // inside Route, so the {sandbox_id} parameter is known
		r.Get("/settings/secrets", func(w http.ResponseWriter, r *http.Request) {
			sb, _ := chiauth.Sandbox(r)
			fmt.Fprintf(w, "secrets of %s for sandbox %s\n", sb.CreatedByUserID, sb.ID)
		})
	})

	get := func(path, key string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if key != "" {
			req.Header.Set("X-Session-API-Key", key)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	get("/healthz", "")
	get("/api/v1/sandboxes/sb-1/settings/secrets", "sk-live")
	get("/api/v1/sandboxes/sb-1/settings/secrets", "")
	get("/api/v1/sandboxes/sb-9/settings/secrets", "sk-live")
	get("/api/v1/sandboxes/sb-2/settings/secrets", "sk-paused")
	// Output:
	// 200 ok
	// 200 secrets of alice for sandbox sb-1
	// 401 {"detail":"X-Session-API-Key header is required","code":"missing_session_key"}
	// 403 {"detail":"Session API key does not match sandbox","code":"sandbox_mismatch"}
	// 401 {"detail":"Sandbox is not running","code":"sandbox_not_running"}
}

// A bound middleware also works inline with r.With, where chi has already
// routed the request.
func ExampleWithSandboxParam() {
	store := core.NewMemoryStore()
	_ = store.Put("sk-live", core.SandboxInfo{ID: "sb-1", Status: core.StatusRunning})
	v, _ := core.New(store, core.WithLogger(slog.New(slog.DiscardHandler)))
	auth, _ := chiauth.Middleware(v, chiauth.WithSandboxParam("id"))

	r := chi.NewRouter()
	r.With(auth).Post("/hooks/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})

	for _, id := range []string{"sb-1", "sb-2"} {
		req := httptest.NewRequest(http.MethodPost, "/hooks/"+id+"/events", nil)
		req.Header.Set("X-Session-API-Key", "sk-live")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(id, rec.Code)
	}
	// Output:
	// sb-1 204
	// sb-2 403
}

// The net/http adapter's options configure the chi middleware as they are:
// with credentials optional, a request without the header passes with no
// sandbox; one with a bad key is still refused.
func ExampleMiddleware_credentialsOptional() {
	store := core.NewMemoryStore()
	_ = store.Put("sk-live", core.SandboxInfo{ID: "sb-1", Status: core.StatusRunning})
	v, _ := core.New(store, core.WithLogger(slog.New(slog.DiscardHandler)))
	auth, _ := chiauth.Middleware(v, stdlib.WithCredentialsOptional())

	r := chi.NewRouter()
	r.Use(auth)
	r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
		if sb, ok := chiauth.Sandbox(r); ok {
			fmt.Fprintln(w, "sandbox", sb.ID)
			return
		}
		fmt.Fprintln(w, "anonymous")
	})

	for _, key := range []string{"", "sk-live", "sk-wrong"} {
		req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
		if key != "" {
			req.Header.Set("X-Session-API-Key", key)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 200 anonymous
	// 200 sandbox sb-1
	// 401 {"detail":"Invalid session API key","code":"invalid_session_key"}
}
