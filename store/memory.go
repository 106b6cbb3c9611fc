package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"slices"
	"sync"

	"github.com/sandboxauth/sandboxauth/core"
)

// Memory is the in-memory Backend: for tests, examples and single-process
// tools that need no persistence. Like the SQL store it keeps only the
// SHA-256 digests of keys, and it hands out copies of its records. It is
// safe for concurrent use. The zero value is not usable; call NewMemory.
type Memory struct {
	mu      sync.RWMutex
	byKey   map[[sha256.Size]byte]string // key digest -> sandbox id
	byID    map[string]*memSandbox
	secrets map[string]map[string]memSecret // user -> name -> secret
}

type memSandbox struct {
	info core.SandboxInfo
	key  [sha256.Size]byte
}

type memSecret struct{ value, description string }

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		byKey:   map[[sha256.Size]byte]string{},
		byID:    map[string]*memSandbox{},
		secrets: map[string]map[string]memSecret{},
	}
}

// LookupSandbox implements core.Store: it resolves key (exact match) among
// every user's sandboxes, or returns core.ErrNotFound.
func (m *Memory) LookupSandbox(ctx context.Context, key string) (*core.SandboxInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if key == "" {
		return nil, core.ErrNotFound
	}
	d := core.Digest(key)
	m.mu.RLock()
	defer m.mu.RUnlock()
	id, ok := m.byKey[d]
	if !ok {
		return nil, core.ErrNotFound
	}
	return m.byID[id].info.Clone(), nil
}

// SandboxStatus implements core.StatusStore.
func (m *Memory) SandboxStatus(ctx context.Context, sandboxID string) (core.Status, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := m.byID[sandboxID]
	if s == nil {
		return "", core.ErrNotFound
	}
	return s.info.Status, nil
}

// CreateSandbox implements Backend.
func (m *Memory) CreateSandbox(ctx context.Context, n NewSandbox) (core.SandboxInfo, string, error) {
	if err := ctx.Err(); err != nil {
		return core.SandboxInfo{}, "", err
	}
	info, key, _, err := newSandbox(n)
	if err != nil {
		return core.SandboxInfo{}, "", err
	}
	d := core.Digest(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.byID[info.ID]; dup {
		return core.SandboxInfo{}, "", errDuplicate
	}
	if _, dup := m.byKey[d]; dup {
		return core.SandboxInfo{}, "", errDuplicate
	}
	m.byID[info.ID] = &memSandbox{info: info, key: d}
	m.byKey[d] = info.ID
	return info, key, nil
}

// SetStatus implements Backend.
func (m *Memory) SetStatus(ctx context.Context, sandboxID string, status core.Status) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkSandboxID(sandboxID); err != nil {
		return err
	}
	if err := checkStatus(status); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.byID[sandboxID]
	if s == nil {
		return core.ErrNotFound
	}
	s.info.Status = status
	s.info.StatusDetail = ""
	return nil
}

// DeleteSandbox implements Backend.
func (m *Memory) DeleteSandbox(ctx context.Context, sandboxID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkSandboxID(sandboxID); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.byID[sandboxID]
	if s == nil {
		return core.ErrNotFound
	}
	delete(m.byKey, s.key)
	delete(m.byID, sandboxID)
	return nil
}

// RotateKey implements Backend.
func (m *Memory) RotateKey(ctx context.Context, sandboxID string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := checkSandboxID(sandboxID); err != nil {
		return "", err
	}
	key, _, err := newKey()
	if err != nil {
		return "", err
	}
	d := core.Digest(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.byID[sandboxID]
	if s == nil {
		return "", core.ErrNotFound
	}
	if _, dup := m.byKey[d]; dup {
		return "", errDuplicate
	}
	delete(m.byKey, s.key)
	s.key = d
	m.byKey[d] = sandboxID
	return key, nil
}

// SetSecret implements Backend.
func (m *Memory) SetSecret(ctx context.Context, user, name, value, description string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkSecret(user, name, value, description); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.secrets[user]
	if u == nil {
		u = map[string]memSecret{}
		m.secrets[user] = u
	}
	u[name] = memSecret{value: value, description: description}
	return nil
}

// ListSecrets implements Backend.
func (m *Memory) ListSecrets(ctx context.Context, user string) ([]SecretMeta, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkText("user id", user, true, MaxIDLen, true); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]SecretMeta, 0, len(m.secrets[user]))
	for name, s := range m.secrets[user] {
		out = append(out, SecretMeta{Name: name, Description: s.description})
	}
	slices.SortFunc(out, func(a, b SecretMeta) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// GetSecret implements Backend.
func (m *Memory) GetSecret(ctx context.Context, user, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := checkSecretRef(user, name); err != nil {
		return "", err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.secrets[user][name]
	if !ok {
		return "", ErrSecretNotFound
	}
	return s.value, nil
}
