#!/usr/bin/env bash
# bench/analytics_ab.sh: analytics ingest A/B, interleaved (issue 14, docs/analytics.md "Ingest
# speed"). Runs `bench-analytics EVENTS 0 0 BATCH` (facts straight into analytics_ingest, no NATS)
# ROUNDS times per side, A then B, each side preceded by its setup command (e.g. the SQL of one
# side swapped in with `reciprocal migrate down` / `migrate up`), and prints per run: events/s,
# the client's CPU per event, the CPU of the bench's two PostgreSQL backends per event (the
# statements themselves, from /proc) and the whole cluster's CPU per event (the postmaster's
# utime + stime + children's, plus its live children: backends that exit are counted through the
# postmaster's cutime/cstime; autovacuum and the checkpointer included), then the medians and the
# ratio B/A.
# Usage: bench/analytics_ab.sh BENCH_A BENCH_B [ROUNDS [EVENTS [BATCH]]] (3 10000 256)
# Environment: RECIPROCAL_DATABASE_URL (app role, migrated), ANALYTICS_AB_PG_PID (the
# postmaster's pid), ANALYTICS_AB_SETUP_A / ANALYTICS_AB_SETUP_B (shell commands, optional),
# ANALYTICS_AB_DAYS (the arrivals' days, 365; 1 = every visit on one day: the day rows grow).
set -euo pipefail
A=${1:?usage: analytics_ab.sh BENCH_A BENCH_B [ROUNDS [EVENTS [BATCH]]]}
B=${2:?usage}
ROUNDS=${3:-3}
EVENTS=${4:-10000}
BATCH=${5:-256}
PG=${ANALYTICS_AB_PG_PID:?set ANALYTICS_AB_PG_PID to the postmaster pid}
HZ=$(getconf CLK_TCK)

# the cluster's CPU ticks so far: the postmaster (self + reaped children) and its live children
pg_ticks() {
    local t c
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$PG/stat")
    for c in $(pgrep -P "$PG" || true); do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

declare -A eps pgus clus beus
run() { # side binary round
    local setup_var=ANALYTICS_AB_SETUP_$1
    [[ -n ${!setup_var:-} ]] && eval "${!setup_var}" >/dev/null
    local t0 t1 out
    t0=$(pg_ticks)
    out=$("$2" "$EVENTS" 0 0 "$BATCH" "${ANALYTICS_AB_DAYS:-365}" | grep '^analytics-ingest')
    # the bench's backends exit after it: a backend reaped between the read of the postmaster
    # and the read of its own /proc entry would be counted nowhere
    sleep 1
    t1=$(pg_ticks)
    local e c p b
    e=$(sed -E 's/.*ingest_eps=([0-9.]+).*/\1/' <<<"$out")
    b=$(sed -E 's/.*backend_cpu_us_per_event=([-0-9.]+).*/\1/' <<<"$out")
    c=$(sed -E 's/.*client_cpu_us_per_event=([0-9.]+).*/\1/' <<<"$out")
    p=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$EVENTS" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }')
    eps[$1$3]=$e
    clus[$1$3]=$c
    pgus[$1$3]=$p
    beus[$1$3]=$b
    printf '%s round %d: %s events/s, client %s us/event, backends %s us/event, cluster %s us/event\n' \
        "$1" "$3" "$e" "$c" "$b" "$p"
}

median() { tr ' ' '\n' <<<"$*" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "# load: $(uptime)"
for ((i = 1; i <= ROUNDS; i++)); do
    run A "$A" "$i"
    run B "$B" "$i"
done
echo "# load: $(uptime)"
for m in eps clus beus pgus; do
    declare -n arr=$m
    la=() lb=()
    for ((i = 1; i <= ROUNDS; i++)); do
        la+=("${arr[A$i]}")
        lb+=("${arr[B$i]}")
    done
    ma=$(median "${la[@]}")
    mb=$(median "${lb[@]}")
    printf '%s: A %s (median %s)  B %s (median %s)  B/A %s\n' "$m" "${la[*]}" "$ma" "${lb[*]}" \
        "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", a ? b / a : 0 }')"
    unset -n arr
done
