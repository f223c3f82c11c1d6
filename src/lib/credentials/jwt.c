/* jwt: see jwt.h. RS256 / EdDSA (Ed25519) / ES256 (P-256) JWT signing and verification with
 * the algorithm bound to the key, on OpenSSL 3 EVP and jansson; an Ed25519 private key also
 * signs with libsodium (the same deterministic RFC 8032 signature, without OpenSSL 3's
 * per-call algorithm fetch: issue 16, refresh). Owns the jwt_key_t and jwt_keyset_t objects it
 * allocates (and wipes a key's libsodium copy when freeing it). */
#include "lib/credentials/jwt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <openssl/x509.h>

#include "core/json.h"

#define JWT_KEYSET_MAX 64
#define JWT_MAX_JWK_FIELD 2048 /* base64url chars of n (8192-bit modulus = 1366 chars) */
#define JWT_RAW_SIG 64         /* EdDSA and ES256 (R || S, 32 bytes each) signatures */
#define JWT_EC_COORD 32        /* P-256 coordinates */

struct jwt_key {
    EVP_PKEY *pkey;
    jwt_alg_t alg;
    int is_private;
    int has_ed_sk; /* ed_sk holds the Ed25519 private key in libsodium's form */
    unsigned char ed_sk[crypto_sign_SECRETKEYBYTES];
    char kid[JWT_KID_LEN + 1];
};

struct jwt_keyset {
    size_t n;
    struct {
        EVP_PKEY *pkey;
        jwt_alg_t alg;
        char kid[JWT_KID_LEN + 1];
    } keys[JWT_KEYSET_MAX];
};

static const char *const k_alg_names[] = {"RS256", "EdDSA", "ES256"};
static const char *const k_alg_kty[] = {"RSA", "OKP", "EC"};

const char *jwt_alg_name(jwt_alg_t alg) {
    return (unsigned)alg < 3 ? k_alg_names[alg] : "";
}

int jwt_alg_parse(const char *name, jwt_alg_t *out) {
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, k_alg_names[i]) == 0) {
            *out = (jwt_alg_t)i;
            return 0;
        }
    return -1;
}

/* ---------------------------------------------------------------- errors */

static int tok_err(err_t *e, const char *code, const char *msg) {
    return err_set(e, 401, code, "token", "%s", msg);
}

static int internal(err_t *e, const char *what) {
    return err_set(e, 500, "internal", "", "%s failed", what);
}

/* ---------------------------------------------------------------- keys */

static int rsa_bits_ok(const EVP_PKEY *pkey) {
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) return 0;
    int bits = EVP_PKEY_get_bits(pkey);
    return bits >= JWT_MIN_RSA_BITS && bits <= JWT_MAX_RSA_BITS;
}

/* The one algorithm a key may be used with: RSA 2048..8192 -> RS256, Ed25519 -> EdDSA, EC on
 * P-256 -> ES256; -1 for anything else (RSA-PSS, Ed448, other curves, DSA, ...). */
static int pkey_alg(const EVP_PKEY *pkey) {
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        return rsa_bits_ok(pkey) ? JWT_ALG_RS256 : -1;
    case EVP_PKEY_ED25519:
        return JWT_ALG_EDDSA;
    case EVP_PKEY_EC: {
        char group[64];
        size_t gl = 0;
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                            &gl))
            return -1;
        return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0 ? JWT_ALG_ES256 : -1;
    }
    default:
        return -1;
    }
}

/* kid = base64url(SHA-256(SPKI DER)[0..16)). */
static int compute_kid(EVP_PKEY *pkey, char out[JWT_KID_LEN + 1], err_t *e) {
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(pkey, &der);
    if (der_len <= 0) return internal(e, "public key DER encoding");
    unsigned char md[32];
    unsigned int md_len = 0;
    int ok = EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL);
    OPENSSL_free(der);
    if (!ok || md_len != 32) return internal(e, "SHA-256");
    char *b = jsonx_b64url_encode(md, 16);
    if (!b) return internal(e, "base64url");
    snprintf(out, JWT_KID_LEN + 1, "%s", b);
    free(b);
    return 0;
}

static int key_wrap(EVP_PKEY *pkey, int is_private, jwt_key_t **out, err_t *e) {
    int alg = pkey_alg(pkey);
    if (alg < 0) {
        EVP_PKEY_free(pkey);
        return err_invalid(e, "key", "key must be RSA (2048..8192 bits), Ed25519 or EC P-256");
    }
    jwt_key_t *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return internal(e, "allocation");
    }
    k->pkey = pkey;
    k->alg = (jwt_alg_t)alg;
    k->is_private = is_private;
    if (is_private && alg == JWT_ALG_EDDSA && sodium_init() >= 0) {
        unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
        size_t len = sizeof seed;
        k->has_ed_sk = EVP_PKEY_get_raw_private_key(pkey, seed, &len) == 1 && len == sizeof seed &&
                       crypto_sign_seed_keypair(pk, k->ed_sk, seed) == 0;
        sodium_memzero(seed, sizeof seed);
    }
    if (compute_kid(pkey, k->kid, e) != 0) {
        jwt_key_free(k);
        return -1;
    }
    *out = k;
    return 0;
}

int jwt_key_generate(int bits, jwt_key_t **out, err_t *e) {
    *out = NULL;
    if (bits != 2048 && bits != 3072 && bits != 4096)
        return err_invalid(e, "bits", "bits must be 2048, 3072 or 4096");
    EVP_PKEY *pkey = EVP_RSA_gen((unsigned int)bits);
    if (!pkey) return internal(e, "RSA key generation");
    return key_wrap(pkey, 1, out, e);
}

int jwt_key_generate_alg(jwt_alg_t alg, jwt_key_t **out, err_t *e) {
    *out = NULL;
    EVP_PKEY *pkey = NULL;
    switch (alg) {
    case JWT_ALG_RS256:
        return jwt_key_generate(2048, out, e);
    case JWT_ALG_EDDSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case JWT_ALG_ES256:
        pkey = EVP_EC_gen("P-256");
        break;
    default:
        return err_invalid(e, "alg", "alg must be RS256, EdDSA or ES256");
    }
    if (!pkey) return internal(e, "key generation");
    return key_wrap(pkey, 1, out, e);
}

int jwt_key_from_private_pem(const char *pem, size_t len, jwt_key_t **out, err_t *e) {
    *out = NULL;
    if (!pem || len == 0 || len > 64 * 1024)
        return err_invalid(e, "private_key", "private key PEM is empty or too long");
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) return internal(e, "BIO allocation");
    /* a NULL password callback with an empty passphrase makes encrypted PEM fail, not prompt */
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    BIO_free(bio);
    if (!pkey) return err_invalid(e, "private_key", "private key is not an unencrypted PEM key");
    if (pkey_alg(pkey) < 0) {
        EVP_PKEY_free(pkey);
        return err_invalid(e, "private_key",
                           "private key must be RSA with a 2048..8192-bit modulus, Ed25519 or "
                           "EC P-256");
    }
    return key_wrap(pkey, 1, out, e);
}

/* Decodes a JWK big-endian unsigned integer member into a BIGNUM. */
static BIGNUM *jwk_bn(json_t *jwk, const char *name, err_t *e) {
    json_t *v = json_object_get(jwk, name);
    const char *s = json_string_value(v);
    if (!s) {
        if (!v)
            err_missing(e, name);
        else
            err_type(e, name, "JWK member %s must be a base64url string", name);
        return NULL;
    }
    if (!*s || strlen(s) > JWT_MAX_JWK_FIELD) {
        err_invalid(e, name, "JWK member %s must be a base64url string", name);
        return NULL;
    }
    size_t n = 0;
    unsigned char *bin = jsonx_b64url_decode(s, &n);
    if (!bin || n == 0 || bin[0] == 0) { /* RFC 7518 6.3.1: no leading zero octets */
        free(bin);
        err_invalid(e, name, "JWK member %s is not valid base64url", name);
        return NULL;
    }
    BIGNUM *bn = BN_bin2bn(bin, (int)n, NULL);
    free(bin);
    if (!bn) internal(e, "BIGNUM decoding");
    return bn;
}

/* A fixed-length base64url JWK member (x, y of OKP and EC keys) into out[want]. */
static int jwk_fixed(json_t *jwk, const char *name, unsigned char *out, size_t want, err_t *e) {
    json_t *v = json_object_get(jwk, name);
    const char *s = json_string_value(v);
    if (!v) return err_missing(e, name);
    if (!s) return err_type(e, name, "JWK member %s must be a base64url string", name);
    size_t n = 0;
    unsigned char *bin = strlen(s) <= JWT_MAX_JWK_FIELD ? jsonx_b64url_decode(s, &n) : NULL;
    int ok = bin && n == want;
    if (ok) memcpy(out, bin, want);
    free(bin);
    if (!ok)
        return err_invalid(e, name, "JWK member %s must be %zu bytes of base64url", name, want);
    return 0;
}

static EVP_PKEY *jwk_rsa(json_t *jwk, err_t *e) {
    BIGNUM *n = NULL, *ex = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    if (!(n = jwk_bn(jwk, "n", e)) || !(ex = jwk_bn(jwk, "e", e))) goto done;
    if (!(bld = OSSL_PARAM_BLD_new()) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ex) ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        internal(e, "OSSL_PARAM building");
        goto done;
    }
    if (!(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        err_invalid(e, "jwk", "JWK is not a valid RSA public key");
        goto done;
    }
    if (!rsa_bits_ok(pkey) || BN_is_one(ex) || !BN_is_odd(ex)) {
        err_invalid(e, "jwk",
                    "JWK must be an RSA key with a 2048..8192-bit modulus and an odd exponent > 1");
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
done:
    BN_free(n);
    BN_free(ex);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* RFC 8037: {"kty":"OKP","crv":"Ed25519","x":<32 bytes>}. */
static EVP_PKEY *jwk_okp(json_t *jwk, err_t *e) {
    unsigned char x[32];
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (!crv || strcmp(crv, "Ed25519") != 0) {
        err_invalid(e, "crv", "JWK crv must be \"Ed25519\"");
        return NULL;
    }
    if (jwk_fixed(jwk, "x", x, sizeof x, e) != 0) return NULL;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, sizeof x);
    if (!pkey) err_invalid(e, "jwk", "JWK is not a valid Ed25519 public key");
    return pkey;
}

/* RFC 7518 6.2: {"kty":"EC","crv":"P-256","x":<32 bytes>,"y":<32 bytes>}; the point must be on
 * the curve. */
static EVP_PKEY *jwk_ec(json_t *jwk, err_t *e) {
    unsigned char pt[1 + 2 * JWT_EC_COORD];
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (!crv || strcmp(crv, "P-256") != 0) {
        err_invalid(e, "crv", "JWK crv must be \"P-256\"");
        return NULL;
    }
    pt[0] = 0x04; /* uncompressed point */
    if (jwk_fixed(jwk, "x", pt + 1, JWT_EC_COORD, e) != 0 ||
        jwk_fixed(jwk, "y", pt + 1 + JWT_EC_COORD, JWT_EC_COORD, e) != 0)
        return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt),
        OSSL_PARAM_construct_end()};
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL), *chk = NULL;
    int ok = ctx && EVP_PKEY_fromdata_init(ctx) > 0 &&
             EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0 &&
             (chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) &&
             EVP_PKEY_public_check(chk) == 1;
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(pkey);
        err_invalid(e, "jwk", "JWK is not a valid P-256 public key");
        return NULL;
    }
    return pkey;
}

int jwt_key_from_jwk(json_t *jwk, jwt_key_t **out, err_t *e) {
    *out = NULL;
    if (!json_is_object(jwk)) return err_type(e, "jwk", "JWK must be a JSON object");
    json_t *ktyj = json_object_get(jwk, "kty");
    const char *kty = json_string_value(ktyj);
    if (!ktyj) return err_missing(e, "kty");
    if (!kty) return err_type(e, "kty", "JWK kty must be a string");
    int a = 0;
    while (a < 3 && strcmp(kty, k_alg_kty[a]) != 0)
        a++;
    if (a == 3) return err_invalid(e, "kty", "JWK kty must be \"RSA\", \"OKP\" or \"EC\"");
    /* the key type fixes the algorithm: an "alg" member naming another one is refused */
    json_t *alg = json_object_get(jwk, "alg");
    if (alg && (!json_is_string(alg) || strcmp(json_string_value(alg), k_alg_names[a]) != 0))
        return err_invalid(e, "alg", "JWK alg must be \"%s\" for kty \"%s\"", k_alg_names[a], kty);
    json_t *use = json_object_get(jwk, "use");
    if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
        return err_invalid(e, "use", "JWK use must be \"sig\"");
    if (json_object_get(jwk, "d"))
        return err_invalid(e, "d", "a published JWK must not carry a private key");
    EVP_PKEY *pkey = a == JWT_ALG_RS256   ? jwk_rsa(jwk, e)
                     : a == JWT_ALG_EDDSA ? jwk_okp(jwk, e)
                                          : jwk_ec(jwk, e);
    if (!pkey) return -1;
    jwt_key_t *k = NULL;
    if (key_wrap(pkey, 0, &k, e) != 0) return -1; /* frees pkey */
    json_t *kid = json_object_get(jwk, "kid");
    if (kid && (!json_is_string(kid) || strcmp(json_string_value(kid), k->kid) != 0)) {
        jwt_key_free(k);
        return err_invalid(e, "kid", "JWK kid does not match the key");
    }
    *out = k;
    return 0;
}

void jwt_key_free(jwt_key_t *k) {
    if (!k) return;
    EVP_PKEY_free(k->pkey);
    sodium_memzero(k->ed_sk, sizeof k->ed_sk);
    free(k);
}

const char *jwt_key_kid(const jwt_key_t *k) {
    return k ? k->kid : NULL;
}

jwt_alg_t jwt_key_alg(const jwt_key_t *k) {
    return k ? k->alg : JWT_ALG_RS256;
}

int jwt_key_is_private(const jwt_key_t *k) {
    return k && k->is_private;
}

/* Copies a memory BIO into a malloc'd NUL-terminated string; wipes the BIO's copy. */
static char *bio_to_string(BIO *bio) {
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || !data) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    OPENSSL_cleanse(data, (size_t)n);
    return s;
}

char *jwt_key_private_pem(const jwt_key_t *k, err_t *e) {
    if (!k || !k->is_private) {
        err_set(e, 500, "internal", "key", "key has no private half");
        return NULL;
    }
    BIO *bio = BIO_new(BIO_s_secmem());
    if (!bio) bio = BIO_new(BIO_s_mem());
    if (!bio) {
        internal(e, "BIO allocation");
        return NULL;
    }
    char *s = NULL;
    if (PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) == 1)
        s = bio_to_string(bio);
    BIO_free(bio);
    if (!s) internal(e, "private key PEM encoding");
    return s;
}

char *jwt_key_public_pem(const jwt_key_t *k, err_t *e) {
    if (!k) {
        err_missing(e, "key");
        return NULL;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) {
        internal(e, "BIO allocation");
        return NULL;
    }
    char *s = NULL;
    if (PEM_write_bio_PUBKEY(bio, k->pkey) == 1) s = bio_to_string(bio);
    BIO_free(bio);
    if (!s) internal(e, "public key PEM encoding");
    return s;
}

void jwt_secret_free(char *s) {
    if (!s) return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static json_t *bn_param_b64(EVP_PKEY *pkey, const char *param) {
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(pkey, param, &bn)) return NULL;
    int len = BN_num_bytes(bn);
    unsigned char *bin = malloc(len > 0 ? (size_t)len : 1);
    json_t *out = NULL;
    if (bin && len > 0 && BN_bn2bin(bn, bin) == len) {
        char *b = jsonx_b64url_encode(bin, (size_t)len);
        if (b) out = json_string(b);
        free(b);
    }
    free(bin);
    BN_free(bn);
    return out;
}

/* A JWK member of `len` bytes, base64url. */
static json_t *b64_member(const unsigned char *bin, size_t len) {
    char *b = jsonx_b64url_encode(bin, len);
    json_t *v = b ? json_string(b) : NULL;
    free(b);
    return v;
}

/* An EC coordinate, left-padded to the full 32 bytes (RFC 7518 6.2.1.2). */
static json_t *ec_coord(EVP_PKEY *pkey, const char *param) {
    BIGNUM *bn = NULL;
    unsigned char bin[JWT_EC_COORD];
    json_t *out = NULL;
    if (EVP_PKEY_get_bn_param(pkey, param, &bn) && BN_bn2binpad(bn, bin, sizeof bin) == sizeof bin)
        out = b64_member(bin, sizeof bin);
    BN_free(bn);
    return out;
}

static json_t *pkey_jwk(EVP_PKEY *pkey, jwt_alg_t alg, const char *kid, err_t *e) {
    json_t *jwk = NULL;
    if (alg == JWT_ALG_RS256) {
        json_t *n = bn_param_b64(pkey, OSSL_PKEY_PARAM_RSA_N);
        json_t *ex = bn_param_b64(pkey, OSSL_PKEY_PARAM_RSA_E);
        if (n && ex)
            jwk = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "kty", "RSA", "use", "sig", "alg",
                            "RS256", "kid", kid, "n", n, "e", ex);
        else {
            json_decref(n);
            json_decref(ex);
        }
    } else if (alg == JWT_ALG_EDDSA) {
        unsigned char x[32];
        size_t xl = sizeof x;
        json_t *xj = EVP_PKEY_get_raw_public_key(pkey, x, &xl) == 1 && xl == sizeof x
                         ? b64_member(x, xl)
                         : NULL;
        if (xj)
            jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "kty", "OKP", "crv", "Ed25519", "use",
                            "sig", "alg", "EdDSA", "kid", kid, "x", xj);
    } else {
        json_t *x = ec_coord(pkey, OSSL_PKEY_PARAM_EC_PUB_X);
        json_t *y = ec_coord(pkey, OSSL_PKEY_PARAM_EC_PUB_Y);
        if (x && y)
            jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "kty", "EC", "crv", "P-256",
                            "use", "sig", "alg", "ES256", "kid", kid, "x", x, "y", y);
        else {
            json_decref(x);
            json_decref(y);
        }
    }
    if (!jwk) internal(e, "JWK building");
    return jwk;
}

json_t *jwt_key_public_jwk(const jwt_key_t *k, err_t *e) {
    if (!k) {
        err_missing(e, "key");
        return NULL;
    }
    return pkey_jwk(k->pkey, k->alg, k->kid, e);
}

/* ---------------------------------------------------------------- signing */

static char *b64_json(const json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT);
    if (!s) return NULL;
    char *b = jsonx_b64url_encode((const unsigned char *)s, strlen(s));
    free(s);
    return b;
}

/* The JWS signature length of a key: the modulus size for RS256, 64 for EdDSA and ES256. */
static size_t jose_sig_len(EVP_PKEY *pkey, jwt_alg_t alg) {
    return alg == JWT_ALG_RS256 ? (size_t)EVP_PKEY_get_size(pkey) : JWT_RAW_SIG;
}

/* Signs in[0..n) with pkey for alg into sig (jose_sig_len bytes; ES256 as R || S, RFC 7518
 * 3.4, not OpenSSL's DER). 0 or -1. */
static int sign_raw(EVP_PKEY *pkey, jwt_alg_t alg, const unsigned char *in, size_t n,
                    unsigned char *sig, size_t *sig_len) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char der[128];
    size_t der_len = sizeof der;
    int ok = md != NULL;
    if (ok && alg == JWT_ALG_RS256)
        ok = EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
             EVP_DigestSign(md, sig, sig_len, in, n) == 1;
    else if (ok && alg == JWT_ALG_EDDSA)
        ok = EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1 &&
             EVP_DigestSign(md, sig, sig_len, in, n) == 1 && *sig_len == JWT_RAW_SIG;
    else if (ok) {
        ECDSA_SIG *es = NULL;
        const unsigned char *p = der;
        const BIGNUM *r = NULL, *sv = NULL;
        ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_DigestSign(md, der, &der_len, in, n) == 1 &&
             (es = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) != NULL;
        if (ok) ECDSA_SIG_get0(es, &r, &sv);
        ok = ok && BN_bn2binpad(r, sig, JWT_EC_COORD) == JWT_EC_COORD &&
             BN_bn2binpad(sv, sig + JWT_EC_COORD, JWT_EC_COORD) == JWT_EC_COORD;
        *sig_len = JWT_RAW_SIG;
        ECDSA_SIG_free(es);
    }
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

/* Verifies sig (already checked to be jose_sig_len bytes) over in[0..n): 1 valid, 0 not,
 * -1 OpenSSL failure. */
static int verify_raw(EVP_PKEY *pkey, jwt_alg_t alg, const unsigned char *in, size_t n,
                      const unsigned char *sig, size_t sig_len) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    ECDSA_SIG *es = NULL;
    int rc = -1;
    if (!md) return -1;
    if (alg == JWT_ALG_RS256) {
        if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0)
            rc = EVP_DigestVerify(md, sig, sig_len, in, n) == 1;
    } else if (alg == JWT_ALG_EDDSA) {
        if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1)
            rc = EVP_DigestVerify(md, sig, sig_len, in, n) == 1;
    } else {
        /* R || S back to DER for OpenSSL; r, s = 0 or >= n fail in the verification */
        BIGNUM *r = BN_bin2bn(sig, JWT_EC_COORD, NULL);
        BIGNUM *sv = BN_bin2bn(sig + JWT_EC_COORD, JWT_EC_COORD, NULL);
        es = ECDSA_SIG_new();
        if (es && r && sv && ECDSA_SIG_set0(es, r, sv) == 1) {
            r = sv = NULL; /* owned by es */
            int dl = i2d_ECDSA_SIG(es, &der);
            if (dl > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1)
                rc = EVP_DigestVerify(md, der, (size_t)dl, in, n) == 1;
        }
        BN_free(r);
        BN_free(sv);
    }
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    return rc;
}

char *jwt_sign(const jwt_key_t *k, const json_t *claims, err_t *e) {
    char *h64 = NULL, *p64 = NULL, *s64 = NULL, *token = NULL;
    unsigned char *sig = NULL;
    json_t *header = NULL;
    if (!k || !k->is_private) {
        err_set(e, 500, "internal", "key", "signing needs a private key");
        return NULL;
    }
    if (!json_is_object(claims)) {
        err_type(e, "claims", "claims must be a JSON object");
        return NULL;
    }
    header = json_pack("{s:s, s:s, s:s}", "alg", jwt_alg_name(k->alg), "typ", "JWT", "kid", k->kid);
    if (!header || !(h64 = b64_json(header)) || !(p64 = b64_json(claims))) {
        internal(e, "JSON encoding");
        goto fail;
    }
    size_t hl = strlen(h64), pl = strlen(p64);
    size_t sig_len = jose_sig_len(k->pkey, k->alg);
    /* header + '.' + payload + '.' + signature must fit the verifier's limit */
    if (hl + pl + 2 + (sig_len * 4 + 2) / 3 > JWT_MAX_TOKEN_LEN) {
        err_invalid(e, "claims", "claims are too large for a token");
        goto fail;
    }
    char *input = malloc(hl + 1 + pl + 1);
    if (!input) {
        internal(e, "allocation");
        goto fail;
    }
    memcpy(input, h64, hl);
    input[hl] = '.';
    memcpy(input + hl + 1, p64, pl + 1);
    sig = malloc(sig_len);
    if (!sig ||
        (k->has_ed_sk
             ? crypto_sign_detached(sig, NULL, (const unsigned char *)input, hl + 1 + pl, k->ed_sk)
             : sign_raw(k->pkey, k->alg, (const unsigned char *)input, hl + 1 + pl, sig,
                        &sig_len)) != 0 ||
        !(s64 = jsonx_b64url_encode(sig, sig_len))) {
        free(input);
        internal(e, "signing");
        goto fail;
    }
    size_t sl = strlen(s64);
    token = malloc(hl + 1 + pl + 1 + sl + 1);
    if (token) {
        memcpy(token, input, hl + 1 + pl);
        token[hl + 1 + pl] = '.';
        memcpy(token + hl + 1 + pl + 1, s64, sl + 1);
    } else {
        internal(e, "allocation");
    }
    free(input);
fail:
    json_decref(header);
    free(h64);
    free(p64);
    free(s64);
    free(sig);
    return token;
}

/* ---------------------------------------------------------------- key set */

jwt_keyset_t *jwt_keyset_new(void) {
    return calloc(1, sizeof(jwt_keyset_t));
}

void jwt_keyset_free(jwt_keyset_t *ks) {
    if (!ks) return;
    for (size_t i = 0; i < ks->n; i++)
        EVP_PKEY_free(ks->keys[i].pkey);
    free(ks);
}

static EVP_PKEY *keyset_find(const jwt_keyset_t *ks, const char *kid, jwt_alg_t *alg) {
    for (size_t i = 0; i < ks->n; i++)
        if (strcmp(ks->keys[i].kid, kid) == 0) {
            if (alg) *alg = ks->keys[i].alg;
            return ks->keys[i].pkey;
        }
    return NULL;
}

int jwt_keyset_add(jwt_keyset_t *ks, const jwt_key_t *k, err_t *e) {
    if (!ks || !k) return err_set(e, 500, "internal", "key", "key set and key are required");
    if (keyset_find(ks, k->kid, NULL))
        return err_set(e, 409, "conflict", "kid", "a key with this kid is already in the key set");
    if (ks->n >= JWT_KEYSET_MAX)
        return err_invalid(e, "keys", "key set is full (%d keys)", JWT_KEYSET_MAX);
    /* keep only the public half, so a keyset can never sign */
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(k->pkey, &der);
    if (der_len <= 0) return internal(e, "public key DER encoding");
    const unsigned char *p = der;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, der_len);
    OPENSSL_free(der);
    if (!pub) return internal(e, "public key DER decoding");
    ks->keys[ks->n].pkey = pub;
    ks->keys[ks->n].alg = k->alg;
    memcpy(ks->keys[ks->n].kid, k->kid, sizeof ks->keys[ks->n].kid);
    ks->n++;
    return 0;
}

int jwt_keyset_remove(jwt_keyset_t *ks, const char *kid, err_t *e) {
    for (size_t i = 0; ks && kid && i < ks->n; i++) {
        if (strcmp(ks->keys[i].kid, kid) != 0) continue;
        EVP_PKEY_free(ks->keys[i].pkey);
        memmove(&ks->keys[i], &ks->keys[i + 1], (ks->n - i - 1) * sizeof ks->keys[0]);
        ks->n--;
        return 0;
    }
    return err_set(e, 404, "not_found", "kid", "no key with this kid in the key set");
}

size_t jwt_keyset_count(const jwt_keyset_t *ks) {
    return ks ? ks->n : 0;
}

json_t *jwt_keyset_jwks(const jwt_keyset_t *ks, err_t *e) {
    json_t *arr = json_array();
    if (!arr) {
        internal(e, "allocation");
        return NULL;
    }
    for (size_t i = 0; ks && i < ks->n; i++) {
        json_t *jwk = pkey_jwk(ks->keys[i].pkey, ks->keys[i].alg, ks->keys[i].kid, e);
        if (!jwk || json_array_append_new(arr, jwk) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    json_t *doc = json_pack("{s:o}", "keys", arr);
    if (!doc) internal(e, "allocation");
    return doc;
}

/* ---------------------------------------------------------------- verification */

/* Decodes one base64url segment [s, s+n) into a NUL-terminated buffer. */
static unsigned char *seg_decode(const char *s, size_t n, size_t *out_len) {
    char *tmp = malloc(n + 1);
    if (!tmp) return NULL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    unsigned char *out = n ? jsonx_b64url_decode(tmp, out_len) : NULL;
    free(tmp);
    return out;
}

/* Parses a decoded segment as a JSON object: no duplicate keys, valid UTF-8, no \u0000. */
static json_t *seg_json(const unsigned char *buf, size_t len) {
    json_t *v = NULL;
    err_t ignored;
    if (jsonx_parse_object((const char *)buf, len, &v, &ignored) != 0) return NULL;
    return v;
}

/* A NumericDate claim: absent (returns 0, *present = 0) or a JSON integer. -1 when the wrong type.
 */
static int time_claim(json_t *claims, const char *name, int64_t *out, int *present) {
    json_t *v = json_object_get(claims, name);
    *present = 0;
    if (!v) return 0;
    if (!json_is_integer(v)) return -1;
    *out = (int64_t)json_integer_value(v);
    *present = 1;
    return 0;
}

static int audience_ok(json_t *aud, const char *want) {
    if (json_is_string(aud)) return strcmp(json_string_value(aud), want) == 0;
    if (!json_is_array(aud) || json_array_size(aud) == 0) return 0;
    int found = 0;
    size_t i;
    json_t *a;
    json_array_foreach(aud, i, a) {
        if (!json_is_string(a)) return 0; /* a malformed array is not "contains" */
        if (strcmp(json_string_value(a), want) == 0) found = 1;
    }
    return found;
}

static int check_claims(json_t *c, const jwt_verify_opts_t *o, err_t *e) {
    int64_t exp = 0, nbf = 0, iat = 0;
    int has_exp, has_nbf, has_iat;
    if (time_claim(c, "exp", &exp, &has_exp) != 0 || time_claim(c, "nbf", &nbf, &has_nbf) != 0 ||
        time_claim(c, "iat", &iat, &has_iat) != 0)
        return tok_err(e, "token_malformed", "token time claims must be integers");
    if (!has_exp) return tok_err(e, "token_malformed", "token has no expiry");
    int64_t lw = o->leeway;
    /* saturating comparisons: claims are attacker-influenced only if the signer is, but be exact */
    if (exp <= INT64_MAX - lw ? o->now >= exp + lw : 0)
        return tok_err(e, "token_expired", "token has expired");
    if (has_nbf && (o->now <= INT64_MAX - lw ? nbf > o->now + lw : 0))
        return tok_err(e, "token_not_yet_valid", "token is not valid yet");
    if (has_iat && (o->now <= INT64_MAX - lw ? iat > o->now + lw : 0))
        return tok_err(e, "token_not_yet_valid", "token was issued in the future");
    /* exp - iat without overflow: iat < 0 with a huge exp is out of range as well */
    if (o->max_lifetime > 0 &&
        (!has_iat || exp < iat ||
         (iat < 0 ? exp > o->max_lifetime + iat : exp - iat > o->max_lifetime)))
        return tok_err(e, "token_lifetime_invalid", "token lifetime exceeds the maximum");
    json_t *iss = json_object_get(c, "iss");
    if (!json_is_string(iss) || strcmp(json_string_value(iss), o->issuer) != 0)
        return tok_err(e, "token_issuer_invalid", "token issuer is not accepted");
    if (!audience_ok(json_object_get(c, "aud"), o->audience))
        return tok_err(e, "token_audience_invalid", "token audience is not accepted");
    return 0;
}

int jwt_verify(const jwt_keyset_t *ks, const char *token, size_t len, const jwt_verify_opts_t *o,
               json_t **claims, err_t *e) {
    unsigned char *hbuf = NULL, *pbuf = NULL, *sig = NULL;
    json_t *header = NULL, *payload = NULL;
    size_t hlen = 0, plen = 0, slen = 0;
    int rc = -1;
    *claims = NULL;
    if (!ks || !o || !o->issuer || !*o->issuer || !o->audience || !*o->audience || o->leeway < 0 ||
        o->leeway > JWT_MAX_LEEWAY)
        return err_set(e, 500, "internal", "", "token verifier is misconfigured");
    if (!token || len == 0) return tok_err(e, "token_malformed", "token is empty");
    if (len > JWT_MAX_TOKEN_LEN) return tok_err(e, "token_too_large", "token is too large");

    /* exactly three segments: header.payload.signature (JWE has five; never accepted) */
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) ||
        memchr(token, '\0', len))
        return tok_err(e, "token_malformed", "token must have three dot-separated segments");
    size_t h_n = (size_t)(d1 - token), p_n = (size_t)(d2 - d1 - 1),
           s_n = len - (size_t)(d2 + 1 - token);

    if (!(hbuf = seg_decode(token, h_n, &hlen)) || !(header = seg_json(hbuf, hlen))) {
        tok_err(e, "token_malformed", "token header is not base64url-encoded JSON");
        goto out;
    }
    json_t *alg = json_object_get(header, "alg");
    jwt_alg_t want = JWT_ALG_RS256, key_alg = JWT_ALG_RS256;
    if (!json_is_string(alg) || jwt_alg_parse(json_string_value(alg), &want) != 0) {
        tok_err(e, "token_alg_invalid", "token algorithm is not accepted");
        goto out;
    }
    json_t *typ = json_object_get(header, "typ");
    if (typ && (!json_is_string(typ) || (strcmp(json_string_value(typ), "JWT") != 0 &&
                                         strcmp(json_string_value(typ), "at+jwt") != 0))) {
        tok_err(e, "token_malformed", "token type is not accepted");
        goto out;
    }
    if (json_object_get(header, "crit")) {
        tok_err(e, "token_crit_unsupported", "token uses unsupported critical header parameters");
        goto out;
    }
    json_t *kid = json_object_get(header, "kid");
    if (!json_is_string(kid) || json_string_length(kid) == 0) {
        tok_err(e, "token_kid_missing", "token has no key id");
        goto out;
    }
    EVP_PKEY *pkey = keyset_find(ks, json_string_value(kid), &key_alg);
    if (!pkey) {
        tok_err(e, "token_kid_unknown", "token key id is not known");
        goto out;
    }
    /* the key decides the algorithm: a header naming another one (an EdDSA token with an RSA
     * key's kid, ...) is refused before any cryptography */
    if (key_alg != want) {
        tok_err(e, "token_alg_invalid", "token algorithm is not accepted");
        goto out;
    }
    if (!(sig = seg_decode(d2 + 1, s_n, &slen)) || slen != jose_sig_len(pkey, key_alg)) {
        tok_err(e, "token_signature_invalid", "token signature is invalid");
        goto out;
    }
    int v =
        verify_raw(pkey, key_alg, (const unsigned char *)token, (size_t)(d2 - token), sig, slen);
    if (v < 0) {
        internal(e, "signature verifier");
        goto out;
    }
    if (v == 0) {
        tok_err(e, "token_signature_invalid", "token signature is invalid");
        goto out;
    }
    if (!(pbuf = seg_decode(d1 + 1, p_n, &plen)) || !(payload = seg_json(pbuf, plen))) {
        tok_err(e, "token_malformed", "token payload is not base64url-encoded JSON");
        goto out;
    }
    if (check_claims(payload, o, e) != 0) goto out;
    *claims = payload;
    payload = NULL;
    rc = 0;
out:
    json_decref(header);
    json_decref(payload);
    free(hbuf);
    free(pbuf);
    free(sig);
    return rc;
}
