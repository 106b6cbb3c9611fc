// Package cache is the optional in-process cache of sandboxauth
// (docs/design.md §6): a decorator around a core.Store that makes the
// session-key check cheap enough for every request while keeping the
// security promise that a paused sandbox's key stops working within a known
// bound.
//
//	validator ──PeekSandbox──▶ fresh entry? ── yes ─▶ shared record, no I/O
//	    │                                             (policy re-run by the validator)
//	    └──LookupSandbox──▶ stale entry? ── yes ─▶ status recheck ─┐
//	                            │                                 ├─▶ one shared store
//	                            └────── miss ─▶ full lookup ──────┘   call per key
//
// # Entries
//
// Entries are keyed by the SHA-256 digest of the presented key; the key
// itself is never stored. Only accepted (RUNNING) records are cached: not
// found, store errors and other statuses never are, so a flood of random keys
// cannot grow the cache. An entry is immutable once stored; a refresh stores
// a new one. Records handed to callers of LookupSandbox are copies.
//
// An entry's age is measured from the moment the store call that produced it
// began (not when it returned), with the clock set by WithClock:
//
//   - age < TTL: fresh. Served from memory (PeekSandbox) without a store call.
//     The validator re-runs the status and owner policy on every hit.
//   - TTL <= age < max-stale: stale. Before the request proceeds the sandbox's
//     status is rechecked, with core.StatusStore.SandboxStatus when the inner
//     store offers it, else with a full lookup. Still RUNNING: refreshed and
//     served. Another status: all of the sandbox's entries are evicted and the
//     record is returned with its new status (401 "Sandbox is not running").
//     Not found: evicted, core.ErrNotFound (401 "Invalid session API key").
//     Any other error: returned, so the validator answers 503 (fail closed).
//     A status recheck refreshes the TTL but never the max-stale horizon,
//     which only a full lookup sets: a status says nothing about whether
//     the key still belongs to the sandbox.
//   - age >= max-stale (since the last full lookup): a miss (a full lookup).
//
// # The staleness bound
//
// Without invalidation, a key whose sandbox is paused at time p is accepted
// at most until p + TTL: every entry was produced by a store call that began
// before p (it saw RUNNING), so it stops being fresh before p + TTL, and a
// stale entry is never served without a recheck.
//
// A key revoked while its sandbox keeps running (a rotated key) is a
// different matter: the status recheck cannot see it. Without invalidation
// such a key is accepted at most until max-stale after the last full lookup;
// with InvalidateSandbox (which the PostgreSQL change feed calls on every key
// change) not at all.
//
// # Invalidation
//
// Invalidate(key) drops that key's entry, InvalidateSandbox(id) every entry
// of that sandbox, Flush every entry. When one returns, no request is served
// from what it dropped, and no store call that began before it stores an
// answer it concerns: one for that key, one that found that sandbox, any
// (Flush). Nothing else is touched: entries and store calls of other keys
// and sandboxes go on, so that a fleet invalidating thousands of sandboxes a
// second does not empty the cache of the others (cache/README.md has the
// figures).
//
// A full lookup's sandbox is known only once the store answers, so each
// store call notes when it began, and the Cache keeps a log of the
// invalidations younger than the oldest call in progress; a call checks it
// when it finishes. The log is empty when no call is in progress and never
// holds more than a fixed number of invalidations (1024, and 64 KiB of ids):
// past that, the oldest is forgotten and the calls older than it store
// nothing, as after a Flush. Memory is thus bounded whatever the rate of
// invalidations and the number of distinct ids.
//
// A request that arrives while a full lookup of its key is in progress
// shares it even if an InvalidateSandbox happened since that lookup began;
// if the answer names the invalidated sandbox (or names none: the key may be
// new), the request asks the store again instead of taking it.
//
// # Concurrency
//
// Concurrent misses and rechecks of one key share a single store call. The
// first caller makes it on its own goroutine, so a lookup nobody shares
// costs no goroutine, channel or context of its own: a flood of unknown keys
// (docs/design.md §8) costs little more with the cache than without. The
// call's context carries that caller's values but not its cancellation: it
// is cancelled when every caller waiting on it has given up (so a cancelled
// request stops the lookup, as the conformance suite requires, without
// failing the others), and it is bounded by the earliest of the first
// caller's deadline and WithLookupTimeout. A caller that gives up returns at
// once, except the first while others still wait: it stays in the call,
// bounded by that deadline, and returns its cancellation when the call ends.
//
// A Cache is safe for concurrent use. Close stops its cleanup goroutine and
// cancels in-flight lookups; a closed Cache answers every lookup with
// ErrClosed, which the validator turns into 503.
//
// # Observability
//
// WithObserver reports the cache's events to a core.CacheObserver, each
// with the number of entries after it (docs/design.md §9): one hit, miss or
// stale recheck per lookup (PeekSandbox reports its hits only: the
// validator's LookupSandbox after a missed peek reports the rest), one
// eviction per entry dropped for a status change, a key not found or age,
// one invalidation per Invalidate or InvalidateSandbox, one flush per Flush.
// The hit path stays free of allocations with or without an observer.
// LookupSandboxSource tells the validator where an answer came from: the
// cache's memory, a stale entry's recheck, or a full store lookup.
package cache
