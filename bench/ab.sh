#!/usr/bin/env bash
# bench/ab.sh: interleaved A/B read benchmark of two `reciprocal` binaries on the same data
# (issue 16; issue 10's "no regression beyond noise"). Usage:
#   bench/ab.sh BIN_A BIN_B [ROUNDS]
# Starts one private PostgreSQL + nats-server (scripts/pg.sh), migrates with BIN_B, seeds one club
# of BENCH_MEMBERS (100,000) members with BIN_B (CSV imports, as bench/member.sh), then ROUNDS (3)
# times runs A then B: start the binary on a free port, sign in, a short warm-up, then wrk on each
# read route (GET /api/v1/clubs/{id}, /api/v1/members/{id}, ?limit=20, ?sort=name&limit=20,
# ?q=lov, ?q=exa: a prefix of every member's e-mail, ?q=lov&sort=name, ?q=e&sort=name), stop it. Both binaries therefore read the
# same rows, and each pair runs back to back so that other load on the box hits both alike. Prints one line per (route, binary, round):
# route|A or B|round|req/s|server CPU ms per request|PostgreSQL CPU ms per request|p50|p99, and
# a summary (every run's req/s, the median CPU per request). CPU per request (from /proc, the
# server process and the postmaster's children) is what to compare on a busy box: req/s moves
# with whatever else runs, CPU per request much less. BIN_A must accept BIN_B's schema (the member and auth
# migrations must be the same). Environment: BENCH_DURATION (5s), BENCH_CONNECTIONS (32),
# RECIPROCAL_HTTP_THREADS (8), BENCH_PIN (1: servers on CPU 0, wrk on CPU 1), BENCH_MEMBERS,
# BENCH_AB_DIR (keep the seeded database there and reuse it; a directory kept before bench/ab_lib.sh
# existed must be removed first), BENCH_AB_HOLD (A or B: start that binary and wait, for a
# profiler), BENCH_AB_OPENLOOP_RATE (also an open-loop run of each route at that rate offered,
# bench/openloop.c), BENCH_AB_WRK_OFF (1: no wrk runs), BENCH_AB_ROUTES (a regular expression:
# only the routes whose name matches). The plumbing (servers, sign-in, CPU accounting, summary) is bench/ab_lib.sh's.
set -euo pipefail

# shellcheck disable=SC2034 # read by bench/ab_lib.sh
RCP_LOG_TAG=bench-ab
BIN_A=$(realpath "${1:?usage: bench/ab.sh BIN_A BIN_B [ROUNDS]}")
BIN_B=$(realpath "${2:?usage: bench/ab.sh BIN_A BIN_B [ROUNDS]}")
ROUNDS=${3:-3}
TOTAL=${BENCH_MEMBERS:-100000}
# shellcheck disable=SC2034 # read by bench/ab_lib.sh
AB_DIR=${BENCH_AB_DIR:-}
# shellcheck source=ab_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ab_lib.sh"
ab_setup

# seed with B (once per BENCH_AB_DIR)
# shellcheck disable=SC1091 # written below by the first run
[[ -s $TMP/seed.env ]] && source "$TMP/seed.env"
if [[ ! -s $TMP/seed.env ]]; then
ab_start "$BIN_B"
auth=(-H "Authorization: Bearer $token")
club=$(curl -s -X POST -H 'Content-Type: application/json' "${auth[@]}" --data \
    '{"name":"Bench Members","slug":"bench-members","timezone":"Europe/London","address":{"country":"GB"}}' \
    "$base/api/v1/clubs" | jq -r '.id')
for ((k = 0; k < TOTAL / 10000; k++)); do
    awk -v off="$k" 'BEGIN {
        nl = split("Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright " \
            "Thompson Evans Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan " \
            "Lewis James Phillips Mason Mitchell Rose Davis Rodriguez Cox Alexander Garden " \
            "Campbell Johnston Moore Quinn Murphy Graham Hamilton Murray Hughes Robertson " \
            "Thomson Scott Macdonald Reid Clark Ross Young Watson Paterson Morrison Lovelace " \
            "Babbage Hopper Turing Noether Curie Fermi Bohr Dirac", L, " ")
        nf = split("Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James " \
            "Amelia Olivia Isla Emily Poppy Ava Isabella Jessica Lily Sophie Grace Ada Alan", F, " ")
        print "category,first_name,last_name,email,address_line1,city,postal_code,country"
        for (i = 0; i < 10000; i++) {
            n = off * 10000 + i
            l = L[(n * 7) % nl + 1]; f = F[(n * 13) % nf + 1]
            printf "full,%s,%s,%s.%s.%d@example.com,%d High Street,London,SW1A %dAA,GB\n",
                f, l, tolower(f), tolower(l), n, n % 200 + 1, n % 10
        }
    }' >"$TMP/members.csv"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: text/csv' "${auth[@]}" \
        --data-binary @"$TMP/members.csv" "$base/api/v1/members/import?club_id=$club")
    [[ $code == 200 ]] || { say "import $k answered $code"; exit 1; }
done
for ((i = 0; i < 120; i++)); do
    p=$(curl -s "$base/metrics" | awk '$1 == "outbox_pending{schema=\"member\"}" { print $2 }')
    [[ -z $p || $p == 0 ]] && break
    sleep 1
done
mid=$(curl -s "${auth[@]}" "$base/api/v1/members?club_id=$club&limit=1&sort=-created_at" | jq -r '.items[0].id')
say "seeded $TOTAL members in club $club (member $mid)"
ab_stop
printf 'club=%q\nmid=%q\n' "$club" "$mid" >"$TMP/seed.env"
fi
# BENCH_AB_HOLD=A or B: only start that binary and wait (for a profiler), writing its pid, URL,
# token and the seeded ids to $TMP/hold.env
if [[ -n ${BENCH_AB_HOLD:-} ]]; then
    if [[ $BENCH_AB_HOLD == A ]]; then ab_start "$BIN_A"; else ab_start "$BIN_B"; fi
    say "holding: pid $srv_pid, base $base, club $club, member $mid"
    printf 'pid=%s\nbase=%s\ntoken=%s\nclub=%s\nmid=%s\n' "$srv_pid" "$base" "$token" "$club" "$mid" >"$TMP/hold.env"
    wait "$srv_pid" || true
    exit 0
fi

routes=(
    "clubs/{id}|/api/v1/clubs/$club"
    "members/{id}|/api/v1/members/$mid?club_id=$club"
    "members?limit=20|/api/v1/members?club_id=$club&limit=20"
    "members?sort=name|/api/v1/members?club_id=$club&sort=name&limit=20"
    "members?q=lov|/api/v1/members?club_id=$club&q=lov"
    "members?q=exa|/api/v1/members?club_id=$club&q=exa"
    "members?q=lov&sort=name|/api/v1/members?club_id=$club&q=lov&sort=name"
    "members?q=e&sort=name|/api/v1/members?club_id=$club&q=e&sort=name"
)
for ((r = 1; r <= ROUNDS; r++)); do
    for which in A B; do
        bin=$BIN_A
        [[ $which == B ]] && bin=$BIN_B
        ab_start "$bin"
        auth=(-H "Authorization: Bearer $token")
        for route in "${routes[@]}"; do
            name=${route%%|*}
            path=${route#*|}
            [[ $name =~ ${BENCH_AB_ROUTES:-.} ]] || continue
            "${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d1s "${auth[@]}" "$base$path" >/dev/null 2>&1 || true
            [[ -n ${BENCH_AB_WRK_OFF:-} ]] ||
                ab_measure "$name" "$which" "$r" "${auth[@]}" "$base$path"
            [[ -z ${BENCH_AB_OPENLOOP_RATE:-} ]] ||
                ab_openloop "$name" "$which" "$r" "$BENCH_AB_OPENLOOP_RATE" "$base$path" "${auth[@]}"
        done
        ab_stop
    done
done
ab_summary A B
