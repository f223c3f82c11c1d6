#!/usr/bin/env bash
# bench/mail_e2e.sh: the mail e2e bench (bench/mail_e2e.c) under tests/run.sh's PostgreSQL and
# NATS (or make bench's): starts aiosmtpd (tests/services/notification/smtp_server.py, Maildir) on
# a free port, runs BIN (default build/bench-mail-e2e) at BENCH_MAIL_E2E_RATE (200) events/s for
# BENCH_MAIL_E2E_SECS (10) s, prints its line and "ok 1 - mail_e2e" (or "not ok").
# Usage: tests/run.sh bench/mail_e2e.sh   (BIN=... to bench another build)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BIN=${BIN:-$ROOT/build/bench-mail-e2e}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 "$ROOT/tests/services/notification/smtp_server.py" "$port" "$dir/mail" \
    >"$dir/aiosmtpd.log" 2>&1 &
smtp=$!
for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
"$BIN" "$port" "${BENCH_MAIL_E2E_RATE:-200}" "${BENCH_MAIL_E2E_SECS:-10}"
rc=$?
kill "$smtp" 2>/dev/null
wait "$smtp" 2>/dev/null
rm -rf "$dir"
if [ "$rc" = 0 ]; then echo "ok 1 - mail_e2e"; else echo "not ok 1 - mail_e2e"; fi
exit "$rc"
