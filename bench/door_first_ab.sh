# bench/door_first_ab.sh: a BENCH_VISIT_HOOK (bench/visits.sh) for the CPU of a FIRST door
# check-in at the goal's rate: open-loop rows (bench/openloop.c -B, visits_openloop_checkin: each
# request checks in a letter not checked in before) at BENCH_DOOR_OPENLOOP_RATE offered for
# BENCH_DOOR_OPENLOOP_SECONDS, CPU per check-in of the server + PostgreSQL from /proc (the row's
# last column). Letters: run with BENCH_VISIT_ROUNDS=N so that visits.sh makes N x (2 in A/B)
# rows' worth; this hook then sets the rounds to 0 (the usual rows are not run).
#   - BENCH_DOOR_FIRST_PROFILE=1 (start PostgreSQL with RCP_PG_PRELOAD=pg_stat_statements): one
#     row on the running binary with pg_stat_statements reset before it, then the 40 costliest
#     statements per check-in (calls, plans, exec and plan µs per check-in) into
#     $TMP/log/door-first-profile.txt (printed), with the server's CPU per check-in by thread
#     name (/proc/<pid>/task: core names its threads, log_thread_name) over the row and
#     BENCH_DOOR_FIRST_PROFILE_AFTER (1) s of rest; BENCH_DOOR_FIRST_PROFILE_SETTLE (2) s of rest
#     before the row (the setup's backlog); BENCH_DOOR_FIRST_PERF=1 also records the server with
#     perf over the row and the rest: $TMP/log/door-first-perf.txt (by thread, library, symbol).
#   - BENCH_VISIT_AB_BIN=BIN: BENCH_DOOR_FIRST_PAIRS (3) ABBA pairs (A = the running binary, B =
#     BIN; A first in odd pairs, B first in even ones), each turn one open-loop row on a freshly
#     started server after a 2 s warm-up (wrk on POST /api/v1/lois/verify over the door pool: the
#     pool's connections) and BENCH_DOOR_FIRST_SETTLE (3) s of rest, rows tagged "pair P [A|B]".
#     BENCH_DOOR_FIRST_SQL_A / _B=FILE (optional): SQL run as the database owner before each turn
#     of A / B, the server stopped (a schema change's A/B on the one database both binaries
#     use, e.g. a migration's up file before A's turns and its down file before B's; a file
#     that fails stops the pairs with an error row).
#     BENCH_DOOR_FIRST_STMT=TEXT (optional; PostgreSQL started with
#     RCP_PG_PRELOAD=pg_stat_statements): pg_stat_statements reset before each turn's row, then
#     the statements whose normalised text (constants are $n) contains TEXT: calls, exec µs, shared blocks hit, dirtied and
#     written, and WAL bytes per call, into $TMP/log/door-first-stmt.txt (and said) per turn:
#     counts a loaded box does not blur.
# Run: BENCH_ONLY=visits BENCH_VISIT_HOOK=bench/door_first_ab.sh BENCH_DOOR_VISITS=10 ... bench/run.sh
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh and bench/visits.sh

dfa_db=${RCP_PG_SUPER_URL%/postgres}/reciprocal
# dfa_threads FILE: the server's threads, "name ticks" a line (utime + stime, /proc)
# (0 even when a thread ended meanwhile and its awk failed: bench/run.sh runs with set -e, and
# that failure ended two runs of three, bash printing "pop_var_context" as it unwound; stop 25)
dfa_threads() {
    for dfa_task in /proc/"$srv_pid"/task/*; do
        awk '{ gsub(/ /, "_"); printf "%s ", $0 }' "$dfa_task/comm" 2>/dev/null
        awk '{ sub(/^.*\) /, ""); split($0, f, " "); print f[12] + f[13] }' "$dfa_task/stat" 2>/dev/null
    done >"$1"
    return 0
}
if [[ ${BENCH_DOOR_FIRST_PROFILE:-0} == 1 ]]; then
    psql -qAt "$RCP_PG_SUPER_URL" -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" \
        -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
    psql -qAt "$dfa_db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 ||
        say "pg_stat_statements unavailable"
    visits_login
    sleep "${BENCH_DOOR_FIRST_PROFILE_SETTLE:-2}"
    psql -qAt "$dfa_db" -c "SELECT pg_stat_statements_reset()" >/dev/null 2>&1
    dfa_threads "$TMP/log/door-first-threads0.txt"
    dfa_perf=
    if [[ ${BENCH_DOOR_FIRST_PERF:-0} == 1 ]] && command -v perf >/dev/null; then
        # for the row and the rest after it (a fixed length: no kill or wait of a job here)
        perf record -q -F 999 -g -p "$srv_pid" -o "$TMP/log/door-first.perf.data" -- sleep \
            "$(awk -v s="${BENCH_DOOR_OPENLOOP_SECONDS:-2}" -v a="${BENCH_DOOR_FIRST_PROFILE_AFTER:-1}" \
                'BEGIN { printf "%d", s + a + 0.999 }')" >/dev/null 2>&1 &
        dfa_perf=$!
    fi
    visits_openloop_checkin "POST /api/v1/visits/check-in (first, profile)"
    sleep "${BENCH_DOOR_FIRST_PROFILE_AFTER:-1}"
    while [[ -n $dfa_perf ]] && kill -0 "$dfa_perf" 2>/dev/null; do sleep 0.2; done
    dfa_threads "$TMP/log/door-first-threads1.txt"
    dfa_n=$(awk -F'|' '{ print $2 }' <<<"${rows[-1]}")
    dfa_n=$(awk -v r="$dfa_n" -v s="${BENCH_DOOR_OPENLOOP_SECONDS:-2}" 'BEGIN { printf "%d", r * s }')
    {
        echo "${rows[-1]}"
        echo "calls | plans | exec us/check-in | plan us/check-in | query"
        psql -qAt -F ' | ' "$dfa_db" -c "SELECT calls, plans,
            round((total_exec_time * 1000 / ${dfa_n:-1})::numeric, 1),
            round((total_plan_time * 1000 / ${dfa_n:-1})::numeric, 1),
            left(regexp_replace(query, '\s+', ' ', 'g'), 240)
            FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 40"
    } >"$TMP/log/door-first-profile.txt" 2>&1
    # the server's CPU by thread name over the row and the 1 s after it (ms per check-in)
    {
        echo "server thread | ms per check-in"
        awk -v n="${dfa_n:-1}" -v hz="$(getconf CLK_TCK)" 'NR == FNR { t0[$1] += $2; next }
            { t1[$1] += $2 } END { for (k in t1) printf "%s | %.3f\n", k, (t1[k] - t0[k]) * 1000 / hz / n }' \
            "$TMP/log/door-first-threads0.txt" "$TMP/log/door-first-threads1.txt" | sort -t'|' -k2 -rn
    } >>"$TMP/log/door-first-profile.txt"
    if [[ -n $dfa_perf ]]; then
        perf report -i "$TMP/log/door-first.perf.data" --no-children --sort comm,dso,sym \
            --percent-limit 0.3 --stdio -g none 2>/dev/null | grep -v '^#' | grep . | head -120 \
            >"$TMP/log/door-first-perf.txt"
        perf report -i "$TMP/log/door-first.perf.data" --no-children --sort comm --stdio -g none \
            2>/dev/null | grep -v '^#' | grep . >>"$TMP/log/door-first-perf.txt"
    fi
    cat "$TMP/log/door-first-profile.txt" >&2
fi
if [[ -n ${BENCH_VISIT_AB_BIN:-} ]]; then
    BENCH_DOOR_FIRST_SQL_A=${BENCH_DOOR_FIRST_SQL_A:-}
    BENCH_DOOR_FIRST_SQL_B=${BENCH_DOOR_FIRST_SQL_B:-}
    for ((dfa_p = 1; dfa_p <= ${BENCH_DOOR_FIRST_PAIRS:-3}; dfa_p++)); do
        if ((dfa_p % 2)); then dfa_order=(A B); else dfa_order=(B A); fi
        for dfa_t in "${dfa_order[@]}"; do
            dfa_bin=$BIN
            [[ $dfa_t == A ]] || dfa_bin=$BENCH_VISIT_AB_BIN
            dfa_sql=$BENCH_DOOR_FIRST_SQL_A
            [[ $dfa_t == A ]] || dfa_sql=$BENCH_DOOR_FIRST_SQL_B
            if [[ -n $dfa_sql ]]; then
                kill -TERM "$srv_pid" 2>/dev/null || true
                wait "$srv_pid" 2>/dev/null || true
                psql -X -q -v ON_ERROR_STOP=1 "$RCP_PG_OWNER_URL" -f "$dfa_sql" >/dev/null 2>&1 || {
                    add_error_row "A/B" "$dfa_sql failed"
                    break 2
                }
            fi
            visits_serve "$dfa_bin" || { add_error_row "A/B" "$dfa_bin did not start"; break 2; }
            visits_login
            # warm up (the pool's connections, the letter read's plan; not counted) and let the
            # start's background work settle
            BENCH_LOI_TOKENS=$TMP/visit-tokens.txt "${WRK_PIN[@]}" wrk -t1 -c16 -d2s \
                -s "$ROOT/bench/visits_door.lua" "$base/api/v1/lois/verify" >/dev/null 2>&1 || true
            sleep "${BENCH_DOOR_FIRST_SETTLE:-3}"
            [[ -z ${BENCH_DOOR_FIRST_STMT:-} ]] ||
                psql -qAt "$dfa_db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
                    -c "SELECT pg_stat_statements_reset()" >/dev/null 2>&1
            # the visits' updates and HOT updates over the row (pg_stat_user_tables, 1.5 s after
            # it: the backends report at most once a second) and the indexes the turn ran with
            dfa_upd0=$(psql -qAt "$dfa_db" -c "SELECT n_tup_upd || ' ' || n_tup_hot_upd FROM
                pg_stat_user_tables WHERE relid = 'reciprocal.visits'::regclass" 2>/dev/null)
            visits_openloop_checkin "POST /api/v1/visits/check-in (first), pair $dfa_p [$dfa_t]"
            say "${rows[-1]}"
            sleep 1.5
            dfa_upd1=$(psql -qAt "$dfa_db" -c "SELECT n_tup_upd || ' ' || n_tup_hot_upd FROM
                pg_stat_user_tables WHERE relid = 'reciprocal.visits'::regclass" 2>/dev/null)
            say "pair $dfa_p [$dfa_t] visits updated / HOT over the row: $(awk -v a="$dfa_upd0" \
                -v b="$dfa_upd1" 'BEGIN { split(a, x, " "); split(b, y, " ");
                printf "%d / %d", y[1] - x[1], y[2] - x[2] }'); indexes: $(psql -qAt "$dfa_db" -c \
                "SELECT string_agg(indexrelid::regclass::text, ' ' ORDER BY indexrelid::regclass::text) FROM pg_index WHERE
                indrelid = 'reciprocal.visits'::regclass" 2>/dev/null)"
            if [[ -n ${BENCH_DOOR_FIRST_STMT:-} ]]; then
                psql -qAt -F ' | ' "$dfa_db" -v pat="${BENCH_DOOR_FIRST_STMT}" <<'SQL' |
SELECT calls, round((total_exec_time * 1000 / greatest(calls, 1))::numeric, 1),
       round(shared_blks_hit::numeric / greatest(calls, 1), 2),
       round(shared_blks_dirtied::numeric / greatest(calls, 1), 3),
       round(shared_blks_written::numeric / greatest(calls, 1), 3),
       round(wal_bytes / greatest(calls, 1), 0), left(regexp_replace(query, '\s+', ' ', 'g'), 80)
FROM pg_stat_statements WHERE strpos(query, :'pat') > 0 ORDER BY calls DESC
SQL
                    sed "s/^/pair $dfa_p [$dfa_t] calls | exec us | hit | dirtied | written | wal B (per call) | /" |
                    tee -a "$TMP/log/door-first-stmt.txt" | while read -r dfa_l; do say "$dfa_l"; done
            fi
        done
    done
    visits_serve "$BIN" || true
fi
rounds=0
