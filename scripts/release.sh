#!/usr/bin/env bash
# release.sh - prepare (and optionally tag) a release of every module.
#
#     scripts/release.sh [--dry-run] [--tag] vX.Y.Z
#
# Checks, in order: the version is vMAJOR.MINOR.PATCH (MAJOR 0 or 1: a v2
# needs /v2 module paths first); the working tree is clean (nothing
# modified, staged or untracked); HEAD is on branch main; gofmt has nothing
# to say about the tracked Go files; no module's tag for the version exists.
#
# Then it sets every requirement of a module of this repository on another
# one to vX.Y.Z (go mod edit -require; the local replace directives stay),
# commits that as "release: vX.Y.Z" when anything changed, and prints the tag
# of every module: vX.Y.Z for the root, <dir>/vX.Y.Z for a nested module.
# Modules are the ones go.work uses (scripts/modules.sh), so a new module
# needs no change here.
#
#   --tag      also create the tags (annotated) on the release commit.
#   --dry-run  run the checks and show the go.mod diff, the commit and the
#              tags that would be made; change nothing.
#
# Pushing is left to the releaser (RELEASING.md):
#     git push --atomic origin main <every tag printed>
set -euo pipefail

usage() { echo "usage: $0 [--dry-run] [--tag] vX.Y.Z" >&2; exit 2; }

dry=false tag=false version=""
for arg in "$@"; do
    case $arg in
        --dry-run) dry=true ;;
        --tag) tag=true ;;
        -h|--help) usage ;;
        -*) echo "release: unknown flag $arg" >&2; usage ;;
        *) [[ -z $version ]] || usage; version=$arg ;;
    esac
done
[[ -n $version ]] || usage

root=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$root"
. scripts/modules.sh
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

fail() { echo "release: $*" >&2; exit 1; }

# 1. version syntax
semver_ok "$version" || fail "version $version is not vMAJOR.MINOR.PATCH (like v0.1.0)"
major=${version#v}; major=${major%%.*}
((major < 2)) || fail "$version: a major version of 2 or more needs module paths ending in /v$major first"

# 2. clean tree
if [[ -n $(git status --porcelain --untracked-files=normal) ]]; then
    git status --short >&2
    fail "the working tree is not clean: commit or stash first"
fi

# 3. on main
branch=$(git symbolic-ref --quiet --short HEAD || true)
[[ $branch == main ]] || fail "HEAD is on '${branch:-a detached commit}', not main"

# 4. gofmt
mapfile -t gofiles < <(git ls-files '*.go')
if ((${#gofiles[@]})); then
    unformatted=$(gofmt -l "${gofiles[@]}")
    [[ -z $unformatted ]] || fail "gofmt would change:"$'\n'"$unformatted"
fi

# 5. tags free
mods=$(repo_modules "$root") || fail "cannot list the modules of go.work"
tags=()
while IFS=$'\t' read -r rel _ _; do
    t=$(module_tag "$rel" "$version")
    if git rev-parse --quiet --verify "refs/tags/$t" >/dev/null; then
        fail "tag $t already exists"
    fi
    tags+=("$t")
done <<<"$mods"

# 6. requirements
msg="release: $version"
if $dry; then
    echo "== dry run: nothing is written"
    list=$(set_requirements "$root" "$version" --dry-run 3>&1 1>&2) || fail "go mod edit failed"
else
    list=$(set_requirements "$root" "$version" 3>&1 1>&2) || fail "go mod edit failed"
fi
changed=()
[[ -z $list ]] || mapfile -t changed <<<"$list"
if ((${#changed[@]} == 0)); then
    echo "every requirement is at $version already: no commit"
elif $dry; then
    echo "would commit \"$msg\": ${changed[*]}"
else
    git add -- "${changed[@]}"
    git commit --quiet -m "$msg" -m "Every module of the repository requires the others at $version, the
version this commit is tagged with, so that a consumer's go command
(which ignores our replace directives) resolves them to this release." -- "${changed[@]}"
    echo "committed $(git rev-parse --short HEAD) \"$msg\": ${changed[*]}"
fi

# 7. tags
if $tag; then
    if $dry; then
        echo "would create annotated tags on HEAD:"
    else
        for t in "${tags[@]}"; do
            git tag -a "$t" -m "sandboxauth $t"
        done
        echo "created annotated tags on $(git rev-parse --short HEAD):"
    fi
else
    echo "tags (create them with --tag):"
fi
printf '%s\n' "${tags[@]}"
if $tag && ! $dry; then
    echo "push with: git push --atomic origin main ${tags[*]}"
fi
