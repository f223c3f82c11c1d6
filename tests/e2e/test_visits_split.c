/* End-to-end: a visit from the agreement to the check-out, the same walk twice:
 *   - in one process (`reciprocal serve`, every service);
 *   - split (issue 11): the gateway, the reciprocal service, member+auth and the ledger each in
 *     their own `reciprocal serve --services ...` process as their own NATS user, so every
 *     operation the gateway routes and every call the reciprocal service makes to the member
 *     service (member_standing, get_clubs_by_ids, get_me) travels over NATS.
 * The walk: two new clubs with their own administrators (signed in through the gateway), a
 * member of the home club, an agreement proposed by the home club and accepted by the host
 * (active), the visit requested by the home club's staff, approved (the letter), confirmed by
 * the host, the letter verified and the visitor checked in at the door (the network
 * administrator's injected time: the stay is in the future), checked out by the host; the
 * visit's history holds every step with the acting club; the same through GraphQL reads. Before
 * the check-in, the member suspended at home after the letter checks filled the member service's
 * standing cache: refused at the door by the very next check in one process, and within the event
 * delay split, where TWO member+auth processes answer the reciprocal service's member_standing
 * calls (one queue group) and the suspension is made through either, with the cache's TTL an
 * hour (only the member.status_changed event can reach the other process); active again: admitted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "lib/credentials/password.h"
#include "support/e2e.h"
#include "test.h"

static const char g_pw[] = "Lantern-Quay-2031";
static const char *const g_env[] = {
    "RECIPROCAL_CACHE_TTL_SECONDS=3600", /* only the events can make a change seen */
    "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", NULL};

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

/* One request on p as `as` (NULL = the network administrator): status, *out the body (new
 * reference, may be NULL). */
static long call(const e2e_proc_t *p, const char *as, const char *method, const char *path,
                 const char *body, json_t **out) {
    char url[1024];
    e2e_resp_t r;
    snprintf(url, sizeof url, "%s%s", p->base, path);
    if (e2e_http_as(as ? as : e2e_bearer(), method, url, body ? "application/json" : NULL, body,
                    &r) != 0)
        return -1;
    long st = r.status;
    if (st >= 400) printf("#   %s %s -> %ld %s\n", method, path, st, r.body ? r.body : "");
    if (out) *out = json_incref(r.json);
    e2e_resp_free(&r);
    return st;
}

/* An active club administrator of club (written as the owner), signed in through p. */
static int admin_of(const e2e_proc_t *p, const char *club, const char *slug, char tok[4096]) {
    char email[128], hash[PASSWORD_HASH_MAX], body[512];
    err_t e = {0};
    snprintf(email, sizeof email, "split-admin-%s@example.test", slug);
    if (password_hash(g_pw, hash, &e) != 0) return -1;
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    if (!db) return -1;
    db_scope_t s = {.network_admin = 1};
    db_tx_t *tx = NULL;
    int rc = -1;
    if (db_begin(db, &s, &tx, &e) == 0) {
        const char *pa[] = {club, email, hash};
        if (db_exec_cmd(tx,
                        "WITH u AS (INSERT INTO auth.users (club_id, email, status, "
                        "password_hash, email_verified_at) VALUES ($1::uuid, $2, 'active', $3, "
                        "now()) RETURNING club_id, id) INSERT INTO auth.user_roles (club_id, "
                        "user_id, role) SELECT club_id, id, 'club_admin' FROM u",
                        3, pa, &e) >= 0)
            rc = db_commit(tx, &e);
        else
            db_rollback(tx);
    }
    db_pool_close(db);
    if (rc != 0) return -1;
    json_t *out = NULL;
    snprintf(body, sizeof body, "{\"club\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}", slug,
             email, g_pw);
    long st = call(p, "", "POST", "/api/v1/auth/login", body, &out);
    int ok = st == 200 && jstr(out, "access_token");
    if (ok) snprintf(tok, 4096, "%s", jstr(out, "access_token"));
    json_decref(out);
    return ok ? 0 : -1;
}

/* The UTC date `days` from now, and its noon (unix seconds) in *noon (may be NULL). */
static void date_in(int days, char out[16], long long *noon) {
    time_t t = time(NULL) + (time_t)days * 86400;
    if (noon) *noon = (long long)(t - t % 86400) + 12 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

/* How many of n letter checks of body on p answer valid == want (reason *why when refused). */
static int verifies(const e2e_proc_t *p, const char *body, int want, int n) {
    int same = 0;
    for (int i = 0; i < n; i++) {
        json_t *out = NULL;
        if (call(p, NULL, "POST", "/api/v1/lois/verify", body, &out) == 200 &&
            json_is_true(json_object_get(out, "valid")) == want &&
            (want || strcmp(jstr(out, "reason"), "member_not_active") == 0))
            same++;
        json_decref(out);
    }
    return same;
}

/* Waits until 20 letter checks in a row answer valid == want: at once (spread 0: the very next
 * check, one process) or within 5 s (the other member process hears the event). */
static int verify_turns(const e2e_proc_t *p, const char *body, int want, int spread) {
    int n = 0;
    for (int t = 0; t < (spread ? 50 : 1); t++) {
        if ((n = verifies(p, body, want, 20)) == 20) return 1;
        usleep(100 * 1000);
    }
    printf("#   %d of 20 letter checks answered valid = %d\n", n, want);
    return 0;
}

/* The member's standing at the door follows a suspension made through any member process
 * (member_standing.c's read cache, filled by the checks before): refused by the letter check
 * and the check-in, then admitted again once active (spread as for verify_turns). */
static void standing_turns(const e2e_proc_t *p, const char *admin, const char *m, const char *body,
                           int spread) {
    char path[160];
    json_t *out = NULL;
    CHECK_EQ_INT(verifies(p, body, 1, 20), 20); /* fills the cache(s) */
    snprintf(path, sizeof path, "/api/v1/members/%s/status", m);
    REQUIRE(call(p, admin, "POST", path, "{\"status\":\"suspended\",\"reason\":\"door\"}", NULL) ==
            200);
    CHECK(verify_turns(p, body, 0, spread));
    CHECK_EQ_INT(call(p, NULL, "POST", "/api/v1/visits/check-in", body, &out), 422);
    CHECK_STR(jstr(json_object_get(out, "error"), "code"), "loi_member_not_active");
    json_decref(out);
    REQUIRE(call(p, admin, "POST", path, "{\"status\":\"active\"}", NULL) == 200);
    CHECK(verify_turns(p, body, 1, spread));
}

/* The walk on the gateway p; tag makes the slugs unique; spread: the member service runs in
 * more than one process. */
static void walk(const e2e_proc_t *p, const char *tag, int spread) {
    char club[2][64], slug[2][64], admin[2][4096], body[2048], path[256], m[64], v[64];
    char today[16], arrive[16];
    json_t *out = NULL;
    for (int i = 0; i < 2; i++) {
        char name[16];
        snprintf(slug[i], sizeof slug[i], "split-%s-%c-%d", tag, 'a' + i, (int)getpid());
        snprintf(name, sizeof name, "Split %c", 'A' + i);
        REQUIRE(e2e_club(p, name, slug[i],
                         "\"timezone\":\"UTC\",\"address\":{\"country\":\"GB\"},"
                         "\"facilities\":[\"dining\"]",
                         club[i]) == 0);
        REQUIRE(admin_of(p, club[i], slug[i], admin[i]) == 0);
    }
    /* a member of A, by A's staff */
    snprintf(body, sizeof body,
             "{\"category\":\"full\",\"expires_on\":\"2099-12-31\",\"profile\":{\"first_name\":"
             "\"Ada\",\"last_name\":\"Walker\",\"email\":\"ada-%s-%d@example.test\"}}",
             tag, (int)getpid());
    REQUIRE(call(p, admin[0], "POST", "/api/v1/members", body, &out) == 201);
    snprintf(m, sizeof m, "%s", jstr(out, "id"));
    json_decref(out);
    snprintf(path, sizeof path, "/api/v1/members/%s/status", m);
    REQUIRE(call(p, admin[0], "POST", path, "{\"status\":\"active\"}", NULL) == 200);
    /* the agreement: A proposes, B accepts -> active */
    date_in(0, today, NULL);
    snprintf(body, sizeof body,
             "{\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\",\"terms\":{\"%s\":{"
             "\"min_notice_hours\":0,\"allowed_facilities\":[\"dining\"]}}}",
             club[0], club[1], today, club[1]);
    REQUIRE(call(p, admin[0], "POST", "/api/v1/agreements", body, &out) == 201);
    snprintf(path, sizeof path, "/api/v1/agreements/%s/accept", jstr(out, "id"));
    json_decref(out);
    REQUIRE(call(p, admin[1], "POST", path, "{}", &out) == 200);
    CHECK_STR(jstr(out, "status"), "active");
    json_decref(out);
    /* the request by A's staff, for the day after tomorrow */
    long long at = 0;
    date_in(2, arrive, &at);
    snprintf(body, sizeof body,
             "{\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":\"%s\",\"depart_on\":"
             "\"%s\",\"facilities\":[\"dining\"]}",
             m, club[1], arrive, arrive);
    REQUIRE(call(p, admin[0], "POST", "/api/v1/visits", body, &out) == 201);
    CHECK_STR(jstr(out, "status"), "requested");
    snprintf(v, sizeof v, "%s", jstr(out, "id"));
    json_decref(out);
    /* approve (A), confirm (B) */
    snprintf(path, sizeof path, "/api/v1/visits/%s/approve", v);
    REQUIRE(call(p, admin[0], "POST", path, "{}", &out) == 200);
    CHECK_STR(jstr(out, "status"), "approved");
    const char *t = jstr(json_object_get(out, "loi"), "token");
    REQUIRE(t != NULL);
    char token[1900];
    snprintf(token, sizeof token, "%s", t);
    json_decref(out);
    snprintf(path, sizeof path, "/api/v1/visits/%s/confirm", v);
    REQUIRE(call(p, admin[1], "POST", path, "{}", &out) == 200);
    CHECK_STR(jstr(out, "status"), "confirmed");
    json_decref(out);
    /* the door, at noon of the arrival day (injected by the network administrator) */
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"at\":%lld}", token, at);
    REQUIRE(call(p, NULL, "POST", "/api/v1/lois/verify", body, &out) == 200);
    CHECK(json_is_true(json_object_get(out, "valid")));
    CHECK_STR(jstr(json_object_get(out, "member"), "name"), "Ada Walker");
    json_decref(out);
    standing_turns(p, admin[0], m, body, spread);
    REQUIRE(call(p, NULL, "POST", "/api/v1/visits/check-in", body, &out) == 200);
    CHECK_STR(jstr(out, "status"), "checked_in");
    json_decref(out);
    snprintf(path, sizeof path, "/api/v1/visits/%s/check-out", v);
    REQUIRE(call(p, admin[1], "POST", path, "{}", &out) == 200);
    CHECK_STR(jstr(out, "status"), "completed");
    json_decref(out);
    /* the history, as the home club: every step with its club */
    snprintf(path, sizeof path, "/api/v1/visits/%s", v);
    REQUIRE(call(p, admin[0], "GET", path, NULL, &out) == 200);
    static const char *const steps[] = {"request", "approve", "confirm", "check_in", "check_out"};
    json_t *h = json_object_get(out, "history");
    CHECK_EQ_INT(json_array_size(h), 5);
    for (size_t i = 0; i < 5 && i < json_array_size(h); i++)
        CHECK_STR(jstr(json_array_get(h, i), "action"), steps[i]);
    CHECK_STR(jstr(json_array_get(h, 1), "club_id"), club[0]);
    CHECK_STR(jstr(json_array_get(h, 2), "club_id"), club[1]);
    json_decref(out);
    /* GraphQL over the same processes: the visit with its member and clubs */
    snprintf(body, sizeof body,
             "{\"query\":\"{ visit(id: \\\"%s\\\") { status member { id } homeClub { slug } "
             "hostClub { slug } } }\"}",
             v);
    REQUIRE(call(p, admin[0], "POST", "/graphql", body, &out) == 200);
    json_t *gv = json_object_get(json_object_get(out, "data"), "visit");
    CHECK_STR(jstr(gv, "status"), "COMPLETED");
    CHECK_STR(jstr(json_object_get(gv, "member"), "id"), m);
    CHECK_STR(jstr(json_object_get(gv, "homeClub"), "slug"), slug[0]);
    CHECK_STR(jstr(json_object_get(gv, "hostClub"), "slug"), slug[1]);
    json_decref(out);
}

static void test_one_process(void) {
    e2e_proc_t p;
    REQUIRE(e2e_start(&p, NULL, 0, 1, g_env) == 0);
    REQUIRE(e2e_login_admin(&p, NULL, NULL) == 0);
    walk(&p, "one", 0);
    CHECK_EQ_INT(e2e_stop(&p), 0);
}

static void test_split(void) {
    e2e_proc_t svc, svc2, ledger, rec, gw;
    REQUIRE(e2e_start(&svc, "member,auth", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&svc2, "member,auth", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&ledger, "ledger", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&rec, "reciprocal", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&gw, "gateway", 0, 1, g_env) == 0);
    REQUIRE(e2e_login_admin(&gw, NULL, NULL) == 0);
    walk(&gw, "split", 1);
    CHECK_EQ_INT(e2e_stop(&gw), 0);
    CHECK_EQ_INT(e2e_stop(&rec), 0);
    CHECK_EQ_INT(e2e_stop(&ledger), 0);
    CHECK_EQ_INT(e2e_stop(&svc2), 0);
    CHECK_EQ_INT(e2e_stop(&svc), 0);
}

int main(void) {
    RUN(test_one_process);
    RUN(test_split);
    TEST_DONE();
}
