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
# shellcheck source=visits_ab_lib.sh
source "$ROOT/bench/visits_ab_lib.sh"

# dab_row NAME URL TAG: one run_wrk row of bench/visits_door.lua with its CPU per request.
dab_row() { visits_ab_row "$BENCH_DOOR_CPU_OUT" door-ab 3 1 "$1" "$2" "$ROOT/bench/visits_door.lua" "$3"; }

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
[[ -z ${BENCH_VISIT_AB_BIN:-} ]] || visits_ab_pairs dab dab_rows
