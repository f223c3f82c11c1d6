# bench/visits_ab_lib.sh: the plumbing the A/B hooks of bench/visits.sh share (bench/visits_cpu_ab.sh,
# bench/door_cpu_ab.sh), sourced by them, never run. It runs inside bench/run.sh's shell (run_wrk,
# ticks, pg_ticks, rows, say, add_error_row) after bench/visits.sh's setup (visits_serve, the door
# pool $TMP/visit-tokens.txt). (bench/ab_lib.sh is the plumbing of the standalone A/B scripts,
# which start a PostgreSQL and nats-server of their own and define their own say, DURATION and
# CONNS: it is not for hooks.)
#   visits_ab_row OUT KIND DIGITS NATS NAME URL LUA TAG
#        one run_wrk row NAME+TAG (wrk script LUA) with its CPU per request: appends
#        "KIND|NAME|TAG|req/s|p99|server ms|PostgreSQL ms" (and "|nats ms" when NATS is 1), CPU
#        ms with DIGITS decimals, to OUT and says it. CPU from /proc ticks over the run divided by
#        the requests (includes the background work the requests cause).
#        BENCH_VISIT_CPU_SETTLE (0) seconds after the run are counted too (consumers catching
#        up, a lingering consumer's last batch). BENCH_VISIT_CPU_STMTS=WORD (with
#        RCP_PG_PRELOAD=pg_stat_statements): pg_stat_statements reset before the run, then
#        "|stmts WORD: ms, calls" per request appended: the execution + planning time and the
#        calls of the statements whose text holds WORD (e.g. analytics: its consumers' share).
#   visits_ab_pairs SLICE ROWS
#        BENCH_VISIT_CPU_PAIRS (3) interleaved pairs: the door pool split into 2 x pairs slices
#        ($TMP/SLICE-slice-N.txt), then per pair A (the running binary, $BIN) and B
#        ($BENCH_VISIT_AB_BIN) served in turn, ABBA (B first in odd pairs), each running `ROWS " [A]"|" [B]" SLICE_FILE`;
#        A serves again at the end. BENCH_VISIT_AB_SQL_A / BENCH_VISIT_AB_SQL_B: SQL files run (as
#        the superuser, on the reciprocal database) before each A / B turn, for a change that is
#        a migration only (both binaries serve the same database): e.g. a migration's up before
#        A and its down before B.
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh and bench/visits.sh

# visits_ab_nats_ticks: nats-server's CPU ticks (0 when it is not found).
visits_ab_nats_ticks() {
    local p
    p=$(cat "$NATS_PIDFILE" 2>/dev/null) || { echo 0; return; }
    ticks "$p"
}

# visits_ab_stmts N: "|stmts WORD: ms, calls" per request of N (BENCH_VISIT_CPU_STMTS), else "".
visits_ab_stmts() {
    [[ -n ${BENCH_VISIT_CPU_STMTS:-} ]] || return 0
    psql -qAt "${RCP_PG_SUPER_URL%/postgres}/reciprocal" -c "SELECT format('|stmts %s: %s ms, %s calls',
        '$BENCH_VISIT_CPU_STMTS', round((sum(total_exec_time + total_plan_time) / $1)::numeric, 3),
        round(sum(calls) / $1.0, 2)) FROM pg_stat_statements WHERE query ILIKE '%$BENCH_VISIT_CPU_STMTS%'" \
        2>/dev/null || true
    # the costliest of them, per request, into OUT.stmts (ms | calls | query)
    psql -qAt -F ' | ' "${RCP_PG_SUPER_URL%/postgres}/reciprocal" -c "SELECT
        round(((total_exec_time + total_plan_time) / $1)::numeric, 3), round(calls / $1.0, 3),
        left(regexp_replace(query, '\s+', ' ', 'g'), 120) FROM pg_stat_statements
        WHERE query ILIKE '%$BENCH_VISIT_CPU_STMTS%' ORDER BY 1 DESC LIMIT 12" \
        >>"$BENCH_VISIT_CPU_OUT.stmts" 2>/dev/null || true
}

visits_ab_row() {
    local out=$1 kind=$2 digits=$3 nats=$4 name=$5 url=$6 lua=$7 tag=$8 s0 g0 n0=0 s1 g1 n1=0 f n
    [[ -z ${BENCH_VISIT_CPU_STMTS:-} ]] ||
        psql -qAt "${RCP_PG_SUPER_URL%/postgres}/reciprocal" -c "CREATE EXTENSION IF NOT EXISTS
            pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null 2>&1 || true
    s0=$(ticks "$srv_pid") g0=$(pg_ticks)
    [[ $nats == 1 ]] && n0=$(visits_ab_nats_ticks)
    run_wrk "$name$tag" "$url" -s "$lua"
    sleep "${BENCH_VISIT_CPU_SETTLE:-0}"
    s1=$(ticks "$srv_pid") g1=$(pg_ticks)
    [[ $nats == 1 ]] && n1=$(visits_ab_nats_ticks)
    f=$(ls -t "$TMP"/log/wrk-*.txt | head -n 1)
    n=$(awk '/requests in/ { print $1 }' "$f")
    awk -v kind="$kind" -v d="$digits" -v nats="$nats" -v name="$name" -v tag="$tag" \
        -v n="${n:-0}" -v s=$((s1 - s0)) -v g=$((g1 - g0)) -v t=$((n1 - n0)) \
        -v hz="$(getconf CLK_TCK)" -v row="${rows[-1]}" 'BEGIN {
            split(row, c, "|")
            f = "%." d "f"
            line = sprintf("%s|%s|%s|%s|%s|" f "|" f, kind, name, tag, c[2], c[4],
                n ? s * 1000 / hz / n : 0, n ? g * 1000 / hz / n : 0)
            if (nats == 1) line = line sprintf("|" f, n ? t * 1000 / hz / n : 0)
            printf "%s", line }' >>"$out"
    [[ -z ${BENCH_VISIT_CPU_STMTS:-} ]] || echo "$name$tag" >>"$out.stmts"
    printf '%s\n' "$( ((${n:-0} > 0)) && visits_ab_stmts "$n")" >>"$out"
    say "$(tail -n 1 "$out")"
}

# visits_ab_sql FILE: FILE run on the reciprocal database as the superuser (nothing when empty).
visits_ab_sql() {
    [[ -n $1 ]] || return 0
    psql -qAt -v ON_ERROR_STOP=1 "${RCP_PG_SUPER_URL%/postgres}/reciprocal" -f "$1" >/dev/null
}

visits_ab_pairs() {
    local vl_slice=$1 vl_rows_fn=$2 vl_n=${BENCH_VISIT_CPU_PAIRS:-3} vl_i vl_r vl_k
    for ((vl_i = 0; vl_i < 2 * vl_n; vl_i++)); do
        awk -v n=$((2 * vl_n)) -v i="$vl_i" '(NR - 1) % n == i' "$TMP/visit-tokens.txt" \
            >"$TMP/$vl_slice-slice-$vl_i.txt"
    done
    # A then B in even pairs, B then A in odd ones (ABBA: the second turn of a pair ran slower
    # in most pairs on the loaded box, whichever binary it was)
    for ((vl_r = 0; vl_r < vl_n; vl_r++)); do
        for vl_k in 0 1; do
            if (((vl_k + vl_r) % 2 == 0)); then
                visits_ab_sql "${BENCH_VISIT_AB_SQL_A:-}" || { add_error_row "A/B" "A's SQL failed"; break 2; }
                visits_serve "$BIN" || { add_error_row "A/B" "$BIN did not start"; break 2; }
                "$vl_rows_fn" " [A]" "$TMP/$vl_slice-slice-$((2 * vl_r + vl_k)).txt"
            else
                visits_ab_sql "${BENCH_VISIT_AB_SQL_B:-}" || { add_error_row "A/B" "B's SQL failed"; break 2; }
                visits_serve "$BENCH_VISIT_AB_BIN" || { add_error_row "A/B" "B did not start"; break 2; }
                "$vl_rows_fn" " [B]" "$TMP/$vl_slice-slice-$((2 * vl_r + vl_k)).txt"
            fi
        done
    done
    visits_ab_sql "${BENCH_VISIT_AB_SQL_A:-}" || true
    visits_serve "$BIN" || true
}
