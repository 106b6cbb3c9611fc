package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

// Pause, resume and rotation each change the sandbox's row (status and key
// digest) in one commit, so each notifies the feed exactly like a status
// change: every instance's cache drops the sandbox (docs/design.md §7, §11).
// A refused resume writes nothing and notifies nothing.
func TestListenerHearsKeyLifecycle(t *testing.T) {
	url := pgtest.URL(t)
	s := openT(t, url)
	rec := newRecorder()
	listenT(t, url, rec)
	ctx := testCtx(t)
	info, _, err := s.CreateSandbox(ctx, store.NewSandbox{Owner: "u"})
	if err != nil {
		t.Fatal(err)
	}
	rec.none(t, 50*time.Millisecond)

	if _, err := s.ResumeSandbox(ctx, info.ID); !errors.Is(err, core.ErrAlreadyRunning) {
		t.Fatalf("ResumeSandbox(RUNNING) = %v", err)
	}
	rec.none(t, 100*time.Millisecond)
	steps := []struct {
		name string
		do   func() error
	}{
		{"pause", func() error { return s.PauseSandbox(ctx, info.ID) }},
		{"resume", func() error { _, err := s.ResumeSandbox(ctx, info.ID); return err }},
		{"rotate", func() error { _, err := s.RotateKey(ctx, info.ID); return err }},
		{"pause again", func() error { return s.PauseSandbox(ctx, info.ID) }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		t.Logf("%s: notified after %v", st.name, rec.await(t, "id:"+info.ID))
	}
	// Pausing a paused sandbox changes nothing and notifies nothing.
	if err := s.PauseSandbox(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	rec.none(t, 100*time.Millisecond)
}
