/* test_loi: the letter-of-introduction token. Round trip (encode, decode, verify, JSON), every
 * bit of every byte of a token flipped (each fails), the validity window's boundaries, wrong
 * host, unknown kid and a key with the right kid but the wrong public key, size limits (the
 * largest letter fits one QR code; a longer token is malformed), field formats at encode, and
 * canonical payloads (a validly signed but non-canonical payload is malformed), and the
 * documented offline check tools/loi-verify.sh (openssl + jq) agreeing with loi_verify. */
#include "services/reciprocal/loi.h"

#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/json.h"
#include "test.h"

#define NBF 1780000000LL
#define EXP (NBF + 3 * 86400)

static const char *k_home = "11111111-1111-4111-8111-111111111111";
static const char *k_host = "22222222-2222-4222-8222-222222222222";
static const char *k_other = "33333333-3333-4333-8333-333333333333";

static void sample(loi_t *l) {
    memset(l, 0, sizeof *l);
    REQUIRE(loi_new_code(l->code) == 0);
    snprintf(l->visit, sizeof l->visit, "%s", "44444444-4444-4444-8444-444444444444");
    snprintf(l->home, sizeof l->home, "%s", k_home);
    snprintf(l->host, sizeof l->host, "%s", k_host);
    l->nbf = NBF;
    l->exp = EXP;
    l->iat = NBF - 86400;
    snprintf(l->fac[0], LOI_FAC_LEN, "dining");
    snprintf(l->fac[1], LOI_FAC_LEN, "golf");
    l->n_fac = 2;
    l->guests = 1;
    snprintf(l->name, sizeof l->name, "Ada Lovelace-Müller");
    snprintf(l->num, sizeof l->num, "A-0042");
    snprintf(l->cat, sizeof l->cat, "full");
    snprintf(l->valid_to, sizeof l->valid_to, "2027-12-31");
}

static signkey_t g_key;
static signkey_pub_t g_pub;

static char *issue(loi_t *l) {
    char *t = NULL;
    const char *f = NULL;
    if (loi_encode(l, &g_key, &t, &f) != 0) {
        printf("#   encode failed at %s\n", f ? f : "?");
        return NULL;
    }
    return t;
}

static void test_round_trip(void) {
    loi_t l, d;
    sample(&l);
    char *t = issue(&l);
    REQUIRE(t != NULL);
    CHECK(strncmp(t, "RL1.", 4) == 0);
    CHECK_EQ_INT(strlen(l.code), 22);
    CHECK_STR(l.kid, g_key.kid);
    CHECK_EQ_INT(loi_verify(t, &g_pub, 1, k_host, NBF + 10, &d), LOI_OK);
    CHECK(memcmp(&l, &d, sizeof l) == 0);
    CHECK_EQ_INT(loi_decode(t, &d), 0);
    CHECK(memcmp(&l, &d, sizeof l) == 0);
    CHECK_EQ_INT(loi_verify(t, &g_pub, 1, NULL, NBF + 10, NULL), LOI_OK);
    json_t *j = loi_to_json(&d);
    CHECK_STR(json_string_value(json_object_get(j, "valid_from")), "2026-05-28T20:26:40Z");
    CHECK_STR(json_string_value(json_object_get(j, "host_club_id")), k_host);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "member"), "name")),
              "Ada Lovelace-Müller");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "facilities")), 2);
    json_decref(j);
    /* no membership end date: null in the payload, "" in the struct */
    l.valid_to[0] = '\0';
    l.n_fac = 0;
    free(t);
    t = issue(&l);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(loi_verify(t, &g_pub, 1, k_host, NBF, &d), LOI_OK);
    CHECK_STR(d.valid_to, "");
    CHECK_EQ_INT(d.n_fac, 0);
    /* two letters never share a code */
    char c1[LOI_CODE_LEN + 1], c2[LOI_CODE_LEN + 1];
    CHECK(loi_new_code(c1) == 0 && loi_new_code(c2) == 0 && strcmp(c1, c2) != 0);
    free(t);
}

static void test_every_byte_flipped(void) {
    loi_t l;
    sample(&l);
    char *t = issue(&l);
    REQUIRE(t != NULL);
    size_t n = strlen(t);
    int accepted = 0, tried = 0;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            char saved = t[i];
            t[i] = (char)(t[i] ^ (1 << bit));
            if (t[i] != '\0') {
                tried++;
                if (loi_verify(t, &g_pub, 1, k_host, NBF + 10, NULL) == LOI_OK) {
                    accepted++;
                    printf("#   accepted with byte %zu bit %d flipped\n", i, bit);
                }
            }
            t[i] = saved;
        }
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK(tried > 7 * (int)n);
    /* truncated at every length: never valid */
    for (size_t i = 0; i < n; i++) {
        char saved = t[i];
        t[i] = '\0';
        if (loi_verify(t, &g_pub, 1, k_host, NBF + 10, NULL) == LOI_OK) accepted++;
        t[i] = saved;
    }
    CHECK_EQ_INT(accepted, 0);
    free(t);
}

static void test_window(void) {
    loi_t l;
    sample(&l);
    char *t = issue(&l);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(loi_verify(t, &g_pub, 1, k_host, NBF - 1, NULL), LOI_NOT_YET_VALID);
    CHECK_EQ_INT(loi_verify(t, &g_pub, 1, k_host, NBF, NULL), LOI_OK);
    CHECK_EQ_INT(loi_verify(t, &g_pub, 1, k_host, EXP - 1, NULL), LOI_OK);
    CHECK_EQ_INT(loi_verify(t, &g_pub, 1, k_host, EXP, NULL), LOI_EXPIRED);
    CHECK_EQ_INT(loi_verify(t, &g_pub, 1, k_host, EXP + 86400 * 365, NULL), LOI_EXPIRED);
    CHECK_STR(loi_reason_name(LOI_NOT_YET_VALID), "not_yet_valid");
    CHECK_STR(loi_reason_name(LOI_EXPIRED), "expired");
    free(t);
    /* an empty or reversed window cannot be issued */
    l.exp = l.nbf;
    const char *f = NULL;
    CHECK_EQ_INT(loi_encode(&l, &g_key, &t, &f), -1);
    CHECK_STR(f, "exp");
    CHECK(t == NULL);
}

static void test_wrong_host_and_keys(void) {
    loi_t l, d;
    sample(&l);
    char *t = issue(&l);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(loi_verify(t, &g_pub, 1, k_other, NBF + 10, &d), LOI_WRONG_HOST);
    CHECK_STR(d.host, k_host); /* the letter is still readable for the answer */
    CHECK_STR(loi_reason_name(LOI_WRONG_HOST), "wrong_host");
    /* unknown kid: an empty set, a set with another key */
    signkey_t other;
    REQUIRE(signkey_generate(&other) == 0);
    signkey_pub_t op;
    memcpy(op.pk, other.pk, 32);
    snprintf(op.kid, sizeof op.kid, "%s", other.kid);
    CHECK_EQ_INT(loi_verify(t, NULL, 0, k_host, NBF + 10, NULL), LOI_UNKNOWN_KEY);
    CHECK_EQ_INT(loi_verify(t, &op, 1, k_host, NBF + 10, NULL), LOI_UNKNOWN_KEY);
    CHECK_STR(loi_reason_name(LOI_UNKNOWN_KEY), "unknown_key");
    /* the right kid with another club's public key: bad signature */
    snprintf(op.kid, sizeof op.kid, "%s", g_key.kid);
    CHECK_EQ_INT(loi_verify(t, &op, 1, k_host, NBF + 10, NULL), LOI_BAD_SIGNATURE);
    /* a set of two (rotation): found by kid */
    signkey_pub_t two[2];
    memcpy(&two[0], &op, sizeof op);
    snprintf(two[0].kid, sizeof two[0].kid, "%s", other.kid);
    memcpy(&two[1], &g_pub, sizeof g_pub);
    CHECK_EQ_INT(loi_verify(t, two, 2, k_host, NBF + 10, NULL), LOI_OK);
    /* the same letter signed by the other key but claiming g_key's kid is refused */
    signkey_t forged = other;
    snprintf(forged.kid, sizeof forged.kid, "%s", g_key.kid);
    char *f = NULL;
    REQUIRE(loi_encode(&l, &forged, &f, NULL) == 0);
    CHECK_EQ_INT(loi_verify(f, &g_pub, 1, k_host, NBF + 10, NULL), LOI_BAD_SIGNATURE);
    free(f);
    signkey_wipe(&forged);
    signkey_wipe(&other);
    free(t);
}

static void test_sizes(void) {
    loi_t l;
    sample(&l);
    /* the largest letter (every field at its limit, characters JSON must escape) */
    memset(l.name, '"', LOI_NAME_LEN - 1);
    l.name[LOI_NAME_LEN - 1] = '\0';
    memset(l.num, '\\', LOI_SHORT_LEN - 1);
    l.num[LOI_SHORT_LEN - 1] = '\0';
    memset(l.cat, '"', LOI_SHORT_LEN - 1);
    l.cat[LOI_SHORT_LEN - 1] = '\0';
    for (int i = 0; i < LOI_FAC_MAX; i++) {
        memset(l.fac[i], 'a' + i, LOI_FAC_LEN - 1);
        l.fac[i][LOI_FAC_LEN - 1] = '\0';
    }
    l.n_fac = LOI_FAC_MAX;
    l.guests = LOI_GUESTS_MAX;
    char *t = issue(&l);
    REQUIRE(t != NULL);
    CHECK(strlen(t) <= LOI_TOKEN_MAX);
    printf("#   largest token: %zu chars\n", strlen(t));
    CHECK_EQ_INT(loi_verify(t, &g_pub, 1, k_host, NBF, NULL), LOI_OK);
    char *svg = loi_qr_svg(t);
    CHECK(svg && strncmp(svg, "<svg", 4) == 0);
    free(svg);
    free(t);
    /* over the limits: refused at encode, naming the field */
    const char *f = NULL;
    sample(&l);
    l.n_fac = LOI_FAC_MAX + 1;
    CHECK_EQ_INT(loi_encode(&l, &g_key, &t, &f), -1);
    CHECK_STR(f, "fac");
    sample(&l);
    l.guests = LOI_GUESTS_MAX + 1;
    CHECK_EQ_INT(loi_encode(&l, &g_key, &t, &f), -1);
    CHECK_STR(f, "guests");
    sample(&l);
    snprintf(l.fac[0], LOI_FAC_LEN, "Golf Course");
    CHECK_EQ_INT(loi_encode(&l, &g_key, &t, &f), -1);
    CHECK_STR(f, "fac");
    sample(&l);
    snprintf(l.name, sizeof l.name, "bad\nname");
    CHECK_EQ_INT(loi_encode(&l, &g_key, &t, &f), -1);
    CHECK_STR(f, "member.name");
    sample(&l);
    snprintf(l.host, sizeof l.host, "not-a-uuid");
    CHECK_EQ_INT(loi_encode(&l, &g_key, &t, &f), -1);
    CHECK_STR(f, "host");
    sample(&l);
    snprintf(l.valid_to, sizeof l.valid_to, "2027-13-01");
    CHECK_EQ_INT(loi_encode(&l, &g_key, &t, &f), -1);
    CHECK_STR(f, "member.valid_to");
    /* an oversize token is malformed before anything else is looked at */
    char *big = malloc(LOI_TOKEN_MAX + 2);
    memcpy(big, "RL1.", 4);
    memset(big + 4, 'A', LOI_TOKEN_MAX - 3);
    big[LOI_TOKEN_MAX + 1] = '\0';
    CHECK_EQ_INT(loi_verify(big, &g_pub, 1, k_host, NBF, NULL), LOI_MALFORMED);
    free(big);
    CHECK_EQ_INT(loi_verify("", &g_pub, 1, k_host, NBF, NULL), LOI_MALFORMED);
    CHECK_EQ_INT(loi_verify("MC1.e30.AA", &g_pub, 1, k_host, NBF, NULL), LOI_MALFORMED);
}

/* Signs an arbitrary payload with the real key: only the format checks can refuse it. */
static loi_reason_t signed_payload(const char *payload) {
    char *t =
        signkey_token_sign(LOI_PREFIX, (const unsigned char *)payload, strlen(payload), g_key.sk);
    loi_reason_t r = loi_verify(t, &g_pub, 1, k_host, NBF + 10, NULL);
    free(t);
    return r;
}

static void test_canonical_payload(void) {
    loi_t l;
    sample(&l);
    snprintf(l.name, sizeof l.name, "Ada");
    char *t = issue(&l);
    REQUIRE(t != NULL);
    unsigned char *raw = NULL, sig[64];
    size_t n = 0, sl = 0;
    REQUIRE(signkey_token_split(t, LOI_TOKEN_MAX, LOI_PREFIX, &raw, &n, sig, &sl) == 0);
    char *p = (char *)raw;
    CHECK_EQ_INT(signed_payload(p), LOI_OK); /* the canonical payload itself */
    json_t *j = json_loads(p, 0, NULL);
    REQUIRE(j != NULL);
    /* pretty-printed, keys sorted: same content, another encoding */
    char *pretty = json_dumps(j, JSON_INDENT(1));
    CHECK_EQ_INT(signed_payload(pretty), LOI_MALFORMED);
    free(pretty);
    char *sorted = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_INT(signed_payload(sorted), LOI_MALFORMED);
    free(sorted);
    /* an escaped character where the canonical form has none */
    char *esc = strdup(p), *at = strstr(esc, "\"Ada\"");
    REQUIRE(at != NULL);
    char buf[1200];
    snprintf(buf, sizeof buf, "%.*s\"\\u0041da\"%s", (int)(at - esc), esc, at + 5);
    CHECK_EQ_INT(signed_payload(buf), LOI_MALFORMED);
    free(esc);
    /* an extra key, a missing key, a duplicate key, another version, a real for an integer */
    json_t *c = json_deep_copy(j);
    json_object_set_new(c, "x", json_true());
    char *s = jsonx_dump(c);
    CHECK_EQ_INT(signed_payload(s), LOI_MALFORMED);
    free(s);
    json_decref(c);
    c = json_deep_copy(j);
    json_object_del(c, "guests");
    s = jsonx_dump(c);
    CHECK_EQ_INT(signed_payload(s), LOI_MALFORMED);
    free(s);
    json_decref(c);
    snprintf(buf, sizeof buf, "%.*s,\"v\":1}", (int)strlen(p) - 1, p);
    CHECK_EQ_INT(signed_payload(buf), LOI_MALFORMED);
    c = json_deep_copy(j);
    json_object_set_new(c, "v", json_integer(2));
    s = jsonx_dump(c);
    CHECK_EQ_INT(signed_payload(s), LOI_MALFORMED);
    free(s);
    json_decref(c);
    c = json_deep_copy(j);
    json_object_set_new(c, "exp", json_real((double)EXP));
    s = jsonx_dump(c);
    CHECK_EQ_INT(signed_payload(s), LOI_MALFORMED);
    free(s);
    json_decref(c);
    CHECK_EQ_INT(signed_payload("[]"), LOI_MALFORMED);
    CHECK_EQ_INT(signed_payload("not json"), LOI_MALFORMED);
    json_decref(j);
    free(raw);
    free(t);
}

/* Runs tools/loi-verify.sh (the documented offline check) and returns its first output line. */
static void run_script(const char *keys, const char *host, const char *token, long long now,
                       char *line, size_t cap) {
    const char *root = getenv("RECIPROCAL_TEST_ROOT");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "sh '%s/tools/loi-verify.sh' '%s' '%s' '%s' %lld 2>&1",
             root && *root ? root : ".", keys, host, token, now);
    line[0] = '\0';
    FILE *f = popen(cmd, "r");
    if (!f) return;
    if (fgets(line, (int)cap, f)) line[strcspn(line, "\n")] = '\0';
    char rest[4096];
    while (fgets(rest, sizeof rest, f))
        ;
    pclose(f);
}

static void test_offline_script(void) {
    if (system("command -v jq >/dev/null && command -v openssl >/dev/null") != 0) {
        printf("#   jq or openssl missing: tools/loi-verify.sh not exercised\n");
        return;
    }
    char keys[] = "/tmp/loi-keys-XXXXXX";
    int fd = mkstemp(keys);
    REQUIRE(fd >= 0);
    json_t *doc = json_pack("{s:[o]}", "keys", signkey_public_json(g_key.kid, g_key.pk));
    char *ks = jsonx_dump(doc);
    json_decref(doc);
    FILE *kf = fdopen(fd, "w");
    fputs(ks, kf);
    fclose(kf);
    free(ks);
    loi_t l;
    sample(&l);
    char *t = issue(&l), line[256];
    REQUIRE(t != NULL);
    run_script(keys, k_host, t, NBF + 10, line, sizeof line);
    CHECK_STR(line, "ok");
    run_script(keys, k_other, t, NBF + 10, line, sizeof line);
    CHECK_STR(line, "wrong_host");
    run_script(keys, k_host, t, NBF - 1, line, sizeof line);
    CHECK_STR(line, "not_yet_valid");
    run_script(keys, k_host, t, EXP, line, sizeof line);
    CHECK_STR(line, "expired");
    /* a flipped payload character and a flipped signature character */
    char saved = t[10];
    t[10] = saved == 'A' ? 'B' : 'A';
    run_script(keys, k_host, t, NBF + 10, line, sizeof line);
    CHECK(strcmp(line, "bad_signature") == 0 || strcmp(line, "malformed") == 0);
    t[10] = saved;
    size_t n = strlen(t);
    t[n - 5] = t[n - 5] == 'A' ? 'B' : 'A';
    run_script(keys, k_host, t, NBF + 10, line, sizeof line);
    CHECK_STR(line, "bad_signature");
    free(t);
    /* signed by a key the home club does not publish */
    signkey_t other;
    REQUIRE(signkey_generate(&other) == 0);
    REQUIRE(loi_encode(&l, &other, &t, NULL) == 0);
    run_script(keys, k_host, t, NBF + 10, line, sizeof line);
    CHECK_STR(line, "unknown_key");
    free(t);
    signkey_wipe(&other);
    unlink(keys);
}

int main(void) {
    if (sodium_init() < 0 || signkey_generate(&g_key) != 0) return 1;
    memcpy(g_pub.pk, g_key.pk, 32);
    snprintf(g_pub.kid, sizeof g_pub.kid, "%s", g_key.kid);
    RUN(test_round_trip);
    RUN(test_every_byte_flipped);
    RUN(test_window);
    RUN(test_wrong_host_and_keys);
    RUN(test_sizes);
    RUN(test_canonical_payload);
    RUN(test_offline_script);
    signkey_wipe(&g_key);
    TEST_DONE();
}
