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
// routes, the sandbox route bound by the middleware (WithSandboxParam).
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
	bound, err := ginauth.Middleware(v, ginauth.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(gin.LoggerWithWriter(out), gin.Recovery())
	h := gin.WrapH(endpoint)
	r.GET(authtest.PathProtected, auth, h)
	r.GET(authtest.PathOptional, optional, h)
	r.GET(ginPattern, bound, h)
	return r
}

func factory(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
	return newEngine(t, v, endpoint, io.Discard)
}

// TestConformance runs the suite on gin's default configuration, which
// matches on the decoded path: a sandbox id with an escaped "/" is two
// segments there, and gin answers 404 (WithoutEscapedSlash).
func TestConformance(t *testing.T) { authtest.Run(t, factory, authtest.WithoutEscapedSlash()) }

// rawPathFactory returns the suite's factory on an engine matching on
// r.URL.RawPath, with its parameters unescaped by gin or not.
func rawPathFactory(unescape bool) authtest.Factory {
	return func(t testing.TB, v *core.Validator, endpoint http.Handler) http.Handler {
		e := newEngine(t, v, endpoint, io.Discard)
		e.UseRawPath, e.UnescapePathValues = true, unescape
		return e
	}
}

// TestConformanceRawPath: with UseRawPath and UnescapePathValues (what
// cmd/sandboxd sets), and with UseRawPath alone, where gin hands out the
// parameters still escaped, every escaped id is routed and compared as by
// net/http, the escaped "/" included.
func TestConformanceRawPath(t *testing.T) {
	t.Run("unescaped", func(t *testing.T) { authtest.Run(t, rawPathFactory(true)) })
	t.Run("escaped", func(t *testing.T) { authtest.Run(t, rawPathFactory(false)) })
}

// switchStore serves a MemoryStore, or fails every lookup while down is set.
type switchStore struct {
	mem  *core.MemoryStore
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
	m := core.NewMemoryStore()
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
	auth, err := ginauth.Middleware(v, ginauth.WithSandboxParam("id"))
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
		{"missing key", get("/s/sb1"), core.ErrMissingKey},
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
			r.GET("/s/:id", auth, func(c *gin.Context) { later++; c.Next() }, func(c *gin.Context) { later++ })
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
	if _, err := ginauth.Middleware(nil, ginauth.WithSandboxParam("id")); err == nil {
		t.Error("nil validator accepted with a binding")
	}
	for name, opts := range map[string][]ginauth.Option{
		"nil option":                {nil},
		"nil skipper":               {ginauth.WithSkipper(nil)},
		"nil error handler":         {ginauth.WithErrorHandler(nil)},
		"empty parameter name":      {ginauth.WithSandboxParam("")},
		"nil option after a binder": {ginauth.WithSandboxParam("id"), nil},
	} {
		if mw, err := ginauth.Middleware(v, opts...); err == nil || mw != nil {
			t.Errorf("%s accepted by Middleware", name)
		}
	}
	if mw, err := ginauth.Middleware(v, ginauth.WithCredentialsOptional(), ginauth.WithSkipper(func(*gin.Context) bool { return false }),
		ginauth.WithSandboxParam("id"), ginauth.WithErrorHandler(ginauth.WriteError)); err != nil || mw == nil {
		t.Errorf("valid options refused: %v", err)
	}
}

// TestSkipper: the skipper exempts requests from the whole middleware, the
// route binding included; every other request is authenticated and bound.
func TestSkipper(t *testing.T) {
	skip := ginauth.WithSkipper(func(c *gin.Context) bool { return strings.HasPrefix(c.Request.URL.Path, "/healthz/") })
	auth, err := ginauth.Middleware(newValidator(t, newStore(t)), skip, ginauth.WithSandboxParam("id"))
	if err != nil {
		t.Fatal(err)
	}
	var sawSandbox string
	h := func(c *gin.Context) {
		if info, ok := ginauth.Sandbox(c); ok {
			sawSandbox = info.ID
		}
		c.Status(http.StatusOK)
	}
	r := gin.New()
	r.Use(auth)
	r.GET("/healthz/:id", h)
	r.GET("/other/:id", h)

	for _, c := range []struct {
		req     *http.Request
		want    int
		sandbox string
	}{
		{get("/healthz/x"), http.StatusOK, ""},
		{get("/other/x"), http.StatusUnauthorized, ""},
		{get("/other/x", "k-run"), http.StatusForbidden, ""},
		{get("/other/sb1", "k-run"), http.StatusOK, "sb1"},
	} {
		sawSandbox = ""
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, c.req)
		if rec.Code != c.want || sawSandbox != c.sandbox {
			t.Errorf("%s (key %q): %d, sandbox %q; want %d, sandbox %q", c.req.URL.Path, c.req.Header.Get(core.HeaderName), rec.Code, sawSandbox, c.want, c.sandbox)
		}
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
		var ce *core.Error
		if !errors.Is(got, core.ErrInvalidKey) || !errors.As(got, &ce) || ce.Code != core.CodeInvalidKey {
			t.Errorf("error handler got %v, want an invalid-key *core.Error", got)
		}
		if ran {
			t.Error("handler ran after the rejection")
		}
	})
	t.Run("answers the route binding's rejection", func(t *testing.T) {
		var got []error
		auth, err := ginauth.Middleware(v, ginauth.WithSandboxParam("id"), ginauth.WithErrorHandler(func(c *gin.Context, err error) {
			got = append(got, err)
			c.String(http.StatusTeapot, "custom")
		}))
		if err != nil {
			t.Fatal(err)
		}
		ran := 0
		r := gin.New()
		r.GET("/s/:id", auth, func(*gin.Context) { ran++ })
		for _, c := range []struct {
			req  *http.Request
			want *core.Error
		}{
			{get("/s/sb2", "k-run"), core.ErrSandboxMismatch},
			{get("/s/sb1"), core.ErrMissingKey},
		} {
			got = nil
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, c.req)
			if rec.Code != http.StatusTeapot || rec.Body.String() != "custom" {
				t.Errorf("%s: answer %d %q, want the custom handler's 418", c.want, rec.Code, rec.Body)
			}
			var ce *core.Error
			if len(got) != 1 || !errors.Is(got[0], c.want) || !errors.As(got[0], &ce) {
				t.Errorf("error handler got %v, want one %v", got, c.want)
			}
		}
		if ran != 0 {
			t.Errorf("handler ran %d times after rejections", ran)
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

		// An empty write is writing nothing (a template that rendered
		// nothing), not an empty 200; a written status is kept.
		empties := map[string]func(*gin.Context, error){
			"Write(nil)":        func(c *gin.Context, _ error) { _, _ = c.Writer.Write(nil) },
			"WriteString(\"\")": func(c *gin.Context, _ error) { _, _ = c.Writer.WriteString("") },
			"c.Data(200, nil)":  func(c *gin.Context, _ error) { c.Data(http.StatusOK, "text/plain", nil) },
		}
		for name, h := range empties {
			auth, err := ginauth.Middleware(v, ginauth.WithErrorHandler(h))
			if err != nil {
				t.Fatal(err)
			}
			er := gin.New()
			er.GET("/", auth, func(*gin.Context) { ran = true })
			rec := httptest.NewRecorder()
			er.ServeHTTP(rec, get("/", "k-paused"))
			if rec.Code != row.Status || rec.Body.String() != row.Body {
				t.Errorf("%s: answer %d %q, want the default %d %q", name, rec.Code, rec.Body, row.Status, row.Body)
			}
		}
		teapot, err := ginauth.Middleware(v, ginauth.WithErrorHandler(func(c *gin.Context, _ error) { c.AbortWithStatus(http.StatusTeapot) }))
		if err != nil {
			t.Fatal(err)
		}
		tr := gin.New()
		tr.GET("/", teapot, func(*gin.Context) { ran = true })
		rec = httptest.NewRecorder()
		tr.ServeHTTP(rec, get("/", "k-paused"))
		if rec.Code != http.StatusTeapot || rec.Body.Len() != 0 {
			t.Errorf("a handler that answered 418 left %d %q", rec.Code, rec.Body)
		}

		bound, err := ginauth.Middleware(v, ginauth.WithSandboxParam("id"), ginauth.WithErrorHandler(func(*gin.Context, error) {}))
		if err != nil {
			t.Fatal(err)
		}
		r.GET("/s/:id", bound, func(*gin.Context) { ran = true })
		rec = httptest.NewRecorder()
		r.ServeHTTP(rec, get("/s/sb2", "k-run"))
		row = core.ResponseFor(core.ErrSandboxMismatch)
		if rec.Code != row.Status || rec.Body.String() != row.Body {
			t.Errorf("bound route: answer %d %q, want the default %d %q", rec.Code, rec.Body, row.Status, row.Body)
		}
		if ran {
			t.Error("handler ran after the binding's rejection")
		}
	})
}

// TestSandboxParam: a bound route always needs a sandbox (401 without the
// header, credentials optional or not), and fails closed where the route
// has no such parameter.
func TestSandboxParam(t *testing.T) {
	v := newValidator(t, newStore(t))
	mw := func(opts ...ginauth.Option) gin.HandlerFunc {
		h, err := ginauth.Middleware(v, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	ran := 0
	h := func(c *gin.Context) { ran++; c.Status(http.StatusNoContent) }
	r := gin.New()
	r.GET("/s/:sandbox_id", mw(ginauth.WithSandboxParam("sandbox_id")), h)
	r.GET("/o/:sandbox_id", mw(ginauth.WithCredentialsOptional(), ginauth.WithSandboxParam("sandbox_id")), h)
	r.GET("/other/:id", mw(ginauth.WithSandboxParam("sandbox_id")), h)
	for _, c := range []struct {
		req  *http.Request
		want *core.Error
	}{
		{get("/s/sb1"), core.ErrMissingKey},
		{get("/o/sb1"), core.ErrMissingKey},
		{get("/s/sb2", "k-run"), core.ErrSandboxMismatch},
		{get("/o/sb2", "k-run"), core.ErrSandboxMismatch},
		{get("/other/sb1", "k-run"), core.ErrSandboxMismatch},
		{get("/other/sb1"), core.ErrMissingKey},
	} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, c.req)
		row := core.ResponseFor(c.want)
		if rec.Code != row.Status || rec.Body.String() != row.Body {
			t.Errorf("%s (key %q): %d %q, want %d %q", c.req.URL.Path, c.req.Header.Get(core.HeaderName), rec.Code, rec.Body, row.Status, row.Body)
		}
	}
	if ran != 0 {
		t.Errorf("handler ran %d times after rejections", ran)
	}
	for _, p := range []string{"/s/sb1", "/o/sb1"} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, get(p, "k-run"))
		if rec.Code != http.StatusNoContent {
			t.Errorf("%s with its key: %d %q, want 204", p, rec.Code, rec.Body)
		}
	}
}
