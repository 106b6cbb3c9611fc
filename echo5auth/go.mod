module github.com/sandboxauth/sandboxauth/echo5auth

go 1.26.0

require (
	github.com/labstack/echo/v5 v5.4.6
	github.com/sandboxauth/sandboxauth v0.1.0
)

require (
	github.com/patrickmn/go-cache v2.1.0+incompatible // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/sandboxauth/sandboxauth => ../
