# bench/charges.sh: the charge-posting rows of `make bench` (issue 12: "posting charges >= 2,000
# lines/s"), sourced by bench/run.sh once the server runs and a network administrator is signed
# in (group `charges`). Uses run.sh's base, login_body, TMP, RCP_PG_SUPER_URL, rows, run_wrk,
# add_error_row, say, ticks, pg_ticks, srv_pid, SRV_PIN, pids, wait_http.
#
# Two clubs created through the API, then straight into PostgreSQL as the superuser (seconds
# instead of the door's letter checks): an active bill_home_club agreement in GBP with no fees
# and BENCH_CHARGE_VISITS (200) checked-in visits of host -> home. Then BENCH_CHARGE_ROUNDS (3)
# rounds of wrk (bench/visits_charges.lua, cycling through the visits; every line goes into the
# pair's draft statement of the month):
#   - POST /api/v1/visits/{id}/charges with one line each (req/s = lines/s);
#   - the same with a whole bill of BENCH_CHARGE_BILL (10) lines each ({lines: [...]});
# each row with the CPU time per line of the server process and of PostgreSQL's backends (/proc)
# and the lines per second. BENCH_CHARGES_AB_BIN: interleaved A/B as in bench/settlement.sh
# (the running binary, then that one, rows tagged with each binary's directory name; a binary
# that refuses bills shows the error row); give the newer binary as RECIPROCAL_BIN.
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh

charges_psql() {
    psql -X -q -v ON_ERROR_STOP=1 -At "${RCP_PG_SUPER_URL%/postgres}/reciprocal" "$@"
}

# charges_row NAME LINES: one wrk run posting LINES lines per request; the row adds lines/s and
# the CPU ms per line (server + PostgreSQL)
charges_row() {
    local name=$1 nlines=$2 s0 g0 s1 g1 file n before
    before=${#rows[@]}
    export BENCH_CHARGE_LINES=$nlines BENCH_FAIL_LOG=$TMP/log/charges-failed.txt
    : >"$BENCH_FAIL_LOG"
    s0=$(ticks "$srv_pid") g0=$(pg_ticks)
    run_wrk "$name" "$base/api/v1/visits" -s "$ROOT/bench/visits_charges.lua"
    s1=$(ticks "$srv_pid") g1=$(pg_ticks)
    unset BENCH_CHARGE_LINES BENCH_FAIL_LOG
    ((${#rows[@]} > before)) || return
    file=$TMP/log/wrk-${name//[^a-zA-Z0-9]/_}.txt
    n=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$file" 2>/dev/null)
    [[ -n $n && $n -gt 0 ]] || return
    local last=${rows[-1]} cpu
    cpu=$(awk -v s=$((s1 - s0)) -v g=$((g1 - g0)) -v n=$((n * nlines)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.3f + %.3f ms CPU per line (server + PostgreSQL)", s * 1000 / hz / n, g * 1000 / hz / n }')
    local rps
    rps=$(cut -d'|' -f2 <<<"$last")
    rows[-1]="${last%|*}|$(awk -v r="$rps" -v l="$nlines" 'BEGIN { printf "%.0f lines/s", r * l }'); $cpu; ${last##*|}"
}

# charges_rows ROUND TAG
charges_rows() {
    local r=$1 tag=$2
    token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
        "$base/api/v1/auth/login" | jq -r '.access_token // empty' 2>/dev/null || true)
    export BENCH_TOKEN=$token BENCH_WRK_THREADS=$WRK_THREADS BENCH_VISIT_IDS=$TMP/charge-visits.txt
    charges_row "POST /api/v1/visits/{id}/charges, 1 line each, round $r$tag" 1
    charges_row "POST /api/v1/visits/{id}/charges, bills of $bill lines, round $r$tag" "$bill"
}

charges_serve() {
    kill -TERM "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    "${SRV_PIN[@]}" "$1" serve >>"$TMP/log/serve.log" 2>&1 &
    srv_pid=$!
    pids+=("$srv_pid")
    wait_http "$base/health/ready" "$srv_pid"
}

bench_charges() {
    local nvisits=${BENCH_CHARGE_VISITS:-200} rounds=${BENCH_CHARGE_ROUNDS:-3}
    local bill=${BENCH_CHARGE_BILL:-10} ab=${BENCH_CHARGES_AB_BIN:-} k out clubs=() r
    command -v psql >/dev/null || {
        add_error_row "charges" "psql not found"
        return
    }
    for k in 0 1; do
        out=$(curl -sf -X POST -H 'Content-Type: application/json' "${auth[@]}" --data \
            "{\"name\":\"Bench Charges $k\",\"slug\":\"bench-charges-$k\",\"timezone\":\"Europe/London\",\"address\":{\"city\":\"London\",\"country\":\"GB\"}}" \
            "$base/api/v1/clubs") || {
            add_error_row "charges" "could not create club $k"
            return
        }
        clubs+=("$(jq -r .id <<<"$out")")
    done
    if ! charges_psql -v host="${clubs[0]}" -v home="${clubs[1]}" -v visits="$nvisits" \
        >"$TMP/charge-visits.txt" 2>"$TMP/log/charges-seed.log" <<'SQL'
CREATE TEMP TABLE a AS SELECT gen_random_uuid() AS id;
INSERT INTO reciprocal.agreements (id, status, proposer_club_id, club_ids, starts_on, terms,
    activated_at)
SELECT a.id, 'active', :'host', ARRAY[:'host', :'home']::uuid[], current_date - 31,
    jsonb_build_object(:'host', '{"payment_mode": "bill_home_club", "fees": {"currency": "GBP"}}'::jsonb),
    now() FROM a;
CREATE TEMP TABLE v AS SELECT gen_random_uuid() AS id FROM generate_series(1, :visits);
INSERT INTO reciprocal.visits (id, home_club_id, host_club_id, member_id, agreement_id, status,
    arrive_on, depart_on, facilities, host_timezone, checked_in_at)
SELECT v.id, :'home', :'host', gen_random_uuid(), a.id, 'checked_in', current_date,
    current_date, '{dining}', 'Europe/London', now() FROM v, a;
SELECT id FROM v;
SQL
    then
        add_error_row "charges" "seeding failed: $(tail -n 1 "$TMP/log/charges-seed.log")"
        return
    fi
    say "charges: $(grep -c . "$TMP/charge-visits.txt") checked-in visits seeded"
    for ((r = 1; r <= rounds; r++)); do
        if [[ -z $ab ]]; then
            charges_rows "$r" ""
            continue
        fi
        charges_serve "$BIN" || { add_error_row "charges A/B" "$BIN did not start"; return; }
        charges_rows "$r" " [$(basename "$(dirname "$BIN")")]"
        charges_serve "$ab" || { add_error_row "charges A/B" "$ab did not start"; return; }
        charges_rows "$r" " [$(basename "$(dirname "$ab")")]"
    done
}

if [[ -n ${token:-} ]]; then
    bench_charges
else
    add_error_row "charges bench" "no administrator token (see above)"
fi
