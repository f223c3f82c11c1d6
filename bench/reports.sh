# bench/reports.sh: the analytics club report at 1,000,000 visits (issue 14, `make bench` group
# "reports"), sourced by bench/run.sh once the server runs and a network administrator is signed
# in. Uses run.sh's base, auth, login_body, TMP, BIN, SRV_PIN, pids, wait_http, add_error_row, rows, say and
# RCP_PG_OWNER_URL. Seeds, in SQL, BENCH_REPORTS_VISITS (1,000,000) visits of one club (Europe/
# London) with 200 partners over the 18 months 2024-07-01 .. 2025-12-31 (4 in 5 visits hosted, 1
# in 5 its members' visits abroad; 300,007 member keys per side; an approval after 0..7199 s for
# 4 in 5, the others declined): one raw event per visit (its final status, dates, facility and
# request time) inserted into analytics.raw_events, then analytics.rebuild_all() (the rebuild
# from the raw store: visits, daily rollups, monthly level), so the rollups are made by the
# service's own SQL, not written by hand. Then times GET /api/v1/analytics/clubs/{id}/report
# (period=year, date=2025-06-30: the 12 months of 2025; JSON) and .../chart?kind=visits over
# HTTP, BENCH_REPORTS_RUNS (50) requests each: p50/p99 (curl's time_total). With
# BENCH_REPORTS_BEFORE_BIN (a binary built from the code before the monthly rollups) a second
# server runs it against the same database and the requests alternate A (before) / B (after);
# the rows say the ratio of the medians. Environment: BENCH_REPORTS_VISITS, BENCH_REPORTS_RUNS,
# BENCH_REPORTS_BEFORE_BIN.
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh

# p50 and p99 (ms) of the seconds in file $1, one a line: "p50 p99"
reports_pct() {
    sort -g "$1" | awk '{ v[NR] = $1 * 1000 } END {
        if (NR == 0) { print "- -"; exit }
        i50 = int((NR + 1) / 2); i99 = int(NR * 0.99 + 0.999999); if (i99 > NR) i99 = NR
        printf "%.1f %.1f\n", v[i50], v[i99] }'
}

# one timed GET: appends time_total to $2, fails unless the status is 200
reports_get() {
    local url=$1 out=$2 body=$3 res
    res=$(curl -s -o "$body" -w '%{http_code} %{time_total}' "${auth[@]}" "$url" || true)
    [[ ${res%% *} == 200 ]] || return 1
    printf '%s\n' "${res#* }" >>"$out"
}

bench_reports() {
    local n=${BENCH_REPORTS_VISITS:-1000000} runs=${BENCH_REPORTS_RUNS:-50} club t0 t1 secs
    local before=${BENCH_REPORTS_BEFORE_BIN:-} bbase="" bpid="" i k
    club=$(cat /proc/sys/kernel/random/uuid)
    say "reports: seeding $n visits of club $club (raw events + analytics.rebuild_all)"
    t0=$(date +%s.%N)
    if ! psql -X -q -v ON_ERROR_STOP=1 -v club="$club" -v n="$n" "$RCP_PG_OWNER_URL" \
        >"$TMP/log/reports-seed.log" 2>&1 <<'SQL'; then
SET app.relay = 'on';
SELECT analytics.ensure_month(m::date)
FROM generate_series(DATE '2024-06-01', DATE '2025-12-01', interval '1 month') m;
INSERT INTO analytics.clubs (club_id, timezone, name, updated_at)
VALUES (:'club', 'Europe/London', 'Bench Reports', now());
INSERT INTO analytics.raw_events (occurred_at, event_id, type, club_id, host_club_id,
    home_club_id, visit_id, member_key, facts)
SELECT s.req + (s.g % 7200) * interval '1 second', gen_random_uuid(),
       CASE WHEN s.g % 5 = 4 THEN 'loi.declined' ELSE 'loi.issued' END, s.host, s.host, s.home,
       gen_random_uuid(), encode(sha256(convert_to(s.home::text || '/' || (s.g % 300007)::text,
                                                   'UTF8')), 'hex'),
       jsonb_build_object('status', (ARRAY['completed', 'checked_in', 'no_show', 'cancelled',
                                            'declined'])[1 + s.g % 5],
                          'arrive_on', s.arrive, 'depart_on', s.arrive + s.g % 3,
                          'guests', s.g % 3, 'facility', (ARRAY['dining', 'rooms', 'golf'])[1 + s.g % 3],
                          'timezone', 'Europe/London', 'requested_at', s.req)
FROM (SELECT g, arrive, (arrive - (g % 20))::timestamp AT TIME ZONE 'Europe/London'
                            + interval '9 hours' AS req,
             CASE WHEN g % 5 = 0 THEN p ELSE :'club'::uuid END AS host,
             CASE WHEN g % 5 = 0 THEN :'club'::uuid ELSE p END AS home
      FROM (SELECT g, DATE '2024-07-01' + (g % 549) AS arrive,
                   ('00000000-0000-4000-8000-' || lpad((g % 200)::text, 12, '0'))::uuid AS p
            FROM generate_series(1, :n) g) x) s;
SELECT analytics.rebuild_all();
SQL
        add_error_row "analytics 12-month club report" "seed failed: $(tail -n 1 "$TMP/log/reports-seed.log")"
        return
    fi
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
    say "reports: seeded in $secs s"
    if [[ -n $before && -x $before ]]; then
        local bport
        bport=$(rcp_free_port)
        RECIPROCAL_LISTEN=127.0.0.1:$bport "${SRV_PIN[@]}" "$before" serve \
            >"$TMP/log/serve-before.log" 2>&1 &
        bpid=$!
        pids+=("$bpid")
        if wait_http "http://127.0.0.1:$bport/health/ready" "$bpid"; then
            bbase=http://127.0.0.1:$bport
        else
            say "reports: the before binary did not start: $(tail -n 1 "$TMP/log/serve-before.log")"
        fi
    fi
    local q="period=year&date=2025-06-30" name
    for k in report chart; do
        # the seed and 50 requests of the before code outlive an access token: sign in again
        token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
            "$base/api/v1/auth/login" | jq -r '.access_token // empty' 2>/dev/null || true)
        auth=(-H "Authorization: Bearer $token")
        local path="/api/v1/analytics/clubs/$club/report?$q"
        [[ $k == chart ]] && path="/api/v1/analytics/clubs/$club/chart?kind=visits&$q"
        : >"$TMP/reports-$k-a.txt"
        : >"$TMP/reports-$k-b.txt"
        # one warm-up each (plans, caches), then the timed requests, alternating
        reports_get "$base$path" /dev/null "$TMP/reports-$k-b.out" || true
        [[ -n $bbase ]] && { reports_get "$bbase$path" /dev/null "$TMP/reports-$k-a.out" || true; }
        for ((i = 0; i < runs; i++)); do
            if [[ -n $bbase ]] && ! reports_get "$bbase$path" "$TMP/reports-$k-a.txt" "$TMP/reports-$k-a.out"; then
                add_error_row "analytics club $k (before)" "status not 200: $(head -c 160 "$TMP/reports-$k-a.out")"
                return
            fi
            if ! reports_get "$base$path" "$TMP/reports-$k-b.txt" "$TMP/reports-$k-b.out"; then
                add_error_row "analytics club $k" "status not 200: $(head -c 160 "$TMP/reports-$k-b.out")"
                return
            fi
        done
        read -r p50 p99 < <(reports_pct "$TMP/reports-$k-b.txt")
        name="GET analytics 12-month club $k (JSON, $n visits)"
        [[ $k == chart ]] && name="GET analytics 12-month club chart?kind=visits (SVG, $n visits)"
        local notes="after (monthly rollups), $runs requests; goal p99 < 200 ms"
        [[ $k == chart ]] && notes="after, $runs requests; report + SVG rendering"
        if [[ -n $bbase ]]; then
            read -r a50 a99 < <(reports_pct "$TMP/reports-$k-a.txt")
            notes="$notes; before (daily rollups only), interleaved: p50 $a50 ms, p99 $a99 ms, p50 ratio $(awk -v a="$a50" -v b="$p50" 'BEGIN { printf "%.1f", a / b }')x"
            if [[ $k == report ]] && ! cmp -s <(jq -S 'del(.flags)' "$TMP/reports-$k-a.out") \
                <(jq -S 'del(.flags)' "$TMP/reports-$k-b.out"); then
                notes="$notes; ANSWERS DIFFER"
            fi
        fi
        [[ $k == report ]] && notes="$notes; requests_in $(jq -r '.requests_in' "$TMP/reports-$k-b.out"), unique_visitors_in $(jq -r '.unique_visitors_in' "$TMP/reports-$k-b.out"); seeded in $secs s"
        rows+=("$name|-|$p50 ms|$p99 ms|$notes")
    done
}

bench_reports
