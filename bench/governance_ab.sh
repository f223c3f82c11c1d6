#!/usr/bin/env bash
# bench/governance_ab.sh: the governance vote rows (bench/governance_votes.sh) of two binaries,
# interleaved A, B, A, B, ... (AB_PAIRS pairs, default 3), each run a fresh bench/run.sh with
# BENCH_ONLY=governance and BENCH_SERVERLESS=0 (its own PostgreSQL and nats-server, only the
# server rows and the governance rows). CPU per vote from /proc: the server, PostgreSQL's
# backends and nats-server. Usage: bench/governance_ab.sh BIN_A BIN_B [OUT_DIR]; the rows of
# every run go to OUT_DIR/<A|B><pair>.txt (default a new directory under /tmp, printed) and a
# summary of the "cast and ledger-submitted" rows (or, with BENCH_GOV_SEQUENTIAL=1, "cast + ledger-submitted") (CPU ms per vote, each round) is printed.
# Environment: AB_PAIRS (3), and bench/run.sh's and bench/governance_votes.sh's knobs
# (BENCH_GOV_CLUBS, BENCH_GOV_ROUNDS, BENCH_DURATION, BENCH_CONNECTIONS).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
[[ $# -ge 2 ]] || {
    echo "usage: $0 BIN_A BIN_B [OUT_DIR]" >&2
    exit 2
}
A=$(realpath "$1") B=$(realpath "$2")
OUT=${3:-$(mktemp -d /tmp/governance-ab.XXXXXX)}
mkdir -p "$OUT"
for ((p = 1; p <= ${AB_PAIRS:-3}; p++)); do
    for w in A B; do
        bin=$A
        [[ $w == B ]] && bin=$B
        echo "[governance-ab] $w$p: $bin (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        BENCH_ONLY=governance BENCH_SERVERLESS=0 RECIPROCAL_BIN=$bin "$ROOT/bench/run.sh" \
            2>"$OUT/$w$p.log" | grep '^governance' >"$OUT/$w$p.txt" || true
    done
done
echo "run|round|CPU ms per vote cast + submitted (server + PostgreSQL + nats-server)"
for f in "$OUT"/[AB]*.txt; do
    awk -F'|' -v run="$(basename "$f" .txt)" '/cast (\+|and) ledger-submitted/ {
        match($5, /CPU per vote [0-9.]+ \+ [0-9.]+ \+ [0-9.]+/)
        split(substr($5, RSTART + 13, RLENGTH - 13), c, / \+ /)
        printf "%s|%s|%.3f + %.3f + %.3f = %.3f\n", run, $1, c[1], c[2], c[3], c[1] + c[2] + c[3] }' "$f"
done
echo "(rows of every run in $OUT)"
