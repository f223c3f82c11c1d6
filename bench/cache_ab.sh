#!/usr/bin/env bash
# bench/cache_ab.sh: interleaved A/B benchmark of the routes the read cache serves (issue 16
# step 3) and the auth routes beside them. Usage:
#   bench/cache_ab.sh BIN_A BIN_B [ROUNDS]
# Starts one private PostgreSQL + nats-server (scripts/pg.sh), migrates with BIN_B, creates a
# network administrator and one club, then ROUNDS (3) times runs BIN_A then BIN_B back to back on
# the same database, each with RECIPROCAL_JWT_ALG=EdDSA (BENCH_CACHE_ALG). Each run starts the
# binary on a free port, signs in, warms up, then:
#   closed loop (wrk -c BENCH_CONNECTIONS for BENCH_DURATION): GET /api/v1/clubs/{id} (token),
#   GET /.well-known/jwks.json, GET /api/v1/auth/me (token), POST /api/v1/auth/refresh
#   (bench/refresh.lua: every connection rotates its own chain);
#   open loop (bench/openloop.c, latency from each request's scheduled time): clubs/{id} at
#   BENCH_OPENLOOP_CLUBS_RATE (10000) and /auth/me at BENCH_OPENLOOP_ME_RATE (5000) offered.
# Prints one line per (route, binary, round): route|A or B|round|req/s|server CPU ms per
# request|PostgreSQL CPU ms per request|p50|p99[|p99.9 unsent errors], and a summary (every
# round's req/s, the median CPU per request). CPU per request (from /proc: the server process and
# the postmaster's children) is what to compare on a busy box. Environment: BENCH_DURATION (5s),
# BENCH_CONNECTIONS (32), RECIPROCAL_HTTP_THREADS (8), BENCH_PIN (1: servers on CPU 0, the load
# generators on CPU 1), BENCH_OPENLOOP_SECONDS (5), BENCH_OPENLOOP_CONNECTIONS (64).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck disable=SC2034 # read by scripts/pg.sh
RCP_LOG_TAG=bench-cache-ab
# shellcheck source=../scripts/pg.sh
source "$ROOT/scripts/pg.sh"

BIN_A=$(realpath "${1:?usage: bench/cache_ab.sh BIN_A BIN_B [ROUNDS]}")
BIN_B=$(realpath "${2:?usage: bench/cache_ab.sh BIN_A BIN_B [ROUNDS]}")
ROUNDS=${3:-3}
DURATION=${BENCH_DURATION:-5s}
CONNS=${BENCH_CONNECTIONS:-32}
HTTP_THREADS=${RECIPROCAL_HTTP_THREADS:-8}
ALG=${BENCH_CACHE_ALG:-EdDSA}
OL_SECONDS=${BENCH_OPENLOOP_SECONDS:-5}
OL_CONNS=${BENCH_OPENLOOP_CONNECTIONS:-64}
OPENLOOP=$ROOT/build/bench-openloop
# shellcheck disable=SC2034 # read by scripts/pg.sh: the NATS permissions come from the binary
RCP_BIN=$BIN_B

say() { printf '[bench-cache-ab] %s\n' "$*" >&2; }

make -s -C "$ROOT" build/bench-openloop

SRV_PIN=()
WRK_PIN=()
if [[ ${BENCH_PIN:-1} == 1 ]] && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0)
    WRK_PIN=(taskset -c 1)
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/reciprocal-cache-ab.XXXXXX")
chmod 755 "$TMP"
mkdir -p "$TMP/log"
PG_DATA=$TMP/pg/data
NATS_PIDFILE=$TMP/nats.pid
srv_pid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $srv_pid ]] && { kill -TERM "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; }
    rcp_pg_stop "$PG_DATA" || true
    rcp_nats_stop "$NATS_PIDFILE" || true
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PG_PORT=$(rcp_free_port)
NATS_PORT=$(rcp_free_port)
rcp_pg_start "$PG_DATA" "$PG_PORT" "$TMP/log/postgresql.log" "$TMP/secrets.env" test
rcp_pg_roles "$PG_PORT" "$TMP/secrets.env"
rcp_nats_conf "$TMP/nats.conf" "$TMP/secrets.env" all
rcp_nats_start "$TMP/nats" "$NATS_PORT" "$TMP/log/nats.log" "$NATS_PIDFILE" "$TMP/nats.conf"
export RECIPROCAL_DATABASE_URL=$RCP_PG_APP_URL
export RECIPROCAL_NATS_URL="nats://127.0.0.1:$NATS_PORT" RECIPROCAL_NATS_USER=all
RECIPROCAL_NATS_PASSWORD=$(rcp_nats_password "$TMP/secrets.env" all)
export RECIPROCAL_NATS_PASSWORD
export RECIPROCAL_LOG_FORMAT=text RECIPROCAL_LOG_LEVEL=${RECIPROCAL_LOG_LEVEL:-warn}
export RECIPROCAL_HTTP_THREADS=$HTTP_THREADS RECIPROCAL_JWT_ALG=$ALG
for v in RECIPROCAL_BUS_KEY RECIPROCAL_AUTH_KEK RECIPROCAL_LEDGER_KEK RECIPROCAL_CARD_KEK RECIPROCAL_LOI_KEK; do
    export "$v=$(head -c 32 /dev/urandom | base64)"
done
email=cache-ab@reciprocal.example
RECIPROCAL_MIGRATE_DATABASE_URL=$RCP_PG_OWNER_URL "$BIN_B" migrate up >"$TMP/log/migrate.log" 2>&1
pw="ab $(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
RECIPROCAL_ADMIN_PASSWORD=$pw "$BIN_B" auth create-admin --email "$email" >/dev/null
login_body=$(jq -cn --arg e "$email" --arg p "$pw" '{email: $e, password: $p}')

base=
# start BIN: serves on a free port, waits until ready, signs in (sets base, token)
start() {
    local port i
    port=$(rcp_free_port)
    base=http://127.0.0.1:$port
    RECIPROCAL_LISTEN=127.0.0.1:$port "${SRV_PIN[@]}" "$1" serve >>"$TMP/log/serve.log" 2>&1 &
    srv_pid=$!
    for ((i = 0; i < 200; i++)); do
        curl -s -o /dev/null --max-time 1 "$base/health/ready" && break
        sleep 0.1
    done
    token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
        "$base/api/v1/auth/login" | jq -r '.access_token // empty')
    [[ -n $token ]] || { say "sign-in failed on $1"; tail -n 5 "$TMP/log/serve.log" >&2; exit 1; }
}
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
    local pm c sum=0
    pm=$(head -n 1 "$PG_DATA/postmaster.pid")
    for c in $(pgrep -P "$pm"); do sum=$((sum + $(ticks "$c"))); done
    echo "$sum"
}
HZ=$(getconf CLK_TCK)
stop() {
    kill -TERM "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=
}

results=$TMP/results.txt
: >"$results"
# measure NAME WHICH ROUND WRK_ARGS...: one wrk run with the CPU of the server and PostgreSQL
measure() {
    local name=$1 which=$2 r=$3 out s0 g0 s1 g1 reqs rps p50 p99 bad cpu
    shift 3
    s0=$(ticks "$srv_pid") g0=$(pg_ticks)
    out=$("${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$@" 2>&1)
    s1=$(ticks "$srv_pid") g1=$(pg_ticks)
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    cpu=$(awk -v s=$((s1 - s0)) -v g=$((g1 - g0)) -v n="${reqs:-0}" -v hz="$HZ" \
        'BEGIN { if (n > 0) printf "%.3f|%.3f", s * 1000 / hz / n, g * 1000 / hz / n; else print "-|-" }')
    printf '%s|%s|%s|%s|%s|%s|%s\n' "$name" "$which" "$r" "$rps" "$cpu" "$p50" \
        "$p99${bad:+ non-2xx $bad}" | tee -a "$results"
}
# openloop NAME WHICH ROUND RATE URL [-H ...]: one open-loop run
openloop() {
    local name=$1 which=$2 r=$3 rate=$4 url=$5 out s0 g0 s1 g1 cpu
    shift 5
    s0=$(ticks "$srv_pid") g0=$(pg_ticks)
    out=$("${WRK_PIN[@]}" "$OPENLOOP" -u "$url" -r "$rate" -d "$OL_SECONDS" -c "$OL_CONNS" "$@" 2>&1 || true)
    s1=$(ticks "$srv_pid") g1=$(pg_ticks)
    kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$out"; }
    cpu=$(awk -v s=$((s1 - s0)) -v g=$((g1 - g0)) -v n="$(kv 'done')" -v hz="$HZ" \
        'BEGIN { if (n > 0) printf "%.3f|%.3f", s * 1000 / hz / n, g * 1000 / hz / n; else print "-|-" }')
    printf '%s|%s|%s|%s|%s|%sms|%sms|p99.9 %sms unsent %s errors %s\n' "$name@$rate" "$which" "$r" \
        "$(kv achieved)" "$cpu" "$(kv p50)" "$(kv p99)" "$(kv p999)" "$(kv unsent)" "$(kv errors)" |
        tee -a "$results"
}

start "$BIN_B"
club=$(curl -s -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $token" --data \
    '{"name":"Bench Cache","slug":"bench-cache","timezone":"Europe/London","address":{"country":"GB"}}' \
    "$base/api/v1/clubs" | jq -r '.id')
stop
say "club $club"

export BENCH_REFRESH_TOKENS=$TMP/refresh-tokens.txt BENCH_WRK_THREADS=1
for ((r = 1; r <= ROUNDS; r++)); do
    for which in A B; do
        bin=$BIN_A
        [[ $which == B ]] && bin=$BIN_B
        start "$bin"
        auth=(-H "Authorization: Bearer $token")
        "${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d1s "${auth[@]}" "$base/api/v1/clubs/$club" >/dev/null 2>&1 || true
        measure "clubs/{id}" "$which" "$r" "${auth[@]}" "$base/api/v1/clubs/$club"
        measure "jwks" "$which" "$r" "$base/.well-known/jwks.json"
        measure "auth/me" "$which" "$r" "${auth[@]}" "$base/api/v1/auth/me"
        : >"$BENCH_REFRESH_TOKENS"
        for ((i = 0; i < CONNS + 2; i++)); do
            curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
                "$base/api/v1/auth/login" | jq -r '.refresh_token // empty' >>"$BENCH_REFRESH_TOKENS"
        done
        measure "refresh ($ALG)" "$which" "$r" -s "$ROOT/bench/refresh.lua" "$base/api/v1/auth/refresh"
        openloop "clubs/{id} open loop" "$which" "$r" "${BENCH_OPENLOOP_CLUBS_RATE:-10000}" \
            "$base/api/v1/clubs/$club" "${auth[@]}"
        openloop "auth/me open loop" "$which" "$r" "${BENCH_OPENLOOP_ME_RATE:-5000}" \
            "$base/api/v1/auth/me" "${auth[@]}"
        stop
    done
done
echo
echo "route | A req/s (rounds) | B req/s (rounds) | A server + PG CPU ms/req (median) | B server + PG CPU ms/req (median) | A p99 | B p99"
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mapfile -t names < <(cut -d'|' -f1 "$results" | awk '!seen[$0]++')
for name in "${names[@]}"; do
    row="$name"
    for which in A B; do
        row="$row | $(awk -F'|' -v n="$name" -v w="$which" '$1 == n && $2 == w {printf "%s%s", s, $4; s = "/"}' "$results")"
    done
    for which in A B; do
        cs=$(awk -F'|' -v n="$name" -v w="$which" '$1 == n && $2 == w {print $5}' "$results" | med)
        cg=$(awk -F'|' -v n="$name" -v w="$which" '$1 == n && $2 == w {print $6}' "$results" | med)
        row="$row | $cs + $cg"
    done
    for which in A B; do
        row="$row | $(awk -F'|' -v n="$name" -v w="$which" '$1 == n && $2 == w {printf "%s%s", s, $8; s = " / "}' "$results")"
    done
    echo "$row"
done
