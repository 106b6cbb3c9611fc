#!/usr/bin/env bash
# Each framework adapter at exactly its minimum framework version.
#
# The workspace (go.work) selects, for every module at once, the highest
# version any module requires: bench/ and cmd/sandboxd require newer gin, chi
# and echo releases than the adapters do, so the workspace's test run says
# nothing about the versions the adapters declare. Here each adapter is its
# own main module (GOWORK=off): its build list is its go.mod, the framework
# resolves to what the adapter requires, and this script checks that this is
# exactly the minimum in the table below before running the adapter's tests.
#
# The minimum of each framework is the lowest release with no published
# advisory against it (Go vulnerability database, GitHub advisories); the
# advisory IDs are listed in the "Versions" paragraph of each adapter's
# doc.go. Raising a minimum means editing the adapter's go.mod (go mod edit
# -require, go mod tidy with GOWORK=off), its doc.go and this table together.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOTOOLCHAIN=local

# adapter directory, framework module, minimum version
minimums=(
  "chiauth   github.com/go-chi/chi/v5      v5.3.0"
  "echoauth  github.com/labstack/echo/v4   v4.16.6"
  "echo5auth github.com/labstack/echo/v5   v5.4.6"
  "ginauth   github.com/gin-gonic/gin      v1.9.1"
)

status=0
for row in "${minimums[@]}"; do
  read -r dir mod min <<<"$row"
  echo "== $dir: $mod $min (GOWORK=off)"
  selected=$(cd "$dir" && GOWORK=off go list -m -f '{{.Version}}' "$mod")
  if [ "$selected" != "$min" ]; then
    echo "$dir selects $mod $selected, not the minimum $min: update its go.mod, doc.go and .ci/minversions.sh together"
    status=1
    continue
  fi
  (cd "$dir" && GOWORK=off go test -count=1 ./...) || status=1
done
exit $status
