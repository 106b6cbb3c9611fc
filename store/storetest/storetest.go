// Package storetest is the conformance suite for implementations of
// store.Backend: the SQL store on SQLite and on PostgreSQL, and any store of
// your own. Every implementation calls Run with
// a factory that returns a fresh, empty backend:
//
//	func TestMyBackend(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Backend {
//			b := newMyBackend(t)
//			t.Cleanup(func() { b.Close() })
//			return b
//		})
//	}
//
// A backend that also implements Dumper lets the suite read its raw storage
// and check that no session key is ever kept there, only digests.
package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
)

// Backend is the interface under test.
type Backend = store.Backend

// Dumper is optionally implemented by a backend under test: Dump returns
// every value it stores (every column of every row, for a SQL database) as
// text, so that the suite can look for raw keys in it.
type Dumper interface {
	Dump(ctx context.Context) ([]string, error)
}

// Run runs every case against fresh backends from newBackend, each in its
// own subtest.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"CreateLookupRoundTrip", testCreateLookup},
		{"CreateStatuses", testCreateStatuses},
		{"KeyShape", testKeyShape},
		{"KeyStoredOnlyAsDigest", testDigestOnly},
		{"KeyExactMatch", testExactMatch},
		{"UnknownKey", testUnknownKey},
		{"StatusChanges", testStatusChanges},
		{"DeleteRemovesKey", testDelete},
		{"RotateInvalidatesOldKey", testRotate},
		{"PauseRevokesKey", testPause},
		{"ResumeIssuesNewKey", testResume},
		{"SetStatusKeepsKey", testSetStatusKeepsKey},
		{"RotationIsAtomicForLookups", testRotateConcurrentLookups},
		{"PauseResumeIsAtomicForLookups", testPauseResumeConcurrentLookups},
		{"LookupSeesEveryUser", testEveryUser},
		{"RecordsAreCopies", testCopies},
		{"BadInputWritesNothing", testBadInput},
		{"CancelledContext", testCancelled},
		{"Concurrent", testConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBackend(t)
			if b == nil {
				t.Fatal("storetest: factory returned nil")
			}
			c.fn(t, b)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func create(t *testing.T, b Backend, n store.NewSandbox) (core.SandboxInfo, string) {
	t.Helper()
	info, key, err := b.CreateSandbox(ctx(t), n)
	if err != nil {
		t.Fatalf("CreateSandbox(%+v): %v", n, err)
	}
	return info, key
}

func lookup(t *testing.T, b Backend, key string) *core.SandboxInfo {
	t.Helper()
	info, err := b.LookupSandbox(ctx(t), key)
	if err != nil {
		t.Fatalf("LookupSandbox(key of sandbox): %v", err)
	}
	if info == nil {
		t.Fatal("LookupSandbox returned nil info and nil error")
	}
	return info
}

func wantNotFound(t *testing.T, b Backend, key, what string) {
	t.Helper()
	info, err := b.LookupSandbox(ctx(t), key)
	if !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("LookupSandbox(%s) = %+v, %v; want core.ErrNotFound", what, info, err)
	}
	if info != nil {
		t.Fatalf("LookupSandbox(%s) returned a record with ErrNotFound", what)
	}
}

func wantStatus(t *testing.T, b Backend, id string, want core.Status) {
	t.Helper()
	got, err := b.SandboxStatus(ctx(t), id)
	if err != nil || got != want {
		t.Fatalf("SandboxStatus(%s) = %q, %v; want %q", id, got, err, want)
	}
}

func sameInfo(t *testing.T, got *core.SandboxInfo, want core.SandboxInfo) {
	t.Helper()
	if got.ID != want.ID || got.CreatedByUserID != want.CreatedByUserID || got.SandboxSpecID != want.SandboxSpecID ||
		got.Status != want.Status || got.StatusDetail != want.StatusDetail || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("record mismatch:\n got  %+v\n want %+v", *got, want)
	}
}

func testCreateLookup(t *testing.T, b Backend) {
	before := time.Now().Add(-time.Second)
	info, key := create(t, b, store.NewSandbox{Owner: "user-1", SpecID: "spec-a", StatusDetail: "booted"})
	after := time.Now().Add(time.Second)
	if info.ID == "" {
		t.Fatal("CreateSandbox returned an empty id")
	}
	if info.Status != core.StatusRunning {
		t.Fatalf("default status = %q, want RUNNING", info.Status)
	}
	if info.CreatedByUserID != "user-1" || info.SandboxSpecID != "spec-a" || info.StatusDetail != "booted" {
		t.Fatalf("CreateSandbox returned %+v", info)
	}
	if info.CreatedAt.Before(before) || info.CreatedAt.After(after) {
		t.Fatalf("CreatedAt = %v, want about now", info.CreatedAt)
	}
	sameInfo(t, lookup(t, b, key), info)
	wantStatus(t, b, info.ID, core.StatusRunning)

	// Ownerless sandboxes are allowed and resolve too.
	info2, key2 := create(t, b, store.NewSandbox{})
	if info2.ID == info.ID || key2 == key {
		t.Fatal("two sandboxes got the same id or key")
	}
	got := lookup(t, b, key2)
	sameInfo(t, got, info2)
	if got.HasOwner() {
		t.Fatalf("ownerless sandbox resolved with owner %q", got.CreatedByUserID)
	}
}

func testCreateStatuses(t *testing.T, b Backend) {
	for _, s := range core.Statuses() {
		info, key := create(t, b, store.NewSandbox{Owner: "u", Status: s})
		if info.Status != s {
			t.Fatalf("created with %q, got %q", s, info.Status)
		}
		// The store resolves non-RUNNING sandboxes; rejecting them is the
		// validator's job.
		sameInfo(t, lookup(t, b, key), info)
		wantStatus(t, b, info.ID, s)
	}
}

func testKeyShape(t *testing.T, b Backend) {
	seen := map[string]bool{}
	for range 20 {
		_, key := create(t, b, store.NewSandbox{})
		raw, err := base64.RawURLEncoding.DecodeString(key)
		if err != nil {
			t.Fatalf("key is not unpadded base64url: %v", err)
		}
		if len(raw) < 32 {
			t.Fatalf("key carries %d random bytes, want >= 32", len(raw))
		}
		if seen[key] {
			t.Fatal("the same key was issued twice")
		}
		seen[key] = true
	}
}

// DumpTables returns every column of every row of the named tables as text:
// a Dump for database/sql backends. Table names are trusted (no quoting).
func DumpTables(ctx context.Context, db *sql.DB, tables ...string) ([]string, error) {
	var out []string
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, "SELECT * FROM "+table)
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return nil, err
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					out = append(out, string(bs))
				} else {
					out = append(out, fmt.Sprint(v))
				}
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func dump(t *testing.T, b Backend) ([]string, bool) {
	t.Helper()
	d, ok := b.(Dumper)
	if !ok {
		return nil, false
	}
	vals, err := d.Dump(ctx(t))
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return vals, true
}

func testDigestOnly(t *testing.T, b Backend) {
	if _, ok := b.(Dumper); !ok {
		t.Skip("backend does not implement storetest.Dumper; cannot inspect its storage")
	}
	info, oldKey := create(t, b, store.NewSandbox{Owner: "user-1"})
	newKey, err := b.RotateKey(ctx(t), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey := create(t, b, store.NewSandbox{Owner: "user-2"})
	vals, _ := dump(t, b)
	all := strings.Join(vals, "\x00")
	// The dump must see the data at all, or the check below proves nothing.
	if !strings.Contains(all, core.DigestHex(newKey)) && !strings.Contains(all, string(digestBytes(newKey))) {
		t.Fatalf("the dump does not contain the current key's digest; it does not show the stored data: %q", vals)
	}
	for _, k := range []string{oldKey, newKey, otherKey} {
		for _, form := range []string{k, strings.ToLower(k), strings.ToUpper(k)} {
			if strings.Contains(all, form) {
				t.Fatal("a raw session key is stored")
			}
		}
		if raw, err := base64.RawURLEncoding.DecodeString(k); err == nil {
			if strings.Contains(all, string(raw)) || strings.Contains(all, hex.EncodeToString(raw)) {
				t.Fatal("the raw bytes of a session key are stored")
			}
		}
	}
	if strings.Contains(all, core.DigestHex(oldKey)) {
		t.Fatal("the rotated-out key's digest is still stored")
	}
}

func digestBytes(key string) []byte {
	d := sha256.Sum256([]byte(key))
	return d[:]
}

func testExactMatch(t *testing.T, b Backend) {
	info, key := create(t, b, store.NewSandbox{Owner: "u"})
	variants := map[string]string{
		"upper case":       strings.ToUpper(key),
		"lower case":       strings.ToLower(key),
		"prefix":           key[:len(key)-1],
		"extension":        key + "A",
		"trailing space":   key + " ",
		"leading space":    " " + key,
		"trailing NL":      key + "\n",
		"trailing tab":     key + "\t",
		"padded base64":    key + "=",
		"half key":         key[:len(key)/2],
		"digest as key":    core.DigestHex(key),
		"sandbox id":       info.ID,
		"empty":            "",
		"swapped 1st char": string(swapCase(key[0])) + key[1:],
	}
	for name, v := range variants {
		if v == key {
			continue // e.g. a key with no letters to change case of
		}
		wantNotFound(t, b, v, name)
	}
	sameInfo(t, lookup(t, b, key), info)
}

func swapCase(c byte) byte {
	switch {
	case c >= 'a' && c <= 'z':
		return c - 'a' + 'A'
	case c >= 'A' && c <= 'Z':
		return c - 'A' + 'a'
	case c == '-':
		return '_'
	case c == '_':
		return '-'
	}
	return c ^ 1
}

func testUnknownKey(t *testing.T, b Backend) {
	wantNotFound(t, b, "no-such-key", "unknown key on an empty store")
	create(t, b, store.NewSandbox{Owner: "u"})
	wantNotFound(t, b, "no-such-key", "unknown key")
	wantNotFound(t, b, strings.Repeat("k", 4096), "long unknown key")
	if s, err := b.SandboxStatus(ctx(t), "no-such-sandbox"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("SandboxStatus(unknown) = %q, %v; want core.ErrNotFound", s, err)
	}
}

func testStatusChanges(t *testing.T, b Backend) {
	info, key := create(t, b, store.NewSandbox{Owner: "u", StatusDetail: "starting up"})
	other, otherKey := create(t, b, store.NewSandbox{Owner: "u"})
	for _, s := range []core.Status{core.StatusPaused, core.StatusError, core.StatusRunning, core.StatusMissing, core.StatusStarting, core.StatusRunning} {
		if err := b.SetStatus(ctx(t), info.ID, s); err != nil {
			t.Fatalf("SetStatus(%s): %v", s, err)
		}
		got := lookup(t, b, key)
		if got.Status != s || got.ID != info.ID {
			t.Fatalf("after SetStatus(%s) lookup = %+v", s, got)
		}
		if got.StatusDetail != "" {
			t.Fatalf("SetStatus kept the old status detail %q", got.StatusDetail)
		}
		wantStatus(t, b, info.ID, s)
	}
	// Setting the current status again is fine.
	if err := b.SetStatus(ctx(t), info.ID, core.StatusRunning); err != nil {
		t.Fatalf("SetStatus(same status): %v", err)
	}
	if err := b.SetStatus(ctx(t), "no-such-sandbox", core.StatusPaused); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("SetStatus(unknown id) = %v; want core.ErrNotFound", err)
	}
	// The other sandbox was never touched.
	sameInfo(t, lookup(t, b, otherKey), other)
}

func testDelete(t *testing.T, b Backend) {
	info, key := create(t, b, store.NewSandbox{Owner: "u"})
	other, otherKey := create(t, b, store.NewSandbox{Owner: "u"})
	rotated, err := b.RotateKey(ctx(t), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteSandbox(ctx(t), info.ID); err != nil {
		t.Fatalf("DeleteSandbox: %v", err)
	}
	wantNotFound(t, b, key, "original key of a deleted sandbox")
	wantNotFound(t, b, rotated, "current key of a deleted sandbox")
	if _, err := b.SandboxStatus(ctx(t), info.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("SandboxStatus(deleted) = %v; want core.ErrNotFound", err)
	}
	if err := b.DeleteSandbox(ctx(t), info.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("second DeleteSandbox = %v; want core.ErrNotFound", err)
	}
	if err := b.SetStatus(ctx(t), info.ID, core.StatusRunning); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("SetStatus(deleted) = %v; want core.ErrNotFound", err)
	}
	if _, err := b.RotateKey(ctx(t), info.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("RotateKey(deleted) = %v; want core.ErrNotFound", err)
	}
	sameInfo(t, lookup(t, b, otherKey), other)
}

func testRotate(t *testing.T, b Backend) {
	info, oldKey := create(t, b, store.NewSandbox{Owner: "u", SpecID: "s"})
	newKey, err := b.RotateKey(ctx(t), info.ID)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if newKey == oldKey || newKey == "" {
		t.Fatal("RotateKey returned the old key or an empty one")
	}
	wantNotFound(t, b, oldKey, "rotated-out key")
	sameInfo(t, lookup(t, b, newKey), info)
	newer, err := b.RotateKey(ctx(t), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, b, newKey, "key rotated out twice")
	sameInfo(t, lookup(t, b, newer), info)
	if _, err := b.RotateKey(ctx(t), "no-such-sandbox"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("RotateKey(unknown) = %v; want core.ErrNotFound", err)
	}
}

func testEveryUser(t *testing.T, b Backend) {
	type sb struct {
		info core.SandboxInfo
		key  string
	}
	var all []sb
	for _, owner := range []string{"alice", "bob", "", "carol"} {
		for range 2 {
			info, key := create(t, b, store.NewSandbox{Owner: owner})
			all = append(all, sb{info, key})
		}
	}
	for _, s := range all {
		sameInfo(t, lookup(t, b, s.key), s.info)
	}
}

func testCopies(t *testing.T, b Backend) {
	info, key := create(t, b, store.NewSandbox{Owner: "u"})
	got := lookup(t, b, key)
	got.Status = core.StatusRunning + "X"
	got.CreatedByUserID = "mallory"
	got.ExposedURLs = append(got.ExposedURLs, core.ExposedURL{Name: "x"})
	sameInfo(t, lookup(t, b, key), info)
}

func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrInvalidInput) {
		t.Fatalf("%s: error %v; want one wrapping store.ErrInvalidInput", what, err)
	}
}

func testBadInput(t *testing.T, b Backend) {
	c := ctx(t)
	info, key := create(t, b, store.NewSandbox{Owner: "u"})
	before, canDump := dump(t, b)

	for name, n := range map[string]store.NewSandbox{
		"lower-case status":  {Status: "running"},
		"unknown status":     {Status: "BOGUS"},
		"status with space":  {Status: "RUNNING "},
		"owner with NUL":     {Owner: "u\x00"},
		"owner with newline": {Owner: "u\nx"},
		"owner not UTF-8":    {Owner: "\xff"},
		"owner too long":     {Owner: strings.Repeat("o", store.MaxIDLen+1)},
		"spec id too long":   {SpecID: strings.Repeat("s", store.MaxNameLen+1)},
		"detail with NUL":    {StatusDetail: "a\x00b"},
	} {
		info, k, err := b.CreateSandbox(c, n)
		wantInvalid(t, "CreateSandbox "+name, err)
		if k != "" || info.ID != "" {
			t.Fatalf("CreateSandbox %s returned a key or id with its error", name)
		}
	}
	wantInvalid(t, "SetStatus empty id", b.SetStatus(c, "", core.StatusPaused))
	wantInvalid(t, "SetStatus unknown status", b.SetStatus(c, info.ID, "STOPPED"))
	wantInvalid(t, "SetStatus empty status", b.SetStatus(c, info.ID, ""))
	wantInvalid(t, "DeleteSandbox empty id", b.DeleteSandbox(c, ""))
	_, err := b.RotateKey(c, "")
	wantInvalid(t, "RotateKey empty id", err)
	wantInvalid(t, "PauseSandbox empty id", b.PauseSandbox(c, ""))
	wantInvalid(t, "PauseSandbox id with control char", b.PauseSandbox(c, info.ID+"\n"))
	_, err = b.ResumeSandbox(c, "")
	wantInvalid(t, "ResumeSandbox empty id", err)
	_, err = b.ResumeSandbox(c, strings.Repeat("i", store.MaxIDLen+1))
	wantInvalid(t, "ResumeSandbox id too long", err)

	// Nothing was written.
	got := lookup(t, b, key)
	sameInfo(t, got, info)
	if canDump {
		after, _ := dump(t, b)
		if !slices.Equal(before, after) {
			t.Fatalf("storage changed after rejected writes:\nbefore %q\nafter  %q", before, after)
		}
	}
}

func testCancelled(t *testing.T, b Backend) {
	info, key := create(t, b, store.NewSandbox{Owner: "u"})
	paused, pausedKey := create(t, b, store.NewSandbox{Owner: "u", Status: core.StatusPaused})
	before, canDump := dump(t, b)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s with a cancelled context succeeded", op)
		}
		if errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrAlreadyRunning) {
			t.Fatalf("%s with a cancelled context = %v: a backend failure must not look like not-found", op, err)
		}
	}
	_, err := b.LookupSandbox(c, key)
	check("LookupSandbox", err)
	_, err = b.SandboxStatus(c, info.ID)
	check("SandboxStatus", err)
	_, _, err = b.CreateSandbox(c, store.NewSandbox{Owner: "u"})
	check("CreateSandbox", err)
	check("SetStatus", b.SetStatus(c, info.ID, core.StatusPaused))
	check("DeleteSandbox", b.DeleteSandbox(c, info.ID))
	_, err = b.RotateKey(c, info.ID)
	check("RotateKey", err)
	check("PauseSandbox", b.PauseSandbox(c, info.ID))
	_, err = b.ResumeSandbox(c, paused.ID)
	check("ResumeSandbox", err)

	sameInfo(t, lookup(t, b, key), info)
	sameInfo(t, lookup(t, b, pausedKey), paused)
	if canDump {
		after, _ := dump(t, b)
		if !slices.Equal(before, after) {
			t.Fatal("storage changed by calls with a cancelled context")
		}
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func testConcurrent(t *testing.T, b Backend) {
	const workers, each = 8, 15
	type made struct {
		id, key string
	}
	var (
		mu   sync.Mutex
		all  []made
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := context.Background()
			for i := range each {
				info, key, err := b.CreateSandbox(c, store.NewSandbox{Owner: fmt.Sprintf("user-%d", w)})
				if err != nil {
					errs <- fmt.Errorf("create: %w", err)
					return
				}
				got, err := b.LookupSandbox(c, key)
				if err != nil || got.ID != info.ID {
					errs <- fmt.Errorf("lookup right after create: %v", err)
					return
				}
				if i%3 == 0 {
					if err := b.SetStatus(c, info.ID, core.StatusPaused); err != nil {
						errs <- fmt.Errorf("set status: %w", err)
						return
					}
				}
				mu.Lock()
				all = append(all, made{info.ID, key})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(all) != workers*each {
		t.Fatalf("created %d sandboxes, want %d", len(all), workers*each)
	}
	ids := map[string]bool{}
	for _, m := range all {
		if ids[m.id] || !idPattern.MatchString(m.id) {
			t.Fatalf("duplicate or malformed id %q", m.id)
		}
		ids[m.id] = true
		if got := lookup(t, b, m.key); got.ID != m.id {
			t.Fatalf("key resolves to %s, want %s", got.ID, m.id)
		}
	}
}
