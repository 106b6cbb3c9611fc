module github.com/sandboxauth/sandboxauth

go 1.24
