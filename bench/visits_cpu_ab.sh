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
# shellcheck source=visits_ab_lib.sh
source "$ROOT/bench/visits_ab_lib.sh"

# vab_row NAME URL LUA TAG: one run_wrk row with its CPU per request.
vab_row() { visits_ab_row "$BENCH_VISIT_CPU_OUT" cpu-ab 2 1 "$@"; }

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
[[ -z ${BENCH_VISIT_AB_BIN:-} ]] || visits_ab_pairs vab vab_rows
