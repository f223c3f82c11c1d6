# bench/member.sh: the member service part of `make bench` (issue 6), sourced by bench/run.sh
# once the server runs and a network administrator is signed in. Uses run.sh's base, auth,
# token, TMP, run_wrk, add_error_row, rows, say. Creates a club, seeds it with 100,000 members
# through ten 10,000-row CSV imports (text/csv bodies; the first one is the timed "10,000-row
# import" row), waits (at most 120 s) until the outbox relay has published the imports'
# member.created events, then runs wrk on GET /api/v1/members/{id} (REST and GraphQL), GET
# /api/v1/members?q=<prefix> (name prefix search, member.search_words) in the default (match)
# order for q=lov and q=exa (every member) and with sort=name (q=lov, and open loop q=e), and the first page of the list in the default order and by name, in that club;
# then the same list and search routes open loop at BENCH_OPENLOOP_MEMBERS_RATE (2000) req/s
# offered (issue 16's target: p99 < 200 ms), with CPU per request (server + PostgreSQL).
# Environment: BENCH_MEMBERS (100000, a multiple of 10000), BENCH_OPENLOOP_MEMBERS_RATE.
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh

bench_members() {
    local total=${BENCH_MEMBERS:-100000} club resp code k t0 t1 secs first_secs="" sum=0 n=0
    local mbody='{"name":"Bench Members","slug":"bench-members","timezone":"Europe/London","address":{"country":"GB"}}'
    resp=$(curl -s -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' "${auth[@]}" \
        --data "$mbody" "$base/api/v1/clubs" || true)
    code=$(tail -n 1 <<<"$resp")
    club=$(sed '$d' <<<"$resp" | jq -r '.id // empty' 2>/dev/null || true)
    if [[ $code != 201 || -z $club ]]; then
        add_error_row "member bench" "could not create a club: $code"
        return
    fi
    # 10,000 rows per file: varied first/last names, emails, a home address
    for ((k = 0; k < total / 10000; k++)); do
        awk -v off="$k" 'BEGIN {
            nl = split("Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright " \
                "Thompson Evans Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan " \
                "Lewis James Phillips Mason Mitchell Rose Davis Rodriguez Cox Alexander Garden " \
                "Campbell Johnston Moore Quinn Murphy Graham Hamilton Murray Hughes Robertson " \
                "Thomson Scott Macdonald Reid Clark Ross Young Watson Paterson Morrison Lovelace " \
                "Babbage Hopper Turing Noether Curie Fermi Bohr Dirac", L, " ")
            nf = split("Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James " \
                "Amelia Olivia Isla Emily Poppy Ava Isabella Jessica Lily Sophie Grace Ada Alan", F, " ")
            print "category,first_name,last_name,email,address_line1,city,postal_code,country"
            for (i = 0; i < 10000; i++) {
                n = off * 10000 + i
                l = L[(n * 7) % nl + 1]; f = F[(n * 13) % nf + 1]
                printf "full,%s,%s,%s.%s.%d@example.com,%d High Street,London,SW1A %dAA,GB\n",
                    f, l, tolower(f), tolower(l), n, n % 200 + 1, n % 10
            }
        }' >"$TMP/members-$k.csv"
        t0=$(date +%s.%N)
        code=$(curl -s -o "$TMP/import-$k.json" -w '%{http_code}' -X POST \
            -H 'Content-Type: text/csv' "${auth[@]}" --data-binary @"$TMP/members-$k.csv" \
            "$base/api/v1/members/import?club_id=$club" || true)
        t1=$(date +%s.%N)
        if [[ $code != 200 ]]; then
            add_error_row "POST /api/v1/members/import (10,000 rows)" \
                "file $k answered $code: $(head -c 160 "$TMP/import-$k.json")"
            return
        fi
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
        [[ -n $first_secs ]] || first_secs=$secs
        sum=$(awk -v a="$sum" -v b="$secs" 'BEGIN { printf "%.2f", a + b }')
        n=$((n + 1))
        say "import $n/$((total / 10000)): 10,000 rows in $secs s"
    done
    rows+=("POST /api/v1/members/import (10,000 rows, text/csv)|-|-|-|first ${first_secs} s; mean $(awk -v s="$sum" -v n="$n" 'BEGIN { printf "%.2f", s / n }') s over $n files ($((n * 10000)) members seeded)")
    # The imports queued one member.created event per member: let the relay publish them
    # before the reads are measured, so that they do not share the CPU with that backlog
    # (outbox_pending on /metrics; at most 120 s).
    local waited=0 pending=""
    while ((waited < 120)); do
        pending=$(curl -s "$base/metrics" |
            awk '$1 == "outbox_pending{schema=\"member\"}" { print $2 }' || true)
        [[ -z $pending || $pending == 0 ]] && break
        sleep 1
        waited=$((waited + 1))
    done
    say "member events still to publish: ${pending:-unknown} (waited $waited s)"
    # one member (the first of the last file) and the prefix search
    local id q
    id=$(curl -s "${auth[@]}" "$base/api/v1/members?club_id=$club&limit=1&sort=-created_at" |
        jq -r '.items[0].id // empty' 2>/dev/null || true)
    if [[ -z $id ]]; then
        add_error_row "GET /api/v1/members/{id}" "no member found in the seeded club"
        return
    fi
    run_wrk "GET /api/v1/members/{id} (token, 100k club)" \
        "$base/api/v1/members/$id?club_id=$club" "${auth[@]}"
    # the same read over GraphQL (issue 6: get member by id, REST and GraphQL)
    jq -n --arg q "query { member(id: \"$id\", clubId: \"$club\") { id memberNumber status category expiresOn profile { firstName lastName email } } }" \
        '{query: $q}' >"$TMP/gql-member.json"
    if curl -s -H 'Content-Type: application/json' "${auth[@]}" --data @"$TMP/gql-member.json" \
        "$base/graphql" | jq -e '.data.member.id' >/dev/null 2>&1; then
        BENCH_TOKEN=$token GRAPHQL_BODY=$TMP/gql-member.json \
            run_wrk "POST /graphql member(id:) (token, 100k club)" "$base/graphql" \
            -s "$ROOT/bench/graphql_post.lua"
    else
        add_error_row "POST /graphql member(id:)" "unexpected answer: $(curl -s -H 'Content-Type: application/json' "${auth[@]}" --data @"$TMP/gql-member.json" "$base/graphql" | head -c 200)"
    fi
    q=lov
    n=$(curl -s "${auth[@]}" "$base/api/v1/members?club_id=$club&q=$q" |
        jq -r '.items | length' 2>/dev/null || true)
    if [[ $n != 20 ]]; then
        add_error_row "GET /api/v1/members?q=$q" "expected a full page of 20, got '${n}'"
        return
    fi
    run_wrk "GET /api/v1/members?q=$q (prefix search, 100k club)" \
        "$base/api/v1/members?club_id=$club&q=$q" "${auth[@]}"
    # a prefix of every member's e-mail (100,000 matches): the work of a search without sort
    # is bounded by the page (match order, docs/member.md), so it costs what q=lov costs
    run_wrk "GET /api/v1/members?q=exa (prefix of the whole club, 100k club)" \
        "$base/api/v1/members?club_id=$club&q=exa" "${auth[@]}"
    # the same search sorted by name (the matches sorted on profiles.name_key)
    run_wrk "GET /api/v1/members?q=$q&sort=name (100k club)" \
        "$base/api/v1/members?club_id=$club&q=$q&sort=name" "${auth[@]}"
    # the first page of the unfiltered list (default sort created_at), and by name (index
    # profiles_name_key_idx)
    run_wrk "GET /api/v1/members?limit=20 (100k club)" \
        "$base/api/v1/members?club_id=$club&limit=20" "${auth[@]}"
    run_wrk "GET /api/v1/members?sort=name&limit=20 (100k club)" \
        "$base/api/v1/members?club_id=$club&sort=name&limit=20" "${auth[@]}"
    # issue 16's target, open loop (bench/openloop.c through run.sh's run_openloop): the list and
    # any prefix search keep up at BENCH_OPENLOOP_MEMBERS_RATE (2000) requests/s offered with
    # p99 < 200 ms; each row: achieved rate, p50/p99 from the scheduled send time, CPU ms per
    # request of the server + PostgreSQL; q=e&sort=name: a one-letter prefix by name (every
    # member's e-mail has "example": before member 0011 it sorted all 100,000 matches)
    local mrate=${BENCH_OPENLOOP_MEMBERS_RATE:-2000} route
    for route in "limit=20" "sort=name&limit=20" "q=lov" "q=exa" "q=lov&sort=name" "q=e&sort=name"; do
        run_openloop "GET /api/v1/members?$route (100k club)" "$mrate" \
            "$base/api/v1/members?club_id=$club&$route" "${auth[@]}"
    done
}

if [[ -n ${token:-} ]]; then
    bench_members
else
    add_error_row "member bench" "no administrator token (see above)"
fi
