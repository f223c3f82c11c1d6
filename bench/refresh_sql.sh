#!/usr/bin/env bash
# bench/refresh_sql.sh: PostgreSQL's CPU per refresh-token rotation, with no server and no HTTP
# in the way (issue 16), A/B interleaved between two versions of auth.refresh_rotate. Usage:
#   bench/refresh_sql.sh BIN SQL_A SQL_B [ROUNDS] [N]
# One private PostgreSQL (bench/ab_lib.sh's ab_setup, migrated with BIN), a network
# administrator, BENCH_REFRESH_ROWS (100,000) used tokens; then ROUNDS (3) times, for A then B: SQL_A (SQL_B) run as the database owner
# (e.g. a migration's down and up file: the function version under test), a fresh session with
# one refresh token, and N (3000) rotations of its chain as the app role through psql, each the
# transaction the server sends (`db_write`: BEGIN, the scope's set_config, SELECT ... FROM
# auth.refresh_rotate(hash, new_hash, idle), COMMIT). Prints per run the rotations that
# answered ok and the PostgreSQL CPU ms per rotation (from /proc: psql's backend, read by the
# script before it ends, and the postmaster's other children meanwhile: autovacuum, the
# writers; nothing else runs against this cluster), then the median of each side.
set -euo pipefail

# shellcheck disable=SC2034 # read by bench/ab_lib.sh
RCP_LOG_TAG=bench-refresh-sql
BIN_A=$(realpath "${1:?usage: bench/refresh_sql.sh BIN SQL_A SQL_B [ROUNDS] [N]}")
BIN_B=$BIN_A
SQL_A=$(realpath "${2:?usage: bench/refresh_sql.sh BIN SQL_A SQL_B [ROUNDS] [N]}")
SQL_B=$(realpath "${3:?usage: bench/refresh_sql.sh BIN SQL_A SQL_B [ROUNDS] [N]}")
ROUNDS=${4:-3}
N=${5:-3000}
# shellcheck source=ab_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ab_lib.sh"
ab_setup

owner() { psql -qAt "$RCP_PG_OWNER_URL" -v ON_ERROR_STOP=1 "$@"; }
nil=00000000-0000-0000-0000-000000000000
# a table of a realistic size first: BENCH_REFRESH_ROWS (100,000) used tokens of one session
owner -c "SELECT set_config('app.network_admin', 'on', false);
    WITH s AS (INSERT INTO auth.sessions (club_id, user_id, expires_at)
               SELECT club_id, id, now() + interval '1 day' FROM auth.users
                WHERE club_id = '$nil' LIMIT 1 RETURNING club_id, id)
    INSERT INTO auth.refresh_tokens (club_id, session_id, token_hash, used_at)
    SELECT s.club_id, s.id, encode(sha256(g::text::bytea), 'hex'), now()
      FROM s, generate_series(1, ${BENCH_REFRESH_ROWS:-100000}) g" >/dev/null
owner -c "VACUUM ANALYZE auth.refresh_tokens" >/dev/null
for ((r = 1; r <= ROUNDS; r++)); do
    for which in A B; do
        sql=$SQL_A side=10
        [[ $which == B ]] && sql=$SQL_B side=11
        owner -f "$sql" >/dev/null
        # the chain's token hashes: random, as real ones (64 hex), one per step
        awk -v n="$N" -v seed="$RANDOM$r$side" 'BEGIN {
            srand(seed)
            for (i = 0; i <= n; i++) {
                h = ""
                for (k = 0; k < 8; k++) h = h sprintf("%08x", int(rand() * 4294967296))
                print h
            }
        }' >"$TMP/hashes.txt"
        first=$(head -n 1 "$TMP/hashes.txt")
        owner -c "SELECT set_config('app.network_admin', 'on', false);
            WITH s AS (INSERT INTO auth.sessions (club_id, user_id, expires_at)
                       SELECT club_id, id, now() + interval '1 day' FROM auth.users
                        WHERE club_id = '$nil' LIMIT 1 RETURNING club_id, id)
            INSERT INTO auth.refresh_tokens (club_id, session_id, token_hash)
            SELECT club_id, id, '$first' FROM s" >/dev/null
        # psql's backend exits with psql (and its CPU leaves /proc): the script itself writes
        # the backend's ticks before it ends
        awk -v q="'" 'BEGIN {
            print "SELECT pg_backend_pid() AS bpid \\gset"
            print "\\setenv BPID :bpid"
            scope = "SELECT set_config(" q "app.club_id" q ", " q q ", true), set_config(" q \
                "app.user_id" q ", " q q ", true), set_config(" q "app.network_admin" q ", " q \
                "off" q ", true), set_config(" q "app.relay" q ", " q q ", true), set_config(" q \
                "app.ledger_writer" q ", " q q ", true) \\g /dev/null"
        }
        NR > 1 {
            print "BEGIN;"
            print scope
            printf "SELECT r_outcome FROM auth.refresh_rotate(%s%s%s, %s%s%s, 604800);\n", q, prev, q, q, $1, q
            print "COMMIT;"
        }
        { prev = $1 }
        END { print "\\! awk " q "{ print $14 + $15 }" q " /proc/$BPID/stat >\"$TICKS_FILE\"" }' \
            "$TMP/hashes.txt" >"$TMP/chain.sql"
        g0=$(ab_pg_ticks)
        ok=$(TICKS_FILE=$TMP/backend.ticks psql -qAt "$RCP_PG_APP_URL" -f "$TMP/chain.sql" |
            grep -c '^ok$' || true)
        g1=$(ab_pg_ticks)
        # the backend's own CPU + what the other children (writers, autovacuum) spent meanwhile
        ms=$(awk -v b="$(cat "$TMP/backend.ticks")" -v g=$((g1 - g0)) -v n="$N" -v hz="$HZ" \
            'BEGIN { printf "%.3f", (b + g) * 1000 / hz / n }')
        printf 'refresh_rotate|%s|%s|%s ok|%s\n' "$which" "$r" "$ok" "$ms" | tee -a "$results"
    done
done
for which in A B; do
    echo "$which: PostgreSQL CPU ms per rotation, median $(awk -F'|' -v w="$which" '$2 == w {print $5}' "$results" | ab_med)"
done
