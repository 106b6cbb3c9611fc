package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
)

// MemStore is an in-memory Store for tests, examples and single-process
// tools. It keeps only the SHA-256 digests of keys, never the keys, and hands
// out copies of its records. It implements StatusStore. The zero value is not
// usable; call NewMemStore.
type MemStore struct {
	mu    sync.RWMutex
	byKey map[[sha256.Size]byte]string // key digest -> sandbox id
	byID  map[string]*memEntry
}

type memEntry struct {
	info SandboxInfo
	keys [][sha256.Size]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{byKey: map[[sha256.Size]byte]string{}, byID: map[string]*memEntry{}}
}

// Put stores info under key, replacing any sandbox with the same id (and
// keeping that sandbox's other keys). A sandbox may have several keys; a key
// belongs to one sandbox. The key must be non-empty, the id non-empty, and the
// status one of the known statuses.
func (m *MemStore) Put(key string, info SandboxInfo) error {
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
func (m *MemStore) SetStatus(id string, s Status) error {
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
func (m *MemStore) Delete(id string) error {
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
func (m *MemStore) LookupSandbox(ctx context.Context, key string) (*SandboxInfo, error) {
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
func (m *MemStore) SandboxStatus(ctx context.Context, id string) (Status, error) {
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
