#!/usr/bin/env bash
# bench/auth_ab.sh: interleaved A/B benchmark of the auth routes (issue 16). Usage:
#   bench/auth_ab.sh BIN_A BIN_B [ROUNDS]
# One private PostgreSQL + nats-server, migrated with BIN_B, a network administrator (the shared
# plumbing: bench/ab_lib.sh); then ROUNDS (3) times, back to back on the same database, each
# config of BENCH_AUTH_CONFIGS ("A RS256" then "B <alg>" for each alg of BENCH_AUTH_ALGS, "RS256
# EdDSA ES256"; e.g. "A RS256|A EdDSA|B RS256|B EdDSA"): start the binary with that
# RECIPROCAL_JWT_ALG, sign in BENCH_CONNECTIONS + 2 times, then
#   wrk on POST /api/v1/auth/refresh (bench/refresh.lua: every connection rotates its own chain)
#   and GET /api/v1/auth/me (one token);
#   open loop (bench/openloop.c, latency from each request's scheduled time) on /auth/me at
#   BENCH_OPENLOOP_ME_RATE (5000) offered (BENCH_AUTH_OPENLOOP=0: none);
# and stop it. Before a config of BIN_A (B) starts, BENCH_AUTH_SQL_A (BENCH_AUTH_SQL_B), an SQL
# file, is run as the database owner when set: e.g. a migration's down and up file, so that each
# binary runs with its own version of a function both schemas share. BENCH_AUTH_KEEP_ALGS=0:
# keys of algorithms other than RS256 are deleted before BIN_A starts (a binary from before auth
# 0005 cannot load them). Prints one line per (route, config, round) and a summary (bench/ab_lib.sh).
set -euo pipefail

# shellcheck disable=SC2034 # read by bench/ab_lib.sh
RCP_LOG_TAG=bench-auth-ab
BIN_A=$(realpath "${1:?usage: bench/auth_ab.sh BIN_A BIN_B [ROUNDS]}")
BIN_B=$(realpath "${2:?usage: bench/auth_ab.sh BIN_A BIN_B [ROUNDS]}")
ROUNDS=${3:-3}
# shellcheck disable=SC2034 # read by bench/ab_lib.sh
AB_EMAIL=auth-ab@reciprocal.example
# shellcheck source=ab_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ab_lib.sh"
ab_setup

configs=()
if [[ -n ${BENCH_AUTH_CONFIGS:-} ]]; then
    IFS='|' read -r -a configs <<<"$BENCH_AUTH_CONFIGS"
else
    [[ ${BENCH_AUTH_A:-1} == 1 ]] && configs+=("A RS256")
    read -r -a algs <<<"${BENCH_AUTH_ALGS:-RS256 EdDSA ES256}"
    for alg in "${algs[@]}"; do configs+=("B $alg"); done
fi
owner_sql_file() { psql -qAt "$RCP_PG_OWNER_URL" -v ON_ERROR_STOP=1 -f "$1" >/dev/null; }
# as the superuser: signing_keys is FORCE ROW LEVEL SECURITY with a policy for the app role only
super_sql() { psql -qAt "${RCP_PG_SUPER_URL%/postgres}/reciprocal" -c "$1"; }

for ((r = 1; r <= ROUNDS; r++)); do
    for config in "${configs[@]}"; do
        which=${config%% *} alg=${config#* }
        bin=$BIN_B
        if [[ $which == A ]]; then
            bin=$BIN_A
            [[ ${BENCH_AUTH_KEEP_ALGS:-1} == 0 ]] &&
                super_sql "DELETE FROM auth.signing_keys WHERE alg <> 'RS256'" >/dev/null
            [[ -n ${BENCH_AUTH_SQL_A:-} ]] && owner_sql_file "$BENCH_AUTH_SQL_A"
        else
            [[ -n ${BENCH_AUTH_SQL_B:-} ]] && owner_sql_file "$BENCH_AUTH_SQL_B"
        fi
        ab_start "$bin" "$alg"
        ab_refresh_tokens
        ab_measure "refresh" "$config" "$r" -s "$AB_ROOT/bench/refresh.lua" "$base/api/v1/auth/refresh"
        ab_measure "me" "$config" "$r" -H "Authorization: Bearer $token" "$base/api/v1/auth/me"
        if [[ ${BENCH_AUTH_OPENLOOP:-1} == 1 ]]; then
            ab_openloop "me open loop" "$config" "$r" "${BENCH_OPENLOOP_ME_RATE:-5000}" \
                "$base/api/v1/auth/me" -H "Authorization: Bearer $token"
        fi
        ab_stop
    done
done
ab_summary "${configs[@]}"
