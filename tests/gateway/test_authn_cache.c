/* test_authn_cache: the gateway's cache of verified access tokens (gateway/authn_cache): a hit
 * gives back exactly the stored identity; nothing answers before valid_from or from valid_until
 * on (expiry), nor under another key set generation; the table never holds more than its
 * capacity and a full set evicts the entry that expires first; a token differing in any one
 * byte (header, payload or signature), or checked against another issuer or audience, has
 * another key and never hits; concurrent use from several threads is safe. The revoked set:
 * sessions refused until expiry, clubs only for tokens issued up to the suspension, and a full
 * set fails safe (the floor). */
#include "gateway/authn_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "test.h"

#define TOKEN                                                                                      \
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImFiYyJ9.eyJzdWIiOiIwMDAwMDAwMC0wMDAwLTQwMDAtOD"  \
    "AwMC0wMDAwMDAwMDAwMDEiLCJwZXJtcyI6ImF1dGg6c2VsZiJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"

static authn_ident_t ident(const char *user, const char *perms) {
    authn_ident_t id;
    memset(&id, 0, sizeof id);
    snprintf(id.user_id, sizeof id.user_id, "%s", user);
    snprintf(id.club_id, sizeof id.club_id, "11111111-1111-4111-8111-111111111111");
    snprintf(id.perms, sizeof id.perms, "%s", perms);
    snprintf(id.session_id, sizeof id.session_id, "22222222-2222-4222-8222-222222222222");
    return id;
}

static void key_of(const char *tok, unsigned char key[AUTHN_CACHE_KEY_LEN]) {
    authn_cache_key("reciprocal", "reciprocal-api", tok, strlen(tok), key);
}

static void test_hit_returns_the_identity(void) {
    authn_cache_t *c = authn_cache_new(64);
    REQUIRE(c);
    unsigned char k[AUTHN_CACHE_KEY_LEN];
    key_of(TOKEN, k);
    authn_ident_t out, id = ident("00000000-0000-4000-8000-000000000001", "auth:self club:read");
    id.network_admin = 1;
    CHECK_EQ_INT(authn_cache_get(c, k, 1, 1000, &out), 0); /* empty */
    authn_cache_put(c, k, 1, 900, 2000, &id);
    memset(&out, 0, sizeof out);
    CHECK_EQ_INT(authn_cache_get(c, k, 1, 1000, &out), 1);
    CHECK_STR(out.user_id, id.user_id);
    CHECK_STR(out.club_id, id.club_id);
    CHECK_STR(out.perms, id.perms);
    CHECK_STR(out.session_id, id.session_id);
    CHECK_EQ_INT(out.network_admin, 1);
    /* a second put of the same token replaces, never duplicates */
    authn_cache_put(c, k, 1, 900, 2000, &id);
    CHECK_EQ_INT(authn_cache_count(c, 1, 1000), 1);
    authn_cache_clear(c);
    CHECK_EQ_INT(authn_cache_get(c, k, 1, 1000, &out), 0);
    authn_cache_free(c);
}

static void test_expiry_window(void) {
    authn_cache_t *c = authn_cache_new(16);
    REQUIRE(c);
    unsigned char k[AUTHN_CACHE_KEY_LEN];
    key_of(TOKEN, k);
    authn_ident_t out, id = ident("00000000-0000-4000-8000-000000000001", "auth:self");
    authn_cache_put(c, k, 7, 100, 200, &id);
    CHECK_EQ_INT(authn_cache_get(c, k, 7, 99, &out), 0); /* not yet valid */
    CHECK_EQ_INT(authn_cache_get(c, k, 7, 100, &out), 1);
    CHECK_EQ_INT(authn_cache_get(c, k, 7, 199, &out), 1);
    CHECK_EQ_INT(authn_cache_get(c, k, 7, 200, &out), 0); /* expired: exp + leeway reached */
    CHECK_EQ_INT(authn_cache_get(c, k, 7, 10000, &out), 0);
    CHECK_EQ_INT(authn_cache_count(c, 7, 200), 0);
    /* an empty window is not stored at all */
    unsigned char k2[AUTHN_CACHE_KEY_LEN];
    key_of(TOKEN "x", k2);
    authn_cache_put(c, k2, 7, 300, 300, &id);
    CHECK_EQ_INT(authn_cache_get(c, k2, 7, 300, &out), 0);
    authn_cache_free(c);
}

static void test_new_key_set_invalidates(void) {
    authn_cache_t *c = authn_cache_new(16);
    REQUIRE(c);
    unsigned char k[AUTHN_CACHE_KEY_LEN];
    key_of(TOKEN, k);
    authn_ident_t out, id = ident("00000000-0000-4000-8000-000000000001", "auth:self");
    authn_cache_put(c, k, 1, 0, 1000, &id);
    CHECK_EQ_INT(authn_cache_get(c, k, 1, 10, &out), 1);
    CHECK_EQ_INT(authn_cache_get(c, k, 2, 10, &out), 0); /* key set replaced since */
    CHECK_EQ_INT(authn_cache_count(c, 2, 10), 0);
    authn_cache_free(c);
}

static void test_tampered_token_never_hits(void) {
    authn_cache_t *c = authn_cache_new(64);
    REQUIRE(c);
    unsigned char k[AUTHN_CACHE_KEY_LEN], t[AUTHN_CACHE_KEY_LEN];
    key_of(TOKEN, k);
    authn_ident_t out, id = ident("00000000-0000-4000-8000-000000000001", "auth:self");
    authn_cache_put(c, k, 1, 0, 1000, &id);
    /* every single-byte change anywhere in the token (header, payload, signature, a dot) */
    char tok[sizeof TOKEN];
    size_t n = strlen(TOKEN);
    int hits = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(tok, TOKEN, sizeof TOKEN);
        tok[i] = tok[i] == 'A' ? 'B' : 'A';
        key_of(tok, t);
        hits += authn_cache_get(c, t, 1, 10, &out);
    }
    CHECK_EQ_INT(hits, 0);
    /* truncated, extended */
    memcpy(tok, TOKEN, sizeof TOKEN);
    authn_cache_key("reciprocal", "reciprocal-api", tok, n - 1, t);
    CHECK_EQ_INT(authn_cache_get(c, t, 1, 10, &out), 0);
    key_of(TOKEN ".", t);
    CHECK_EQ_INT(authn_cache_get(c, t, 1, 10, &out), 0);
    /* the same token checked against another issuer or audience */
    authn_cache_key("https://evil.example", "reciprocal-api", TOKEN, n, t);
    CHECK_EQ_INT(authn_cache_get(c, t, 1, 10, &out), 0);
    authn_cache_key("reciprocal", "someone-else", TOKEN, n, t);
    CHECK_EQ_INT(authn_cache_get(c, t, 1, 10, &out), 0);
    /* issuer/audience boundaries are length-prefixed: "ab"+"c" is not "a"+"bc" */
    unsigned char a[AUTHN_CACHE_KEY_LEN], b[AUTHN_CACHE_KEY_LEN];
    authn_cache_key("ab", "c", TOKEN, n, a);
    authn_cache_key("a", "bc", TOKEN, n, b);
    CHECK(memcmp(a, b, sizeof a) != 0);
    /* the original still hits */
    CHECK_EQ_INT(authn_cache_get(c, k, 1, 10, &out), 1);
    authn_cache_free(c);
}

static void test_bounded(void) {
    authn_cache_t *c = authn_cache_new(32);
    REQUIRE(c);
    authn_ident_t out, id = ident("00000000-0000-4000-8000-000000000001", "auth:self");
    unsigned char k[AUTHN_CACHE_KEY_LEN];
    char tok[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(tok, sizeof tok, "token-%d", i);
        key_of(tok, k);
        authn_cache_put(c, k, 1, 0, 10000 + i, &id);
        /* the entry just stored is always there */
        CHECK_EQ_INT(authn_cache_get(c, k, 1, 5, &out), 1);
    }
    size_t live = authn_cache_count(c, 1, 5);
    CHECK(live <= 32);
    CHECK(live >= 16); /* most slots are in use */
    /* a full set evicts the entry that expires first: token-999 (latest expiry) outlives the
     * older ones of its set, which expire before it */
    key_of("token-999", k);
    CHECK_EQ_INT(authn_cache_get(c, k, 1, 10500, &out), 1);
    CHECK_EQ_INT(authn_cache_count(c, 1, 10998), 1);
    authn_cache_free(c);
    /* capacity is rounded up to a power of two, at least one set */
    c = authn_cache_new(0);
    REQUIRE(c);
    for (int i = 0; i < 10; i++) {
        snprintf(tok, sizeof tok, "t%d", i);
        key_of(tok, k);
        authn_cache_put(c, k, 1, 0, 100, &id);
    }
    CHECK(authn_cache_count(c, 1, 1) <= 4);
    authn_cache_free(c);
}

typedef struct {
    authn_cache_t *c;
    int seed, bad;
} worker_t;

static void *worker(void *arg) {
    worker_t *w = arg;
    char tok[64], user[40];
    unsigned char k[AUTHN_CACHE_KEY_LEN];
    authn_ident_t out;
    for (int i = 0; i < 20000; i++) {
        int n = (i * 7 + w->seed) % 300;
        snprintf(tok, sizeof tok, "tok-%d", n);
        snprintf(user, sizeof user, "user-%d", n);
        key_of(tok, k);
        if (authn_cache_get(w->c, k, 1, 50, &out)) {
            if (strcmp(out.user_id, user) != 0) w->bad++; /* never another token's identity */
        } else {
            authn_ident_t id = ident(user, "auth:self");
            authn_cache_put(w->c, k, 1, 0, 100, &id);
        }
    }
    return NULL;
}

static void test_threads(void) {
    authn_cache_t *c = authn_cache_new(128);
    REQUIRE(c);
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.c = c, .seed = i * 13};
        REQUIRE(pthread_create(&th[i], NULL, worker, &w[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(w[i].bad, 0);
    }
    CHECK(authn_cache_count(c, 1, 50) <= 128);
    authn_cache_free(c);
}

/* ---- the revoked set ---- */

#define SID "22222222-2222-4222-8222-222222222222"
#define CLUB "11111111-1111-4111-8111-111111111111"

/* A revoked session refuses every token of it until the entry expires; a suspended club only
 * the tokens issued at or before the suspension; other sessions and clubs are untouched. */
static void test_revoked_session_and_club(void) {
    authn_revset_t *r = authn_revset_new(64);
    REQUIRE(r);
    CHECK_EQ_INT(authn_revset_revoked(r, SID, CLUB, 1000, 1000), 0);
    authn_revset_add(r, AUTHN_REVOKED_SESSION, SID, 1000, 1960);
    authn_revset_add(r, AUTHN_REVOKED_SESSION, SID, 900,
                     1500); /* an older repeat keeps the later */
    CHECK_EQ_INT(authn_revset_revoked(r, SID, CLUB, 990, 1001), 1);
    CHECK_EQ_INT(authn_revset_revoked(r, SID, "", 990, 1959), 1);
    CHECK_EQ_INT(authn_revset_revoked(r, "33333333-3333-4333-8333-333333333333", CLUB, 990, 1001),
                 0);
    authn_revset_add(r, AUTHN_REVOKED_CLUB, CLUB, 2000, 2960);
    CHECK_EQ_INT(authn_revset_count(r, 1001), 2);
    CHECK_EQ_INT(authn_revset_revoked(r, "", CLUB, 1999, 2001), 1);
    CHECK_EQ_INT(authn_revset_revoked(r, "", CLUB, 2000, 2001), 1);
    CHECK_EQ_INT(authn_revset_revoked(r, "", CLUB, 2001, 2002), 0); /* issued after */
    /* a club id is not a session id and the other way round */
    CHECK_EQ_INT(authn_revset_revoked(r, CLUB, "", 1999, 2001), 0);
    /* once its tokens have expired the session's entry goes */
    CHECK_EQ_INT(authn_revset_revoked(r, SID, "", 990, 1960), 0);
    CHECK_EQ_INT(authn_revset_count(r, 1961), 1);
    authn_revset_free(r);
}

/* Bounded: a full set never lets a revoked token through; the oldest revocation is evicted and
 * every token issued at or before it is refused instead, until those tokens have expired. */
static void test_revoked_bounded_fail_safe(void) {
    authn_revset_t *r = authn_revset_new(8); /* one set of 8 */
    REQUIRE(r);
    char id[64];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
        authn_revset_add(r, AUTHN_REVOKED_SESSION, id, 1000 + i, 1000 + i + 960);
    }
    CHECK(authn_revset_count(r, 1100) <= 8);
    for (int i = 0; i < 100; i++) { /* every revoked session is still refused */
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
        CHECK_EQ_INT(authn_revset_revoked(r, id, CLUB, 1000 + i - 5, 1100), 1);
    }
    /* a token of another session issued after the floor is fine, one issued before is not */
    CHECK_EQ_INT(authn_revset_revoked(r, SID, CLUB, 1100, 1101), 0);
    CHECK_EQ_INT(authn_revset_revoked(r, SID, CLUB, 1050, 1101), 1);
    /* once the floor's tokens have expired, it stops refusing */
    CHECK_EQ_INT(authn_revset_revoked(r, SID, CLUB, 1050, 1000 + 99 + 960), 0);
    /* an incomplete list from the auth service raises the floor the same way */
    authn_revset_floor(r, 5000, 5960);
    CHECK_EQ_INT(authn_revset_revoked(r, SID, CLUB, 4999, 5001), 1);
    CHECK_EQ_INT(authn_revset_revoked(r, SID, CLUB, 5001, 5002), 0);
    authn_revset_free(r);
}

/* The key through OpenSSL's SHA-256 (hardware) is the digest libsodium's portable SHA-256
 * computes, for any issuer, audience and token (NULL, empty, one block boundary, long); the
 * micro-benchmark prints both costs (issue 16 step 5: keep OpenSSL only when faster). */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void test_key_openssl_is_the_portable_digest(void) {
    char tok[2048];
    for (size_t i = 0; i < sizeof tok; i++)
        tok[i] = (char)('A' + i * 7 % 53);
    static const size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 850, 2047};
    const char *iss[] = {"reciprocal", "", NULL, "https://issuer.example/\xc3\xa9"};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t k = 0; k < sizeof iss / sizeof iss[0]; k++) {
            unsigned char a[AUTHN_CACHE_KEY_LEN], b[AUTHN_CACHE_KEY_LEN];
            authn_cache_key(iss[k], "reciprocal-api", tok, lens[i], a);
            authn_cache_key_portable(iss[k], "reciprocal-api", tok, lens[i], b);
            CHECK(memcmp(a, b, sizeof a) == 0);
        }
    }
    /* the micro-benchmark: an 850-byte access token, best of 3 runs of 20,000 */
    unsigned char k[AUTHN_CACHE_KEY_LEN];
    double best[2] = {1e9, 1e9};
    for (int run = 0; run < 3; run++) {
        for (int impl = 0; impl < 2; impl++) {
            double t0 = now_s();
            for (int n = 0; n < 20000; n++) {
                tok[0] = (char)('A' + n % 26);
                if (impl == 0)
                    authn_cache_key("reciprocal", "reciprocal-api", tok, 850, k);
                else
                    authn_cache_key_portable("reciprocal", "reciprocal-api", tok, 850, k);
            }
            double ns = (now_s() - t0) / 20000 * 1e9;
            if (ns < best[impl]) best[impl] = ns;
        }
    }
    printf("#   cache key of an 850-byte token: OpenSSL %.0f ns, libsodium %.0f ns\n", best[0],
           best[1]);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    RUN(test_key_openssl_is_the_portable_digest);
    RUN(test_hit_returns_the_identity);
    RUN(test_expiry_window);
    RUN(test_new_key_set_invalidates);
    RUN(test_tampered_token_never_hits);
    RUN(test_bounded);
    RUN(test_threads);
    RUN(test_revoked_session_and_club);
    RUN(test_revoked_bounded_fail_safe);
    TEST_DONE();
}
