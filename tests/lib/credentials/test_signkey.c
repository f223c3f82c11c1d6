/* test_signkey: key pairs and kids, sealing under a KEK (round trip; wrong KEK, wrong owner and
 * altered ciphertext refused), public keys as JSON and JWK read back into a key set, and the
 * compact token split (prefix, dots, canonical base64url, signature length, size limit). */
#include "lib/credentials/signkey.h"

#include <sodium.h>

#include "core/json.h"
#include "test.h"

static void test_generate_and_kid(void) {
    signkey_t a, b;
    REQUIRE(signkey_generate(&a) == 0 && signkey_generate(&b) == 0);
    CHECK_EQ_INT(strlen(a.kid), 16);
    CHECK(strcmp(a.kid, b.kid) != 0);
    char kid[SIGNKEY_KID_MAX];
    signkey_kid(a.pk, kid);
    CHECK_STR(kid, a.kid);
    /* the public half is the secret key's second half (libsodium layout) */
    CHECK(memcmp(a.sk + 32, a.pk, 32) == 0);
    signkey_wipe(&a);
    CHECK(sodium_is_zero(a.sk, sizeof a.sk));
    signkey_wipe(&b);
}

static void test_seal_unseal(void) {
    signkey_t k;
    signkey_sealed_t s;
    unsigned char kek[32], other[32], sk[SIGNKEY_SK_BYTES];
    randombytes_buf(kek, sizeof kek);
    randombytes_buf(other, sizeof other);
    REQUIRE(signkey_generate(&k) == 0);
    REQUIRE(signkey_seal(k.sk, kek, "club-a", &s) == 0);
    CHECK(memcmp(s.enc, k.sk, SIGNKEY_SK_BYTES) != 0);
    CHECK_EQ_INT(signkey_unseal(s.enc, sizeof s.enc, s.nonce, sizeof s.nonce, kek, "club-a", sk),
                 0);
    CHECK(memcmp(sk, k.sk, sizeof sk) == 0);
    /* another KEK, another owner, an altered byte, wrong lengths: refused and sk wiped */
    CHECK_EQ_INT(signkey_unseal(s.enc, sizeof s.enc, s.nonce, sizeof s.nonce, other, "club-a", sk),
                 -1);
    CHECK(sodium_is_zero(sk, sizeof sk));
    CHECK_EQ_INT(signkey_unseal(s.enc, sizeof s.enc, s.nonce, sizeof s.nonce, kek, "club-b", sk),
                 -1);
    s.enc[5] ^= 1;
    CHECK_EQ_INT(signkey_unseal(s.enc, sizeof s.enc, s.nonce, sizeof s.nonce, kek, "club-a", sk),
                 -1);
    s.enc[5] ^= 1;
    CHECK_EQ_INT(
        signkey_unseal(s.enc, sizeof s.enc - 1, s.nonce, sizeof s.nonce, kek, "club-a", sk), -1);
    CHECK_EQ_INT(
        signkey_unseal(s.enc, sizeof s.enc, s.nonce, sizeof s.nonce - 1, kek, "club-a", sk), -1);
    /* a second seal of the same key uses a fresh nonce */
    signkey_sealed_t s2;
    REQUIRE(signkey_seal(k.sk, kek, "club-a", &s2) == 0);
    CHECK(memcmp(s.nonce, s2.nonce, sizeof s.nonce) != 0);
    signkey_wipe(&k);
}

/* The stored forms (hex) cards and letters of introduction share. */
static void test_hex_forms(void) {
    signkey_t k;
    signkey_sealed_t s;
    unsigned char kek[32], sk[SIGNKEY_SK_BYTES], back[SIGNKEY_PK_BYTES];
    char pk_hex[2 * SIGNKEY_PK_BYTES + 3], enc_hex[2 * sizeof s.enc + 3],
        nonce_hex[2 * sizeof s.nonce + 3];
    randombytes_buf(kek, sizeof kek);
    REQUIRE(signkey_generate(&k) == 0);
    REQUIRE(signkey_seal(k.sk, kek, "club-a", &s) == 0);
    signkey_hex(k.pk, sizeof k.pk, pk_hex);
    signkey_hex(s.enc, sizeof s.enc, enc_hex);
    signkey_hex(s.nonce, sizeof s.nonce, nonce_hex);
    CHECK(pk_hex[0] == '\\' && pk_hex[1] == 'x' && strlen(pk_hex) == 2 * SIGNKEY_PK_BYTES + 2);
    size_t n = 0;
    CHECK_EQ_INT(signkey_unhex(pk_hex + 2, back, sizeof back, &n), 0);
    CHECK(n == sizeof back && memcmp(back, k.pk, n) == 0);
    CHECK_EQ_INT(signkey_unhex("zz", back, sizeof back, &n), -1);
    CHECK_EQ_INT(signkey_unseal_hex(enc_hex + 2, nonce_hex + 2, kek, "club-a", sk), 0);
    CHECK(memcmp(sk, k.sk, sizeof sk) == 0);
    CHECK_EQ_INT(signkey_unseal_hex(enc_hex + 2, nonce_hex + 2, kek, "club-b", sk), -1);
    CHECK(sodium_is_zero(sk, sizeof sk));
    CHECK_EQ_INT(signkey_unseal_hex("nothex", nonce_hex + 2, kek, "club-a", sk), -1);
    json_t *pub = signkey_published_json(k.kid, pk_hex + 2, "2026-01-01T00:00:00Z", NULL);
    REQUIRE(pub);
    CHECK_STR(json_string_value(json_object_get(pub, "kid")), k.kid);
    CHECK_STR(json_string_value(json_object_get(pub, "created_at")), "2026-01-01T00:00:00Z");
    CHECK(json_is_null(json_object_get(pub, "retired_at")));
    json_decref(pub);
    pub = signkey_published_json(k.kid, pk_hex + 2, "a", "b");
    CHECK_STR(json_string_value(json_object_get(pub, "retired_at")), "b");
    json_decref(pub);
    CHECK(signkey_published_json(k.kid, "abcd", "a", NULL) == NULL);
    signkey_wipe(&k);
}

static void test_public_json_and_set(void) {
    signkey_t a, b;
    REQUIRE(signkey_generate(&a) == 0 && signkey_generate(&b) == 0);
    json_t *pa = signkey_public_json(a.kid, a.pk), *jb = signkey_jwk(b.kid, b.pk);
    REQUIRE(pa && jb);
    CHECK_STR(json_string_value(json_object_get(pa, "alg")), "Ed25519");
    CHECK_STR(json_string_value(json_object_get(jb, "kty")), "OKP");
    CHECK_STR(json_string_value(json_object_get(jb, "crv")), "Ed25519");
    json_t *doc = json_pack("{s:[o,o,{s:s,s:s}]}", "keys", pa, jb, "kid", "x", "public_key", "AA");
    signkey_pub_t *set = NULL;
    size_t n = 0;
    REQUIRE(signkey_set_from_json(doc, &set, &n) == 0);
    CHECK_EQ_INT(n, 2); /* the malformed third key is skipped */
    const signkey_pub_t *fa = signkey_set_find(set, n, a.kid),
                        *fb = signkey_set_find(set, n, b.kid);
    REQUIRE(fa && fb);
    CHECK(memcmp(fa->pk, a.pk, 32) == 0);
    CHECK(memcmp(fb->pk, b.pk, 32) == 0);
    CHECK(signkey_set_find(set, n, "nope") == NULL);
    CHECK(signkey_set_find(set, n, NULL) == NULL);
    free(set);
    /* a JWK of another curve is not a key */
    signkey_pub_t one;
    json_t *x = json_pack("{s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "X25519", "kid", "k", "x",
                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    CHECK_EQ_INT(signkey_pub_from_json(x, &one), -1);
    json_decref(x);
    CHECK_EQ_INT(signkey_set_from_json(json_object_get(doc, "nokeys"), &set, &n), -1);
    json_decref(doc);
    signkey_wipe(&a);
    signkey_wipe(&b);
}

static void test_token_sign_split(void) {
    signkey_t k;
    REQUIRE(signkey_generate(&k) == 0);
    const char *msg = "{\"a\":1}";
    char *t = signkey_token_sign("XX1.", (const unsigned char *)msg, strlen(msg), k.sk);
    REQUIRE(t != NULL);
    unsigned char *p = NULL, sig[64];
    size_t n = 0, sl = 0;
    REQUIRE(signkey_token_split(t, 1000, "XX1.", &p, &n, sig, &sl) == 0);
    CHECK_EQ_INT(n, strlen(msg));
    CHECK(memcmp(p, msg, n) == 0);
    free(p);
    CHECK_EQ_INT(signkey_verify((const unsigned char *)t, sl, sig, k.pk), 1);
    CHECK_EQ_INT(signkey_verify((const unsigned char *)t, sl - 1, sig, k.pk), 0);
    /* refused: other prefix, too long, a third part, a non-canonical base64url character */
    CHECK_EQ_INT(signkey_token_split(t, 1000, "YY1.", &p, &n, sig, &sl), -1);
    CHECK_EQ_INT(signkey_token_split(t, strlen(t) - 1, "XX1.", &p, &n, sig, &sl), -1);
    CHECK(p == NULL);
    size_t len = strlen(t);
    char *longer = malloc(len + 3);
    snprintf(longer, len + 3, "%s.A", t);
    CHECK_EQ_INT(signkey_token_split(longer, 1000, "XX1.", &p, &n, sig, &sl), -1);
    free(longer);
    char *bad = strdup(t);
    /* 64 bytes end in a character whose 4 low bits are unused: canonical ones are A, Q, g, w;
     * the next letter sets an unused bit */
    bad[len - 1] = (char)(bad[len - 1] + 1);
    CHECK_EQ_INT(signkey_token_split(bad, 1000, "XX1.", &p, &n, sig, &sl), -1);
    free(bad);
    CHECK_EQ_INT(signkey_token_split("XX1..AAAA", 1000, "XX1.", &p, &n, sig, &sl), -1);
    CHECK_EQ_INT(signkey_token_split(NULL, 1000, "XX1.", &p, &n, sig, &sl), -1);
    free(t);
    signkey_wipe(&k);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    RUN(test_generate_and_kid);
    RUN(test_seal_unseal);
    RUN(test_hex_forms);
    RUN(test_public_json_and_set);
    RUN(test_token_sign_split);
    TEST_DONE();
}
