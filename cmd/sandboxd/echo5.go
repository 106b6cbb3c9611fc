package main

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/echo5auth"
)

// echo5Router mounts the route table on echo v5 (--framework echo5).
// Rejections are answered by echo v5's default error handler, which renders
// a *core.Error through the core table on its own; the handler below only
// adds what every framework of sandboxd shares: 404 {"detail":"Not Found"}
// for unknown paths and methods, and the table's Content-Type on HEAD,
// where echo's default handler writes no body and so no Content-Type.
func echo5Router(v *core.Validator, a *app) (http.Handler, error) {
	auth, err := echo5auth.Middleware(v, echo5auth.WithSandboxParam(sandboxParam))
	if err != nil {
		return nil, err
	}
	e := echo.New()
	def := echo.DefaultHTTPErrorHandler(false)
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed {
			return
		}
		var ce *core.Error
		switch {
		case errors.As(err, &ce):
			if c.Request().Method == http.MethodHead {
				core.WriteError(c.Response(), err)
				return
			}
		case echo.StatusCode(err) == http.StatusNotFound || echo.StatusCode(err) == http.StatusMethodNotAllowed:
			c.Response().Header().Del("Allow") // set by echo's router for its 405
			notFound(c.Response(), c.Request())
			return
		}
		def(c, err)
	}
	for _, rt := range a.routes() {
		h := func(c *echo.Context) error {
			rt.h(c.Response(), c.Request(), func(name string) string { return echo5auth.RouteParam(c, name) })
			return nil
		}
		for _, m := range methods(rt.method) {
			if rt.session {
				e.Add(m, colonPattern(rt.pattern), h, auth)
			} else {
				e.Add(m, colonPattern(rt.pattern), h)
			}
		}
	}
	return e, nil
}
