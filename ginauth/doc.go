// Package ginauth is the sandboxauth adapter (in progress).
package ginauth
