package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
)

// The key lifecycle (docs/design.md §11): pause revokes the key, resume
// issues a new one, rotation replaces it; each in one atomic step.

func testPause(t *testing.T, b Backend) {
	c := ctx(t)
	info, key := create(t, b, store.NewSandbox{Owner: "u", StatusDetail: "busy"})
	other, otherKey := create(t, b, store.NewSandbox{Owner: "u"})
	if err := b.PauseSandbox(c, info.ID); err != nil {
		t.Fatalf("PauseSandbox: %v", err)
	}
	// The key is gone, not merely refused: a lookup is not-found, so the
	// validator answers "Invalid session API key", not "Sandbox is not running".
	wantNotFound(t, b, key, "key of a paused sandbox")
	wantStatus(t, b, info.ID, core.StatusPaused)
	if vals, ok := dump(t, b); ok && strings.Contains(strings.Join(vals, "\x00"), core.DigestHex(key)) {
		t.Fatal("the paused sandbox's key digest is still stored")
	}
	// Pausing a paused sandbox is fine and changes nothing.
	if err := b.PauseSandbox(c, info.ID); err != nil {
		t.Fatalf("second PauseSandbox: %v", err)
	}
	wantStatus(t, b, info.ID, core.StatusPaused)
	// A status change from the runtime does not bring the key back.
	if err := b.SetStatus(c, info.ID, core.StatusRunning); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, b, key, "key of a paused sandbox set RUNNING by SetStatus")
	if err := b.PauseSandbox(c, "no-such-sandbox"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("PauseSandbox(unknown) = %v; want core.ErrNotFound", err)
	}
	// A sandbox the runtime reported PAUSED still has its key: pausing it
	// revokes the key all the same.
	reported, reportedKey := create(t, b, store.NewSandbox{Owner: "u"})
	if err := b.SetStatus(c, reported.ID, core.StatusPaused); err != nil {
		t.Fatal(err)
	}
	if err := b.PauseSandbox(c, reported.ID); err != nil {
		t.Fatalf("PauseSandbox after SetStatus(PAUSED): %v", err)
	}
	if err := b.SetStatus(c, reported.ID, core.StatusRunning); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, b, reportedKey, "key of a sandbox reported PAUSED, then paused, then reported RUNNING")
	sameInfo(t, lookup(t, b, otherKey), other)
}

func testResume(t *testing.T, b Backend) {
	c := ctx(t)
	info, oldKey := create(t, b, store.NewSandbox{Owner: "u", SpecID: "spec"})
	other, otherKey := create(t, b, store.NewSandbox{Owner: "u"})

	// Resuming a RUNNING sandbox is refused and changes nothing.
	before, canDump := dump(t, b)
	if k, err := b.ResumeSandbox(c, info.ID); !errors.Is(err, core.ErrAlreadyRunning) || k != "" {
		t.Fatalf("ResumeSandbox(RUNNING) = %q, %v; want core.ErrAlreadyRunning and no key", k, err)
	}
	sameInfo(t, lookup(t, b, oldKey), info)
	if canDump {
		after, _ := dump(t, b)
		if strings.Join(before, "\x00") != strings.Join(after, "\x00") {
			t.Fatal("a refused ResumeSandbox changed the storage")
		}
	}

	if err := b.PauseSandbox(c, info.ID); err != nil {
		t.Fatal(err)
	}
	newKey, err := b.ResumeSandbox(c, info.ID)
	if err != nil {
		t.Fatalf("ResumeSandbox: %v", err)
	}
	if newKey == "" || newKey == oldKey {
		t.Fatal("ResumeSandbox returned an empty key or the old one")
	}
	wantNotFound(t, b, oldKey, "key revoked by a pause, after the resume")
	want := info
	want.Status, want.StatusDetail = core.StatusRunning, ""
	sameInfo(t, lookup(t, b, newKey), want)
	wantStatus(t, b, info.ID, core.StatusRunning)

	// A sandbox paused by the runtime (SetStatus) kept its key; resuming it
	// revokes that key too.
	if err := b.SetStatus(c, info.ID, core.StatusPaused); err != nil {
		t.Fatal(err)
	}
	newer, err := b.ResumeSandbox(c, info.ID)
	if err != nil {
		t.Fatalf("ResumeSandbox after SetStatus(PAUSED): %v", err)
	}
	wantNotFound(t, b, newKey, "key of a sandbox resumed again")
	sameInfo(t, lookup(t, b, newer), want)

	// Every status but RUNNING can be resumed.
	for _, s := range []core.Status{core.StatusStarting, core.StatusError, core.StatusMissing} {
		sb, k := create(t, b, store.NewSandbox{Owner: "v", Status: s})
		nk, err := b.ResumeSandbox(c, sb.ID)
		if err != nil {
			t.Fatalf("ResumeSandbox(%s): %v", s, err)
		}
		wantNotFound(t, b, k, "key of a resumed "+string(s)+" sandbox")
		if got := lookup(t, b, nk); got.Status != core.StatusRunning || got.ID != sb.ID {
			t.Fatalf("after ResumeSandbox(%s): %+v", s, got)
		}
	}

	if k, err := b.ResumeSandbox(c, "no-such-sandbox"); !errors.Is(err, core.ErrNotFound) || k != "" {
		t.Fatalf("ResumeSandbox(unknown) = %q, %v; want core.ErrNotFound", k, err)
	}
	if err := b.DeleteSandbox(c, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ResumeSandbox(c, info.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("ResumeSandbox(deleted) = %v; want core.ErrNotFound", err)
	}
	if err := b.PauseSandbox(c, info.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("PauseSandbox(deleted) = %v; want core.ErrNotFound", err)
	}
	wantNotFound(t, b, newer, "key of a deleted sandbox")
	sameInfo(t, lookup(t, b, otherKey), other)
}

// SetStatus is the runtime's report: it never touches the key.
func testSetStatusKeepsKey(t *testing.T, b Backend) {
	c := ctx(t)
	info, key := create(t, b, store.NewSandbox{Owner: "u"})
	for _, s := range []core.Status{core.StatusPaused, core.StatusRunning} {
		if err := b.SetStatus(c, info.ID, s); err != nil {
			t.Fatal(err)
		}
		if got := lookup(t, b, key); got.Status != s {
			t.Fatalf("after SetStatus(%s) the key resolves with status %q", s, got.Status)
		}
	}
	// Rotation keeps the status, paused or not.
	if err := b.PauseSandbox(c, info.ID); err != nil {
		t.Fatal(err)
	}
	k, err := b.RotateKey(c, info.ID)
	if err != nil {
		t.Fatalf("RotateKey(paused): %v", err)
	}
	if got := lookup(t, b, k); got.Status != core.StatusPaused {
		t.Fatalf("RotateKey changed the status to %q", got.Status)
	}
}

// lifecycleReaders runs readers goroutines that call check in a loop until
// stop is closed (each bounded to maxIters calls), and returns a function
// that stops them and reports their first error.
func lifecycleReaders(readers, maxIters int, check func(c context.Context) error) (stop func() error) {
	done := make(chan struct{})
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for range maxIters {
				select {
				case <-done:
					return
				default:
				}
				if err := check(c); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	return func() error {
		close(done)
		wg.Wait()
		close(errs)
		return <-errs
	}
}

// checkRecord is what any lookup during the lifecycle tests may return: the
// sandbox under test, with a known status.
func checkRecord(info *core.SandboxInfo, err error, id string) error {
	switch {
	case errors.Is(err, core.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("lookup: %w", err)
	case info == nil:
		return errors.New("lookup returned no record and no error")
	case info.ID != id:
		return fmt.Errorf("a key resolved to sandbox %q, want %q", info.ID, id)
	case !info.Status.Valid():
		return fmt.Errorf("a lookup saw the unknown status %q (a half-written record)", info.Status)
	}
	return nil
}

// While keys are rotated, lookups of the keys never see a half-written
// state: once RotateKey has returned, the key it replaced never resolves
// again, and every record a lookup returns is whole.
func testRotateConcurrentLookups(t *testing.T, b Backend) {
	const rounds, readers = 40, 4
	info, key := create(t, b, store.NewSandbox{Owner: "u"})
	type gen struct{ old, cur string } // published after RotateKey returned
	var pub atomic.Pointer[gen]
	pub.Store(&gen{cur: key})
	stop := lifecycleReaders(readers, 1_000_000, func(c context.Context) error {
		g := pub.Load()
		if g.old != "" {
			got, err := b.LookupSandbox(c, g.old)
			if err == nil {
				return fmt.Errorf("a rotated-out key resolved (status %q) after RotateKey returned", got.Status)
			}
			if !errors.Is(err, core.ErrNotFound) {
				return fmt.Errorf("lookup of a rotated-out key: %w", err)
			}
		}
		got, err := b.LookupSandbox(c, g.cur)
		if err := checkRecord(got, err, info.ID); err != nil {
			return err
		}
		if err == nil && got.Status != core.StatusRunning {
			return fmt.Errorf("the rotated sandbox resolved with status %q", got.Status)
		}
		return nil
	})
	c := ctx(t)
	all := []string{key}
	for range rounds {
		nk, err := b.RotateKey(c, info.ID)
		if err != nil {
			stop()
			t.Fatalf("RotateKey: %v", err)
		}
		pub.Store(&gen{old: all[len(all)-1], cur: nk})
		all = append(all, nk)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, k := range all[:len(all)-1] {
		wantNotFound(t, b, k, "a rotated-out key")
	}
	sameInfo(t, lookup(t, b, all[len(all)-1]), info)
}

// While a sandbox is paused and resumed, no lookup sees a half-written
// state: a key resolves only to a RUNNING record (a pause clears the key in
// the step that sets PAUSED; a resume sets RUNNING in the step that stores
// the new key), and a key revoked by a pause that has returned never
// resolves again.
func testPauseResumeConcurrentLookups(t *testing.T, b Backend) {
	const rounds, readers = 30, 4
	info, key := create(t, b, store.NewSandbox{Owner: "u"})
	type gen struct{ dead, cur string } // published after the call returned
	var pub atomic.Pointer[gen]
	pub.Store(&gen{cur: key})
	stop := lifecycleReaders(readers, 1_000_000, func(c context.Context) error {
		g := pub.Load()
		for _, k := range []string{g.dead, g.cur} {
			if k == "" {
				continue
			}
			got, err := b.LookupSandbox(c, k)
			if err := checkRecord(got, err, info.ID); err != nil {
				return err
			}
			if err != nil {
				continue
			}
			if k == g.dead {
				return fmt.Errorf("a key revoked by a pause resolved (status %q) after PauseSandbox returned", got.Status)
			}
			if got.Status != core.StatusRunning {
				return fmt.Errorf("a key resolved to a %s record: the pause did not revoke it in the same step", got.Status)
			}
		}
		if s, err := b.SandboxStatus(c, info.ID); err != nil || (s != core.StatusRunning && s != core.StatusPaused) {
			return fmt.Errorf("SandboxStatus during pause/resume = %q, %v", s, err)
		}
		return nil
	})
	c := ctx(t)
	var dead []string
	cur := key
	for range rounds {
		if err := b.PauseSandbox(c, info.ID); err != nil {
			stop()
			t.Fatalf("PauseSandbox: %v", err)
		}
		dead = append(dead, cur)
		pub.Store(&gen{dead: cur})
		nk, err := b.ResumeSandbox(c, info.ID)
		if err != nil {
			stop()
			t.Fatalf("ResumeSandbox: %v", err)
		}
		cur = nk
		pub.Store(&gen{dead: dead[len(dead)-1], cur: cur})
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, k := range dead {
		wantNotFound(t, b, k, "a key revoked by a pause")
	}
	if got := lookup(t, b, cur); got.Status != core.StatusRunning {
		t.Fatalf("the last key resolves with status %q", got.Status)
	}
}
