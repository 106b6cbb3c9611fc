// Package echoauth is the sandboxauth adapter (in progress).
package echoauth
