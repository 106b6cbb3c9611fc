#!/usr/bin/env bash
# consumer.sh - proves that a consumer can `go get` this repository's modules
# at a release version and build a program on them, with nothing of the
# checkout in its build: no go.work, no replace directive.
#
#     bash .ci/consumer.sh [vX.Y.Z]      # default v0.1.0
#
# 1. modproxy (internal/releasetools) writes every module of go.work at the
#    version into a file-system module proxy, from the working tree.
# 2. Outside the repository, a fresh module, with GOWORK=off and
#    GOPROXY=file://<that proxy>,<the usual proxy> (so third-party modules
#    still come from the real proxy, checked against the checksum database;
#    GONOSUMDB exempts only our modules, which no public database knows yet),
#    and an empty module cache of its own (so nothing cached from an older
#    run can stand in for the tree), runs
#        go get github.com/sandboxauth/sandboxauth@vX.Y.Z github.com/sandboxauth/sandboxauth/chiauth@vX.Y.Z
#    then builds and runs a small chi program: an in-process httptest server
#    behind chiauth.Middleware, one request with the right key (200), one
#    without (401 "X-Session-API-Key header is required"), one with a wrong
#    key (401 "Invalid session API key"). Any mismatch exits non-zero.
#
# Needs only the Go module proxy on the network. Every go command is bounded
# by CONSUMER_STEP_TIMEOUT (default 300 s).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
version=${1:-v0.1.0}
step_timeout=${CONSUMER_STEP_TIMEOUT:-300}
export GOTOOLCHAIN=local

upstream=$(cd "$root" && go env GOPROXY)
case ",$upstream," in
    *,off,*) echo "consumer: GOPROXY=$upstream: third-party modules cannot be fetched" >&2; exit 1 ;;
esac

tmp=$(mktemp -d /tmp/consumer.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
proxy=$tmp/proxy
t0=$(date +%s)

echo "-- modproxy: every module at $version from the working tree"
(cd "$root/internal/releasetools" &&
    GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" timeout "$step_timeout" go run ./modproxy -repo "$root" -version "$version" -out "$proxy")

mkdir "$tmp/consumer"
cd "$tmp/consumer"
export GOWORK=off
export GOPROXY="file://$proxy,$upstream"
export GOFLAGS="-mod=mod -modcacherw"
export GONOSUMDB=github.com/sandboxauth/sandboxauth GOPRIVATE='' GONOPROXY='' GOINSECURE=''
export GOMODCACHE=$tmp/modcache
g() { timeout "$step_timeout" go "$@"; }

echo "-- go get (GOPROXY=$GOPROXY)"
g mod init example.com/consumer >/dev/null 2>&1
g get "github.com/sandboxauth/sandboxauth@$version" "github.com/sandboxauth/sandboxauth/chiauth@$version"

cat >main.go <<'EOF'
// A consumer of sandboxauth, built from the module proxy.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/go-chi/chi/v5"

	"github.com/sandboxauth/sandboxauth/chiauth"
	"github.com/sandboxauth/sandboxauth/core"
)

const goodKey = "consumer-check-key-0123456789abcdef"

func main() {
	store := core.StoreFunc(func(ctx context.Context, key string) (*core.SandboxInfo, error) {
		if key == goodKey {
			return &core.SandboxInfo{ID: "sb-consumer", CreatedByUserID: "alice", Status: core.StatusRunning}, nil
		}
		return nil, core.ErrNotFound
	})
	v, err := core.New(store)
	if err != nil {
		fail("core.New: %v", err)
	}
	auth, err := chiauth.Middleware(v)
	if err != nil {
		fail("chiauth.Middleware: %v", err)
	}
	r := chi.NewRouter()
	r.Use(auth)
	r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
		info, ok := core.SandboxFromContext(r.Context())
		if !ok {
			http.Error(w, "no sandbox in the context", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "sandbox %s of %s\n", info.ID, info.CreatedByUserID)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	bad := 0
	check := func(name, key string, wantStatus int, want func(body []byte) error) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/whoami", nil)
		if err != nil {
			fail("%v", err)
		}
		if key != "" {
			req.Header.Set("X-Session-API-Key", key)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			fail("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result := "ok  "
		err = want(body)
		if resp.StatusCode != wantStatus {
			err = fmt.Errorf("status %d, want %d", resp.StatusCode, wantStatus)
		}
		if err != nil {
			result = "FAIL"
			bad++
		}
		fmt.Printf("%s %-10s %d %q", result, name, resp.StatusCode, body)
		if err != nil {
			fmt.Printf(": %v", err)
		}
		fmt.Println()
	}
	exact := func(want string) func([]byte) error {
		return func(body []byte) error {
			if string(body) != want {
				return fmt.Errorf("body %q, want %q", body, want)
			}
			return nil
		}
	}
	detail := func(want string) func([]byte) error {
		return func(body []byte) error {
			var e struct {
				Detail *string `json:"detail"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Detail == nil {
				return fmt.Errorf("body is not {\"detail\":...}: %q", body)
			}
			if *e.Detail != want {
				return fmt.Errorf("detail %q, want %q", *e.Detail, want)
			}
			return nil
		}
	}
	check("good key", goodKey, http.StatusOK, exact("sandbox sb-consumer of alice\n"))
	check("no key", "", http.StatusUnauthorized, detail("X-Session-API-Key header is required"))
	check("wrong key", "not-"+goodKey, http.StatusUnauthorized, detail("Invalid session API key"))
	if bad > 0 {
		os.Exit(1)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "consumer: "+format+"\n", args...)
	os.Exit(1)
}
EOF

echo "-- go build"
g build -o consumer .

echo "-- where the modules came from"
fail=0
for m in github.com/sandboxauth/sandboxauth github.com/sandboxauth/sandboxauth/chiauth; do
    got=$(g list -m -f '{{.Path}} {{.Version}} {{if .Replace}}replaced{{end}} {{.Dir}}' "$m")
    echo "$got"
    case $got in
        "$m $version  $GOMODCACHE/"*) ;;
        *) echo "consumer: $m is not $version from the module cache" >&2; fail=1 ;;
    esac
done
g list -m all | grep -E '^github.com/(sandboxauth|go-chi)/' || true

echo "-- run"
./consumer || fail=1

if ((fail)); then
    echo "consumer: FAILED (go.mod below)" >&2; cat go.mod >&2; exit 1
fi
echo "consumer: $version installs and works from a module proxy ($(($(date +%s) - t0))s)"
