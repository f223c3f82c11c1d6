# bench/visits_profile.sh: a BENCH_VISIT_HOOK (bench/visits.sh) that profiles POST /api/v1/visits:
# pg_stat_statements (with RCP_PG_PRELOAD=pg_stat_statements, planning tracked) reset, one
# run_wrk row, then per request the CPU of the server, of every PostgreSQL backend and of
# nats-server (/proc ticks over the run) and the 30 costliest statements (calls, plans,
# execution and planning µs per request) into BENCH_VISIT_PROFILE_OUT ($TMP/log/visits-profile.txt).
# BENCH_VISIT_PROFILE_SETTLE (3) seconds after the run are counted too (the consumers catching
# up behind the requests). BENCH_VISIT_PERF=FILE: perf record -g of the server and PostgreSQL's
# processes over the run into FILE.
# Run with BENCH_VISIT_ROUNDS=0.
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh and bench/visits.sh

vpf_nats_ticks() {
    local p
    p=$(cat "$NATS_PIDFILE" 2>/dev/null) || { echo 0; return; }
    ticks "$p"
}

vpf_out=${BENCH_VISIT_PROFILE_OUT:-$TMP/log/visits-profile.txt}
vpf_db=${RCP_PG_SUPER_URL%/postgres}/reciprocal
psql -qAt "$RCP_PG_SUPER_URL" -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" \
    -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
psql -qAt "$vpf_db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 ||
    say "pg_stat_statements unavailable"
visits_login
export BENCH_VISIT_START=$((visit_tomorrow_s + 500 * 86400))
sleep 3
psql -qAt "$vpf_db" -c "SELECT pg_stat_statements_reset()" >/dev/null 2>&1
vpf_s0=$(ticks "$srv_pid") vpf_g0=$(pg_ticks) vpf_n0=$(vpf_nats_ticks)
# BENCH_VISIT_PERF=FILE: perf record (every CPU, call graphs) over the run into FILE
if [[ -n ${BENCH_VISIT_PERF:-} ]]; then
    vpf_pids=$srv_pid,$(pgrep -P "$(head -n 1 "$PG_DATA/postmaster.pid")" | paste -sd,)
    perf record -g -p "$vpf_pids" -o "$BENCH_VISIT_PERF" -- sleep "${DURATION%s}" >/dev/null 2>&1 &
    vpf_perf=$!
fi
run_wrk "POST /api/v1/visits (profile)" "$base/api/v1/visits" -s "$ROOT/bench/visits_post.lua"
[[ -z ${vpf_perf:-} ]] || wait "$vpf_perf"
sleep "${BENCH_VISIT_PROFILE_SETTLE:-3}"
vpf_s1=$(ticks "$srv_pid") vpf_g1=$(pg_ticks) vpf_n1=$(vpf_nats_ticks)
vpf_f=$(ls -t "$TMP"/log/wrk-*.txt | head -n 1)
vpf_n=$(awk '/requests in/ { print $1 }' "$vpf_f")
{
    awk -v n="${vpf_n:-0}" -v s=$((vpf_s1 - vpf_s0)) -v g=$((vpf_g1 - vpf_g0)) \
        -v t=$((vpf_n1 - vpf_n0)) -v hz="$(getconf CLK_TCK)" -v row="${rows[-1]}" 'BEGIN {
        split(row, c, "|")
        printf "profile|%s req/s|p99 %s|requests %d|CPU ms per request: server %.3f + PostgreSQL %.3f + nats %.3f\n",
            c[2], c[4], n, n ? s * 1000 / hz / n : 0, n ? g * 1000 / hz / n : 0, n ? t * 1000 / hz / n : 0 }'
    echo "calls | plans | exec us/req | plan us/req | query"
    psql -qAt -F ' | ' "$vpf_db" -c "SELECT calls, plans,
        round((total_exec_time * 1000 / ${vpf_n:-1})::numeric, 1),
        round((total_plan_time * 1000 / ${vpf_n:-1})::numeric, 1),
        left(regexp_replace(query, '\s+', ' ', 'g'), 200)
        FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 40"
} >"$vpf_out" 2>&1
say "profile: $(head -n 1 "$vpf_out")"
