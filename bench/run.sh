#!/usr/bin/env bash
# bench/run.sh: `make bench`. Builds bench/hello.c (bare libmicrohttpd baseline) into
# build/bench-hello, starts a private PostgreSQL + nats-server in a temp dir (scripts/pg.sh),
# applies migrations, runs `build/reciprocal serve` on a free port, creates one club, then runs wrk
# against: the hello baseline, /health/ready and GET /api/v1/clubs/<id>, and prints
# "target | req/s | p50 | p99 | errors". Tears everything down on exit. Exit status 1 when a target
# could not be measured (the table says why).
#
# Environment: BENCH_DURATION (5s), BENCH_CONNECTIONS (32), BENCH_THREADS (wrk threads, 1),
# BENCH_PIN (1 = servers on CPU 0, wrk on CPU 1 when there are 2+ CPUs), RECIPROCAL_HTTP_THREADS
# (8, used by both servers), RECIPROCAL_LOG_LEVEL (warn), KEEP_BENCH_ENV=1 keeps the temp dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck disable=SC2034 # read by scripts/pg.sh
RCP_LOG_TAG=bench
# shellcheck source=../scripts/pg.sh
source "$ROOT/scripts/pg.sh"
cd "$ROOT"

DURATION=${BENCH_DURATION:-5s}
CONNS=${BENCH_CONNECTIONS:-32}
WRK_THREADS=${BENCH_THREADS:-1}
HTTP_THREADS=${RECIPROCAL_HTTP_THREADS:-8}
BIN=${RECIPROCAL_BIN:-$ROOT/build/reciprocal}
HELLO=$ROOT/build/bench-hello

say() { printf '[bench] %s\n' "$*" >&2; }

SRV_PIN=()
WRK_PIN=()
if [[ ${BENCH_PIN:-1} == 1 ]] && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0)
    WRK_PIN=(taskset -c 1)
fi

TMP=
PG_DATA=
NATS_PIDFILE=
pids=()
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [[ -n $PG_DATA ]] && { rcp_pg_stop "$PG_DATA" || say "warning: PostgreSQL did not stop"; }
    [[ -n $NATS_PIDFILE ]] && rcp_nats_stop "$NATS_PIDFILE"
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ ${KEEP_BENCH_ENV:-0} == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in wrk curl jq cc pkg-config; do
    command -v "$tool" >/dev/null || {
        say "error: $tool not found (run make deps)"
        exit 1
    }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/reciprocal-bench.XXXXXX")
TMP=$(cd "$TMP" && pwd -P)
chmod 755 "$TMP"
mkdir -p "$TMP/log"

# results: one row per target
rows=()
errors=0
add_error_row() {
    rows+=("$1|error|-|-|$2")
    errors=$((errors + 1))
}

# Waits until a URL answers (any HTTP status) or the pid dies; 20 s.
wait_http() {
    local url=$1 pid=$2 i
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    return 1
}

# run_wrk NAME URL: appends a row "name|req/s|p50|p99|notes".
run_wrk() {
    local name=$1 url=$2 out rps p50 p99 non2xx sockerr notes=""
    say "wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency $url"
    if ! out=$("${WRK_PIN[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency "$url" 2>&1)
    then
        add_error_row "$name" "wrk failed: $(tail -n 1 <<<"$out")"
        return
    fi
    printf '%s\n' "$out" >"$TMP/log/wrk-${name//[^a-zA-Z0-9]/_}.txt"
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    sockerr=$(sed -n 's/^ *Socket errors: *//p' <<<"$out")
    [[ -n $non2xx ]] && notes="non-2xx: $non2xx"
    [[ -n $sockerr ]] && notes="${notes:+$notes; }socket errors: $sockerr"
    if [[ -z $rps ]]; then
        add_error_row "$name" "no result from wrk: $(tail -n 1 <<<"$out")"
        return
    fi
    if [[ -n $non2xx ]]; then errors=$((errors + 1)); fi
    rows+=("$name|$(printf '%.0f' "$rps")|$p50|$p99|${notes:--}")
}

# 1. hello-world baseline
say "building $HELLO"
mkdir -p "$ROOT/build"
# shellcheck disable=SC2046 # pkg-config output is meant to be split
if cc -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O2 \
    $(pkg-config --cflags libmicrohttpd) -o "$HELLO" bench/hello.c \
    $(pkg-config --libs libmicrohttpd) -lpthread; then
    port=$(rcp_free_port)
    "${SRV_PIN[@]}" "$HELLO" "$port" "$HTTP_THREADS" 2>"$TMP/log/hello.log" &
    hello_pid=$!
    pids+=("$hello_pid")
    if wait_http "http://127.0.0.1:$port/" "$hello_pid"; then
        run_wrk "hello (libmicrohttpd)" "http://127.0.0.1:$port/"
    else
        add_error_row "hello (libmicrohttpd)" "bench-hello did not start: $(tail -n 1 "$TMP/log/hello.log")"
    fi
    kill -TERM "$hello_pid" 2>/dev/null || true
    wait "$hello_pid" 2>/dev/null || true
else
    add_error_row "hello (libmicrohttpd)" "bench/hello.c did not compile"
fi

# 2. the service
server_ok=0
if [[ ! -x $BIN ]]; then
    say "error: $BIN not found (run make)"
else
    PG_DATA=$TMP/pg/data
    PG_PORT=$(rcp_free_port)
    NATS_PIDFILE=$TMP/nats.pid
    NATS_PORT=$(rcp_free_port)
    if rcp_pg_start "$PG_DATA" "$PG_PORT" "$TMP/log/postgresql.log" "$TMP/secrets.env" test &&
        rcp_pg_roles "$PG_PORT" "$TMP/secrets.env" &&
        rcp_nats_start "$TMP/nats" "$NATS_PORT" "$TMP/log/nats.log" "$NATS_PIDFILE"; then
        export RECIPROCAL_DATABASE_URL=$RCP_PG_APP_URL
        export RECIPROCAL_NATS_URL="nats://127.0.0.1:$NATS_PORT"
        export RECIPROCAL_LOG_FORMAT=text
        export RECIPROCAL_LOG_LEVEL=${RECIPROCAL_LOG_LEVEL:-warn}
        export RECIPROCAL_HTTP_THREADS=$HTTP_THREADS
        if ! out=$(RECIPROCAL_MIGRATE_DATABASE_URL=$RCP_PG_OWNER_URL "$BIN" migrate up 2>&1); then
            say "error: migrate up failed:"
            printf '%s\n' "$out" | tail -n 20 >&2
        else
            HTTP_PORT=$(rcp_free_port)
            export RECIPROCAL_LISTEN=127.0.0.1:$HTTP_PORT
            say "starting $BIN serve on 127.0.0.1:$HTTP_PORT (log level $RECIPROCAL_LOG_LEVEL)"
            "${SRV_PIN[@]}" "$BIN" serve >"$TMP/log/serve.log" 2>&1 &
            srv_pid=$!
            pids+=("$srv_pid")
            if wait_http "http://127.0.0.1:$HTTP_PORT/health/ready" "$srv_pid"; then
                server_ok=1
            else
                say "error: the service did not answer on 127.0.0.1:$HTTP_PORT; end of its log:"
                tail -n 20 "$TMP/log/serve.log" >&2
            fi
        fi
    else
        say "error: PostgreSQL or nats-server did not start"
    fi
fi

if ((server_ok)); then
    base=http://127.0.0.1:$HTTP_PORT
    ready=$(curl -s -o /dev/null -w '%{http_code}' "$base/health/ready" || true)
    if [[ $ready == 200 ]]; then
        run_wrk "GET /health/ready" "$base/health/ready"
    else
        add_error_row "GET /health/ready" "status $ready"
    fi

    body='{"name":"Bench Club","slug":"bench","timezone":"Europe/London","address":{"city":"London","country":"GB"}}'
    resp=$(curl -s -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data "$body" "$base/api/v1/clubs" || true)
    code=$(tail -n 1 <<<"$resp")
    json=$(sed '$d' <<<"$resp")
    club_id=$(jq -r '(.id // .club.id // .data.id // empty) | tostring' <<<"$json" 2>/dev/null || true)
    if [[ $code == 2?? && -n $club_id ]]; then
        say "created club $club_id"
        got=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/clubs/$club_id" || true)
        if [[ $got == 200 ]]; then
            run_wrk "GET /api/v1/clubs/{id}" "$base/api/v1/clubs/$club_id"
        else
            add_error_row "GET /api/v1/clubs/{id}" "status $got for GET /api/v1/clubs/$club_id"
        fi
    else
        add_error_row "GET /api/v1/clubs/{id}" \
            "POST /api/v1/clubs answered ${code:-nothing}: $(head -c 160 <<<"$json" | tr -d '\n')"
    fi
else
    add_error_row "GET /health/ready" "service not running (see above)"
    add_error_row "GET /api/v1/clubs/{id}" "service not running (see above)"
fi

# table
echo
echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency; server threads $HTTP_THREADS;" \
    "$( ((${#SRV_PIN[@]})) && echo "servers on CPU 0, wrk on CPU 1" || echo "not pinned")"
{
    echo "target|req/s|p50|p99|notes"
    echo "---|---|---|---|---"
    printf '%s\n' "${rows[@]}"
} | awk -F'|' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
    END { for (r = 1; r <= n; r++) { line = ""
            for (i = 1; i <= nf; i++) {
                v = c[r, i]; if (r == 2) { v = ""; while (length(v) < w[i]) v = v "-" }
                line = line (i > 1 ? " | " : "") sprintf(i == nf ? "%s" : "%-" w[i] "s", v) }
            print line } }'
((errors == 0))
