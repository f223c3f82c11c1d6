# bench/visits.sh: the reciprocal service's visit rows of `make bench` (issue 11), sourced by
# bench/run.sh once the server runs and a network administrator is signed in. Uses run.sh's
# base, auth, token, TMP, run_wrk, add_error_row, rows, say, WRK_THREADS. Creates a home and a
# host club (UTC) under an active agreement whose host terms admit same-day visits (31 a month,
# 366 days a year, dining, no notice), imports BENCH_VISIT_MEMBERS (3000) active members into
# the home club (CSV), then:
#   - the door pool: BENCH_DOOR_VISITS (2000) visits for today, each requested, approved (the
#     letter signed) and confirmed through the API (8 curl clients in parallel);
#   - POST /api/v1/visits: every request a new valid one-day visit from tomorrow on
#     (bench/visits_post.lua), so every rule is checked and passes (201);
#   - POST /api/v1/lois/verify and POST /api/v1/visits/check-in cycling through the pool's
#     letters (bench/visits_door.lua): the first pass checks each visit in, later passes are
#     same-day repeats (the same letter and standing checks, answered without a write).
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh

# api METHOD PATH [BODY]: the body of the answer (stdout); fails on non-2xx.
visits_api() {
    curl -sf -X "$1" -H 'Content-Type: application/json' "${auth[@]}" ${3:+--data "$3"} "$base$2"
}

bench_visits() {
    local nmem=${BENCH_VISIT_MEMBERS:-3000} ndoor=${BENCH_DOOR_VISITS:-2000} home host k
    local today yesterday tomorrow_s out ag after page
    [[ $ndoor -le $nmem ]] || ndoor=$nmem
    # a fresh access token: the one signed in at the start has expired after the member rows
    token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
        "$base/api/v1/auth/login" | jq -r '.access_token // empty' 2>/dev/null || true)
    auth=(-H "Authorization: Bearer $token")
    for k in home host; do
        out=$(visits_api POST /api/v1/clubs "{\"name\":\"Bench Visits $k\",\"slug\":\"bench-visits-$k\",\"timezone\":\"UTC\",\"address\":{\"country\":\"GB\"},\"facilities\":[\"dining\"]}") || {
            add_error_row "POST /api/v1/visits" "could not create the $k club"
            return
        }
        printf -v "$k" '%s' "$(jq -r .id <<<"$out")"
    done
    today=$(date -u +%F)
    yesterday=$(date -u -d yesterday +%F)
    tomorrow_s=$(date -u -d "$today + 1 day" +%s)
    out=$(visits_api POST /api/v1/agreements "{\"club_id\":\"$home\",\"clubs\":[\"$home\",\"$host\"],\"starts_on\":\"$yesterday\",\"terms\":{\"$host\":{\"max_visits_month\":31,\"max_days_year\":366,\"max_days_per_stay\":14,\"max_guests\":1,\"allowed_facilities\":[\"dining\"],\"min_notice_hours\":0,\"max_advance_days\":1095}}}") || {
        add_error_row "POST /api/v1/visits" "could not propose the agreement"
        return
    }
    ag=$(jq -r .id <<<"$out")
    visits_api POST "/api/v1/agreements/$ag/accept" "{\"club_id\":\"$host\"}" >/dev/null || {
        add_error_row "POST /api/v1/visits" "could not activate the agreement"
        return
    }
    # the members (active, CSV import), then their ids
    awk -v n="$nmem" 'BEGIN { print "category,status,first_name,last_name,email";
        for (i = 0; i < n; i++) printf "full,active,Visitor,Number%d,visitor%d@example.com\n", i, i }' \
        >"$TMP/visit-members.csv"
    curl -sf -o /dev/null -X POST -H 'Content-Type: text/csv' "${auth[@]}" \
        --data-binary @"$TMP/visit-members.csv" "$base/api/v1/members/import?club_id=$home" || {
        add_error_row "POST /api/v1/visits" "member import failed"
        return
    }
    : >"$TMP/visit-members.txt"
    after=
    while :; do
        page=$(visits_api GET "/api/v1/members?club_id=$home&limit=100${after:+&after=$after}") || break
        jq -r '.items[].id' <<<"$page" >>"$TMP/visit-members.txt"
        after=$(jq -r '.next_cursor // empty' <<<"$page")
        [[ -n $after ]] || break
    done
    say "visits: $(wc -l <"$TMP/visit-members.txt") members in the home club"
    # the door pool: request (today), approve, confirm; one letter token a line
    export VB_BASE=$base VB_TOKEN=$token VB_HOME=$home VB_HOST=$host VB_DAY=$today
    # shellcheck disable=SC2016 # the script expands in the child shell
    head -n "$ndoor" "$TMP/visit-members.txt" | xargs -P 8 -I{} bash -c '
        h=(-H "Content-Type: application/json" -H "Authorization: Bearer $VB_TOKEN")
        v=$(curl -sf -X POST "${h[@]}" --data "{\"club_id\":\"$VB_HOME\",\"member_id\":\"$1\",\"host_club_id\":\"$VB_HOST\",\"arrive_on\":\"$VB_DAY\",\"depart_on\":\"$VB_DAY\",\"facilities\":[\"dining\"]}" "$VB_BASE/api/v1/visits" | jq -r .id) || exit 0
        t=$(curl -sf -X POST "${h[@]}" --data "{}" "$VB_BASE/api/v1/visits/$v/approve" | jq -r .loi.token) || exit 0
        curl -sf -o /dev/null -X POST "${h[@]}" --data "{}" "$VB_BASE/api/v1/visits/$v/confirm" && echo "$t"
    ' _ {} >"$TMP/visit-tokens.txt" || true
    say "visits: $(grep -c . "$TMP/visit-tokens.txt") confirmed visits with letters for the door"
    export BENCH_TOKEN=$token BENCH_WRK_THREADS=$WRK_THREADS
    export BENCH_VISIT_MEMBERS=$TMP/visit-members.txt BENCH_VISIT_START=$tomorrow_s
    export BENCH_VISIT_HOME=$home BENCH_VISIT_HOST=$host BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
    run_wrk "POST /api/v1/visits (all rules checked, 201)" "$base/api/v1/visits" \
        -s "$ROOT/bench/visits_post.lua"
    if (($(grep -c . "$TMP/visit-tokens.txt") > 0)); then
        run_wrk "POST /api/v1/lois/verify ($(grep -c . "$TMP/visit-tokens.txt") letters)" \
            "$base/api/v1/lois/verify" -s "$ROOT/bench/visits_door.lua"
        run_wrk "POST /api/v1/visits/check-in (verify + check-in, $(grep -c . "$TMP/visit-tokens.txt") letters, then same-day repeats)" \
            "$base/api/v1/visits/check-in" -s "$ROOT/bench/visits_door.lua"
    else
        add_error_row "POST /api/v1/visits/check-in" "no confirmed visit for the door pool"
    fi
}

if [[ -n ${token:-} ]]; then
    bench_visits
else
    add_error_row "visits bench" "no administrator token (see above)"
fi
