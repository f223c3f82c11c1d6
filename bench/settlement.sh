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
    local name=$1 par=$2 suffix=$3 method=$4 accept=${5:-application/json} t0 t1 bad
    t0=$(date +%s.%N)
    # shellcheck disable=SC2016 # the script expands in the child shell; the id comes last ($7)
    bad=$(xargs -P "$par" -n 1 sh -c 'curl -s -o /dev/null -w "%{http_code}\n" -X "$2" \
        -H "Content-Type: application/json" -H "Accept: $3" -H "Authorization: Bearer $4" \
        ${5:+--data "{}"} "$1/api/v1/statements/$7$6"' _ \
        "$base" "$method" "$accept" "$token" "$([[ $method == POST ]] && echo 1)" "$suffix" \
        <"$TMP/settle-ids.txt" | grep -vc '^200$' || true)
    t1=$(date +%s.%N)
    if [[ $bad != 0 ]]; then
        add_error_row "$name" "$bad of $(grep -c . "$TMP/settle-ids.txt") requests failed"
        return
    fi
    rows+=("$name|$(awk -v n="$settle_lines" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f lines/s", n / (b - a) }')|$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f s", b - a }')|-|wall time of all $settle_pairs statements, $par clients")
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
    local rounds=${BENCH_SETTLE_ROUNDS:-3} k out clubs=() period as_of r t n
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
    for ((r = 1; r <= rounds; r++)); do
        settle_reset >/dev/null || {
            add_error_row "statements sweep" "reset failed"
            return
        }
        t=$(curl -sf -o "$TMP/settle-sweep.json" -w '%{time_total}' -X POST \
            -H 'Content-Type: application/json' "${auth[@]}" --data "{\"as_of\":\"$as_of\"}" \
            "$base/api/v1/statements/sweep") || t=
        n=$(jq -r '.issued // empty' "$TMP/settle-sweep.json" 2>/dev/null || true)
        if [[ -n $t && $n == "$settle_pairs" ]]; then
            rows+=("POST /api/v1/statements/sweep: $n statements, $nlines lines, round $r (< 5 s)|$(awk -v n="$nlines" -v t="$t" 'BEGIN { printf "%.0f lines/s", n / t }')|$(awk -v t="$t" 'BEGIN { printf "%.2f s", t }')|-|one request: drafts and issues every pair's statement")
        else
            add_error_row "POST /api/v1/statements/sweep" "issued ${n:-?} of $settle_pairs: $(head -c 200 "$TMP/settle-sweep.json" 2>/dev/null)"
        fi
        settle_reset >/dev/null || return
        settle_time "POST /api/v1/statements/{id}/issue x $settle_pairs (document answered), round $r" 4 /issue POST
        settle_time "GET /api/v1/statements/{id} JSON x $settle_pairs, round $r" 4 "" GET
        settle_time "GET /api/v1/statements/{id} CSV x $settle_pairs, round $r" 4 "" GET text/csv
    done
}

if [[ -n ${token:-} ]]; then
    bench_settlement
else
    add_error_row "settlement bench" "no administrator token (see above)"
fi
