#!/usr/bin/env bash
# shellcheck disable=SC2154 # srv_pid, results, PG_DATA, RCP_PG_* come from bench/ab_lib.sh
# bench/outbox_ab.sh: the outbox relay's CPU per event, A/B interleaved (bench/ab_lib.sh).
# Usage: bench/outbox_ab.sh BIN_A BIN_B (absolute paths; B migrates the database).
# Each round serves one binary (every service: its relay reads every schema), then a psql session
# (the owner role, as network administrator) commits BENCH_OUTBOX_EVENTS (3000) events, one row
# per autocommit transaction into member.outbox (type member.bench_outbox, a subject the member
# service's NATS user may publish and no handler knows), about BENCH_OUTBOX_RATE (500) a second,
# like requests that each emit one event; the relay wakes on the
# NOTIFY of each commit and publishes to JetStream. The round ends when every row is published.
# Per event: the server's CPU and PostgreSQL's CPU (the backends alive at the end of the round:
# the pool's connections, which run the relay's statements, its LISTEN connection and the
# server's idle work, and the background writers; the inserting session has exited by then and
# is not counted) from /proc ticks. With pg_stat_statements loaded (ALTER SYSTEM at setup), the relay's statements' calls
# and plans are printed per round (plans == calls: planned on every run).
# Lines "outbox|CONFIG|round|events|s|server ms/event|PostgreSQL ms/event|the server's own
# PostgreSQL sessions' ms/event (user reciprocal_app: the relay's statements)" go to $results and
# stderr; BENCH_OUTBOX_PAIRS (3) pairs A/B/A/B...
set -euo pipefail
# shellcheck disable=SC2034 # read by bench/ab_lib.sh
RCP_LOG_TAG=outbox_ab
BIN_A=${1:?usage: bench/outbox_ab.sh BIN_A BIN_B}
BIN_B=${2:?usage: bench/outbox_ab.sh BIN_A BIN_B}
EVENTS=${BENCH_OUTBOX_EVENTS:-3000}
RATE=${BENCH_OUTBOX_RATE:-500}
PAIRS=${BENCH_OUTBOX_PAIRS:-3}
# shellcheck source=ab_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ab_lib.sh"
ab_setup
PSQL=$RCP_PG_BIN/psql
pg_port=${RCP_PG_APP_URL##*:}
pg_port=${pg_port%%/*}
"$PSQL" -qAt "$RCP_PG_SUPER_URL" -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
rcp_pg_ctl restart "$PG_DATA" "$pg_port" "$TMP/log/postgresql.log"
"$PSQL" -qAt "$RCP_PG_SUPER_URL" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
    -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" -c "SELECT pg_reload_conf()" \
    >/dev/null 2>&1 || say "pg_stat_statements unavailable: no calls/plans figures"

# one autocommit transaction per event (each commit NOTIFYs the relay, as a request's would),
# paced by a pg_sleep between them
insert_events() {
    awk -v n="$EVENTS" -v rate="$RATE" -v q="'" 'BEGIN {
        print "SET app.network_admin = " q "on" q ";"
        for (i = 1; i <= n; i++) {
            printf "INSERT INTO member.outbox (type, subject, payload) VALUES "
            printf "(%smember.bench_outbox%s, %sevents.member.bench_outbox%s, %s{\"i\": %d}%s);\n", q, q, q, q, q, i, q
            printf "SELECT pg_sleep(%.4f);\n", 1 / rate
        }
    }' >"$TMP/events.sql"
    "$PSQL" -qAt "$RCP_PG_OWNER_URL" -v ON_ERROR_STOP=1 -f "$TMP/events.sql" >/dev/null
}

pending() {
    "$PSQL" -qAt "$RCP_PG_OWNER_URL" -c "SET app.network_admin = 'on'" \
        -c "SELECT count(*) FROM member.outbox WHERE published_at IS NULL" 2>/dev/null | tail -n 1
}

# CPU ticks of the server's own PostgreSQL sessions (the pool and the LISTEN connection of user
# reciprocal_app): the relay's statements, without the background writers' work on the inserts
app_ticks() {
    local pid sum=0
    for pid in $("$PSQL" -qAt "$RCP_PG_SUPER_URL" -c "SELECT pid FROM pg_stat_activity
            WHERE usename = 'reciprocal_app' AND backend_type = 'client backend'"); do
        sum=$((sum + $(ab_ticks "$pid")))
    done
    echo "$sum"
}

stmt_stats() {
    "$PSQL" -qAt "$RCP_PG_SUPER_URL" -c "SELECT calls, plans, left(regexp_replace(query, '\s+', ' ', 'g'), 70)
        FROM pg_stat_statements WHERE query LIKE '%.outbox %' AND query NOT LIKE '%pg_stat_statements%'
        AND calls > 5 ORDER BY calls DESC LIMIT 4" | sed 's/^/    /' >&2 || true
}

round() {
    local config=$1 bin=$2 r=$3 s0 g0 a0 s1 g1 a1 t0 t1 i
    ab_start "$bin"
    sleep 2
    "$PSQL" -qAt "$RCP_PG_SUPER_URL" -c "SELECT pg_stat_statements_reset()" >/dev/null 2>&1 || true
    s0=$(ab_ticks "$srv_pid") g0=$(ab_pg_ticks) a0=$(app_ticks) t0=$(date +%s.%N)
    insert_events
    for ((i = 0; i < 600; i++)); do
        [[ $(pending) == 0 ]] && break
        sleep 0.1
    done
    s1=$(ab_ticks "$srv_pid") g1=$(ab_pg_ticks) a1=$(app_ticks) t1=$(date +%s.%N)
    printf 'outbox|%s|%s|%s|%s|%s|%s\n' "$config" "$r" "$EVENTS" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
        "$(ab_cpu $((s1 - s0)) $((g1 - g0)) "$EVENTS")" \
        "$(awk -v t=$((a1 - a0)) -v hz="$HZ" -v n="$EVENTS" 'BEGIN { printf "%.3f", t * 1000 / hz / n }')" |
        tee -a "$results" >&2
    stmt_stats
    ab_stop
}

for ((p = 1; p <= PAIRS; p++)); do
    round A "$BIN_A" "$p"
    round B "$BIN_B" "$p"
done
awk -F'|' '{ s[$2] = s[$2] " " $6; g[$2] = g[$2] " " $7; a[$2] = a[$2] " " $8 }
    END { for (c in s) printf "%s: server ms/event%s; PostgreSQL ms/event%s; of it the server'"'"'s sessions%s\n", c, s[c], g[c], a[c] }' \
    "$results" >&2
