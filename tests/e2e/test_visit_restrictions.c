/* End-to-end: reciprocity suspensions and visitor bans through the real binary. Clubs A (home),
 * B and C (hosts under active agreements with A), D (no party). A's administrator suspends a
 * member's reciprocity at B until a date: the member's requested and approved visits at B up to
 * that date are cancelled in the same transaction (the letter revoked, the history naming the
 * cause), the visit at C and the one after the date stay; a new request at B is refused 422
 * reciprocity_suspended, at C admitted; lifting admits again. A suspension everywhere cancels a
 * confirmed visit at C. B bans a visitor: their visits at B are cancelled, a request refused 422
 * visitor_banned. Isolation: a suspension is listed by the home club only, a ban by the host
 * only; club D and the other party see nothing and cannot lift (404); a member and staff 403.
 * The rule at confirmation and at check-in (a restriction written beside a visit, as a
 * concurrent creation could leave it): 422, then 200 after the lift. Events carry ids only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "services/reciprocal/loi.h"
#include "support/e2e.h"
#include "test.h"

#define AS_OF "2030-01-01T00:00:00Z"

static e2e_proc_t g_proc;
static char g_club[4][64], g_slug[4][64], g_admin[4][4096], g_staff[4096], g_member_tok[4096];
static char g_m1[64], g_m2[64], g_m3[64], g_m1_user[64];
static const char g_pw[] = "Marmalade-Harbour-77";

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}
static const char *err_code(json_t *j) {
    return jstr(json_object_get(j, "error"), "code");
}

static int req(const char *as, const char *method, const char *path, const char *body,
               e2e_resp_t *r) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    return e2e_http_as(as ? as : e2e_bearer(), method, url, body ? "application/json" : NULL, body,
                       r);
}

/* method path body as `as`: status, *out the body (may be NULL). */
static long call(const char *as, const char *method, const char *path, const char *body,
                 json_t **out) {
    e2e_resp_t r;
    if (req(as, method, path, body, &r) != 0) return -1;
    long st = r.status;
    if (out) *out = json_incref(r.json);
    e2e_resp_free(&r);
    return st;
}

/* One SQL statement as the owner in the network administrator's (and the relay's) scope; first
 * gets the first column of the first row ("" when none). */
static int owner_exec(const char *sql, int n, const char *const *p, char *first, size_t cap) {
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    if (!db) return -1;
    db_scope_t s = {.network_admin = 1};
    db_tx_t *tx = NULL;
    int rc = -1;
    if (db_begin(db, &s, &tx, &e) == 0) {
        /* the outbox is readable in the relay's scope only */
        PGresult *r = db_exec(tx, "SELECT set_config('app.relay', 'on', true)", 0, NULL, &e);
        PQclear(r);
        r = db_exec(tx, sql, n, p, &e);
        if (r) {
            if (first && cap)
                snprintf(first, cap, "%s",
                         PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "");
            PQclear(r);
            rc = db_commit(tx, &e);
        } else {
            printf("#   owner_exec: %s\n", e.message);
            db_rollback(tx);
        }
    }
    db_pool_close(db);
    return rc;
}

static int account(int club, const char *role, char *uid, char *tok) {
    char email[128];
    snprintf(email, sizeof email, "restrict-%s-%d-%d@example.test", role, club, (int)getpid());
    return e2e_account(&g_proc, g_club[club], g_slug[club], email, role, g_pw, uid, tok);
}

/* An active full member of club A (linked to user or not). */
static int member(const char *user, char id[64]) {
    return e2e_member(&g_proc, g_club[0], "full", user, 1, "Res", "Tricted", id);
}

static int agreement(int host) {
    return e2e_agreement(&g_proc, g_club[0], g_club[host],
                         "{\"max_visits_month\":20,\"max_days_year\":60}");
}

static void test_start(void) {
    static const char *const env[] = {
        "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    srand((unsigned)getpid());
    for (int i = 0; i < 4; i++) {
        char name[16], uid[64];
        snprintf(g_slug[i], sizeof g_slug[i], "restrict-%c-%d", 'a' + i, (int)getpid());
        snprintf(name, sizeof name, "Club %c", 'A' + i);
        REQUIRE(e2e_club(&g_proc, name, g_slug[i],
                         "\"timezone\":\"Europe/London\",\"address\":{\"country\":\"GB\"},"
                         "\"facilities\":[\"dining\"]",
                         g_club[i]) == 0);
        REQUIRE(account(i, "club_admin", uid, g_admin[i]) == 0);
    }
    char uid[64];
    REQUIRE(account(0, "club_staff", uid, g_staff) == 0);
    REQUIRE(account(0, "member", g_m1_user, g_member_tok) == 0);
    REQUIRE(member(g_m1_user, g_m1) == 0);
    REQUIRE(member(NULL, g_m2) == 0);
    REQUIRE(member(NULL, g_m3) == 0);
    REQUIRE(agreement(1) == 0);
    REQUIRE(agreement(2) == 0);
}

/* A visit of member at host (requested; then approved / confirmed when asked). */
static void visit(const char *member_id, int host, const char *arrive, const char *upto,
                  char id[64]) {
    char body[1024], path[256];
    json_t *v = NULL;
    id[0] = 0;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":"
             "\"%s\",\"depart_on\":\"%s\",\"as_of\":\"" AS_OF "\"}",
             g_club[0], member_id, g_club[host], arrive, arrive);
    long st = call(NULL, "POST", "/api/v1/visits", body, &v);
    if (st != 201) printf("#   visit %s: %ld %s\n", arrive, st, err_code(v));
    CHECK_EQ_INT(st, 201);
    if (st == 201) snprintf(id, 64, "%s", jstr(v, "id"));
    json_decref(v);
    if (!id[0] || strcmp(upto, "requested") == 0) return;
    snprintf(path, sizeof path, "/api/v1/visits/%s/approve", id);
    CHECK_EQ_INT(call(g_admin[0], "POST", path, "{}", NULL), 200);
    if (strcmp(upto, "approved") == 0) return;
    snprintf(path, sizeof path, "/api/v1/visits/%s/confirm", id);
    CHECK_EQ_INT(call(g_admin[host], "POST", path, "{}", NULL), 200);
}

/* A request that must be refused with code (NULL: admitted, 201). */
static void request(const char *member_id, int host, const char *arrive, const char *code) {
    char body[1024];
    json_t *v = NULL;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":"
             "\"%s\",\"depart_on\":\"%s\",\"as_of\":\"" AS_OF "\"}",
             g_club[0], member_id, g_club[host], arrive, arrive);
    long st = call(NULL, "POST", "/api/v1/visits", body, &v);
    if (code) {
        CHECK_EQ_INT(st, 422);
        CHECK_STR(err_code(v), code);
        CHECK_STR(jstr(json_object_get(v, "error"), "field"), "member_id");
    } else {
        if (st != 201) printf("#   request %s: %ld %s\n", arrive, st, err_code(v));
        CHECK_EQ_INT(st, 201);
    }
    json_decref(v);
}

static json_t *get_visit(const char *id) {
    char path[256];
    json_t *v = NULL;
    snprintf(path, sizeof path, "/api/v1/visits/%s", id);
    CHECK_EQ_INT(call(NULL, "GET", path, NULL, &v), 200);
    return v;
}

static void expect_status(const char *id, const char *status) {
    json_t *v = get_visit(id);
    if (!jstr(v, "status") || strcmp(jstr(v, "status"), status) != 0)
        printf("#   visit %s is %s (want %s)\n", id, jstr(v, "status"), status);
    CHECK_STR(jstr(v, "status"), status);
    json_decref(v);
}

static int in_ids(json_t *ids, const char *id) {
    size_t i;
    json_t *x;
    json_array_foreach(ids, i, x) {
        if (json_is_string(x) && strcmp(json_string_value(x), id) == 0) return 1;
    }
    return 0;
}

static size_t list_count(const char *as, const char *path) {
    json_t *v = NULL;
    long st = call(as, "GET", path, NULL, &v);
    CHECK_EQ_INT(st, 200);
    size_t n = json_array_size(json_object_get(v, "items"));
    json_decref(v);
    return n;
}

static char g_susp[64];

/* A suspends m1 at B until 2030-03-01: B's requested and approved visits up to that day are
 * cancelled (the letter revoked), C's and the later one stay; requests at B refused; lift. */
static void test_suspension_at_one_club(void) {
    char v1[64], v2[64], v3[64], v4[64], body[512], path[256];
    visit(g_m1, 1, "2030-02-04", "requested", v1);
    visit(g_m1, 1, "2030-02-11", "approved", v2);
    visit(g_m1, 2, "2030-02-18", "confirmed", v3);
    visit(g_m1, 1, "2030-03-20", "requested", v4);
    json_t *s = NULL;
    /* malformed / invalid / not the club's member */
    CHECK_EQ_INT(call(g_admin[0], "POST", "/api/v1/reciprocity-suspensions", "{}", &s), 400);
    CHECK_STR(jstr(json_object_get(s, "error"), "field"), "member_id");
    json_decref(s);
    snprintf(body, sizeof body, "{\"member_id\":\"%s\"}", g_m1);
    CHECK_EQ_INT(call(g_admin[0], "POST", "/api/v1/reciprocity-suspensions", body, &s), 400);
    CHECK_STR(jstr(json_object_get(s, "error"), "field"), "reason");
    json_decref(s);
    snprintf(body, sizeof body,
             "{\"member_id\":\"%s\",\"reason\":\"x\",\"ends_on\":\"2030-13-01\"}", g_m1);
    CHECK_EQ_INT(call(g_admin[0], "POST", "/api/v1/reciprocity-suspensions", body, &s), 422);
    CHECK_STR(jstr(json_object_get(s, "error"), "field"), "ends_on");
    json_decref(s);
    snprintf(body, sizeof body, "{\"member_id\":\"%s\",\"reason\":\"x\",\"host_club_id\":\"%s\"}",
             g_m1, g_club[0]);
    CHECK_EQ_INT(call(g_admin[0], "POST", "/api/v1/reciprocity-suspensions", body, &s), 422);
    CHECK_STR(jstr(json_object_get(s, "error"), "field"), "host_club_id");
    json_decref(s);
    snprintf(body, sizeof body, "{\"member_id\":\"%s\",\"reason\":\"x\"}", g_m1);
    CHECK_EQ_INT(call(g_admin[1], "POST", "/api/v1/reciprocity-suspensions", body, NULL), 404);
    CHECK_EQ_INT(call(g_staff, "POST", "/api/v1/reciprocity-suspensions", body, NULL), 403);
    CHECK_EQ_INT(call(g_member_tok, "POST", "/api/v1/reciprocity-suspensions", body, NULL), 403);
    /* the suspension */
    snprintf(body, sizeof body,
             "{\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"reason\":\"unpaid bar bill\","
             "\"ends_on\":\"2030-03-01\"}",
             g_m1, g_club[1]);
    long st = call(g_admin[0], "POST", "/api/v1/reciprocity-suspensions", body, &s);
    if (st != 201) printf("#   %s\n", err_code(s));
    REQUIRE(st == 201);
    snprintf(g_susp, sizeof g_susp, "%s", jstr(s, "id"));
    CHECK_STR(jstr(s, "kind"), "suspension");
    CHECK_STR(jstr(s, "status"), "active");
    CHECK_STR(jstr(s, "scope"), "club");
    CHECK_STR(jstr(s, "home_club_id"), g_club[0]);
    CHECK_STR(jstr(s, "host_club_id"), g_club[1]);
    CHECK_STR(jstr(s, "ends_on"), "2030-03-01");
    CHECK_STR(jstr(s, "reason"), "unpaid bar bill");
    CHECK(jstr(s, "created_by") != NULL && jstr(s, "created_at") != NULL);
    json_t *ids = json_object_get(s, "cancelled_visits");
    CHECK_EQ_INT(json_array_size(ids), 2);
    CHECK(in_ids(ids, v1) && in_ids(ids, v2));
    json_decref(s);
    expect_status(v1, "cancelled");
    expect_status(v3, "confirmed");
    expect_status(v4, "requested");
    json_t *v = get_visit(v2);
    CHECK_STR(jstr(v, "status"), "cancelled");
    CHECK(json_is_true(json_object_get(json_object_get(v, "loi"), "revoked")));
    json_t *h = json_object_get(v, "history");
    json_t *last = json_array_get(h, json_array_size(h) - 1);
    CHECK_STR(jstr(last, "action"), "cancel");
    CHECK_STR(jstr(last, "reason"), "reciprocity suspended by the home club");
    CHECK_STR(jstr(last, "club_id"), g_club[0]);
    json_decref(v);
    /* requests: refused at B up to the last day, admitted at C and after it */
    request(g_m1, 1, "2030-02-20", "reciprocity_suspended");
    request(g_m1, 1, "2030-03-01", "reciprocity_suspended");
    request(g_m1, 2, "2030-02-25", NULL);
    request(g_m1, 1, "2030-03-02", NULL);
    /* events: ids only, never the reason */
    char data[4096];
    const char *pe[] = {g_susp};
    REQUIRE(owner_exec("SELECT payload::text FROM reciprocal.outbox WHERE type = "
                       "'reciprocal.suspension_created' AND payload::text LIKE '%' || $1 || '%'",
                       1, pe, data, sizeof data) == 0);
    CHECK(strstr(data, g_m1) != NULL);
    CHECK(strstr(data, "unpaid") == NULL);
    const char *pv[] = {v2};
    REQUIRE(owner_exec("SELECT string_agg(type, ',' ORDER BY seq) FROM reciprocal.outbox WHERE "
                       "payload::text LIKE '%' || $1 || '%'",
                       1, pv, data, sizeof data) == 0);
    CHECK(strstr(data, "visit.cancelled") != NULL && strstr(data, "loi.revoked") != NULL);
    /* lift: A only; then B admits again */
    snprintf(path, sizeof path, "/api/v1/reciprocity-suspensions/%s/lift", g_susp);
    CHECK_EQ_INT(call(g_admin[1], "POST", path, "{}", NULL), 404);
    CHECK_EQ_INT(call(g_admin[3], "POST", path, "{}", NULL), 404);
    REQUIRE(call(g_admin[0], "POST", path, "{\"reason\":\"paid\"}", &s) == 200);
    CHECK_STR(jstr(s, "status"), "lifted");
    CHECK_STR(jstr(s, "lift_reason"), "paid");
    CHECK(jstr(s, "lifted_at") != NULL && jstr(s, "lifted_by") != NULL);
    json_decref(s);
    CHECK_EQ_INT(call(g_admin[0], "POST", path, "{}", &s), 409);
    json_decref(s);
    CHECK_EQ_INT(call(g_admin[0], "POST", "/api/v1/reciprocity-suspensions/nope/lift", "{}", NULL),
                 404);
    request(g_m1, 1, "2030-02-20", NULL);
    const char *pl[] = {g_susp};
    REQUIRE(owner_exec("SELECT count(*) FROM reciprocal.outbox WHERE type = "
                       "'reciprocal.suspension_lifted' AND payload::text LIKE '%' || $1 || '%'",
                       1, pl, data, sizeof data) == 0);
    CHECK_STR(data, "1");
}

/* A suspension everywhere cancels a confirmed visit at C and refuses B and C. */
static void test_suspension_everywhere(void) {
    char v5[64], body[512];
    visit(g_m2, 2, "2030-04-01", "confirmed", v5);
    json_t *s = NULL;
    snprintf(body, sizeof body, "{\"member_id\":\"%s\",\"reason\":\"disciplinary\"}", g_m2);
    REQUIRE(call(g_admin[0], "POST", "/api/v1/reciprocity-suspensions", body, &s) == 201);
    CHECK_STR(jstr(s, "scope"), "everywhere");
    CHECK(json_is_null(json_object_get(s, "host_club_id")));
    CHECK(json_is_null(json_object_get(s, "ends_on")));
    CHECK_EQ_INT(json_array_size(json_object_get(s, "cancelled_visits")), 1);
    json_decref(s);
    expect_status(v5, "cancelled");
    request(g_m2, 1, "2030-04-10", "reciprocity_suspended");
    request(g_m2, 2, "2030-04-10", "reciprocity_suspended");
}

/* Only the home club lists its suspensions; filters; paging. */
static void test_suspension_isolation(void) {
    CHECK_EQ_INT(list_count(g_admin[0], "/api/v1/reciprocity-suspensions"), 2);
    CHECK_EQ_INT(list_count(g_admin[0], "/api/v1/reciprocity-suspensions?status=active"), 1);
    CHECK_EQ_INT(list_count(g_admin[0], "/api/v1/reciprocity-suspensions?status=lifted"), 1);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/reciprocity-suspensions?member_id=%s", g_m1);
    CHECK_EQ_INT(list_count(g_admin[0], path), 1);
    CHECK_EQ_INT(list_count(g_admin[1], "/api/v1/reciprocity-suspensions"), 0);
    CHECK_EQ_INT(list_count(g_admin[3], "/api/v1/reciprocity-suspensions"), 0);
    json_t *v = NULL;
    CHECK_EQ_INT(call(g_admin[0], "GET", "/api/v1/reciprocity-suspensions?limit=1", NULL, &v), 200);
    const char *next = jstr(v, "next_cursor");
    REQUIRE(next != NULL);
    snprintf(path, sizeof path, "/api/v1/reciprocity-suspensions?limit=1&after=%s", next);
    json_decref(v);
    CHECK_EQ_INT(list_count(g_admin[0], path), 1);
    CHECK_EQ_INT(call(g_admin[0], "GET", "/api/v1/reciprocity-suspensions?status=x", NULL, NULL),
                 422);
    CHECK_EQ_INT(call(g_member_tok, "GET", "/api/v1/reciprocity-suspensions", NULL, NULL), 403);
    CHECK_EQ_INT(call(g_staff, "GET", "/api/v1/reciprocity-suspensions", NULL, NULL), 403);
}

/* B bans m1: m1's open visits at B cancelled, requests refused; only B sees and lifts it. */
static void test_ban(void) {
    char v6[64], body[512], path[256];
    visit(g_m1, 1, "2030-05-04", "confirmed", v6);
    json_t *s = NULL;
    snprintf(body, sizeof body, "{\"member_id\":\"%s\",\"reason\":\"conduct at the bar\"}", g_m1);
    long st = call(g_admin[1], "POST", "/api/v1/visitor-bans", body, &s);
    if (st != 201) printf("#   ban: %s\n", err_code(s));
    REQUIRE(st == 201);
    char ban[64];
    snprintf(ban, sizeof ban, "%s", jstr(s, "id"));
    CHECK_STR(jstr(s, "kind"), "ban");
    CHECK_STR(jstr(s, "host_club_id"), g_club[1]);
    CHECK_STR(jstr(s, "status"), "active");
    json_t *ids = json_object_get(s, "cancelled_visits");
    CHECK(in_ids(ids, v6));
    CHECK_EQ_INT(json_array_size(ids), 4); /* v4, 2030-03-02, 2030-02-20 and v6 */
    json_decref(s);
    expect_status(v6, "cancelled");
    json_t *v = get_visit(v6);
    json_t *h = json_object_get(v, "history");
    json_t *last = json_array_get(h, json_array_size(h) - 1);
    CHECK_STR(jstr(last, "reason"), "visitor banned by the host club");
    CHECK_STR(jstr(last, "club_id"), g_club[1]);
    json_decref(v);
    request(g_m1, 1, "2030-05-20", "visitor_banned");
    request(g_m1, 2, "2030-05-20", NULL);
    /* isolation: the host only */
    CHECK_EQ_INT(list_count(g_admin[1], "/api/v1/visitor-bans"), 1);
    CHECK_EQ_INT(list_count(g_admin[0], "/api/v1/visitor-bans"), 0);
    CHECK_EQ_INT(list_count(g_admin[3], "/api/v1/visitor-bans"), 0);
    CHECK_EQ_INT(list_count(NULL, "/api/v1/visitor-bans"), 1);
    CHECK_EQ_INT(list_count(g_admin[1], "/api/v1/reciprocity-suspensions"), 0);
    snprintf(path, sizeof path, "/api/v1/visitor-bans/%s/lift", ban);
    CHECK_EQ_INT(call(g_admin[0], "POST", path, "{}", NULL), 404);
    CHECK_EQ_INT(call(g_admin[3], "POST", path, "{}", NULL), 404);
    CHECK_EQ_INT(call(g_member_tok, "POST", path, "{}", NULL), 403);
    REQUIRE(call(g_admin[1], "POST", path, "{}", &s) == 200);
    CHECK_STR(jstr(s, "status"), "lifted");
    json_decref(s);
    request(g_m1, 1, "2030-05-20", NULL);
    /* a ban with a last day: over after it */
    snprintf(body, sizeof body,
             "{\"member_id\":\"%s\",\"reason\":\"x\",\"ends_on\":\"2030-06-30\"}", g_m3);
    CHECK_EQ_INT(call(g_admin[2], "POST", "/api/v1/visitor-bans", body, NULL), 201);
    request(g_m3, 2, "2030-06-30", "visitor_banned");
    request(g_m3, 2, "2030-07-01", NULL);
    /* a network administrator names the club */
    snprintf(body, sizeof body, "{\"member_id\":\"%s\",\"reason\":\"x\"}", g_m3);
    CHECK_EQ_INT(call(NULL, "POST", "/api/v1/visitor-bans", body, &s), 400);
    CHECK_STR(jstr(json_object_get(s, "error"), "field"), "club_id");
    json_decref(s);
}

static long long utc(int y, int mo, int d, int h) {
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h};
    return (long long)timegm(&tm);
}

static long door(const char *token, long long at, json_t **out) {
    char body[LOI_TOKEN_MAX + 128];
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"at\":%lld}", token, at);
    return call(NULL, "POST", "/api/v1/visits/check-in", body, out);
}

/* The rule at confirmation and at check-in: a restriction written beside the visit (as a
 * concurrent creation could leave it) refuses, its lift admits. */
static void test_confirm_and_door(void) {
    char vid[64], path[256], rid[64], tok[LOI_TOKEN_MAX + 1];
    json_t *v = NULL;
    visit(g_m3, 1, "2030-08-05", "approved", vid);
    REQUIRE(vid[0]);
    const char *pb[] = {g_club[1], g_m3};
    REQUIRE(owner_exec("INSERT INTO reciprocal.visitor_bans (host_club_id, member_id, reason) "
                       "VALUES ($1, $2, 'late') RETURNING id",
                       2, pb, rid, sizeof rid) == 0);
    snprintf(path, sizeof path, "/api/v1/visits/%s/confirm", vid);
    CHECK_EQ_INT(call(g_admin[1], "POST", path, "{}", &v), 422);
    CHECK_STR(err_code(v), "visitor_banned");
    json_decref(v);
    char lift[256];
    snprintf(lift, sizeof lift, "/api/v1/visitor-bans/%s/lift", rid);
    CHECK_EQ_INT(call(g_admin[1], "POST", lift, "{}", NULL), 200);
    REQUIRE(call(g_admin[1], "POST", path, "{}", NULL) == 200);
    v = get_visit(vid);
    snprintf(tok, sizeof tok, "%s", jstr(json_object_get(v, "loi"), "token"));
    json_decref(v);
    const char *ps[] = {g_club[0], g_m3};
    REQUIRE(owner_exec("INSERT INTO reciprocal.suspensions (home_club_id, member_id, reason) "
                       "VALUES ($1, $2, 'late') RETURNING id",
                       2, ps, rid, sizeof rid) == 0);
    long long at = utc(2030, 8, 5, 12);
    CHECK_EQ_INT(door(tok, at, &v), 422);
    CHECK_STR(err_code(v), "reciprocity_suspended");
    CHECK_STR(jstr(json_object_get(v, "error"), "field"), "token");
    json_decref(v);
    snprintf(lift, sizeof lift, "/api/v1/reciprocity-suspensions/%s/lift", rid);
    CHECK_EQ_INT(call(g_admin[0], "POST", lift, "{}", NULL), 200);
    CHECK_EQ_INT(door(tok, at, &v), 200);
    CHECK_STR(jstr(v, "status"), "checked_in");
    json_decref(v);
}

/* POST /graphql {"query", "variables"} as `as`: the data object (new reference) or NULL. */
static json_t *gql(const char *as, const char *q, json_t *vars) {
    json_t *body = json_pack("{s:s}", "query", q), *v = NULL;
    if (vars) json_object_set_new(body, "variables", vars);
    char *s = json_dumps(body, JSON_COMPACT);
    long st = call(as, "POST", "/graphql", s, &v);
    free(s);
    json_decref(body);
    json_t *data = st == 200 ? json_incref(json_object_get(v, "data")) : NULL;
    if (!data || json_object_get(v, "errors")) {
        char *dump = json_dumps(v, 0);
        printf("#   graphql: %ld %s\n", st, dump ? dump : "");
        free(dump);
    }
    json_decref(v);
    return data;
}

static size_t edges(json_t *data, const char *field) {
    return json_array_size(json_object_get(json_object_get(data, field), "edges"));
}

/* GraphQL mirrors REST: suspend, list (home only), lift; ban, list (host only), lift; a
 * refusal is a userError with REST's code. */
static void test_graphql(void) {
    static const char *const suspend =
        "mutation($i: SuspendReciprocityInput!) { suspendReciprocity(input: $i) { suspension { "
        "id status scope hostClubId endsOn reason cancelledVisits } userErrors { field code } } }";
    json_t *d = gql(g_admin[0], suspend,
                    json_pack("{s:{s:s, s:s, s:s, s:s}}", "i", "memberId", g_m2, "hostClubId",
                              g_club[1], "reason", "gql", "endsOn", "2031-01-01"));
    json_t *s = json_object_get(json_object_get(d, "suspendReciprocity"), "suspension");
    REQUIRE(json_is_object(s));
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(s, "id"));
    CHECK_STR(jstr(s, "status"), "ACTIVE");
    CHECK_STR(jstr(s, "scope"), "club");
    CHECK_STR(jstr(s, "hostClubId"), g_club[1]);
    CHECK_STR(jstr(s, "endsOn"), "2031-01-01");
    CHECK(json_is_array(json_object_get(s, "cancelledVisits")));
    json_decref(d);
    /* B is not m2's home club: not_found as a userError */
    d = gql(g_admin[1], suspend, json_pack("{s:{s:s, s:s}}", "i", "memberId", g_m2, "reason", "x"));
    json_t *ue = json_object_get(json_object_get(d, "suspendReciprocity"), "userErrors");
    CHECK_STR(jstr(json_array_get(ue, 0), "code"), "not_found");
    json_decref(d);
    static const char *const list =
        "query($s: RestrictionStatus) { reciprocitySuspensions(first: 10, status: $s) { edges { "
        "cursor node { id status memberId } } pageInfo { hasNextPage endCursor } } }";
    d = gql(g_admin[0], list, json_pack("{s:s}", "s", "ACTIVE"));
    CHECK(edges(d, "reciprocitySuspensions") >= 2);
    json_decref(d);
    d = gql(g_admin[3], list, NULL);
    CHECK_EQ_INT(edges(d, "reciprocitySuspensions"), 0);
    json_decref(d);
    d = gql(g_admin[0],
            "mutation($i: LiftRestrictionInput!) { liftReciprocitySuspension(input: $i) { "
            "suspension { status liftReason } userErrors { code } } }",
            json_pack("{s:{s:s, s:s}}", "i", "id", id, "reason", "done"));
    s = json_object_get(json_object_get(d, "liftReciprocitySuspension"), "suspension");
    CHECK_STR(jstr(s, "status"), "LIFTED");
    CHECK_STR(jstr(s, "liftReason"), "done");
    json_decref(d);
    /* bans */
    d = gql(g_admin[2],
            "mutation($i: BanVisitorInput!) { banVisitor(input: $i) { ban { id status hostClubId "
            "} userErrors { code } } }",
            json_pack("{s:{s:s, s:s}}", "i", "memberId", g_m2, "reason", "gql"));
    s = json_object_get(json_object_get(d, "banVisitor"), "ban");
    REQUIRE(json_is_object(s));
    snprintf(id, sizeof id, "%s", jstr(s, "id"));
    CHECK_STR(jstr(s, "hostClubId"), g_club[2]);
    json_decref(d);
    static const char *const bans = "{ visitorBans(first: 10) { edges { node { id } } } }";
    d = gql(g_admin[2], bans, NULL);
    CHECK(edges(d, "visitorBans") >= 1);
    json_decref(d);
    d = gql(g_admin[0], bans, NULL);
    CHECK_EQ_INT(edges(d, "visitorBans"), 0);
    json_decref(d);
    d = gql(g_admin[0],
            "mutation($i: LiftRestrictionInput!) { liftVisitorBan(input: $i) { ban { status } "
            "userErrors { code } } }",
            json_pack("{s:{s:s}}", "i", "id", id));
    ue = json_object_get(json_object_get(d, "liftVisitorBan"), "userErrors");
    CHECK_STR(jstr(json_array_get(ue, 0), "code"), "not_found");
    json_decref(d);
}

int main(void) {
    RUN(test_start);
    RUN(test_suspension_at_one_club);
    RUN(test_suspension_everywhere);
    RUN(test_suspension_isolation);
    RUN(test_ban);
    RUN(test_confirm_and_door);
    RUN(test_graphql);
    e2e_stop(&g_proc);
    TEST_DONE();
}
