package ginauth_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/ginauth"
)

// A small gin app: the secrets route needs the session key of a RUNNING
// sandbox, and the key must belong to the sandbox named by :sandbox_id.
// Rejections are answered by the adapter and recorded in c.Errors, where an
// application's error middleware sees them.
func Example() {
	store := core.NewMemoryStore()
	_ = store.Put("sk-demo", core.SandboxInfo{ID: "sb1", Status: core.StatusRunning, CreatedByUserID: "alice"})
	v, err := core.New(store)
	if err != nil {
		log.Fatal(err)
	}
	auth, err := ginauth.Middleware(v, ginauth.WithSandboxParam("sandbox_id"))
	if err != nil {
		log.Fatal(err)
	}

	r := gin.New()
	r.Use(func(c *gin.Context) { // the application's error middleware
		c.Next()
		for _, e := range c.Errors {
			fmt.Println("  error middleware saw:", e.Err)
		}
	})
	sandbox := r.Group("/api/v1/sandboxes/:sandbox_id", auth)
	sandbox.GET("/settings/secrets", func(c *gin.Context) {
		info, _ := ginauth.Sandbox(c)
		c.String(http.StatusOK, "secrets of %s for sandbox %s", info.CreatedByUserID, info.ID)
	})

	call := func(path, key string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set(core.HeaderName, key)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	call("/api/v1/sandboxes/sb1/settings/secrets", "sk-demo")
	call("/api/v1/sandboxes/sb2/settings/secrets", "sk-demo")
	call("/api/v1/sandboxes/sb1/settings/secrets", "sk-wrong")
	// Output:
	// 200 secrets of alice for sandbox sb1
	//   error middleware saw: sandboxauth: Session API key does not match sandbox (sandbox sb1)
	// 403 {"detail":"Session API key does not match sandbox","code":"sandbox_mismatch"}
	//   error middleware saw: sandboxauth: Invalid session API key
	// 401 {"detail":"Invalid session API key","code":"invalid_session_key"}
}

// With credentials optional, a request without the header passes with no
// sandbox; a present but bad header is still rejected.
func ExampleWithCredentialsOptional() {
	v, err := core.New(core.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}
	auth, err := ginauth.Middleware(v, ginauth.WithCredentialsOptional())
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.GET("/feed", auth, func(c *gin.Context) {
		if info, ok := ginauth.Sandbox(c); ok {
			c.String(http.StatusOK, "feed for sandbox %s", info.ID)
			return
		}
		c.String(http.StatusOK, "public feed")
	})

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/feed", nil))
	fmt.Println(rec.Code, rec.Body.String())

	req := httptest.NewRequest(http.MethodGet, "/feed", nil)
	req.Header.Set(core.HeaderName, "sk-unknown")
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	// Output:
	// 200 public feed
	// 401 {"detail":"Invalid session API key","code":"invalid_session_key"}
}
