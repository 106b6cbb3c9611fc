package core

import (
	"slices"
	"time"
)

// Status is the lifecycle state of a sandbox. Only StatusRunning is accepted.
type Status string

// The sandbox statuses of the reference platform.
const (
	StatusStarting Status = "STARTING"
	StatusRunning  Status = "RUNNING"
	StatusPaused   Status = "PAUSED"
	StatusError    Status = "ERROR"
	StatusMissing  Status = "MISSING" // probably deleted
)

// Statuses lists every known status, in lifecycle order.
func Statuses() []Status {
	return []Status{StatusStarting, StatusRunning, StatusPaused, StatusError, StatusMissing}
}

// Valid reports whether s is one of the known statuses (exact, case-sensitive).
func (s Status) Valid() bool {
	switch s {
	case StatusStarting, StatusRunning, StatusPaused, StatusError, StatusMissing:
		return true
	}
	return false
}

// Mode is the application mode. In ModeSaaS every sandbox must have an owner.
type Mode string

// The application modes.
const (
	ModeOSS  Mode = "oss"
	ModeSaaS Mode = "saas"
)

// Valid reports whether m is ModeOSS or ModeSaaS.
func (m Mode) Valid() bool { return m == ModeOSS || m == ModeSaaS }

// ExposedURL is a URL a sandbox exposes (an agent server, a VS Code, ...).
type ExposedURL struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	Port int    `json:"port"`
}

// SandboxInfo is what a session key resolves to. It never carries the key.
type SandboxInfo struct {
	ID              string       `json:"id"`
	CreatedByUserID string       `json:"created_by_user_id,omitempty"` // "" = no owner
	SandboxSpecID   string       `json:"sandbox_spec_id,omitempty"`
	Status          Status       `json:"status"`
	ExposedURLs     []ExposedURL `json:"exposed_urls,omitempty"`
	CreatedAt       time.Time    `json:"created_at"`
	StatusDetail    string       `json:"status_detail,omitempty"`
}

// Clone returns a deep copy of s (nil for nil).
func (s *SandboxInfo) Clone() *SandboxInfo {
	if s == nil {
		return nil
	}
	c := *s
	c.ExposedURLs = slices.Clone(s.ExposedURLs)
	return &c
}

// HasOwner reports whether the sandbox was created by a known user.
func (s *SandboxInfo) HasOwner() bool { return s.CreatedByUserID != "" }
