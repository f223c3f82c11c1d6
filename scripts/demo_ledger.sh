#!/usr/bin/env bash
# demo_ledger.sh: the ledger part of the demo network (`make run`, after `serve` is ready): signs
# in as the demo network administrator (admin@reciprocal.example, RECIPROCAL_SEED_ADMIN_PASSWORD),
# bootstraps the ledger, registers the three demo clubs as ledger organisations bound to their
# club ids (server-held keys), then runs the agreements sweep so the demo agreement's activation
# (reciprocal seed) is recorded on the ledger as agreement.activated. Idempotent: an
# organisation already registered is kept. Needs curl and jq.
# Usage: scripts/demo_ledger.sh BASE_URL   (e.g. http://127.0.0.1:8080)
set -euo pipefail

BASE=${1:?usage: demo_ledger.sh BASE_URL}
PW=${RECIPROCAL_SEED_ADMIN_PASSWORD:?RECIPROCAL_SEED_ADMIN_PASSWORD is not set}
say() { printf '[demo_ledger] %s\n' "$*" >&2; }

for _ in $(seq 1 60); do
    curl -fsS "$BASE/health/ready" >/dev/null 2>&1 && break
    sleep 0.5
done
login=$(jq -n --arg pw "$PW" '{email: "admin@reciprocal.example", password: $pw}')
TOKEN=$(curl -fsS -H 'Content-Type: application/json' -d "$login" "$BASE/api/v1/auth/login" |
    jq -r .access_token)
[[ -n $TOKEN && $TOKEN != null ]] || {
    say "sign-in as admin@reciprocal.example failed"
    exit 1
}
api() { # METHOD PATH [BODY]: prints the body, returns 0 on 2xx, 1 otherwise
    local out code
    out=$(mktemp)
    code=$(curl -sS -o "$out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' ${3:+-d "$3"} "$BASE$2")
    cat "$out"
    rm -f "$out"
    [[ $code == 2* ]]
}

api POST /api/v1/ledger/bootstrap '{}' >/dev/null || {
    say "ledger bootstrap failed"
    exit 1
}
say "ledger bootstrapped"
for slug in harbour-yacht union-university highveld-country; do
    id=$(api GET "/api/v1/clubs/$slug" | jq -r .id) || {
        say "club $slug not found (run reciprocal seed)"
        exit 1
    }
    body=$(jq -n --arg org "$slug" --arg id "$id" '{org: $org, club_id: $id, wait_ms: 10000}')
    if out=$(api POST /api/v1/ledger/orgs "$body"); then
        say "organisation $slug registered (club $id)"
    else
        say "organisation $slug: $(jq -r '.error.message // .' <<<"$out" 2>/dev/null)"
    fi
done
out=$(api POST /api/v1/agreements/sweep '{}') || {
    say "agreements sweep failed: $out"
    exit 1
}
say "sweep: $(jq -c '{ledger_submitted, ledger_pending}' <<<"$out")"
