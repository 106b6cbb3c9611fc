#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034 # check takes conditions in single quotes, evaluated later
# release_test.sh - tests scripts/release.sh in a throwaway clone of this
# repository: the refusals (version syntax, dirty tree, branch, gofmt,
# existing tags), --dry-run changing nothing, the release commit, the
# annotated tags, and a module added to go.work being released with no
# change to the script. Offline; run by .ci/run, or on its own:
#
#     bash .ci/release_test.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd -P)
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
# the clone must not see the developer's git configuration (signing, hooks)
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

tmp=$(mktemp -d /tmp/release-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
repo=$tmp/repo
git clone --quiet --no-hardlinks "$src" "$repo"
cd "$repo"
git config user.name "release test"
git config user.email "release-test@example.invalid"
git checkout --quiet -B main
git tag -l | xargs -r git tag -d >/dev/null
# The scripts under test are the working tree's, not HEAD's.
mkdir -p scripts
cp "$src/scripts/release.sh" "$src/scripts/modules.sh" scripts/
git add scripts
git diff --cached --quiet || git commit --quiet -m "test: the working tree's release scripts"

failures=0
out=$tmp/out
pass() { echo "ok   $1"; }
flunk() { echo "FAIL $1"; sed 's/^/     | /' "${2:-$out}"; failures=$((failures + 1)); }
# expect_fail NAME PATTERN CMD...: CMD exits non-zero and prints PATTERN
expect_fail() {
    local name=$1 pattern=$2; shift 2
    if "$@" >"$out" 2>&1; then flunk "$name (exit 0)"; return; fi
    if grep -qE -- "$pattern" "$out"; then pass "$name"; else flunk "$name (no /$pattern/)"; fi
}
# expect_ok NAME CMD...: CMD exits 0
expect_ok() {
    local name=$1; shift
    if "$@" >"$out" 2>&1; then pass "$name"; else flunk "$name (exit $?)"; fi
}
check() { # check NAME CONDITION...: a condition evaluated by the shell; it
    # may read $out, the output of the last expect_ok/expect_fail
    local name=$1; shift
    if eval "$*" >"$tmp/check" 2>&1; then pass "$name"; else flunk "$name" "$tmp/check"; sed 's/^/     | /' "$out"; fi
}

# requires_at DIR VERSION: every requirement of DIR/go.mod on a module of
# this repository is at VERSION, and has its replace directive.
. scripts/modules.sh
requires_at() {
    local dir=$1 version=$2 req n=0 json
    json=$(go mod edit -json "$dir/go.mod")
    for req in $(module_requires "$dir/go.mod"); do
        [[ $req == github.com/sandboxauth/sandboxauth* ]] || continue
        n=$((n + 1))
        grep -A1 -F "\"Path\": \"$req\"," <<<"$json" | grep -qF "\"Version\": \"$version\"" ||
            { echo "$dir requires $req not at $version"; return 1; }
        module_replaced "$dir/go.mod" | grep -qxF "$req" || { echo "$dir: no replace for $req"; return 1; }
    done
    ((n > 0)) || { echo "$dir requires none of our modules"; return 1; }
}

V=v0.9.0
head0=$(git rev-parse HEAD)
# Whether chiauth builds on its own before the release: after it, it must
# still (the replace directives stay). A HEAD that does not build is CI's
# GOWORK=off step's business, not this test's.
builds_alone() { (cd chiauth && GOWORK=off GOFLAGS=-mod=readonly go build -o /dev/null ./...); }
chiauth_built=false
if builds_alone >/dev/null 2>&1; then chiauth_built=true; fi

echo "== version syntax"
for bad in 1.2.3 v1.2 v01.2.3 v1.2.3-rc.1 v1.2.3+meta; do
    expect_fail "refuses $bad" "not vMAJOR.MINOR.PATCH" scripts/release.sh --dry-run "$bad"
done
expect_fail "refuses v2.0.0 (needs /v2 paths)" "/v2" scripts/release.sh --dry-run v2.0.0
expect_fail "refuses no version" "usage" scripts/release.sh --tag
expect_fail "refuses an unknown flag" "unknown flag" scripts/release.sh --force "$V"

echo "== tree checks"
touch untracked.txt
expect_fail "refuses an untracked file" "not clean" scripts/release.sh --dry-run "$V"
rm untracked.txt
echo "// edited" >>core/doc.go
expect_fail "refuses a modified file" "not clean" scripts/release.sh --dry-run "$V"
git checkout --quiet -- core/doc.go
git checkout --quiet -b feature
expect_fail "refuses a branch other than main" "not main" scripts/release.sh --dry-run "$V"
git checkout --quiet main
git branch --quiet -D feature
printf 'package core\nfunc  badlyFormatted( ) {}\n' >core/zz_unformatted.go
git add core/zz_unformatted.go && git commit --quiet -m "test: unformatted"
expect_fail "refuses unformatted Go" "gofmt would change" scripts/release.sh --dry-run "$V"
git reset --quiet --hard "$head0"

echo "== --dry-run"
expect_ok "dry run passes" scripts/release.sh --dry-run --tag "$V"
check "dry run lists every module's tag" \
    'grep -qx "$V" "$out" && grep -qx "chiauth/$V" "$out" && grep -qx "ginauth/$V" "$out" &&
     grep -qx "store/$V" "$out" && grep -qx "cmd/sandboxd/$V" "$out"'
check "dry run shows the go.mod diff" 'grep -q "^+.*github.com/sandboxauth/sandboxauth $V" "$out"'
check "dry run changed nothing" \
    '[[ $(git rev-parse HEAD) == "$head0" && -z $(git status --porcelain) && -z $(git tag -l) ]]'

echo "== release without --tag"
expect_ok "release $V" scripts/release.sh "$V"
check "one commit \"release: $V\"" \
    '[[ $(git rev-parse HEAD~1) == "$head0" && $(git log -1 --format=%s) == "release: $V" ]]'
check "the commit holds go.mod files only" \
    '! git diff --name-only HEAD~1 HEAD | grep -v "go.mod$"'
check "tree clean after the release commit" '[[ -z $(git status --porcelain) ]]'
check "no tags without --tag" '[[ -z $(git tag -l) ]]'
while IFS=$'\t' read -r rel _ dir; do
    [[ $rel == . ]] && continue
    if module_requires "$dir/go.mod" | grep -q '^github.com/sandboxauth/sandboxauth'; then
        check "$rel requires its siblings at $V, replace kept" requires_at "$dir" "$V"
    fi
done < <(repo_modules .)
if $chiauth_built; then
    check "chiauth still builds on its own (GOWORK=off)" builds_alone
else
    echo "skip chiauth still builds on its own: it does not build at HEAD either"
fi

echo "== --tag"
release_commit=$(git rev-parse HEAD)
expect_ok "release --tag $V" scripts/release.sh --tag "$V"
check "no second commit when the requirements are already at $V" \
    '[[ $(git rev-parse HEAD) == "$release_commit" ]]'
while IFS=$'\t' read -r rel _ _; do
    t=$(module_tag "$rel" "$V")
    check "tag $t is annotated, on the release commit" \
        '[[ $(git cat-file -t "refs/tags/$t") == tag && $(git rev-parse "$t^{commit}") == "$release_commit" ]]'
done < <(repo_modules .)
expect_fail "refuses existing tags" "tag .*$V already exists" scripts/release.sh --dry-run "$V"

echo "== a module added to go.work is released too"
mkdir -p echo9auth
cat >echo9auth/go.mod <<'EOF'
module github.com/sandboxauth/sandboxauth/echo9auth

go 1.24

require github.com/sandboxauth/sandboxauth v0.0.0
EOF
go work use ./echo9auth
git add echo9auth go.work && git commit --quiet -m "test: a new module"
V2=v0.10.0
expect_ok "release --tag $V2" scripts/release.sh --tag "$V2"
check "tag echo9auth/$V2 printed and created" \
    'grep -qx "echo9auth/$V2" "$out" && [[ $(git cat-file -t "refs/tags/echo9auth/$V2") == tag ]]'
check "echo9auth requires the root at $V2, replace added" requires_at echo9auth "$V2"
check "echo9auth's replace points at the root" 'grep -qE "^replace github.com/sandboxauth/sandboxauth => \.\.$" echo9auth/go.mod'
mkdir -p internal/tool && printf 'module github.com/sandboxauth/sandboxauth/internal/tool\n\ngo 1.24\n' >internal/tool/go.mod
go work use ./internal/tool
git add internal/tool go.work && git commit --quiet -m "test: a tools module"
expect_ok "release --dry-run with a module under internal/" scripts/release.sh --dry-run --tag v0.11.0
check "a module under internal/ gets no tag" '! grep -q "internal/tool" "$out"'

echo
if ((failures)); then
    echo "release_test: $failures failure(s)"; exit 1
fi
echo "release_test: all passed"
