module github.com/sandboxauth/sandboxauth/ginauth

go 1.24

require github.com/sandboxauth/sandboxauth v0.0.0

replace github.com/sandboxauth/sandboxauth => ../
