#!/usr/bin/env bash
# apicheck.sh - fails when the working tree breaks the exported API of a
# released module (RELEASING.md, "API compatibility").
#
#     bash .ci/apicheck.sh
#
# For every module of go.work (scripts/modules.sh), the last release is the
# highest tag vX.Y.Z (root module) or <dir>/vX.Y.Z (nested module) that HEAD
# contains. Without one, the module is reported as "no release yet for
# <module>: nothing to compare" and passes. With one, every package of the
# module at that tag (main and internal packages excepted: nobody can import
# them) is compared with the same package in the working tree by apidiff
# (golang.org/x/exp/cmd/apidiff, pinned below); a package that disappeared
# counts as an incompatible change.
#
# Incompatible changes fail the check unless CHANGELOG.md allows them. Its
# first section must then be the next release, "## vX.Y.Z (unreleased)", and
# either
#   - vX.Y.Z is a major bump over the module's last release (MAJOR grows;
#     while MAJOR is 0, MINOR growing counts as major, as Go's semver
#     convention has it), or
#   - a line of that section contains the word "breaking" and the package's
#     import path in backquotes, e.g.
#       - Breaking: `github.com/sandboxauth/sandboxauth/core`: MemStore is now MemoryStore.
# Allowed changes are still printed. Tags must be fetched (git fetch --tags):
# a clone without them sees no release and compares nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$root"
. scripts/modules.sh
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

# golang.org/x/exp has no tags: this is the pseudo-version that @latest
# resolved to when the check was written (go list -m golang.org/x/exp@latest).
APIDIFF_VERSION=${APIDIFF_VERSION:-v0.0.0-20261120182113-8801fbdfac81}

tmp=$(mktemp -d /tmp/apicheck.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# APIDIFF may name an apidiff binary already installed (the test does).
apidiff=${APIDIFF:-}
ensure_apidiff() {
    [[ -z $apidiff ]] || return 0
    echo "-- go install golang.org/x/exp/cmd/apidiff@$APIDIFF_VERSION"
    (cd "$tmp" && GOWORK=off GOFLAGS='' GOBIN="$tmp/bin" timeout 300 \
        go install "golang.org/x/exp/cmd/apidiff@$APIDIFF_VERSION")
    apidiff=$tmp/bin/apidiff
}

# The next release and its section, from CHANGELOG.md.
next="" section=""
if [[ -f CHANGELOG.md ]]; then
    first=$(grep -m1 '^## ' CHANGELOG.md || true)
    if [[ $first =~ ^'## '(v[0-9]+\.[0-9]+\.[0-9]+)' (unreleased)'[[:space:]]*$ ]]; then
        next=${BASH_REMATCH[1]}
        section=$(awk '/^## /{n++} n==1' CHANGELOG.md)
    fi
fi

# major_bump LAST NEXT: NEXT may break LAST's API.
major_bump() {
    local a b
    IFS=. read -r -a a <<<"${1#v}"
    IFS=. read -r -a b <<<"${2#v}"
    ((b[0] > a[0])) && return 0
    ((a[0] == 0 && b[0] == 0 && b[1] > a[1]))
}

# declared PKG: the next release's section declares PKG's breaking changes.
declared() {
    [[ -n $section ]] && grep -i 'breaking' <<<"$section" | grep -qF "\`$1\`"
}

# packages DIR MODFLAG: the importable packages of the module in DIR.
# The working tree is read with -mod=readonly (nothing of it is written);
# the extracted tag with -mod=mod.
packages() {
    local list
    list=$(cd "$1" && GOWORK=off GOFLAGS=$2 go list -e \
        -f '{{if and .GoFiles (ne .Name "main")}}{{.ImportPath}}{{end}}' ./...) || {
        echo "apicheck: cannot list the packages in $1" >&2; return 1; }
    grep -vE '(^|/)internal(/|$)' <<<"$list" || true
}

status=0
while IFS=$'\t' read -r rel path dir; do
    if [[ $rel == . ]]; then prefix=""; else prefix="$rel/"; fi
    last=$(git tag --merged HEAD -l "${prefix}v*" | sed "s|^${prefix}||" |
        while read -r v; do if semver_ok "$v"; then echo "$v"; fi; done | sort -V | tail -n1)
    if [[ -z $last ]]; then
        echo "no release yet for $path: nothing to compare"
        continue
    fi
    tag=$prefix$last
    echo "== $path: $tag against the working tree"
    ensure_apidiff
    old=$tmp/old/$(tr '/' '_' <<<"$tag")
    mkdir -p "$old"
    git archive --format=tar "$tag" | tar -x -C "$old"
    olddir=$old/$rel
    newpkgs=$(packages "$dir" -mod=readonly)
    oldpkgs=$(packages "$olddir" -mod=mod)
    allowed_by_bump=false
    if [[ -n $next ]] && major_bump "$last" "$next"; then allowed_by_bump=true; fi
    for pkg in $oldpkgs; do
        report=$tmp/report
        if ! grep -qxF "$pkg" <<<"$newpkgs"; then
            printf 'Incompatible changes:\n- package removed\n' >"$report"
        else
            (cd "$olddir" && GOWORK=off GOFLAGS=-mod=mod "$apidiff" -w "$tmp/old.export" "$pkg")
            (cd "$dir" && GOWORK=off GOFLAGS=-mod=readonly "$apidiff" "$tmp/old.export" "$pkg") >"$report"
        fi
        if ! grep -q '^Incompatible changes:' "$report"; then
            if [[ -s $report ]]; then echo "$pkg: compatible changes"; sed 's/^/    /' "$report"; fi
            continue
        fi
        if $allowed_by_bump; then
            echo "$pkg: incompatible changes, allowed by the major bump $last -> $next (CHANGELOG.md)"
        elif declared "$pkg"; then
            echo "$pkg: incompatible changes, declared breaking in CHANGELOG.md ($next)"
        else
            echo "$pkg: INCOMPATIBLE CHANGES since $tag"
            status=1
        fi
        sed 's/^/    /' "$report"
    done
done < <(repo_modules "$root")

if ((status)); then
    cat <<EOF

apicheck: the exported API of a released module changed incompatibly.
Restore it, or declare the break in CHANGELOG.md's "## vX.Y.Z (unreleased)"
section: a major version bump, or a line with "breaking" and the package's
import path in backquotes (RELEASING.md).
EOF
fi
exit $status
