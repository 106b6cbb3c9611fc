#!/usr/bin/env bash
# shellcheck disable=SC2016 # backquotes in CHANGELOG lines are literal
# apicheck_test.sh - proves that .ci/apicheck.sh can fail: in a throwaway
# git repository with two modules (like this one: a root module and a nested
# module that requires it, with a replace), tagged v0.1.0 and sub/v0.1.0, it
# removes an exported function, a package, a nested module's function, and
# checks what apicheck reports, including the two ways CHANGELOG.md allows a
# break. Needs the module proxy once, to install apidiff. Run by .ci/run, or:
#
#     bash .ci/apicheck_test.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd -P)
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

tmp=$(mktemp -d /tmp/apicheck-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
repo=$tmp/repo
mkdir -p "$repo"/{.ci,scripts,extra,sub,cmd/tool,internal/x}
cp "$src/.ci/apicheck.sh" "$repo/.ci/"
cp "$src/scripts/modules.sh" "$repo/scripts/"
cd "$repo"

cat >go.work <<'EOF'
go 1.24

use (
	.
	./sub
)
EOF
printf 'module example.com/lib\n\ngo 1.24\n' >go.mod
cat >lib.go <<'EOF'
// Package lib is the throwaway module's root package.
package lib

// Hello greets.
func Hello() string { return "hello" }

// Bye takes leave.
func Bye() string { return "bye" }

// Name is what sub uses of lib.
const Name = "lib"
EOF
printf '// Package extra is removed by a test.\npackage extra\n\n// X is exported.\nconst X = 1\n' >extra/extra.go
printf 'package main\n\n// Exported in a main package: nobody can import it.\nfunc Exported() {}\n\nfunc main() {}\n' >cmd/tool/main.go
printf '// Package x is internal.\npackage x\n\n// Y is exported, to this module only.\nfunc Y() {}\n' >internal/x/x.go
cat >sub/go.mod <<'EOF'
module example.com/lib/sub

go 1.24

require example.com/lib v0.1.0

replace example.com/lib => ../
EOF
cat >sub/sub.go <<'EOF'
// Package sub is the nested module.
package sub

import "example.com/lib"

// Greet greets from lib.
func Greet() string { return "hello from " + lib.Name }
EOF
# one apidiff for every run (apicheck.sh honours APIDIFF)
GOWORK=off GOFLAGS='' GOBIN="$tmp/bin" timeout 300 go install "golang.org/x/exp/cmd/apidiff@$(sed -n 's/^APIDIFF_VERSION=${APIDIFF_VERSION:-\(.*\)}$/\1/p' .ci/apicheck.sh)"
export APIDIFF=$tmp/bin/apidiff

changelog() { printf '# Changelog\n\n## %s (unreleased)\n\n%s\n\n## v0.1.0\n\n- First release.\n' "$1" "${2:-}" >CHANGELOG.md; }
changelog v0.1.1
git init --quiet --initial-branch=main
git config user.name "apicheck test"
git config user.email "apicheck-test@example.invalid"
git add -A
git commit --quiet -m "v0.1.0"

failures=0
out=$tmp/out
# expect WANT_EXIT NAME PATTERN...: apicheck exits with WANT_EXIT (0 or 1)
# and prints every PATTERN (an extended regular expression).
expect() {
    local want=$1 name=$2 got=0 p ok=true; shift 2
    bash .ci/apicheck.sh >"$out" 2>&1 || got=$?
    [[ $got == "$want" ]] || ok=false
    for p in "$@"; do grep -qE -- "$p" "$out" || { ok=false; echo "     missing /$p/"; }; done
    if $ok; then echo "ok   $name"; else
        echo "FAIL $name (exit $got, want $want)"; sed 's/^/     | /' "$out"; failures=$((failures + 1))
    fi
}
restore() { git reset --quiet --hard && git clean --quiet -fd; }

expect 0 "no tags: nothing to compare" \
    "^no release yet for example.com/lib: nothing to compare$" \
    "^no release yet for example.com/lib/sub: nothing to compare$"

git tag -a v0.1.0 -m v0.1.0
git tag -a sub/v0.1.0 -m sub/v0.1.0
expect 0 "tagged, unchanged: passes" "== example.com/lib: v0.1.0 against" "== example.com/lib/sub: sub/v0.1.0 against"

printf '\n// New is new.\nfunc New() string { return "new" }\n' >>lib.go
expect 0 "an added function is compatible" "example.com/lib: compatible changes" "New: added"
restore

sed -i '/^\/\/ Hello greets/,/^func Hello/d' lib.go
expect 1 "a removed function fails" "example.com/lib: INCOMPATIBLE CHANGES since v0.1.0" "Hello: removed"

changelog v0.2.0
expect 0 "... unless the next release is a major bump (v0 minor)" "allowed by the major bump v0.1.0 -> v0.2.0"
changelog v1.0.0
expect 0 "... or a major bump (v1)" "allowed by the major bump v0.1.0 -> v1.0.0"
changelog v0.1.1 '- Breaking: `example.com/lib`: Hello is gone.'
expect 0 "... or CHANGELOG.md declares it" "declared breaking in CHANGELOG.md \(v0.1.1\)"
changelog v0.1.1 '- Breaking: `example.com/lib/sub`: only sub.'
expect 1 "a declaration for another package does not count" "example.com/lib: INCOMPATIBLE"
changelog v0.1.1 '- Hello: `example.com/lib` (no b-word)'
expect 1 "a mention without \"breaking\" does not count" "example.com/lib: INCOMPATIBLE"
printf '# Changelog\n\n## v0.2.0\n\n- released\n' >CHANGELOG.md
expect 1 "a bump counts only in an (unreleased) section" "example.com/lib: INCOMPATIBLE"
restore

sed -i 's/func Bye() string/func Bye(name string) string/' lib.go
expect 1 "a changed signature fails" "Bye: changed from func\(\) string to func\(string\) string"
restore

git rm --quiet -r extra
expect 1 "a removed package fails" "example.com/lib/extra: INCOMPATIBLE" "package removed"
restore

sed -i 's/func Greet() string/func Greet(n int) string/' sub/sub.go
expect 1 "a nested module's break fails" "example.com/lib/sub: INCOMPATIBLE CHANGES since sub/v0.1.0" "Greet: changed"
restore

sed -i 's/func Exported() {}/func Renamed() {}/' cmd/tool/main.go
sed -i 's/func Y() {}/func Z() {}/' internal/x/x.go
expect 0 "main and internal packages are not API"
restore

echo
if ((failures)); then
    echo "apicheck_test: $failures failure(s)"; exit 1
fi
echo "apicheck_test: all passed"
