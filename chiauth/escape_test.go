package chiauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/sandboxauth/sandboxauth/authtest"
	"github.com/sandboxauth/sandboxauth/chiauth"
)

// TestBindingDecodesOnceHowEverChiRouted binds the sandbox route on routers
// built every way that changes what chi matches on: its RawPath by default,
// the decoded path under StripSlashes (the review's B5: "sb%2541%7E/" must
// not pass for sandbox "sbA~"), a cleaned RawPath under CleanPath, mounted
// routers, a regexp with nested braces, a catch-all. A path names exactly
// one sandbox: its key gets 200 wherever the router routes the path (and the
// handler reads the same id with RouteParam); any other key never does.
func TestBindingDecodesOnceHowEverChiRouted(t *testing.T) {
	// The conformance suite's escaped ids and look-alikes, under router
	// settings the suite cannot set.
	store := authtest.NewEscapedStore(t)
	v := newValidator(t, store)
	must := mustFor(t)
	bound := must(chiauth.Middleware(v, chiauth.WithSandboxParam("sandbox_id")))
	// The endpoint answers the id it acts on; it must be the accepted one.
	endpoint := func(w http.ResponseWriter, r *http.Request) {
		info, _ := chiauth.Sandbox(r)
		if got := chiauth.RouteParam(r, "sandbox_id"); info == nil || got != info.ID {
			http.Error(w, "handler reads "+got, http.StatusTeapot)
			return
		}
		_, _ = w.Write([]byte(info.ID))
	}
	const pattern = "/api/v1/sandboxes/{sandbox_id}/settings/secrets"
	routers := []struct {
		name          string
		build         func() http.Handler
		trailingSlash bool // the router routes ".../secrets/" too
		// StripSlashes routes ".../secrets/" on the decoded path, where
		// an escaped "/" splits the id: "sb%2F2" names sandbox "sb" there.
		decodedSlash bool
	}{
		{"with", func() http.Handler {
			r := chi.NewRouter()
			r.With(bound).Get(pattern, endpoint)
			return r
		}, false, false},
		{"strip-slashes", func() http.Handler {
			r := chi.NewRouter()
			r.Use(chimw.StripSlashes)
			r.With(bound).Get(pattern, endpoint)
			return r
		}, true, true},
		{"clean-path", func() http.Handler {
			r := chi.NewRouter()
			r.Use(chimw.CleanPath)
			r.With(bound).Get(pattern, endpoint)
			return r
		}, true, false},
		{"route-use-mount", func() http.Handler {
			r := chi.NewRouter()
			r.Route("/api/v1/sandboxes/{sandbox_id}", func(r chi.Router) {
				r.Use(bound)
				settings := chi.NewRouter()
				settings.Get("/secrets", endpoint)
				r.Mount("/settings", settings)
			})
			return r
		}, false, false},
		{"strip-slashes-route-use", func() http.Handler {
			r := chi.NewRouter()
			r.Use(chimw.StripSlashes)
			r.Route("/api/v1/sandboxes/{sandbox_id}", func(r chi.Router) {
				r.Use(bound)
				r.Get("/settings/secrets", endpoint)
			})
			return r
		}, true, true},
		{"mount-with", func() http.Handler {
			api := chi.NewRouter()
			api.With(bound).Get("/sandboxes/{sandbox_id}/settings/secrets", endpoint)
			r := chi.NewRouter()
			r.Mount("/api/v1", api)
			return r
		}, false, false},
		{"regexp-nested-braces", func() http.Handler {
			r := chi.NewRouter()
			r.With(bound).Get("/api/v1/sandboxes/{sandbox_id:sb.{1,12}}/settings/secrets", endpoint)
			return r
		}, false, false},
		{"catch-all", func() http.Handler {
			r := chi.NewRouter()
			r.With(bound).Get("/api/v1/sandboxes/{sandbox_id}/*", endpoint)
			return r
		}, true, false},
	}
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			h := rt.build()
			for _, er := range authtest.EscapedRoutes {
				seg, named := er.Segment, er.ID
				for _, suffix := range []string{"", "/"} {
					p := "/api/v1/sandboxes/" + seg + "/settings/secrets" + suffix
					routable := suffix == "" || rt.trailingSlash && !(rt.decodedSlash && strings.Contains(seg, "%2F"))
					for _, id := range authtest.EscapedIDs {
						rec := serve(h, p, authtest.KeyForID(id))
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

// TestRouteParam reads parameters outside a bound middleware: unescaped
// once whether chi matched on RawPath or (StripSlashes, trailing slash) on the
// decoded path; "" without a chi context.
func TestRouteParam(t *testing.T) {
	var got string
	r := chi.NewRouter()
	r.Use(chimw.StripSlashes)
	r.Get("/a/{x}/{y}", func(w http.ResponseWriter, r *http.Request) {
		got = chiauth.RouteParam(r, "x") + "|" + chiauth.RouteParam(r, "y") + "|" + chiauth.RouteParam(r, "z")
	})
	for p, want := range map[string]string{
		"/a/b/c":           "b|c|",
		"/a/b%2Fc/d":       "b/c|d|",
		"/a/b%2541/d%7E":   "b%41|d~|",
		"/a/b%2541/d%7E/":  "b%41|d~|",
		"/a/b%2541/d/":     "b%41|d|",
		"/a/%7E%2541/%41/": "~%41|A|",
	} {
		got = "(not routed)"
		serve(r, p, "")
		if got != want {
			t.Errorf("%s: RouteParam read %q, want %q", p, got, want)
		}
	}
	if v := chiauth.RouteParam(httptest.NewRequest(http.MethodGet, "/a/b", nil), "x"); v != "" {
		t.Errorf("without a chi context: %q", v)
	}
	if v := chiauth.RouteParam(nil, "x"); v != "" {
		t.Errorf("nil request: %q", v)
	}
}
