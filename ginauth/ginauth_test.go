package ginauth_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sandboxauth/sandboxauth/authtest"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/ginauth"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// ginPattern is authtest.PathSandboxPattern in gin's route syntax.
const ginPattern = "/api/v1/sandboxes/:sandbox_id/settings/secrets"

// newEngine is the default production setup of gin (Recovery and Logger,
// the logger writing to out) with the adapter mounted on the suite's three
// routes.
func newEngine(t testing.TB, v *core.Validator, endpoint http.Handler, out io.Writer) *gin.Engine {
	t.Helper()
	auth, err := ginauth.Middleware(v)
	if err != nil {
		t.Fatal(err)
	}
	optional, err := ginauth.Middleware(v, ginauth.WithCredentialsOptional())
	if err != nil {
		t.Fatal(err)
	}
	bind, err := ginauth.MatchParam("sandbox_id")
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(gin.LoggerWithWriter(out), gin.Recovery())
	h := gin.WrapH(endpoint)
	r.GET(authtest.PathProtected, auth, h)
	r.GET(authtest.PathOptional, optional, h)
	r.GET(ginPattern, auth, bind, h)
	return r
}

func factory(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
	return newEngine(t, v, endpoint, io.Discard)
}

func TestConformance(t *testing.T) { authtest.Run(t, factory) }

// switchStore serves a MemStore, or fails every lookup while down is set.
type switchStore struct {
	mem  *core.MemStore
	down atomic.Bool
}

func (s *switchStore) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	if s.down.Load() {
		return nil, errors.New("database unreachable")
	}
	return s.mem.LookupSandbox(ctx, key)
}

func newStore(t testing.TB) *switchStore {
	t.Helper()
	m := core.NewMemStore()
	for key, info := range map[string]core.SandboxInfo{
		"k-run":    {ID: "sb1", Status: core.StatusRunning, CreatedByUserID: "u1"},
		"k-paused": {ID: "sb2", Status: core.StatusPaused, CreatedByUserID: "u1"},
	} {
		if err := m.Put(key, info); err != nil {
			t.Fatal(err)
		}
	}
	return &switchStore{mem: m}
}

func newValidator(t testing.TB, s core.Store) *core.Validator {
	t.Helper()
	v, err := core.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func get(path string, keys ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for _, k := range keys {
		r.Header.Add(core.HeaderName, k)
	}
	return r
}

// TestRejectionRecordedAndAborted pins the gin way of rejecting: the error
// is in c.Errors for a wrapping middleware, the chain is aborted, and
// nothing after the adapter runs.
func TestRejectionRecordedAndAborted(t *testing.T) {
	v := newValidator(t, newStore(t))
	auth, err := ginauth.Middleware(v)
	if err != nil {
		t.Fatal(err)
	}
	bind, err := ginauth.MatchParam("id")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		req  *http.Request
		want *core.Error
	}{
		{"invalid key", get("/s/sb1", "nope"), core.ErrInvalidKey},
		{"not running", get("/s/sb1", "k-paused"), core.ErrNotRunning},
		{"route mismatch", get("/s/sb2", "k-run"), core.ErrSandboxMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			var (
				seen    []*gin.Error
				aborted bool
				later   int
			)
			r := gin.New()
			r.Use(func(c *gin.Context) {
				c.Next()
				seen, aborted = c.Errors, c.IsAborted()
			})
			r.GET("/s/:id", auth, bind, func(c *gin.Context) { later++; c.Next() }, func(c *gin.Context) { later++ })
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, c.req)

			row := core.ResponseFor(c.want)
			if rec.Code != row.Status || rec.Body.String() != row.Body {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body, row.Status, row.Body)
			}
			if later != 0 {
				t.Errorf("%d handlers ran after the rejection", later)
			}
			if !aborted {
				t.Error("the context is not aborted")
			}
			if len(seen) != 1 {
				t.Fatalf("c.Errors = %v, want exactly one error", seen)
			}
			if seen[0].Type != gin.ErrorTypePrivate || !errors.Is(seen[0].Err, c.want) {
				t.Errorf("c.Errors[0] = %v (type %d), want %v as a private error", seen[0].Err, seen[0].Type, c.want)
			}
		})
	}
}

// TestGinLoggerSeesErrorNotKey: gin's own logger prints c.Errors; the line
// carries the reason and never the key.
func TestGinLoggerSeesErrorNotKey(t *testing.T) {
	const key = "sk-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	var out bytes.Buffer
	eng := newEngine(t, newValidator(t, newStore(t)), http.NotFoundHandler(), &out)
	eng.ServeHTTP(httptest.NewRecorder(), get("/protected", key))
	log := out.String()
	if !strings.Contains(log, "Invalid session API key") {
		t.Errorf("gin logger did not print the error: %q", log)
	}
	if strings.Contains(log, key) {
		t.Errorf("gin logger printed the key: %q", log)
	}
}

func TestAcceptedSandboxInRequestContext(t *testing.T) {
	auth, err := ginauth.Middleware(newValidator(t, newStore(t)))
	if err != nil {
		t.Fatal(err)
	}
	var viaGin, viaCtx *core.SandboxInfo
	r := gin.New()
	r.GET("/", auth, func(c *gin.Context) {
		viaGin, _ = ginauth.Sandbox(c)
		viaCtx, _ = core.SandboxFromContext(c.Request.Context())
		c.Status(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, get("/", "k-run"))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d, want 204", rec.Code)
	}
	if viaGin == nil || viaGin.ID != "sb1" || viaCtx == nil || viaCtx.ID != "sb1" {
		t.Errorf("Sandbox(c) = %+v, SandboxFromContext = %+v; want sb1 from both", viaGin, viaCtx)
	}
}

func TestSandboxAccessorWithoutSandbox(t *testing.T) {
	if info, ok := ginauth.Sandbox(nil); ok || info != nil {
		t.Errorf("Sandbox(nil) = %v, %v", info, ok)
	}
	if info, ok := ginauth.Sandbox(&gin.Context{}); ok || info != nil {
		t.Errorf("Sandbox without a request = %v, %v", info, ok)
	}
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
	if info, ok := ginauth.Sandbox(c); ok || info != nil {
		t.Errorf("Sandbox on a bare request = %v, %v", info, ok)
	}
}

func TestConstructorsValidate(t *testing.T) {
	v := newValidator(t, newStore(t))
	if _, err := ginauth.Middleware(nil); err == nil {
		t.Error("nil validator accepted")
	}
	for name, opt := range map[string]ginauth.Option{
		"nil option":        nil,
		"nil skipper":       ginauth.WithSkipper(nil),
		"nil error handler": ginauth.WithErrorHandler(nil),
	} {
		if _, err := ginauth.Middleware(v, opt); err == nil {
			t.Errorf("%s accepted by Middleware", name)
		}
		if _, err := ginauth.MatchParam("id", opt); err == nil {
			t.Errorf("%s accepted by MatchParam", name)
		}
	}
	if _, err := ginauth.MatchParam(""); err == nil {
		t.Error("empty parameter name accepted")
	}
	if mw, err := ginauth.Middleware(v, ginauth.WithCredentialsOptional(), ginauth.WithSkipper(func(*gin.Context) bool { return false })); err != nil || mw == nil {
		t.Errorf("valid options refused: %v", err)
	}
}

func TestSkipper(t *testing.T) {
	skip := ginauth.WithSkipper(func(c *gin.Context) bool { return strings.HasPrefix(c.Request.URL.Path, "/healthz/") })
	auth, err := ginauth.Middleware(newValidator(t, newStore(t)), skip)
	if err != nil {
		t.Fatal(err)
	}
	bind, err := ginauth.MatchParam("id", skip)
	if err != nil {
		t.Fatal(err)
	}
	var sawSandbox bool
	h := func(c *gin.Context) { _, sawSandbox = ginauth.Sandbox(c); c.Status(http.StatusOK) }
	r := gin.New()
	r.Use(auth, bind)
	r.GET("/healthz/:id", h)
	r.GET("/other/:id", h)

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, get("/healthz/x"))
	if rec.Code != http.StatusOK || sawSandbox {
		t.Errorf("skipped route: %d, sandbox %v; want 200 without sandbox", rec.Code, sawSandbox)
	}
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, get("/other/x"))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("unskipped route without key: %d, want 401", rec.Code)
	}
}

func TestErrorHandler(t *testing.T) {
	v := newValidator(t, newStore(t))
	t.Run("receives the typed error", func(t *testing.T) {
		var got error
		auth, err := ginauth.Middleware(v, ginauth.WithErrorHandler(func(c *gin.Context, err error) {
			got = err
			c.AbortWithStatusJSON(http.StatusTeapot, gin.H{"error": "custom"})
		}))
		if err != nil {
			t.Fatal(err)
		}
		ran := false
		r := gin.New()
		r.GET("/", auth, func(*gin.Context) { ran = true })
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, get("/", "nope"))
		if rec.Code != http.StatusTeapot || !strings.Contains(rec.Body.String(), "custom") {
			t.Errorf("answer %d %q, want the custom handler's 418", rec.Code, rec.Body)
		}
		if !core.IsCode(got, core.CodeInvalidKey) {
			t.Errorf("error handler got %v, want an invalid-key *core.Error", got)
		}
		if ran {
			t.Error("handler ran after the rejection")
		}
	})
	t.Run("writing nothing fails closed", func(t *testing.T) {
		auth, err := ginauth.Middleware(v, ginauth.WithErrorHandler(func(*gin.Context, error) {}))
		if err != nil {
			t.Fatal(err)
		}
		ran := false
		r := gin.New()
		r.GET("/", auth, func(*gin.Context) { ran = true })
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, get("/", "k-paused"))
		row := core.ResponseFor(core.ErrNotRunning)
		if rec.Code != row.Status || rec.Body.String() != row.Body {
			t.Errorf("answer %d %q, want the default %d %q", rec.Code, rec.Body, row.Status, row.Body)
		}
		if ran {
			t.Error("handler ran after the rejection")
		}
	})
}

// TestConformanceBoundInMiddleware: the binding done by Middleware itself.
func TestConformanceBoundInMiddleware(t *testing.T) {
	authtest.Run(t, func(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
		mw := func(opts ...ginauth.Option) gin.HandlerFunc {
			h, err := ginauth.Middleware(v, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		r := gin.New()
		h := gin.WrapH(endpoint)
		r.GET(authtest.PathProtected, mw(), h)
		r.GET(authtest.PathOptional, mw(ginauth.WithCredentialsOptional()), h)
		r.GET(ginPattern, mw(ginauth.WithSandboxParam("sandbox_id")), h)
		return r
	})
	v, _ := core.New(core.NewMemStore())
	if _, err := ginauth.Middleware(v, ginauth.WithSandboxParam("")); err == nil {
		t.Error("empty parameter name accepted")
	}
}
