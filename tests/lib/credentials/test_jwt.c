/* test_jwt: round trips (sign/verify, PEM and JWK export/import, JWKS), and the attack set of
 * issue 3: alg none, HS256 forged with the public key PEM, other algorithms, unknown and
 * missing kid, expired, not yet valid (nbf, iat), wrong aud (string and array) and iss, tampered
 * header/payload/signature, bad base64url, duplicate JSON keys, oversized tokens and wrong
 * segment counts. TABLE-DRIVEN over the algorithms (issue 16): every test runs once per
 * algorithm (RS256, EdDSA, ES256) with a key of that algorithm; the key set also holds a key of
 * each other algorithm, so alg confusion across them (a header naming another algorithm, a kid
 * of another algorithm's key) is tested too (test_cross_alg). Headers are written with the
 * placeholder "@ALG", replaced by the algorithm under test when the token is forged. Forged
 * tokens are built here from raw JSON with OpenSSL directly, so every check isolates the one
 * property under test. Every rejection also checks that the error message does not echo the
 * token. */
#include "lib/credentials/jwt.h"

#include <stdint.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "core/json.h"
#include "test.h"

#define ISS "https://auth.reciprocal.test"
#define AUD "reciprocal-api"
#define NOW ((int64_t)1760000000)

static jwt_alg_t g_alg;         /* the algorithm under test */
static const char *g_algname;   /* its name */
static jwt_key_t *g_cross[3];   /* one key per algorithm, in the key set (g_key is g_alg's) */
static EVP_PKEY *g_cross_pk[3]; /* their private keys */
static jwt_key_t *g_key;        /* in the key set */
static jwt_key_t *g_other;      /* not in the key set */
static EVP_PKEY *g_priv;        /* g_key's private key, for forging */
static EVP_PKEY *g_other_pk;    /* g_other's private key */
static jwt_keyset_t *g_ks;
static char *g_pub_pem;

static const jwt_verify_opts_t g_opts = {.issuer = ISS, .audience = AUD, .now = NOW, .leeway = 30};

/* ---------- forging helpers ---------- */

static char *b64(const void *data, size_t len) {
    return jsonx_b64url_encode((const unsigned char *)data, len);
}

static EVP_PKEY *load_priv(const jwt_key_t *k) {
    err_t e;
    char *pem = jwt_key_private_pem(k, &e);
    if (!pem) return NULL;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *p = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    jwt_secret_free(pem);
    return p;
}

/* SIG_KEY: the signing key's own algorithm (RS256 for RSA, EdDSA for Ed25519, ES256 as R || S for
 * P-256); SIG_ES256_DER: a P-256 signature left in OpenSSL's DER form. */
enum sig_mode { SIG_KEY, SIG_HS256_PUBPEM, SIG_NONE, SIG_RS512, SIG_ES256_DER };

/* Signs with pk's own algorithm (see SIG_KEY); 0 or -1. */
static int sign_key(EVP_PKEY *pk, int der, const unsigned char *in, size_t n, unsigned char *sig,
                    size_t *sig_len) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int id = EVP_PKEY_get_base_id(pk), ok;
    unsigned char buf[256];
    size_t bl = sizeof buf;
    if (id == EVP_PKEY_ED25519) {
        ok = EVP_DigestSignInit(md, NULL, NULL, NULL, pk) == 1 &&
             EVP_DigestSign(md, sig, sig_len, in, n) == 1;
    } else if (id == EVP_PKEY_EC) {
        ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestSign(md, buf, &bl, in, n) == 1;
        if (ok && der) {
            memcpy(sig, buf, bl);
            *sig_len = bl;
        } else if (ok) {
            const unsigned char *p = buf;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)bl);
            const BIGNUM *r = NULL, *sv = NULL;
            ok = es != NULL;
            if (ok) ECDSA_SIG_get0(es, &r, &sv);
            ok = ok && BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(sv, sig + 32, 32) == 32;
            *sig_len = 64;
            ECDSA_SIG_free(es);
        }
    } else {
        ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestSign(md, sig, sig_len, in, n) == 1;
    }
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

/* The header with every "@ALG" replaced by the algorithm under test; caller frees. */
static char *alg_subst(const char *header) {
    size_t n = strlen(header) + 64;
    char *out = malloc(n), *w = out;
    for (const char *r = header; *r;) {
        if (strncmp(r, "@ALG", 4) == 0) {
            w += sprintf(w, "%s", g_algname);
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return out;
}

/* header.payload from raw JSON text, then a signature of the chosen kind. Caller frees. */
static char *forge_with(const char *header_t, const char *payload, enum sig_mode mode,
                        EVP_PKEY *pk) {
    char *header = alg_subst(header_t);
    char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload));
    free(header);
    size_t in_len = strlen(h) + 1 + strlen(p);
    char *input = malloc(in_len + 1);
    snprintf(input, in_len + 1, "%s.%s", h, p);
    unsigned char sig[1024];
    size_t sig_len = 0;
    if (mode == SIG_KEY || mode == SIG_ES256_DER) {
        sig_len = sizeof sig;
        if (sign_key(pk, mode == SIG_ES256_DER, (unsigned char *)input, in_len, sig, &sig_len) != 0)
            sig_len = 0;
    } else if (mode == SIG_RS512) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        sig_len = sizeof sig;
        if (EVP_DigestSignInit(md, NULL, EVP_sha512(), NULL, pk) != 1 ||
            EVP_DigestSign(md, sig, &sig_len, (unsigned char *)input, in_len) != 1)
            sig_len = 0;
        EVP_MD_CTX_free(md);
    } else if (mode == SIG_HS256_PUBPEM) {
        unsigned int l = 0;
        HMAC(EVP_sha256(), g_pub_pem, (int)strlen(g_pub_pem), (unsigned char *)input, in_len, sig,
             &l);
        sig_len = l;
    }
    char *s = sig_len ? b64(sig, sig_len) : strdup("");
    size_t tl = in_len + 1 + strlen(s) + 1;
    char *tok = malloc(tl);
    snprintf(tok, tl, "%s.%s", input, s);
    free(h);
    free(p);
    free(s);
    free(input);
    return tok;
}

static char *forge(const char *header, const char *payload, enum sig_mode mode) {
    return forge_with(header, payload, mode, g_priv);
}

/* header JSON with g_key's kid and the given alg */
static void hdr(char *out, size_t n, const char *alg) {
    snprintf(out, n, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, jwt_key_kid(g_key));
}

/* a valid claim set with optional overrides appended by the caller's format */
static void claims_json(char *out, size_t n, int64_t exp, int64_t nbf, int64_t iat,
                        const char *iss_aud) {
    snprintf(
        out, n, "{\"sub\":\"user-1\",\"exp\":%lld,\"nbf\":%lld,\"iat\":%lld,\"jti\":\"j1\"%s%s}",
        (long long)exp, (long long)nbf, (long long)iat, iss_aud ? "," : "", iss_aud ? iss_aud : "");
}

#define STD_ISS_AUD "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\""

/* Verifies and expects rejection with `code`; checks that nothing of the token leaks. */
static int rejects_with(const char *token, size_t len, const jwt_verify_opts_t *o,
                        const char *code) {
    err_t e;
    err_clear(&e);
    json_t *claims = (json_t *)1;
    int rc = jwt_verify(g_ks, token, len, o, &claims, &e);
    int ok = rc == -1 && claims == NULL && strcmp(e.code, code) == 0;
    if (!ok) printf("#   expected %s, got rc=%d code=%s message=%s\n", code, rc, e.code, e.message);
    if (len >= 12) {
        char head[13];
        memcpy(head, token, 12);
        head[12] = '\0';
        if (strstr(e.message, head) || strstr(e.message, "eyJ")) {
            printf("#   error message echoes the token\n");
            ok = 0;
        }
    }
    if (strstr(e.message, jwt_key_kid(g_key))) {
        printf("#   error message echoes the kid\n");
        ok = 0;
    }
    if (rc == 0) json_decref(claims);
    return ok;
}
#define REJECTS(tok, code) CHECK(rejects_with((tok), strlen(tok), &g_opts, (code)))

static int accepts(const char *token, const jwt_verify_opts_t *o) {
    err_t e;
    json_t *claims = NULL;
    int rc = jwt_verify(g_ks, token, strlen(token), o, &claims, &e);
    if (rc != 0) printf("#   unexpected rejection: %s (%s)\n", e.code, e.message);
    json_decref(claims);
    return rc == 0;
}

static char *sign_std(int64_t exp, int64_t nbf, int64_t iat, const char *iss_aud) {
    char hbuf[256], cbuf[1024];
    hdr(hbuf, sizeof hbuf, "@ALG");
    claims_json(cbuf, sizeof cbuf, exp, nbf, iat, iss_aud);
    return forge(hbuf, cbuf, SIG_KEY);
}

/* ---------- tests ---------- */

/* An EdDSA token is signed with libsodium: its signature is the one OpenSSL computes from the
 * same private key over the same input (Ed25519 is deterministic, RFC 8032). */
static void check_ed25519_as_openssl(const char *tok) {
    err_t e;
    char *pem = jwt_key_private_pem(g_key, &e);
    REQUIRE(pem != NULL);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    BIO_free(bio);
    jwt_secret_free(pem);
    REQUIRE(pkey != NULL);
    const char *dot = strrchr(tok, '.');
    unsigned char sig[64];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    CHECK(md && EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1 &&
          EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)tok, (size_t)(dot - tok)) == 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    char *s64 = jsonx_b64url_encode(sig, sig_len);
    CHECK_STR(dot + 1, s64 ? s64 : "");
    free(s64);
}

static void test_round_trip(void) {
    err_t e;
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:[s,s]}", "iss", ISS,
                               "sub", "user-42", "aud", AUD, "exp", (json_int_t)(NOW + 900), "iat",
                               (json_int_t)NOW, "nbf", (json_int_t)NOW, "jti", "abc", "club_id",
                               "club-7", "roles", "member", "club_staff");
    char *tok = jwt_sign(g_key, claims, &e);
    REQUIRE(tok != NULL);
    /* header is exactly alg, typ, kid */
    size_t hl = (size_t)(strchr(tok, '.') - tok);
    char *h64 = strndup(tok, hl);
    size_t n = 0;
    unsigned char *h = jsonx_b64url_decode(h64, &n);
    char want[128];
    snprintf(want, sizeof want, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", g_algname,
             jwt_key_kid(g_key));
    CHECK_STR((char *)h, want);
    free(h);
    free(h64);

    json_t *got = NULL;
    CHECK_EQ_INT(jwt_verify(g_ks, tok, strlen(tok), &g_opts, &got, &e), 0);
    CHECK(got && json_equal(got, claims));
    json_decref(got);
    if (g_alg == JWT_ALG_EDDSA) check_ed25519_as_openssl(tok);

    /* signing a public-only key or a non-object fails */
    jwt_key_t *pub = NULL;
    json_t *jwk = jwt_key_public_jwk(g_key, &e);
    REQUIRE(jwk != NULL);
    CHECK_EQ_INT(jwt_key_from_jwk(jwk, &pub, &e), 0);
    CHECK(pub && !jwt_key_is_private(pub));
    CHECK(jwt_sign(pub, claims, &e) == NULL);
    json_t *arr = json_array();
    CHECK(jwt_sign(g_key, arr, &e) == NULL);
    json_decref(arr);

    /* a key set built from the JWK alone verifies the token */
    jwt_keyset_t *ks2 = jwt_keyset_new();
    CHECK_EQ_INT(jwt_keyset_add(ks2, pub, &e), 0);
    got = NULL;
    CHECK_EQ_INT(jwt_verify(ks2, tok, strlen(tok), &g_opts, &got, &e), 0);
    json_decref(got);
    jwt_keyset_free(ks2);
    jwt_key_free(pub);
    json_decref(jwk);
    json_decref(claims);
    free(tok);
}

static void test_key_export_import(void) {
    err_t e;
    const char *kid = jwt_key_kid(g_key);
    CHECK_EQ_INT(strlen(kid), JWT_KID_LEN);
    for (const char *c = kid; *c; c++)
        CHECK((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_');
    CHECK(strcmp(kid, jwt_key_kid(g_other)) != 0);

    /* private PEM round trip keeps the kid and the signing ability */
    char *pem = jwt_key_private_pem(g_key, &e);
    REQUIRE(pem != NULL);
    CHECK(strstr(pem, "-----BEGIN PRIVATE KEY-----") == pem);
    jwt_key_t *k2 = NULL;
    CHECK_EQ_INT(jwt_key_from_private_pem(pem, strlen(pem), &k2, &e), 0);
    jwt_secret_free(pem);
    REQUIRE(k2 != NULL);
    CHECK_STR(jwt_key_kid(k2), kid);
    json_t *claims =
        json_pack("{s:s, s:s, s:I}", "iss", ISS, "aud", AUD, "exp", (json_int_t)(NOW + 60));
    char *tok = jwt_sign(k2, claims, &e);
    REQUIRE(tok != NULL);
    CHECK(accepts(tok, &g_opts));
    free(tok);
    json_decref(claims);
    jwt_key_free(k2);

    /* JWK: members and kid */
    json_t *jwk = jwt_key_public_jwk(g_key, &e);
    REQUIRE(jwk != NULL);
    static const char *const kty[] = {"RSA", "OKP", "EC"};
    CHECK_STR(json_string_value(json_object_get(jwk, "kty")), kty[g_alg]);
    CHECK_STR(json_string_value(json_object_get(jwk, "alg")), g_algname);
    CHECK_STR(json_string_value(json_object_get(jwk, "use")), "sig");
    CHECK_STR(json_string_value(json_object_get(jwk, "kid")), kid);
    CHECK(json_object_get(jwk, "d") == NULL);
    if (g_alg == JWT_ALG_RS256) {
        CHECK_STR(json_string_value(json_object_get(jwk, "e")), "AQAB");
        CHECK_EQ_INT(strlen(json_string_value(json_object_get(jwk, "n"))), 342); /* 256 bytes */
        CHECK_EQ_INT(json_object_size(jwk), 6);
    } else if (g_alg == JWT_ALG_EDDSA) { /* RFC 8037 section 2 */
        CHECK_STR(json_string_value(json_object_get(jwk, "crv")), "Ed25519");
        CHECK_EQ_INT(strlen(json_string_value(json_object_get(jwk, "x"))), 43); /* 32 bytes */
        CHECK_EQ_INT(json_object_size(jwk), 6);
    } else { /* RFC 7518 section 6.2.1: x and y full length, even with leading zeros */
        CHECK_STR(json_string_value(json_object_get(jwk, "crv")), "P-256");
        CHECK_EQ_INT(strlen(json_string_value(json_object_get(jwk, "x"))), 43);
        CHECK_EQ_INT(strlen(json_string_value(json_object_get(jwk, "y"))), 43);
        CHECK_EQ_INT(json_object_size(jwk), 7);
    }
    /* a JWK whose kid was changed is refused; wrong alg/use/kty too */
    jwt_key_t *bad = NULL;
    json_t *j2 = json_deep_copy(jwk);
    json_object_set_new(j2, "kid", json_string("renamed"));
    CHECK_EQ_INT(jwt_key_from_jwk(j2, &bad, &e), -1);
    json_object_set_new(j2, "kid", json_string(kid));
    json_object_set_new(j2, "alg", json_string("HS256"));
    CHECK_EQ_INT(jwt_key_from_jwk(j2, &bad, &e), -1);
    /* the key type fixes the algorithm: another algorithm's name is refused */
    for (int a = 0; a < 3; a++) {
        if (a == (int)g_alg) continue;
        json_object_set_new(j2, "alg", json_string(jwt_alg_name((jwt_alg_t)a)));
        CHECK_EQ_INT(jwt_key_from_jwk(j2, &bad, &e), -1);
        CHECK_STR(e.field, "alg");
    }
    json_object_set_new(j2, "alg", json_string(g_algname));
    json_object_set_new(j2, "kty", json_string("oct"));
    CHECK_EQ_INT(jwt_key_from_jwk(j2, &bad, &e), -1);
    json_object_set_new(j2, "kty", json_string(kty[g_alg]));
    json_t *good = json_deep_copy(j2);
    /* a private member is refused in a published key */
    json_object_set_new(j2, "d", json_string("AAAA"));
    CHECK_EQ_INT(jwt_key_from_jwk(j2, &bad, &e), -1);
    json_object_del(j2, "d");
    const char *member = g_alg == JWT_ALG_RS256 ? "n" : "x";
    json_object_set_new(j2, member, json_string("AAAA"));
    CHECK_EQ_INT(jwt_key_from_jwk(j2, &bad, &e), -1);
    if (g_alg != JWT_ALG_RS256) {
        /* wrong curve; 31 bytes; a P-256 point off the curve (y changed) */
        json_decref(j2);
        j2 = json_deep_copy(good);
        json_object_set_new(j2, "crv", json_string(g_alg == JWT_ALG_EDDSA ? "Ed448" : "P-384"));
        CHECK_EQ_INT(jwt_key_from_jwk(j2, &bad, &e), -1);
        CHECK_STR(e.field, "crv");
        json_object_set_new(j2, "crv", json_string(g_alg == JWT_ALG_EDDSA ? "Ed25519" : "P-256"));
        json_object_set_new(j2, "x", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        CHECK_EQ_INT(jwt_key_from_jwk(j2, &bad, &e), -1);
        if (g_alg == JWT_ALG_ES256) {
            json_decref(j2);
            j2 = json_deep_copy(good);
            char y[64];
            snprintf(y, sizeof y, "%s", json_string_value(json_object_get(good, "y")));
            y[20] = y[20] == 'A' ? 'B' : 'A';
            json_object_set_new(j2, "y", json_string(y));
            CHECK_EQ_INT(jwt_key_from_jwk(j2, &bad, &e), -1);
            CHECK_STR(e.field, "jwk");
        }
    }
    /* the untouched copy still imports (the refusals above are the edits') */
    jwt_key_t *ok = NULL;
    CHECK_EQ_INT(jwt_key_from_jwk(good, &ok, &e), 0);
    CHECK(ok && jwt_key_alg(ok) == g_alg && strcmp(jwt_key_kid(ok), kid) == 0);
    jwt_key_free(ok);
    json_decref(good);
    CHECK(bad == NULL);
    json_decref(j2);
    json_decref(jwk);

    /* weak keys refused */
    EVP_PKEY *weak = EVP_RSA_gen(1024);
    REQUIRE(weak != NULL);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, weak, NULL, NULL, 0, NULL, NULL);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    CHECK_EQ_INT(jwt_key_from_private_pem(data, (size_t)n, &bad, &e), -1);
    CHECK(bad == NULL);
    BIO_free(bio);
    EVP_PKEY_free(weak);
    CHECK_EQ_INT(jwt_key_generate(1024, &bad, &e), -1);
    /* keys of no accepted algorithm: P-384, Ed448 */
    EVP_PKEY *odd[] = {EVP_EC_gen("P-384"), EVP_PKEY_Q_keygen(NULL, NULL, "ED448")};
    for (int i = 0; i < 2; i++) {
        REQUIRE(odd[i] != NULL);
        bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PrivateKey(bio, odd[i], NULL, NULL, 0, NULL, NULL);
        n = BIO_get_mem_data(bio, &data);
        CHECK_EQ_INT(jwt_key_from_private_pem(data, (size_t)n, &bad, &e), -1);
        CHECK(bad == NULL);
        BIO_free(bio);
        EVP_PKEY_free(odd[i]);
    }
    CHECK_EQ_INT(jwt_key_from_private_pem("garbage", 7, &bad, &e), -1);
    CHECK_EQ_INT(jwt_key_from_private_pem(g_pub_pem, strlen(g_pub_pem), &bad, &e), -1);
}

static void test_keyset_jwks(void) {
    err_t e;
    jwt_keyset_t *ks = jwt_keyset_new();
    REQUIRE(ks != NULL);
    CHECK_EQ_INT(jwt_keyset_add(ks, g_key, &e), 0);
    CHECK_EQ_INT(jwt_keyset_add(ks, g_key, &e), -1);
    CHECK_STR(e.code, "conflict");
    CHECK_EQ_INT(jwt_keyset_add(ks, g_other, &e), 0);
    CHECK_EQ_INT(jwt_keyset_count(ks), 2);
    json_t *doc = jwt_keyset_jwks(ks, &e);
    REQUIRE(doc != NULL);
    json_t *keys = json_object_get(doc, "keys");
    CHECK_EQ_INT(json_array_size(keys), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(keys, 0), "kid")),
              jwt_key_kid(g_key));
    CHECK_STR(json_string_value(json_object_get(json_array_get(keys, 1), "kid")),
              jwt_key_kid(g_other));
    json_decref(doc);
    /* rotation: remove the old key; its tokens stop verifying */
    char *tok = sign_std(NOW + 60, NOW, NOW, STD_ISS_AUD);
    json_t *c = NULL;
    CHECK_EQ_INT(jwt_verify(ks, tok, strlen(tok), &g_opts, &c, &e), 0);
    json_decref(c);
    CHECK_EQ_INT(jwt_keyset_remove(ks, jwt_key_kid(g_key), &e), 0);
    CHECK_EQ_INT(jwt_keyset_remove(ks, jwt_key_kid(g_key), &e), -1);
    CHECK_EQ_INT(jwt_verify(ks, tok, strlen(tok), &g_opts, &c, &e), -1);
    CHECK_STR(e.code, "token_kid_unknown");
    CHECK_EQ_INT(jwt_keyset_count(ks), 1);
    free(tok);
    jwt_keyset_free(ks);
}

static void test_alg_none(void) {
    char h[256], c[512];
    claims_json(c, sizeof c, NOW + 60, NOW, NOW, STD_ISS_AUD);
    hdr(h, sizeof h, "none");
    char *t = forge(h, c, SIG_NONE); /* "h.p." with empty signature */
    REJECTS(t, "token_alg_invalid");
    free(t);
    hdr(h, sizeof h, "None");
    t = forge(h, c, SIG_NONE);
    REJECTS(t, "token_alg_invalid");
    free(t);
    /* alg none but carrying a valid RS256 signature: still refused on alg */
    hdr(h, sizeof h, "none");
    t = forge(h, c, SIG_KEY);
    REJECTS(t, "token_alg_invalid");
    free(t);
    /* no kid, alg none (the classic) */
    t = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", c, SIG_NONE);
    REJECTS(t, "token_alg_invalid");
    free(t);
}

static void test_hs256_with_public_key(void) {
    char h[256], c[512];
    claims_json(c, sizeof c, NOW + 60, NOW, NOW, STD_ISS_AUD);
    hdr(h, sizeof h, "HS256");
    char *t = forge(h, c, SIG_HS256_PUBPEM);
    REQUIRE(t != NULL);
    /* the forged token is well-formed: 3 segments, 32-byte MAC */
    CHECK(strlen(strrchr(t, '.') + 1) == 43);
    REJECTS(t, "token_alg_invalid");
    /* same MAC, header lying that it is RS256: signature check must fail, not crash */
    free(t);
    hdr(h, sizeof h, "@ALG");
    t = forge(h, c, SIG_HS256_PUBPEM);
    REJECTS(t, "token_signature_invalid");
    free(t);
}

static void test_other_algs(void) {
    char h[256], c[512];
    claims_json(c, sizeof c, NOW + 60, NOW, NOW, STD_ISS_AUD);
    /* every other algorithm name, also the two accepted ones that are not this key's */
    const char *algs[] = {"RS256", "EdDSA", "ES256",   "RS512", "RS384", "PS256",  "ES384",
                          "HS512", "HS256", "Ed25519", "eddsa", "rs256", "RS256 ", ""};
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++) {
        if (strcmp(algs[i], g_algname) == 0) continue;
        hdr(h, sizeof h, algs[i]);
        char *t = forge(h, c, SIG_KEY); /* valid signature of the key, lying header */
        REJECTS(t, "token_alg_invalid");
        free(t);
    }
    char *t;
    if (g_alg == JWT_ALG_RS256) { /* RS512 signature with RS512 header */
        hdr(h, sizeof h, "RS512");
        t = forge(h, c, SIG_RS512);
        REJECTS(t, "token_alg_invalid");
        free(t);
    }
    /* missing alg, non-string alg */
    char h2[256];
    snprintf(h2, sizeof h2, "{\"typ\":\"JWT\",\"kid\":\"%s\"}", jwt_key_kid(g_key));
    t = forge(h2, c, SIG_KEY);
    REJECTS(t, "token_alg_invalid");
    free(t);
    snprintf(h2, sizeof h2, "{\"alg\":[\"RS256\"],\"kid\":\"%s\"}", jwt_key_kid(g_key));
    t = forge(h2, c, SIG_KEY);
    REJECTS(t, "token_alg_invalid");
    free(t);
    /* the right header with a signature of another kind: signature invalid */
    hdr(h, sizeof h, "@ALG");
    if (g_alg == JWT_ALG_RS256) { /* RS512 signature */
        t = forge(h, c, SIG_RS512);
        REJECTS(t, "token_signature_invalid");
        free(t);
    }
    if (g_alg == JWT_ALG_ES256) { /* DER instead of R || S (a common interop bug) */
        t = forge(h, c, SIG_ES256_DER);
        REJECTS(t, "token_signature_invalid");
        free(t);
    }
    for (int a = 0; a < 3; a++) { /* a signature made by another algorithm's key */
        if (a == (int)g_alg) continue;
        t = forge_with(h, c, SIG_KEY, g_cross_pk[a]);
        REJECTS(t, "token_signature_invalid");
        free(t);
    }
}

/* Alg confusion across the accepted algorithms: the key set holds a key of each; a token signed
 * by another algorithm's key, honestly labelled with that algorithm but carrying this key's kid,
 * or labelled with this algorithm and that key's kid, is refused; so is `none` with each kid and
 * an HS256 MAC keyed with each public key. The control: each key's own token verifies. */
static void test_cross_alg(void) {
    char h[256], c[512];
    claims_json(c, sizeof c, NOW + 60, NOW, NOW, STD_ISS_AUD);
    for (int a = 0; a < 3; a++) {
        const char *other = jwt_alg_name((jwt_alg_t)a), *okid = jwt_key_kid(g_cross[a]);
        if (a == (int)g_alg) continue;
        /* other alg's signature and name, this key's kid: the kid's key is not of that alg */
        snprintf(h, sizeof h, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", other,
                 jwt_key_kid(g_key));
        char *t = forge_with(h, c, SIG_KEY, g_cross_pk[a]);
        REJECTS(t, "token_alg_invalid");
        free(t);
        /* this alg's name and signature, the other key's kid */
        snprintf(h, sizeof h, "{\"alg\":\"@ALG\",\"typ\":\"JWT\",\"kid\":\"%s\"}", okid);
        t = forge(h, c, SIG_KEY);
        REJECTS(t, "token_alg_invalid");
        free(t);
        /* control: the other key's honest token verifies in the same key set */
        snprintf(h, sizeof h, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", other, okid);
        t = forge_with(h, c, SIG_KEY, g_cross_pk[a]);
        CHECK(accepts(t, &g_opts));
        free(t);
    }
    /* none and HS256 (MAC keyed with this key's public PEM) with this key's kid */
    hdr(h, sizeof h, "none");
    char *t = forge(h, c, SIG_NONE);
    REJECTS(t, "token_alg_invalid");
    free(t);
    hdr(h, sizeof h, "HS256");
    t = forge(h, c, SIG_HS256_PUBPEM);
    REJECTS(t, "token_alg_invalid");
    free(t);
    /* control: this key's own token */
    hdr(h, sizeof h, "@ALG");
    t = forge(h, c, SIG_KEY);
    CHECK(accepts(t, &g_opts));
    free(t);
}

static void test_kid(void) {
    char h[512], c[512];
    claims_json(c, sizeof c, NOW + 60, NOW, NOW, STD_ISS_AUD);
    /* missing, empty, non-string kid */
    char *t = forge("{\"alg\":\"@ALG\",\"typ\":\"JWT\"}", c, SIG_KEY);
    REJECTS(t, "token_kid_missing");
    free(t);
    t = forge("{\"alg\":\"@ALG\",\"kid\":\"\"}", c, SIG_KEY);
    REJECTS(t, "token_kid_missing");
    free(t);
    t = forge("{\"alg\":\"@ALG\",\"kid\":7}", c, SIG_KEY);
    REJECTS(t, "token_kid_missing");
    free(t);
    /* unknown kid: a token signed by a key outside the key set */
    snprintf(h, sizeof h, "{\"alg\":\"@ALG\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             jwt_key_kid(g_other));
    t = forge_with(h, c, SIG_KEY, g_other_pk);
    REJECTS(t, "token_kid_unknown");
    free(t);
    /* the attacker's key embedded in the header is ignored */
    err_t e;
    json_t *jwk = jwt_key_public_jwk(g_other, &e);
    char *jwks = json_dumps(jwk, JSON_COMPACT);
    char big[2048];
    snprintf(big, sizeof big, "{\"alg\":\"@ALG\",\"kid\":\"%s\",\"jwk\":%s}", jwt_key_kid(g_other),
             jwks);
    t = forge_with(big, c, SIG_KEY, g_other_pk);
    REJECTS(t, "token_kid_unknown");
    free(t);
    /* known kid, but signed by another key */
    hdr(h, sizeof h, "@ALG");
    t = forge_with(h, c, SIG_KEY, g_other_pk);
    REJECTS(t, "token_signature_invalid");
    free(t);
    free(jwks);
    json_decref(jwk);
}

static void test_expired(void) {
    char *t = sign_std(NOW - 1, NOW - 900, NOW - 900, STD_ISS_AUD);
    /* without leeway it is expired; with 30 s it is still fine */
    jwt_verify_opts_t o = g_opts;
    o.leeway = 0;
    CHECK(rejects_with(t, strlen(t), &o, "token_expired"));
    CHECK(accepts(t, &g_opts));
    free(t);
    t = sign_std(NOW - 30, NOW - 900, NOW - 900, STD_ISS_AUD); /* now == exp + leeway */
    REJECTS(t, "token_expired");
    free(t);
    t = sign_std(NOW - 3600, NOW - 4500, NOW - 4500, STD_ISS_AUD);
    REJECTS(t, "token_expired");
    free(t);
    t = sign_std(NOW, NOW - 900, NOW - 900, STD_ISS_AUD); /* exp == now, no leeway */
    CHECK(rejects_with(t, strlen(t), &o, "token_expired"));
    free(t);
    /* exp missing or not an integer */
    char h[256];
    hdr(h, sizeof h, "@ALG");
    t = forge(h, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}", SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
    t = forge(h, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"9999999999\"}", SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
    t = forge(h, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1e12}", SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
}

static void test_not_yet_valid(void) {
    char *t = sign_std(NOW + 900, NOW + 31, NOW, STD_ISS_AUD); /* nbf beyond leeway */
    REJECTS(t, "token_not_yet_valid");
    free(t);
    t = sign_std(NOW + 900, NOW + 30, NOW, STD_ISS_AUD); /* nbf within leeway */
    CHECK(accepts(t, &g_opts));
    free(t);
    t = sign_std(NOW + 900, NOW, NOW + 120, STD_ISS_AUD); /* iat in the future */
    REJECTS(t, "token_not_yet_valid");
    free(t);
    t = sign_std(NOW + 900, NOW, NOW + 30, STD_ISS_AUD); /* iat within leeway */
    CHECK(accepts(t, &g_opts));
    free(t);
}

static void test_audience(void) {
    char *t = sign_std(NOW + 60, NOW, NOW, "\"iss\":\"" ISS "\",\"aud\":\"other-api\"");
    REJECTS(t, "token_audience_invalid");
    free(t);
    t = sign_std(NOW + 60, NOW, NOW, "\"iss\":\"" ISS "\"");
    REJECTS(t, "token_audience_invalid");
    free(t);
    t = sign_std(NOW + 60, NOW, NOW, "\"iss\":\"" ISS "\",\"aud\":[\"a\",\"b\"]");
    REJECTS(t, "token_audience_invalid");
    free(t);
    t = sign_std(NOW + 60, NOW, NOW, "\"iss\":\"" ISS "\",\"aud\":[]");
    REJECTS(t, "token_audience_invalid");
    free(t);
    t = sign_std(NOW + 60, NOW, NOW, "\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\",5]");
    REJECTS(t, "token_audience_invalid");
    free(t);
    t = sign_std(NOW + 60, NOW, NOW, "\"iss\":\"" ISS "\",\"aud\":\"RECIPROCAL-API\"");
    REJECTS(t, "token_audience_invalid");
    free(t);
    t = sign_std(NOW + 60, NOW, NOW, "\"iss\":\"" ISS "\",\"aud\":[\"x\",\"" AUD "\"]");
    CHECK(accepts(t, &g_opts));
    free(t);
}

static void test_issuer(void) {
    char *t = sign_std(NOW + 60, NOW, NOW, "\"iss\":\"https://evil.test\",\"aud\":\"" AUD "\"");
    REJECTS(t, "token_issuer_invalid");
    free(t);
    t = sign_std(NOW + 60, NOW, NOW, "\"aud\":\"" AUD "\"");
    REJECTS(t, "token_issuer_invalid");
    free(t);
    t = sign_std(NOW + 60, NOW, NOW, "\"iss\":[\"" ISS "\"],\"aud\":\"" AUD "\"");
    REJECTS(t, "token_issuer_invalid");
    free(t);
    t = sign_std(NOW + 60, NOW, NOW, "\"iss\":\"" ISS "/\",\"aud\":\"" AUD "\"");
    REJECTS(t, "token_issuer_invalid");
    free(t);
}

static void test_tampered(void) {
    err_t e;
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:[s]}", "iss", ISS, "aud", AUD, "sub",
                               "user-1", "exp", (json_int_t)(NOW + 60), "roles", "member");
    char *tok = jwt_sign(g_key, claims, &e);
    json_decref(claims);
    REQUIRE(tok != NULL);
    CHECK(accepts(tok, &g_opts));
    char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');

    /* payload replaced by an escalated one, original signature kept */
    const char *evil = "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
                       "\",\"sub\":\"user-1\",\"exp\":1760000060,\"roles\":[\"network_admin\"]}";
    char *p = b64(evil, strlen(evil));
    size_t n = strlen(tok) + strlen(p) + 1;
    char *t = malloc(n);
    snprintf(t, n, "%.*s.%s%s", (int)(d1 - tok), tok, p, d2);
    REJECTS(t, "token_signature_invalid");
    free(t);
    free(p);

    /* one payload character changed */
    t = strdup(tok);
    t[d1 - tok + 5] = t[d1 - tok + 5] == 'A' ? 'B' : 'A';
    CHECK(rejects_with(t, strlen(t), &g_opts, "token_signature_invalid") ||
          rejects_with(t, strlen(t), &g_opts, "token_malformed"));
    free(t);

    /* one signature character changed (middle, so no unused-bit issue) */
    t = strdup(tok);
    size_t mid = (size_t)(d2 - tok) + strlen(d2) / 2;
    t[mid] = t[mid] == 'A' ? 'B' : 'A';
    REJECTS(t, "token_signature_invalid");
    free(t);

    /* header changed (typ at+jwt is an accepted typ, so only the signature catches it) */
    char h[256];
    snprintf(h, sizeof h, "{\"alg\":\"@ALG\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
             jwt_key_kid(g_key));
    char *hs = alg_subst(h), *h64 = b64(hs, strlen(hs));
    free(hs);
    n = strlen(tok) + strlen(h64) + 1;
    t = malloc(n);
    snprintf(t, n, "%s%s", h64, d1);
    REJECTS(t, "token_signature_invalid");
    free(t);
    free(h64);

    /* truncated signature, empty signature, signature of another token */
    t = strdup(tok);
    t[strlen(t) - 4] = '\0';
    REJECTS(t, "token_signature_invalid");
    free(t);
    t = strndup(tok, (size_t)(d2 - tok) + 1);
    REJECTS(t, "token_signature_invalid");
    free(t);
    char *other = sign_std(NOW + 61, NOW, NOW, STD_ISS_AUD);
    n = strlen(tok) + strlen(other) + 1;
    t = malloc(n);
    snprintf(t, n, "%.*s%s", (int)(d2 - tok), tok, strrchr(other, '.'));
    REJECTS(t, "token_signature_invalid");
    free(t);
    free(other);
    free(tok);
}

static void test_bad_base64url(void) {
    char *tok = sign_std(NOW + 60, NOW, NOW, STD_ISS_AUD);
    REQUIRE(tok != NULL);
    char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    size_t n = strlen(tok) + 8;
    char *t = malloc(n);
    /* padding on the signature (256 bytes -> 342 chars + "==") */
    snprintf(t, n, "%s==", tok);
    REJECTS(t, "token_signature_invalid");
    /* standard-alphabet characters in the header */
    snprintf(t, n, "%s", tok);
    t[3] = '+';
    REJECTS(t, "token_malformed");
    snprintf(t, n, "%s", tok);
    t[3] = '/';
    REJECTS(t, "token_malformed");
    /* space and impossible length (4k+1) in the header */
    snprintf(t, n, "%s", tok);
    t[2] = ' ';
    REJECTS(t, "token_malformed");
    snprintf(t, n, "%.*sA%s", (int)(d1 - tok), tok, d1);
    REJECTS(t, "token_malformed");
    /* '+' in the payload: signature covers the raw text, so it fails there first */
    snprintf(t, n, "%s", tok);
    t[d1 - tok + 3] = '+';
    REJECTS(t, "token_signature_invalid");
    /* non-alphabet character in the signature */
    snprintf(t, n, "%s", tok);
    t[d2 - tok + 10] = '*';
    REJECTS(t, "token_signature_invalid");
    free(t);
    /* payload that is valid base64url of non-JSON, correctly signed */
    char h[256];
    hdr(h, sizeof h, "@ALG");
    t = forge(h, "not json", SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
    t = forge(h, "[1,2,3]", SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
    t = forge(h, "{\"iss\":\"\xff\xfe\",\"exp\":1}", SIG_KEY); /* invalid UTF-8 */
    REJECTS(t, "token_malformed");
    free(t);
    t = forge("not json", "{}", SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
    free(tok);
}

static void test_duplicate_keys(void) {
    char h[256], c[512];
    claims_json(c, sizeof c, NOW + 60, NOW, NOW, STD_ISS_AUD);
    /* header: a parser keeping the last value would see RS256 */
    snprintf(h, sizeof h, "{\"alg\":\"none\",\"alg\":\"@ALG\",\"kid\":\"%s\"}", jwt_key_kid(g_key));
    char *t = forge(h, c, SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
    snprintf(h, sizeof h, "{\"alg\":\"@ALG\",\"kid\":\"x\",\"kid\":\"%s\"}", jwt_key_kid(g_key));
    t = forge(h, c, SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
    /* payload, correctly signed: aud twice */
    hdr(h, sizeof h, "@ALG");
    t = forge(h, "{\"iss\":\"" ISS "\",\"aud\":\"other\",\"aud\":\"" AUD "\",\"exp\":1760000060}",
              SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
    t = forge(h, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1,\"exp\":1760000060}", SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
    /* control: the same payload without the duplicate passes */
    t = forge(h, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1760000060}", SIG_KEY);
    CHECK(accepts(t, &g_opts));
    free(t);
}

static void test_oversized(void) {
    char h[256];
    hdr(h, sizeof h, "@ALG");
    /* a correctly signed token just over 8 KiB */
    size_t pad = 6200;
    char *c = malloc(pad + 256);
    int n = snprintf(c, pad + 256, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"x\":\"",
                     (long long)(NOW + 60));
    memset(c + n, 'a', pad);
    strcpy(c + n + pad, "\"}");
    char *t = forge(h, c, SIG_KEY);
    CHECK(strlen(t) > JWT_MAX_TOKEN_LEN);
    REJECTS(t, "token_too_large");
    free(t);
    /* the same shape at ~7 KiB is fine */
    c[n + 4800] = '\0';
    strcat(c, "\"}");
    t = forge(h, c, SIG_KEY);
    CHECK(strlen(t) <= JWT_MAX_TOKEN_LEN);
    CHECK(accepts(t, &g_opts));
    free(t);
    free(c);
    /* 1 MiB of garbage is refused before anything else */
    size_t big = 1 << 20;
    char *g = malloc(big + 1);
    memset(g, 'A', big);
    g[big] = '\0';
    g[10] = '.';
    g[20] = '.';
    CHECK(rejects_with(g, big, &g_opts, "token_too_large"));
    free(g);
    /* jwt_sign refuses claims that would not verify */
    err_t e;
    char *huge = malloc(9000);
    memset(huge, 'b', 8999);
    huge[8999] = '\0';
    json_t *claims = json_pack("{s:s, s:s, s:I, s:s}", "iss", ISS, "aud", AUD, "exp",
                               (json_int_t)(NOW + 60), "x", huge);
    CHECK(jwt_sign(g_key, claims, &e) == NULL);
    CHECK_STR(e.code, "invalid_field");
    json_decref(claims);
    free(huge);
}

static void test_segments(void) {
    char *tok = sign_std(NOW + 60, NOW, NOW, STD_ISS_AUD);
    REQUIRE(tok != NULL);
    char *d2 = strrchr(tok, '.');
    size_t n = strlen(tok) + 64;
    char *t = malloc(n);
    snprintf(t, n, "%.*s", (int)(d2 - tok), tok); /* two segments */
    REJECTS(t, "token_malformed");
    snprintf(t, n, "%s.", tok); /* four segments, last empty */
    REJECTS(t, "token_malformed");
    snprintf(t, n, "%s.AAAA.AAAA", tok); /* five: JWE shape */
    REJECTS(t, "token_malformed");
    snprintf(t, n, "%s", "..");
    REJECTS(t, "token_malformed");
    REJECTS("", "token_malformed");
    REJECTS("abc", "token_malformed");
    /* an embedded NUL: length says more than strlen */
    snprintf(t, n, "%s", tok);
    t[5] = '\0';
    CHECK(rejects_with(t, strlen(tok), &g_opts, "token_malformed"));
    /* Bearer prefix and surrounding whitespace are the caller's job */
    snprintf(t, n, " %s", tok);
    REJECTS(t, "token_malformed");
    free(t);
    free(tok);
}

static void test_header_checks(void) {
    char h[256], c[512];
    claims_json(c, sizeof c, NOW + 60, NOW, NOW, STD_ISS_AUD);
    snprintf(h, sizeof h, "{\"alg\":\"@ALG\",\"kid\":\"%s\",\"crit\":[\"exp\"]}",
             jwt_key_kid(g_key));
    char *t = forge(h, c, SIG_KEY);
    REJECTS(t, "token_crit_unsupported");
    free(t);
    snprintf(h, sizeof h, "{\"alg\":\"@ALG\",\"typ\":\"JWE\",\"kid\":\"%s\"}", jwt_key_kid(g_key));
    t = forge(h, c, SIG_KEY);
    REJECTS(t, "token_malformed");
    free(t);
    snprintf(h, sizeof h, "{\"alg\":\"@ALG\",\"kid\":\"%s\"}", jwt_key_kid(g_key)); /* no typ */
    t = forge(h, c, SIG_KEY);
    CHECK(accepts(t, &g_opts));
    free(t);
}

static void test_misconfigured_verifier(void) {
    char *t = sign_std(NOW + 60, NOW, NOW, STD_ISS_AUD);
    jwt_verify_opts_t o = g_opts;
    o.issuer = NULL;
    CHECK(rejects_with(t, strlen(t), &o, "internal"));
    o = g_opts;
    o.audience = "";
    CHECK(rejects_with(t, strlen(t), &o, "internal"));
    o = g_opts;
    o.leeway = -1;
    CHECK(rejects_with(t, strlen(t), &o, "internal"));
    o.leeway = JWT_MAX_LEEWAY + 1;
    CHECK(rejects_with(t, strlen(t), &o, "internal"));
    free(t);
}

/* A token signed with the real key but valid for (almost) ever: refused once the verifier has a
 * maximum lifetime (the gateway sets the access-token TTL), and always without iat. */
static void test_lifetime(void) {
    jwt_verify_opts_t o = g_opts;
    o.max_lifetime = 900;
    char *t = sign_std(INT64_MAX, NOW - 10, NOW - 10, STD_ISS_AUD); /* exp = 2^63-1 */
    CHECK(accepts(t, &g_opts)); /* what the gateway accepted before the bound */
    CHECK(rejects_with(t, strlen(t), &o, "token_lifetime_invalid"));
    free(t);
    t = sign_std(NOW + 891, NOW - 10, NOW - 10, STD_ISS_AUD); /* 901 s */
    CHECK(rejects_with(t, strlen(t), &o, "token_lifetime_invalid"));
    free(t);
    t = sign_std(NOW + 890, NOW - 10, NOW - 10, STD_ISS_AUD); /* exactly 900 s */
    CHECK(accepts(t, &o));
    free(t);
    t = sign_std(NOW + 100, NOW - 10, INT64_MIN + 5, STD_ISS_AUD); /* iat far in the past */
    CHECK(rejects_with(t, strlen(t), &o, "token_lifetime_invalid"));
    free(t);
    char h[256], c[512];
    hdr(h, sizeof h, "@ALG");
    snprintf(c, sizeof c, "{" STD_ISS_AUD ",\"sub\":\"u\",\"exp\":%lld}", (long long)(NOW + 60));
    t = forge(h, c, SIG_KEY); /* no iat: the lifetime cannot be checked */
    CHECK(accepts(t, &g_opts));
    CHECK(rejects_with(t, strlen(t), &o, "token_lifetime_invalid"));
    free(t);
}

/* The keys of one algorithm's round: g_key (in the key set, which also holds one key of each
 * other algorithm) and g_other (same algorithm, outside the key set). */
static int setup(jwt_alg_t alg) {
    err_t e;
    g_alg = alg;
    g_algname = jwt_alg_name(alg);
    g_key = g_cross[alg];
    g_priv = g_cross_pk[alg];
    if (jwt_key_generate_alg(alg, &g_other, &e) != 0) return -1;
    g_other_pk = load_priv(g_other);
    g_pub_pem = jwt_key_public_pem(g_key, &e);
    g_ks = jwt_keyset_new();
    if (!g_other_pk || !g_pub_pem || !g_ks) return -1;
    for (int a = 0; a < 3; a++)
        if (jwt_keyset_add(g_ks, g_cross[a], &e) != 0) return -1;
    return 0;
}

static void teardown(void) {
    jwt_keyset_free(g_ks);
    free(g_pub_pem);
    EVP_PKEY_free(g_other_pk);
    jwt_key_free(g_other);
}

int main(void) {
    err_t e;
    for (int a = 0; a < 3; a++) {
        if (jwt_key_generate_alg((jwt_alg_t)a, &g_cross[a], &e) != 0 ||
            !(g_cross_pk[a] = load_priv(g_cross[a])) || jwt_key_alg(g_cross[a]) != (jwt_alg_t)a) {
            printf("# key generation failed: %s\n", e.message);
            return 1;
        }
    }
    for (int a = 0; a < 3; a++) {
        if (setup((jwt_alg_t)a) != 0) {
            printf("# setup failed\n");
            return 1;
        }
        printf("# algorithm %s\n", g_algname);
        RUN(test_round_trip);
        RUN(test_key_export_import);
        RUN(test_keyset_jwks);
        RUN(test_alg_none);
        RUN(test_hs256_with_public_key);
        RUN(test_other_algs);
        RUN(test_cross_alg);
        RUN(test_kid);
        RUN(test_expired);
        RUN(test_not_yet_valid);
        RUN(test_lifetime);
        RUN(test_audience);
        RUN(test_issuer);
        RUN(test_tampered);
        RUN(test_bad_base64url);
        RUN(test_duplicate_keys);
        RUN(test_oversized);
        RUN(test_segments);
        RUN(test_header_checks);
        RUN(test_misconfigured_verifier);
        teardown();
    }
    for (int a = 0; a < 3; a++) {
        EVP_PKEY_free(g_cross_pk[a]);
        jwt_key_free(g_cross[a]);
    }
    OPENSSL_cleanup();
    TEST_DONE();
}
