#!/usr/bin/env bash
# bench/auth_ab.sh: interleaved A/B benchmark of the auth routes (issue 16 step 4). Usage:
#   bench/auth_ab.sh BIN_A BIN_B [ROUNDS]
# Starts one private PostgreSQL + nats-server (scripts/pg.sh), migrates with BIN_B, creates a
# network administrator, then ROUNDS (3) times runs, back to back on the same database: BIN_A
# (RS256: BIN_A may predate RECIPROCAL_JWT_ALG) and BIN_B with each algorithm of BENCH_AUTH_ALGS
# ("RS256 EdDSA ES256"). Each run starts the binary on a free port, signs in BENCH_CONNECTIONS + 2
# times, then wrk on POST /api/v1/auth/refresh (bench/refresh.lua: every connection rotates its own
# chain) and on GET /api/v1/auth/me (one token: the gateway's verified-token cache + one read),
# and stops it. BIN_A runs first in each round, before any key of another algorithm exists:
# a binary from before auth 0005 cannot load EdDSA/ES256 keys, so the other algorithms' keys are
# deleted (as the superuser) before BIN_A starts again. Prints one line per (route, config, round):
# route|config|round|req/s|server CPU ms per request|PostgreSQL CPU ms per request|p50|p99, and a
# summary with every round's req/s and the median CPU per request. CPU per request (from /proc:
# the server process, and the postmaster's children) is what to compare on a busy box.
# Environment: BENCH_DURATION (5s), BENCH_CONNECTIONS (32), RECIPROCAL_HTTP_THREADS (8),
# BENCH_PIN (1: servers on CPU 0, wrk on CPU 1), BENCH_AUTH_ALGS, BENCH_AUTH_A (1: run BIN_A).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck disable=SC2034 # read by scripts/pg.sh
RCP_LOG_TAG=bench-auth-ab
# shellcheck source=../scripts/pg.sh
source "$ROOT/scripts/pg.sh"

BIN_A=$(realpath "${1:?usage: bench/auth_ab.sh BIN_A BIN_B [ROUNDS]}")
BIN_B=$(realpath "${2:?usage: bench/auth_ab.sh BIN_A BIN_B [ROUNDS]}")
ROUNDS=${3:-3}
DURATION=${BENCH_DURATION:-5s}
CONNS=${BENCH_CONNECTIONS:-32}
HTTP_THREADS=${RECIPROCAL_HTTP_THREADS:-8}
read -r -a ALGS <<<"${BENCH_AUTH_ALGS:-RS256 EdDSA ES256}"
# shellcheck disable=SC2034 # read by scripts/pg.sh: the NATS permissions come from the binary
RCP_BIN=$BIN_B

say() { printf '[bench-auth-ab] %s\n' "$*" >&2; }

SRV_PIN=()
WRK_PIN=()
if [[ ${BENCH_PIN:-1} == 1 ]] && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0)
    WRK_PIN=(taskset -c 1)
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/reciprocal-auth-ab.XXXXXX")
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
export RECIPROCAL_HTTP_THREADS=$HTTP_THREADS
for v in RECIPROCAL_BUS_KEY RECIPROCAL_AUTH_KEK RECIPROCAL_LEDGER_KEK RECIPROCAL_CARD_KEK RECIPROCAL_LOI_KEK; do
    export "$v=$(head -c 32 /dev/urandom | base64)"
done
email=auth-ab@reciprocal.example
RECIPROCAL_MIGRATE_DATABASE_URL=$RCP_PG_OWNER_URL "$BIN_B" migrate up >"$TMP/log/migrate.log" 2>&1
pw="ab $(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
RECIPROCAL_ADMIN_PASSWORD=$pw "$BIN_B" auth create-admin --email "$email" >/dev/null
login_body=$(jq -cn --arg e "$email" --arg p "$pw" '{email: $e, password: $p}')

base=
# start BIN ALG: serves on a free port with RECIPROCAL_JWT_ALG=ALG, waits until ready, signs in
start() {
    local port i
    port=$(rcp_free_port)
    base=http://127.0.0.1:$port
    RECIPROCAL_JWT_ALG=$2 RECIPROCAL_LISTEN=127.0.0.1:$port "${SRV_PIN[@]}" "$1" serve \
        >>"$TMP/log/serve.log" 2>&1 &
    srv_pid=$!
    for ((i = 0; i < 200; i++)); do
        curl -s -o /dev/null --max-time 1 "$base/health/ready" && break
        sleep 0.1
    done
    token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
        "$base/api/v1/auth/login" | jq -r '.access_token // empty')
    [[ -n $token ]] || { say "sign-in failed on $1 ($2)"; tail -n 5 "$TMP/log/serve.log" >&2; exit 1; }
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
# as the superuser: signing_keys is FORCE ROW LEVEL SECURITY with a policy for the app role only
super_sql() { psql -qAt "${RCP_PG_SUPER_URL%/postgres}/reciprocal" -c "$1"; }

results=$TMP/results.txt
: >"$results"
# measure NAME CONFIG ROUND WRK_ARGS...: one wrk run with the CPU of the server and PostgreSQL
measure() {
    local name=$1 config=$2 r=$3 out s0 g0 s1 g1 reqs rps p50 p99 bad cpu
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
    printf '%s|%s|%s|%s|%s|%s|%s\n' "$name" "$config" "$r" "$rps" "$cpu" "$p50" \
        "$p99${bad:+ non-2xx $bad}" | tee -a "$results"
}

configs=()
[[ ${BENCH_AUTH_A:-1} == 1 ]] && configs+=("A RS256")
for alg in "${ALGS[@]}"; do configs+=("B $alg"); done
export BENCH_REFRESH_TOKENS=$TMP/refresh-tokens.txt BENCH_WRK_THREADS=1
for ((r = 1; r <= ROUNDS; r++)); do
    for config in "${configs[@]}"; do
        which=${config%% *} alg=${config#* }
        bin=$BIN_A
        if [[ $which == A ]]; then
            # keys a binary from before auth 0005 cannot read
            super_sql "DELETE FROM auth.signing_keys WHERE alg <> 'RS256'" >/dev/null
        else
            bin=$BIN_B
        fi
        start "$bin" "$alg"
        : >"$BENCH_REFRESH_TOKENS"
        for ((i = 0; i < CONNS + 2; i++)); do
            curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
                "$base/api/v1/auth/login" | jq -r '.refresh_token // empty' >>"$BENCH_REFRESH_TOKENS"
        done
        measure "refresh" "$which $alg" "$r" -s "$ROOT/bench/refresh.lua" "$base/api/v1/auth/refresh"
        measure "me" "$which $alg" "$r" -H "Authorization: Bearer $token" "$base/api/v1/auth/me"
        stop
    done
done
echo
echo "route | config | req/s (rounds) | server + PostgreSQL CPU ms/req (median) | p99 (rounds)"
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for name in refresh me; do
    for config in "${configs[@]}"; do
        rps=$(awk -F'|' -v n="$name" -v c="$config" '$1 == n && $2 == c {printf "%s%s", s, $4; s = "/"}' "$results")
        cs=$(awk -F'|' -v n="$name" -v c="$config" '$1 == n && $2 == c {print $5}' "$results" | med)
        cg=$(awk -F'|' -v n="$name" -v c="$config" '$1 == n && $2 == c {print $6}' "$results" | med)
        p99=$(awk -F'|' -v n="$name" -v c="$config" '$1 == n && $2 == c {printf "%s%s", s, $8; s = " / "}' "$results")
        echo "$name | $config | $rps | $cs + $cg | $p99"
    done
done
