#!/usr/bin/env bash
# bench/mail_e2e.sh: the mail e2e bench (bench/mail_e2e.c) under tests/run.sh's PostgreSQL and
# NATS (or make bench's): starts aiosmtpd (scripts/smtp_sink.py, the Maildir of make run) on a
# free port, runs BIN (default build/bench-mail-e2e) at BENCH_MAIL_E2E_RATE (200) events/s for
# BENCH_MAIL_E2E_SECS (10) s, prints its line followed by the CPU per mail of the SMTP server
# (smtp_cpu_ms) and of PostgreSQL's backends (pg_cpu_ms, the postmaster's children, sampled every
# 0.2 s so that a backend that exits still counts), and "ok 1 - mail_e2e" (or "not ok").
# A/B: BINS="A B" runs each binary in turn, BENCH_MAIL_E2E_ROUNDS (1) times (interleaved, one
# harness, a fresh aiosmtpd per run). BENCH_MAIL_E2E_SMTP: the SMTP server command, given PORT DIR
# (e.g. "/usr/bin/python3 scripts/smtp_sink.py --mailbox": aiosmtpd's own Mailbox handler, or the
# tests' tests/services/notification/smtp_server.py).
# Usage: tests/run.sh bench/mail_e2e.sh   (BIN=... or BINS="A B" to bench other builds)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BINS=${BINS:-${BIN:-$ROOT/build/bench-mail-e2e}}
SMTP=${BENCH_MAIL_E2E_SMTP:-/usr/bin/python3 $ROOT/scripts/smtp_sink.py}
HZ=$(getconf CLK_TCK)
pg_data=""
# the cluster's data directory: tests/run.sh's pg_ctl script names it; make bench exports PG_DATA
if [ -n "${RECIPROCAL_TEST_PG_CTL:-}" ]; then
    pg_data=$(tail -n 1 "$RECIPROCAL_TEST_PG_CTL" | awk '{ print $(NF-2) }')
else
    pg_data=${PG_DATA:-}
fi
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# "pid ticks" of every PostgreSQL backend, one line each
pg_sample() {
    local pm c
    [ -f "$pg_data/postmaster.pid" ] || return 0
    pm=$(head -n 1 "$pg_data/postmaster.pid")
    for c in $(pgrep -P "$pm"); do echo "$c $(ticks "$c")"; done
}
dir=$(mktemp -d)
rc=0
for _ in $(seq 1 "${BENCH_MAIL_E2E_ROUNDS:-1}"); do
    for bin in $BINS; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        rm -rf "$dir/mail"
        # shellcheck disable=SC2086 # the command and its arguments
        $SMTP "$port" "$dir/mail" >"$dir/aiosmtpd.log" 2>&1 &
        smtp=$!
        for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
        pg_sample >"$dir/pg0"
        (while :; do pg_sample >>"$dir/pg1"; sleep 0.2; done) &
        sampler=$!
        s0=$(ticks "$smtp")
        "$bin" "$port" "${BENCH_MAIL_E2E_RATE:-200}" "${BENCH_MAIL_E2E_SECS:-10}" >"$dir/out"
        r=$?
        s1=$(ticks "$smtp")
        kill "$sampler" 2>/dev/null
        wait "$sampler" 2>/dev/null
        pg_sample >>"$dir/pg1"
        kill "$smtp" 2>/dev/null
        wait "$smtp" 2>/dev/null
        sent=$(sed -n 's/.* sent=\([0-9]*\).*/\1/p' "$dir/out")
        pg=$(awk 'FNR == NR { a[$1] = $2; next } { if ($2 > b[$1]) b[$1] = $2 }
                  END { for (p in b) s += b[p] - a[p]; print s + 0 }' "$dir/pg0" "$dir/pg1")
        rm -f "$dir/pg0" "$dir/pg1"
        printf '%s bin=%s smtp_cpu_ms=%s pg_cpu_ms=%s\n' "$(cat "$dir/out")" "$(basename "$bin")" \
            "$(awk -v t=$((s1 - s0)) -v n="${sent:-0}" -v hz="$HZ" 'BEGIN { printf "%.2f", n ? t * 1000 / hz / n : 0 }')" \
            "$(awk -v t="$pg" -v n="${sent:-0}" -v hz="$HZ" 'BEGIN { printf "%.2f", n ? t * 1000 / hz / n : 0 }')"
        [ "$r" = 0 ] || rc=$r
    done
done
rm -rf "$dir"
if [ "$rc" = 0 ]; then echo "ok 1 - mail_e2e"; else echo "not ok 1 - mail_e2e"; fi
exit "$rc"
