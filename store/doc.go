// Package store keeps sandboxes and their session keys for sandboxauth: a
// database/sql store on SQLite or PostgreSQL, and a PostgreSQL change feed
// that keeps the caches of a fleet of servers honest. (The in-memory store
// is core.MemoryStore.)
//
// # Stores
//
// Open takes a DSN: a postgres:// URL or a key=value connection string
// ("host=... dbname=...") selects PostgreSQL (through pgx's database/sql
// driver), a file path or file: URI is a SQLite file (modernc.org/sqlite,
// pure Go, no cgo), and anything that looks like another database's URL is
// refused. Open migrates the schema (idempotently; concurrent servers on one
// PostgreSQL serialize on an advisory lock).
//
//	s, err := store.Open(ctx, "sandboxd.db")            // or "postgres://..."
//	info, key, err := s.CreateSandbox(ctx, store.NewSandbox{Owner: "u1"})
//	v, err := core.New(s)                               // *SQL is a core.Store
//
// *SQL implements Backend: the core.Store lookup (by the SHA-256 of the
// presented key, exact match, across every user), core.StatusStore (the
// cache's cheap recheck), and the writes a server needs: create, set status,
// delete, and the key lifecycle below.
//
// # Keys
//
// CreateSandbox, ResumeSandbox and RotateKey generate keys with core.NewKey
// (core.KeyBytes random bytes from crypto/rand, base64url-encoded) and
// return them once. Stores keep only the lowercase hex SHA-256 digest (the
// SQL schema has a CHECK constraint that admits nothing else, and a unique
// index on it), so the key never reaches the database, its logs or its
// backups, and no driver error can echo it.
//
// # Key lifecycle
//
// As the reference platform runs it (docs/design.md §11), each step atomic
// (one statement or one transaction: a concurrent lookup sees the sandbox
// before or after, never in between):
//
//   - PauseSandbox: PAUSED, and the key digest replaced by one that no key
//     has (the complement of a SHA-256 digest of the id), so nobody holds a
//     key of the paused sandbox; the column stays NOT NULL. The old key is unknown
//     from then on (the validator answers "Invalid session API key"), also
//     after a resume: a key that leaked while the sandbox ran never works
//     again.
//   - ResumeSandbox: RUNNING with a new key, every older key revoked;
//     core.ErrAlreadyRunning when the sandbox is RUNNING.
//   - RotateKey: a new key, every older key revoked, the status unchanged.
//   - SetStatus is the runtime's report of a status: it never touches the
//     key (the RUNNING check refuses a key while the sandbox is not RUNNING).
//
// # Errors
//
//   - core.ErrNotFound: no sandbox has this key / id (answered 401 by the
//     validator, 404 by an admin API).
//   - core.ErrAlreadyRunning: ResumeSandbox of a RUNNING sandbox (409).
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
// cache itself after its own writes (SetStatus, DeleteSandbox, PauseSandbox,
// ResumeSandbox, RotateKey).
//
// # Testing
//
// Package storetest is the conformance suite for any Backend; package pgtest
// gives a test a fresh PostgreSQL database (from
// SANDBOXAUTH_TEST_POSTGRES_URL; skipped locally when unset, failed when
// CI=true).
package store
