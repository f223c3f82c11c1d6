# bench/settlement.sh: the settlement rows of `make bench` (issue 12: "issuing the month's
# statements for 50 partner pairs with 100,000 lines total < 5 s"), sourced by bench/run.sh once
# the server runs and a network administrator is signed in. Uses run.sh's base, login_body, TMP,
# RCP_PG_SUPER_URL, rows, add_error_row, say.
#
# Creates BENCH_SETTLE_CLUBS (10) clubs through the API, then seeds straight into PostgreSQL (as
# the superuser, one statement each, seconds rather than the hours 100,000 POSTs take on this
# box): one active agreement of those clubs, BENCH_SETTLE_PAIRS (50) ordered pairs host -> home,
# BENCH_SETTLE_VISITS (100) completed visits per pair, and BENCH_SETTLE_LINES (100,000) dining
# lines (bill_home_club, spread evenly over the visits) in the pairs' draft statements of the
# current month (the current month, so the server's own monthly schedule leaves them alone).
# Then BENCH_SETTLE_ROUNDS (3) rounds, the statements set back to draft between the rows:
#   - POST /api/v1/statements/sweep with as_of = the 5th of next month: the schedule drafts and
#     issues every statement (totals fixed from the lines), one request, curl time_total;
#   - POST /api/v1/statements/{id}/issue of each statement (the host's early issue; answers the
#     document with its lines), 4 clients in parallel, wall time of all 50;
#   - GET /api/v1/statements/{id} as JSON and as CSV of each issued statement, 4 in parallel.
# Each row also gives the CPU time of the server process and of PostgreSQL's backends over it
# (/proc, bench/run.sh's ticks and pg_ticks). BENCH_SETTLE_AB_BIN: interleaved A/B, each round
# runs the rows against the running binary and then against BENCH_SETTLE_AB_BIN (the server
# restarted on the same port and database), each row tagged with its binary's directory name
# (e.g. [main], [branch]); the database is migrated by the running binary, so give the newer one
# as RECIPROCAL_BIN.
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh

settle_api() {
    curl -sf -X "$1" -H 'Content-Type: application/json' "${auth[@]}" ${3:+--data "$3"} "$base$2"
}

# settle_psql SQL...: runs SQL as the superuser (variables -v name=value before it)
settle_psql() {
    psql -X -q -v ON_ERROR_STOP=1 -At "${RCP_PG_SUPER_URL%/postgres}/reciprocal" "$@"
}

# settle_time NAME PARALLEL URL_SUFFIX METHOD [ACCEPT]: runs METHOD on every statement id of
# $TMP/settle-ids.txt (PARALLEL clients), then appends a row with the wall time and lines/s.
settle_time() {
    local name=$1 par=$2 suffix=$3 method=$4 accept=${5:-application/json} t0 t1 bad s0 g0 s1 g1
    t0=$(date +%s.%N) s0=$(ticks "$srv_pid") g0=$(pg_ticks)
    # shellcheck disable=SC2016 # the script expands in the child shell; the id comes last ($7)
    bad=$(xargs -P "$par" -n 1 sh -c 'curl -s -o /dev/null -w "%{http_code}\n" -X "$2" \
        -H "Content-Type: application/json" -H "Accept: $3" -H "Authorization: Bearer $4" \
        ${5:+--data "{}"} "$1/api/v1/statements/$7$6"' _ \
        "$base" "$method" "$accept" "$token" "$([[ $method == POST ]] && echo 1)" "$suffix" \
        <"$TMP/settle-ids.txt" | grep -vc '^200$' || true)
    t1=$(date +%s.%N) s1=$(ticks "$srv_pid") g1=$(pg_ticks)
    if [[ $bad != 0 ]]; then
        add_error_row "$name" "$bad of $(grep -c . "$TMP/settle-ids.txt") requests failed"
        return
    fi
    rows+=("$name|$(awk -v n="$settle_lines" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f lines/s", n / (b - a) }')|$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f s", b - a }')|-|wall time of all $settle_pairs statements, $par clients; CPU $(settle_cpu "$s0" "$s1" "$g0" "$g1")")
}

# settle_cpu S0 S1 G0 G1: "server + PostgreSQL s" from the tick counts before and after
settle_cpu() {
    awk -v s=$(($2 - $1)) -v g=$(($4 - $3)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.2f + %.2f s server + PostgreSQL", s / hz, g / hz }'
}

# settle_serve BIN: stops the running service (srv_pid) and starts BIN on the same port and
# environment (bench/run.sh's); 0 when it answers /health/ready.
settle_serve() {
    kill -TERM "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    "${SRV_PIN[@]}" "$1" serve >>"$TMP/log/serve.log" 2>&1 &
    srv_pid=$!
    pids+=("$srv_pid")
    wait_http "$base/health/ready" "$srv_pid"
}

# settle_rows ROUND TAG: the sweep, the host's issue, GET JSON and CSV of every statement
settle_rows() {
    local r=$1 tag=$2 t n s0 g0
    token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
        "$base/api/v1/auth/login" | jq -r '.access_token // empty' 2>/dev/null || true)
    auth=(-H "Authorization: Bearer $token")
    settle_reset >/dev/null || {
        add_error_row "statements sweep$tag" "reset failed"
        return
    }
    s0=$(ticks "$srv_pid") g0=$(pg_ticks)
    t=$(curl -sf -o "$TMP/settle-sweep.json" -w '%{time_total}' -X POST \
        -H 'Content-Type: application/json' "${auth[@]}" --data "{\"as_of\":\"$as_of\"}" \
        "$base/api/v1/statements/sweep") || t=
    n=$(jq -r '.issued // empty' "$TMP/settle-sweep.json" 2>/dev/null || true)
    if [[ -n $t && $n == "$settle_pairs" ]]; then
        rows+=("POST /api/v1/statements/sweep: $n statements, $settle_lines lines, round $r$tag (< 5 s)|$(awk -v n="$settle_lines" -v t="$t" 'BEGIN { printf "%.0f lines/s", n / t }')|$(awk -v t="$t" 'BEGIN { printf "%.2f s", t }')|-|one request: drafts and issues every pair's statement; CPU $(settle_cpu "$s0" "$(ticks "$srv_pid")" "$g0" "$(pg_ticks)")")
    else
        add_error_row "POST /api/v1/statements/sweep$tag" "issued ${n:-?} of $settle_pairs: $(head -c 200 "$TMP/settle-sweep.json" 2>/dev/null)"
    fi
    settle_reset >/dev/null || return
    settle_time "POST /api/v1/statements/{id}/issue x $settle_pairs (document answered), round $r$tag" 4 /issue POST
    settle_time "GET /api/v1/statements/{id} JSON x $settle_pairs, round $r$tag" 4 "" GET
    settle_time "GET /api/v1/statements/{id} CSV x $settle_pairs, round $r$tag" 4 "" GET text/csv
}

settle_reset() {
    settle_psql -v ids="{$(paste -sd, "$TMP/settle-ids.txt")}" <<'SQL'
UPDATE reciprocal.statements SET status = 'draft', drafted_at = NULL, issued_at = NULL,
    line_count = NULL, total_net = NULL, total_tax = NULL, total = NULL
WHERE id = ANY (:'ids'::uuid[]);
SQL
}

bench_settlement() {
    local nclubs=${BENCH_SETTLE_CLUBS:-10} npairs=${BENCH_SETTLE_PAIRS:-50}
    local nvisits=${BENCH_SETTLE_VISITS:-100} nlines=${BENCH_SETTLE_LINES:-100000}
    local rounds=${BENCH_SETTLE_ROUNDS:-3} k out clubs=() period r t
    command -v psql >/dev/null || {
        add_error_row "statements sweep" "psql not found"
        return
    }
    token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
        "$base/api/v1/auth/login" | jq -r '.access_token // empty' 2>/dev/null || true)
    auth=(-H "Authorization: Bearer $token")
    for ((k = 0; k < nclubs; k++)); do
        out=$(settle_api POST /api/v1/clubs "{\"name\":\"Bench Settlement $k\",\"slug\":\"bench-settle-$k\",\"timezone\":\"Europe/London\",\"address\":{\"city\":\"London\",\"country\":\"GB\"}}") || {
            add_error_row "statements sweep" "could not create club $k"
            return
        }
        clubs+=("$(jq -r .id <<<"$out")")
    done
    period=$(date -u +%Y-%m-01)
    as_of="$(date -u -d "$period + 1 month" +%Y-%m)-05T12:00:00Z"
    say "settlement: seeding $npairs pairs, $nvisits visits each, $nlines lines (period $period)"
    t=$(date +%s.%N)
    if ! settle_psql -v clubs="{$(IFS=,; echo "${clubs[*]}")}" -v pairs="$npairs" \
        -v visits="$nvisits" -v lines="$nlines" -v period="$period" \
        -f "$ROOT/bench/settlement_seed.sql" >"$TMP/settle-ids.txt" 2>"$TMP/log/settle-seed.log"
    then
        add_error_row "statements sweep" "seeding failed: $(tail -n 1 "$TMP/log/settle-seed.log")"
        return
    fi
    settle_pairs=$(grep -c . "$TMP/settle-ids.txt")
    settle_lines=$nlines
    say "settlement: seeded in $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
    # BENCH_SETTLE_HOOK: a script sourced here, after the seed (profiling, statement logs); it
    # may set settle_skip_rounds=1 to skip the timed rounds
    local settle_skip_rounds=0
    # shellcheck disable=SC1090
    [[ -z ${BENCH_SETTLE_HOOK:-} ]] || source "$BENCH_SETTLE_HOOK"
    ((settle_skip_rounds == 0)) || return 0
    local ab=${BENCH_SETTLE_AB_BIN:-}
    for ((r = 1; r <= rounds; r++)); do
        if [[ -z $ab ]]; then
            settle_rows "$r" ""
            continue
        fi
        settle_serve "$BIN" || { add_error_row "settlement A/B" "$BIN did not start"; return; }
        settle_rows "$r" " [$(basename "$(dirname "$BIN")")]"
        settle_serve "$ab" || { add_error_row "settlement A/B" "$ab did not start"; return; }
        settle_rows "$r" " [$(basename "$(dirname "$ab")")]"
    done
}

if [[ -n ${token:-} ]]; then
    bench_settlement
else
    add_error_row "settlement bench" "no administrator token (see above)"
fi
