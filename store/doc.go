// Package store keeps sandboxes and their owners' secrets for sandboxauth:
// a database/sql store on SQLite or PostgreSQL, an in-memory store with the
// same operations, and a PostgreSQL change feed that keeps the caches of a
// fleet of servers honest.
//
// # Stores
//
// Open takes a DSN: a postgres:// URL selects PostgreSQL (through pgx's
// database/sql driver), anything else is a SQLite file (modernc.org/sqlite,
// pure Go, no cgo). Open migrates the schema (idempotently; concurrent
// servers on one PostgreSQL serialize on an advisory lock).
//
//	s, err := store.Open(ctx, "sandboxd.db")            // or "postgres://..."
//	info, key, err := s.CreateSandbox(ctx, store.NewSandbox{Owner: "u1"})
//	v, err := core.New(s)                               // *SQL is a core.Store
//
// NewMemory returns the in-memory equivalent. Both implement Backend: the
// core.Store lookup (by the SHA-256 of the presented key, exact match, across
// every user), core.StatusStore (the cache's cheap recheck), and the writes a
// server needs (create, set status, delete, rotate key, set/list/get secret).
//
// # Keys
//
// CreateSandbox and RotateKey generate keys of KeyBytes random bytes from
// crypto/rand, base64url-encoded, and return them once. Stores keep only the
// lowercase hex SHA-256 digest (the SQL schema has a CHECK constraint that
// admits nothing else, and a unique index on it), so the key never reaches the
// database, its logs or its backups, and no driver error can echo it.
//
// # Errors
//
//   - core.ErrNotFound: no sandbox has this key / id (answered 401 by the
//     validator, 404 by an admin API).
//   - ErrSecretNotFound: the user has no such secret.
//   - ErrInvalidInput (wrapped): a rejected argument; nothing was written.
//   - anything else: a backend failure (answered 503 by the validator).
//
// # Change feed
//
// On PostgreSQL, triggers on the sandboxes table NOTIFY NotifyChannel with the
// sandbox id whenever a row really changes (status, key digest, owner, ...)
// or is deleted; notifications are sent at commit, so a rolled back change is
// never announced. Listen subscribes on a dedicated connection and calls the
// cache's InvalidateSandbox for each, so a pause through one server is seen
// by every server within the notification latency (about a millisecond
// locally), whatever the cache TTL:
//
//	c := cache.New(s, ...)                     // anything with InvalidateSandbox and Flush
//	l, err := store.Listen(ctx, pgURL, c)      // returns once LISTEN is active
//	defer l.Close()
//
//	server A ──UPDATE sandboxes SET status──▶ PostgreSQL ──NOTIFY id──▶ listener B ──▶ cache B.InvalidateSandbox(id)
//
// When the connection is lost, the listener reconnects with capped backoff
// and then flushes the whole cache, because notifications sent meanwhile are
// lost; while it is disconnected (Connected reports false), the cache TTL is
// the staleness bound again. WithFeedObserver reports these events
// (connected, disconnected, reconnect, flush, notification) for metrics.
//
// SQLite is one process: there is no feed, and a server invalidates its
// cache itself after its own writes (SetStatus, DeleteSandbox, RotateKey).
//
// # Testing
//
// Package storetest is the conformance suite for any Backend; package pgtest
// gives a test a fresh PostgreSQL database (from
// SANDBOXAUTH_TEST_POSTGRES_URL; skipped locally when unset, failed when
// CI=true).
package store
