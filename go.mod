module github.com/sandboxauth/sandboxauth

go 1.26.0

require (
	github.com/patrickmn/go-cache v2.1.0+incompatible
	go.uber.org/goleak v1.3.0
)
