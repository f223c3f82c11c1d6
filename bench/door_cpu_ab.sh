# bench/door_cpu_ab.sh: a BENCH_VISIT_HOOK (bench/visits.sh) for an A/B comparison of the door
# routes by CPU per request: the round trips first (bench/visits_roundtrips.sh), then
# BENCH_VISIT_CPU_PAIRS (3) interleaved pairs A (the running binary) / B (BENCH_VISIT_AB_BIN),
# each running with run_wrk: POST /api/v1/lois/verify over the pool, then POST
# /api/v1/visits/check-in over its own slice of the pool twice: first check-ins then same-day
# repeats, and repeats only. Per row: req/s, p99 and the CPU time of the server process, of every
# PostgreSQL backend and of nats-server over the run divided by the requests (/proc ticks;
# includes the background work the requests cause: outbox relay, ledger worker, consumers).
# Lines "door-ab|ROW|TAG|req/s|p99|server ms|PostgreSQL ms|nats ms" go to BENCH_DOOR_CPU_OUT
# ($TMP/log/door-ab.txt). Run with BENCH_VISIT_ROUNDS=0 (the pairs replace the usual rounds).
# POST /api/v1/visits is left out (bench/visits_cpu_ab.sh has it).
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh and bench/visits.sh
# shellcheck source=visits_roundtrips.sh
source "$ROOT/bench/visits_roundtrips.sh"

# dab_nats_ticks: nats-server's CPU ticks (0 when it is not found).
dab_nats_ticks() {
    local p
    p=$(cat "$NATS_PIDFILE" 2>/dev/null) || { echo 0; return; }
    ticks "$p"
}

# dab_row NAME URL TAG: one run_wrk row of bench/visits_door.lua with its CPU per request.
dab_row() {
    local name=$1 url=$2 tag=$3 s0 g0 n0 s1 g1 n1 f n
    s0=$(ticks "$srv_pid") g0=$(pg_ticks) n0=$(dab_nats_ticks)
    run_wrk "$name$tag" "$url" -s "$ROOT/bench/visits_door.lua"
    s1=$(ticks "$srv_pid") g1=$(pg_ticks) n1=$(dab_nats_ticks)
    f=$(ls -t "$TMP"/log/wrk-*.txt | head -n 1)
    n=$(awk '/requests in/ { print $1 }' "$f")
    awk -v name="$name" -v tag="$tag" -v n="${n:-0}" -v s=$((s1 - s0)) -v g=$((g1 - g0)) \
        -v t=$((n1 - n0)) -v hz="$(getconf CLK_TCK)" -v row="${rows[-1]}" 'BEGIN {
            split(row, c, "|")
            printf "door-ab|%s|%s|%s|%s|%.3f|%.3f|%.3f\n", name, tag, c[2], c[4],
                n ? s * 1000 / hz / n : 0, n ? g * 1000 / hz / n : 0, n ? t * 1000 / hz / n : 0 }' \
        >>"$BENCH_DOOR_CPU_OUT"
    say "$(tail -n 1 "$BENCH_DOOR_CPU_OUT")"
}

# dab_rows TAG SLICE
dab_rows() {
    local tag=$1 slice=$2
    visits_login
    export BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
    dab_row "POST /api/v1/lois/verify" "$base/api/v1/lois/verify" "$tag"
    export BENCH_LOI_TOKENS=$slice
    dab_row "POST /api/v1/visits/check-in (first, then repeats)" "$base/api/v1/visits/check-in" "$tag"
    dab_row "POST /api/v1/visits/check-in (same-day repeats)" "$base/api/v1/visits/check-in" "$tag"
    export BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
}

BENCH_DOOR_CPU_OUT=${BENCH_DOOR_CPU_OUT:-$TMP/log/door-ab.txt}
if [[ -n ${BENCH_VISIT_AB_BIN:-} ]]; then
    dab_pairs=${BENCH_VISIT_CPU_PAIRS:-3}
    for ((dab_i = 0; dab_i < 2 * dab_pairs; dab_i++)); do
        awk -v n=$((2 * dab_pairs)) -v i="$dab_i" '(NR - 1) % n == i' "$TMP/visit-tokens.txt" \
            >"$TMP/dab-slice-$dab_i.txt"
    done
    for ((dab_r = 0; dab_r < dab_pairs; dab_r++)); do
        visits_serve "$BIN" || { add_error_row "A/B" "$BIN did not start"; break; }
        dab_rows " [A]" "$TMP/dab-slice-$((2 * dab_r)).txt"
        visits_serve "$BENCH_VISIT_AB_BIN" || { add_error_row "A/B" "B did not start"; break; }
        dab_rows " [B]" "$TMP/dab-slice-$((2 * dab_r + 1)).txt"
    done
    visits_serve "$BIN" || true
fi
