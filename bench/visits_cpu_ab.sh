# bench/visits_cpu_ab.sh: a BENCH_VISIT_HOOK (bench/visits.sh) for an A/B comparison by CPU per
# request: the round trips first (bench/visits_roundtrips.sh), then BENCH_VISIT_CPU_PAIRS (3)
# interleaved pairs A (the running binary) / B (BENCH_VISIT_AB_BIN; A first in even pairs, B
# first in odd ones), each running the rows POST
# /api/v1/visits, POST /api/v1/lois/verify and POST /api/v1/visits/check-in (its own slice of the
# door pool: first check-ins, then same-day repeats) with run_wrk, and recording per row req/s,
# p99 and the CPU time of the server process and of every PostgreSQL backend over the run divided
# by the requests, and of nats-server (/proc ticks; includes the background work the requests
# cause: outbox relay, ledger worker, consumers). Lines "cpu-ab|ROW|TAG|req/s|p99|server
# ms|PostgreSQL ms|nats ms" go to BENCH_VISIT_CPU_OUT ($TMP/log/cpu-ab.txt). Run with
# BENCH_VISIT_ROUNDS=0 (the pairs replace the usual rounds). BENCH_VISIT_CPU_ROWS=post runs the
# POST /api/v1/visits row only.
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh and bench/visits.sh
# shellcheck source=visits_roundtrips.sh
source "$ROOT/bench/visits_roundtrips.sh"

# vab_row NAME URL LUA TAG: one run_wrk row with its CPU per request.
# vab_nats_ticks: nats-server's CPU ticks (0 when it is not found).
vab_nats_ticks() {
    local p
    p=$(cat "$NATS_PIDFILE" 2>/dev/null) || { echo 0; return; }
    ticks "$p"
}

vab_row() {
    local name=$1 url=$2 lua=$3 tag=$4 s0 g0 t0 s1 g1 t1 f n
    s0=$(ticks "$srv_pid") g0=$(pg_ticks) t0=$(vab_nats_ticks)
    run_wrk "$name$tag" "$url" -s "$lua"
    s1=$(ticks "$srv_pid") g1=$(pg_ticks) t1=$(vab_nats_ticks)
    f=$(ls -t "$TMP"/log/wrk-*.txt | head -n 1)
    n=$(awk '/requests in/ { print $1 }' "$f")
    awk -v name="$name" -v tag="$tag" -v n="${n:-0}" -v s=$((s1 - s0)) -v g=$((g1 - g0)) \
        -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v row="${rows[-1]}" 'BEGIN {
            split(row, c, "|")
            printf "cpu-ab|%s|%s|%s|%s|%.2f|%.2f|%.2f\n", name, tag, c[2], c[4],
                n ? s * 1000 / hz / n : 0, n ? g * 1000 / hz / n : 0, n ? t * 1000 / hz / n : 0 }' \
        >>"$BENCH_VISIT_CPU_OUT"
    say "$(tail -n 1 "$BENCH_VISIT_CPU_OUT")"
}

# vab_rows TAG SLICE
vab_rows() {
    local tag=$1 slice=$2
    visits_login
    export BENCH_VISIT_START=$((visit_tomorrow_s + (10 + visit_run) * 10 * 86400))
    visit_run=$((visit_run + 1))
    vab_row "POST /api/v1/visits" "$base/api/v1/visits" "$ROOT/bench/visits_post.lua" "$tag"
    [[ ${BENCH_VISIT_CPU_ROWS:-} != post ]] || return 0
    export BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
    vab_row "POST /api/v1/lois/verify" "$base/api/v1/lois/verify" "$ROOT/bench/visits_door.lua" "$tag"
    export BENCH_LOI_TOKENS=$slice
    vab_row "POST /api/v1/visits/check-in" "$base/api/v1/visits/check-in" \
        "$ROOT/bench/visits_door.lua" "$tag"
    export BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
}

BENCH_VISIT_CPU_OUT=${BENCH_VISIT_CPU_OUT:-$TMP/log/cpu-ab.txt}
if [[ -n ${BENCH_VISIT_AB_BIN:-} ]]; then
    vab_pairs=${BENCH_VISIT_CPU_PAIRS:-3}
    for ((vab_i = 0; vab_i < 2 * vab_pairs; vab_i++)); do
        awk -v n=$((2 * vab_pairs)) -v i="$vab_i" '(NR - 1) % n == i' "$TMP/visit-tokens.txt" \
            >"$TMP/vab-slice-$vab_i.txt"
    done
    # A then B in even pairs, B then A in odd ones (ABBA: the second turn of a pair ran slower
    # in most pairs on the loaded box, whichever binary it was)
    for ((vab_r = 0; vab_r < vab_pairs; vab_r++)); do
        for vab_k in 0 1; do
            if (((vab_k + vab_r) % 2 == 0)); then
                visits_serve "$BIN" || { add_error_row "A/B" "$BIN did not start"; break 2; }
                vab_rows " [A]" "$TMP/vab-slice-$((2 * vab_r + vab_k)).txt"
            else
                visits_serve "$BENCH_VISIT_AB_BIN" || { add_error_row "A/B" "B did not start"; break 2; }
                vab_rows " [B]" "$TMP/vab-slice-$((2 * vab_r + vab_k)).txt"
            fi
        done
    done
    visits_serve "$BIN" || true
fi
