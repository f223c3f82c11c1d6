# bench/door_warm_ab.sh: a BENCH_VISIT_HOOK (bench/visits.sh) comparing the CPU and the statements
# of a FIRST door check-in across builds on a WARMED, UNSATURATED server (stop 25: the first
# check-in rows of stop 24 ran saturated on freshly started servers, where the CPU per check-in
# follows the achieved rate). BENCH_DOOR_WARM_BINS: "TAG=BIN TAG=BIN ..." (2 to 4 builds); for
# BENCH_DOOR_WARM_ROUNDS (3) rounds, in the list's order in odd rounds and reversed in even ones
# (ABBA for two builds), each turn:
#   - the build started on the bench's database, a fresh access token, 2 s of wrk on POST
#     /api/v1/lois/verify over the door pool (the pool's connections) and a warm-up open-loop row
#     of first check-ins at BENCH_DOOR_OPENLOOP_RATE for BENCH_DOOR_WARM_WARMUP_SECONDS (1) (the
#     pool's connections past their five custom plans of each door statement), then
#     BENCH_DOOR_FIRST_SETTLE (3) s of rest;
#   - pg_stat_statements reset (RCP_PG_PRELOAD=pg_stat_statements), per-thread ticks of the
#     server (/proc/<pid>/task, by thread name), per-process ticks of PostgreSQL (by pid: a
#     backend that exits in the window is lost, one that starts in it counts whole) and of
#     nats-server, then the measured open-loop row at BENCH_DOOR_OPENLOOP_RATE for
#     BENCH_DOOR_WARM_SECONDS (3) and BENCH_DOOR_WARM_AFTER (1.5) s after it (the relay, the
#     consumers and the ledger runner behind the check-ins);
#   - a line "dwa|ROUND|TAG|achieved/s|p99 ms|server ms|PostgreSQL ms|nats ms|statements|plans|
#     statement ms|load1" per check-in into $BENCH_DOOR_WARM_OUT/rows.txt (statements = calls
#     of pg_stat_statements with track = all, nested ones included; statement ms = exec + plan),
#     the statements (queryid, calls, plans, exec/plan ms) into ROUND-TAG.pgss, the server's
#     threads into ROUND-TAG.threads and PostgreSQL's processes by kind into ROUND-TAG.pg.
# Letters: the open-loop letters are made once (BENCH_DOOR_OPENLOOP_SECONDS x BENCH_VISIT_ROUNDS
# >= warm-up + measured seconds, without BENCH_VISIT_AB_BIN; e.g. rate 320, seconds 4, rounds 1)
# and used again by every turn: before it, with the previous server stopped, their visits go back
# to `confirmed` (checked_in_at and _by cleared) and their ledger records are deleted (the
# superuser, past RLS; then VACUUM of the two tables and a CHECKPOINT), so every turn's check-ins are first check-ins of the same visits on a
# server that has not cached their standings (the bench makes ~5 letters/s on a loaded box: a
# letter set per turn would take most of an hour). Their history rows stay, and analytics sees a
# visit checked in again (an upsert of a row it has): the same for every build after round 1's
# first turn, which is why the order rotates.
# bench/door_warm_cmp.sh summarises $BENCH_DOOR_WARM_OUT. Run (docs/reciprocal.md, stop 25):
#   BENCH_ONLY=visits BENCH_PIN=0 BENCH_SERVERLESS=0 BENCH_VISIT_ROUNDS=1 BENCH_DOOR_VISITS=10
#   BENCH_DOOR_OPENLOOP_RATE=320 BENCH_DOOR_OPENLOOP_SECONDS=4 RCP_PG_PRELOAD=pg_stat_statements
#   BENCH_VISIT_HOOK=bench/door_warm_ab.sh BENCH_DOOR_WARM_ROUNDS=4 BENCH_DOOR_WARM_OUT=/tmp/dwa
#   BENCH_DOOR_WARM_BINS="A=/tmp/a B=/tmp/b" bench/run.sh; bench/door_warm_cmp.sh /tmp/dwa
# shellcheck shell=bash disable=SC2154,SC2034 # variables come from and go to bench/run.sh and bench/visits.sh

dwa_db=${RCP_PG_SUPER_URL%/postgres}/reciprocal
dwa_out=${BENCH_DOOR_WARM_OUT:-$TMP/log/door-warm}
mkdir -p "$dwa_out"
# dwa_threads FILE: the server's threads, "name ticks" a line
dwa_threads() {
    for dwa_task in /proc/"$srv_pid"/task/*; do
        awk '{ gsub(/ /, "_"); printf "%s ", $0 }' "$dwa_task/comm" 2>/dev/null
        awk '{ sub(/^.*\) /, ""); split($0, f, " "); print f[12] + f[13] }' "$dwa_task/stat" 2>/dev/null
    done >"$1"
    return 0 # a thread or process gone meanwhile: its awk failed (bench/run.sh runs with set -e)
}
# dwa_pg FILE: PostgreSQL's processes, "pid kind ticks" a line (kind: "backend" for a client
# connection, else the process title's first word, e.g. autovacuum, walwriter)
dwa_pg() {
    dwa_pm=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null)
    for dwa_c in $(pgrep -P "$dwa_pm"); do
        dwa_k=$(tr '\0' ' ' 2>/dev/null <"/proc/$dwa_c/cmdline" | awk '{ print (/\(/ ? "backend" : $2) }') || true
        awk -v p="$dwa_c" -v k="${dwa_k:-gone}" '{ sub(/^.*\) /, ""); split($0, f, " "); print p, k, f[12] + f[13] }' \
            "/proc/$dwa_c/stat" 2>/dev/null
    done >"$1"
    return 0 # a thread or process gone meanwhile: its awk failed (bench/run.sh runs with set -e)
}
# dwa_reset: every checked-in visit back to confirmed (the bench's only check-ins are the
# open-loop rows': the hook runs no other row), every ledger record gone
dwa_reset() {
    psql -qAt "$dwa_db" -v ON_ERROR_STOP=1 -c "DELETE FROM reciprocal.visit_ledger_records" \
        -c "UPDATE reciprocal.visits SET status = 'confirmed', checked_in_at = NULL,
            checked_in_by = NULL WHERE status = 'checked_in'" \
        -c "VACUUM reciprocal.visits, reciprocal.visit_ledger_records" -c "CHECKPOINT" >/dev/null ||
        say "reset failed"
}
dwa_nats() { ticks "$(cat "$NATS_PIDFILE" 2>/dev/null || echo 0)"; }

psql -qAt "$RCP_PG_SUPER_URL" -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" \
    -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
psql -qAt "$dwa_db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 ||
    say "pg_stat_statements unavailable"
read -r -a dwa_bins <<<"${BENCH_DOOR_WARM_BINS:-}"
for ((dwa_r = 1; dwa_r <= ${BENCH_DOOR_WARM_ROUNDS:-3}; dwa_r++)); do
    dwa_order=("${dwa_bins[@]}")
    if ((dwa_r % 2 == 0)); then
        dwa_order=()
        for ((dwa_i = ${#dwa_bins[@]} - 1; dwa_i >= 0; dwa_i--)); do dwa_order+=("${dwa_bins[dwa_i]}"); done
    fi
    for dwa_tb in "${dwa_order[@]}"; do
        dwa_t=${dwa_tb%%=*} dwa_bin=${dwa_tb#*=}
        kill -TERM "$srv_pid" 2>/dev/null || true
        wait "$srv_pid" 2>/dev/null || true
        dwa_reset
        visit_openloop_used=0
        visits_serve "$dwa_bin" || { add_error_row "warm A/B" "$dwa_bin did not start"; break 2; }
        visits_login
        BENCH_LOI_TOKENS=$TMP/visit-tokens.txt "${WRK_PIN[@]}" wrk -t1 -c16 -d2s \
            -s "$ROOT/bench/visits_door.lua" "$base/api/v1/lois/verify" >/dev/null 2>&1 || true
        BENCH_DOOR_OPENLOOP_SECONDS=${BENCH_DOOR_WARM_WARMUP_SECONDS:-1}
        visits_openloop_checkin "POST /api/v1/visits/check-in (first, warm-up), round $dwa_r [$dwa_t]"
        say "${rows[-1]}"
        sleep "${BENCH_DOOR_FIRST_SETTLE:-3}"
        dwa_f=$dwa_out/$dwa_r-$dwa_t
        psql -qAt "$dwa_db" -c "SELECT pg_stat_statements_reset()" >/dev/null 2>&1
        dwa_threads "$dwa_f.t0"
        dwa_pg "$dwa_f.p0"
        dwa_n0=$(dwa_nats)
        BENCH_DOOR_OPENLOOP_SECONDS=${BENCH_DOOR_WARM_SECONDS:-3}
        visits_openloop_checkin "POST /api/v1/visits/check-in (first, warmed), round $dwa_r [$dwa_t]"
        sleep "${BENCH_DOOR_WARM_AFTER:-1.5}"
        dwa_threads "$dwa_f.t1"
        dwa_pg "$dwa_f.p1"
        dwa_n1=$(dwa_nats)
        dwa_load=$(awk '{ print $1 }' /proc/loadavg)
        dwa_ol=$(ls -t "$TMP"/log/openloop-*warmed*.txt | head -n 1)
        dwa_done=$(sed -n 's/.*\bdone=\([0-9]*\).*/\1/p' "$dwa_ol" | head -n 1)
        dwa_done=${dwa_done:-1}
        psql -qAt -F '|' "$dwa_db" -c "SELECT queryid, calls, plans, round(total_exec_time::numeric, 3),
            round(total_plan_time::numeric, 3), left(regexp_replace(query, '\s+', ' ', 'g'), 160)
            FROM pg_stat_statements ORDER BY calls DESC" >"$dwa_f.pgss" 2>&1
        awk -v n="$dwa_done" -v hz="$(getconf CLK_TCK)" 'NR == FNR { t0[$1] += $2; next }
            { t1[$1] += $2 } END { for (k in t1) printf "%s %.4f\n", k, (t1[k] - t0[k]) * 1000 / hz / n }' \
            "$dwa_f.t0" "$dwa_f.t1" | sort -k2 -rn >"$dwa_f.threads"
        awk -v n="$dwa_done" -v hz="$(getconf CLK_TCK)" 'NR == FNR { t0[$1] = $3; next }
            { k[$2] += $3 - ($1 in t0 ? t0[$1] : 0) } END { for (x in k) printf "%s %.4f\n", x, k[x] * 1000 / hz / n }' \
            "$dwa_f.p0" "$dwa_f.p1" | sort -k2 -rn >"$dwa_f.pg"
        awk -F'|' -v n="$dwa_done" -v hz="$(getconf CLK_TCK)" -v r="$dwa_r" -v t="$dwa_t" \
            -v row="${rows[-1]}" -v load="$dwa_load" -v nats=$((dwa_n1 - dwa_n0)) \
            -v srv="$(awk '{ s += $2 } END { printf "%.4f", s }' "$dwa_f.threads")" \
            -v pg="$(awk '{ s += $2 } END { printf "%.4f", s }' "$dwa_f.pg")" '
            { c += $2; p += $3; ms += $4 + $5 }
            END { split(row, x, "|"); sub(/ ms/, "", x[4])
                printf "dwa|%s|%s|%s|%s|%.3f|%.3f|%.3f|%.2f|%.3f|%.3f|%s\n", r, t, x[2], x[4], srv, pg,
                    nats * 1000 / hz / n, c / n, p / n, ms / n, load }' "$dwa_f.pgss" >>"$dwa_out/rows.txt"
        say "$(tail -n 1 "$dwa_out/rows.txt")"
    done
done
visits_serve "$BIN" || true
rounds=0
