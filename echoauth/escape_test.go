package echoauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sandboxauth/sandboxauth/authtest"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/echoauth"
)

// TestBindingDecodesOnceOnHostilePaths: echo v4 matches on r.URL.RawPath
// whenever it is set and has no option to unescape parameters, so its values
// are escaped exactly when RawPath is set, which is what core.RouteParam
// assumes. Pinned under the pre-routing middlewares that rewrite the path
// (trailing slash removed or added, a rewrite rule), a group and a
// catch-all: a path names exactly one sandbox; its key gets 200 wherever echo
// routes the path (and the handler reads the same id with core.RouteParam);
// any other key never does.
func TestBindingDecodesOnceOnHostilePaths(t *testing.T) {
	// The conformance suite's escaped ids and look-alikes, under router
	// settings the suite cannot set.
	store := authtest.NewEscapedStore(t)
	v, err := core.New(store)
	if err != nil {
		t.Fatal(err)
	}
	bound, err := echoauth.Middleware(v, echoauth.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	endpoint := func(c echo.Context) error {
		info, _ := echoauth.Sandbox(c)
		if got := echoauth.RouteParam(c, "sandbox_id"); info == nil || got != info.ID {
			return c.String(http.StatusTeapot, "handler reads "+got)
		}
		return c.String(http.StatusOK, info.ID)
	}
	for _, rt := range []struct {
		name  string
		build func(e *echo.Echo)
		path  func(seg string) string // the request's path for a sandbox segment
	}{
		{"route", func(e *echo.Echo) { e.GET(sandboxRoute, endpoint, bound) }, nil},
		{"group", func(e *echo.Echo) {
			e.Group("/api/v1/sandboxes/:sandbox_id", bound).GET("/settings/secrets", endpoint)
		}, nil},
		{"catch-all", func(e *echo.Echo) { e.GET("/api/v1/sandboxes/:sandbox_id/*", endpoint, bound) }, nil},
		{"remove-trailing-slash", func(e *echo.Echo) {
			e.Pre(middleware.RemoveTrailingSlash())
			e.GET(sandboxRoute, endpoint, bound)
		}, func(seg string) string { return "/api/v1/sandboxes/" + seg + "/settings/secrets/" }},
		{"add-trailing-slash", func(e *echo.Echo) {
			e.Pre(middleware.AddTrailingSlash())
			e.GET(sandboxRoute+"/", endpoint, bound)
		}, nil},
		{"rewrite", func(e *echo.Echo) {
			e.Pre(middleware.Rewrite(map[string]string{"/v0/*/secrets": "/api/v1/sandboxes/$1/settings/secrets"}))
			e.GET(sandboxRoute, endpoint, bound)
		}, func(seg string) string { return "/v0/" + seg + "/secrets" }},
	} {
		t.Run(rt.name, func(t *testing.T) {
			e := echo.New()
			rt.build(e)
			for _, er := range authtest.EscapedRoutes {
				seg, named := er.Segment, er.ID
				p := "/api/v1/sandboxes/" + seg + "/settings/secrets"
				if rt.path != nil {
					p = rt.path(seg)
				}
				for _, id := range authtest.EscapedIDs {
					req := httptest.NewRequest(http.MethodGet, p, nil)
					req.Header.Set(core.HeaderName, authtest.KeyForID(id))
					rec := httptest.NewRecorder()
					e.ServeHTTP(rec, req)
					switch {
					case id == named:
						if rec.Code != http.StatusOK || rec.Body.String() != named {
							t.Errorf("%s with the key of %q: %d %q, want 200 %q", p, id, rec.Code, strings.TrimSpace(rec.Body.String()), named)
						}
					case rec.Code != http.StatusForbidden:
						t.Errorf("%s (sandbox %q) with the key of %q: %d %q, want 403", p, named, id, rec.Code, strings.TrimSpace(rec.Body.String()))
					}
				}
			}
		})
	}
}
