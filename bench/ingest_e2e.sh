#!/usr/bin/env bash
# bench/ingest_e2e.sh: the analytics ingest end to end through JetStream (issue 14, `make bench`
# group "ingest"; docs/analytics.md "Ingest speed: end to end"). For each binary of BINS (default
# build/reciprocal), INGEST_E2E_ROUNDS (1) times, interleaved (A B A B ...): a fresh PostgreSQL
# cluster and nats-server (scripts/pg.sh, in a temp dir), `BIN migrate up`, `BIN serve` with
# RECIPROCAL_SERVICES=analytics (only the analytics consumers take the events), then
# build/bench-ingest-e2e publishes INGEST_E2E_EVENTS (20,000) visit events on JetStream and waits
# until the raw store holds them all (rolled up in the same transactions). Prints per run:
# ingest-e2e bin=.. events=.. eps=.. (events / first publish -> last commit) and the CPU per event
# in µs of the server (its /proc utime + stime), PostgreSQL (the postmaster's utime + stime +
# reaped children's, plus its live children: backends, autovacuum, checkpointer, WAL writer) and
# nats-server, and their sum: cpu_us; then per binary the medians. The publisher's own CPU (the
# bench client: asynchronous JetStream publishes, 1,000 acks pending at most) is not in cpu_us:
# pub_us, its CPU per event while publishing, is printed beside. The NATS users' permissions
# come from each binary (RCP_BIN). idle_cpu: the three's CPU (% of one core) in the 5 s after the
# last commit, the consumers polling an idle stream. Exit status 1 when a run failed or did not roll up every event.
# INGEST_E2E_RATE (events/s, default 0 = as fast as it can): paced publishing (bench/ingest_e2e.c),
# the consumers' batches then hold what arrives at that rate (a lingering consumer's case).
# INGEST_E2E_PUBS="PA PB" gives each binary of BINS its own publisher (a bench-ingest-e2e built
# with that binary's core/bus.c: its publishes are the outbox relay's), default $PUB for all.
# What nats_us counts: everything nats-server does from the first publish to the last commit,
# i.e. storing the publishes (file store, Nats-Msg-Id de-duplication, publish acks) AND the
# consumers' pull deliveries and per-message acks. INGEST_E2E_SPLIT=1 separates them: the server
# is stopped (SIGSTOP) while the publisher fills the stream, nats_pub_us = nats-server's CPU per
# event for the publishes alone, then the server continues on the backlog and the figures
# (server_us, pg_us, nats_us) are the consumption alone (no eps: the count is polled by psql).
# Usage: bench/ingest_e2e.sh  (BINS="A B" to compare builds; INGEST_E2E_EVENTS, _ROUNDS, _RATE, _PUBS)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck disable=SC2034 # read by scripts/pg.sh
RCP_LOG_TAG=ingest-e2e
# shellcheck source=../scripts/pg.sh
source "$ROOT/scripts/pg.sh"
BINS=${BINS:-$ROOT/build/reciprocal}
EVENTS=${INGEST_E2E_EVENTS:-20000}
ROUNDS=${INGEST_E2E_ROUNDS:-1}
PUB=$ROOT/build/bench-ingest-e2e
HZ=$(getconf CLK_TCK)

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# the cluster's CPU ticks so far: the postmaster (self + reaped children) and its live children
pg_ticks() {
    local pm=$1 t c
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat" 2>/dev/null || echo 0)
    for c in $(pgrep -P "$pm" || true); do t=$((t + $(ticks "$c"))); done
    echo "$t"
}
us() { awk -v d="$1" -v hz="$HZ" -v n="$EVENTS" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }'; }

TMP=$(mktemp -d /tmp/ingest-e2e.XXXXXX)
PG_DATA="" NATS_PIDFILE="" srv=""
stop_all() {
    [[ -n $srv ]] && { kill -TERM "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; }
    srv=""
    [[ -n $PG_DATA ]] && { rcp_pg_stop "$PG_DATA" || rcp_log "PostgreSQL did not stop"; }
    [[ -n $NATS_PIDFILE ]] && rcp_nats_stop "$NATS_PIDFILE"
    PG_DATA="" NATS_PIDFILE=""
}
trap 'stop_all; rm -rf "$TMP"' EXIT

# one run of binary $1 (round $2): prints its line, appends "eps cpu_us" to $TMP/res-<index>
run_one() {
    local bin=$1 idx=$2 pub=${4:-$PUB} dir=$TMP/run pgport natsport http pm np out
    rm -rf "$dir"
    mkdir -p "$dir/log"
    PG_DATA=$dir/pg/data NATS_PIDFILE=$dir/nats.pid
    pgport=$(rcp_free_port)
    natsport=$(rcp_free_port)
    # shellcheck disable=SC2034 # read by scripts/pg.sh (the NATS permissions come from the binary)
    RCP_BIN=$bin
    if ! { rcp_pg_start "$PG_DATA" "$pgport" "$dir/log/pg.log" "$dir/secrets.env" test &&
        rcp_pg_roles "$pgport" "$dir/secrets.env" &&
        rcp_nats_conf "$dir/nats.conf" "$dir/secrets.env" all test &&
        rcp_nats_start "$dir/nats" "$natsport" "$dir/log/nats.log" "$NATS_PIDFILE" "$dir/nats.conf"; }; then
        echo "ingest-e2e bin=$bin error=environment"
        return 1
    fi
    http=$(rcp_free_port)
    local -a envv=(RECIPROCAL_DATABASE_URL="$RCP_PG_APP_URL"
        RECIPROCAL_NATS_URL="nats://127.0.0.1:$natsport" RECIPROCAL_NATS_USER=all
        RECIPROCAL_NATS_PASSWORD="$(rcp_nats_password "$dir/secrets.env" all)"
        RECIPROCAL_BUS_KEY="$(head -c 32 /dev/urandom | base64)" RECIPROCAL_SERVICES=analytics
        "RECIPROCAL_LISTEN=127.0.0.1:$http" RECIPROCAL_LOG_LEVEL=warn RECIPROCAL_LOG_FORMAT=text)
    if ! env "${envv[@]}" RECIPROCAL_MIGRATE_DATABASE_URL="$RCP_PG_OWNER_URL" "$bin" migrate up \
        >"$dir/log/migrate.log" 2>&1; then
        echo "ingest-e2e bin=$bin error=migrate: $(tail -n 1 "$dir/log/migrate.log")"
        return 1
    fi
    env "${envv[@]}" "$bin" serve >"$dir/log/serve.log" 2>&1 &
    srv=$!
    local i
    for ((i = 0; i < 200; i++)); do
        curl -sf "http://127.0.0.1:$http/health/ready" >/dev/null 2>&1 && break
        kill -0 "$srv" 2>/dev/null || break
        sleep 0.1
    done
    pm=$(head -n 1 "$PG_DATA/postmaster.pid")
    np=$(cat "$NATS_PIDFILE")
    sleep 1 # the consumers created
    local s0 g0 n0 s1 g1 n1 split=""
    local -a penv=(RECIPROCAL_DATABASE_URL="$RCP_PG_APP_URL" RECIPROCAL_NATS_URL="nats://127.0.0.1:$natsport"
        RECIPROCAL_NATS_USER=test RECIPROCAL_NATS_PASSWORD="$(rcp_nats_password "$dir/secrets.env" test)")
    if [[ ${INGEST_E2E_SPLIT:-0} == 1 ]]; then
        # the stream filled while the server is stopped (nats-server's CPU of the publishes
        # alone), then the server restarted on the backlog (everything after: consumption)
        kill -STOP "$srv"
        n0=$(ticks "$np")
        env "${penv[@]}" "$pub" "$EVENTS" 0 >/dev/null 2>&1
        n1=$(ticks "$np")
        split="nats_pub_us=$(us $((n1 - n0)))"
    fi
    s0=$(ticks "$srv") g0=$(pg_ticks "$pm") n0=$(ticks "$np")
    if [[ -n $split ]]; then
        kill -CONT "$srv"
        local want=$((EVENTS - EVENTS % 2))
        for ((i = 0; i < 6000; i++)); do
            [[ $("$RCP_PG_BIN/psql" -X -qAt "${RCP_PG_SUPER_URL%/postgres}/reciprocal" -c \
                "SELECT count(*) FROM analytics.raw_events" 2>/dev/null) -ge $want ]] && break
            sleep 0.1
        done
        out="ingest-e2e events=$want ok=1 (split: consumption of a backlog only)"
    else
        out=$(env "${penv[@]}" "$pub" "$EVENTS" 2>&1 | grep '^ingest-e2e' || true)
    fi
    s1=$(ticks "$srv") g1=$(pg_ticks "$pm") n1=$(ticks "$np")
    # what the three cost idle afterwards (every event applied: the consumers' empty fetches)
    sleep 5
    local idle
    idle=$(awk -v s=$(($(ticks "$srv") - s1)) -v g=$(($(pg_ticks "$pm") - g1)) \
        -v n=$(($(ticks "$np") - n1)) -v hz="$HZ" \
        'BEGIN { printf "server %.1f%%, PostgreSQL %.1f%%, nats-server %.1f%%", s / hz / 5 * 100, g / hz / 5 * 100, n / hz / 5 * 100 }')
    stop_all
    local eps ok sv pg na tot
    eps=$(sed -n 's/.*\beps=\([0-9.]*\).*/\1/p' <<<"$out")
    ok=$(sed -n 's/.*\bok=\([01]\).*/\1/p' <<<"$out")
    sv=$(us $((s1 - s0))) pg=$(us $((g1 - g0))) na=$(us $((n1 - n0)))
    tot=$(awk -v a="$sv" -v b="$pg" -v c="$na" 'BEGIN { printf "%.1f", a + b + c }')
    echo "${out:-ingest-e2e error=no result} bin=$bin pub=$pub round=$3" \
        "server_us=$sv pg_us=$pg nats_us=$na cpu_us=$tot $split load=$(cut -d' ' -f1 /proc/loadavg) idle_cpu=[$idle]"
    [[ ${ok:-0} == 1 ]] || { tail -n 5 "$dir/log/serve.log" >&2; return 1; }
    echo "${eps:-0} $tot $sv $pg $na $(sed -n 's/.*\bpub_us=\([0-9.]*\).*/\1/p' <<<"$out")" >>"$TMP/res-$idx"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

read -r -a pubs <<<"${INGEST_E2E_PUBS:-}"
for p in "$PUB" "${pubs[@]}"; do
    [[ -x $p ]] || { echo "ingest-e2e error=$p missing (make build/bench-ingest-e2e)"; exit 1; }
done
rc=0
for ((r = 1; r <= ROUNDS; r++)); do
    k=0
    for b in $BINS; do
        k=$((k + 1))
        run_one "$b" "$k" "$r" "${pubs[k - 1]:-$PUB}" || rc=1
    done
done
k=0
for b in $BINS; do
    k=$((k + 1))
    [[ -s $TMP/res-$k ]] || continue
    printf 'ingest-e2e-median bin=%s runs=%s eps=%s cpu_us=%s server_us=%s pg_us=%s nats_us=%s pub_us=%s\n' \
        "$b" "$(wc -l <"$TMP/res-$k")" \
        "$(awk '{ print $1 }' "$TMP/res-$k" | median)" "$(awk '{ print $2 }' "$TMP/res-$k" | median)" \
        "$(awk '{ print $3 }' "$TMP/res-$k" | median)" "$(awk '{ print $4 }' "$TMP/res-$k" | median)" \
        "$(awk '{ print $5 }' "$TMP/res-$k" | median)" "$(awk '{ print $6 }' "$TMP/res-$k" | median)"
done
exit "$rc"
