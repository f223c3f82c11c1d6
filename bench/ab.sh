#!/usr/bin/env bash
# bench/ab.sh: interleaved A/B read benchmark of two `reciprocal` binaries on the same data
# (issue 16; issue 10's "no regression beyond noise"). Usage:
#   bench/ab.sh BIN_A BIN_B [ROUNDS]
# Starts one private PostgreSQL + nats-server (scripts/pg.sh), migrates with BIN_B, seeds one club
# of BENCH_MEMBERS (100,000) members with BIN_B (CSV imports, as bench/member.sh), then ROUNDS (3)
# times runs A then B: start the binary on a free port, sign in, a short warm-up, then wrk on each
# read route (GET /api/v1/clubs/{id}, /api/v1/members/{id}, ?limit=20, ?sort=name&limit=20,
# ?q=lov, ?q=exa: a prefix of every member's e-mail), stop it. Both binaries therefore read the
# same rows, and each pair runs back to back so that other load on the box hits both alike. Prints one line per (route, binary, round):
# route|A or B|round|req/s|server CPU ms per request|PostgreSQL CPU ms per request|p99, and a
# summary (every run's req/s, the median CPU per request). CPU per request (from /proc, the
# server process and the postmaster's children) is what to compare on a busy box: req/s moves
# with whatever else runs, CPU per request much less. BIN_A must accept BIN_B's schema (the member and auth
# migrations must be the same). Environment: BENCH_DURATION (5s), BENCH_CONNECTIONS (32),
# RECIPROCAL_HTTP_THREADS (8), BENCH_PIN (1: servers on CPU 0, wrk on CPU 1), BENCH_MEMBERS,
# BENCH_AB_DIR (keep the seeded database there and reuse it), BENCH_AB_HOLD (A or B: start that
# binary and wait, for a profiler).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck disable=SC2034 # read by scripts/pg.sh
RCP_LOG_TAG=bench-ab
# shellcheck source=../scripts/pg.sh
source "$ROOT/scripts/pg.sh"

BIN_A=$(realpath "${1:?usage: bench/ab.sh BIN_A BIN_B [ROUNDS]}")
BIN_B=$(realpath "${2:?usage: bench/ab.sh BIN_A BIN_B [ROUNDS]}")
ROUNDS=${3:-3}
DURATION=${BENCH_DURATION:-5s}
CONNS=${BENCH_CONNECTIONS:-32}
HTTP_THREADS=${RECIPROCAL_HTTP_THREADS:-8}
TOTAL=${BENCH_MEMBERS:-100000}
# shellcheck disable=SC2034 # read by scripts/pg.sh: the NATS permissions come from the binary
RCP_BIN=$BIN_B

say() { printf '[bench-ab] %s\n' "$*" >&2; }

SRV_PIN=()
WRK_PIN=()
if [[ ${BENCH_PIN:-1} == 1 ]] && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0)
    WRK_PIN=(taskset -c 1)
fi

# BENCH_AB_DIR: a directory kept between runs (PostgreSQL data, secrets, the seeded ids): a
# second run skips the seeding
if [[ -n ${BENCH_AB_DIR:-} ]]; then
    TMP=$BENCH_AB_DIR
    mkdir -p "$TMP"
    KEEP_BENCH_ENV=1
else
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/reciprocal-ab.XXXXXX")
fi
chmod 755 "$TMP"
mkdir -p "$TMP/log"
PG_DATA=$TMP/pg/data
NATS_PIDFILE=$TMP/nats.pid
srv_pid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $srv_pid ]] && { kill -TERM "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; }
    rcp_pg_stop "$PG_DATA" || true
    rcp_nats_stop "$NATS_PIDFILE" || true
    if [[ ${KEEP_BENCH_ENV:-0} == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PG_PORT=$(rcp_free_port)
NATS_PORT=$(rcp_free_port)
rcp_pg_start "$PG_DATA" "$PG_PORT" "$TMP/log/postgresql.log" "$TMP/secrets.env" test
rcp_pg_roles "$PG_PORT" "$TMP/secrets.env"
rcp_nats_conf "$TMP/nats.conf" "$TMP/secrets.env" all
rcp_nats_start "$TMP/nats" "$NATS_PORT" "$TMP/log/nats.log" "$NATS_PIDFILE" "$TMP/nats.conf"
export RECIPROCAL_DATABASE_URL=$RCP_PG_APP_URL
export RECIPROCAL_NATS_URL="nats://127.0.0.1:$NATS_PORT" RECIPROCAL_NATS_USER=all
RECIPROCAL_NATS_PASSWORD=$(rcp_nats_password "$TMP/secrets.env" all)
export RECIPROCAL_NATS_PASSWORD
export RECIPROCAL_LOG_FORMAT=text RECIPROCAL_LOG_LEVEL=${RECIPROCAL_LOG_LEVEL:-warn}
export RECIPROCAL_HTTP_THREADS=$HTTP_THREADS
if [[ ! -s $TMP/keys.env ]]; then
    for v in RECIPROCAL_BUS_KEY RECIPROCAL_AUTH_KEK RECIPROCAL_LEDGER_KEK RECIPROCAL_CARD_KEK RECIPROCAL_LOI_KEK; do
        echo "export $v=$(head -c 32 /dev/urandom | base64)"
    done >"$TMP/keys.env"
fi
# shellcheck disable=SC1091
source "$TMP/keys.env"
email=ab-admin@reciprocal.example
if [[ ! -s $TMP/seed.env ]]; then
    RECIPROCAL_MIGRATE_DATABASE_URL=$RCP_PG_OWNER_URL "$BIN_B" migrate up >"$TMP/log/migrate.log" 2>&1
    pw="ab $(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    RECIPROCAL_ADMIN_PASSWORD=$pw "$BIN_B" auth create-admin --email "$email" >/dev/null
fi
# shellcheck disable=SC1091 # written below by the first run
[[ -s $TMP/seed.env ]] && source "$TMP/seed.env"
login_body=$(jq -cn --arg e "$email" --arg p "$pw" '{email: $e, password: $p}')

base=
# start BIN: runs BIN serve on a free port, waits until ready, signs in (sets base, token)
start() {
    local port i
    port=$(rcp_free_port)
    base=http://127.0.0.1:$port
    RECIPROCAL_LISTEN=127.0.0.1:$port "${SRV_PIN[@]}" "$1" serve >>"$TMP/log/serve.log" 2>&1 &
    srv_pid=$!
    for ((i = 0; i < 200; i++)); do
        curl -s -o /dev/null --max-time 1 "$base/health/ready" && break
        sleep 0.1
    done
    token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
        "$base/api/v1/auth/login" | jq -r '.access_token // empty')
    [[ -n $token ]] || { say "sign-in failed on $1"; exit 1; }
}
# CPU time (clock ticks) of a process, all threads; of the PostgreSQL backends (the postmaster's
# children: the pool's connections, autovacuum, the writers)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
    local pm c sum=0
    pm=$(head -n 1 "$PG_DATA/postmaster.pid")
    for c in $(pgrep -P "$pm"); do sum=$((sum + $(ticks "$c"))); done
    echo "$sum"
}
HZ=$(getconf CLK_TCK)
stop() {
    kill -TERM "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=
}

# seed with B
if [[ ! -s $TMP/seed.env ]]; then
start "$BIN_B"
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
stop
printf 'pw=%q\nclub=%q\nmid=%q\n' "$pw" "$club" "$mid" >"$TMP/seed.env"
fi
# BENCH_AB_HOLD=A or B: only start that binary and wait (for a profiler), writing its pid, URL,
# token and the seeded ids to $TMP/hold.env
if [[ -n ${BENCH_AB_HOLD:-} ]]; then
    if [[ $BENCH_AB_HOLD == A ]]; then start "$BIN_A"; else start "$BIN_B"; fi
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
)
results=$TMP/results.txt
: >"$results"
for ((r = 1; r <= ROUNDS; r++)); do
    for which in A B; do
        bin=$BIN_A
        [[ $which == B ]] && bin=$BIN_B
        start "$bin"
        auth=(-H "Authorization: Bearer $token")
        for route in "${routes[@]}"; do
            name=${route%%|*}
            path=${route#*|}
            "${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d1s "${auth[@]}" "$base$path" >/dev/null 2>&1 || true
            s0=$(ticks "$srv_pid") g0=$(pg_ticks)
            out=$("${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "${auth[@]}" "$base$path" 2>&1)
            s1=$(ticks "$srv_pid") g1=$(pg_ticks)
            reqs=$(awk '/requests in/ {print $1}' <<<"$out")
            rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
            p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
            bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
            # CPU per request, ms: the server's and PostgreSQL's
            cpu=$(awk -v s=$((s1 - s0)) -v g=$((g1 - g0)) -v n="${reqs:-0}" -v hz="$HZ" \
                'BEGIN { if (n > 0) printf "%.3f|%.3f", s * 1000 / hz / n, g * 1000 / hz / n; else print "-|-" }')
            printf '%s|%s|%s|%s|%s|%s\n' "$name" "$which" "$r" "$rps" "$cpu" "$p99${bad:+ non-2xx $bad}" | tee -a "$results"
        done
        stop
    done
done
echo
echo "route | A req/s (rounds) | B req/s (rounds) | A server+PG CPU ms/req (median) | B server+PG CPU ms/req (median)"
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for route in "${routes[@]}"; do
    name=${route%%|*}
    a=$(awk -F'|' -v n="$name" '$1 == n && $2 == "A" {printf "%s%s", s, $4; s = "/"}' "$results")
    b=$(awk -F'|' -v n="$name" '$1 == n && $2 == "B" {printf "%s%s", s, $4; s = "/"}' "$results")
    ca=$(awk -F'|' -v n="$name" '$1 == n && $2 == "A" {print $5}' "$results" | med)
    ga=$(awk -F'|' -v n="$name" '$1 == n && $2 == "A" {print $6}' "$results" | med)
    cb=$(awk -F'|' -v n="$name" '$1 == n && $2 == "B" {print $5}' "$results" | med)
    gb=$(awk -F'|' -v n="$name" '$1 == n && $2 == "B" {print $6}' "$results" | med)
    echo "$name | $a | $b | $ca + $ga | $cb + $gb"
done
