/* End-to-end: the ledger record of a verified visit. Clubs A (home) and B (host), registered
 * as ledger organisations with their club ids; an active agreement; a member with a known
 * member number and name. The check-in answers without waiting for the ledger and leaves the
 * record pending (GET /visits/{id}/ledger: commitment and salt, to the home and the host club;
 * club C 404); the sweep submits it: visit.verified, committed VALID, endorsed by both clubs'
 * member identities; the transaction holds the commitment SHA-256(salt || member number) and
 * neither the member number, the name nor the member id; `reciprocal ledger export` and
 * `reciprocal ledger verify` accept the chain. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/ledger/txcodec.h"
#include "services/reciprocal/loi.h"
#include "support/e2e.h"
#include "test.h"

#define AS_OF "2030-01-01T00:00:00Z"

static e2e_proc_t g_proc;
static char g_kek[128];
static char g_club[3][64], g_slug[3][64], g_admin[3][4096], g_member[64], g_number[48];
static const char g_pw[] = "Marmalade-Harbour-77";

/* 1 when the n bytes at b hold the len bytes of s */
static int has(const unsigned char *b, size_t n, const char *s, size_t len) {
    for (size_t i = 0; len && i + len <= n; i++)
        if (memcmp(b + i, s, len) == 0) return 1;
    return 0;
}

static int account(int club, char *tok) {
    char email[128];
    snprintf(email, sizeof email, "vledger-%d-%d@example.test", club, (int)getpid());
    return e2e_account(&g_proc, g_club[club], g_slug[club], email, "club_admin", g_pw, NULL, tok);
}

static void test_start(void) {
    const char *kek = getenv("RECIPROCAL_LEDGER_KEK"); /* exported by tests/run.sh */
    snprintf(g_kek, sizeof g_kek, "RECIPROCAL_LEDGER_KEK=%s", kek ? kek : "");
    const char *env[] = {"RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                         "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", g_kek,
                         NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    char body[1024], today[16];
    json_t *v = NULL;
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(g_slug[i], sizeof g_slug[i], "vledger-%c-%d", 'a' + i, (int)getpid());
        snprintf(name, sizeof name, "Club %c", 'A' + i);
        REQUIRE(e2e_club(&g_proc, name, g_slug[i], NULL, g_club[i]) == 0);
        REQUIRE(account(i, g_admin[i]) == 0);
    }
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/ledger/bootstrap", "{}", NULL) == 200);
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"org\":\"vl%c%d\",\"club_id\":\"%s\"}", 'a' + i,
                 (int)getpid(), g_club[i]);
        REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/ledger/orgs", body, NULL) == 200);
    }
    snprintf(g_number, sizeof g_number, "ZQX%dW", (int)getpid());
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_number\":\"%s\",\"category\":\"full\",\"expires_on\":"
             "\"2099-12-31\",\"profile\":{\"first_name\":\"Ledgerina\",\"last_name\":"
             "\"Quillfeather\",\"email\":\"lq%d@example.test\"}}",
             g_club[0], g_number, (int)getpid());
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/members", body, &v) == 201);
    snprintf(g_member, sizeof g_member, "%s", e2e_str(v, "id"));
    json_decref(v);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/members/%s/status", g_member);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"active\"}", g_club[0]);
    REQUIRE(e2e_call(&g_proc, NULL, "POST", path, body, NULL) == 200);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\"}", g_club[0],
             g_club[0], g_club[1], today);
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/agreements", body, &v) == 201);
    snprintf(path, sizeof path, "/api/v1/agreements/%s/accept", e2e_str(v, "id"));
    json_decref(v);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\"}", g_club[1]);
    REQUIRE(e2e_call(&g_proc, NULL, "POST", path, body, NULL) == 200);
}

/* 25 visits checked in (more than the 20 records a sweep submitted one by one before): after ONE
 * sweep every record is submitted (the pass's batches: one ledger submit_batch call per 100
 * records, their outcomes stored in one statement), each with its own transaction, committed
 * VALID. */
#define MANY 25
static void test_many_visits(void) {
    char body[LOI_TOKEN_MAX + 1024], path[256], vid[MANY][64], tok[LOI_TOKEN_MAX + 1];
    json_t *v = NULL;
    for (int i = 0; i < MANY; i++) {
        char member[64];
        snprintf(body, sizeof body,
                 "{\"club_id\":\"%s\",\"member_number\":\"MNY%d-%d\",\"category\":\"full\","
                 "\"expires_on\":\"2099-12-31\",\"profile\":{\"first_name\":\"Many\",\"last_name\":"
                 "\"Visitor%d\",\"email\":\"many%d-%d@example.test\"}}",
                 g_club[0], i, (int)getpid(), i, i, (int)getpid());
        REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/members", body, &v) == 201);
        snprintf(member, sizeof member, "%s", e2e_str(v, "id"));
        json_decref(v);
        snprintf(path, sizeof path, "/api/v1/members/%s/status", member);
        snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"active\"}", g_club[0]);
        REQUIRE(e2e_call(&g_proc, NULL, "POST", path, body, NULL) == 200);
        snprintf(body, sizeof body,
                 "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\","
                 "\"arrive_on\":\"2030-03-06\",\"depart_on\":\"2030-03-06\",\"as_of\":\"" AS_OF
                 "\"}",
                 g_club[0], member, g_club[1]);
        REQUIRE(e2e_visit_confirmed(&g_proc, body, g_admin[0], g_admin[1], vid[i], tok,
                                    sizeof tok) == 0);
        snprintf(body, sizeof body, "{\"token\":\"%s\",\"at\":1899028800}", tok); /* 12:00 */
        REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/visits/check-in", body, NULL) == 200);
    }
    /* (the sweep's counts are not checked: the periodic sweep may run its pass at the same time,
     * storing some of the same outcomes first) */
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/agreements/sweep", "{}", NULL) == 200);
    char first[80] = "";
    for (int i = 0; i < MANY; i++) {
        snprintf(path, sizeof path, "/api/v1/visits/%s/ledger", vid[i]);
        REQUIRE(e2e_call(&g_proc, g_admin[1], "GET", path, NULL, &v) == 200);
        CHECK_STR(e2e_str(v, "status"), "submitted");
        CHECK_EQ_INT(json_integer_value(json_object_get(v, "attempts")), 1);
        CHECK(e2e_str(v, "tx_id") && strcmp(e2e_str(v, "tx_id"), first) != 0);
        if (i == 0) snprintf(first, sizeof first, "%s", e2e_str(v, "tx_id"));
        if (i == MANY - 1) {
            char st[256];
            snprintf(st, sizeof st, "/api/v1/ledger/transactions/%s/status?wait_ms=10000",
                     e2e_str(v, "tx_id"));
            json_decref(v);
            REQUIRE(e2e_call(&g_proc, NULL, "GET", st, NULL, &v) == 200);
            CHECK_STR(e2e_str(v, "status"), "committed");
            CHECK_STR(e2e_str(v, "validation_code"), "VALID");
        }
        json_decref(v);
    }
}

static void test_visit_verified(void) {
    char body[LOI_TOKEN_MAX + 1024], path[256], vid[64], tok[LOI_TOKEN_MAX + 1], tx_id[80];
    json_t *v = NULL;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":"
             "\"2030-03-04\",\"depart_on\":\"2030-03-04\",\"as_of\":\"" AS_OF "\"}",
             g_club[0], g_member, g_club[1]);
    REQUIRE(e2e_visit_confirmed(&g_proc, body, g_admin[0], g_admin[1], vid, tok, sizeof tok) == 0);
    /* no record before the check-in */
    snprintf(path, sizeof path, "/api/v1/visits/%s/ledger", vid);
    CHECK_EQ_INT(e2e_call(&g_proc, g_admin[0], "GET", path, NULL, NULL), 404);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"at\":1898856000}", tok); /* 03-04 12:00 */
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/visits/check-in", body, &v) == 200);
    CHECK_STR(e2e_str(v, "status"), "checked_in");
    json_decref(v);
    /* pending, to both clubs; not to C */
    REQUIRE(e2e_call(&g_proc, g_admin[1], "GET", path, NULL, &v) == 200);
    CHECK_STR(e2e_str(v, "status"), "pending");
    CHECK_STR(e2e_str(v, "type"), "visit.verified");
    char commit[80], salt[80];
    snprintf(commit, sizeof commit, "%s", e2e_str(v, "commitment") ? e2e_str(v, "commitment") : "");
    snprintf(salt, sizeof salt, "%s", e2e_str(v, "salt") ? e2e_str(v, "salt") : "");
    json_decref(v);
    CHECK_EQ_INT((long)strlen(commit), 64);
    CHECK_EQ_INT((long)strlen(salt), 64);
    CHECK_EQ_INT(e2e_call(&g_proc, g_admin[2], "GET", path, NULL, NULL), 404);
    /* the commitment opens with the salt and the member number */
    uint8_t sb[32], cb[32];
    err_t e = {0};
    REQUIRE(sodium_hex2bin(sb, 32, salt, 64, NULL, NULL, NULL) == 0);
    REQUIRE(sodium_hex2bin(cb, 32, commit, 64, NULL, NULL, NULL) == 0);
    CHECK_EQ_INT(txcodec_commit_verify(sb, g_number, strlen(g_number), cb, &e), 0);
    CHECK(txcodec_commit_verify(sb, "other", 5, cb, &e) != 0);
    /* the sweep submits it */
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/agreements/sweep", "{}", &v) == 200);
    CHECK(json_integer_value(json_object_get(v, "visit_ledger_submitted")) >= 1);
    json_decref(v);
    REQUIRE(e2e_call(&g_proc, g_admin[0], "GET", path, NULL, &v) == 200);
    if (!e2e_str(v, "tx_id")) printf("#   %s\n", e2e_str(v, "last_error"));
    CHECK_STR(e2e_str(v, "status"), "submitted");
    REQUIRE(e2e_str(v, "tx_id") != NULL);
    snprintf(tx_id, sizeof tx_id, "%s", e2e_str(v, "tx_id"));
    json_decref(v);
    snprintf(path, sizeof path, "/api/v1/ledger/transactions/%s/status?wait_ms=10000", tx_id);
    REQUIRE(e2e_call(&g_proc, NULL, "GET", path, NULL, &v) == 200);
    CHECK_STR(e2e_str(v, "status"), "committed");
    CHECK_STR(e2e_str(v, "validation_code"), "VALID");
    json_decref(v);
    /* the transaction: the commitment, no personal data */
    snprintf(path, sizeof path, "/api/v1/ledger/transactions/%s", tx_id);
    REQUIRE(e2e_call(&g_proc, NULL, "GET", path, NULL, &v) == 200);
    const char *b64 = e2e_str(v, "envelope");
    REQUIRE(b64 != NULL);
    size_t cap = strlen(b64), n = 0;
    unsigned char *env = malloc(cap + 1);
    REQUIRE(env != NULL);
    REQUIRE(sodium_base642bin(env, cap, b64, strlen(b64), NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0);
    env[n] = 0;
    json_decref(v);
    CHECK(has(env, n, commit, 64));
    CHECK(has(env, n, "visit.verified", 14));
    CHECK(!has(env, n, g_number, strlen(g_number)));
    CHECK(!has(env, n, "Ledgerina", 9));
    CHECK(!has(env, n, "Quillfeather", 12));
    CHECK(!has(env, n, g_member, strlen(g_member)));
    free(env);
    /* export + verify */
    char file[480];
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    snprintf(file, sizeof file, "%s/visit-ledger-%d.json", tmp ? tmp : "/tmp", (int)getpid());
    const char *env_kek[] = {g_kek, NULL};
    char *out = NULL;
    const char *ex[] = {"ledger", "export", file, NULL};
    CHECK_EQ_INT(e2e_run(ex, env_kek, &out), 0);
    free(out);
    out = NULL;
    const char *vf[] = {"ledger", "verify", file, NULL};
    int rc = e2e_run(vf, env_kek, &out);
    if (rc != 0 && out) printf("# %s\n", out);
    CHECK_EQ_INT(rc, 0);
    CHECK(out && strstr(out, "ledger valid"));
    free(out);
    unlink(file);
}

static json_t *agreement_doc(const char *id) {
    char path[256];
    json_t *v = NULL;
    snprintf(path, sizeof path, "/api/v1/agreements/%s", id);
    CHECK_EQ_INT(e2e_call(&g_proc, NULL, "GET", path, NULL, &v), 200);
    return v;
}

/* Club C holds its own ledger keys: an A-C agreement stays proposed after C's acceptance, its
 * record needs_endorsements with the transaction and A's endorsements; C signs it and submits
 * through the ledger's existing flow; the next sweep activates the agreement. */
static unsigned char g_c_msk[64]; /* club C's member secret key (it holds its own keys) */
static char g_c_mhex[65];

static void test_held_activation(void) {
    unsigned char mpk[32], msk[64], apk[32], ask[64];
    char mhex[65], ahex[65], body[2048], today[16], id[64];
    crypto_sign_keypair(mpk, msk);
    crypto_sign_keypair(apk, ask);
    sodium_bin2hex(mhex, sizeof mhex, mpk, 32);
    sodium_bin2hex(ahex, sizeof ahex, apk, 32);
    memcpy(g_c_msk, msk, sizeof g_c_msk);
    snprintf(g_c_mhex, sizeof g_c_mhex, "%s", mhex);
    json_t *v = NULL;
    snprintf(body, sizeof body,
             "{\"org\":\"vlc%d\",\"club_id\":\"%s\",\"public_keys\":{\"member\":\"%s\","
             "\"admin\":\"%s\"}}",
             (int)getpid(), g_club[2], mhex, ahex);
    long st = e2e_call(&g_proc, NULL, "POST", "/api/v1/ledger/orgs", body, &v);
    if (st != 200)
        printf("#   register_org: %ld %s\n", st, e2e_str(json_object_get(v, "error"), "message"));
    REQUIRE(st == 200);
    json_decref(v);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\"}", g_club[0],
             g_club[0], g_club[2], today);
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/agreements", body, &v) == 201);
    snprintf(id, sizeof id, "%s", e2e_str(v, "id"));
    json_decref(v);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/agreements/%s/accept", id);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\"}", g_club[2]);
    REQUIRE(e2e_call(&g_proc, NULL, "POST", path, body, &v) == 200);
    CHECK_STR(e2e_str(v, "status"), "proposed");
    json_t *led = json_object_get(v, "ledger");
    CHECK_STR(e2e_str(led, "status"), "needs_endorsements");
    CHECK(json_is_true(json_object_get(led, "holds_activation")));
    REQUIRE(e2e_str(led, "tx") != NULL && e2e_str(led, "tx_id") != NULL);
    CHECK(e2e_str(led, "policy") && strstr(e2e_str(led, "policy"), ".admin"));
    CHECK_EQ_INT(json_array_size(json_object_get(led, "endorsements")), 2);
    char tx_id[80];
    snprintf(tx_id, sizeof tx_id, "%s", e2e_str(led, "tx_id"));
    /* C signs the transaction itself */
    const char *b64 = e2e_str(led, "tx");
    size_t cap = strlen(b64), n = 0;
    static const char dom[] = "reciprocal-ledger/endorse/v1\n";
    unsigned char *msg = malloc(sizeof dom + cap);
    REQUIRE(msg != NULL);
    memcpy(msg, dom, sizeof dom - 1);
    REQUIRE(sodium_base642bin(msg + sizeof dom - 1, cap, b64, cap, NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0);
    unsigned char sig[64];
    crypto_sign_detached(sig, NULL, msg, sizeof dom - 1 + n, ask);
    free(msg);
    char sig64[128];
    sodium_bin2base64(sig64, sizeof sig64, sig, 64, sodium_base64_VARIANT_ORIGINAL);
    json_t *ends = json_deep_copy(json_object_get(led, "endorsements"));
    json_array_append_new(ends, json_pack("{s:s, s:s}", "public_key", ahex, "signature", sig64));
    json_t *sub = json_pack("{s:s, s:o, s:i}", "tx", b64, "endorsements", ends, "wait_ms", 10000);
    json_decref(v);
    /* not active before the ledger commits */
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/agreements/sweep", "{}", NULL) == 200);
    v = agreement_doc(id);
    CHECK_STR(e2e_str(v, "status"), "proposed");
    json_decref(v);
    char *sb = json_dumps(sub, JSON_COMPACT);
    json_decref(sub);
    st = e2e_call(&g_proc, NULL, "POST", "/api/v1/ledger/transactions", sb, &v);
    free(sb);
    if (st != 202) printf("#   submit: %ld\n", st);
    CHECK_EQ_INT(st, 202);
    CHECK_STR(e2e_str(v, "status"), "committed");
    CHECK_STR(e2e_str(v, "validation_code"), "VALID");
    json_decref(v);
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/agreements/sweep", "{}", &v) == 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(v, "activated")), 1);
    json_decref(v);
    v = agreement_doc(id);
    CHECK_STR(e2e_str(v, "status"), "active");
    led = json_object_get(v, "ledger");
    CHECK_STR(e2e_str(led, "status"), "submitted");
    CHECK_STR(e2e_str(led, "tx_id"), tx_id);
    json_decref(v);
}

/* A visit at C, which holds its own ledger keys: the visit.verified record is held
 * (needs_endorsements) with the transaction to sign; C signs it with its member key and submits
 * it to the ledger; the next sweep marks it submitted. */
static void test_held_visit(void) {
    char body[LOI_TOKEN_MAX + 1024], path[256], vid[64], tok[LOI_TOKEN_MAX + 1], tx_id[80];
    json_t *v = NULL;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":"
             "\"2030-03-05\",\"depart_on\":\"2030-03-05\",\"as_of\":\"" AS_OF "\"}",
             g_club[0], g_member, g_club[2]);
    REQUIRE(e2e_visit_confirmed(&g_proc, body, g_admin[0], g_admin[2], vid, tok, sizeof tok) == 0);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"at\":1898942400}", tok); /* 03-05 12:00 */
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/visits/check-in", body, NULL) == 200);
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/agreements/sweep", "{}", NULL) == 200);
    snprintf(path, sizeof path, "/api/v1/visits/%s/ledger", vid);
    REQUIRE(e2e_call(&g_proc, g_admin[2], "GET", path, NULL, &v) == 200);
    CHECK_STR(e2e_str(v, "status"), "needs_endorsements");
    if (!e2e_str(v, "tx")) printf("#   %s\n", e2e_str(v, "last_error"));
    REQUIRE(e2e_str(v, "tx") != NULL && e2e_str(v, "tx_id") != NULL);
    CHECK(e2e_str(v, "policy") && strstr(e2e_str(v, "policy"), ".member"));
    CHECK(e2e_str(v, "last_error") && strstr(e2e_str(v, "last_error"), "/member"));
    CHECK_EQ_INT(json_array_size(json_object_get(v, "endorsements")), 1);
    snprintf(tx_id, sizeof tx_id, "%s", e2e_str(v, "tx_id"));
    /* the home club sees the same record */
    json_t *home = NULL;
    REQUIRE(e2e_call(&g_proc, g_admin[0], "GET", path, NULL, &home) == 200);
    CHECK_STR(e2e_str(home, "tx_id"), tx_id);
    json_decref(home);
    /* a sweep before C signs keeps it held */
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/agreements/sweep", "{}", NULL) == 200);
    REQUIRE(e2e_call(&g_proc, g_admin[2], "GET", path, NULL, &home) == 200);
    CHECK_STR(e2e_str(home, "status"), "needs_endorsements");
    json_decref(home);
    /* C signs with its member identity and submits to the ledger */
    const char *b64 = e2e_str(v, "tx");
    size_t cap = strlen(b64), n = 0;
    static const char dom[] = "reciprocal-ledger/endorse/v1\n";
    unsigned char *msg = malloc(sizeof dom + cap);
    REQUIRE(msg != NULL);
    memcpy(msg, dom, sizeof dom - 1);
    REQUIRE(sodium_base642bin(msg + sizeof dom - 1, cap, b64, cap, NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0);
    unsigned char sig[64];
    crypto_sign_detached(sig, NULL, msg, sizeof dom - 1 + n, g_c_msk);
    free(msg);
    char sig64[128];
    sodium_bin2base64(sig64, sizeof sig64, sig, 64, sodium_base64_VARIANT_ORIGINAL);
    json_t *ends = json_deep_copy(json_object_get(v, "endorsements"));
    json_array_append_new(ends,
                          json_pack("{s:s, s:s}", "public_key", g_c_mhex, "signature", sig64));
    json_t *sub = json_pack("{s:s, s:o, s:i}", "tx", b64, "endorsements", ends, "wait_ms", 10000);
    char *sb = json_dumps(sub, JSON_COMPACT);
    json_decref(sub);
    json_decref(v);
    long st = e2e_call(&g_proc, NULL, "POST", "/api/v1/ledger/transactions", sb, &v);
    free(sb);
    CHECK_EQ_INT(st, 202);
    CHECK_STR(e2e_str(v, "validation_code"), "VALID");
    json_decref(v);
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/agreements/sweep", "{}", NULL) == 200);
    REQUIRE(e2e_call(&g_proc, g_admin[0], "GET", path, NULL, &v) == 200);
    CHECK_STR(e2e_str(v, "status"), "submitted");
    CHECK_STR(e2e_str(v, "tx_id"), tx_id);
    json_decref(v);
}

int main(void) {
    RUN(test_start);
    RUN(test_many_visits);
    RUN(test_visit_verified);
    RUN(test_held_activation);
    RUN(test_held_visit);
    e2e_stop(&g_proc);
    TEST_DONE();
}
