/* End-to-end: GET /api/v1/auth/me from the read cache "auth_me" (services/auth/auth_me.h,
 * docs/architecture.md "Read cache"), the cache's TTL set to an hour so that only the events
 * (and this process's own invalidation after its commit) can make a change visible.
 *   Split mode: one gateway and TWO `--services member,auth` processes (one queue group: each
 *   call lands on either). Both cache the account (a change written straight into PostgreSQL
 *   stays unseen); then each write that changes the document, made through one of them, is seen
 *   through both within a few seconds (20 reads in a row): role grant and removal, a custom
 *   role deleted, MFA confirmed and disabled, e-mail verification, password reset, disable and
 *   enable. A logged-out or disabled session's token is refused (401 token_revoked).
 *   One process: the same writes are seen by the very next read, the revoked token is refused
 *   by the very next request, and /metrics counts the cache's hits, misses and invalidations. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/credentials/totp.h"
#include "support/e2e.h"
#include "test.h"

#define PW "me-cache passphrase 42!"
#define PW2 "me-cache passphrase 43!"

static const char *const g_env[] = {"RECIPROCAL_CACHE_TTL_SECONDS=3600", NULL};
static e2e_proc_t g_gw, g_a1, g_a2, g_all;
static char g_club[64], g_slug[64];
static int g_seq;

/* sql changing one row of auth.users (arg = $1) as the database owner, behind the service's
 * back; the tables force row-level security, so in the network scope. */
static int owner_sql(const char *sql, const char *arg) {
    PGconn *pg = PQconnectdb(getenv("RECIPROCAL_TEST_OWNER_URL"));
    int ok = PQstatus(pg) == CONNECTION_OK;
    if (ok) {
        PQclear(PQexec(pg, "SELECT set_config('app.network_admin', 'on', false)"));
        const char *p[] = {arg};
        PGresult *r = PQexecParams(pg, sql, 1, NULL, p, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdTuples(r), "1") == 0;
        if (!ok) printf("#   %s: %s\n", PQcmdTuples(r), PQerrorMessage(pg));
        PQclear(r);
    }
    PQfinish(pg);
    return ok ? 0 : -1;
}

/* A fresh account of the test's club: email (128 bytes), id (64), access token (4096). */
static int account(const e2e_proc_t *p, const char *role, char *email, char *uid, char *tok) {
    snprintf(email, 128, "me-cache-%d-%d@example.test", (int)getpid(), ++g_seq);
    return e2e_account(p, g_club, g_slug, email, role, PW, uid, tok);
}

static int sign_in(const e2e_proc_t *p, const char *email, const char *pw, char *tok) {
    char body[512];
    json_t *r = NULL;
    snprintf(body, sizeof body, "{\"club\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}", g_slug,
             email, pw);
    long st = e2e_call(p, "", "POST", "/api/v1/auth/login", body, &r);
    int ok = st == 200 && e2e_str(r, "access_token");
    if (ok) snprintf(tok, 4096, "%s", e2e_str(r, "access_token"));
    json_decref(r);
    return ok ? 0 : -1;
}

/* How many of n reads of /me as tok answer field equal to want (a JSON text). */
static int reads_with(const e2e_proc_t *p, const char *tok, const char *field, const char *want,
                      int n) {
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    int same = 0;
    for (int i = 0; i < n; i++) {
        json_t *me = NULL;
        if (e2e_call(p, tok, "GET", "/api/v1/auth/me", NULL, &me) == 200 &&
            json_equal(json_object_get(me, field), w))
            same++;
        json_decref(me);
    }
    json_decref(w);
    return same;
}

/* split (wait 1): within 5 s, 20 reads in a row answer field == want; one process (wait 0): the
 * very next read does. */
static int shows(const e2e_proc_t *p, int wait, const char *tok, const char *field,
                 const char *want) {
    if (!wait) return reads_with(p, tok, field, want, 1) == 1;
    for (int t = 0; t < 50; t++) {
        if (reads_with(p, tok, field, want, 20) == 20) return 1;
        usleep(100 * 1000);
    }
    printf("#   /me %s never became %s\n", field, want);
    return 0;
}

/* The token is refused with token_revoked: at once (wait 0) or within 1 s (split mode: the
 * revocation reaches the gateway process over NATS). */
static int refused(const e2e_proc_t *p, int wait, const char *tok) {
    for (int t = 0; t < (wait ? 100 : 1); t++) {
        json_t *r = NULL;
        long st = e2e_call(p, tok, "GET", "/api/v1/auth/me", NULL, &r);
        const char *code = e2e_str(json_object_get(r, "error"), "code");
        int ok = st == 401 && code && strcmp(code, "token_revoked") == 0;
        json_decref(r);
        if (ok) return 1;
        if (wait) usleep(10 * 1000);
    }
    printf("#   the revoked token was still accepted\n");
    return 0;
}

static long post(const e2e_proc_t *p, const char *as, const char *path, const char *body,
                 json_t **out) {
    return e2e_call(p, as, "POST", path, body, out);
}

/* ---- each write that changes the document ---- */

static void roles_change(const e2e_proc_t *p, int wait) {
    char email[128], uid[64], tok[4096], path[256];
    REQUIRE(account(p, "member", email, uid, tok) == 0);
    CHECK(shows(p, wait, tok, "roles", "[\"member\"]"));
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/roles", uid);
    CHECK_EQ_INT(post(p, NULL, path, "{\"role\":\"club_staff\"}", NULL), 200);
    CHECK(shows(p, wait, tok, "roles", "[\"club_staff\",\"member\"]"));
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/roles/member", uid);
    CHECK_EQ_INT(e2e_call(p, NULL, "DELETE", path, NULL, NULL), 200);
    CHECK(shows(p, wait, tok, "roles", "[\"club_staff\"]"));
    /* a custom role deleted: its holders lose it (auth.permission_revoked per holder) */
    char role[32], body[256];
    snprintf(role, sizeof role, "door_%d", ++g_seq);
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"permissions\":[\"club:read\"],\"club_id\":\"%s\"}", role, g_club);
    CHECK_EQ_INT(post(p, NULL, "/api/v1/auth/roles", body, NULL), 201);
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/roles", uid);
    snprintf(body, sizeof body, "{\"role\":\"%s\"}", role);
    CHECK_EQ_INT(post(p, NULL, path, body, NULL), 200);
    char want[128];
    snprintf(want, sizeof want, "[\"club_staff\",\"%s\"]", role);
    CHECK(shows(p, wait, tok, "roles", want));
    snprintf(path, sizeof path, "/api/v1/auth/roles/%s?club_id=%s", role, g_club);
    CHECK_EQ_INT(e2e_call(p, NULL, "DELETE", path, NULL, NULL), 200);
    CHECK(shows(p, wait, tok, "roles", "[\"club_staff\"]"));
}

static void code_at(const unsigned char *secret, size_t n, long long step, char out[8]) {
    err_t e = {0};
    totp_code_at_step(secret, n, step, 6, out, &e);
}

static void mfa_change(const e2e_proc_t *p, int wait) {
    char email[128], uid[64], tok[4096], body[256], code[8];
    unsigned char secret[64];
    size_t sn = 0;
    err_t e = {0};
    json_t *r = NULL;
    REQUIRE(account(p, "member", email, uid, tok) == 0);
    CHECK(shows(p, wait, tok, "mfa_enabled", "false"));
    REQUIRE(post(p, tok, "/api/v1/auth/mfa/totp/enrol", "{}", &r) == 200);
    REQUIRE(totp_base32_decode(e2e_str(r, "secret"), secret, sizeof secret, &sn, &e) == 0);
    json_decref(r);
    CHECK(shows(p, wait, tok, "mfa_enabled", "false")); /* enrolled, not confirmed */
    long long step = (long long)totp_step((int64_t)time(NULL));
    code_at(secret, sn, step, code);
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
    CHECK_EQ_INT(post(p, tok, "/api/v1/auth/mfa/totp/confirm", body, NULL), 200);
    CHECK(shows(p, wait, tok, "mfa_enabled", "true"));
    code_at(secret, sn, step + 1, code);
    snprintf(body, sizeof body, "{\"password\":\"%s\",\"code\":\"%s\"}", PW, code);
    CHECK_EQ_INT(post(p, tok, "/api/v1/auth/mfa/totp/disable", body, NULL), 200);
    CHECK(shows(p, wait, tok, "mfa_enabled", "false"));
}

/* e-mail verification, and a password reset (which also marks the address verified) */
static void email_change(const e2e_proc_t *p, int wait) {
    char email[128], uid[64], tok[4096], body[4096], token[256];
    REQUIRE(account(p, "member", email, uid, tok) == 0);
    REQUIRE(owner_sql("UPDATE auth.users SET email_verified_at = NULL WHERE id = $1::uuid", uid) ==
            0);
    CHECK(shows(p, wait, tok, "email_verified", "false"));
    CHECK_EQ_INT(post(p, tok, "/api/v1/auth/email/verify-request", "{}", NULL), 202);
    REQUIRE(e2e_event_token("auth.email_verification_requested", email, 20, token, sizeof token) ==
            0);
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
    CHECK_EQ_INT(post(p, "", "/api/v1/auth/email/verify", body, NULL), 200);
    CHECK(shows(p, wait, tok, "email_verified", "true"));

    REQUIRE(account(p, "member", email, uid, tok) == 0);
    REQUIRE(owner_sql("UPDATE auth.users SET email_verified_at = NULL WHERE id = $1::uuid", uid) ==
            0);
    CHECK(shows(p, wait, tok, "email_verified", "false"));
    snprintf(body, sizeof body, "{\"club\":\"%s\",\"email\":\"%s\"}", g_slug, email);
    CHECK_EQ_INT(post(p, "", "/api/v1/auth/password/forgot", body, NULL), 202);
    REQUIRE(e2e_event_token("auth.password_reset_requested", email, 20, token, sizeof token) == 0);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", token, PW2);
    CHECK_EQ_INT(post(p, "", "/api/v1/auth/password/reset", body, NULL), 200);
    CHECK(refused(p, wait, tok)); /* the reset ended every session */
    REQUIRE(sign_in(p, email, PW2, tok) == 0);
    CHECK(shows(p, wait, tok, "email_verified", "true"));
}

/* Logout and disable refuse the token at once although its document is cached; enable, sign in
 * again: active. */
static void sessions_end(const e2e_proc_t *p, int wait) {
    char email[128], uid[64], tok[4096], path[256];
    REQUIRE(account(p, "member", email, uid, tok) == 0);
    CHECK(shows(p, wait, tok, "status", "\"active\""));
    CHECK_EQ_INT(post(p, tok, "/api/v1/auth/logout", NULL, NULL), 204);
    CHECK(refused(p, wait, tok));
    REQUIRE(sign_in(p, email, PW, tok) == 0);
    CHECK(shows(p, wait, tok, "status", "\"active\""));
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/disable", uid);
    CHECK_EQ_INT(post(p, NULL, path, "{}", NULL), 200);
    CHECK(refused(p, wait, tok));
    CHECK(sign_in(p, email, PW, tok) != 0);
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/enable", uid);
    CHECK_EQ_INT(post(p, NULL, path, "{}", NULL), 200);
    REQUIRE(sign_in(p, email, PW, tok) == 0);
    CHECK(shows(p, wait, tok, "status", "\"active\""));
}

/* ---- split mode ---- */

static void test_start_split(void) {
    REQUIRE(e2e_start(&g_a1, "member,auth", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&g_a2, "member,auth", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&g_gw, "gateway", 0, 1, g_env) == 0);
    REQUIRE(e2e_login_admin(&g_gw, NULL, NULL) == 0);
    snprintf(g_slug, sizeof g_slug, "me-cache-%ld-%d", (long)time(NULL), (int)getpid());
    REQUIRE(e2e_club(&g_gw, "Me Cache", g_slug, NULL, g_club) == 0);
}

/* Both auth processes hold the document: 40 reads fill both, then an e-mail address changed
 * straight in PostgreSQL (no event) is answered by neither. */
static void test_both_processes_cache(void) {
    char email[128], uid[64], tok[4096];
    REQUIRE(account(&g_gw, "member", email, uid, tok) == 0);
    char want[160];
    snprintf(want, sizeof want, "\"%s\"", email);
    CHECK_EQ_INT(reads_with(&g_gw, tok, "email", want, 40), 40);
    REQUIRE(owner_sql("UPDATE auth.users SET email = 'behind-' || email WHERE id = $1::uuid",
                      uid) == 0);
    CHECK_EQ_INT(reads_with(&g_gw, tok, "email", want, 40), 40);
}

static void test_split_roles(void) {
    roles_change(&g_gw, 1);
}
static void test_split_mfa(void) {
    mfa_change(&g_gw, 1);
}
static void test_split_email(void) {
    email_change(&g_gw, 1);
}
static void test_split_sessions(void) {
    sessions_end(&g_gw, 1);
}

static void test_stop_split(void) {
    CHECK_EQ_INT(e2e_stop(&g_gw), 0);
    CHECK_EQ_INT(e2e_stop(&g_a1), 0);
    CHECK_EQ_INT(e2e_stop(&g_a2), 0);
}

/* ---- one process ---- */

/* The value of the series `name{cache="auth_me"}` in /metrics, or -1. */
static double metric(const char *name) {
    e2e_resp_t r;
    char url[128], needle[160];
    snprintf(url, sizeof url, "%s/metrics", g_all.base);
    if (e2e_http("GET", url, NULL, NULL, &r) != 0) return -1;
    snprintf(needle, sizeof needle, "\n%s{cache=\"auth_me\"} ", name);
    const char *at = r.body ? strstr(r.body, needle) : NULL;
    double v = at ? strtod(at + strlen(needle), NULL) : -1;
    e2e_resp_free(&r);
    return v;
}

static void test_start_one(void) {
    REQUIRE(e2e_start(&g_all, NULL, 0, 1, g_env) == 0);
    REQUIRE(e2e_login_admin(&g_all, NULL, NULL) == 0);
}

static void test_one_roles(void) {
    REQUIRE(g_all.pid);
    roles_change(&g_all, 0);
}
static void test_one_mfa(void) {
    REQUIRE(g_all.pid);
    mfa_change(&g_all, 0);
}
static void test_one_email(void) {
    REQUIRE(g_all.pid);
    email_change(&g_all, 0);
}
static void test_one_sessions(void) {
    REQUIRE(g_all.pid);
    sessions_end(&g_all, 0);
}

/* hits, misses, invalidations of cache="auth_me"; the answer keeps the caller's perms */
static void test_metrics(void) {
    REQUIRE(g_all.pid);
    char email[128], uid[64], tok[4096], path[256];
    REQUIRE(account(&g_all, "member", email, uid, tok) == 0);
    double m0 = metric("cache_misses_total");
    json_t *me = NULL;
    CHECK_EQ_INT(e2e_call(&g_all, tok, "GET", "/api/v1/auth/me", NULL, &me), 200); /* miss */
    CHECK(metric("cache_misses_total") >= m0 + 1);
    double h0 = metric("cache_hits_total");
    json_t *again = NULL;
    CHECK_EQ_INT(e2e_call(&g_all, tok, "GET", "/api/v1/auth/me", NULL, &again), 200); /* hit */
    CHECK(metric("cache_hits_total") >= h0 + 1);
    CHECK(metric("cache_entries") >= 1);
    CHECK(json_equal(me, again));
    CHECK_STR(e2e_str(again, "perms"), "auth:self club:read ledger:read");
    CHECK_STR(e2e_str(again, "id"), uid);
    json_decref(me);
    json_decref(again);
    double inv0 = metric("cache_invalidations_total");
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/roles", uid);
    CHECK_EQ_INT(post(&g_all, NULL, path, "{\"role\":\"club_staff\"}", NULL), 200);
    CHECK(metric("cache_invalidations_total") >= inv0 + 1);
    CHECK(shows(&g_all, 0, tok, "roles", "[\"club_staff\",\"member\"]"));
    CHECK_EQ_INT(e2e_stop(&g_all), 0);
}

int main(void) {
    RUN(test_start_split);
    if (g_gw.pid) {
        RUN(test_both_processes_cache);
        RUN(test_split_roles);
        RUN(test_split_mfa);
        RUN(test_split_email);
        RUN(test_split_sessions);
    }
    RUN(test_stop_split);
    RUN(test_start_one);
    RUN(test_one_roles);
    RUN(test_one_mfa);
    RUN(test_one_email);
    RUN(test_one_sessions);
    RUN(test_metrics);
    TEST_DONE();
}
