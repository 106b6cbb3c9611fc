// Package chiauth is the sandboxauth adapter (in progress).
package chiauth
