#!/usr/bin/env bash
# postgres.sh - a throwaway PostgreSQL for the store/ tests (and the server's
# e2e/fleet tests). Source it; do not run it.
#
#     . .ci/postgres.sh
#     trap stop_postgres EXIT
#     start_postgres        # exports PG_URL and SANDBOXAUTH_TEST_POSTGRES_URL
#     go test ./...
#
# The cluster lives in a mktemp dir under /tmp, listens on 127.0.0.1 only on a
# random free port in 20000-32767 (never 5432), with trust auth (loopback
# only) and durability off. As root, the server runs as the unprivileged user
# "postgres" (created if missing). If no PostgreSQL server binaries are
# installed, start_postgres installs the distribution's postgresql package with
# apt-get (root only). The server is stopped by its PID, never by name.

_pg_log() { printf '[postgres.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

_pg_alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ -n $st && $st != Z* ]]
}

_pg_bindir() {
    local d
    if [[ -n ${PG_BINDIR:-} && -x ${PG_BINDIR}/postgres ]]; then echo "$PG_BINDIR"; return 0; fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
    [[ -n $d && -x $d/postgres ]] || return 1
    echo "$d"
}

_pg_install() {
    _pg_bindir >/dev/null 2>&1 && return 0
    if [[ $(id -u) != 0 ]]; then
        _pg_log "no PostgreSQL server binaries and not root: install postgresql first"; return 1
    fi
    local try log
    log=$(mktemp /tmp/ci-postgres-apt.XXXXXX)
    for try in 1 2 3; do
        _pg_log "apt-get install postgresql (try $try)"
        if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >"$log" 2>&1 &&
           DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
               --no-install-recommends postgresql >>"$log" 2>&1; then
            rm -f "$log"; return 0
        fi
        tail -n 5 "$log" >&2
        sleep $((try * 5))
    done
    rm -f "$log"
    return 1
}

_pg_port_in_use() {
    if command -v ss >/dev/null 2>&1; then
        [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# run as the cluster's owner, from / (initdb/pg_ctl dislike unreadable cwds)
_pg_as() {
    if [[ $(id -u) == 0 ]]; then
        (cd / && runuser -u "$PG_OSUSER" -- "$@")
    else
        (cd / && "$@")
    fi
}

start_postgres() {
    local bindir port try t0
    t0=$(date +%s)
    if [[ -n ${PG_PID:-} ]] && _pg_alive "$PG_PID"; then return 0; fi   # idempotent
    _pg_install || return 1
    bindir=$(_pg_bindir) || { _pg_log "no PostgreSQL server binaries"; return 1; }
    if [[ $(id -u) == 0 ]]; then
        PG_OSUSER=${PG_OSUSER:-postgres}
        id -u "$PG_OSUSER" >/dev/null 2>&1 ||
            useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_OSUSER" || return 1
    else
        PG_OSUSER=$(id -un)
    fi
    PG_ROOT=$(mktemp -d /tmp/ci-postgres.XXXXXX) || return 1
    chmod 755 "$PG_ROOT"
    chown "$PG_OSUSER" "$PG_ROOT" || return 1
    if ! _pg_as "$bindir/initdb" -D "$PG_ROOT/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
            >"$PG_ROOT/initdb.log" 2>&1; then
        _pg_log "initdb failed:"; cat "$PG_ROOT/initdb.log" >&2; return 1
    fi
    port=""
    for try in 1 2 3 4 5; do
        port=$(( 20000 + RANDOM % 12768 ))
        _pg_port_in_use "$port" && { port=""; continue; }
        if _pg_as "$bindir/pg_ctl" -D "$PG_ROOT/data" -l "$PG_ROOT/server.log" -w -t 60 -s start \
                -o "-p $port -k $PG_ROOT -c listen_addresses=127.0.0.1 -c fsync=off \
                    -c synchronous_commit=off -c full_page_writes=off \
                    -c max_connections=${PG_MAX_CONNECTIONS:-200} -c log_min_messages=warning" \
                >/dev/null 2>&1; then
            break
        fi
        _pg_log "postgres failed to start on port $port (try $try):"; tail -n 5 "$PG_ROOT/server.log" >&2
        port=""
    done
    [[ -n $port ]] || return 1
    PG_PID=$(head -n1 "$PG_ROOT/data/postmaster.pid")
    PG_PORT=$port
    PG_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
    SANDBOXAUTH_TEST_POSTGRES_URL=$PG_URL
    export PG_PID PG_PORT PG_URL PG_ROOT PG_OSUSER SANDBOXAUTH_TEST_POSTGRES_URL
    export PG_BINDIR=$bindir
    if [[ -x $bindir/pg_isready ]]; then
        "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 10 || { _pg_log "pg_isready failed"; return 1; }
    fi
    _pg_log "postgres $("$bindir/postgres" -V | awk '{print $3}') pid=$PG_PID on 127.0.0.1:$port ready in $(( $(date +%s) - t0 ))s"
}

stop_postgres() {
    [[ -n ${PG_PID:-} ]] || return 0
    local i
    if _pg_alive "$PG_PID"; then
        kill -INT "$PG_PID" 2>/dev/null || true           # fast shutdown
        for i in $(seq 1 100); do _pg_alive "$PG_PID" || break; sleep 0.1; done
        if _pg_alive "$PG_PID"; then
            _pg_log "postgres $PG_PID did not stop; SIGQUIT"
            kill -QUIT "$PG_PID" 2>/dev/null || true       # immediate shutdown
            for i in $(seq 1 50); do _pg_alive "$PG_PID" || break; sleep 0.1; done
        fi
    fi
    _pg_log "postgres $PG_PID stopped"
    if [[ -n ${PG_ROOT:-} && $PG_ROOT == /tmp/ci-postgres.* ]]; then rm -rf "$PG_ROOT"; fi
    unset PG_PID PG_PORT PG_URL PG_ROOT SANDBOXAUTH_TEST_POSTGRES_URL
}
