#!/usr/bin/env bash
# bench/run.sh: `make bench`. Builds bench/hello.c (bare libmicrohttpd baseline) into
# build/bench-hello, starts a private PostgreSQL + nats-server in a temp dir (scripts/pg.sh),
# applies migrations, runs `build/reciprocal serve` on a free port, bootstraps a network
# administrator (`reciprocal auth create-admin`) and signs in, creates one club, then runs wrk
# against: the hello baseline, /health/ready, GET /api/v1/clubs/<id> (authenticated), and the auth
# service: POST /api/v1/auth/login (bounded by argon2id by design: req/s = password hashes/s),
# GET /api/v1/auth/me (access-token check, cached per token, + one read) and POST /api/v1/auth/refresh
# (rotation: every request presents the token the previous answer returned; one row per signing
# algorithm: RS256, and EdDSA and ES256 from a second server, BENCH_JWT_ALGS), GraphQL
# `club(id:)` and `clubs(first: 50)` beside GET /api/v1/clubs/{id} and ?limit=50 (bench/graphql_post.lua),
# the member service (bench/member.sh: 10,000-row CSV import timed, GET /api/v1/members/{id} and
# ?q=<prefix> in a club of 100,000 members), the reciprocal service's visits (bench/visits.sh:
# POST /api/v1/visits with every rule checked, POST /api/v1/lois/verify, the door check-in),
# the analytics charts and suppression (bench/svgchart.c: no server), and prints
# "target | req/s | p50 | p99 | errors". Tears everything down on exit. Exit status 1 when a target
# could not be measured (the table says why).
#
# Open-loop rows (bench/openloop.c, issue 16 step 7): GET /api/v1/clubs/{id} at
# BENCH_OPENLOOP_CLUBS_RATE (10000), /auth/me at BENCH_OPENLOOP_ME_RATE (5000) and the member
# list and searches (bench/member.sh) at BENCH_OPENLOOP_MEMBERS_RATE (2000) and POST
# /api/v1/visits (bench/visits.sh, a new visit per request) at BENCH_OPENLOOP_VISITS_RATE (1000)
# requests/s offered,
# the issue's targets, for BENCH_OPENLOOP_SECONDS (5) over BENCH_OPENLOOP_CONNECTIONS
# (64): achieved rate, p50/p99/p99.9 from each request's scheduled time, CPU per request
# (server + PostgreSQL, and the generator's own). The open-loop rows run with the server's
# threads and the generator on every CPU (the targets are the 2-core box's); BENCH_OPENLOOP_PIN=1
# keeps the pins below for them too.
# Environment: BENCH_DURATION (5s), BENCH_CONNECTIONS (32), BENCH_THREADS (wrk threads, 1),
# BENCH_PIN (1 = servers on CPU 0, wrk on CPU 1 when there are 2+ CPUs), RECIPROCAL_HTTP_THREADS
# (8, used by both servers), RECIPROCAL_LOG_LEVEL (warn), KEEP_BENCH_ENV=1 keeps the temp dir,
# BENCH_SMTP (1: the service's mail goes to a local SMTP server that accepts and discards it; 0: none),
# BENCH_ONLY (comma-separated groups to run: hello, graphql, member, visits, settlement, charges,
# auth, ledger, governance (the votes cast and ledger-submitted, bench/governance_votes.sh),
# reports (the analytics 12-month club report at 1,000,000 visits over HTTP, bench/reports.sh),
# ingest (the analytics ingest end to end through JetStream, bench/ingest_e2e.sh, in a PostgreSQL
# and nats-server of its own; BENCH_INGEST_EVENTS, 20,000), mail (event -> mail accepted by the
# local SMTP server at 200 and 500 events/s, bench/mail_e2e.sh); empty
# = all; e.g. BENCH_ONLY=visits runs the server, /health/ready, the club read and the visit rows;
# the governance and analytics rows, which need no server, always run),
# BENCH_LEDGER_VERIFY_BLOCKS/_TXS (100/500) and BENCH_LEDGER_VERIFY_SCALE_BLOCKS (4000 blocks of
# 500: the >= 2 M-transaction "ledger verify at scale" row with its RSS samples; 0 skips it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck disable=SC2034 # read by scripts/pg.sh
RCP_LOG_TAG=bench
# shellcheck source=../scripts/pg.sh
source "$ROOT/scripts/pg.sh"
cd "$ROOT"

DURATION=${BENCH_DURATION:-5s}
CONNS=${BENCH_CONNECTIONS:-32}
WRK_THREADS=${BENCH_THREADS:-1}
HTTP_THREADS=${RECIPROCAL_HTTP_THREADS:-8}
BIN=${RECIPROCAL_BIN:-$ROOT/build/reciprocal}
RCP_BIN=$BIN # scripts/pg.sh: the NATS permissions come from the binary
HELLO=$ROOT/build/bench-hello

say() { printf '[bench] %s\n' "$*" >&2; }
# want GROUP: 0 when BENCH_ONLY is empty or names GROUP
want() { [[ -z ${BENCH_ONLY:-} || ",$BENCH_ONLY," == *",$1,"* ]]; }
# serverless: 0 when BENCH_SERVERLESS=0 (the rows that need no server, and the in-process analytics
# row, are skipped: an A/B of one server group, e.g. bench/governance_ab.sh, runs only that group)
serverless() { [[ ${BENCH_SERVERLESS:-1} != 0 ]]; }

SRV_PIN=()
WRK_PIN=()
if [[ ${BENCH_PIN:-1} == 1 ]] && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0)
    WRK_PIN=(taskset -c 1)
fi

TMP=
PG_DATA=
NATS_PIDFILE=
pids=()
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [[ -n $PG_DATA ]] && { rcp_pg_stop "$PG_DATA" || say "warning: PostgreSQL did not stop"; }
    [[ -n $NATS_PIDFILE ]] && rcp_nats_stop "$NATS_PIDFILE"
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ ${KEEP_BENCH_ENV:-0} == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in wrk curl jq cc pkg-config; do
    command -v "$tool" >/dev/null || {
        say "error: $tool not found (run make deps)"
        exit 1
    }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/reciprocal-bench.XXXXXX")
TMP=$(cd "$TMP" && pwd -P)
chmod 755 "$TMP"
mkdir -p "$TMP/log"

# results: one row per target
rows=()
errors=0
add_error_row() {
    rows+=("$1|error|-|-|$2")
    errors=$((errors + 1))
}

# Waits until a URL answers (any HTTP status) or the pid dies; 20 s.
wait_http() {
    local url=$1 pid=$2 i
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    return 1
}

# run_wrk NAME URL [WRK_ARGS...]: appends a row "name|req/s|p50|p99|notes". Extra arguments
# (-H 'Authorization: Bearer ...', -s script.lua) go to wrk before the URL.
run_wrk() {
    local name=$1 url=$2 out rps p50 p99 non2xx sockerr notes=""
    shift 2
    say "wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency $url${1:+ (+$# arguments)}"
    if ! out=$("${WRK_PIN[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" 2>&1)
    then
        add_error_row "$name" "wrk failed: $(tail -n 1 <<<"$out")"
        return
    fi
    printf '%s\n' "$out" >"$TMP/log/wrk-${name//[^a-zA-Z0-9]/_}.txt"
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    sockerr=$(sed -n 's/^ *Socket errors: *//p' <<<"$out")
    [[ -n $non2xx ]] && notes="non-2xx: $non2xx"
    [[ -n $sockerr ]] && notes="${notes:+$notes; }socket errors: $sockerr"
    if [[ -z $rps ]]; then
        add_error_row "$name" "no result from wrk: $(tail -n 1 <<<"$out")"
        return
    fi
    if [[ -n $non2xx ]]; then errors=$((errors + 1)); fi
    rows+=("$name|$(printf '%.0f' "$rps")|$p50|$p99|${notes:--}")
}

# run_openloop NAME RATE URL [-H 'Name: value']...: one open-loop run (bench/openloop.c: fixed
# arrival rate, latency from each request's scheduled send time, i.e. corrected for coordinated
# omission) of BENCH_OPENLOOP_SECONDS (5) with BENCH_OPENLOOP_CONNECTIONS (64), appending a row
# "NAME @ RATE/s offered|achieved req/s|p50|p99|p99.9, errors, unsent, CPU ms per request of the
# server + PostgreSQL" (the CPU from /proc: $srv_pid and the postmaster's children).
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
    local pm c sum=0
    pm=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) || { echo 0; return; }
    for c in $(pgrep -P "$pm"); do sum=$((sum + $(ticks "$c"))); done
    echo "$sum"
}
run_openloop() {
    local name=$1 rate=$2 url=$3 out s0 g0 s1 g1 kv cpu
    shift 3
    if [[ ! -x $ROOT/build/bench-openloop ]]; then
        add_error_row "$name @ $rate/s offered" "bench/openloop.c did not compile"
        return
    fi
    # The targets are the box's (2 cores): unless BENCH_OPENLOOP_PIN=1, the server's threads may
    # run on every CPU for the run (as PostgreSQL's always do) and the generator shares them; its
    # own CPU per request is reported in the row. The server goes back to its pin afterwards.
    local gen_pin=("${WRK_PIN[@]}") unpinned=0
    if [[ ${BENCH_OPENLOOP_PIN:-0} != 1 ]] && ((${#SRV_PIN[@]})); then
        gen_pin=()
        taskset -a -p -c "0-$(($(nproc) - 1))" "$srv_pid" >/dev/null 2>&1 && unpinned=1
    fi
    say "openloop -r $rate -d ${BENCH_OPENLOOP_SECONDS:-5} $url ($( ((unpinned)) && echo "server and generator not pinned" || echo "${gen_pin[*]:-not pinned}"))"
    s0=$(ticks "$srv_pid") g0=$(pg_ticks)
    out=$("${gen_pin[@]}" "$ROOT/build/bench-openloop" -u "$url" -r "$rate" \
        -d "${BENCH_OPENLOOP_SECONDS:-5}" -c "${BENCH_OPENLOOP_CONNECTIONS:-64}" "$@" 2>&1) || true
    s1=$(ticks "$srv_pid") g1=$(pg_ticks)
    if ((unpinned)); then taskset -a -p -c 0 "$srv_pid" >/dev/null 2>&1 || true; fi
    printf '%s\n' "$out" >"$TMP/log/openloop-${name//[^a-zA-Z0-9]/_}.txt"
    kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$out"; }
    if [[ -z $(kv achieved) ]]; then
        add_error_row "$name @ $rate/s offered" "no result: $(tail -n 1 <<<"$out")"
        return
    fi
    cpu=$(awk -v s=$((s1 - s0)) -v g=$((g1 - g0)) -v n="$(kv 'done')" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (n > 0) printf "%.3f + %.3f", s * 1000 / hz / n, g * 1000 / hz / n; else print "-" }')
    [[ $(kv errors) != 0 ]] && errors=$((errors + 1))
    rows+=("$name @ $rate/s offered (open loop$( ((unpinned)) && echo ", not pinned"))|$(kv achieved)|$(kv p50) ms|$(kv p99) ms|p99.9 $(kv p999) ms, errors $(kv errors), unsent $(kv unsent); CPU ms/req server + PostgreSQL $cpu (generator $(kv cpu_ms_per_req))")
}

# 1. hello-world baseline
if ! want hello; then
    :
else
say "building $HELLO"
mkdir -p "$ROOT/build"
# shellcheck disable=SC2046 # pkg-config output is meant to be split
if cc -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O2 \
    $(pkg-config --cflags libmicrohttpd) -o "$HELLO" bench/hello.c \
    $(pkg-config --libs libmicrohttpd) -lpthread; then
    port=$(rcp_free_port)
    "${SRV_PIN[@]}" "$HELLO" "$port" "$HTTP_THREADS" 2>"$TMP/log/hello.log" &
    hello_pid=$!
    pids+=("$hello_pid")
    if wait_http "http://127.0.0.1:$port/" "$hello_pid"; then
        run_wrk "hello (libmicrohttpd)" "http://127.0.0.1:$port/"
    else
        add_error_row "hello (libmicrohttpd)" "bench-hello did not start: $(tail -n 1 "$TMP/log/hello.log")"
    fi
    kill -TERM "$hello_pid" 2>/dev/null || true
    wait "$hello_pid" 2>/dev/null || true
else
    add_error_row "hello (libmicrohttpd)" "bench/hello.c did not compile"
fi
fi

# the open-loop driver (bench/openloop.c; rows "... (open loop)")
make -s build/bench-openloop 2>"$TMP/log/openloop-cc.log" || say "bench/openloop.c did not compile"

# 2. the service
server_ok=0
if [[ ! -x $BIN ]]; then
    say "error: $BIN not found (run make)"
else
    PG_DATA=$TMP/pg/data
    PG_PORT=$(rcp_free_port)
    NATS_PIDFILE=$TMP/nats.pid
    NATS_PORT=$(rcp_free_port)
    if rcp_pg_start "$PG_DATA" "$PG_PORT" "$TMP/log/postgresql.log" "$TMP/secrets.env" test &&
        rcp_pg_roles "$PG_PORT" "$TMP/secrets.env" &&
        rcp_nats_conf "$TMP/nats.conf" "$TMP/secrets.env" all &&
        rcp_nats_start "$TMP/nats" "$NATS_PORT" "$TMP/log/nats.log" "$NATS_PIDFILE" "$TMP/nats.conf"; then
        export RECIPROCAL_DATABASE_URL=$RCP_PG_APP_URL
        export RECIPROCAL_NATS_URL="nats://127.0.0.1:$NATS_PORT"
        export RECIPROCAL_NATS_USER=all
        RECIPROCAL_NATS_PASSWORD=$(rcp_nats_password "$TMP/secrets.env" all)
        export RECIPROCAL_NATS_PASSWORD
        export RECIPROCAL_BUS_KEY=${RECIPROCAL_BUS_KEY:-$(head -c 32 /dev/urandom | base64)}
        export RECIPROCAL_LOG_FORMAT=text
        export RECIPROCAL_LOG_LEVEL=${RECIPROCAL_LOG_LEVEL:-warn}
        export RECIPROCAL_HTTP_THREADS=$HTTP_THREADS
        # a local SMTP server that accepts every mail and keeps none (scripts/smtp_sink.py
        # --discard), so the mail a row's setup queues (letters issued, visits confirmed: ~3,400
        # in the visits group) is sent once, as a deployment's, instead of being refused and
        # retried 8 times over ~25 minutes on the same cores during every later row (stop 23,
        # docs/reciprocal.md "The merged stop 23"). BENCH_SMTP=0: none (the service's default
        # URL, 127.0.0.1:2525, then refuses: the retries of stop 22's figures)
        if [[ ${BENCH_SMTP:-1} == 1 ]]; then
            SMTP_PORT=$(rcp_free_port)
            /usr/bin/python3 "$ROOT/scripts/smtp_sink.py" "$SMTP_PORT" "$TMP/mail-sink" --discard \
                >"$TMP/log/smtp-sink.log" 2>&1 &
            pids+=($!)
            export RECIPROCAL_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
        fi
        # the governance vote rows drive the sweep themselves (bench/governance_votes.sh); the
        # ledger records job runs every second as deployed (the votes cast and submitted at
        # once), off with BENCH_GOV_SEQUENTIAL=1 (the bench's POST /sweep submits after the casts)
        export RECIPROCAL_GOVERNANCE_SWEEP_SECONDS=0
        RECIPROCAL_GOVERNANCE_LEDGER_SECONDS=1
        [[ ${BENCH_GOV_SEQUENTIAL:-0} == 1 ]] && RECIPROCAL_GOVERNANCE_LEDGER_SECONDS=0
        export RECIPROCAL_GOVERNANCE_LEDGER_SECONDS
        # the auth service's key-encryption key (no default; docs/auth.md)
        RECIPROCAL_AUTH_KEK=${RECIPROCAL_AUTH_KEK:-$(head -c 32 /dev/urandom | base64)}
        export RECIPROCAL_AUTH_KEK
        RECIPROCAL_LEDGER_KEK=${RECIPROCAL_LEDGER_KEK:-$(head -c 32 /dev/urandom | base64)}
        export RECIPROCAL_LEDGER_KEK
        # the home clubs' letter-signing keys (bench/visits.sh approves visits)
        RECIPROCAL_LOI_KEK=${RECIPROCAL_LOI_KEK:-$(head -c 32 /dev/urandom | base64)}
        export RECIPROCAL_LOI_KEK
        if ! out=$(RECIPROCAL_MIGRATE_DATABASE_URL=$RCP_PG_OWNER_URL "$BIN" migrate up 2>&1); then
            say "error: migrate up failed:"
            printf '%s\n' "$out" | tail -n 20 >&2
        else
            HTTP_PORT=$(rcp_free_port)
            export RECIPROCAL_LISTEN=127.0.0.1:$HTTP_PORT
            say "starting $BIN serve on 127.0.0.1:$HTTP_PORT (log level $RECIPROCAL_LOG_LEVEL)"
            "${SRV_PIN[@]}" "$BIN" serve >"$TMP/log/serve.log" 2>&1 &
            srv_pid=$!
            pids+=("$srv_pid")
            if wait_http "http://127.0.0.1:$HTTP_PORT/health/ready" "$srv_pid"; then
                server_ok=1
            else
                say "error: the service did not answer on 127.0.0.1:$HTTP_PORT; end of its log:"
                tail -n 20 "$TMP/log/serve.log" >&2
            fi
        fi
    else
        say "error: PostgreSQL or nats-server did not start"
    fi
fi

if ((server_ok)); then
    base=http://127.0.0.1:$HTTP_PORT
    ready=$(curl -s -o /dev/null -w '%{http_code}' "$base/health/ready" || true)
    if [[ $ready == 200 ]]; then
        run_wrk "GET /health/ready" "$base/health/ready"
    else
        add_error_row "GET /health/ready" "status $ready"
    fi

    # every route but health, login, refresh and JWKS needs a token: a network admin signs in
    admin_email=bench-admin@reciprocal.example
    admin_pw="bench $(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    login_body=$(jq -cn --arg e "$admin_email" --arg p "$admin_pw" '{email: $e, password: $p}')
    token=
    if out=$(RECIPROCAL_ADMIN_PASSWORD=$admin_pw "$BIN" auth create-admin --email "$admin_email" 2>&1)
    then
        login_json=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
            "$base/api/v1/auth/login" || true)
        token=$(jq -r '.access_token // empty' <<<"$login_json" 2>/dev/null || true)
        [[ -n $token ]] || say "error: login failed: $(head -c 200 <<<"$login_json")"
    else
        say "error: auth create-admin failed: $out"
    fi
    auth=(-H "Authorization: Bearer $token")

    body='{"name":"Bench Club","slug":"bench","timezone":"Europe/London","address":{"city":"London","country":"GB"}}'
    resp=$(curl -s -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
        "${auth[@]}" --data "$body" "$base/api/v1/clubs" || true)
    code=$(tail -n 1 <<<"$resp")
    json=$(sed '$d' <<<"$resp")
    club_id=$(jq -r '(.id // .club.id // .data.id // empty) | tostring' <<<"$json" 2>/dev/null || true)
    if [[ $code == 2?? && -n $club_id ]]; then
        say "created club $club_id"
        got=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base/api/v1/clubs/$club_id" ||
            true)
        if [[ $got == 200 ]]; then
            run_wrk "GET /api/v1/clubs/{id} (token)" "$base/api/v1/clubs/$club_id" "${auth[@]}"
            run_openloop "GET /api/v1/clubs/{id} (token)" "${BENCH_OPENLOOP_CLUBS_RATE:-10000}" \
                "$base/api/v1/clubs/$club_id" "${auth[@]}"
        else
            add_error_row "GET /api/v1/clubs/{id}" "status $got for GET /api/v1/clubs/$club_id"
        fi
    else
        add_error_row "GET /api/v1/clubs/{id}" \
            "POST /api/v1/clubs answered ${code:-nothing}: $(head -c 160 <<<"$json" | tr -d '\n')"
    fi

    # ---- GraphQL (issue 4): the same reads as REST — one club, and a page of 50 clubs
    if want graphql && [[ -n $club_id && -n $token ]]; then
        for ((i = 1; i < 50; i++)); do
            curl -s -o /dev/null -X POST -H 'Content-Type: application/json' "${auth[@]}" \
                --data "{\"name\":\"Bench Club $i\",\"slug\":\"bench-$i\",\"timezone\":\"UTC\",\"address\":{\"country\":\"GB\"}}" \
                "$base/api/v1/clubs" || true
        done
        run_wrk "GET /api/v1/clubs?limit=50 (token)" "$base/api/v1/clubs?limit=50" "${auth[@]}"
        gql_fields='id name slug status timezone address { lines city region postalCode country } latitude longitude contactEmail contactPhone website facilities createdAt updatedAt'
        jq -n --arg q "query { club(id: \"$club_id\") { $gql_fields } }" '{query: $q}' >"$TMP/gql-club.json"
        jq -n --arg q "query { clubs(first: 50) { edges { cursor node { $gql_fields } } pageInfo { hasNextPage endCursor } } }" \
            '{query: $q}' >"$TMP/gql-clubs.json"
        export BENCH_TOKEN=$token
        for t in club clubs; do
            name="POST /graphql $t $( [[ $t == club ]] && echo '(id:)' || echo '(first: 50)') (token)"
            n=$(curl -s -H 'Content-Type: application/json' "${auth[@]}" --data @"$TMP/gql-$t.json" \
                "$base/graphql" | jq -r 'if .errors then "errors" else ([.data.clubs.edges[]?] | length) end' 2>/dev/null || true)
            if [[ $n == errors || -z $n || ($t == clubs && $n != 50) ]]; then
                add_error_row "$name" "unexpected answer ($n)"
                continue
            fi
            export GRAPHQL_BODY=$TMP/gql-$t.json
            run_wrk "$name" "$base/graphql" -s "$ROOT/bench/graphql_post.lua"
        done
    fi

    # ---- member service (issue 6): 10,000-row CSV import, GET by id and prefix search in a
    # club of 100,000 members (bench/member.sh)
    # shellcheck source=member.sh
    if want member; then source "$ROOT/bench/member.sh"; fi

    # ---- reciprocal service (issue 11): POST /visits, the door (verify, check-in) (bench/visits.sh)
    # shellcheck source=visits.sh
    if want visits; then source "$ROOT/bench/visits.sh"; fi

    # ---- settlement (issue 12): 50 pairs' statements of 100,000 lines (bench/settlement.sh)
    # shellcheck source=settlement.sh
    if want settlement; then source "$ROOT/bench/settlement.sh"; fi
    # ---- charges (issue 12): one line per post and whole bills (bench/charges.sh)
    # shellcheck source=charges.sh
    if want charges; then source "$ROOT/bench/charges.sh"; fi

    # ---- auth service (issue 3)
    if ! want auth; then
        :
    elif [[ -n $token ]]; then
        # login: one argon2id verification per request, so req/s = password hashes/s by design
        {
            echo 'wrk.method = "POST"'
            echo 'wrk.headers["Content-Type"] = "application/json"'
            echo "wrk.body = [[$login_body]]"
        } >"$TMP/login.lua"
        # as many connections as server threads: more would only queue behind the hashes (and
        # hit wrk's 2 s timeout), the rate stays the same
        run_wrk "POST /api/v1/auth/login (argon2id, -c$HTTP_THREADS)" "$base/api/v1/auth/login" \
            -c "$HTTP_THREADS" -s "$TMP/login.lua"
        # me: access-token check in the gateway (RS256 once per token, then the verified-token
        # cache: all requests here send the same token) + one read of the account (one round trip)
        got=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base/api/v1/auth/me" || true)
        if [[ $got == 200 ]]; then
            run_wrk "GET /api/v1/auth/me (token)" "$base/api/v1/auth/me" "${auth[@]}"
            run_openloop "GET /api/v1/auth/me (token)" "${BENCH_OPENLOOP_ME_RATE:-5000}" \
                "$base/api/v1/auth/me" "${auth[@]}"
        else
            add_error_row "GET /api/v1/auth/me (token)" "status $got"
        fi
        # refresh: a token presented twice is a reuse (its session ends), so every connection
        # rotates its own chain: sign in once per connection (plus a spare per wrk thread: wrk
        # calls request() once more to check the script), then each answer's new token is what
        # the next request presents (bench/refresh.lua). One row per signing algorithm
        # (RECIPROCAL_JWT_ALG, issue 16): the server above signs with RS256 (the default); for
        # EdDSA and ES256 a second server on the same database is started with the variable set
        # (BENCH_JWT_ALGS, "EdDSA ES256"; empty = none)
        export BENCH_REFRESH_TOKENS=$TMP/refresh-tokens.txt BENCH_WRK_THREADS=$WRK_THREADS
        refresh_row() { # refresh_row ALG BASE
            local name="POST /api/v1/auth/refresh (rotation, $1)" i ntok
            : >"$BENCH_REFRESH_TOKENS"
            for ((i = 0; i < CONNS + 2 * WRK_THREADS; i++)); do
                curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
                    "$2/api/v1/auth/login" | jq -r '.refresh_token // empty' \
                    >>"$BENCH_REFRESH_TOKENS" || true
            done
            ntok=$(grep -c . "$BENCH_REFRESH_TOKENS" || true)
            if ((ntok >= CONNS)); then
                run_wrk "$name" "$2/api/v1/auth/refresh" -s "$ROOT/bench/refresh.lua"
            else
                add_error_row "$name" "only $ntok of $CONNS sign-ins worked"
            fi
        }
        refresh_row RS256 "$base"
        for alg in ${BENCH_JWT_ALGS-EdDSA ES256}; do
            alg_port=$(rcp_free_port)
            RECIPROCAL_JWT_ALG=$alg RECIPROCAL_LISTEN=127.0.0.1:$alg_port "${SRV_PIN[@]}" "$BIN" serve \
                >"$TMP/log/serve-$alg.log" 2>&1 &
            alg_pid=$!
            pids+=("$alg_pid")
            if wait_http "http://127.0.0.1:$alg_port/health/ready" "$alg_pid"; then
                refresh_row "$alg" "http://127.0.0.1:$alg_port"
            else
                add_error_row "POST /api/v1/auth/refresh (rotation, $alg)" "server did not start"
            fi
            kill -TERM "$alg_pid" 2>/dev/null || true
            wait "$alg_pid" 2>/dev/null || true
        done
    else
        add_error_row "POST /api/v1/auth/login (argon2id)" "no administrator token (see above)"
    fi

    # ---- ledger (issue 5): submit -> background cutter -> commit in PostgreSQL, Caliper style
    # (fixed send rate, 2 endorsements per tx, blind writes): bench/ledger_load.c
    # shellcheck disable=SC2046 # pkg-config output is meant to be split
    if ! want ledger; then
        :
    elif make -s build/bench-ledger-load 2>"$TMP/log/ledger-load-cc.log"; then
        lrate=${BENCH_LEDGER_RATE:-3000}
        lsecs=${BENCH_LEDGER_SECONDS:-5}
        # blind write and read-modify-write (bench/ledger.sh runs the same with durable PostgreSQL)
        for lmode in blind rmw; do for vb in 100 1024; do
            name="ledger $lmode submit->commit ${vb} B @${lrate}/s"
            say "ledger load: $lmode, $lrate tx/s for $lsecs s, $vb B values, 2 endorsements"
            if out=$("${WRK_PIN[@]}" "$ROOT/build/bench-ledger-load" "$lrate" "$lsecs" "$vb" "$lmode" 2>&1); then :; fi
            line=$(grep '^ledger-bench' <<<"$out" || true)
            if [[ -z $line ]]; then
                add_error_row "$name" "$(tail -n 1 <<<"$out")"
                continue
            fi
            kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
            [[ $(kv failed) == 0 ]] || errors=$((errors + 1))
            rows+=("$name|$(kv tps) tx/s|$(kv p50)ms|$(kv p99)ms|ok $(kv ok), failed $(kv failed), sent $(kv send_tps)/s, latency min/avg/max $(kv lat_ms_min)/$(kv avg)/$(kv max) ms; block ≤500 txs/20 ms; PostgreSQL fsync=$(kv pg_fsync) synchronous_commit=$(kv pg_synchronous_commit) (this script's test mode), JetStream fsync every 2 min")
        done; done
    else
        add_error_row "ledger submit->commit" "bench/ledger_load.c did not compile"
    fi

    # ---- governance (issue 15): network votes cast over REST and their ledger records submitted
    # (bench/governance_votes.sh)
    # shellcheck source=governance_votes.sh
    if want governance; then source "$ROOT/bench/governance_votes.sh"; fi

    # ---- analytics reports (issue 14): the 12-month club report and chart over HTTP for a club
    # with 1,000,000 visits seeded through the rebuild from the raw store (bench/reports.sh;
    # BENCH_REPORTS_BEFORE_BIN: the code before the monthly rollups, interleaved)
    # shellcheck source=reports.sh
    if want reports; then source "$ROOT/bench/reports.sh"; fi

    # ---- analytics (issue 14): batched ingest into the rollups and the 12-month report of a club
    # with 1,000,000 recorded visits (bench/analytics.c, in process against this PostgreSQL)
    if ! serverless; then :; elif make -s build/bench-analytics 2>"$TMP/log/analytics-cc.log"; then
        say "analytics: ingest ${BENCH_ANALYTICS_EVENTS:-100000} events, report over ${BENCH_ANALYTICS_VISITS:-1000000} visits"
        out=$("$ROOT/build/bench-analytics" "${BENCH_ANALYTICS_EVENTS:-100000}" \
            "${BENCH_ANALYTICS_VISITS:-1000000}" 50 1000 2>&1 || true)
        line=$(grep '^analytics-bench' <<<"$out" || true)
        if [[ -z $line ]]; then
            add_error_row "analytics" "$(tail -n 1 <<<"$out")"
        else
            kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
            rows+=("analytics ingest (batches of $(kv batch))|$(kv ingest_eps) events/s|-|-|$(kv events) events into raw store + rollups; goal >= 20,000/s")
            rows+=("analytics 12-month club report|-|$(kv p50_ms) ms|$(kv p99_ms) ms|$(kv visits) visits, $(kv runs) runs; goal p99 < 200 ms")
        fi
    else
        add_error_row "analytics" "bench/analytics.c did not compile"
    fi

    # ---- analytics ingest end to end (issue 14): visit events published on JetStream -> the
    # analytics consumers of `$BIN serve` (RECIPROCAL_SERVICES=analytics) -> rollups committed, in
    # a PostgreSQL and nats-server of its own (bench/ingest_e2e.sh + bench/ingest_e2e.c); CPU per
    # event of the server, PostgreSQL and nats-server from /proc
    if ! want ingest; then
        :
    elif make -s build/bench-ingest-e2e 2>"$TMP/log/ingest-e2e-cc.log"; then
        say "analytics ingest end to end: ${BENCH_INGEST_EVENTS:-20000} visit events through JetStream"
        out=$(BINS=$BIN INGEST_E2E_EVENTS=${BENCH_INGEST_EVENTS:-20000} "$ROOT/bench/ingest_e2e.sh" 2>&1 || true)
        printf '%s\n' "$out" >"$TMP/log/ingest-e2e.txt"
        line=$(grep '^ingest-e2e events=' <<<"$out" | tail -n 1 || true)
        if [[ -z $line ]]; then
            add_error_row "analytics ingest end to end" "$(tail -n 1 <<<"$out")"
        else
            kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
            [[ $(kv ok) == 1 ]] || errors=$((errors + 1))
            rows+=("analytics ingest end to end (JetStream -> consumer -> rollups)|$(kv eps) events/s|-|-|$(kv committed) of $(kv events) visit events rolled up (ok=$(kv ok)), load $(kv load); CPU µs/event: server $(kv server_us) + PostgreSQL $(kv pg_us) + nats-server $(kv nats_us) = $(kv cpu_us) (publisher $(kv pub_us), not counted); goal >= 20,000/s")
        fi
    else
        add_error_row "analytics ingest end to end" "bench/ingest_e2e.c did not compile"
    fi

    # ---- notification e2e (issue 13): event published on JetStream -> mail accepted by aiosmtpd
    # (bench/mail_e2e.sh + bench/mail_e2e.c, in process against this PostgreSQL and NATS). Two
    # rows: the latency goal (p99 < 2 s) at BENCH_MAIL_E2E_RATE (200) events/s for
    # BENCH_MAIL_E2E_SECS (30) s, and the throughput goal (>= 500 mails/s sustained) at
    # BENCH_MAIL_E2E_FAST_RATE (500) events/s for BENCH_MAIL_E2E_FAST_SECS (60) s: long enough for
    # a slowly growing backlog to show (sustained = accepted per second in the second half of the
    # run; drain = last accept after the last event). "error" only for mails not sent at all (the
    # bench waits as long as mails keep being accepted); a missed goal is reported, not failed.
    # The bench's own `serve` holds the notification service's durable consumers too: it would
    # take a share of the events and mail them elsewhere. It is stopped first (no row after these
    # needs it), so every event reaches the bench's in-process consumers.
    if want mail; then
        kill -TERM "$srv_pid" 2>/dev/null || true
        wait "$srv_pid" 2>/dev/null || true
    fi
    if ! want mail; then
        :
    elif make -s build/bench-mail-e2e 2>"$TMP/log/mail-e2e-cc.log"; then
        for run in "${BENCH_MAIL_E2E_RATE:-200} ${BENCH_MAIL_E2E_SECS:-30} p99 < 2 s" \
            "${BENCH_MAIL_E2E_FAST_RATE:-500} ${BENCH_MAIL_E2E_FAST_SECS:-60} >= 500 mails/s sustained"; do
            read -r r secs goal <<<"$run"
            say "mail e2e: $r events/s for $secs s"
            out=$(BENCH_MAIL_E2E_RATE=$r BENCH_MAIL_E2E_SECS=$secs PG_DATA=$PG_DATA \
                "$ROOT/bench/mail_e2e.sh" 2>&1 || true)
            line=$(grep '^mail-e2e-bench' <<<"$out" || true)
            kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
            if [[ -z $line ]] || grep -q '^not ok' <<<"$out"; then
                add_error_row "mail e2e @ $r events/s" "${line:+sent $(kv sent) of $(kv events); }$(grep -v '^ok\|^not ok\| bin=' <<<"$out" | tail -n 1)"
                continue
            fi
            rows+=("event -> mail accepted by aiosmtpd @ $(kv rate) events/s for $secs s|$(kv sustained_mps) mails/s sustained ($(kv mps) overall, $(kv sent) of $(kv events))|$(kv p50_ms) ms|$(kv p99_ms) ms|last quarter's p99 $(kv late_p99_ms) ms, drained $(kv drain_ms) ms after the last event; p99 per stage: consumer committed $(kv committed_p99_ms) ms, leased $(kv leased_p99_ms) ms, accepted $(kv accepted_p99_ms) ms; CPU per mail: service $(kv cpu_ms_per_mail) ms, aiosmtpd $(kv smtp_cpu_ms) ms, PostgreSQL $(kv pg_cpu_ms) ms; goal $goal")
        done
    else
        add_error_row "mail e2e" "bench/mail_e2e.c did not compile"
    fi
    # ---- ledger offline verifier (issue 17): a synthetic chain written as the streamed export,
    # then `reciprocal ledger verify` on it (bench/ledger_verify.c; no server involved). Two rows:
    # the default chain (100 x 500 txs), and one of >= 2 M transactions (4000 x 500; several
    # minutes, ~2.4 GB of export in $TMP while it runs; BENCH_LEDGER_VERIFY_SCALE_BLOCKS=0 skips
    # it) whose VmRSS, sampled every second, must stay flat over the quarters of the export read.
    # shellcheck disable=SC2046 # pkg-config output is meant to be split
    if ! want ledger; then
        :
    elif make -s build/bench-ledger-verify 2>"$TMP/log/ledger-verify-cc.log"; then
        # ledger_verify_row LABEL BLOCKS TXS: runs the bench, appends its row (or an error row)
        ledger_verify_row() {
            say "$1: $2 blocks x $3 txs, 2 endorsements each"
            local out line
            out=$("$ROOT/build/bench-ledger-verify" "$2" "$3" "$TMP/ledger-verify.ndjson" "$BIN" 0 \
                "$TMP/log/ledger-verify-$2x$3.rss" 2>&1 || true)
            rm -f "$TMP/ledger-verify.ndjson"
            line=$(grep '^ledger-verify-bench' <<<"$out" || true)
            if [[ -z $line ]]; then
                add_error_row "$1" "$(tail -n 1 <<<"$out")"
                return
            fi
            kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
            rows+=("$1: $(kv txs) txs|$(kv tx_s) tx/s|-|-|VmHWM $(kv hwm_mb) MB (VmRSS by quarter of the export read $(kv rss_q1_mb)/$(kv rss_q2_mb)/$(kv rss_q3_mb)/$(kv rss_q4_mb) MB, final checks $(kv rss_end_mb) MB, $(kv rss_samples) samples), wall $(kv wall_s) s, CPU $(kv cpu_s) s = $(kv us_cpu_per_tx) µs/tx ($(kv tx_s_per_core) tx/s per core), $(kv cpus) CPUs at load $(kv load), streamed export $(kv file_mb) MB in $(kv blocks) blocks")
        }
        ledger_verify_row "ledger verify" "${BENCH_LEDGER_VERIFY_BLOCKS:-100}" "${BENCH_LEDGER_VERIFY_TXS:-500}"
        if ((${BENCH_LEDGER_VERIFY_SCALE_BLOCKS:-4000} > 0)); then
            ledger_verify_row "ledger verify at scale" "${BENCH_LEDGER_VERIFY_SCALE_BLOCKS:-4000}" 500
        fi
    else
        add_error_row "ledger verify" "bench/ledger_verify.c did not compile"
    fi
else
    add_error_row "GET /health/ready" "service not running (see above)"
    add_error_row "GET /api/v1/clubs/{id}" "service not running (see above)"
fi

# ---- governance (issue 15): tallying a club-scope proposal of 10,000 votes, from the snapshot's
# and the votes' JSON to the canonical result (bench/governance_tally.c; no server involved)
if ! serverless; then :; elif make -s build/bench-governance-tally 2>"$TMP/log/governance-tally-cc.log"; then
    say "governance tally: 10,000 club-scope votes, 12,000 eligible"
    out=$("$ROOT/build/bench-governance-tally" 10000 50 2>&1 || true)
    line=$(grep '^governance-tally-bench' <<<"$out" || true)
    if [[ -z $line ]]; then
        add_error_row "governance tally" "$(tail -n 1 <<<"$out")"
    else
        kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
        [[ $(kv ok) == 1 ]] || errors=$((errors + 1))
        rows+=("governance tally: $(kv votes) votes|-|$(kv p50_ms)ms|-|wall min/median/max $(kv min_ms)/$(kv p50_ms)/$(kv max_ms) ms over $(kv runs) runs, CPU median $(kv cpu_p50_ms) ms (JSON in, canonical result out), the count alone $(kv core_p50_ms) ms; $(kv eligible) eligible; target < 100 ms")
    fi
else
    add_error_row "governance tally" "bench/governance_tally.c did not compile"
fi

# ---- analytics charts and suppression (issue 14; bench/svgchart.c, no server): each chart kind
# rendered BENCH_CHART_RUNS times (500), goal < 20 ms; suppression of a 100 x 12 table (1/10 runs)
if ! serverless; then :; elif make -s build/bench-svgchart 2>"$TMP/log/svgchart-cc.log"; then
    say "charts: ${BENCH_CHART_RUNS:-500} renders per kind"
    out=$("$ROOT/build/bench-svgchart" "${BENCH_CHART_RUNS:-500}" 2>&1 || true)
    if ! grep -q '^svgchart-bench' <<<"$out"; then
        add_error_row "chart rendering" "$(tail -n 1 <<<"$out")"
    fi
    while read -r line; do
        kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
        name=$(kv name)
        if [[ $name == suppress-* ]]; then
            rows+=("$name (k=11)|-|$(kv p50_ms) ms|$(kv p99_ms) ms|$(kv n) tables, CPU p50/p99 $(kv cpu_p50_ms)/$(kv cpu_p99_ms) ms, $(kv bytes) entries hidden on average")
        else
            rows+=("chart $name|-|$(kv p50_ms) ms|$(kv p99_ms) ms|$(kv n) renders, CPU p50/p99 $(kv cpu_p50_ms)/$(kv cpu_p99_ms) ms, $(kv bytes) B; goal < 20 ms")
        fi
    done < <(grep '^svgchart-bench' <<<"$out")
else
    add_error_row "chart rendering" "bench/svgchart.c did not compile"
fi

# ---- notification mail (issue 13; bench/mail.c, no service): notify_smtp_session_send, one
# SMTP session kept per sender, BENCH_MAIL_THREADS (8) senders, BENCH_MAIL_N (2000) mails to a local aiosmtpd writing a
# Maildir (scripts/smtp_sink.py, as make run); goal >= 500 mails/s
if ! serverless; then :; elif make -s build/bench-mail 2>"$TMP/log/mail-cc.log"; then
    mail_port=$(rcp_free_port)
    /usr/bin/python3 scripts/smtp_sink.py "$mail_port" "$TMP/mail" \
        >"$TMP/log/aiosmtpd.log" 2>&1 &
    mail_pid=$!
    sleep 2
    say "mail: ${BENCH_MAIL_N:-2000} mails, ${BENCH_MAIL_THREADS:-8} senders, aiosmtpd Maildir"
    out=$("$ROOT/build/bench-mail" "$mail_port" "${BENCH_MAIL_N:-2000}" \
        "${BENCH_MAIL_THREADS:-8}" 2>&1 || true)
    kill "$mail_pid" 2>/dev/null || true
    line=$(grep '^mail-bench' <<<"$out" || true)
    if [[ -z $line ]]; then
        add_error_row "mail to aiosmtpd" "$(tail -n 1 <<<"$out")"
    else
        kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
        rows+=("mail to aiosmtpd (SMTP, one session per sender)|$(kv rate) mails/s|$(kv p50_ms) ms|$(kv p99_ms) ms|$(kv sent) sent, $(kv failed) failed, $(kv threads) senders; goal >= 500 mails/s")
    fi
else
    add_error_row "mail to aiosmtpd" "bench/mail.c did not compile"
fi

# table
echo
echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency; server threads $HTTP_THREADS;" \
    "$( ((${#SRV_PIN[@]})) && echo "servers on CPU 0, wrk on CPU 1" || echo "not pinned")"
{
    echo "target|req/s|p50|p99|notes"
    echo "---|---|---|---|---"
    printf '%s\n' "${rows[@]}"
} | awk -F'|' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
    END { for (r = 1; r <= n; r++) { line = ""
            for (i = 1; i <= nf; i++) {
                v = c[r, i]; if (r == 2) { v = ""; while (length(v) < w[i]) v = v "-" }
                line = line (i > 1 ? " | " : "") sprintf(i == nf ? "%s" : "%-" w[i] "s", v) }
            print line } }'
((errors == 0))
