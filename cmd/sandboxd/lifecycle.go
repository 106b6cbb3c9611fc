package main

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/sandboxauth/sandboxauth/core"
)

// The key lifecycle routes (docs/design.md §11), as the reference platform
// runs it: a pause revokes the key, a resume issues a new one, a rotation
// replaces it. Each is one atomic store call; the local cache drops the
// sandbox at once, and on PostgreSQL every other instance's cache drops it
// when the change feed's notification arrives (docs/design.md §7).
//
// PUT /admin/sandboxes/{id}/status is different: a status reported by the
// sandbox runtime, which never touches the key.

// pauseSandbox: POST /admin/sandboxes/{id}/pause → 204. The old key answers
// 401 "Invalid session API key" from then on, even after a resume.
func (a *app) pauseSandbox(w http.ResponseWriter, r *http.Request, p params) {
	if !decodeBody(w, r, &struct{}{}, true) {
		return
	}
	id := p("id")
	err := a.db.PauseSandbox(r.Context(), id)
	a.invalidate(id) // even on error: the cache must never be fresher than the store
	if !a.answerSandboxWrite(w, r, err) {
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "sandbox paused, key revoked", slog.String("sandbox_id", id))
	w.WriteHeader(http.StatusNoContent)
}

// resumeSandbox: POST /admin/sandboxes/{id}/resume → 200 {"id","session_api_key"}
// with a new key (shown this once); 409 if the sandbox is RUNNING.
func (a *app) resumeSandbox(w http.ResponseWriter, r *http.Request, p params) {
	if !decodeBody(w, r, &struct{}{}, true) {
		return
	}
	id := p("id")
	key, err := a.db.ResumeSandbox(r.Context(), id)
	a.invalidate(id)
	if errors.Is(err, core.ErrAlreadyRunning) {
		writeDetail(w, http.StatusConflict, "Sandbox is already running")
		return
	}
	if !a.answerSandboxWrite(w, r, err) {
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "sandbox resumed with a new key", slog.String("sandbox_id", id),
		slog.String("key_fp", core.Fingerprint(key)))
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "session_api_key": key})
}

// rotateKey: POST /admin/sandboxes/{id}/rotate-key → 200 {"id","session_api_key"};
// the old key is dead at once.
func (a *app) rotateKey(w http.ResponseWriter, r *http.Request, p params) {
	if !decodeBody(w, r, &struct{}{}, true) {
		return
	}
	id := p("id")
	key, err := a.db.RotateKey(r.Context(), id)
	a.invalidate(id)
	if !a.answerSandboxWrite(w, r, err) {
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "sandbox key rotated", slog.String("sandbox_id", id),
		slog.String("key_fp", core.Fingerprint(key)))
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "session_api_key": key})
}
