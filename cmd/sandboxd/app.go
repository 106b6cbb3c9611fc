package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
)

// maxBodyBytes bounds every request body the server reads.
const maxBodyBytes = 64 << 10

// params reads a route parameter the way the serving framework does.
type params func(name string) string

// handlerFunc is a route's handler, independent of the framework serving it.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p params)

// invalidator is what the app tells about its own writes (the cache).
type invalidator interface{ InvalidateSandbox(id string) }

// app holds the route handlers; routes.go mounts them on each framework.
type app struct {
	db           store.Backend
	secrets      *secretStore // users' secrets, beside the store's tables (secrets.go)
	inv          invalidator  // nil when the cache is off
	adminToken   [sha256.Size]byte
	adminLimiter *core.FailureLimiter // failed admin-token attempts; nil when --failure-limit 0
	log          *slog.Logger
	errLogs      *logSampler // the app's own error lines, sampled (logsample.go)
}

// writeDetail answers status with the spec's {"detail": ...} body.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// storeFailed answers a backend failure: 503, never a 4xx the client would
// believe. The error is logged; it never contains a key (stores see digests).
func (a *app) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	a.errLogs.log(r.Context(), "store_failed", slog.LevelError, "store operation failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	w.Header().Set("Retry-After", "1")
	writeDetail(w, http.StatusServiceUnavailable, "Store unavailable, try again later")
}

// healthz: GET /healthz.
func (a *app) healthz(w http.ResponseWriter, r *http.Request, _ params) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// listSecrets: GET /api/v1/sandboxes/{sandbox_id}/settings/secrets (session key).
func (a *app) listSecrets(w http.ResponseWriter, r *http.Request, _ params) {
	info, _ := core.SandboxFromContext(r.Context())
	owner, err := core.RequireOwner(info)
	if err != nil {
		core.WriteError(w, err)
		return
	}
	secrets, err := a.secrets.List(r.Context(), owner)
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"secrets": secrets})
}

// getSecret: GET /api/v1/sandboxes/{sandbox_id}/settings/secrets/{name} (session key).
func (a *app) getSecret(w http.ResponseWriter, r *http.Request, p params) {
	info, _ := core.SandboxFromContext(r.Context())
	owner, err := core.RequireOwner(info)
	if err != nil {
		core.WriteError(w, err)
		return
	}
	value, err := a.secrets.Get(r.Context(), owner, p("name"))
	switch {
	case errors.Is(err, errSecretNotFound), errors.Is(err, errBadSecret):
		writeDetail(w, http.StatusNotFound, "Secret not found")
		return
	case err != nil:
		a.storeFailed(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, value)
}

// admin wraps an admin handler with the bearer-token check (constant time:
// both sides are hashed first, so neither content nor length leaks). With
// --failure-limit, each wrong token takes from the client's budget, and a
// client that has used it up is answered 429 instead of 401
// (docs/design.md §8). The right token always passes, whatever the budget:
// untrusted code sharing the operator's address (a NAT, a proxy) must not
// be able to lock the operator out of pausing it. Guessing gains nothing
// from that: a token is 16 characters or more (a generated one is 32
// random bytes), and the budget bounds how fast wrong ones are answered
// and logged.
func (a *app) admin(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p params) {
		// RFC 7235: the scheme is case-insensitive.
		auth := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(auth, " ")
		ok = ok && strings.EqualFold(scheme, "Bearer")
		sum := sha256.Sum256([]byte(token))
		if ok && len(r.Header.Values("Authorization")) == 1 && subtle.ConstantTimeCompare(sum[:], a.adminToken[:]) == 1 {
			h(w, r, p)
			return
		}
		if a.adminLimiter != nil {
			if _, allowed := a.adminLimiter.Attempt(core.RemoteAddrClientID(r)); !allowed {
				core.WriteError(w, core.ErrTooManyFailures)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="sandboxd admin"`)
		writeDetail(w, http.StatusUnauthorized, "Invalid admin token")
	}
}

// decodeBody reads one JSON object into v: size-limited, strict (invalid
// UTF-8, duplicate keys, and field names that are not exactly the documented
// ones rejected: checkStrictJSON), unknown fields and trailing data rejected.
// An empty body is allowed when emptyOK. On failure it has answered 4xx,
// written nothing, and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeDetail(w, http.StatusRequestEntityTooLarge, "Request body too large")
		} else {
			writeDetail(w, http.StatusBadRequest, "Could not read request body")
		}
		return false
	}
	// Only JSON's white space (RFC 8259: space, tab, CR, LF) makes a body
	// empty; U+00A0 and the like are not JSON at all.
	if len(bytes.Trim(body, " \t\r\n")) == 0 && emptyOK {
		return true
	}
	if err := checkStrictJSON(body, v); err != nil {
		writeDetail(w, http.StatusBadRequest, err.Error())
		return false
	}
	// The body must be one object: null, an array or a scalar is refused
	// (decoding null into a struct would quietly leave it zero).
	if tok, err := json.NewDecoder(bytes.NewReader(body)).Token(); err != nil || tok != json.Delim('{') {
		writeDetail(w, http.StatusBadRequest, "Malformed JSON body: want a JSON object")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeDetail(w, http.StatusBadRequest, "Malformed JSON body: "+err.Error())
		return false
	}
	// Nothing but white space may follow the object. (dec.More() would not
	// do: it is false before a stray } or ].)
	if _, err := dec.Token(); err != io.EOF {
		writeDetail(w, http.StatusBadRequest, "Malformed JSON body: trailing data after the object")
		return false
	}
	return true
}

// parseStatus validates a status from a request body ("" = def).
func parseStatus(w http.ResponseWriter, s *string, def core.Status) (core.Status, bool) {
	if s == nil || *s == "" {
		if def == "" {
			writeDetail(w, http.StatusBadRequest, "status is required")
			return "", false
		}
		return def, true
	}
	st := core.Status(*s)
	if !st.Valid() {
		writeDetail(w, http.StatusBadRequest, "Unknown status "+strings.ToValidUTF8(*s, "?")+": want STARTING, RUNNING, PAUSED, ERROR or MISSING")
		return "", false
	}
	return st, true
}

// createSandbox: POST /admin/sandboxes {"owner":"u1","status":"RUNNING"}.
func (a *app) createSandbox(w http.ResponseWriter, r *http.Request, _ params) {
	var body struct {
		Owner  string  `json:"owner"`
		Status *string `json:"status"`
	}
	if !decodeBody(w, r, &body, true) {
		return
	}
	status, ok := parseStatus(w, body.Status, core.StatusRunning)
	if !ok {
		return
	}
	info, key, err := a.db.CreateSandbox(r.Context(), store.NewSandbox{Owner: body.Owner, Status: status})
	switch {
	case errors.Is(err, store.ErrInvalidInput):
		writeDetail(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		a.storeFailed(w, r, err)
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "sandbox created", slog.String("sandbox_id", info.ID),
		slog.String("owner", info.CreatedByUserID), slog.String("status", string(info.Status)), slog.String("key_fp", core.Fingerprint(key)))
	writeJSON(w, http.StatusCreated, map[string]string{"id": info.ID, "session_api_key": key})
}

// setStatus: PUT /admin/sandboxes/{id}/status {"status":"PAUSED"}.
func (a *app) setStatus(w http.ResponseWriter, r *http.Request, p params) {
	var body struct {
		Status *string `json:"status"`
	}
	if !decodeBody(w, r, &body, false) {
		return
	}
	status, ok := parseStatus(w, body.Status, "")
	if !ok {
		return
	}
	id := p("id")
	err := a.db.SetStatus(r.Context(), id, status)
	a.invalidate(id) // even on error: the cache must never be fresher than the store
	if !a.answerSandboxWrite(w, r, err) {
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "sandbox status changed", slog.String("sandbox_id", id), slog.String("status", string(status)))
	w.WriteHeader(http.StatusNoContent)
}

// deleteSandbox: DELETE /admin/sandboxes/{id}.
func (a *app) deleteSandbox(w http.ResponseWriter, r *http.Request, p params) {
	id := p("id")
	err := a.db.DeleteSandbox(r.Context(), id)
	a.invalidate(id)
	if !a.answerSandboxWrite(w, r, err) {
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "sandbox deleted", slog.String("sandbox_id", id))
	w.WriteHeader(http.StatusNoContent)
}

// putSecret: PUT /admin/users/{user}/secrets/{name} {"value":...,"description":...}.
func (a *app) putSecret(w http.ResponseWriter, r *http.Request, p params) {
	var body struct {
		Value       *string `json:"value"`
		Description string  `json:"description"`
	}
	if !decodeBody(w, r, &body, false) {
		return
	}
	if body.Value == nil {
		writeDetail(w, http.StatusBadRequest, "value is required")
		return
	}
	err := a.secrets.Set(r.Context(), p("user"), p("name"), *body.Value, body.Description)
	if !a.answerWrite(w, r, err) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// answerSandboxWrite is answerWrite for a route that names a sandbox: an id
// the store refuses as invalid (too long, not UTF-8, ...) is one no sandbox
// can have, so it is 404 like any unknown sandbox (docs/design.md §10). The
// request's other input (a status) is checked before the store is called.
func (a *app) answerSandboxWrite(w http.ResponseWriter, r *http.Request, err error) bool {
	if errors.Is(err, store.ErrInvalidInput) {
		writeDetail(w, http.StatusNotFound, "Sandbox not found")
		return false
	}
	return a.answerWrite(w, r, err)
}

// answerWrite maps a store write error to its answer; true means success.
func (a *app) answerWrite(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, core.ErrNotFound):
		writeDetail(w, http.StatusNotFound, "Sandbox not found")
	case errors.Is(err, store.ErrInvalidInput), errors.Is(err, errBadSecret):
		writeDetail(w, http.StatusBadRequest, err.Error())
	default:
		a.storeFailed(w, r, err)
	}
	return false
}

func (a *app) invalidate(id string) {
	if a.inv != nil {
		a.inv.InvalidateSandbox(id)
	}
}
