# bench/visits.sh: the reciprocal service's visit rows of `make bench` (issue 11), sourced by
# bench/run.sh once the server runs and a network administrator is signed in. Uses run.sh's
# base, auth, token, TMP, run_wrk, add_error_row, rows, say, WRK_THREADS. Creates a home and a
# host club (UTC) under an active agreement whose host terms admit same-day visits (31 a month,
# 366 days a year, dining, no notice), imports BENCH_VISIT_MEMBERS (3000) active members into
# the home club (CSV), then:
#   - the door pool: BENCH_DOOR_VISITS (2000) visits for today, each requested, approved (the
#     letter signed) and confirmed through the API (8 curl clients in parallel);
#   - POST /api/v1/visits: every request a new valid one-day visit from tomorrow on
#     (bench/visits_post.lua), so every rule is checked and passes (201); closed loop (wrk: its
#     p99 is the queue at the maximum rate), then open loop at BENCH_OPENLOOP_VISITS_RATE (1000)
#     requests/s offered (the issue's goal: 1,000/s with p99 < 100 ms; bench/openloop.c -B, a
#     new visit a request from a file of bodies, run_openloop: latency from each request's
#     scheduled time);
#   - the open-loop letters: BENCH_DOOR_OPENLOOP_RATE (1000) x BENCH_DOOR_OPENLOOP_SECONDS (2)
#     more such visits per check-in open-loop row (one per round, two in A/B; none when the rate
#     is 0), created with the pool and kept apart from it;
#   - POST /api/v1/visits/check-in open loop (bench/openloop.c -B: each request a letter of the
#     row's own slice, each checked in once) at BENCH_DOOR_OPENLOOP_RATE offered for
#     BENCH_DOOR_OPENLOOP_SECONDS: the goal's measure of a first check-in (1,000/s with p99 < 100
#     ms: latency at the goal's rate, from each request's scheduled time), where the closed
#     loop's first pass below measures the queue at saturation;
#   - POST /api/v1/lois/verify and POST /api/v1/visits/check-in cycling through the pool's
#     letters (bench/visits_door.lua): the first pass checks each visit in, later passes are
#     same-day repeats (the same letter and standing checks, answered without a write);
#   - the offline letter check (bench/loi_verify.c: loi_verify over 2000 letters, one thread,
#     no server; what a door device does with the home club's published keys);
#   - POST /api/v1/visits/{id}/charges cycling through the pool's (checked-in) visits
#     (bench/visits_charges.lua: one dining line each, bill_home_club, so every line goes into
#     the pair's statement of the month; every answer that is not 2xx goes, status and body, to
#     $TMP/log/charges-failed-round-N.txt, and their statuses and codes are printed);
# interleaved: BENCH_VISIT_ROUNDS (3) rounds of these rows, one after the other, so a burst of
# load from the shared machine's other users hits one round rather than one row. A/B: with
# BENCH_VISIT_AB_BIN (a second build of the service), every round runs the rows twice, first
# against the running binary (A), then against BENCH_VISIT_AB_BIN (B, the server restarted on the
# same port and database), rows tagged [A] / [B]; each check-in row then gets its own slice of
# the door pool (so each first pass checks in visits not checked in before), and the charges row
# is left out (most of the pool is not checked in), and with it the statement's issue below.
# BENCH_VISIT_HOOK: a script sourced after the setup, before the rounds (e.g. a profile,
# statement counts). Then (not in A/B)
#   - POST /api/v1/statements/{id}/issue of the pair's month, timed with curl: lines/s.
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh

# api METHOD PATH [BODY]: the body of the answer (stdout); fails on non-2xx.
visits_api() {
    curl -sf -X "$1" -H 'Content-Type: application/json' "${auth[@]}" ${3:+--data "$3"} "$base$2"
}

# visits_login: a fresh access token into token, auth and BENCH_TOKEN (a slow setup on a loaded
# box outlives the access token's lifetime: every run of rows signs in again first).
visits_login() {
    token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
        "$base/api/v1/auth/login" | jq -r '.access_token // empty' 2>/dev/null || true)
    auth=(-H "Authorization: Bearer $token")
    export BENCH_TOKEN=$token
}

# visits_serve BIN: stops the running service (srv_pid) and starts BIN on the same port and
# environment (bench/run.sh's); 0 when it answers /health/ready.
visits_serve() {
    kill -TERM "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    "${SRV_PIN[@]}" "$1" serve >>"$TMP/log/serve.log" 2>&1 &
    srv_pid=$!
    pids+=("$srv_pid")
    wait_http "$base/health/ready" "$srv_pid"
}

# visits_setup: the clubs, the agreement, the members and the door pool; exports what the wrk
# scripts read. 1 (an error row added) when something could not be created.
visits_setup() {
    local ndoor=${BENCH_DOOR_VISITS:-2000} home host k nmem nopen
    local today yesterday out ag after page
    nopen=$(visits_openloop_letters)
    nmem=${BENCH_VISIT_MEMBERS:-$((ndoor + nopen > 3000 ? ndoor + nopen : 3000))}
    [[ $((ndoor + nopen)) -le $nmem ]] || ndoor=$((nmem - nopen))
    # a fresh access token: the one signed in at the start has expired after the member rows
    visits_login
    for k in home host; do
        out=$(visits_api POST /api/v1/clubs "{\"name\":\"Bench Visits $k\",\"slug\":\"bench-visits-$k\",\"timezone\":\"UTC\",\"address\":{\"country\":\"GB\"},\"facilities\":[\"dining\"]}") || {
            add_error_row "POST /api/v1/visits" "could not create the $k club"
            return 1
        }
        printf -v "$k" '%s' "$(jq -r .id <<<"$out")"
    done
    today=$(date -u +%F)
    yesterday=$(date -u -d yesterday +%F)
    visit_tomorrow_s=$(date -u -d "$today + 1 day" +%s)
    visit_home=$home
    out=$(visits_api POST /api/v1/agreements "{\"club_id\":\"$home\",\"clubs\":[\"$home\",\"$host\"],\"starts_on\":\"$yesterday\",\"terms\":{\"$host\":{\"max_visits_month\":31,\"max_days_year\":366,\"max_days_per_stay\":14,\"max_guests\":1,\"allowed_facilities\":[\"dining\"],\"min_notice_hours\":0,\"max_advance_days\":1095,\"payment_mode\":\"bill_home_club\",\"fees\":{\"currency\":\"GBP\"}}}}") || {
        add_error_row "POST /api/v1/visits" "could not propose the agreement"
        return 1
    }
    ag=$(jq -r .id <<<"$out")
    visits_api POST "/api/v1/agreements/$ag/accept" "{\"club_id\":\"$host\"}" >/dev/null || {
        add_error_row "POST /api/v1/visits" "could not activate the agreement"
        return 1
    }
    # the members (active, CSV import), then their ids
    awk -v n="$nmem" 'BEGIN { print "category,status,first_name,last_name,email";
        for (i = 0; i < n; i++) printf "full,active,Visitor,Number%d,visitor%d@example.com\n", i, i }' \
        >"$TMP/visit-members.csv"
    curl -sf -o /dev/null -X POST -H 'Content-Type: text/csv' "${auth[@]}" \
        --data-binary @"$TMP/visit-members.csv" "$base/api/v1/members/import?club_id=$home" || {
        add_error_row "POST /api/v1/visits" "member import failed"
        return 1
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
    # the door pool: request (today), approve, confirm; one letter token a line; 500 members at a
    # time, each batch with a fresh access token (a batch outlives none on a loaded box)
    export VB_BASE=$base VB_HOME=$home VB_HOST=$host VB_DAY=$today
    head -n "$((ndoor + nopen))" "$TMP/visit-members.txt" | split -l 500 - "$TMP/visit-batch-"
    : >"$TMP/visit-pool.txt"
    for k in "$TMP"/visit-batch-*; do
        visits_login
        export VB_TOKEN=$token
        # shellcheck disable=SC2016 # the script expands in the child shell
        # one member id per child ($1): not xargs -I{}, which would also replace the "{}" bodies
        xargs -P 8 -n 1 bash -c '
        h=(-H "Content-Type: application/json" -H "Authorization: Bearer $VB_TOKEN")
        v=$(curl -sf -X POST "${h[@]}" --data "{\"club_id\":\"$VB_HOME\",\"member_id\":\"$1\",\"host_club_id\":\"$VB_HOST\",\"arrive_on\":\"$VB_DAY\",\"depart_on\":\"$VB_DAY\",\"facilities\":[\"dining\"]}" "$VB_BASE/api/v1/visits" | jq -r .id) || exit 0
        t=$(curl -sf -X POST "${h[@]}" --data "{}" "$VB_BASE/api/v1/visits/$v/approve" | jq -r .loi.token) || exit 0
        curl -sf -o /dev/null -X POST "${h[@]}" --data "{}" "$VB_BASE/api/v1/visits/$v/confirm" && echo "$v $t"
    ' _ <"$k" >>"$TMP/visit-pool.txt" || true
        rm -f "$k"
    done
    # the open-loop rows' letters: the last nopen of the pool, kept apart
    if ((nopen > 0)); then
        tail -n "$nopen" "$TMP/visit-pool.txt" | awk '{ printf "{\"token\":\"%s\"}\n", $2 }' \
            >"$TMP/visit-openloop-bodies.txt"
        head -n "-$nopen" "$TMP/visit-pool.txt" >"$TMP/visit-pool.tmp"
        mv "$TMP/visit-pool.tmp" "$TMP/visit-pool.txt"
        say "visits: $(grep -c . "$TMP/visit-openloop-bodies.txt") letters for the open-loop check-in rows"
    fi
    visit_openloop_used=0
    awk '{ print $2 }' "$TMP/visit-pool.txt" >"$TMP/visit-tokens.txt"
    awk '{ print $1 }' "$TMP/visit-pool.txt" >"$TMP/visit-ids.txt"
    say "visits: $(grep -c . "$TMP/visit-tokens.txt") confirmed visits with letters for the door"
    export BENCH_TOKEN=$token BENCH_WRK_THREADS=$WRK_THREADS
    export BENCH_VISIT_MEMBERS=$TMP/visit-members.txt
    export BENCH_VISIT_HOME=$home BENCH_VISIT_HOST=$host BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
    export BENCH_VISIT_IDS=$TMP/visit-ids.txt
    visit_host=$host
}

# visits_openloop_post NAME: the open-loop row of POST /api/v1/visits (NAME " @ RATE/s offered
# (open loop)"): RATE x BENCH_OPENLOOP_SECONDS bodies (and a tenth more), member k % M on day
# start + floor(k / M), the days after the previous run's.
visits_openloop_post() {
    local rate=${BENCH_OPENLOOP_VISITS_RATE:-1000} n nmem days
    nmem=$(grep -c . "$BENCH_VISIT_MEMBERS" || true)
    ((nmem > 0)) || return 0
    n=$((rate * ${BENCH_OPENLOOP_SECONDS:-5} * 11 / 10 + 1))
    days=$(((n + nmem - 1) / nmem))
    export BENCH_VISIT_START=$((visit_tomorrow_s + visit_run * 10 * 86400))
    visit_run=$((visit_run + (days + 9) / 10))
    awk -v n="$n" -v start="$BENCH_VISIT_START" -v home="$BENCH_VISIT_HOME" \
        -v host="$BENCH_VISIT_HOST" '{ m[NR - 1] = $1 } END {
        for (k = 0; k < n; k++) {
            day = strftime("%Y-%m-%d", start + int(k / NR) * 86400, 1)
            printf "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":\"%s\",\"depart_on\":\"%s\",\"facilities\":[\"dining\"]}\n",
                home, m[k % NR], host, day, day } }' "$BENCH_VISIT_MEMBERS" >"$TMP/visit-bodies.txt"
    run_openloop "$1" "$rate" "$base/api/v1/visits" -m POST -H "Authorization: Bearer $token" \
        -B "$TMP/visit-bodies.txt"
}

# visits_openloop_letters: the letters the open-loop check-in rows need (rate x seconds per
# row; a row per round, two in A/B).
visits_openloop_letters() {
    local rate=${BENCH_DOOR_OPENLOOP_RATE:-1000} secs=${BENCH_DOOR_OPENLOOP_SECONDS:-2}
    awk -v r="$rate" -v s="$secs" -v n="${BENCH_VISIT_ROUNDS:-3}" -v ab="${BENCH_VISIT_AB_BIN:+2}" \
        'BEGIN { printf "%d\n", r * s * n * (ab ? ab : 1) }'
}

# visits_openloop_checkin NAME: the open-loop first check-in row (bench/openloop.c -B over the
# next BENCH_DOOR_OPENLOOP_RATE x BENCH_DOOR_OPENLOOP_SECONDS letters kept for it: each request
# checks in a visit not checked in before); run_openloop's row, CPU per request from /proc.
visits_openloop_checkin() {
    local rate=${BENCH_DOOR_OPENLOOP_RATE:-1000} secs=${BENCH_DOOR_OPENLOOP_SECONDS:-2} n have
    n=$(awk -v r="$rate" -v s="$secs" 'BEGIN { printf "%d\n", r * s }')
    ((n > 0)) || return 0
    have=$(grep -c . "$TMP/visit-openloop-bodies.txt" 2>/dev/null || true)
    if ((${have:-0} < visit_openloop_used + n)); then
        add_error_row "$1" "too few letters left for the open-loop row ($have made)"
        return
    fi
    sed -n "$((visit_openloop_used + 1)),$((visit_openloop_used + n))p" \
        "$TMP/visit-openloop-bodies.txt" >"$TMP/visit-openloop-slice.txt"
    visit_openloop_used=$((visit_openloop_used + n))
    BENCH_OPENLOOP_SECONDS=$secs run_openloop "$1" "$rate" "$base/api/v1/visits/check-in" \
        -m POST -H "Authorization: Bearer $token" -B "$TMP/visit-openloop-slice.txt"
}

# visits_rows R TAG SLICE: round R's rows (TAG " [A]" / " [B]" or ""); SLICE: the letters file
# the check-in row cycles through (the whole pool, or the row's own slice in A/B).
visits_rows() {
    local r=$1 tag=$2 slice=$3 npool nslice line
    npool=$(grep -c . "$TMP/visit-tokens.txt" || true)
    nslice=$(grep -c . "$slice" || true)
    visits_login
    # each run's requests start 10 days after the previous run's (no overlap)
    export BENCH_VISIT_START=$((visit_tomorrow_s + visit_run * 10 * 86400))
    visit_run=$((visit_run + 1))
    run_wrk "POST /api/v1/visits (all rules checked, 201), round $r$tag" "$base/api/v1/visits" \
        -s "$ROOT/bench/visits_post.lua"
    visits_openloop_post "POST /api/v1/visits (all rules checked, 201), round $r$tag"
    if ((npool > 0)); then
        export BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
        run_wrk "POST /api/v1/lois/verify ($npool letters), round $r$tag" \
            "$base/api/v1/lois/verify" -s "$ROOT/bench/visits_door.lua"
        visits_openloop_checkin "POST /api/v1/visits/check-in (first check-ins, each letter once), round $r$tag"
        export BENCH_LOI_TOKENS=$slice
        run_wrk "POST /api/v1/visits/check-in (verify + check-in, $nslice letters, first pass checks in, then same-day repeats), round $r$tag" \
            "$base/api/v1/visits/check-in" -s "$ROOT/bench/visits_door.lua"
        export BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
        # not in A/B: most of the pool is not checked in yet there
        if [[ -z $tag ]]; then
            export BENCH_FAIL_LOG=$TMP/log/charges-failed-round-$r.txt
            : >"$BENCH_FAIL_LOG"
            run_wrk "POST /api/v1/visits/{id}/charges (1 line each, $npool visits), round $r" \
                "$base/api/v1/visits" -s "$ROOT/bench/visits_charges.lua"
            # the failed posts' statuses and error codes (the bodies are in the file)
            if [[ -s $BENCH_FAIL_LOG ]]; then
                say "charges round $r, failed answers: $(sed 's/^\([0-9]*\) .*"code":"\([^"]*\)".*/\1 \2/' "$BENCH_FAIL_LOG" | sort | uniq -c | tr '\n' ';')"
            fi
            unset BENCH_FAIL_LOG
        fi
    else
        add_error_row "POST /api/v1/visits/check-in" "no confirmed visit for the door pool"
    fi
    if ((visit_loi_ok)); then
        line=$("${WRK_PIN[@]}" "$ROOT/build/bench-loi-verify" 2000 3 2>&1 | grep '^loi-verify-bench' || true)
        if [[ -n $line ]]; then
            rows+=("LOI offline verify (loi_verify, 1 thread, no server), round $r$tag|$(sed -n 's/.* per_s=\([^ ]*\).*/\1/p' <<<"$line")|-|-|$(sed -n 's/.* us_per_verify=\([^ ]*\).*/\1/p' <<<"$line") µs per letter: decode, kid in 3 keys, Ed25519, host, window")
        else
            add_error_row "LOI offline verify" "bench-loi-verify failed"
        fi
    fi
}

bench_visits() {
    local rounds=${BENCH_VISIT_ROUNDS:-3} r ab=${BENCH_VISIT_AB_BIN:-} nslices i
    local host home
    visit_run=0
    visits_setup || return
    host=$visit_host home=$visit_home
    visit_loi_ok=0
    if make -s build/bench-loi-verify 2>"$TMP/log/loi-verify-cc.log"; then
        visit_loi_ok=1
    else
        add_error_row "LOI offline verify" "bench/loi_verify.c did not compile"
    fi
    # BENCH_VISIT_HOOK: a script sourced here, after the setup (profiling, statement counts)
    # shellcheck disable=SC1090
    [[ -z ${BENCH_VISIT_HOOK:-} ]] || source "$BENCH_VISIT_HOOK"
    if [[ -z $ab ]]; then
        for ((r = 1; r <= rounds; r++)); do visits_rows "$r" "" "$TMP/visit-tokens.txt"; done
    else
        # one slice of the pool per check-in row (A and B of every round)
        nslices=$((2 * rounds))
        for ((i = 0; i < nslices; i++)); do
            awk -v n="$nslices" -v i="$i" '(NR - 1) % n == i' "$TMP/visit-tokens.txt" >"$TMP/visit-slice-$i.txt"
        done
        for ((r = 1; r <= rounds; r++)); do
            visits_serve "$BIN" || { add_error_row "A/B" "$BIN did not start"; return; }
            visits_rows "$r" " [A]" "$TMP/visit-slice-$((2 * r - 2)).txt"
            visits_serve "$ab" || { add_error_row "A/B" "$ab did not start"; return; }
            visits_rows "$r" " [B]" "$TMP/visit-slice-$((2 * r - 1)).txt"
        done
    fi
    # A/B: no charges row, hence no statement of the pair to issue (was an error row and exit 1)
    [[ -z $ab ]] || return 0
    # the month's statement of the pair (host -> home) with every line posted above: issue it
    local sid nlines t
    sid=$(visits_api GET "/api/v1/statements?status=draft&limit=100" |
        jq -r --arg h "$host" '[.items[] | select(.host_club_id == $h)][0].id // empty') || sid=
    if [[ -n $sid ]]; then
        t=$(curl -sf -o "$TMP/statement-issued.json" -w '%{time_total}' -X POST \
            -H 'Content-Type: application/json' "${auth[@]}" --data '{}' \
            "$base/api/v1/statements/$sid/issue") || t=
        nlines=$(jq -r '(.lines | length) // .line_count // empty' "$TMP/statement-issued.json" 2>/dev/null || true)
        if [[ -n $t && -n $nlines ]]; then
            rows+=("POST /api/v1/statements/{id}/issue ($nlines lines, 1 pair)|$(awk -v n="$nlines" -v t="$t" 'BEGIN { printf "%.0f lines/s", n / t }')|$(awk -v t="$t" 'BEGIN { printf "%.0fms", t * 1000 }')|-|one request, curl time_total")
        else
            add_error_row "POST /api/v1/statements/{id}/issue" "the issue failed"
        fi
    else
        add_error_row "POST /api/v1/statements/{id}/issue" "no draft statement for the bench pair"
    fi
}

if [[ -n ${token:-} ]]; then
    bench_visits
else
    add_error_row "visits bench" "no administrator token (see above)"
fi
