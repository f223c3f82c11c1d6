# bench/visits_roundtrips.sh: a BENCH_VISIT_HOOK (bench/visits.sh) that counts the PostgreSQL
# round trips per request of the visit rows: strace (-f -yy) on the running server counts the
# sendto calls on its connections to PostgreSQL's port (libpq sends a flight with one send:
# one send = one round trip) by the threads that answer HTTP requests (the background workers'
# statements are not counted) over a short wrk run (-c1), divided by the requests. With
# BENCH_VISIT_AB_BIN it counts A (the running binary) and B, and leaves A running. Check-in:
# 10 letters taken out of the pool (so the A/B slices still check in only untouched visits):
# a run over them (first check-ins, then same-day repeats) and a second run (repeats only) give
# both. Output: "round trips: ..." lines (say) and rows in the table.
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh and bench/visits.sh

# vrt_sends NAME URL LUA: "<requests> <sends>" of a 2 s wrk run under strace.
vrt_sends() {
    local url=$1 lua=$2 pgport st out n sends
    pgport=$(sed 's/.*@127\.0\.0\.1:\([0-9]*\)\/.*/\1/' <<<"$RCP_PG_APP_URL")
    strace -f -qq -yy -e trace=sendto,sendmsg,writev -e signal=none -o "$TMP/log/vrt-strace.txt" -p "$srv_pid" &
    st=$!
    sleep 1
    out=$(wrk -t1 -c1 -d2s "$url" -s "$lua" 2>&1) || true
    sleep 0.5
    kill -INT "$st" 2>/dev/null || true
    wait "$st" 2>/dev/null || true
    n=$(awk '/requests in/ { print $1 }' <<<"$out")
    # only the HTTP worker threads (the ones answering on the server's port): the outbox relay,
    # the ledger worker and the sweeps talk to PostgreSQL in the background
    sends=$(awk -v pg="->127.0.0.1:$pgport]" -v http="127.0.0.1:${base##*:}->" '
        index($0, http) { web[$1] = 1 }
        index($0, pg) { n[$1]++ }
        END { for (t in n) if (t in web) s += n[t]; print s + 0 }' "$TMP/log/vrt-strace.txt")
    echo "${n:-0} ${sends:-0}"
}

# vrt_count TAG: the counts of the running server, rows tagged TAG.
vrt_count() {
    local tag=$1 n s n1 s1 n2 s2 per
    visits_login
    export BENCH_VISIT_START=$((visit_tomorrow_s + (30 + visit_run) * 10 * 86400))
    visit_run=$((visit_run + 1))
    read -r n s < <(vrt_sends "$base/api/v1/visits" "$ROOT/bench/visits_post.lua")
    per=$(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.2f", n ? s / n : 0 }')
    say "round trips$tag: POST /api/v1/visits: $s sends / $n requests = $per"
    rows+=("PostgreSQL round trips per POST /api/v1/visits$tag|$per|-|-|$s sends to PostgreSQL / $n requests (strace)")
    export BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
    read -r n s < <(vrt_sends "$base/api/v1/lois/verify" "$ROOT/bench/visits_door.lua")
    per=$(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.2f", n ? s / n : 0 }')
    say "round trips$tag: POST /api/v1/lois/verify: $s sends / $n requests = $per"
    rows+=("PostgreSQL round trips per POST /api/v1/lois/verify$tag|$per|-|-|$s sends / $n requests (strace)")
    export BENCH_LOI_TOKENS=$TMP/vrt-letters$tag.txt
    read -r n1 s1 < <(vrt_sends "$base/api/v1/visits/check-in" "$ROOT/bench/visits_door.lua")
    read -r n2 s2 < <(vrt_sends "$base/api/v1/visits/check-in" "$ROOT/bench/visits_door.lua")
    per=$(awk -v n="$n2" -v s="$s2" 'BEGIN { printf "%.2f", n ? s / n : 0 }')
    say "round trips$tag: check-in, same-day repeat: $s2 / $n2 = $per"
    rows+=("PostgreSQL round trips per check-in, same-day repeat$tag|$per|-|-|$s2 sends / $n2 requests (strace)")
    per=$(awk -v n="$n1" -v s="$s1" -v r="$per" 'BEGIN { printf "%.2f", (s - (n - 10) * r) / 10 }')
    say "round trips$tag: check-in, first: ($s1 - ($n1 - 10) x repeat) / 10 = $per"
    rows+=("PostgreSQL round trips per first check-in$tag|$per|-|-|10 first check-ins among $n1 requests, $s1 sends (strace)")
    export BENCH_LOI_TOKENS=$TMP/visit-tokens.txt
}

if ! command -v strace >/dev/null; then
    add_error_row "round trips" "strace not found"
else
    # 10 letters per binary out of the pool
    head -n 10 "$TMP/visit-tokens.txt" >"$TMP/vrt-letters [A].txt"
    sed -n '11,20p' "$TMP/visit-tokens.txt" >"$TMP/vrt-letters [B].txt"
    sed -i '1,20d' "$TMP/visit-tokens.txt"
    if [[ -z ${BENCH_VISIT_AB_BIN:-} ]]; then
        vrt_count ""
    else
        vrt_count " [A]"
        visits_serve "$BENCH_VISIT_AB_BIN" && vrt_count " [B]"
        visits_serve "$BIN" || add_error_row "round trips" "$BIN did not start again"
    fi
fi
