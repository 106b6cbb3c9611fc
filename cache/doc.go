// Package cache is the optional in-process cache of sandboxauth (SPEC §3):
// a decorator around a core.Store that makes the session-key check cheap
// enough for every request while keeping the security promise that a paused
// sandbox's key stops working within a known bound.
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
// stale entry is never served without a recheck. After InvalidateSandbox,
// Invalidate or Flush returns, no request is served from the entries it
// dropped, and no lookup that began before it can store its result.
//
// A key revoked while its sandbox keeps running (a rotated key) is a
// different matter: the status recheck cannot see it. Without invalidation
// such a key is accepted at most until max-stale after the last full lookup;
// with InvalidateSandbox (which the PostgreSQL change feed calls on every key
// change) not at all.
//
// # Concurrency
//
// Concurrent misses and rechecks of one key share a single store call. That
// call runs detached from any one request: it is cancelled when every caller
// waiting on it has given up (so a cancelled request stops the lookup, as the
// conformance suite requires, without failing the others), and it is bounded
// by the earliest of the first caller's deadline and WithLookupTimeout.
//
// A Cache is safe for concurrent use. Close stops its cleanup goroutine and
// cancels in-flight lookups; a closed Cache answers every lookup with
// ErrClosed, which the validator turns into 503.
package cache
