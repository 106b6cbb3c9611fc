module github.com/sandboxauth/sandboxauth/chiauth

go 1.24

require github.com/sandboxauth/sandboxauth v0.0.0

require github.com/go-chi/chi/v5 v5.0.0

require github.com/patrickmn/go-cache v2.1.0+incompatible // indirect

replace github.com/sandboxauth/sandboxauth => ../
