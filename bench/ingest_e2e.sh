#!/usr/bin/env bash
# bench/ingest_e2e.sh: the analytics ingest end to end through JetStream (issue 14, `make bench`
# group "ingest"; docs/analytics.md "Ingest speed: end to end"). For each binary of BINS (default
# build/reciprocal), INGEST_E2E_ROUNDS (1) times, interleaved (A B A B ...): a fresh PostgreSQL
# cluster and nats-server (scripts/pg.sh, in a temp dir), `BIN migrate up`, `BIN serve` with
# RECIPROCAL_SERVICES=analytics (only the analytics consumers take the events), then
# build/bench-ingest-e2e publishes INGEST_E2E_EVENTS (20,000) visit events on JetStream and waits
# until the raw store holds them all (rolled up in the same transactions). Prints per run:
# ingest-e2e bin=.. events=.. eps=.. (events / first publish -> last commit) and the CPU per event
# in µs of the server (its /proc utime + stime), PostgreSQL (the postmaster's utime + stime +
# reaped children's, plus its live children: backends, autovacuum, checkpointer, WAL writer) and
# nats-server, and their sum: cpu_us; then per binary the medians. The publisher's own CPU (the
# bench client: asynchronous JetStream publishes, 1,000 acks pending at most) is not in cpu_us:
# pub_us, its CPU per event while publishing, is printed beside. The NATS users' permissions
# come from each binary (RCP_BIN). idle_cpu: the three's CPU (% of one core) in the 5 s after the
# last commit, the consumers polling an idle stream. Exit status 1 when a run failed or did not roll up every event.
# INGEST_E2E_RATE (events/s, default 0 = as fast as it can): paced publishing (bench/ingest_e2e.c),
# the consumers' batches then hold what arrives at that rate (a lingering consumer's case).
# INGEST_E2E_PUBS="PA PB" gives each binary of BINS its own publisher (a bench-ingest-e2e built
# with that binary's core/bus.c: its publishes are the outbox relay's), default $PUB for all.
# What nats_us counts: everything nats-server does from the first publish to the last commit,
# i.e. storing the publishes (file store, Nats-Msg-Id de-duplication, publish acks) AND the
# consumers' pull deliveries and per-message acks. INGEST_E2E_SPLIT=1 separates them: the server
# is stopped (SIGSTOP) while the publisher fills the stream, nats_pub_us = nats-server's CPU per
# event for the publishes alone, then the server continues on the backlog and the figures
# (server_us, pg_us, nats_us) are the consumption alone (no eps: the count is polled by psql).
# INGEST_E2E_PG_SPLIT=1 breaks pg_us down (docs/analytics.md "where PostgreSQL's CPU goes"): the
# postmaster's children are sampled every 0.1 s during the run (/proc ticks and process title),
# pg_split= prints µs per event per kind: backend, autovacuum worker, autovacuum launcher,
# walwriter, checkpointer, background writer, the postmaster itself, and unseen (reaped children
# not sampled before they ended: mostly autovacuum workers shorter than 0.1 s); pg_wal= the
# WAL per event (bytes, records, full-page images, pg_stat_wal); then per analytics table
# (pg_tables= lines): rows inserted / updated / HOT-updated / deleted, autovacuum and autoanalyze
# runs, TOAST rows written; pg_autovacuum= autovacuum's CPU per table (log_autovacuum_min_duration
# = 0, the eight largest; runs until the statistics are read, so the idle 5 s included).
# The statistics are read after the run (their psql sessions count in idle_cpu, not in pg_us).
# INGEST_E2E_PGSS=1: the cluster preloads pg_stat_statements (track = all: nested statements
# counted in their callers too), reset just before the run; after it, pgss= lines give the 20
# statements with the most execution time, in µs of wall time per event, with calls and rows,
# and pgss_batches= the analytics.ingest calls and the events per call (docs/analytics.md,
# stop 24).
# INGEST_E2E_ENV="VAR=value ..." adds settings to the server's environment (every binary), e.g.
# RECIPROCAL_ANALYTICS_RETENTION_DAYS=30: events older than that (most of the bench's, dated over
# the 365 days before today) are then claimed in the inbox (docs/analytics.md "Ingest speed:
# facts as text (stop 22)"); by default none is, as a deployment's fresh events.
# Usage: bench/ingest_e2e.sh  (BINS="A B" to compare builds; INGEST_E2E_EVENTS, _ROUNDS, _RATE, _PUBS)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck disable=SC2034 # read by scripts/pg.sh
RCP_LOG_TAG=ingest-e2e
# shellcheck source=../scripts/pg.sh
source "$ROOT/scripts/pg.sh"
BINS=${BINS:-$ROOT/build/reciprocal}
EVENTS=${INGEST_E2E_EVENTS:-20000}
ROUNDS=${INGEST_E2E_ROUNDS:-1}
PUB=$ROOT/build/bench-ingest-e2e
HZ=$(getconf CLK_TCK)

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# the cluster's CPU ticks so far: the postmaster (self + reaped children) and its live children
pg_ticks() {
    local pm=$1 t c
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat" 2>/dev/null || echo 0)
    for c in $(pgrep -P "$pm" || true); do t=$((t + $(ticks "$c"))); done
    echo "$t"
}
# pg_sample PM: "pid ticks kind" of each live child of the postmaster PM (builtins only but pgrep)
pg_sample() {
    local c f t
    for c in $(pgrep -P "$1" || true); do
        read -r -a f 2>/dev/null <"/proc/$c/stat" || continue
        IFS= read -r -d '' t 2>/dev/null <"/proc/$c/cmdline"
        case $t in
        *"autovacuum worker"*) t=autovacuum_worker ;;
        *"autovacuum launcher"*) t=autovacuum_launcher ;;
        *walwriter*) t=walwriter ;;
        *checkpointer*) t=checkpointer ;;
        *"background writer"*) t=bgwriter ;;
        *"logical replication launcher"*) t=logical_launcher ;;
        *) t=backend ;;
        esac
        echo "$c $((f[13] + f[14])) $t"
    done
}
# pg_split_sampler PM OUT: appends a sample to OUT every 0.1 s ("S" lines separate them)
pg_split_sampler() {
    while :; do
        echo S
        pg_sample "$1"
        sleep 0.1
    done >>"$2"
}
# pg_split_report PM_SELF_TICKS PM_REAPED_TICKS FILE: the µs per event per kind. FILE holds the
# first sample (B lines), every later sample, and the final one (E lines): a pid's ticks are
# last seen - first seen (0 when born during the run); reaped children's CPU not seen by a
# sample is "unseen".
pg_split_report() {
    awk -v self="$1" -v reaped="$2" -v hz="$HZ" -v n="$EVENTS" '
        $1 == "B" { base[$2] = $3; kind[$2] = $4; next }
        $1 == "S" { next }
        $1 == "E" { fin[$2] = 1; last[$2] = $3; kind[$2] = $4; next }
        { last[$1] = $2; kind[$1] = $3 }
        END {
            dead = 0
            for (p in last) {
                d = last[p] - base[p]
                by[kind[p]] += d
                if (!(p in fin)) dead += d
            }
            by["postmaster"] = self
            by["unseen"] = reaped - dead
            out = ""
            for (k in by) out = out sprintf("%s%s=%.1f", out == "" ? "" : ",", k, by[k] / hz * 1e6 / n)
            print out
        }' "$3"
}
us() { awk -v d="$1" -v hz="$HZ" -v n="$EVENTS" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }'; }

TMP=$(mktemp -d /tmp/ingest-e2e.XXXXXX)
PG_DATA="" NATS_PIDFILE="" srv=""
stop_all() {
    [[ -n $srv ]] && { kill -TERM "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; }
    srv=""
    [[ -n $PG_DATA ]] && { rcp_pg_stop "$PG_DATA" || rcp_log "PostgreSQL did not stop"; }
    [[ -n $NATS_PIDFILE ]] && rcp_nats_stop "$NATS_PIDFILE"
    PG_DATA="" NATS_PIDFILE=""
}
trap 'stop_all; rm -rf "$TMP"' EXIT

# one run of binary $1 (round $2): prints its line, appends "eps cpu_us" to $TMP/res-<index>
run_one() {
    local bin=$1 idx=$2 pub=${4:-$PUB} dir=$TMP/run pgport natsport http pm np out
    rm -rf "$dir"
    mkdir -p "$dir/log"
    PG_DATA=$dir/pg/data NATS_PIDFILE=$dir/nats.pid
    pgport=$(rcp_free_port)
    natsport=$(rcp_free_port)
    # shellcheck disable=SC2034 # read by scripts/pg.sh (the NATS permissions come from the binary)
    RCP_BIN=$bin
    local preload=${RCP_PG_PRELOAD:-}
    [[ ${INGEST_E2E_PGSS:-0} == 1 ]] && preload=pg_stat_statements
    if ! { RCP_PG_PRELOAD=$preload rcp_pg_start "$PG_DATA" "$pgport" "$dir/log/pg.log" "$dir/secrets.env" test &&
        rcp_pg_roles "$pgport" "$dir/secrets.env" &&
        rcp_nats_conf "$dir/nats.conf" "$dir/secrets.env" all test &&
        rcp_nats_start "$dir/nats" "$natsport" "$dir/log/nats.log" "$NATS_PIDFILE" "$dir/nats.conf"; }; then
        echo "ingest-e2e bin=$bin error=environment"
        return 1
    fi
    http=$(rcp_free_port)
    local -a envv=(RECIPROCAL_DATABASE_URL="$RCP_PG_APP_URL"
        RECIPROCAL_NATS_URL="nats://127.0.0.1:$natsport" RECIPROCAL_NATS_USER=all
        RECIPROCAL_NATS_PASSWORD="$(rcp_nats_password "$dir/secrets.env" all)"
        RECIPROCAL_BUS_KEY="$(head -c 32 /dev/urandom | base64)" RECIPROCAL_SERVICES=analytics
        "RECIPROCAL_LISTEN=127.0.0.1:$http" RECIPROCAL_LOG_LEVEL=warn RECIPROCAL_LOG_FORMAT=text)
    local -a extra
    read -r -a extra <<<"${INGEST_E2E_ENV:-}"
    envv+=("${extra[@]}")
    if ! env "${envv[@]}" RECIPROCAL_MIGRATE_DATABASE_URL="$RCP_PG_OWNER_URL" "$bin" migrate up \
        >"$dir/log/migrate.log" 2>&1; then
        echo "ingest-e2e bin=$bin error=migrate: $(tail -n 1 "$dir/log/migrate.log")"
        return 1
    fi
    env "${envv[@]}" "$bin" serve >"$dir/log/serve.log" 2>&1 &
    srv=$!
    local i
    for ((i = 0; i < 200; i++)); do
        curl -sf "http://127.0.0.1:$http/health/ready" >/dev/null 2>&1 && break
        kill -0 "$srv" 2>/dev/null || break
        sleep 0.1
    done
    pm=$(head -n 1 "$PG_DATA/postmaster.pid")
    np=$(cat "$NATS_PIDFILE")
    sleep 1 # the consumers created
    local s0 g0 n0 s1 g1 n1 split="" pgsplit="" sampler="" superdb wal0="" pm0 pm1
    superdb="${RCP_PG_SUPER_URL%/postgres}/reciprocal"
    if [[ ${INGEST_E2E_PG_SPLIT:-0} == 1 ]]; then
        "$RCP_PG_BIN/psql" -X -qAt "$superdb" -c "ALTER SYSTEM SET log_autovacuum_min_duration = 0" \
            -c "SELECT pg_reload_conf()" >/dev/null 2>&1
        wal0=$("$RCP_PG_BIN/psql" -X -qAt -F' ' "$superdb" -c \
            "SELECT pg_current_wal_lsn() - '0/0', wal_records, wal_fpi FROM pg_stat_wal" 2>/dev/null)
    fi
    if [[ ${INGEST_E2E_PGSS:-0} == 1 ]]; then
        "$RCP_PG_BIN/psql" -X -qAt "$superdb" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
            -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c "SELECT pg_reload_conf()" \
            >/dev/null 2>&1
        sleep 0.2 # the backends' next transaction sees the reloaded setting
        "$RCP_PG_BIN/psql" -X -qAt "$superdb" -c "SELECT pg_stat_statements_reset()" >/dev/null 2>&1
    fi
    local -a penv=(RECIPROCAL_DATABASE_URL="$RCP_PG_APP_URL" RECIPROCAL_NATS_URL="nats://127.0.0.1:$natsport"
        RECIPROCAL_NATS_USER=test RECIPROCAL_NATS_PASSWORD="$(rcp_nats_password "$dir/secrets.env" test)")
    if [[ ${INGEST_E2E_SPLIT:-0} == 1 ]]; then
        # the stream filled while the server is stopped (nats-server's CPU of the publishes
        # alone), then the server restarted on the backlog (everything after: consumption)
        kill -STOP "$srv"
        n0=$(ticks "$np")
        env "${penv[@]}" "$pub" "$EVENTS" 0 >/dev/null 2>&1
        n1=$(ticks "$np")
        split="nats_pub_us=$(us $((n1 - n0)))"
    fi
    s0=$(ticks "$srv") g0=$(pg_ticks "$pm") n0=$(ticks "$np")
    if [[ -n $wal0 ]]; then
        pm0=$(awk '{ print $14 + $15, $16 + $17 }' "/proc/$pm/stat")
        pg_sample "$pm" | sed 's/^/B /' >"$dir/pgsplit"
        pg_split_sampler "$pm" "$dir/pgsplit" &
        sampler=$!
    fi
    if [[ -n $split ]]; then
        kill -CONT "$srv"
        local want=$((EVENTS - EVENTS % 2))
        for ((i = 0; i < 6000; i++)); do
            [[ $("$RCP_PG_BIN/psql" -X -qAt "${RCP_PG_SUPER_URL%/postgres}/reciprocal" -c \
                "SELECT count(*) FROM analytics.raw_events" 2>/dev/null) -ge $want ]] && break
            sleep 0.1
        done
        out="ingest-e2e events=$want ok=1 (split: consumption of a backlog only)"
    else
        out=$(env "${penv[@]}" "$pub" "$EVENTS" 2>&1 | grep '^ingest-e2e' || true)
    fi
    if [[ -n $sampler ]]; then # stopped at once (SIGKILL), the last sample beside g1
        kill -KILL "$sampler" 2>/dev/null
        wait "$sampler" 2>/dev/null
    fi
    s1=$(ticks "$srv") g1=$(pg_ticks "$pm") n1=$(ticks "$np")
    if [[ -n $sampler ]]; then
        pm1=$(awk '{ print $14 + $15, $16 + $17 }' "/proc/$pm/stat")
        pg_sample "$pm" | sed 's/^/E /' >>"$dir/pgsplit"
        read -r -a pm0 <<<"$pm0"
        read -r -a pm1 <<<"$pm1"
        pgsplit="pg_split=[$(pg_split_report $((pm1[0] - pm0[0])) $((pm1[1] - pm0[1])) "$dir/pgsplit")]"
    fi
    # what the three cost idle afterwards (every event applied: the consumers' empty fetches)
    sleep 5
    local idle
    idle=$(awk -v s=$(($(ticks "$srv") - s1)) -v g=$(($(pg_ticks "$pm") - g1)) \
        -v n=$(($(ticks "$np") - n1)) -v hz="$HZ" \
        'BEGIN { printf "server %.1f%%, PostgreSQL %.1f%%, nats-server %.1f%%", s / hz / 5 * 100, g / hz / 5 * 100, n / hz / 5 * 100 }')
    [[ -n $wal0 ]] && pg_split_stats "$superdb" "$wal0" "$dir/log/pg.log" >"$dir/pgstats"
    [[ ${INGEST_E2E_PGSS:-0} == 1 ]] && pgss_report "$superdb" >>"$dir/pgstats"
    stop_all
    local eps ok sv pg na tot
    eps=$(sed -n 's/.*\beps=\([0-9.]*\).*/\1/p' <<<"$out")
    ok=$(sed -n 's/.*\bok=\([01]\).*/\1/p' <<<"$out")
    sv=$(us $((s1 - s0))) pg=$(us $((g1 - g0))) na=$(us $((n1 - n0)))
    tot=$(awk -v a="$sv" -v b="$pg" -v c="$na" 'BEGIN { printf "%.1f", a + b + c }')
    echo "${out:-ingest-e2e error=no result} bin=$bin pub=$pub round=$3" \
        "server_us=$sv pg_us=$pg nats_us=$na cpu_us=$tot $split load=$(cut -d' ' -f1 /proc/loadavg) idle_cpu=[$idle]" \
        "$pgsplit"
    [[ -s $dir/pgstats ]] && cat "$dir/pgstats"
    [[ ${ok:-0} == 1 ]] || { tail -n 5 "$dir/log/serve.log" >&2; return 1; }
    echo "${eps:-0} $tot $sv $pg $na $(sed -n 's/.*\bpub_us=\([0-9.]*\).*/\1/p' <<<"$out")" >>"$TMP/res-$idx"
}

# pg_split_stats SUPERDB "LSN RECORDS FPI" PGLOG: the WAL per event since then, the analytics
# tables' row, TOAST and autovacuum counters (one pg_tables line per table with any activity)
pg_split_stats() {
    local -a w
    read -r -a w <<<"$2"
    "$RCP_PG_BIN/psql" -X -qAt -F' ' "$1" -c "SELECT pg_current_wal_lsn() - '0/0', wal_records, wal_fpi FROM pg_stat_wal" |
        awk -v l="${w[0]}" -v r="${w[1]}" -v f="${w[2]}" -v n="$EVENTS" \
            '{ printf "pg_wal bytes_per_event=%.0f records_per_event=%.2f fpi_per_event=%.3f\n", ($1 - l) / n, ($2 - r) / n, ($3 - f) / n }'
    sleep 0.6 # the statistics are flushed by the backends at most every 0.5 s (PostgreSQL 15)
    "$RCP_PG_BIN/psql" -X -qAt -F' ' "$1" -c "
        SELECT 'pg_tables ' || s.relname, 'ins=' || s.n_tup_ins, 'upd=' || s.n_tup_upd,
               'hot=' || s.n_tup_hot_upd, 'del=' || s.n_tup_del, 'dead=' || s.n_dead_tup,
               'autovacuum=' || s.autovacuum_count, 'autoanalyze=' || s.autoanalyze_count,
               'toast_ins=' || coalesce(t.n_tup_ins, 0), 'toast_del=' || coalesce(t.n_tup_del, 0),
               'size=' || pg_size_pretty(pg_total_relation_size(s.relid))
          FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
          LEFT JOIN pg_stat_all_tables t ON t.relid = c.reltoastrelid
         WHERE s.schemaname = 'analytics' AND s.n_tup_ins + s.n_tup_upd + s.n_tup_del > 0
         ORDER BY s.n_tup_ins + s.n_tup_upd + s.n_tup_del DESC"
    # autovacuum's CPU per table (log_autovacuum_min_duration = 0: "automatic vacuum of table
    # \"db.schema.table\"", then "system usage: CPU: user: U s, system: S s")
    awk -v n="$EVENTS" '
        /automatic (vacuum|analyze) of table/ { match($0, /table "[^"]*"/); t = substr($0, RSTART + 7, RLENGTH - 8); k = ($0 ~ /vacuum/) ? "vacuum" : "analyze" }
        /system usage: CPU: user:/ && t != "" {
            match($0, /user: [0-9.]+/); u = substr($0, RSTART + 6, RLENGTH - 6)
            match($0, /system: [0-9.]+/); s = substr($0, RSTART + 8, RLENGTH - 8)
            cpu[k " " t] += u + s; runs[k " " t]++; t = ""
        }
        END { for (x in cpu) if (cpu[x] > 0) printf "pg_autovacuum %s runs=%d us_per_event=%.2f\n", x, runs[x], cpu[x] * 1e6 / n }' "$3" |
        sort -t= -k3 -gr | head -n 8
}

# pgss_report SUPERDB: pg_stat_statements' statements with the most execution time (µs of wall
# time per event; nested statements also counted in their callers) and the ingest's batches
pgss_report() {
    "$RCP_PG_BIN/psql" -X -qAt -F' ' "$1" -c "
        SELECT 'pgss_batches=' || sum(calls) || ' events_per_batch=' ||
               round($EVENTS::numeric / nullif(sum(calls), 0), 1)
          FROM pg_stat_statements WHERE query LIKE 'SELECT analytics.ingest(%'" \
        -c "SELECT 'pgss us_per_event=' || round((total_exec_time * 1000 / $EVENTS)::numeric, 1),
                   'calls=' || calls, 'rows=' || rows,
                   left(regexp_replace(query, '\s+', ' ', 'g'), 90)
              FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

read -r -a pubs <<<"${INGEST_E2E_PUBS:-}"
for p in "$PUB" "${pubs[@]}"; do
    [[ -x $p ]] || { echo "ingest-e2e error=$p missing (make build/bench-ingest-e2e)"; exit 1; }
done
rc=0
for ((r = 1; r <= ROUNDS; r++)); do
    k=0
    for b in $BINS; do
        k=$((k + 1))
        run_one "$b" "$k" "$r" "${pubs[k - 1]:-$PUB}" || rc=1
    done
done
k=0
for b in $BINS; do
    k=$((k + 1))
    [[ -s $TMP/res-$k ]] || continue
    printf 'ingest-e2e-median bin=%s runs=%s eps=%s cpu_us=%s server_us=%s pg_us=%s nats_us=%s pub_us=%s\n' \
        "$b" "$(wc -l <"$TMP/res-$k")" \
        "$(awk '{ print $1 }' "$TMP/res-$k" | median)" "$(awk '{ print $2 }' "$TMP/res-$k" | median)" \
        "$(awk '{ print $3 }' "$TMP/res-$k" | median)" "$(awk '{ print $4 }' "$TMP/res-$k" | median)" \
        "$(awk '{ print $5 }' "$TMP/res-$k" | median)" "$(awk '{ print $6 }' "$TMP/res-$k" | median)"
done
exit "$rc"
