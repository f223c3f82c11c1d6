#!/usr/bin/env bash
# bench/door_warm_cmp.sh DIR [MIN_DIFF]: the summary of a bench/door_warm_ab.sh run (its
# BENCH_DOOR_WARM_OUT): every turn's row, the medians per build, the server's threads and
# PostgreSQL's processes per build (medians, ms per check-in), and the statements whose calls per
# check-in differ between builds by at least MIN_DIFF (0.05) (median calls per check-in and median
# exec + plan µs per check-in of each build; a statement missing from a turn counts 0; the
# check-ins of a turn are its achieved rate x BENCH_DOOR_WARM_SECONDS (3), the hook's row length).
set -euo pipefail
dir=$1
min=${2:-0.05}
echo "round|build|achieved/s|p99 ms|server ms|PostgreSQL ms|nats ms|statements|plans|statement ms|load1"
grep '^dwa|' "$dir/rows.txt" | cut -d'|' -f2-
# med: the median of the numbers on stdin
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
tags=$(grep '^dwa|' "$dir/rows.txt" | cut -d'|' -f3 | sort -u)
echo
echo "medians: build|achieved/s|server ms|PostgreSQL ms|nats ms|statements|plans|statement ms"
for t in $tags; do
    line=$t
    for f in 4 6 7 8 9 10 11; do
        line+="|$(grep "^dwa|[0-9]*|$t|" "$dir/rows.txt" | cut -d'|' -f"$f" | med)"
    done
    echo "$line"
done
n_of() { grep "^dwa|$1|$2|" "$dir/rows.txt" | awk -F'|' '{ print $4 }'; }
echo
echo "server threads and PostgreSQL processes (median ms per check-in per build: $(tr "\n" " " <<<"$tags"))"
for kind in threads pg; do
    cat "$dir"/*."$kind" | awk '{ print $1 }' | sort -u | while read -r k; do
        line="$kind $k"
        for t in $tags; do
            line+=" $(for f in "$dir"/*-"$t"."$kind"; do awk -v k="$k" '$1 == k { v = $2 } END { print v + 0 }' "$f"; done | med)"
        done
        echo "$line"
    done
done
echo
echo "statements whose calls per check-in differ (median calls | µs per check-in per build: $(tr "\n" " " <<<"$tags"))"
# per turn: queryid calls/n (exec+plan) us/n, n = the turn's check-ins (achieved x seconds from the row)
for f in "$dir"/*.pgss; do
    b=$(basename "$f" .pgss)
    r=${b%%-*} t=${b#*-}
    n=$(grep "^dwa|$r|$t|" "$dir/rows.txt" | awk -F'|' '{ print $4 * '"${BENCH_DOOR_WARM_SECONDS:-3}"' }')
    # one line per queryid (texts differing only in constants share one: their calls summed)
    awk -F'|' -v n="$n" -v t="$t" -v r="$r" 'NF >= 6 { c[$1] += $2; u[$1] += $4 + $5; if (!($1 in q)) q[$1] = $6 }
        END { for (k in c) printf "%s|%s|%s|%.4f|%.2f|%s\n", t, r, k, c[k] / n, u[k] * 1000 / n, q[k] }' "$f"
done >"$dir/stmts.txt"
awk -F'|' -v min="$min" -v tags="$(tr "\n" " " <<<"$tags")" '
    { q[$3] = $6; c[$1, $3] = c[$1, $3] " " $4; u[$1, $3] = u[$1, $3] " " $5; turns[$1, $2] = 1 }
    function median(s,   a, n, i, j, x) {
        n = split(s, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
        if (!n) return 0
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
        nt = split(tags, T, " ")
        for (k in turns) { split(k, kk, SUBSEP); nturn[kk[1]]++ }
        for (id in q) {
            lo = 1e9; hi = -1; line = ""
            for (i = 1; i <= nt; i++) {
                s = c[T[i], id]; m = split(s, a, " ")
                for (j = m; j < nturn[T[i]]; j++) s = s " 0"
                mc = median(s)
                s = u[T[i], id]; m = split(s, a, " ")
                for (j = m; j < nturn[T[i]]; j++) s = s " 0"
                mu = median(s)
                line = line sprintf(" %7.3f | %7.1f |", mc, mu)
                if (mc < lo) lo = mc
                if (mc > hi) hi = mc
            }
            if (hi - lo >= min) printf "%s %s\n", line, q[id]
        }
    }' "$dir/stmts.txt" | sort -t'|' -k1 -rn
