package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
)

// MemoryStore is an in-memory Store for tests, examples and single-process
// tools. It keeps only the SHA-256 digests of keys, never the keys, and hands
// out copies of its records. It implements StatusStore. The zero value is not
// ready to use; NewMemoryStore returns one too.
type MemoryStore struct {
	mu    sync.RWMutex
	byKey map[[sha256.Size]byte]string // key digest -> sandbox id
	byID  map[string]*memEntry
}

type memEntry struct {
	info SandboxInfo
	keys [][sha256.Size]byte
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{byKey: map[[sha256.Size]byte]string{}, byID: map[string]*memEntry{}}
}

// Put stores info under key, replacing any sandbox with the same id (and
// keeping that sandbox's other keys). A sandbox may have several keys; a key
// belongs to one sandbox. The key must be non-empty, the id non-empty, and the
// status one of the known statuses.
func (m *MemoryStore) Put(key string, info SandboxInfo) error {
	switch {
	case key == "":
		return errors.New("sandboxauth: empty session key")
	case info.ID == "":
		return errors.New("sandboxauth: empty sandbox id")
	case !info.Status.Valid():
		return errors.New("sandboxauth: unknown sandbox status " + string(info.Status))
	}
	d := Digest(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID == nil { // the zero MemoryStore
		m.byKey, m.byID = map[[sha256.Size]byte]string{}, map[string]*memEntry{}
	}
	if old, ok := m.byKey[d]; ok && old != info.ID {
		return errors.New("sandboxauth: session key already belongs to another sandbox")
	}
	e := m.byID[info.ID]
	if e == nil {
		e = &memEntry{}
		m.byID[info.ID] = e
	}
	e.info = *info.Clone()
	if _, ok := m.byKey[d]; !ok {
		e.keys = append(e.keys, d)
		m.byKey[d] = info.ID
	}
	return nil
}

// SetStatus changes a sandbox's status; ErrNotFound if there is no such sandbox.
func (m *MemoryStore) SetStatus(id string, s Status) error {
	if !s.Valid() {
		return errors.New("sandboxauth: unknown sandbox status " + string(s))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byID[id]
	if e == nil {
		return ErrNotFound
	}
	e.info.Status = s
	return nil
}

// Delete removes a sandbox and all its keys; ErrNotFound if there is none.
func (m *MemoryStore) Delete(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byID[id]
	if e == nil {
		return ErrNotFound
	}
	for _, d := range e.keys {
		delete(m.byKey, d)
	}
	delete(m.byID, id)
	return nil
}

// LookupSandbox implements Store.
func (m *MemoryStore) LookupSandbox(ctx context.Context, key string) (*SandboxInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := Digest(key)
	m.mu.RLock()
	defer m.mu.RUnlock()
	id, ok := m.byKey[d]
	if !ok {
		return nil, ErrNotFound
	}
	return m.byID[id].info.Clone(), nil
}

// SandboxStatus implements StatusStore.
func (m *MemoryStore) SandboxStatus(ctx context.Context, id string) (Status, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.byID[id]
	if e == nil {
		return "", ErrNotFound
	}
	return e.info.Status, nil
}

// Pause sets the sandbox PAUSED and revokes every key it has, in one step:
// from then on its keys are unknown (401 "Invalid session API key"), also
// after a resume (docs/design.md §11). ErrNotFound if there is no such
// sandbox.
func (m *MemoryStore) Pause(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byID[id]
	if e == nil {
		return ErrNotFound
	}
	m.revokeLocked(e)
	e.info.Status = StatusPaused
	return nil
}

// Resume sets a sandbox that is not RUNNING to RUNNING with a new key, which
// it returns; every older key is revoked. ErrAlreadyRunning if it is RUNNING,
// ErrNotFound if there is no such sandbox.
func (m *MemoryStore) Resume(id string) (string, error) {
	return m.replaceKey(id, true)
}

// RotateKey replaces every key of the sandbox with a new one, which it
// returns; the status is unchanged. ErrNotFound if there is no such sandbox.
func (m *MemoryStore) RotateKey(id string) (string, error) {
	return m.replaceKey(id, false)
}

func (m *MemoryStore) replaceKey(id string, resume bool) (string, error) {
	key, err := NewKey()
	if err != nil {
		return "", err
	}
	d := Digest(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byID[id]
	switch {
	case e == nil:
		return "", ErrNotFound
	case resume && e.info.Status == StatusRunning:
		return "", ErrAlreadyRunning
	}
	m.revokeLocked(e)
	if resume {
		e.info.Status = StatusRunning
	}
	e.keys = append(e.keys, d)
	m.byKey[d] = id
	return key, nil
}

func (m *MemoryStore) revokeLocked(e *memEntry) {
	for _, d := range e.keys {
		delete(m.byKey, d)
	}
	e.keys = nil
}
