#!/usr/bin/env bash
# bench/cache_ab.sh: interleaved A/B benchmark of the routes the read cache serves (issue 16
# step 3) and the auth routes beside them. Usage:
#   bench/cache_ab.sh BIN_A BIN_B [ROUNDS]
# One private PostgreSQL + nats-server, migrated with BIN_B, a network administrator and one club
# (the shared plumbing: bench/ab_lib.sh); then ROUNDS (3) times BIN_A then BIN_B back to back on
# the same database, each with RECIPROCAL_JWT_ALG=EdDSA (BENCH_CACHE_ALG). Each run starts the
# binary, signs in, warms up, then:
#   closed loop (wrk -c BENCH_CONNECTIONS for BENCH_DURATION): GET /api/v1/clubs/{id} (token),
#   GET /.well-known/jwks.json, GET /api/v1/auth/me (token), POST /api/v1/auth/refresh
#   (bench/refresh.lua: every connection rotates its own chain);
#   open loop (bench/openloop.c, latency from each request's scheduled time): clubs/{id} at
#   BENCH_OPENLOOP_CLUBS_RATE (10000) and /auth/me at BENCH_OPENLOOP_ME_RATE (5000) offered.
# Prints one line per (route, binary, round) and a summary (bench/ab_lib.sh).
set -euo pipefail

# shellcheck disable=SC2034 # read by bench/ab_lib.sh
RCP_LOG_TAG=bench-cache-ab
BIN_A=$(realpath "${1:?usage: bench/cache_ab.sh BIN_A BIN_B [ROUNDS]}")
BIN_B=$(realpath "${2:?usage: bench/cache_ab.sh BIN_A BIN_B [ROUNDS]}")
ROUNDS=${3:-3}
ALG=${BENCH_CACHE_ALG:-EdDSA}
# shellcheck disable=SC2034 # read by bench/ab_lib.sh
AB_EMAIL=cache-ab@reciprocal.example
# shellcheck source=ab_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ab_lib.sh"
ab_setup

ab_start "$BIN_B" "$ALG"
club=$(curl -s -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $token" --data \
    '{"name":"Bench Cache","slug":"bench-cache","timezone":"Europe/London","address":{"country":"GB"}}' \
    "$base/api/v1/clubs" | jq -r '.id')
ab_stop
say "club $club"

for ((r = 1; r <= ROUNDS; r++)); do
    for which in A B; do
        bin=$BIN_A
        [[ $which == B ]] && bin=$BIN_B
        ab_start "$bin" "$ALG"
        auth=(-H "Authorization: Bearer $token")
        "${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d1s "${auth[@]}" "$base/api/v1/clubs/$club" >/dev/null 2>&1 || true
        ab_measure "clubs/{id}" "$which" "$r" "${auth[@]}" "$base/api/v1/clubs/$club"
        ab_measure "jwks" "$which" "$r" "$base/.well-known/jwks.json"
        ab_measure "auth/me" "$which" "$r" "${auth[@]}" "$base/api/v1/auth/me"
        ab_refresh_tokens
        ab_measure "refresh ($ALG)" "$which" "$r" -s "$AB_ROOT/bench/refresh.lua" "$base/api/v1/auth/refresh"
        ab_openloop "clubs/{id} open loop" "$which" "$r" "${BENCH_OPENLOOP_CLUBS_RATE:-10000}" \
            "$base/api/v1/clubs/$club" "${auth[@]}"
        ab_openloop "auth/me open loop" "$which" "$r" "${BENCH_OPENLOOP_ME_RATE:-5000}" \
            "$base/api/v1/auth/me" "${auth[@]}"
        ab_stop
    done
done
ab_summary A B
