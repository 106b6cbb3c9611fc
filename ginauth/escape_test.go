package ginauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sandboxauth/sandboxauth/authtest"
	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/ginauth"
)

// TestBindingDecodesOnceInEveryConfiguration binds the sandbox route under
// every engine setting that changes what gin matches on and hands out: the
// default (decoded path, decoded values), UseRawPath with and without
// UnescapePathValues (the review's B6: with escaped values, "sb%41" must
// name sandbox "sbA", not "sb%41"), RemoveExtraSlash on a path with "//",
// a group, a catch-all. A path names exactly one sandbox: its key gets 200
// wherever gin routes the path (and the handler reads the same id with
// RouteParam); any other key never does.
func TestBindingDecodesOnceInEveryConfiguration(t *testing.T) {
	// The conformance suite's escaped ids and look-alikes, under router
	// settings the suite cannot set.
	store := authtest.NewEscapedStore(t)
	v := newValidator(t, store)
	bound, err := ginauth.Middleware(v, ginauth.WithSandboxParam("sandbox_id"))
	if err != nil {
		t.Fatal(err)
	}
	endpoint := func(c *gin.Context) {
		info, _ := ginauth.Sandbox(c)
		if got := ginauth.RouteParam(c, "sandbox_id"); info == nil || got != info.ID {
			c.String(http.StatusTeapot, "handler reads "+got)
			return
		}
		c.String(http.StatusOK, info.ID)
	}
	type config struct{ rawPath, unescape, removeExtraSlash bool }
	for _, cfg := range []config{{}, {true, true, false}, {true, false, false}, {true, false, true}, {true, true, true}, {false, true, true}} {
		for _, mount := range []string{"route", "group", "catch-all"} {
			name := mount
			if cfg.rawPath {
				name += "/raw-path"
			}
			if !cfg.unescape {
				name += "/escaped-values"
			}
			if cfg.removeExtraSlash {
				name += "/remove-extra-slash"
			}
			t.Run(name, func(t *testing.T) {
				e := gin.New()
				e.UseRawPath, e.UnescapePathValues, e.RemoveExtraSlash = cfg.rawPath, cfg.unescape, cfg.removeExtraSlash
				switch mount {
				case "route":
					e.GET(ginPattern, bound, endpoint)
				case "group":
					e.Group("/api/v1", bound).GET("/sandboxes/:sandbox_id/settings/secrets", endpoint)
				case "catch-all":
					e.GET("/api/v1/sandboxes/:sandbox_id/*rest", bound, endpoint)
				}
				for _, er := range authtest.EscapedRoutes {
					seg, named := er.Segment, er.ID
					for _, prefix := range []string{"", "/"} {
						p := prefix + "/api/v1/sandboxes/" + seg + "/settings/secrets"
						// gin routes an escaped "/" only on RawPath, and
						// "//..." only with RemoveExtraSlash.
						routable := (cfg.rawPath || !strings.Contains(seg, "%2F")) && (prefix == "" || cfg.removeExtraSlash)
						for _, id := range authtest.EscapedIDs {
							rec := serveGin(e, p, authtest.KeyForID(id))
							switch {
							case id == named && routable:
								if rec.Code != http.StatusOK || rec.Body.String() != named {
									t.Errorf("%s with the key of %q: %d %q, want 200 %q", p, id, rec.Code, rec.Body, named)
								}
							case rec.Code == http.StatusOK:
								t.Errorf("%s (sandbox %q) accepted the key of sandbox %q", p, named, id)
							case rec.Code != http.StatusForbidden && rec.Code != http.StatusNotFound:
								t.Errorf("%s with the key of %q: %d %q, want 403 or 404", p, id, rec.Code, rec.Body)
							}
						}
					}
				}
			})
		}
	}
}

func serveGin(h http.Handler, path, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if key != "" {
		req.Header.Set(core.HeaderName, key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRouteParam reads parameters outside a bound middleware, unescaped
// once in every configuration, a catch-all's included; "" for a nil
// context or a missing parameter.
func TestRouteParam(t *testing.T) {
	for _, cfg := range []struct{ raw, unescape bool }{{false, true}, {true, true}, {true, false}} {
		var got string
		e := gin.New()
		e.UseRawPath, e.UnescapePathValues = cfg.raw, cfg.unescape
		e.GET("/a/:x/*y", func(c *gin.Context) {
			got = ginauth.RouteParam(c, "x") + "|" + ginauth.RouteParam(c, "y") + "|" + ginauth.RouteParam(c, "z")
		})
		for p, want := range map[string]string{
			"/a/b/c":          "b|/c|",
			"/a/b%2541/d%7E":  "b%41|/d~|",
			"/a/b%41/d%2F%7E": "bA|/d/~|",
			"/a/b%2541/d":     "b%41|/d|",
		} {
			got = "(not routed)"
			serveGin(e, p, "")
			if got != want {
				t.Errorf("UseRawPath %v, UnescapePathValues %v: %s: RouteParam read %q, want %q", cfg.raw, cfg.unescape, p, got, want)
			}
		}
	}
	if v := ginauth.RouteParam(nil, "x"); v != "" {
		t.Errorf("nil context: %q", v)
	}
}
