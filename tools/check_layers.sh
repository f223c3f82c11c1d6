#!/usr/bin/env bash
# check_layers.sh [ROOT]: fails when an `#include "..."` in ROOT/src crosses a layer boundary
# that the "Layers" table of ROOT/docs/architecture.md does not allow (make check-layers; run by
# make test). The table is the rule, this script only reads it:
#   | layer | files | may include |
#   | lib | `src/lib/*/*` | core-base, own folder |
# A file belongs to the first row one of whose backquoted patterns (bash globs, `*` also matches
# `/`) matches its path. "may include" lists layers, and "own folder" (files in the including
# file's own directory). An include naming a file that is not in src/ (a generated header) or a
# source file outside every row is an error too, so the table cannot silently fall behind.
# Prints one line per violation: FILE:LINE: LAYER may not include "X" (layer TARGET).
set -euo pipefail
set -f # the table's patterns are globs matched against paths, never expanded against files
ROOT=${1:-.}
DOC=$ROOT/docs/architecture.md
[[ -f $DOC && -d $ROOT/src ]] || {
    echo "check_layers: no $DOC or $ROOT/src" >&2
    exit 2
}

trim() {
    local s=$1
    s=${s#"${s%%[![:space:]]*}"}
    REPLY=${s%"${s##*[![:space:]]}"}
}

names=() pats=() allows=()
in_table=0
while IFS= read -r line; do
    if [[ $line =~ ^#+\ Layers ]]; then in_table=1; continue; fi
    ((in_table)) || continue
    [[ $line == '#'* ]] && break
    [[ $line == '|'* ]] || continue
    IFS='|' read -r _ name files allow _ <<<"$line"
    trim "$name"
    name=$REPLY
    [[ $name == layer || $name == ---* || -z $name ]] && continue
    p=$(grep -o '`[^`]*`' <<<"$files" | tr -d '`' | tr '\n' ' ')
    trim "$allow"
    names+=("$name") pats+=("$p") allows+=("$REPLY")
done <"$DOC"
((${#names[@]})) || {
    echo "check_layers: no Layers table in $DOC" >&2
    exit 2
}

# layer_of PATH (relative to ROOT, e.g. src/core/err.h): LAYER = the row index, or -1.
layer_of() {
    local i p
    for i in "${!names[@]}"; do
        for p in ${pats[$i]}; do
            # shellcheck disable=SC2053 # p is a glob on purpose
            if [[ $1 == $p ]]; then
                LAYER=$i
                return
            fi
        done
    done
    LAYER=-1
}

fail=0
declare -A cache
while IFS= read -r -d '' f; do
    rel=${f#"$ROOT"/}
    layer_of "$rel"
    fi_=$LAYER
    if ((fi_ < 0)); then
        echo "$rel: in no layer of docs/architecture.md's Layers table"
        fail=1
        continue
    fi
    dir=${rel%/*}
    while IFS=: read -r ln inc; do
        inc=${inc#*\"}
        inc=${inc%%\"*}
        tgt=src/$inc
        if [[ ! -f $ROOT/$tgt ]]; then
            echo "$rel:$ln: includes \"$inc\", which is not a file under src/"
            fail=1
            continue
        fi
        key=$tgt
        if [[ -z ${cache[$key]+x} ]]; then
            layer_of "$tgt"
            cache[$key]=$LAYER
        fi
        ti=${cache[$key]}
        if ((ti < 0)); then
            echo "$rel:$ln: includes \"$inc\", which is in no layer"
            fail=1
            continue
        fi
        ok=0
        IFS=',' read -ra al <<<"${allows[$fi_]}"
        for a in "${al[@]}"; do
            trim "$a"
            a=$REPLY
            if [[ $a == "${names[$ti]}" ]]; then ok=1; fi
            if [[ $a == "own folder" && ${tgt%/*} == "$dir" ]]; then ok=1; fi
        done
        if ((!ok)); then
            echo "$rel:$ln: ${names[$fi_]} may not include \"$inc\" (layer ${names[$ti]})"
            fail=1
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
done < <(find "$ROOT/src" -name '*.[ch]' -print0 | sort -z)

if ((fail)); then
    echo "check_layers: include(s) crossing a layer boundary (see docs/architecture.md, Layers)" >&2
    exit 1
fi
echo "check_layers: $(find "$ROOT/src" -name '*.[ch]' | wc -l) files, every include within its layer's rule"
