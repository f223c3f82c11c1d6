/* signkey: see signkey.h. */
#include "lib/credentials/signkey.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

#define SIGNKEY_SET_MAX 64

int signkey_generate(signkey_t *k) {
    if (sodium_init() < 0) return -1;
    crypto_sign_keypair(k->pk, k->sk);
    signkey_kid(k->pk, k->kid);
    return 0;
}

void signkey_kid(const unsigned char pk[SIGNKEY_PK_BYTES], char kid[SIGNKEY_KID_MAX]) {
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, pk, SIGNKEY_PK_BYTES);
    char *k = jsonx_b64url_encode(hash, 12);
    snprintf(kid, SIGNKEY_KID_MAX, "%s", k ? k : "");
    free(k);
}

void signkey_wipe(signkey_t *k) {
    sodium_memzero(k, sizeof *k);
}

int signkey_seal(const unsigned char sk[SIGNKEY_SK_BYTES], const unsigned char kek[32],
                 const char *ad, signkey_sealed_t *out) {
    unsigned long long el = 0;
    if (sodium_init() < 0) return -1;
    randombytes_buf(out->nonce, sizeof out->nonce);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out->enc, &el, sk, SIGNKEY_SK_BYTES,
                                               (const unsigned char *)ad, strlen(ad), NULL,
                                               out->nonce, kek);
    return el == SIGNKEY_SEALED_BYTES ? 0 : -1;
}

int signkey_unseal(const unsigned char *enc, size_t enc_len, const unsigned char *nonce,
                   size_t nonce_len, const unsigned char kek[32], const char *ad,
                   unsigned char sk[SIGNKEY_SK_BYTES]) {
    unsigned long long sl = 0;
    if (enc_len == SIGNKEY_SEALED_BYTES && nonce_len == SIGNKEY_NONCE_BYTES &&
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            sk, &sl, NULL, enc, enc_len, (const unsigned char *)ad, strlen(ad), nonce, kek) == 0 &&
        sl == SIGNKEY_SK_BYTES)
        return 0;
    sodium_memzero(sk, SIGNKEY_SK_BYTES);
    return -1;
}

/* ---- public keys as JSON ---- */

json_t *signkey_public_json(const char *kid, const unsigned char pk[SIGNKEY_PK_BYTES]) {
    char *x = jsonx_b64url_encode(pk, SIGNKEY_PK_BYTES);
    json_t *j =
        x ? json_pack("{s:s, s:s, s:s}", "kid", kid, "alg", "Ed25519", "public_key", x) : NULL;
    free(x);
    return j;
}

void signkey_hex(const unsigned char *b, size_t n, char *out) {
    out[0] = '\\', out[1] = 'x';
    sodium_bin2hex(out + 2, n * 2 + 1, b, n);
}

int signkey_unhex(const char *hex, unsigned char *out, size_t cap, size_t *n) {
    return sodium_hex2bin(out, cap, hex, strlen(hex), NULL, n, NULL);
}

int signkey_unseal_hex(const char *enc_hex, const char *nonce_hex, const unsigned char kek[32],
                       const char *ad, unsigned char sk[SIGNKEY_SK_BYTES]) {
    unsigned char enc[SIGNKEY_SEALED_BYTES], nonce[SIGNKEY_NONCE_BYTES];
    size_t el = 0, nl = 0;
    if (signkey_unhex(enc_hex, enc, sizeof enc, &el) != 0 ||
        signkey_unhex(nonce_hex, nonce, sizeof nonce, &nl) != 0) {
        sodium_memzero(sk, SIGNKEY_SK_BYTES);
        return -1;
    }
    return signkey_unseal(enc, el, nonce, nl, kek, ad, sk);
}

json_t *signkey_published_json(const char *kid, const char *pk_hex, const char *created_at,
                               const char *retired_at) {
    unsigned char pk[SIGNKEY_PK_BYTES];
    size_t n = 0;
    if (signkey_unhex(pk_hex, pk, sizeof pk, &n) != 0 || n != sizeof pk) return NULL;
    json_t *k = signkey_public_json(kid, pk);
    if (!k) return NULL;
    json_object_set_new(k, "created_at", json_string(created_at));
    json_object_set_new(k, "retired_at", retired_at ? json_string(retired_at) : json_null());
    return k;
}

json_t *signkey_jwk(const char *kid, const unsigned char pk[SIGNKEY_PK_BYTES]) {
    char *x = jsonx_b64url_encode(pk, SIGNKEY_PK_BYTES);
    json_t *j = x ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519",
                              "alg", "EdDSA", "use", "sig", "kid", kid, "x", x)
                  : NULL;
    free(x);
    return j;
}

int signkey_pub_from_json(const json_t *key, signkey_pub_t *out) {
    if (!json_is_object(key)) return -1;
    const char *kid = json_string_value(json_object_get(key, "kid"));
    const char *x = json_string_value(json_object_get(key, "public_key"));
    const char *kty = json_string_value(json_object_get(key, "kty"));
    if (!x) {
        const char *crv = json_string_value(json_object_get(key, "crv"));
        if (!kty || strcmp(kty, "OKP") != 0 || !crv || strcmp(crv, "Ed25519") != 0) return -1;
        x = json_string_value(json_object_get(key, "x"));
    }
    if (!kid || !x || !*kid || strlen(kid) >= SIGNKEY_KID_MAX) return -1;
    size_t n = 0;
    unsigned char *pk = jsonx_b64url_decode(x, &n);
    int ok = pk && n == SIGNKEY_PK_BYTES;
    if (ok) {
        memcpy(out->pk, pk, SIGNKEY_PK_BYTES);
        snprintf(out->kid, sizeof out->kid, "%s", kid);
    }
    free(pk);
    return ok ? 0 : -1;
}

int signkey_set_from_json(const json_t *keys, signkey_pub_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (json_is_object(keys)) keys = json_object_get(keys, "keys");
    if (!json_is_array(keys) || json_array_size(keys) > SIGNKEY_SET_MAX) return -1;
    size_t cap = json_array_size(keys);
    if (cap == 0) return 0;
    signkey_pub_t *set = calloc(cap, sizeof *set);
    if (!set) return -1;
    size_t i, got = 0;
    const json_t *k;
    json_array_foreach(keys, i, k) {
        if (signkey_pub_from_json(k, &set[got]) == 0) got++;
    }
    if (got == 0) {
        free(set);
        set = NULL;
    }
    *out = set;
    *n = got;
    return 0;
}

const signkey_pub_t *signkey_set_find(const signkey_pub_t *set, size_t n, const char *kid) {
    if (!kid) return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i].kid, kid) == 0) return &set[i];
    return NULL;
}

/* ---- signatures and compact tokens ---- */

void signkey_sign(const unsigned char *msg, size_t len, const unsigned char sk[SIGNKEY_SK_BYTES],
                  unsigned char sig[SIGNKEY_SIG_BYTES]) {
    crypto_sign_detached(sig, NULL, msg, len, sk);
}

int signkey_verify(const unsigned char *msg, size_t len, const unsigned char sig[SIGNKEY_SIG_BYTES],
                   const unsigned char pk[SIGNKEY_PK_BYTES]) {
    if (sodium_init() < 0) return 0;
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}

char *signkey_token_sign(const char *prefix, const unsigned char *payload, size_t len,
                         const unsigned char sk[SIGNKEY_SK_BYTES]) {
    unsigned char sig[SIGNKEY_SIG_BYTES];
    char *token = NULL, *sb = NULL;
    char *pb = jsonx_b64url_encode(payload, len);
    if (!pb) return NULL;
    size_t signed_len = strlen(prefix) + strlen(pb);
    /* ".": 1, signature: 86 base64url chars, NUL: 1 */
    token = malloc(signed_len + 1 + 86 + 1);
    if (!token) goto done;
    snprintf(token, signed_len + 1, "%s%s", prefix, pb);
    signkey_sign((const unsigned char *)token, signed_len, sk, sig);
    sb = jsonx_b64url_encode(sig, sizeof sig);
    if (!sb) {
        free(token);
        token = NULL;
        goto done;
    }
    snprintf(token + signed_len, 1 + 86 + 1, ".%s", sb);
done:
    free(pb);
    free(sb);
    return token;
}

int signkey_token_split(const char *token, size_t max_len, const char *prefix,
                        unsigned char **payload, size_t *len, unsigned char sig[SIGNKEY_SIG_BYTES],
                        size_t *signed_len) {
    size_t pl = strlen(prefix);
    *payload = NULL;
    if (!token || strnlen(token, max_len + 1) > max_len || strncmp(token, prefix, pl) != 0)
        return -1;
    const char *dot = strchr(token + pl, '.');
    if (!dot || dot == token + pl || strchr(dot + 1, '.')) return -1;
    char *pb = strndup(token + pl, (size_t)(dot - token) - pl);
    size_t n = 0, sn = 0;
    unsigned char *raw = pb ? jsonx_b64url_decode(pb, &n) : NULL;
    unsigned char *s = raw ? jsonx_b64url_decode(dot + 1, &sn) : NULL;
    free(pb);
    if (!raw || !s || sn != SIGNKEY_SIG_BYTES) {
        free(raw);
        free(s);
        return -1;
    }
    memcpy(sig, s, SIGNKEY_SIG_BYTES);
    free(s);
    *payload = raw;
    *len = n;
    *signed_len = (size_t)(dot - token);
    return 0;
}
