// Package store is the database/sql store of sandboxauth (in progress).
package store
