#!/usr/bin/env bash
# deps.sh: `make deps`. Installs the Debian 12 (bookworm) packages the build, the tests, `make run`
# and `make bench` need, and only the missing ones (quiet when everything is present).
# A package counts as present when it is installed or an installed package provides it (e.g. a
# NodeSource nodejs provides npm). Uses sudo when not root. While installing, a temporary
# /usr/sbin/policy-rc.d keeps apt from starting services (the postgresql package's own cluster
# is never used: scripts/pg.sh starts a private one).
set -euo pipefail

PACKAGES=(
    build-essential pkg-config clang clang-format libclang-rt-14-dev
    libmicrohttpd-dev libnats-dev libjansson-dev libpq-dev libsodium-dev libssl-dev
    libcurl4-openssl-dev liboath-dev libqrencode-dev libcrypt-dev libhpdf-dev libcmark-dev
    libxml2-dev libical-dev libicu-dev
    python3-aiosmtpd
    postgresql-15 nats-server
    wrk prometheus curl ca-certificates jq nodejs npm poppler-utils
)

die() {
    echo "deps.sh: $*" >&2
    exit 1
}

command -v dpkg-query >/dev/null || die "dpkg-query not found: this script needs Debian 12 (apt)"

# installed packages and what they provide, one name per line
present=$(dpkg-query -W -f='${db:Status-Status} ${Package} ${Provides}\n' 2>/dev/null |
    awk '$1 == "installed" {
        print $2
        for (i = 3; i <= NF; i++) {
            if ($i ~ /^\(/ || $i ~ /\)$/ || $i ~ /^[<>=]/) continue
            n = $i; sub(/,$/, "", n); sub(/:.*/, "", n); if (n != "") print n
        }
    }' | sort -u)

missing=()
for p in "${PACKAGES[@]}"; do
    grep -qxF "$p" <<<"$present" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "deps.sh: installing missing packages: ${missing[*]}"
if [[ $EUID -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    die "not root and sudo not found: install as root: apt-get install ${missing[*]}"
fi

policy=/usr/sbin/policy-rc.d
made_policy=0
cleanup() {
    if ((made_policy)); then "${SUDO[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, from scripts/deps.sh: do not start services\nexit 101\n' |
        "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    made_policy=1
fi

apt_get=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${apt_get[@]}" update || die "apt-get update failed"
"${apt_get[@]}" install --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"
echo "deps.sh: done"
