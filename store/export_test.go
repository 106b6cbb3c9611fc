package store

import (
	"context"
	"encoding/hex"
	"sort"
)

// Dump implements storetest.Dumper for the in-memory store in this package's
// tests: every stored value as text, in a stable order.
func (m *Memory) Dump(ctx context.Context) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for d, id := range m.byKey {
		out = append(out, hex.EncodeToString(d[:]), string(d[:]), id)
	}
	for id, s := range m.byID {
		i := s.info
		out = append(out, id, i.ID, i.CreatedByUserID, i.SandboxSpecID, string(i.Status), i.StatusDetail,
			i.CreatedAt.String(), hex.EncodeToString(s.key[:]))
	}
	for user, secrets := range m.secrets {
		for name, s := range secrets {
			out = append(out, user, name, s.value, s.description)
		}
	}
	sort.Strings(out)
	return out, nil
}
