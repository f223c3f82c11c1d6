# bench/governance_votes.sh: the governance vote rows of `make bench` (issue 15: "1,000 votes/s
# cast and ledger-submitted"), sourced by bench/run.sh once the server runs (its periodic
# governance sweep off) and a network administrator is signed in. Uses run.sh's base, auth,
# token, login_body, TMP, srv_pid, PG_DATA, WRK_PIN, CONNS, DURATION, WRK_THREADS, rows,
# add_error_row, say. Bootstraps the ledger, creates BENCH_GOV_CLUBS (100) clubs, each a ledger
# organisation with server-held keys, opens a `policy` proposal (a vote may change, so every
# request is a new cast and a new governance.vote_cast record), then BENCH_GOV_ROUNDS (3)
# interleaved rounds of (CPU from /proc: the server, PostgreSQL's backends and nats-server):
#   - cast: wrk POST /api/v1/governance/proposals/{id}/votes, the network administrator acting
#     for the clubs in turn (bench/governance_votes.lua), choices alternating: votes/s, and the
#     CPU per vote of the server and PostgreSQL's backends (from /proc); BENCH_GOV_CONNS
#     connections (run.sh's CONNS; 1 = casts one at a time: the CPU of a cast without the
#     contention of concurrent ones, the steadiest figure on a loaded box);
#   - submit: POST /api/v1/governance/sweep until the round's vote records are on the ledger
#     (a pass drains them in ledger submit_batch calls of 100 records): records/s and CPU
#     per record;
#   - cast + submit: the round's votes over the two phases' wall time (what one core pair does
#     when both run one after the other) and the CPU per vote of both.
# That is with BENCH_GOV_SEQUENTIAL=1 (run.sh then turns the ledger records job off). By default
# the server's ledger records job runs every second as deployed (RECIPROCAL_GOVERNANCE_LEDGER_SECONDS
# 1), submitting while the votes are cast, and each round is instead:
#   - cast: the same wrk, the ledger pass alongside: votes/s, latency;
#   - cast and ledger-submitted: the round's votes over the wall time from the first cast until
#     its last vote record is submitted (the records' updated_at, read through the bench
#     cluster's superuser once wrk ends, every 0.1 s until none of the round is pending), and the
#     CPU per vote of the three processes over that window: the goal's figure.
# shellcheck shell=bash disable=SC2154 # variables come from bench/run.sh

gov_api() {
    curl -sf -X "$1" -H 'Content-Type: application/json' "${auth[@]}" ${3:+--data "$3"} "$base$2"
}
# CPU ticks of a process (all threads) and of the PostgreSQL backends (the postmaster's children)
gov_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
gov_pg_ticks() {
    local pm c sum=0
    pm=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || echo 0)
    for c in $(pgrep -P "$pm" 2>/dev/null); do sum=$((sum + $(gov_ticks "$c"))); done
    echo "$sum"
}
gov_nats_ticks() { gov_ticks "$(cat "$NATS_PIDFILE" 2>/dev/null || echo 0)"; }
gov_now() { date +%s.%N; }

bench_governance_votes() {
    local nclubs=${BENCH_GOV_CLUBS:-100} rounds=${BENCH_GOV_ROUNDS:-3} i out id slug prop
    local hz r s0 g0 n0 s1 g1 n1 t0 t1 t2 casts rps p50 p99 bad sub pend got
    hz=$(getconf CLK_TCK)
    token=$(curl -s -X POST -H 'Content-Type: application/json' --data "$login_body" \
        "$base/api/v1/auth/login" | jq -r '.access_token // empty' 2>/dev/null || true)
    auth=(-H "Authorization: Bearer $token")
    gov_api POST /api/v1/ledger/bootstrap '{}' >/dev/null || {
        add_error_row "governance votes" "ledger bootstrap failed"
        return
    }
    : >"$TMP/gov-clubs.txt"
    for ((i = 0; i < nclubs; i++)); do
        slug=bench-gov-$i
        out=$(gov_api POST /api/v1/clubs "{\"name\":\"Bench Gov $i\",\"slug\":\"$slug\",\"timezone\":\"UTC\",\"address\":{\"country\":\"GB\"}}") || {
            add_error_row "governance votes" "could not create club $i"
            return
        }
        id=$(jq -r .id <<<"$out")
        gov_api POST /api/v1/ledger/orgs "{\"org\":\"bgov$i\",\"club_id\":\"$id\"}" >/dev/null || {
            add_error_row "governance votes" "could not register club $i on the ledger"
            return
        }
        echo "$id" >>"$TMP/gov-clubs.txt"
    done
    # voting opens when sponsored: the casts run on the real clock
    gov_api PUT /api/v1/governance/types/policy '{"rule":{"voting_delay_s":0}}' >/dev/null
    out=$(gov_api POST /api/v1/governance/proposals "{\"club_id\":\"$(sed -n 1p "$TMP/gov-clubs.txt")\",\"type\":\"policy\",\"title\":\"Bench votes\"}") || {
        add_error_row "governance votes" "could not propose"
        return
    }
    prop=$(jq -r .id <<<"$out")
    gov_api POST "/api/v1/governance/proposals/$prop/sponsor" "{\"club_id\":\"$(sed -n 2p "$TMP/gov-clubs.txt")\"}" >/dev/null
    got=$(gov_api POST /api/v1/governance/sweep '{}' | jq -r .opened)
    say "governance votes: $nclubs clubs on the ledger, proposal $prop opened ($got)"
    # the records of the opening (proposal, snapshot: every active club, most not on the ledger)
    # take part in every pass like any stuck record; drain what can go first
    for ((i = 0; i < 5; i++)); do gov_api POST /api/v1/governance/sweep '{}' >/dev/null; done
    {
        echo "local clubs = {"
        sed 's/.*/"&",/' "$TMP/gov-clubs.txt"
        echo "}"
        echo "local path = \"/api/v1/governance/proposals/$prop/votes\""
        cat "$ROOT/bench/governance_votes.lua"
    } >"$TMP/gov-votes.lua"
    local cs cg cn ss sg sn
    # BENCH_GOV_NOTIFY_OFF=1 (an experiment, not a deployment): the outbox NOTIFY trigger of
    # governance.outbox and ledger.outbox disabled (the relay then finds their rows on its full
    # passes, every 2 s): what the commits' NOTIFY costs the casts and the ledger's commits
    if [[ ${BENCH_GOV_NOTIFY_OFF:-0} == 1 ]]; then
        psql -qAtX "${RCP_PG_SUPER_URL%/postgres}/reciprocal" \
            -c "ALTER TABLE governance.outbox DISABLE TRIGGER outbox_notify" \
            -c "ALTER TABLE ledger.outbox DISABLE TRIGGER outbox_notify" >/dev/null
        say "governance votes: the outbox NOTIFY of governance and ledger off (BENCH_GOV_NOTIFY_OFF)"
    fi
    gov_pgss reset
    for ((r = 1; r <= rounds; r++)); do
        # cast (BENCH_GOV_PERF=DIR: perf record -g of the server and of PostgreSQL's backends
        # and of nats-server during round 1's casts, into DIR/serve.data, DIR/pg.data and
        # DIR/nats.data)
        if [[ -n ${BENCH_GOV_PERF:-} && $r == 1 ]]; then
            local pm pgp
            pm=$(head -n 1 "$PG_DATA/postmaster.pid")
            pgp=$(pgrep -d, -P "$pm")
            perf record -q -F 499 -g -p "$srv_pid" -o "$BENCH_GOV_PERF/serve.data" -- sleep 4 \
                >/dev/null 2>&1 &
            perf record -q -F 499 -g -p "$pgp" -o "$BENCH_GOV_PERF/pg.data" -- sleep 4 \
                >/dev/null 2>&1 &
            perf record -q -F 499 -g -p "$(cat "$NATS_PIDFILE")" -o "$BENCH_GOV_PERF/nats.data" \
                -- sleep 4 >/dev/null 2>&1 &
        fi
        s0=$(gov_ticks "$srv_pid") g0=$(gov_pg_ticks) n0=$(gov_nats_ticks) t0=$(gov_now)
        out=$("${WRK_PIN[@]}" wrk -t"$WRK_THREADS" -c"${BENCH_GOV_CONNS:-$CONNS}" -d"$DURATION" --latency \
            -H "Authorization: Bearer $token" -s "$TMP/gov-votes.lua" \
            "$base/api/v1/governance/proposals/$prop/votes" 2>&1 || true)
        t1=$(gov_now) s1=$(gov_ticks "$srv_pid") g1=$(gov_pg_ticks) n1=$(gov_nats_ticks)
        cs=$((s1 - s0)) cg=$((g1 - g0)) cn=$((n1 - n0))
        printf '%s\n' "$out" >"$TMP/log/wrk-governance-votes-$r.txt"
        casts=$(awk '/requests in/ {print $1}' <<<"$out")
        rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
        p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
        casts=$((${casts:-0} - ${bad:-0}))
        rows+=("$(awk -v n="$casts" -v s="$cs" -v g="$cg" -v q="$cn" -v hz="$hz" -v r="$r" -v rps="${rps:-error}" \
            -v p50="${p50:--}" -v p99="${p99:--}" -v bad="${bad:-0}" -v seq="${BENCH_GOV_SEQUENTIAL:-0}" 'BEGIN {
            printf "governance POST /proposals/{id}/votes%s, round %d|%s|%s|%s|%d votes cast (%s); CPU per vote %.3f + %.3f + %.3f ms (server + PostgreSQL + nats-server%s)%s",
                seq == 1 ? "" : " (ledger pass alongside)", r, rps, p50, p99, n, seq == 1 ? "records queued" : "records submitted meanwhile by the ledger records job",
                n ? s * 1000 / hz / n : 0, n ? g * 1000 / hz / n : 0, n ? q * 1000 / hz / n : 0, seq == 1 ? "" : "; the submission during the casts included", bad ? "; non-2xx " bad : "" }')")
        if [[ ${BENCH_GOV_SEQUENTIAL:-0} != 1 ]]; then
            gov_concurrent_rows "$prop" "$r" "$casts" "$t0" "$t1" "$cs" "$cg" "$cn"
            ((r == 1)) && gov_pgss dump "$casts"
            continue
        fi
        # submit: sweeps until the round's records are on the ledger
        sub=0 pend=0
        s0=$(gov_ticks "$srv_pid") g0=$(gov_pg_ticks) n0=$(gov_nats_ticks)
        for ((i = 0; i < 100000 && sub < casts; i++)); do
            out=$(gov_api POST /api/v1/governance/sweep '{}') || break
            got=$(jq -r '.ledger_submitted // 0' <<<"$out")
            pend=$(jq -r '.ledger_pending // 0' <<<"$out")
            sub=$((sub + got))
            ((got > 0)) || break
        done
        t2=$(gov_now) s1=$(gov_ticks "$srv_pid") g1=$(gov_pg_ticks) n1=$(gov_nats_ticks)
        ss=$((s1 - s0)) sg=$((g1 - g0)) sn=$((n1 - n0))
        rows+=("$(awk -v n="$sub" -v t1="$t1" -v t2="$t2" -v s="$ss" -v g="$sg" -v q="$sn" -v hz="$hz" \
            -v pend="$pend" -v r="$r" 'BEGIN {
            printf "governance vote records ledger-submitted, round %d|%.0f|-|-|%d records in %.2f s through POST /sweep; CPU per record %.3f + %.3f + %.3f ms; %d pending after (stuck: clubs not on the ledger)",
                r, (t2 > t1 ? n / (t2 - t1) : 0), n, t2 - t1, n ? s * 1000 / hz / n : 0, n ? g * 1000 / hz / n : 0, n ? q * 1000 / hz / n : 0, pend }')")
        rows+=("$(awk -v n="$sub" -v c="$casts" -v t0="$t0" -v t2="$t2" -v s=$((cs + ss)) \
            -v g=$((cg + sg)) -v q=$((cn + sn)) -v hz="$hz" -v r="$r" 'BEGIN {
            m = n < c ? n : c
            printf "governance votes cast + ledger-submitted, round %d|%.0f|-|-|cast, then submitted: %.2f s wall; CPU per vote %.3f + %.3f + %.3f ms (server + PostgreSQL + nats-server) = %.0f votes/s per core; goal 1,000 votes/s",
                r, (t2 > t0 ? m / (t2 - t0) : 0), t2 - t0, m ? s * 1000 / hz / m : 0, m ? g * 1000 / hz / m : 0, m ? q * 1000 / hz / m : 0, (s + g + q) ? m * hz / (s + g + q) : 0 }')")
        ((r == 1)) && gov_pgss dump "$sub"
    done
    gov_statements "$prop"
    gov_api PUT /api/v1/governance/types/policy '{"rule":null}' >/dev/null || true
}

# The concurrent round's end (the ledger records job submitting while wrk cast): waits until no
# vote record of the round (created since t0) is pending, then the row "cast and
# ledger-submitted": votes over the wall from the first cast (t0) to the last record's submission
# (its updated_at), the CPU of the three processes from t0 to then (the casts' CPU cs/cg/cn plus
# what ran after wrk), per vote. Args: proposal round casts t0 t1 cs cg cn.
gov_concurrent_rows() {
    local prop=$1 r=$2 casts=$3 t0=$4 t1=$5 cs=$6 cg=$7 cn=$8 db=${RCP_PG_SUPER_URL%/postgres}/reciprocal
    local s0 g0 n0 s1 g1 n1 i st pend=1 sub=0 tend=$5
    s0=$(gov_ticks "$srv_pid") g0=$(gov_pg_ticks) n0=$(gov_nats_ticks)
    for ((i = 0; i < 600; i++)); do
        st=$(psql -qAtX -F ' ' "$db" -c "SELECT count(*) FILTER (WHERE status = 'pending'),
            count(*) FILTER (WHERE status = 'submitted'),
            coalesce(extract(epoch FROM max(updated_at) FILTER (WHERE status = 'submitted')), 0)
            FROM governance.ledger_records WHERE proposal_id = '$prop'
            AND kind = 'governance.vote_cast' AND created_at >= to_timestamp($t0)" 2>/dev/null) || break
        read -r pend sub tend <<<"$st"
        ((pend == 0)) && break
        sleep 0.1
    done
    s1=$(gov_ticks "$srv_pid") g1=$(gov_pg_ticks) n1=$(gov_nats_ticks)
    rows+=("$(awk -v n="${sub:-0}" -v c="$casts" -v t0="$t0" -v t1="$t1" -v te="${tend:-$t1}" -v pend="${pend:-?}" \
        -v s=$((cs + s1 - s0)) -v g=$((cg + g1 - g0)) -v q=$((cn + n1 - n0)) -v hz="$(getconf CLK_TCK)" -v r="$r" 'BEGIN {
        if (te < t1) te = t1
        printf "governance votes cast and ledger-submitted (at once), round %d|%.0f|-|-|%d votes (vote records of the round; wrk counted %d answered) from the first cast to the last record submitted in %.2f s (casting %.2f s, the last record %.2f s after the last cast%s); CPU per vote %.3f + %.3f + %.3f ms (server + PostgreSQL + nats-server) = %.0f votes/s per core; goal 1,000 votes/s",
            r, (te > t0 ? n / (te - t0) : 0), n, c, te - t0, t1 - t0, te - t1, (pend > 0 ? "; " pend " still pending" : ""),
            n ? s * 1000 / hz / n : 0, n ? g * 1000 / hz / n : 0, n ? q * 1000 / hz / n : 0, ((s + g + q) ? n * hz / (s + g + q) : 0) }')")
}

# BENCH_GOV_PGSS=FILE (with RCP_PG_PRELOAD=pg_stat_statements, so the bench's cluster loads it):
# pg_stat_statements over round 1 (cast and submit), planning tracked: calls, plans, execution and
# planning ms per statement, the 25 costliest, into FILE, headed by the round's votes.
gov_pgss() {
    [[ -n ${BENCH_GOV_PGSS:-} && -n ${RCP_PG_SUPER_URL:-} ]] || return 0
    local db=${RCP_PG_SUPER_URL%/postgres}/reciprocal
    if [[ $1 == reset ]]; then
        psql -qAt "$RCP_PG_SUPER_URL" -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" \
            -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || return 0
        psql -qAt "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
            -c "SELECT pg_stat_statements_reset()" >/dev/null 2>&1 || say "pg_stat_statements unavailable"
        return 0
    fi
    {
        echo "round 1: $2 votes cast and submitted"
        psql -qAt -F ' | ' "$db" -c "SELECT calls, plans, round(total_exec_time::numeric, 1),
            round(total_plan_time::numeric, 1), left(regexp_replace(query, '\s+', ' ', 'g'), 160)
            FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 25"
    } >"$BENCH_GOV_PGSS" 2>&1 || true
}

# SQL statements PostgreSQL runs per cast: log_statement = all (set through the bench cluster's
# superuser, then reset) over BENCH_GOV_COUNT_VOTES (50) sequential casts, counted in its log
# (a pipeline's statements each count; the outbox relay's polls in the window count too, so the
# figure is an upper bound); then the statements of the sweeps that submit those records (the
# ledger pass, and the ledger's commit of the blocks in the window) per record submitted.
gov_statements() {
    local prop=$1 n=${BENCH_GOV_COUNT_VOTES:-50} log="$TMP/log/postgresql.log" l0 l1 l2 i st st2
    [[ -n ${RCP_PG_SUPER_URL:-} && -f $log ]] || return 0
    psql -qAt "$RCP_PG_SUPER_URL" -c "ALTER SYSTEM SET log_statement = 'all'" \
        -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || return 0
    sleep 1
    l0=$(wc -l <"$log")
    for ((i = 0; i < n; i++)); do
        gov_api POST "/api/v1/governance/proposals/$prop/votes" \
            "{\"club_id\":\"$(sed -n "$((i % 50 + 1))p" "$TMP/gov-clubs.txt")\",\"choice\":\"$([[ $((i % 2)) == 0 ]] && echo for || echo against)\"}" >/dev/null || true
    done
    sleep 1
    l1=$(wc -l <"$log")
    # then the ledger pass that submits those records (and the ledger's commit of them)
    local sub=0 got out2
    # (the ledger records job running, it submits them: its passes in the window are counted)
    [[ ${BENCH_GOV_SEQUENTIAL:-0} != 1 ]] && sleep 2.5 && sub=$n
    for ((i = 0; i < 20 && sub < n; i++)); do
        out2=$(gov_api POST /api/v1/governance/sweep '{}') || break
        got=$(jq -r '.ledger_submitted // 0' <<<"$out2")
        sub=$((sub + got))
        ((got > 0)) || break
    done
    sleep 1
    l2=$(wc -l <"$log")
    psql -qAt "$RCP_PG_SUPER_URL" -c "ALTER SYSTEM RESET log_statement" \
        -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
    st=$(sed -n "$((l0 + 1)),${l1}p" "$log" | grep -cE 'LOG: +(statement|execute [^:]*):' || true)
    st2=$(sed -n "$((l1 + 1)),${l2}p" "$log" | grep -cE 'LOG: +(statement|execute [^:]*):' || true)
    rows+=("$(awk -v st="$st" -v n="$n" 'BEGIN {
        printf "governance SQL statements per vote cast|-|-|-|%.1f statements per cast (log_statement = all over %d sequential casts, PostgreSQL log; BEGIN/COMMIT and the scope included)", st / n, n }')")
    rows+=("$(awk -v st="$st2" -v n="$sub" 'BEGIN {
        printf "governance SQL statements per vote record submitted|-|-|-|%.1f statements per record (the sweeps that submitted those %d records and the ledger commit in the window; same counting)", n ? st / n : 0, n }')")
}

bench_governance_votes
