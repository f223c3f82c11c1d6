#!/usr/bin/env bash
# bench/ab_lib.sh: the plumbing the interleaved A/B benchmarks share (bench/ab.sh, bench/auth_ab.sh,
# bench/cache_ab.sh), sourced, never run. A script sets RCP_LOG_TAG, BIN_A and BIN_B (absolute),
# optionally AB_DIR (a directory kept between runs; default a fresh temporary one, removed on exit),
# then calls ab_setup; afterwards:
#   ab_start BIN [ALG]     serves BIN on a free port (RECIPROCAL_JWT_ALG=ALG when given), waits
#                          until ready, signs in as the bench administrator: sets base, token,
#                          srv_pid
#   ab_stop                stops it
#   ab_measure NAME WHICH ROUND WRK_ARGS...   one wrk run (-c BENCH_CONNECTIONS, BENCH_DURATION)
#   ab_openloop NAME WHICH ROUND RATE URL [ARGS...]   one bench/openloop run at RATE offered
#   ab_refresh_tokens      BENCH_CONNECTIONS + 2 fresh refresh tokens into $BENCH_REFRESH_TOKENS
#                          (bench/refresh.lua: every connection rotates its own chain)
#   ab_summary COLUMN...   the summary table over $results, one row per route, one column group
#                          per config (A, B, or "B EdDSA"...): req/s of every round, the median
#                          server + PostgreSQL CPU ms per request, p99 of every round
# Every measure appends route|config|round|req/s|server CPU ms/req|PostgreSQL CPU ms/req|p50|p99|
# load generator CPU ms/req (wrk or openloop, from the shell's children times) to $results and
# prints it. CPU per request comes from /proc (the server process, and the
# postmaster's children: the pool's connections, autovacuum, the writers): it is what to compare
# on a busy box, where req/s moves with whatever else runs. ab_setup starts one private PostgreSQL
# + nats-server (scripts/pg.sh), migrates with BIN_B (BIN_A must accept BIN_B's schema) and
# creates a network administrator (email $AB_EMAIL). Environment: BENCH_DURATION (5s),
# BENCH_CONNECTIONS (32), RECIPROCAL_HTTP_THREADS (8), BENCH_PIN (1: servers on CPU 0, the load
# generators on CPU 1), BENCH_OPENLOOP_SECONDS (5), BENCH_OPENLOOP_CONNECTIONS (64).

AB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck source=../scripts/pg.sh
source "$AB_ROOT/scripts/pg.sh"

DURATION=${BENCH_DURATION:-5s}
CONNS=${BENCH_CONNECTIONS:-32}
HTTP_THREADS=${RECIPROCAL_HTTP_THREADS:-8}
OL_SECONDS=${BENCH_OPENLOOP_SECONDS:-5}
OL_CONNS=${BENCH_OPENLOOP_CONNECTIONS:-64}
OPENLOOP=$AB_ROOT/build/bench-openloop
HZ=$(getconf CLK_TCK)

say() { printf '[%s] %s\n' "$RCP_LOG_TAG" "$*" >&2; }

SRV_PIN=()
WRK_PIN=()
if [[ ${BENCH_PIN:-1} == 1 ]] && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0)
    WRK_PIN=(taskset -c 1)
fi

srv_pid=
base=
token=
ab_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $srv_pid ]] && { kill -TERM "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; }
    rcp_pg_stop "$PG_DATA" || true
    rcp_nats_stop "$NATS_PIDFILE" || true
    if [[ -n ${AB_DIR:-} ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}

ab_setup() {
    # shellcheck disable=SC2034 # read by scripts/pg.sh: the NATS permissions come from the binary
    RCP_BIN=$BIN_B
    if [[ -n ${AB_DIR:-} ]]; then
        TMP=$AB_DIR
        mkdir -p "$TMP"
    else
        TMP=$(mktemp -d "${TMPDIR:-/tmp}/reciprocal-$RCP_LOG_TAG.XXXXXX")
    fi
    chmod 755 "$TMP"
    mkdir -p "$TMP/log"
    PG_DATA=$TMP/pg/data
    NATS_PIDFILE=$TMP/nats.pid
    results=$TMP/results.txt
    : >"$results"
    trap ab_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    local pg_port nats_port pw
    pg_port=$(rcp_free_port)
    nats_port=$(rcp_free_port)
    rcp_pg_start "$PG_DATA" "$pg_port" "$TMP/log/postgresql.log" "$TMP/secrets.env" test
    rcp_pg_roles "$pg_port" "$TMP/secrets.env"
    rcp_nats_conf "$TMP/nats.conf" "$TMP/secrets.env" all
    rcp_nats_start "$TMP/nats" "$nats_port" "$TMP/log/nats.log" "$NATS_PIDFILE" "$TMP/nats.conf"
    export RECIPROCAL_DATABASE_URL=$RCP_PG_APP_URL
    export RECIPROCAL_NATS_URL="nats://127.0.0.1:$nats_port" RECIPROCAL_NATS_USER=all
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
    AB_EMAIL=${AB_EMAIL:-ab-admin@reciprocal.example}
    if [[ ! -s $TMP/admin.env ]]; then
        RECIPROCAL_MIGRATE_DATABASE_URL=$RCP_PG_OWNER_URL "$BIN_B" migrate up >"$TMP/log/migrate.log" 2>&1
        pw="ab $(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
        RECIPROCAL_ADMIN_PASSWORD=$pw "$BIN_B" auth create-admin --email "$AB_EMAIL" >/dev/null
        printf 'pw=%q\n' "$pw" >"$TMP/admin.env"
    fi
    # shellcheck disable=SC1091
    source "$TMP/admin.env"
    login_body=$(jq -cn --arg e "$AB_EMAIL" --arg p "$pw" '{email: $e, password: $p}')
    export BENCH_REFRESH_TOKENS=$TMP/refresh-tokens.txt BENCH_WRK_THREADS=1
}

ab_start() {
    local port i alg=()
    [[ -n ${2:-} ]] && alg=("RECIPROCAL_JWT_ALG=$2")
    port=$(rcp_free_port)
    base=http://127.0.0.1:$port
    env "${alg[@]}" RECIPROCAL_LISTEN="127.0.0.1:$port" "${SRV_PIN[@]}" "$1" serve \
        >>"$TMP/log/serve.log" 2>&1 &
    srv_pid=$!
    for ((i = 0; i < 200; i++)); do
        curl -s -o /dev/null --max-time 1 "$base/health/ready" && break
        sleep 0.1
    done
    token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
        "$base/api/v1/auth/login" | jq -r '.access_token // empty')
    [[ -n $token ]] || { say "sign-in failed on $1 ${2:-}"; tail -n 5 "$TMP/log/serve.log" >&2; exit 1; }
}

ab_stop() {
    kill -TERM "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=
}

# CPU time (clock ticks) of a process, all threads; of the PostgreSQL backends
ab_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
ab_pg_ticks() {
    local pm c sum=0
    pm=$(head -n 1 "$PG_DATA/postmaster.pid")
    for c in $(pgrep -P "$pm"); do sum=$((sum + $(ab_ticks "$c"))); done
    echo "$sum"
}
# ms of CPU per request: server|PostgreSQL, from tick deltas and a request count
ab_cpu() {
    awk -v s="$1" -v g="$2" -v n="${3:-0}" -v hz="$HZ" \
        'BEGIN { if (n > 0) printf "%.3f|%.3f", s * 1000 / hz / n, g * 1000 / hz / n; else print "-|-" }'
}

# CPU seconds the shell's waited-for children (and theirs) used so far, user + system, into the
# variable named $1 (`times` must run in this shell, not in a command substitution)
ab_gen_s() {
    times >"$TMP/times"
    printf -v "$1" '%s' "$(awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$TMP/times")"
}
# ms per request of a CPU-seconds delta
ab_gen_ms() { awk -v a="$1" -v b="$2" -v n="${3:-0}" 'BEGIN { if (n > 0) printf "%.3f", (b - a) * 1000 / n; else print "-" }'; }

ab_measure() {
    local name=$1 config=$2 r=$3 out s0 g0 s1 g1 reqs rps p50 p99 bad w0 w1
    shift 3
    s0=$(ab_ticks "$srv_pid") g0=$(ab_pg_ticks)
    ab_gen_s w0
    out=$("${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$@" 2>&1)
    ab_gen_s w1
    s1=$(ab_ticks "$srv_pid") g1=$(ab_pg_ticks)
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    printf '%s|%s|%s|%s|%s|%s|%s|%s\n' "$name" "$config" "$r" "$rps" \
        "$(ab_cpu $((s1 - s0)) $((g1 - g0)) "$reqs")" "$p50" "$p99${bad:+ non-2xx $bad}" \
        "$(ab_gen_ms "$w0" "$w1" "$reqs")" | tee -a "$results"
}

ab_openloop() {
    local name=$1 config=$2 r=$3 rate=$4 url=$5 out s0 g0 s1 g1 w0 w1
    shift 5
    [[ -x $OPENLOOP ]] || make -s -C "$AB_ROOT" build/bench-openloop
    s0=$(ab_ticks "$srv_pid") g0=$(ab_pg_ticks)
    ab_gen_s w0
    out=$("${WRK_PIN[@]}" "$OPENLOOP" -u "$url" -r "$rate" -d "$OL_SECONDS" -c "$OL_CONNS" "$@" 2>&1 || true)
    ab_gen_s w1
    s1=$(ab_ticks "$srv_pid") g1=$(ab_pg_ticks)
    kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$out"; }
    printf '%s|%s|%s|%s|%s|%sms|%sms|%s|p99.9 %sms unsent %s errors %s\n' "$name@$rate" "$config" \
        "$r" "$(kv achieved)" "$(ab_cpu $((s1 - s0)) $((g1 - g0)) "$(kv 'done')")" "$(kv p50)" \
        "$(kv p99)" "$(ab_gen_ms "$w0" "$w1" "$(kv 'done')")" "$(kv p999)" "$(kv unsent)" \
        "$(kv errors)" | tee -a "$results"
}

ab_refresh_tokens() {
    local i
    : >"$BENCH_REFRESH_TOKENS"
    for ((i = 0; i < CONNS + 2; i++)); do
        curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
            "$base/api/v1/auth/login" | jq -r '.refresh_token // empty' >>"$BENCH_REFRESH_TOKENS"
    done
}

ab_med() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

ab_summary() {
    local name config row cs cg cw names
    echo
    row="route"
    for config in "$@"; do row="$row | $config req/s (rounds) | server + PG CPU ms/req (median; load generator) | p99 (rounds)"; done
    echo "$row"
    mapfile -t names < <(cut -d'|' -f1 "$results" | awk '!seen[$0]++')
    for name in "${names[@]}"; do
        row="$name"
        for config in "$@"; do
            cs=$(awk -F'|' -v n="$name" -v c="$config" '$1 == n && $2 == c {print $5}' "$results" | ab_med)
            cg=$(awk -F'|' -v n="$name" -v c="$config" '$1 == n && $2 == c {print $6}' "$results" | ab_med)
            row="$row | $(awk -F'|' -v n="$name" -v c="$config" '$1 == n && $2 == c {printf "%s%s", s, $4; s = "/"}' "$results")"
            cw=$(awk -F'|' -v n="$name" -v c="$config" '$1 == n && $2 == c {print $9}' "$results" | ab_med)
            row="$row | $cs + $cg (generator $cw)"
            row="$row | $(awk -F'|' -v n="$name" -v c="$config" '$1 == n && $2 == c {printf "%s%s", s, $8; s = " / "}' "$results")"
        done
        echo "$row"
    done
}
