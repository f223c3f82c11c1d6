#!/usr/bin/env bash
# bench/idle.sh: CPU of an idle `reciprocal serve` (every service, no traffic), interleaved A/B
# (issue 16: "idle server < 1 % of a core"). Usage: bench/idle.sh BIN_A [BIN_B] [ROUNDS]
# Starts one private PostgreSQL + nats-server (scripts/pg.sh), migrates with the last binary, then
# ROUNDS (2) times runs A then B: start `serve`, wait until ready plus BENCH_IDLE_SETTLE seconds
# (5), sample utime+stime of the process (all threads, /proc/<pid>/stat) and of PostgreSQL's and
# nats-server's processes over BENCH_IDLE_SECONDS (60), stop it. Prints one line per run:
# binary|round|seconds|serve % of a core|PostgreSQL %|nats-server %, and with BENCH_IDLE_THREADS=1
# the serve threads that used most CPU (their names and ticks).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck disable=SC2034 # read by scripts/pg.sh
RCP_LOG_TAG=bench-idle
# shellcheck source=../scripts/pg.sh
source "$ROOT/scripts/pg.sh"

BIN_A=$(realpath "${1:?usage: bench/idle.sh BIN_A [BIN_B] [ROUNDS]}")
BIN_B=$(realpath "${2:-$1}")
ROUNDS=${3:-2}
SECS=${BENCH_IDLE_SECONDS:-60}
SETTLE=${BENCH_IDLE_SETTLE:-5}
# shellcheck disable=SC2034 # read by scripts/pg.sh: the NATS permissions come from the binary
RCP_BIN=$BIN_B
say() { printf '[bench-idle] %s\n' "$*" >&2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/reciprocal-idle.XXXXXX")
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
    if [[ ${KEEP_BENCH_ENV:-0} == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PG_PORT=$(rcp_free_port)
NATS_PORT=$(rcp_free_port)
rcp_pg_start "$PG_DATA" "$PG_PORT" "$TMP/log/postgresql.log" "$TMP/secrets.env"
rcp_pg_roles "$PG_PORT" "$TMP/secrets.env"
rcp_nats_conf "$TMP/nats.conf" "$TMP/secrets.env" all
rcp_nats_start "$TMP/nats" "$NATS_PORT" "$TMP/log/nats.log" "$NATS_PIDFILE" "$TMP/nats.conf"
export RECIPROCAL_DATABASE_URL=$RCP_PG_APP_URL
export RECIPROCAL_NATS_URL="nats://127.0.0.1:$NATS_PORT" RECIPROCAL_NATS_USER=all
RECIPROCAL_NATS_PASSWORD=$(rcp_nats_password "$TMP/secrets.env" all)
export RECIPROCAL_NATS_PASSWORD
export RECIPROCAL_LOG_FORMAT=text RECIPROCAL_LOG_LEVEL=${RECIPROCAL_LOG_LEVEL:-warn}
for v in RECIPROCAL_BUS_KEY RECIPROCAL_AUTH_KEK RECIPROCAL_LEDGER_KEK RECIPROCAL_CARD_KEK RECIPROCAL_LOI_KEK; do
    export "$v=$(head -c 32 /dev/urandom | base64)"
done
RECIPROCAL_MIGRATE_DATABASE_URL=$RCP_PG_OWNER_URL "$BIN_B" migrate up >"$TMP/log/migrate.log" 2>&1

HZ=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
tticks() { awk '{ print $14 + $15 }' "$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
    local pm t=0 p
    pm=$(head -n 1 "$PG_DATA/postmaster.pid")
    t=$(ticks "$pm")
    for p in $(pgrep -P "$pm"); do t=$((t + $(ticks "$p"))); done
    echo "$t"
}
nats_pid=$(cat "$NATS_PIDFILE")
pct() { awk -v t="$1" -v hz="$HZ" -v s="$2" 'BEGIN { printf "%.2f", 100 * t / hz / s }'; }

run() {
    local bin=$1 label=$2 round=$3 port i s0 p0 n0 t0 s1 p1 n1 t1 secs
    port=$(rcp_free_port)
    RECIPROCAL_LISTEN=127.0.0.1:$port "$bin" serve >>"$TMP/log/serve.log" 2>&1 &
    srv_pid=$!
    for ((i = 0; i < 300; i++)); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/health/ready" && break
        sleep 0.1
    done
    sleep "$SETTLE"
    if [[ ${BENCH_IDLE_THREADS:-0} == 1 ]]; then
        for t in /proc/$srv_pid/task/*; do echo "$(basename "$t") $(tticks "$t")"; done >"$TMP/th0"
    fi
    t0=$(date +%s.%N)
    s0=$(ticks "$srv_pid")
    p0=$(pg_ticks)
    n0=$(ticks "$nats_pid")
    sleep "$SECS"
    s1=$(ticks "$srv_pid")
    p1=$(pg_ticks)
    n1=$(ticks "$nats_pid")
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    echo "$label|$round|$secs|$(pct $((s1 - s0)) "$secs")|$(pct $((p1 - p0)) "$secs")|$(pct $((n1 - n0)) "$secs")"
    if [[ ${BENCH_IDLE_THREADS:-0} == 1 ]]; then
        for t in /proc/$srv_pid/task/*; do
            id=$(basename "$t")
            before=$(awk -v id="$id" '$1 == id { print $2 }' "$TMP/th0")
            echo "  thread $id $(cat "$t/comm") $(($(tticks "$t") - ${before:-0})) ticks"
        done | sort -k4 -n -r | head -n 6
    fi
    kill -TERM "$srv_pid"
    wait "$srv_pid" || say "$label serve exited with $?"
    srv_pid=
}

echo "binary|round|seconds|serve % of a core|PostgreSQL %|nats-server %"
for ((r = 1; r <= ROUNDS; r++)); do
    run "$BIN_A" A "$r"
    [[ $BIN_B == "$BIN_A" ]] || run "$BIN_B" B "$r"
done
