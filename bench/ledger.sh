#!/usr/bin/env bash
# bench/ledger.sh: the ledger rows alone, Caliper style (bench/ledger_load.c), with durable
# PostgreSQL (fsync on, synchronous_commit on: NOT the "test" mode bench/run.sh uses for the
# other rows). Starts a private PostgreSQL + nats-server (scripts/pg.sh), migrates, runs
# `build/reciprocal serve` (its background cutter/committer) pinned to CPU 0 and the load driver
# on CPU 1, then for blind write and read-modify-write x 100 B and 1 KB values: fixed send rate,
# two endorsements per tx; prints succeeded/failed, throughput, min/avg/max latency and the
# durability settings beside the numbers. Tears everything down on exit.
# Environment: BENCH_LEDGER_RATE (1500), BENCH_LEDGER_SECONDS (5), BENCH_LEDGER_MODES
# ("blind rmw"), BENCH_LEDGER_SIZES ("100 1024"), BENCH_LEDGER_THREADS (4), BENCH_LEDGER_DURABLE (1; 0 = the test mode),
# BENCH_PIN (1).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck disable=SC2034 # read by scripts/pg.sh
RCP_LOG_TAG=bench-ledger
# shellcheck source=../scripts/pg.sh
source "$ROOT/scripts/pg.sh"
cd "$ROOT"
BIN=${RECIPROCAL_BIN:-$ROOT/build/reciprocal}
RATE=${BENCH_LEDGER_RATE:-1500}
SECS=${BENCH_LEDGER_SECONDS:-5}
MODES=${BENCH_LEDGER_MODES:-blind rmw}
SIZES=${BENCH_LEDGER_SIZES:-100 1024}
say() { printf '[bench-ledger] %s\n' "$*" >&2; }
SRV_PIN=()
DRV_PIN=()
if [[ ${BENCH_PIN:-1} == 1 ]] && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0)
    DRV_PIN=(taskset -c 1)
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/reciprocal-bench-ledger.XXXXXX")
chmod 755 "$TMP"
mkdir -p "$TMP/log"
PG_DATA=
NATS_PIDFILE=
srv_pid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $srv_pid ]] && { kill -TERM "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; }
    [[ -n $PG_DATA ]] && { rcp_pg_stop "$PG_DATA" || say "warning: PostgreSQL did not stop"; }
    [[ -n $NATS_PIDFILE ]] && rcp_nats_stop "$NATS_PIDFILE"
    if [[ ${KEEP_BENCH_ENV:-0} == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DRV=${BENCH_LEDGER_LOAD:-}
[[ -n $DRV ]] || { make -s build/bench-ledger-load && DRV=$ROOT/build/bench-ledger-load; }

PG_DATA=$TMP/pg/data
PG_PORT=$(rcp_free_port)
NATS_PIDFILE=$TMP/nats.pid
NATS_PORT=$(rcp_free_port)
pgmode=
[[ ${BENCH_LEDGER_DURABLE:-1} == 1 ]] || pgmode=test
rcp_pg_start "$PG_DATA" "$PG_PORT" "$TMP/log/postgresql.log" "$TMP/secrets.env" $pgmode
rcp_pg_roles "$PG_PORT" "$TMP/secrets.env"
# shellcheck disable=SC2034 # read by scripts/pg.sh: the NATS permissions come from the binary
RCP_BIN=$BIN
rcp_nats_conf "$TMP/nats.conf" "$TMP/secrets.env" all
rcp_nats_start "$TMP/nats" "$NATS_PORT" "$TMP/log/nats.log" "$NATS_PIDFILE" "$TMP/nats.conf"
export RECIPROCAL_DATABASE_URL=$RCP_PG_APP_URL
export RECIPROCAL_NATS_URL="nats://127.0.0.1:$NATS_PORT" RECIPROCAL_NATS_USER=all
RECIPROCAL_NATS_PASSWORD=$(rcp_nats_password "$TMP/secrets.env" all)
export RECIPROCAL_NATS_PASSWORD
export RECIPROCAL_LOG_FORMAT=text RECIPROCAL_LOG_LEVEL=${RECIPROCAL_LOG_LEVEL:-warn}
RECIPROCAL_AUTH_KEK=${RECIPROCAL_AUTH_KEK:-$(head -c 32 /dev/urandom | base64)}
RECIPROCAL_LEDGER_KEK=${RECIPROCAL_LEDGER_KEK:-$(head -c 32 /dev/urandom | base64)}
RECIPROCAL_BUS_KEY=${RECIPROCAL_BUS_KEY:-$(head -c 32 /dev/urandom | base64)}
export RECIPROCAL_AUTH_KEK RECIPROCAL_LEDGER_KEK RECIPROCAL_BUS_KEY
RECIPROCAL_MIGRATE_DATABASE_URL=$RCP_PG_OWNER_URL "$BIN" migrate up >/dev/null
HTTP_PORT=$(rcp_free_port)
export RECIPROCAL_LISTEN=127.0.0.1:$HTTP_PORT
"${SRV_PIN[@]}" "$BIN" serve >"$TMP/log/serve.log" 2>&1 &
srv_pid=$!
for ((i = 0; i < 200; i++)); do
    curl -s -o /dev/null --max-time 1 "http://$RECIPROCAL_LISTEN/health/ready" && break
    sleep 0.1
done

HZ=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# utime+stime (clock ticks) of serve, PostgreSQL (postmaster and children), nats-server and the
# finished driver processes (this shell's reaped children: times' second line)
cpu_all() {
    local pm t p d
    pm=$(head -n 1 "$PG_DATA/postmaster.pid")
    t=$(ticks "$pm")
    for p in $(pgrep -P "$pm"); do t=$((t + $(ticks "$p"))); done
    times >"$TMP/times" # in this shell (not a subshell): its reaped children, the drivers
    d=$(tail -n 1 "$TMP/times" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/);
        printf "%d", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * '"$HZ"' }')
    CPU="$(ticks "$srv_pid") $t $(ticks "$(cat "$NATS_PIDFILE")") $d"
}
natsv=$(nats-server --version 2>/dev/null | awk '{print $NF}')
echo "ledger bench: offered $RATE tx/s for $SECS s from ${BENCH_LEDGER_THREADS:-4} driver threads, 2 endorsements/tx (visit.verified)," \
    "block <= ${RECIPROCAL_LEDGER_BLOCK_MAX_TXS:-500} txs / ${RECIPROCAL_LEDGER_BLOCK_MS:-20} ms;" \
    "serve $( ((${#SRV_PIN[@]})) && echo "on CPU 0, driver on CPU 1" || echo "not pinned")"
printf '%-6s | %-6s | %-9s | %-9s | %-7s | %-7s | %-26s | %s\n' mode value succeeded failed \
    "sent/s" "tx/s" "latency min/avg/max ms" durability
status=0
for mode in $MODES; do
    for vb in $SIZES; do
        say "$mode, $vb B"
        perf_pid=
        if [[ ${BENCH_LEDGER_PERF:-0} == 1 ]]; then
            perf record -g -p "$srv_pid" -o "$TMP/perf-$mode-$vb.data" -- sleep "$((SECS + 5))" \
                >/dev/null 2>&1 &
            perf_pid=$!
        fi
        cpu_all
        c0=$CPU
        out=$("${DRV_PIN[@]}" "$DRV" "$RATE" "$SECS" "$vb" "$mode" 2>&1) || status=1
        cpu_all
        c1=$CPU
        if [[ -n $perf_pid ]]; then
            wait "$perf_pid" || true
            perf report -i "$TMP/perf-$mode-$vb.data" --children --percent-limit 4 --stdio \
                -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40 >"$TMP/log/perf-$mode-$vb.txt" || true
            perf report -i "$TMP/perf-$mode-$vb.data" --no-children --percent-limit 3 --stdio -G 2>/dev/null | grep -v "^$" | head -150 >"${BENCH_LEDGER_PERF_OUT:-/tmp}/perf-$mode-$vb-graph.txt" || true
            cp "$TMP/log/perf-$mode-$vb.txt" "${BENCH_LEDGER_PERF_OUT:-/tmp}/" 2>/dev/null || true
        fi
        line=$(grep '^ledger-bench' <<<"$out" || true)
        if [[ -z $line ]]; then
            echo "$mode | $vb B | error: $(tail -n 1 <<<"$out")"
            status=1
            continue
        fi
        kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
        printf '%-6s | %-6s | %-9s | %-9s | %-7s | %-7s | %-26s | %s\n' "$mode" "$vb B" "$(kv ok)" \
            "$(kv failed)" "$(kv send_tps)" "$(kv tps)" "$(kv lat_ms_min)/$(kv avg)/$(kv max)" \
            "PostgreSQL fsync=$(kv pg_fsync) synchronous_commit=$(kv pg_synchronous_commit); nats-server $natsv JetStream fsync every 2 min (default)"
        # CPU per committed tx (µs) over the whole driver run (incl. its untimed preload and
        # final reads): serve, PostgreSQL (all its processes), nats-server, the driver
        read -r s0 p0 n0 d0 <<<"$c0"
        read -r s1 p1 n1 d1 <<<"$c1"
        ok=$(kv ok)
        awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v n=$((n1 - n0)) -v d=$((d1 - d0)) -v ok="${ok:-0}" \
            -v hz="$HZ" 'BEGIN { if (ok > 0) { f = 1e6 / hz / ok;
                printf "  CPU us/tx: serve %.0f, PostgreSQL %.0f, nats-server %.0f, driver %.0f, total %.0f\n",
                    s * f, p * f, n * f, d * f, (s + p + n + d) * f } }'
    done
done
exit $status
