#!/usr/bin/env bash
# modules.sh - the repository's modules, as go.work lists them. Source it;
# do not run it. Used by scripts/release.sh, .ci/apicheck.sh and
# .ci/consumer.sh, so that a module added with `go work use` is released,
# checked and installed without editing any of them.
#
#     . scripts/modules.sh
#     repo_modules "$root"            # rel<TAB>path<TAB>dir, one line per released module
#     module_requires "$dir/go.mod"   # module paths that go.mod requires
#     module_tag "$rel" v1.2.3        # v1.2.3 for the root, chiauth/v1.2.3 for chiauth
#
# A module whose directory has an "internal" element (internal/releasetools)
# is tooling for this repository: it is never tagged, put on a proxy, or
# API-checked.

# repo_modules ROOT prints, for every module in ROOT/go.work (root first),
# its directory relative to ROOT ("." for the root module), its module path
# and its absolute directory, tab-separated. It fails when a module's path
# does not match its directory: Go finds a nested module's versions only
# through tags named after its directory, so the two must agree.
repo_modules() {
    local root=$1 list rootpath="" rel path dir
    root=$(cd "$root" && pwd -P) || return 1
    # GOWORK names the file explicitly: a GOWORK=off in the caller's
    # environment would otherwise hide every nested module.
    list=$(cd "$root" && GOWORK="$root/go.work" GOFLAGS='' go list -m -f '{{.Path}}	{{.Dir}}') || {
        echo "modules.sh: go list -m failed in $root" >&2; return 1; }
    while IFS=$'\t' read -r path dir; do
        dir=$(cd "$dir" && pwd -P) || return 1
        if [[ $dir == "$root" ]]; then rootpath=$path; fi
    done <<<"$list"
    if [[ -z $rootpath ]]; then
        echo "modules.sh: go.work in $root does not use the root module (.)" >&2; return 1
    fi
    printf '.\t%s\t%s\n' "$rootpath" "$root"
    while IFS=$'\t' read -r path dir; do
        dir=$(cd "$dir" && pwd -P) || return 1
        [[ $dir == "$root" ]] && continue
        if [[ $dir != "$root"/* ]]; then
            echo "modules.sh: module $path lives outside the repository ($dir)" >&2; return 1
        fi
        rel=${dir#"$root"/}
        case "/$rel/" in */internal/*) continue ;; esac
        if [[ $path != "$rootpath/$rel" ]]; then
            echo "modules.sh: module $path is in $rel/; its path must be $rootpath/$rel" >&2; return 1
        fi
        printf '%s\t%s\t%s\n' "$rel" "$path" "$dir"
    done < <(LC_ALL=C sort -t$'\t' -k2 <<<"$list")
}

# module_requires GOMOD prints the module paths in GOMOD's require
# directives, one a line (go mod edit -json, read without jq).
module_requires() {
    GOFLAGS='' go mod edit -json "$1" | awk '
        /^\t"Require": \[/ { in_req = 1; next }
        in_req && /^\t\]/  { in_req = 0 }
        in_req && /^\t\t\t"Path": / { p = $2; gsub(/[",]/, "", p); print p }'
}

# module_tag REL VERSION prints the tag of module REL at VERSION.
module_tag() {
    if [[ $1 == . ]]; then echo "$2"; else echo "$1/$2"; fi
}

# semver_ok VERSION succeeds for vMAJOR.MINOR.PATCH without leading zeros
# (no pre-release or build suffix: releases only).
semver_ok() {
    [[ $1 =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]]
}

# module_replaced GOMOD prints the module paths that GOMOD replaces.
module_replaced() {
    GOFLAGS='' go mod edit -json "$1" | awk '
        /^\t"Replace": \[/ { in_rep = 1; next }
        in_rep && /^\t\]/  { in_rep = 0 }
        in_rep && /^\t\t\t"Old": \{/ { in_old = 1; next }
        in_old && /^\t\t\t\}/ { in_old = 0 }
        in_old && /^\t\t\t\t"Path": / { p = $2; gsub(/[",]/, "", p); print p }'
}

# set_requirements ROOT VERSION [--dry-run] sets every requirement of a
# module of ROOT on another module of ROOT to VERSION (go mod edit
# -require), and adds the local replace directive such a requirement needs
# when it is missing. With --dry-run it prints the change as a diff and
# writes nothing. It prints the go.mod files it changed (or would change),
# relative to ROOT, one a line, on file descriptor 3 when that is open.
set_requirements() {
    local root=$1 version=$2 dry=${3:-} mods rel path dir req target out
    local -A rel_of=()
    mods=$(repo_modules "$root") || return 1
    while IFS=$'\t' read -r rel path dir; do rel_of[$path]=$rel; done <<<"$mods"
    while IFS=$'\t' read -r rel path dir; do
        local args=() replaced
        replaced=$(module_replaced "$dir/go.mod") || return 1
        for req in $(module_requires "$dir/go.mod"); do
            [[ -n ${rel_of[$req]:-} && $req != "$path" ]] || continue
            args+=("-require=$req@$version")
            if ! grep -qxF "$req" <<<"$replaced"; then
                target=$(realpath -m --relative-to="$dir" "$root/${rel_of[$req]}")
                [[ $target == .* ]] || target=./$target
                args+=("-replace=$req=$target")
            fi
        done
        ((${#args[@]})) || continue
        out=$(GOFLAGS='' go mod edit -print "${args[@]}" "$dir/go.mod") || return 1
        if [[ $out == "$(cat "$dir/go.mod")" ]]; then continue; fi
        if [[ $dry == --dry-run ]]; then
            diff -u --label "a/$rel/go.mod" --label "b/$rel/go.mod" "$dir/go.mod" - <<<"$out" || true
        else
            GOFLAGS='' go mod edit "${args[@]}" "$dir/go.mod" || return 1
        fi
        { echo "$rel/go.mod" >&3; } 2>/dev/null || true
    done <<<"$mods"
}
