#!/bin/sh
# Assembles the GraphQL contract (docs/schema.graphql) from its parts: the core part first, then
# each service's SDL fragment, each separated by one blank line, with a header naming them.
# Usage: tools/assemble_schema.sh CORE [FRAGMENT...] > schema.graphql
set -eu
[ $# -ge 1 ] || { echo "usage: assemble_schema.sh CORE [FRAGMENT...]" >&2; exit 2; }
echo "# Assembled by tools/assemble_schema.sh (make schema) from: $*."
echo "# Edit those files, not this one."
first=1
for f in "$@"; do
    [ $first -eq 1 ] || echo
    first=0
    cat "$f"
done
