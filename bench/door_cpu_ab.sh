# bench/door_cpu_ab.sh: a BENCH_VISIT_HOOK (bench/visits.sh) for an A/B comparison of the door
# routes by CPU per request: the round trips first (bench/visits_roundtrips.sh), then
# BENCH_VISIT_CPU_PAIRS (3) interleaved pairs A (the running binary) / B (BENCH_VISIT_AB_BIN),
# each running with run_wrk: POST /api/v1/lois/verify over the pool, each letter once (the
# server was just started: no standing cached), then cycling (cached), then POST
# /api/v1/visits/check-in over its own slice of the pool: first check-ins only over the slice's
# first half (each letter once: dab_first), the sweep that submits their ledger records
# (dab_sweep: CPU per record), then over the second half
# twice: first check-ins then same-day repeats, and repeats only. Per row: req/s, p99 and the CPU time of the server process, of every
# PostgreSQL backend and of nats-server over the run divided by the requests (/proc ticks;
# includes the background work the requests cause: outbox relay, ledger worker, consumers).
# Lines "door-ab|ROW|TAG|req/s|p99|server ms|PostgreSQL ms|nats ms" go to BENCH_DOOR_CPU_OUT
# ($TMP/log/door-ab.txt). Run with BENCH_VISIT_ROUNDS=0 (the pairs replace the usual rounds).
# POST /api/v1/visits is left out (bench/visits_cpu_ab.sh has it).
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh and bench/visits.sh
# shellcheck source=visits_roundtrips.sh
source "$ROOT/bench/visits_roundtrips.sh"
# shellcheck source=visits_ab_lib.sh
source "$ROOT/bench/visits_ab_lib.sh"

# dab_row NAME URL TAG: one run_wrk row of bench/visits_door.lua with its CPU per request.
dab_row() { visits_ab_row "$BENCH_DOOR_CPU_OUT" door-ab 3 1 "$1" "$2" "$ROOT/bench/visits_door.lua" "$3"; }

# dab_first TAG FILE: POST /api/v1/visits/check-in once per letter of FILE (first check-ins
# only), 16 curl clients in parallel (wrk cannot send each letter once without idling out its
# duration); CPU of the server + PostgreSQL + nats-server from the first request to 0.5 s after
# the last answer (the relay and the consumers behind the check-ins), per check-in answered 200.
# Row "door-ab|...|TAG|req/s|-|server ms|PostgreSQL ms|nats ms".
dab_first() {
    local tag=$1 file=$2 s0 g0 n0 s1 g1 n1 t0 t1 n
    s0=$(ticks "$srv_pid") g0=$(pg_ticks) n0=$(visits_ab_nats_ticks) t0=$(date +%s.%N)
    xargs -P 16 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST "${auth[@]}" \
        -H 'Content-Type: application/json' --data '{"token":"{}"}' "$base/api/v1/visits/check-in" \
        <"$file" >"$TMP/log/door-first-codes.txt" || true
    t1=$(date +%s.%N)
    sleep 0.5
    s1=$(ticks "$srv_pid") g1=$(pg_ticks) n1=$(visits_ab_nats_ticks)
    n=$(grep -c '^200$' "$TMP/log/door-first-codes.txt" || true)
    awk -v tag="$tag" -v n="${n:-0}" -v s=$((s1 - s0)) -v g=$((g1 - g0)) -v t=$((n1 - n0)) \
        -v d="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v hz="$(getconf CLK_TCK)" 'BEGIN {
            printf "door-ab|POST /api/v1/visits/check-in (first check-ins only, 16 curl clients)|%s|%.0f|-|%.3f|%.3f|%.3f\n",
                tag, (d > 0 ? n / d : 0), (n ? s * 1000 / hz / n : 0), (n ? g * 1000 / hz / n : 0), (n ? t * 1000 / hz / n : 0) }' \
        >>"$BENCH_DOOR_CPU_OUT"
    say "$(tail -n 1 "$BENCH_DOOR_CPU_OUT")"
}

# dab_sweep TAG: the agreements sweep run once (its visit ledger pass submits the visit.verified
# records of the check-ins above), its CPU (server + PostgreSQL + nats-server, until 2 s after
# the answer, so the ledger's commit of the blocks is in it) per record submitted: the ledger's
# share of a first check-in. Row "door-ab|ledger pass|TAG|records|-|server ms|PostgreSQL ms|nats ms".
dab_sweep() {
    local tag=$1 s0 g0 n0 s1 g1 n1 out n
    s0=$(ticks "$srv_pid") g0=$(pg_ticks) n0=$(visits_ab_nats_ticks)
    out=$(visits_api POST /api/v1/agreements/sweep '{}') || out='{}'
    sleep 2
    s1=$(ticks "$srv_pid") g1=$(pg_ticks) n1=$(visits_ab_nats_ticks)
    n=$(jq -r '.visit_ledger_submitted // 0' <<<"$out")
    awk -v tag="$tag" -v n="$n" -v s=$((s1 - s0)) -v g=$((g1 - g0)) -v t=$((n1 - n0)) \
        -v hz="$(getconf CLK_TCK)" 'BEGIN {
            printf "door-ab|ledger pass (one sweep, per visit.verified submitted)|%s|%d|-|%.3f|%.3f|%.3f\n",
                tag, n, n ? s * 1000 / hz / n : 0, n ? g * 1000 / hz / n : 0, n ? t * 1000 / hz / n : 0 }' \
        >>"$BENCH_DOOR_CPU_OUT"
    say "$(tail -n 1 "$BENCH_DOOR_CPU_OUT")"
}

# dab_rows TAG SLICE
dab_rows() {
    local tag=$1 slice=$2
    visits_login
    export BENCH_LOI_TOKENS=$TMP/visit-tokens.txt BENCH_LOI_ONCE=1
    dab_row "POST /api/v1/lois/verify (each letter once: standings not cached)" "$base/api/v1/lois/verify" "$tag"
    unset BENCH_LOI_ONCE
    dab_row "POST /api/v1/lois/verify" "$base/api/v1/lois/verify" "$tag"
    head -n "$(($(grep -c . "$slice") / 2))" "$slice" >"$slice.first"
    sed -i "1,$(grep -c . "$slice.first")d" "$slice"
    dab_first "$tag" "$slice.first"
    dab_sweep "$tag"
    export BENCH_LOI_TOKENS=$slice
    dab_row "POST /api/v1/visits/check-in (first, then repeats)" "$base/api/v1/visits/check-in" "$tag"
    dab_row "POST /api/v1/visits/check-in (same-day repeats)" "$base/api/v1/visits/check-in" "$tag"
    export BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
}

BENCH_DOOR_CPU_OUT=${BENCH_DOOR_CPU_OUT:-$TMP/log/door-ab.txt}
[[ -z ${BENCH_VISIT_AB_BIN:-} ]] || visits_ab_pairs dab dab_rows
