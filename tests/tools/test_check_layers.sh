#!/usr/bin/env bash
# test_check_layers: tools/check_layers.sh passes on the tree and fails on each deliberately bad
# include planted in a temporary copy of src/ and docs/architecture.md (make check-layers).
set -uo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/check-layers.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/docs" && cp "$HERE/docs/architecture.md" "$TMP/docs/" && cp -r "$HERE/src" "$TMP/"
n=0 bad=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)) bad=$((bad + 1)); echo "not ok $n - $1"; }

if "$HERE/tools/check_layers.sh" "$TMP" >/dev/null; then ok "the tree passes"; else nok "the tree passes"; fi

# plant FILE INCLUDE EXPECTED-MESSAGE NAME: appends the include, expects exit 1 naming it, undoes.
plant() {
    local f=$TMP/$1 out rc
    cp "$f" "$f.orig"
    printf '#include "%s"\n' "$2" >>"$f"
    out=$("$HERE/tools/check_layers.sh" "$TMP" 2>&1)
    rc=$?
    mv "$f.orig" "$f"
    if [[ $rc -eq 1 && $out == *"$3"* ]]; then ok "$4"; else
        nok "$4 (exit $rc)"
        printf '#   %s\n' "$out" | tail -5
    fi
}
plant src/lib/graphql/gql_ast.c services/auth/auth_util.h \
    'lib may not include "services/auth/auth_util.h"' "a pure library including a service"
plant src/lib/ledger/merkle.c core/db.h 'lib may not include "core/db.h"' \
    "a pure library including core plumbing (the database)"
plant src/lib/credentials/jwt.c gateway/authn.h 'lib may not include "gateway/authn.h"' \
    "a pure library including the gateway"
plant src/gateway/authn.c services/auth/auth_revoke.h \
    'gateway may not include "services/auth/auth_revoke.h"' "the gateway including auth internals"
plant src/services/auth/auth_util.c services/member/clubs.h \
    'services may not include "services/member/clubs.h"' "one service including another"
plant src/core/service.c lib/graphql/gql_ast.h 'core may not include "lib/graphql/gql_ast.h"' \
    "core including a library"
plant src/core/err.c core/db.h 'core-base may not include "core/db.h"' \
    "a leaf core module including the database layer"
plant src/services/member/clubs.c generated_nowhere.h 'not a file under src/' \
    "an include of a file outside src/"

echo "# $((n - bad)) passed, $bad failed"
((bad == 0))
