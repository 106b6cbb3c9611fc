package stdlib_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

func Example() {
	store := core.NewMemoryStore()
	_ = store.Put("sk-live-123", core.SandboxInfo{ID: "sb-1", CreatedByUserID: "alice", Status: core.StatusRunning})
	v, _ := core.New(store)
	auth, _ := stdlib.Middleware(v, stdlib.WithSandboxParam("sandbox_id"))

	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/sandboxes/{sandbox_id}/settings/secrets", auth(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			info, _ := stdlib.Sandbox(r) // or core.SandboxFromContext(r.Context())
			fmt.Fprintf(w, "secrets of %s for sandbox %s\n", info.CreatedByUserID, info.ID)
		})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, c := range []struct{ path, key string }{
		{"/api/v1/sandboxes/sb-1/settings/secrets", "sk-live-123"},
		{"/api/v1/sandboxes/sb-2/settings/secrets", "sk-live-123"},
		{"/api/v1/sandboxes/sb-1/settings/secrets", ""},
	} {
		req, _ := http.NewRequest("GET", srv.URL+c.path, nil)
		if c.key != "" {
			req.Header.Set("X-Session-API-Key", c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s", resp.StatusCode, body)
	}
	// Output:
	// 200 secrets of alice for sandbox sb-1
	// 403 {"detail":"Session API key does not match sandbox","code":"sandbox_mismatch"}
	// 401 {"detail":"X-Session-API-Key header is required","code":"missing_session_key"}
}

// Credentials-optional routes let a request without the header through, with
// no sandbox in its context; a present but bad key is still rejected.
func ExampleWithCredentialsOptional() {
	v, _ := core.New(core.NewMemoryStore())
	auth, _ := stdlib.Middleware(v, stdlib.WithCredentialsOptional())
	h := auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := stdlib.Sandbox(r)
		fmt.Fprintln(w, "authenticated:", ok)
	}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Print(rec.Code, " ", rec.Body)

	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Session-API-Key", "sk-wrong")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body)
	// Output:
	// 200 authenticated: false
	// 401 {"detail":"Invalid session API key","code":"invalid_session_key"}
}

// With a router that is not a Go 1.22 ServeMux, WithSandboxParamFunc reads
// the route's sandbox id the router's own way; here a plain prefix.
func ExampleWithSandboxParamFunc() {
	store := core.NewMemoryStore()
	_ = store.Put("sk-live", core.SandboxInfo{ID: "sb-1", Status: core.StatusRunning})
	v, _ := core.New(store)
	auth, _ := stdlib.Middleware(v, stdlib.WithSandboxParamFunc(func(r *http.Request) string {
		id, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/hooks/"), "/")
		return id
	}))
	h := auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))

	for _, id := range []string{"sb-1", "sb-2"} {
		req := httptest.NewRequest("POST", "/hooks/"+id+"/events", nil)
		req.Header.Set("X-Session-API-Key", "sk-live")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(id, rec.Code)
	}
	// Output:
	// sb-1 204
	// sb-2 403
}
