#!/bin/sh
# loi-verify.sh: offline check of a letter of introduction (RL1 token) with the home club's
# public keys, using only openssl (3.x, Ed25519), jq and coreutils. docs/reciprocal-loi.md.
#
#   tools/loi-verify.sh KEYS_JSON HOST_CLUB_ID TOKEN [NOW_UNIX_SECONDS]
#
# KEYS_JSON: the home club's published keys, a file holding {"keys":[{"kid","public_key"}]}
# (GET /api/v1/clubs/{home}/loi-keys) or a JWKS ({"keys":[{"kty":"OKP","crv":"Ed25519","kid",
# "x"}]}). Prints "ok" and the letter (JSON) and exits 0, or prints the reason (malformed,
# unknown_key, bad_signature, wrong_host, not_yet_valid, expired) and exits 1; 2 on bad usage.
# The service's reference implementation is loi_verify() in src/services/reciprocal/loi.h,
# which also refuses a validly signed payload that is not in canonical form.
set -eu

[ $# -ge 3 ] || { echo "usage: $0 KEYS_JSON HOST_CLUB_ID TOKEN [NOW]" >&2; exit 2; }
keys=$1 host=$2 token=$3 now=${4:-$(date +%s)}

fail() { echo "$1"; exit 1; }
# base64url (no padding) -> bytes on stdout
b64url_decode() {
    s=$(printf '%s' "$1" | tr -- '-_' '+/')
    case $(( ${#s} % 4 )) in 2) s="$s==" ;; 3) s="$s=" ;; 1) return 1 ;; esac
    printf '%s' "$s" | base64 -d 2>/dev/null
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ ${#token} -le 2000 ] || fail malformed
case $token in RL1.*.*) ;; *) fail malformed ;; esac
rest=${token#RL1.}
payload_b64=${rest%%.*}
sig_b64=${rest#*.}
case $sig_b64 in *.*) fail malformed ;; esac
b64url_decode "$payload_b64" > "$tmp/payload.json" || fail malformed
b64url_decode "$sig_b64" > "$tmp/sig.bin" || fail malformed
[ "$(wc -c < "$tmp/sig.bin")" -eq 64 ] || fail malformed
jq -e 'type == "object" and .v == 1' "$tmp/payload.json" > /dev/null 2>&1 || fail malformed
kid=$(jq -r '.kid' "$tmp/payload.json")

# 1. the key named by kid
x=$(jq -r --arg kid "$kid" '(if type == "object" then .keys else . end)[]
      | select(.kid == $kid) | (.public_key // .x)' "$keys" | head -n 1)
[ -n "$x" ] || fail unknown_key
b64url_decode "$x" > "$tmp/pk.raw" || fail unknown_key
[ "$(wc -c < "$tmp/pk.raw")" -eq 32 ] || fail unknown_key
# an Ed25519 SubjectPublicKeyInfo is a fixed 12-byte DER header followed by the 32-byte key
{ printf '\060\052\060\005\006\003\053\145\160\003\041\000'; cat "$tmp/pk.raw"; } > "$tmp/pk.der"

# 2. the signature covers "RL1.<payload part>" exactly as it appears in the token
printf 'RL1.%s' "$payload_b64" > "$tmp/signed"
openssl pkeyutl -verify -pubin -inkey "$tmp/pk.der" -keyform DER -rawin \
    -in "$tmp/signed" -sigfile "$tmp/sig.bin" > /dev/null 2>&1 || fail bad_signature

# 3. the host, 4. the validity window [nbf, exp)
[ "$(jq -r '.host' "$tmp/payload.json")" = "$host" ] || fail wrong_host
[ "$now" -ge "$(jq -r '.nbf' "$tmp/payload.json")" ] || fail not_yet_valid
[ "$now" -lt "$(jq -r '.exp' "$tmp/payload.json")" ] || fail expired
echo ok
jq -c . "$tmp/payload.json"
