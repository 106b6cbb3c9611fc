package main

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/store"
	"github.com/sandboxauth/sandboxauth/store/pgtest"
)

// withAppName returns the PostgreSQL URL u with application_name set, so
// that the test's own connections are told apart in pg_stat_activity.
func withAppName(t *testing.T, u, name string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Set("application_name", name)
	p.RawQuery = q.Encode()
	return p.String()
}

// openRaw opens a database/sql pool on u through pgx (registered by the
// store package).
func openRaw(t *testing.T, u string, maxConns int) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(maxConns)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestLockedDatabaseFlood: the sandboxes table is locked (a slow database),
// and a few hundred concurrent requests with random keys arrive together
// with requests bearing valid keys that are already cached. The server's
// connections stay within --db-max-conns, an unrelated client can still
// connect to PostgreSQL, the cached valid keys answer 200, and every other
// answer is 503 with Retry-After: never 401 for a valid key, never 200 for
// a bad one (docs/design.md §8).
func TestLockedDatabaseFlood(t *testing.T) {
	const maxConns, randomRequests, validClients, validEach = defaultDBMaxConns, 300, 10, 20
	dbURL := pgtest.URL(t)
	in := startInstance(t, config{DB: dbURL, CacheTTL: 30 * time.Second, DBMaxConns: maxConns})

	type sb struct{ id, key string }
	var valid []sb
	for i := range 5 {
		id, key := in.create("u1", "RUNNING")
		valid = append(valid, sb{id, key})
		if i == 0 {
			expect(t, "put secret", in.admin("PUT", "/admin/users/u1/secrets/TOKEN", `{"value":"v"}`), 204, "")
		}
		expect(t, "warm the cache", in.do("GET", secretsPath(id), "", core.HeaderName, key), 200, "")
	}

	// The monitor counts the server's connections to the test database.
	monitor := openRaw(t, withAppName(t, dbURL, "sandboxd-test-monitor"), 1)
	var peakStore, peakAll atomic.Int64
	sample := func(ctx context.Context) error {
		var nStore, nAll int64
		err := monitor.QueryRowContext(ctx, `SELECT
				count(*) FILTER (WHERE application_name = $1),
				count(*) FILTER (WHERE application_name IN ($1, $2))
			FROM pg_stat_activity WHERE datname = current_database()`,
			store.StoreApplicationName, store.ListenerApplicationName).Scan(&nStore, &nAll)
		if err == nil {
			if nStore > peakStore.Load() {
				peakStore.Store(nStore)
			}
			if nAll > peakAll.Load() {
				peakAll.Store(nAll)
			}
		}
		return err
	}
	if err := sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	monCtx, stopMonitor := context.WithCancel(context.Background())
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		for monCtx.Err() == nil {
			_ = sample(monCtx)
			time.Sleep(2 * time.Millisecond)
		}
	}()

	// Lock the table from a connection of the test's own.
	locker := openRaw(t, withAppName(t, dbURL, "sandboxd-test-locker"), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tx, err := locker.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE sandboxes IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			_ = tx.Rollback()
		}
	}
	defer unlock()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: randomRequests}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	send := func(path, key string) (int, string, time.Duration, error) {
		req, _ := http.NewRequest("GET", in.http.URL+path, nil)
		req.Header.Set(core.HeaderName, key)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start), nil
	}

	var (
		wg                                    sync.WaitGroup
		go503, fast503, bad503NoRetry, badOK  atomic.Int64
		badOther, validOK, validBad, failures atomic.Int64
		release                               = make(chan struct{})
	)
	for range randomRequests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			status, retry, took, err := send(secretsPath(valid[0].id), randomKey())
			switch {
			case err != nil:
				failures.Add(1)
			case status == 503 && retry != "":
				go503.Add(1)
				if took < time.Second {
					fast503.Add(1)
				}
			case status == 503:
				bad503NoRetry.Add(1)
			case status == 200:
				badOK.Add(1)
			default:
				badOther.Add(1)
			}
		}()
	}
	for i := range validClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			s := valid[i%len(valid)]
			for range validEach {
				status, _, _, err := send(secretsPath(s.id), s.key)
				if err == nil && status == 200 {
					validOK.Add(1)
				} else {
					validBad.Add(1)
					t.Errorf("a cached valid key answered %d (%v) while the database was locked", status, err)
				}
			}
		}()
	}
	close(release)

	// Meanwhile, an unrelated client connects and queries.
	time.Sleep(300 * time.Millisecond)
	unrelated := openRaw(t, withAppName(t, dbURL, "sandboxd-test-unrelated"), 1)
	uctx, ucancel := context.WithTimeout(ctx, 5*time.Second)
	var one int
	if err := unrelated.QueryRowContext(uctx, `SELECT 1`).Scan(&one); err != nil || one != 1 {
		t.Errorf("an unrelated client could not use PostgreSQL during the flood: %v", err)
	}
	ucancel()

	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(45 * time.Second):
		t.Fatal("requests still unanswered after 45 s")
	}
	unlock()
	stopMonitor()
	<-monDone

	t.Logf("locked database, --db-max-conns %d (%d lookup slots): %d random-key requests -> %d x 503 with Retry-After (%d within 1 s); "+
		"%d/%d cached valid requests 200; peak connections: store %d, store+feed %d",
		maxConns, lookupSlots(maxConns), randomRequests, go503.Load(), fast503.Load(),
		validOK.Load(), validClients*validEach, peakStore.Load(), peakAll.Load())
	if go503.Load() != randomRequests || badOK.Load() != 0 || badOther.Load() != 0 || bad503NoRetry.Load() != 0 || failures.Load() != 0 {
		t.Errorf("random keys: %d x 503+Retry-After, %d x 200, %d x other, %d x 503 without Retry-After, %d transport failures; want all %d 503 with Retry-After",
			go503.Load(), badOK.Load(), badOther.Load(), bad503NoRetry.Load(), failures.Load(), randomRequests)
	}
	if validOK.Load() != validClients*validEach {
		t.Errorf("cached valid keys: %d of %d answered 200", validOK.Load(), validClients*validEach)
	}
	if peakStore.Load() > maxConns {
		t.Errorf("the store used %d connections, over --db-max-conns %d", peakStore.Load(), maxConns)
	}
	// Once the lock is gone, everything works again.
	expect(t, "after the lock", in.do("GET", secretsPath(valid[1].id), "", core.HeaderName, valid[1].key), 200, "")
	expect(t, "a random key after the lock", in.do("GET", secretsPath(valid[1].id), "", core.HeaderName, randomKey()), 401, coreBody(core.ErrInvalidKey))
}
