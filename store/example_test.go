package store_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
)

// Open a SQLite database (created and migrated on first use), create a
// sandbox, and resolve its session key the way the validator does.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "sandboxauth-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := store.Open(ctx, filepath.Join(dir, "sandboxd.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	info, key, err := s.CreateSandbox(ctx, store.NewSandbox{Owner: "user-1"})
	if err != nil {
		log.Fatal(err)
	}
	// key is shown this once; the database keeps only its SHA-256.
	fmt.Println("key length:", len(key))

	got, err := s.LookupSandbox(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same sandbox:", got.ID == info.ID)
	fmt.Println("owner:", got.CreatedByUserID, "status:", got.Status)

	// Pausing the sandbox: the store still resolves the key, and the
	// validator refuses it because the status is not RUNNING.
	if err := s.SetStatus(ctx, info.ID, core.StatusPaused); err != nil {
		log.Fatal(err)
	}
	v, err := core.New(s, core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	_, err = v.Validate(ctx, key)
	fmt.Println("after pause:", core.ResponseFor(err).Detail)

	_, err = s.LookupSandbox(ctx, "not-a-key")
	fmt.Println("unknown key is ErrNotFound:", err == core.ErrNotFound)
	// Output:
	// key length: 43
	// same sandbox: true
	// owner: user-1 status: RUNNING
	// after pause: Sandbox is not running
	// unknown key is ErrNotFound: true
}

// The key lifecycle: a pause revokes the key, a resume issues a new one, and
// the old key never works again, even after the resume.
func ExampleSQL_PauseSandbox() {
	dir, err := os.MkdirTemp("", "sandboxauth-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(dir, "sandboxd.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	v, err := core.New(s, core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	info, leaked, err := s.CreateSandbox(ctx, store.NewSandbox{Owner: "user-1"})
	if err != nil {
		log.Fatal(err)
	}

	if err := s.PauseSandbox(ctx, info.ID); err != nil {
		log.Fatal(err)
	}
	_, err = v.Validate(ctx, leaked)
	fmt.Println("paused, old key:", core.ResponseFor(err).Detail)

	fresh, err := s.ResumeSandbox(ctx, info.ID)
	if err != nil {
		log.Fatal(err)
	}
	_, err = v.Validate(ctx, leaked)
	fmt.Println("resumed, old key:", core.ResponseFor(err).Detail)
	_, err = v.Validate(ctx, fresh)
	fmt.Println("resumed, new key accepted:", err == nil)

	_, err = s.ResumeSandbox(ctx, info.ID)
	fmt.Println("resume again:", err == core.ErrAlreadyRunning)
	// Output:
	// paused, old key: Invalid session API key
	// resumed, old key: Invalid session API key
	// resumed, new key accepted: true
	// resume again: true
}
