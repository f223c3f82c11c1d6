#!/usr/bin/env bash
# bench/ledger_verify.sh: time of the offline verifier on a synthetic chain (bench/ledger_verify.c;
# no PostgreSQL, no NATS). Arguments: BLOCKS TXS-PER-BLOCK (default 100 500: 50,002 transactions
# in full 500-transaction blocks; 51000 1 is the fault-injection run's chain shape). Writes the
# streamed export (v2), runs `build/reciprocal ledger verify` on it and prints its wall time, CPU,
# CPU per transaction, tx/s and maximum RSS. A third argument is `--threads` (default: one per
# online CPU).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
make -s build/reciprocal
make -s build/bench-ledger-verify
TMP=$(mktemp "${TMPDIR:-/tmp}/reciprocal-bench-verify.XXXXXX.ndjson")
trap 'rm -f "$TMP"' EXIT
"$ROOT/build/bench-ledger-verify" "${1:-100}" "${2:-500}" "$TMP" "$ROOT/build/reciprocal" "${3:-0}"
