/* End-to-end: visit requests through the real binary. Four clubs: A (home), B and C (hosts
 * under active agreements with A; C admits full members only and no Sundays), D (no party).
 * A request that passes every rule (201 requested), each rule's refusal (422 with its own code
 * and field: agreement, parties, member standing, category, stay, guests, facility, blackout,
 * past, notice, advance, weekday, overlap, month, year; the clock injected with as_of by the
 * network administrator), 20 simultaneous requests that together exceed the monthly limit by
 * one (exactly 19 succeed), tenant isolation (club D sees nothing; the host sees its side; a
 * member sees and requests only their own), keyset paging; the visit document planned with the
 * statement that calls it; the agreement checked without its row lock, and never removed. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/credentials/signkey.h"
#include "services/reciprocal/loi.h"
#include "support/e2e.h"
#include "test.h"

#define AS_OF "2030-01-01T00:00:00Z" /* a Tuesday */

static e2e_proc_t g_proc;
static char g_club[4][64], g_slug[4][64], g_admin[4][4096], g_member_tok[4096];
static char g_m1[64], g_m2[64], g_m3[64], g_m4[64], g_m1_user[64], g_v1[64], g_vc[64];
static const char g_pw[] = "Marmalade-Harbour-77";

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}
static const char *err_code(const e2e_resp_t *r) {
    return jstr(json_object_get(r->json, "error"), "code");
}
static const char *err_field(const e2e_resp_t *r) {
    return jstr(json_object_get(r->json, "error"), "field");
}

/* as: bearer token (NULL = the network administrator's) */
static int req(const char *as, const char *method, const char *path, const char *body,
               e2e_resp_t *r) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    return e2e_http_as(as ? as : e2e_bearer(), method, url, body ? "application/json" : NULL, body,
                       r);
}

static void day(int days, char out[16]) {
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

/* An active account of club with role, signed in (e2e_account). */
static int account(int club, const char *role, char *uid, char *tok) {
    char email[128];
    snprintf(email, sizeof email, "visits-%s-%d-%d@example.test", role, club, (int)getpid());
    return e2e_account(&g_proc, g_club[club], g_slug[club], email, role, g_pw, uid, tok);
}

/* A member of club A (category, linked user or NULL), activated when active. */
static int member(const char *category, const char *user, int active, char id[64]) {
    return e2e_member(&g_proc, g_club[0], category, user, active, "Vis", "Itor", id);
}

/* An active agreement between A and host with the host's terms (JSON object text). */
static int agreement(int host, const char *terms) {
    return e2e_agreement(&g_proc, g_club[0], g_club[host], terms);
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
        snprintf(g_slug[i], sizeof g_slug[i], "visits-%c-%d", 'a' + i, (int)getpid());
        snprintf(name, sizeof name, "Club %c", 'A' + i);
        REQUIRE(e2e_club(&g_proc, name, g_slug[i],
                         "\"timezone\":\"Europe/London\",\"address\":{\"country\":\"GB\"},"
                         "\"facilities\":[\"dining\",\"rooms\"]",
                         g_club[i]) == 0);
        REQUIRE(account(i, "club_admin", uid, g_admin[i]) == 0);
    }
    REQUIRE(account(0, "member", g_m1_user, g_member_tok) == 0);
    REQUIRE(member("full", g_m1_user, 1, g_m1) == 0);
    REQUIRE(member("full", NULL, 1, g_m2) == 0);
    REQUIRE(member("social", NULL, 1, g_m3) == 0);
    REQUIRE(member("full", NULL, 0, g_m4) == 0);
    REQUIRE(agreement(1, "{\"max_visits_month\":19,\"max_days_year\":20,\"max_days_per_stay\":3,"
                         "\"max_guests\":1,\"allowed_facilities\":[\"dining\"],\"blackouts\":[{"
                         "\"from\":\"2030-05-10\",\"to\":\"2030-05-12\"}],\"min_notice_hours\":48,"
                         "\"max_advance_days\":200}") == 0);
    REQUIRE(agreement(2, "{\"weekdays\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\"],"
                         "\"eligible_categories\":[\"full\"]}") == 0);
}

/* POST /visits as the network administrator for club A at AS_OF. */
static void visit(const char *member_id, int host, const char *arrive, const char *depart,
                  const char *extra, e2e_resp_t *r) {
    char body[1024];
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":"
             "\"%s\",\"depart_on\":\"%s\",\"as_of\":\"" AS_OF "\"%s}",
             g_club[0], member_id, g_club[host], arrive, depart, extra ? extra : "");
    if (req(NULL, "POST", "/api/v1/visits", body, r) != 0) memset(r, 0, sizeof *r);
}

static void refused(const char *member_id, int host, const char *arrive, const char *depart,
                    const char *extra, long status, const char *code, const char *field) {
    e2e_resp_t r;
    visit(member_id, host, arrive, depart, extra, &r);
    if (r.status != status || !err_code(&r) || strcmp(err_code(&r), code) != 0)
        printf("#   %s..%s %s -> %ld %s (want %s)\n", arrive, depart, extra ? extra : "", r.status,
               r.body ? r.body : "", code);
    CHECK_EQ_INT(r.status, status);
    CHECK_STR(err_code(&r), code);
    if (field) CHECK_STR(err_field(&r), field);
    e2e_resp_free(&r);
}

static void test_request(void) {
    e2e_resp_t r;
    visit(g_m1, 1, "2030-02-04", "2030-02-05", ",\"guests\":1,\"facilities\":[\"dining\"]", &r);
    if (r.status != 201) printf("#   %s\n", r.body);
    REQUIRE(r.status == 201);
    snprintf(g_v1, sizeof g_v1, "%s", jstr(r.json, "id"));
    CHECK_STR(jstr(r.json, "status"), "requested");
    CHECK_STR(jstr(r.json, "member_id"), g_m1);
    CHECK_STR(jstr(r.json, "home_club_id"), g_club[0]);
    CHECK_STR(jstr(r.json, "host_club_id"), g_club[1]);
    CHECK_STR(jstr(r.json, "host_timezone"), "Europe/London");
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "days")), 2);
    CHECK(json_is_null(json_object_get(r.json, "loi")));
    e2e_resp_free(&r);
    /* C admits no Sundays (2030-02-03), but Mondays */
    visit(g_m1, 2, "2030-02-04", "2030-02-04", NULL, &r);
    CHECK_EQ_INT(r.status, 201);
    snprintf(g_vc, sizeof g_vc, "%s", r.status == 201 ? jstr(r.json, "id") : "");
    e2e_resp_free(&r);
}

static void test_rules(void) {
    refused(g_m1, 1, "2030-02-10", "2030-02-14", NULL, 422, "stay_limit", "depart_on");
    refused(g_m1, 1, "2030-02-10", "2030-02-10", ",\"guests\":2", 422, "guest_limit", "guests");
    refused(g_m1, 1, "2030-02-10", "2030-02-10", ",\"facilities\":[\"dining\",\"rooms\"]", 422,
            "facility_not_allowed", "facilities[1]");
    refused(g_m1, 1, "2030-05-09", "2030-05-10", NULL, 422, "blackout", "arrive_on");
    refused(g_m1, 1, "2030-01-02", "2030-01-02", NULL, 422, "notice", "arrive_on");
    refused(g_m1, 1, "2030-08-01", "2030-08-01", NULL, 422, "advance", "arrive_on");
    refused(g_m1, 1, "2029-12-31", "2029-12-31", NULL, 422, "in_the_past", "arrive_on");
    refused(g_m1, 2, "2030-02-02", "2030-02-03", NULL, 422, "weekday", "arrive_on");
    refused(g_m3, 2, "2030-02-05", "2030-02-05", NULL, 422, "category_not_eligible", "member_id");
    refused(g_m4, 1, "2030-02-05", "2030-02-05", NULL, 422, "member_not_active", "member_id");
    refused(g_m1, 3, "2030-02-05", "2030-02-05", NULL, 422, "not_parties", "host_club_id");
    refused(g_m1, 0, "2030-02-05", "2030-02-05", NULL, 422, "not_parties", "host_club_id");
    refused(g_m1, 1, "2026-01-01", "2026-01-01", NULL, 422, "agreement_not_active", "arrive_on");
    refused(g_m1, 1, "2030-02-05", "2030-02-06", NULL, 422, "overlapping_visit", "arrive_on");
    refused(g_m1, 1, "2030-02-07", "2030-02-06", NULL, 422, "invalid_field", "depart_on");
    /* malformed: 400 naming the field */
    e2e_resp_t r;
    REQUIRE(req(NULL, "POST", "/api/v1/visits", "{\"arrive_on\":\"2030-02-05\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK_STR(err_field(&r), "host_club_id");
    e2e_resp_free(&r);
    /* only a network administrator injects the clock */
    char body[512];
    snprintf(body, sizeof body,
             "{\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":\"2030-02-05\","
             "\"depart_on\":\"2030-02-05\",\"as_of\":\"" AS_OF "\"}",
             g_m1, g_club[1]);
    REQUIRE(req(g_admin[0], "POST", "/api/v1/visits", body, &r) == 0);
    CHECK_EQ_INT(r.status, 403);
    CHECK_STR(err_field(&r), "as_of");
    e2e_resp_free(&r);
}

static int g_ok, g_limited;
static char g_round_member[64];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void *one_request(void *arg) {
    char date[16];
    snprintf(date, sizeof date, "2030-03-%02d", (int)(long)arg);
    e2e_resp_t r;
    visit(g_round_member, 1, date, date, NULL, &r);
    pthread_mutex_lock(&g_mu);
    if (r.status == 201) g_ok++;
    if (r.status == 422 && err_code(&r) && strcmp(err_code(&r), "monthly_limit") == 0) g_limited++;
    if (r.status != 201 && r.status != 422) printf("#   %ld %s\n", r.status, r.body);
    pthread_mutex_unlock(&g_mu);
    e2e_resp_free(&r);
    return NULL;
}

/* 20 simultaneous one-day requests of one member in one month at a host admitting 19 a month:
 * exactly 19 succeed. Five rounds (fresh members), the last one g_m2's. */
static void test_concurrency(void) {
    for (int round = 0; round < 5; round++) {
        if (round < 4)
            REQUIRE(member("full", NULL, 1, g_round_member) == 0);
        else
            snprintf(g_round_member, sizeof g_round_member, "%s", g_m2);
        g_ok = g_limited = 0;
        pthread_t th[20];
        for (long i = 0; i < 20; i++)
            REQUIRE(pthread_create(&th[i], NULL, one_request, (void *)(i + 1)) == 0);
        for (int i = 0; i < 20; i++)
            pthread_join(th[i], NULL);
        CHECK_EQ_INT(g_ok, 19);
        CHECK_EQ_INT(g_limited, 1);
    }
    /* the month is full; the year (20 days) has one day left */
    refused(g_m2, 1, "2030-03-25", "2030-03-25", NULL, 422, "monthly_limit", "arrive_on");
    refused(g_m2, 1, "2030-04-01", "2030-04-02", NULL, 422, "yearly_limit", "depart_on");
    e2e_resp_t r;
    visit(g_m2, 1, "2030-04-01", "2030-04-01", NULL, &r);
    CHECK_EQ_INT(r.status, 201);
    e2e_resp_free(&r);
}

static int count_items(const char *as, const char *query, const char *only_member) {
    char path[512];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/visits%s", query);
    if (req(as, "GET", path, NULL, &r) != 0) return -1;
    if (r.status != 200) printf("#   GET %s -> %ld %s\n", path, r.status, r.body);
    json_t *items = json_object_get(r.json, "items");
    int n = r.status == 200 ? (int)json_array_size(items) : -1;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (only_member && strcmp(jstr(it, "member_id"), only_member) != 0) n = -2;
    }
    e2e_resp_free(&r);
    return n;
}

static void test_isolation(void) {
    char path[256], body[512], soon[16];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/visits/%s", g_v1);
    /* D is no party: it sees nothing */
    REQUIRE(req(g_admin[3], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    e2e_resp_free(&r);
    CHECK_EQ_INT(count_items(g_admin[3], "", NULL), 0);
    /* the host sees its side, C only its own visit */
    REQUIRE(req(g_admin[1], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "history")), 1);
    e2e_resp_free(&r);
    CHECK_EQ_INT(count_items(g_admin[1], "?side=host&limit=100", NULL), 97);
    CHECK_EQ_INT(count_items(g_admin[1], "?side=home", NULL), 0);
    CHECK_EQ_INT(count_items(g_admin[2], "?limit=100", NULL), 1);
    CHECK_EQ_INT(count_items(g_admin[0], "?side=home&limit=100", NULL), 98);
    CHECK_EQ_INT(count_items(g_admin[0], "?limit=100&from=2030-03-01&to=2030-03-31", NULL), 95);
    char q[256];
    snprintf(q, sizeof q, "?member_id=%s", g_m1);
    CHECK_EQ_INT(count_items(g_admin[0], q, g_m1), 2);
    /* a member sees only their own visits, and requests for themself */
    CHECK_EQ_INT(count_items(g_member_tok, "?limit=100", g_m1), 2);
    day(10, soon);
    snprintf(body, sizeof body,
             "{\"host_club_id\":\"%s\",\"arrive_on\":\"%s\",\"depart_on\":\"%s\"}", g_club[1], soon,
             soon);
    REQUIRE(req(g_member_tok, "POST", "/api/v1/visits", body, &r) == 0);
    if (r.status != 201) printf("#   %s\n", r.body);
    CHECK_EQ_INT(r.status, 201);
    CHECK_STR(jstr(r.json, "member_id"), g_m1);
    e2e_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":\"%s\",\"depart_on\":"
             "\"%s\"}",
             g_m2, g_club[1], soon, soon);
    REQUIRE(req(g_member_tok, "POST", "/api/v1/visits", body, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    e2e_resp_free(&r);
    REQUIRE(req(g_member_tok, "GET", "/api/v1/visits?member_id=x", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 422);
    e2e_resp_free(&r);
    CHECK_EQ_INT(count_items(g_member_tok, "?limit=100", g_m1), 3);
    /* another member's visit is not found for a member */
    REQUIRE(req(g_admin[0], "GET", "/api/v1/visits?limit=1&from=2030-03-01", NULL, &r) == 0);
    snprintf(path, sizeof path, "/api/v1/visits/%s",
             jstr(json_array_get(json_object_get(r.json, "items"), 0), "id"));
    e2e_resp_free(&r);
    REQUIRE(req(g_member_tok, "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    e2e_resp_free(&r);
    /* staff of A request for their member on real dates */
    day(20, soon);
    snprintf(body, sizeof body,
             "{\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":\"%s\",\"depart_on\":"
             "\"%s\"}",
             g_m1, g_club[1], soon, soon);
    REQUIRE(req(g_admin[0], "POST", "/api/v1/visits", body, &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    e2e_resp_free(&r);
}

static void test_paging(void) {
    char path[512], seen[128][40];
    int n = 0;
    const char *after = NULL;
    char cur[512] = "";
    for (int page = 0; page < 20; page++) {
        e2e_resp_t r;
        snprintf(path, sizeof path, "/api/v1/visits?side=home&limit=20%s%s", after ? "&after=" : "",
                 after ? cur : "");
        REQUIRE(req(g_admin[0], "GET", path, NULL, &r) == 0);
        REQUIRE(r.status == 200);
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r.json, "items"), i, it) {
            for (int k = 0; k < n; k++)
                CHECK(strcmp(seen[k], jstr(it, "id")) != 0);
            if (n < 128) snprintf(seen[n++], 40, "%s", jstr(it, "id"));
        }
        const char *next = jstr(r.json, "next_cursor");
        if (next) snprintf(cur, sizeof cur, "%s", next);
        after = next ? cur : NULL;
        e2e_resp_free(&r);
        if (!after) break;
    }
    CHECK_EQ_INT(n, 100);
    e2e_resp_t r;
    REQUIRE(req(g_admin[0], "GET", "/api/v1/visits?after=bogus", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    e2e_resp_free(&r);
}

/* POST /visits/{id}/<action> as `as`: the status, *out (may be NULL) the body. */
static long act(const char *as, const char *id, const char *action, const char *body,
                json_t **out) {
    char path[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/visits/%s/%s", id, action);
    if (req(as, "POST", path, body ? body : "{}", &r) != 0) return -1;
    long st = r.status;
    if (out) *out = json_incref(r.json);
    e2e_resp_free(&r);
    return st;
}

/* approve (home), confirm (host), decline, cancel, revoke; the letter; who may do what. */
static void test_flow(void) {
    json_t *v = NULL;
    /* the host does not approve; club D sees nothing; confirm before approval is illegal */
    CHECK_EQ_INT(act(g_admin[1], g_v1, "approve", NULL, NULL), 403);
    CHECK_EQ_INT(act(g_admin[3], g_v1, "approve", NULL, NULL), 404);
    CHECK_EQ_INT(act(g_member_tok, g_v1, "approve", NULL, NULL), 403);
    CHECK_EQ_INT(act(g_admin[1], g_v1, "confirm", NULL, &v), 409);
    const char *msg = jstr(json_object_get(v, "error"), "message");
    CHECK(msg && strstr(msg, "approve, decline, cancel"));
    json_decref(v);
    /* the home club approves: the letter */
    REQUIRE(act(g_admin[0], g_v1, "approve", NULL, &v) == 200);
    CHECK_STR(jstr(v, "status"), "approved");
    json_t *loi = json_object_get(v, "loi");
    const char *token = jstr(loi, "token");
    REQUIRE(token != NULL);
    CHECK(strncmp(token, "RL1.", 4) == 0);
    CHECK_EQ_INT((long)strlen(jstr(loi, "code")), 22);
    CHECK(jstr(loi, "qr_svg") && strstr(jstr(loi, "qr_svg"), "<svg"));
    char tok[LOI_TOKEN_MAX + 1];
    snprintf(tok, sizeof tok, "%s", token);
    json_decref(v);
    CHECK_EQ_INT(act(g_admin[0], g_v1, "approve", NULL, NULL), 409);
    /* offline verification from the home club's public keys; every tampered byte fails */
    char path[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/clubs/%s/loi-keys", g_club[0]);
    REQUIRE(req("", "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    signkey_pub_t *keys = NULL;
    size_t n = 0;
    REQUIRE(signkey_set_from_json(json_object_get(r.json, "keys"), &keys, &n) == 0);
    e2e_resp_free(&r);
    CHECK_EQ_INT((long)n, 1);
    loi_t l;
    long long at = 1896480000LL; /* 2030-02-04T12:00:00Z: inside the letter */
    CHECK_EQ_INT(loi_verify(tok, keys, n, g_club[1], at, &l), LOI_OK);
    CHECK_STR(l.visit, g_v1);
    CHECK_EQ_INT(loi_verify(tok, keys, n, g_club[2], at, NULL), LOI_WRONG_HOST);
    int tampered_ok = 0;
    for (size_t i = 0; i < strlen(tok); i++) {
        char t2[LOI_TOKEN_MAX + 1];
        snprintf(t2, sizeof t2, "%s", tok);
        t2[i] = t2[i] == 'A' ? 'B' : 'A';
        if (strcmp(t2, tok) != 0 && loi_verify(t2, keys, n, g_club[1], at, NULL) == LOI_OK)
            tampered_ok++;
    }
    CHECK_EQ_INT(tampered_ok, 0);
    free(keys);
    /* the host confirms (the rules again); the home club may not */
    CHECK_EQ_INT(act(g_admin[0], g_v1, "confirm", NULL, NULL), 403);
    long cst = act(g_admin[1], g_v1, "confirm", NULL, &v);
    if (cst != 200) printf("#   confirm: %s\n", jstr(json_object_get(v, "error"), "message"));
    REQUIRE(cst == 200);
    CHECK_STR(jstr(v, "status"), "confirmed");
    json_decref(v);
    /* the home club revokes the letter: terminal */
    REQUIRE(act(g_admin[0], g_v1, "revoke", "{\"reason\":\"membership review\"}", &v) == 200);
    CHECK_STR(jstr(v, "status"), "revoked");
    CHECK(json_is_true(json_object_get(json_object_get(v, "loi"), "revoked")));
    json_decref(v);
    CHECK_EQ_INT(act(g_admin[0], g_v1, "cancel", NULL, &v), 409);
    msg = jstr(json_object_get(v, "error"), "message");
    CHECK(msg && strstr(msg, "allowed: none"));
    json_decref(v);
    /* the member cancels their own request; decline needs a reason */
    CHECK_EQ_INT(act(g_member_tok, g_vc, "cancel", NULL, NULL), 200);
    CHECK_EQ_INT(act(g_member_tok, g_vc, "cancel", NULL, NULL), 409);
    e2e_resp_t lr;
    REQUIRE(req(g_admin[1], "GET", "/api/v1/visits?side=host&status=requested&limit=1", NULL,
                &lr) == 0);
    char vid[64];
    snprintf(vid, sizeof vid, "%s",
             jstr(json_array_get(json_object_get(lr.json, "items"), 0), "id"));
    e2e_resp_free(&lr);
    CHECK_EQ_INT(act(g_member_tok, vid, "cancel", NULL, NULL), 404);
    CHECK_EQ_INT(act(g_admin[1], vid, "decline", NULL, NULL), 400);
    REQUIRE(act(g_admin[1], vid, "decline", "{\"reason\":\"house full\"}", &v) == 200);
    CHECK_STR(jstr(v, "status"), "declined");
    json_decref(v);
    snprintf(path, sizeof path, "/api/v1/visits/%s", vid);
    REQUIRE(req(g_admin[0], "GET", path, NULL, &lr) == 0);
    json_t *h = json_object_get(lr.json, "history");
    CHECK_EQ_INT(json_array_size(h), 2);
    CHECK_STR(jstr(json_array_get(h, 1), "reason"), "house full");
    CHECK_STR(jstr(json_array_get(h, 1), "club_id"), g_club[1]);
    e2e_resp_free(&lr);
}

static long long utc(int y, int mo, int d, int h) {
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h};
    return (long long)timegm(&tm);
}

/* POST path {"token", "at"?} as `as`: status, *out the body. */
static long door(const char *as, const char *path, const char *token, long long at, json_t **out) {
    char body[LOI_TOKEN_MAX + 128], atf[48] = "";
    e2e_resp_t r;
    if (at) snprintf(atf, sizeof atf, ",\"at\":%lld", at);
    snprintf(body, sizeof body, "{\"token\":\"%s\"%s}", token, atf);
    *out = NULL;
    if (req(as, "POST", path, body, &r) != 0) return -1;
    long st = r.status;
    *out = json_incref(r.json);
    e2e_resp_free(&r);
    return st;
}

static void expect_reason(const char *as, const char *token, long long at, const char *reason) {
    json_t *v = NULL;
    CHECK_EQ_INT(door(as, "/api/v1/lois/verify", token, at, &v), 200);
    if (!jstr(v, "reason") || strcmp(jstr(v, "reason"), reason) != 0)
        printf("#   verify: %s (want %s)\n", jstr(v, "reason"), reason);
    CHECK_STR(jstr(v, "reason"), reason);
    CHECK_EQ_INT(json_is_true(json_object_get(v, "valid")), strcmp(reason, "ok") == 0);
    json_decref(v);
}

/* verify and check-in at the door, check-out. */
static void test_door(void) {
    e2e_resp_t r;
    json_t *v = NULL;
    visit(g_m1, 1, "2030-06-03", "2030-06-04", ",\"facilities\":[\"dining\"]", &r);
    REQUIRE(r.status == 201);
    char id[64], tok[LOI_TOKEN_MAX + 1];
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    e2e_resp_free(&r);
    REQUIRE(act(g_admin[0], id, "approve", NULL, &v) == 200);
    snprintf(tok, sizeof tok, "%s", jstr(json_object_get(v, "loi"), "token"));
    json_decref(v);
    long long inside = utc(2030, 6, 3, 12);
    /* before confirmation the letter verifies, but check-in waits for the host */
    expect_reason(NULL, tok, inside, "ok");
    CHECK_EQ_INT(door(NULL, "/api/v1/visits/check-in", tok, inside, &v), 409);
    json_decref(v);
    REQUIRE(act(g_admin[1], id, "confirm", NULL, NULL) == 200);
    /* the answer */
    CHECK_EQ_INT(door(NULL, "/api/v1/lois/verify", tok, inside, &v), 200);
    CHECK(json_is_true(json_object_get(v, "valid")));
    CHECK_STR(jstr(json_object_get(v, "member"), "name"), "Vis Itor");
    CHECK_STR(jstr(json_object_get(v, "visit"), "id"), id);
    CHECK_EQ_INT(json_array_size(json_object_get(v, "facilities")), 1);
    CHECK(json_is_array(json_object_get(v, "restrictions")));
    json_decref(v);
    /* each refusal names its reason */
    expect_reason(g_admin[1], tok, 0, "not_yet_valid"); /* the real clock: 2026 */
    expect_reason(g_admin[2], tok, 0, "wrong_host");
    expect_reason(NULL, tok, utc(2030, 6, 5, 1), "expired");
    expect_reason(NULL, "RL1.garbage", inside, "malformed");
    char bad[LOI_TOKEN_MAX + 1];
    snprintf(bad, sizeof bad, "%s", tok);
    size_t last = strlen(bad) - 3;
    bad[last] = bad[last] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(door(NULL, "/api/v1/lois/verify", bad, inside, &v), 200);
    CHECK(json_is_false(json_object_get(v, "valid")));
    json_decref(v);
    CHECK_EQ_INT(door(g_admin[1], "/api/v1/lois/verify", tok, inside, &v), 403); /* at: admins */
    json_decref(v);
    /* check-in: only at the host, inside the window; idempotent the same day */
    CHECK_EQ_INT(door(g_admin[0], "/api/v1/visits/check-in", tok, 0, &v), 422);
    CHECK_STR(jstr(json_object_get(v, "error"), "code"), "loi_wrong_host");
    json_decref(v);
    CHECK_EQ_INT(door(g_admin[1], "/api/v1/visits/check-in", tok, 0, &v), 422);
    CHECK_STR(jstr(json_object_get(v, "error"), "code"), "loi_not_yet_valid");
    json_decref(v);
    REQUIRE(door(NULL, "/api/v1/visits/check-in", tok, inside, &v) == 200);
    CHECK_STR(jstr(v, "status"), "checked_in");
    CHECK(jstr(v, "checked_in_at") != NULL);
    char first_at[64];
    snprintf(first_at, sizeof first_at, "%s",
             jstr(v, "checked_in_at") ? jstr(v, "checked_in_at") : "");
    json_decref(v);
    /* a same-day repeat answers the stored check-in (answered from the letter read, no
     * transaction: docs/reciprocal.md "Speed"), not a second one */
    CHECK_EQ_INT(door(NULL, "/api/v1/visits/check-in", tok, inside + 3600, &v), 200);
    CHECK_STR(jstr(v, "status"), "checked_in");
    CHECK_STR(jstr(v, "checked_in_at"), first_at);
    CHECK_STR(jstr(v, "id"), id);
    json_decref(v);
    /* ... and takes no row lock: it is answered while another transaction holds the visit's row
     * (before, it waited for the lock: the client gave up after 30 s) */
    PGconn *pg = PQconnectdb(getenv("RECIPROCAL_TEST_DATABASE_URL"));
    const char *lp[] = {id};
    PQclear(PQexec(pg, "SELECT set_config('app.network_admin', 'on', false)"));
    PQclear(PQexec(pg, "BEGIN"));
    PGresult *lr =
        PQexecParams(pg, "SELECT 1 FROM reciprocal.visits WHERE id = $1::uuid FOR UPDATE", 1, NULL,
                     lp, NULL, NULL, 0);
    CHECK_EQ_INT(PQntuples(lr), 1);
    PQclear(lr);
    CHECK_EQ_INT(door(NULL, "/api/v1/visits/check-in", tok, inside + 1800, &v), 200);
    CHECK_STR(jstr(v, "checked_in_at"), first_at);
    json_decref(v);
    PQclear(PQexec(pg, "ROLLBACK"));
    PQfinish(pg);
    /* the next day (host time zone) it is no repeat: checked in already, 409 */
    CHECK_EQ_INT(door(NULL, "/api/v1/visits/check-in", tok, inside + 86400, &v), 409);
    CHECK_STR(jstr(json_object_get(v, "error"), "code"), "invalid_transition");
    json_decref(v);
    /* check-out: the host completes the visit */
    CHECK_EQ_INT(act(g_admin[0], id, "check-out", NULL, NULL), 403);
    REQUIRE(act(g_admin[1], id, "check-out", NULL, &v) == 200);
    CHECK_STR(jstr(v, "status"), "completed");
    CHECK(jstr(v, "checked_out_at") != NULL);
    json_decref(v);
    CHECK_EQ_INT(act(g_admin[1], id, "check-out", NULL, NULL), 409);
    /* after check-out the same day, a check-in is no repeat any more: 409 */
    CHECK_EQ_INT(door(NULL, "/api/v1/visits/check-in", tok, inside + 7200, &v), 409);
    CHECK_STR(jstr(json_object_get(v, "error"), "code"), "invalid_transition");
    json_decref(v);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/visits/%s", id);
    REQUIRE(req(g_admin[1], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "history")), 5);
    e2e_resp_free(&r);
    /* a revoked letter (test_flow) */
    REQUIRE(req(NULL, "GET", "/api/v1/visits?status=revoked", NULL, &r) == 0);
    const char *rt =
        jstr(json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "loi"), "token");
    if (rt) expect_reason(NULL, rt, utc(2030, 2, 4, 12), "revoked");
    CHECK(rt != NULL);
    e2e_resp_free(&r);
}

/* The outbox notifications for schema "reciprocal" waiting on a LISTEN connection. */
static int reciprocal_notifies(PGconn *l) {
    int n = 0;
    PGnotify *nt;
    PQconsumeInput(l);
    while ((nt = PQnotifies(l)) != NULL) {
        n += nt->extra && strcmp(nt->extra, "reciprocal") == 0;
        PQfreemem(nt);
    }
    return n;
}

/* A first check-in in a process whose relay publishes the reciprocal outbox sends no NOTIFY
 * (core migration 0005; visits_door.c): PostgreSQL serialises notifying commits under one lock
 * per database. The server wakes its own relay after the COMMIT, so the `visit.checked_in`
 * event is still published at once (within 1 s: the relay's full pass is 2 s away at most, and
 * the test asks for the event well inside one). */
/* A one-day visit of member 1 at host B on date, approved and confirmed: its id and letter. */
static int confirmed_visit(const char *date, char id[64], char tok[LOI_TOKEN_MAX + 1]) {
    e2e_resp_t r;
    json_t *v = NULL;
    visit(g_m1, 1, date, date, ",\"facilities\":[\"dining\"]", &r);
    int ok = r.status == 201;
    snprintf(id, 64, "%s", ok ? jstr(r.json, "id") : "");
    e2e_resp_free(&r);
    if (!ok || act(g_admin[0], id, "approve", NULL, &v) != 200) {
        json_decref(v);
        return -1;
    }
    snprintf(tok, LOI_TOKEN_MAX + 1, "%s", jstr(json_object_get(v, "loi"), "token"));
    json_decref(v);
    return act(g_admin[1], id, "confirm", NULL, NULL) == 200 ? 0 : -1;
}

static void test_door_wakes_relay(void) {
    json_t *v = NULL;
    char id[64], tok[LOI_TOKEN_MAX + 1];
    REQUIRE(confirmed_visit("2030-07-09", id, tok) == 0);
    PGconn *l = PQconnectdb(getenv("RECIPROCAL_TEST_DATABASE_URL"));
    REQUIRE(PQstatus(l) == CONNECTION_OK);
    PQclear(PQexec(l, "SELECT set_config('app.network_admin', 'on', false), "
                      "set_config('app.relay', 'on', false)"));
    PQclear(PQexec(l, "LISTEN outbox"));
    usleep(300 * 1000); /* the confirmation's event is out */
    reciprocal_notifies(l);
    CHECK_EQ_INT(door(NULL, "/api/v1/visits/check-in", tok, utc(2030, 7, 9, 12), &v), 200);
    CHECK_STR(jstr(v, "status"), "checked_in");
    json_decref(v);
    const char *p[] = {id};
    long long n = -1;
    for (int i = 0; i < 50 && n != 0; i++) { /* up to 1 s */
        usleep(20 * 1000);
        PGresult *q = PQexecParams(l,
                                   "SELECT count(*) FROM reciprocal.outbox WHERE type = "
                                   "'visit.checked_in' AND payload->'data'->>'visit_id' = $1 "
                                   "AND published_at IS NULL",
                                   1, NULL, p, NULL, NULL, 0);
        n = PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) ? atoll(PQgetvalue(q, 0, 0)) : -1;
        PQclear(q);
    }
    CHECK_EQ_INT(n, 0);                      /* the event published */
    CHECK_EQ_INT(reciprocal_notifies(l), 0); /* and no NOTIFY sent for it */
    PGresult *q = PQexecParams(l,
                               "SELECT count(*) FROM reciprocal.outbox WHERE type = "
                               "'visit.checked_in' AND payload->'data'->>'visit_id' = $1",
                               1, NULL, p, NULL, NULL, 0);
    CHECK(PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1 &&
          strcmp(PQgetvalue(q, 0, 0), "1") == 0); /* one event, written */
    PQclear(q);
    PQfinish(l);
}

/* The door builds the visit document with the letter row it reads or joins (reciprocal 0017:
 * visit_doc(v, loi_json(l))), without reciprocal.loi_doc's PL/pgSQL call: with loi_doc made to
 * raise (as the owner; restored after), the letter check, the first check-in (its move) and the
 * same-day repeat still answer, each with the letter; then, loi_doc restored, the document GET
 * answers is the check-in's letter byte for byte. On s22 the letter check and the check-in
 * answered 500 (loi_doc called). POST /visits, while loi_doc raises, answers 201 with no letter
 * (its INSERT answers visit_doc(v, NULL): on s23 500). */
static void test_door_without_loi_doc(void) {
    char id[64], tok[LOI_TOKEN_MAX + 1], path[256];
    REQUIRE(confirmed_visit("2030-07-16", id, tok) == 0);
    long long at = utc(2030, 7, 16, 12);
    PGconn *pg = PQconnectdb(getenv("RECIPROCAL_TEST_OWNER_URL"));
    REQUIRE(PQstatus(pg) == CONNECTION_OK);
    PGresult *q = PQexec(pg, "SELECT pg_get_functiondef('reciprocal.loi_doc(uuid)'::regprocedure)");
    REQUIRE(PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1);
    char *def = strdup(PQgetvalue(q, 0, 0));
    PQclear(q);
    q = PQexec(pg, "CREATE OR REPLACE FUNCTION reciprocal.loi_doc(visit uuid) RETURNS jsonb "
                   "LANGUAGE plpgsql STABLE AS $$ BEGIN RAISE EXCEPTION 'loi_doc called'; END $$");
    CHECK(PQresultStatus(q) == PGRES_COMMAND_OK);
    PQclear(q);
    json_t *ver = NULL, *in = NULL, *rep = NULL;
    CHECK_EQ_INT(door(NULL, "/api/v1/lois/verify", tok, at, &ver), 200);
    CHECK_EQ_INT(door(NULL, "/api/v1/visits/check-in", tok, at, &in), 200);
    CHECK_EQ_INT(door(NULL, "/api/v1/visits/check-in", tok, at + 60, &rep), 200);
    /* a new visit has no letter: POST /visits answers its document without loi_doc (stop 23) */
    e2e_resp_t nv;
    visit(g_m1, 1, "2030-07-17", "2030-07-17", NULL, &nv);
    CHECK_EQ_INT(nv.status, 201);
    CHECK_STR(jstr(nv.json, "status"), "requested");
    CHECK(json_is_null(json_object_get(nv.json, "loi")));
    e2e_resp_free(&nv);
    q = PQexec(pg, def); /* loi_doc as it was */
    CHECK(PQresultStatus(q) == PGRES_COMMAND_OK);
    PQclear(q);
    free(def);
    PQfinish(pg);
    json_t *loi = json_object_get(in, "loi");
    CHECK_STR(jstr(json_object_get(json_object_get(ver, "visit"), "loi"), "token"), tok);
    CHECK_STR(jstr(in, "status"), "checked_in");
    CHECK_STR(jstr(loi, "token"), tok);
    CHECK(json_is_false(json_object_get(loi, "revoked")));
    CHECK(json_equal(json_object_get(rep, "loi"), loi));
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/visits/%s", id);
    REQUIRE(req(g_admin[1], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_object_size(loi) == 6 && json_equal(json_object_get(r.json, "loi"), loi));
    e2e_resp_free(&r);
    json_decref(ver);
    json_decref(in);
    json_decref(rep);
}

/* The visit document is planned with the statement that calls it (migration 0014): visit_doc
 * and ts are inlined, so EXPLAIN VERBOSE shows jsonb_build_object and to_char where the
 * functions were called, and only the letter's loi_doc (PL/pgSQL, prepared once per session)
 * remains a call; on 0003's definitions every execution parsed and planned both bodies again
 * (docs/reciprocal.md "Documents planned once"). */
static void test_documents_inlined(void) {
    PGconn *pg = PQconnectdb(getenv("RECIPROCAL_TEST_DATABASE_URL"));
    CHECK(PQstatus(pg) == CONNECTION_OK);
    PGresult *r = PQexec(pg, "EXPLAIN (VERBOSE, COSTS OFF) SELECT reciprocal.visit_doc(v)::text "
                             "FROM reciprocal.visits v");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    char plan[8192] = "";
    size_t n = 0;
    for (int i = 0; i < PQntuples(r) && n < sizeof plan; i++)
        n += (size_t)snprintf(plan + n, sizeof plan - n, "%s\n", PQgetvalue(r, i, 0));
    PQclear(r);
    PQfinish(pg);
    CHECK(strstr(plan, "jsonb_build_object") != NULL);
    CHECK(strstr(plan, "to_char") != NULL);
    CHECK(strstr(plan, "visit_doc") == NULL);
    CHECK(strstr(plan, "reciprocal.ts(") == NULL);
    CHECK(strstr(plan, "reciprocal.loi_doc(") != NULL);
}

/* The SQLSTATE of running sql (with the one parameter p, or none) on pg, "" when it succeeded. */
static const char *sqlstate(PGconn *pg, const char *sql, const char *p, char out[8]) {
    const char *pp[] = {p};
    PGresult *q = PQexecParams(pg, sql, p ? 1 : 0, NULL, p ? pp : NULL, NULL, NULL, 0);
    const char *s = PQresultErrorField(q, PG_DIAG_SQLSTATE);
    snprintf(out, 8, "%s", PQresultStatus(q) == PGRES_FATAL_ERROR && s ? s : "");
    PQclear(q);
    return out;
}

/* A visit's agreement is checked without locking the agreement's row (reciprocal migration
 * 0018: the foreign key locked it FOR KEY SHARE on every request, one hot row per club pair):
 * POST /visits is answered while another transaction holds the agreement FOR UPDATE (with the
 * foreign key the request waits for that lock: the client gives up after 30 s). The guarantee
 * stays: a visit naming a missing agreement is refused (INSERT and UPDATE, 23503), and an
 * agreement is never deleted, truncated or given another id, even by the tables' owner. */
static void test_agreement_unlocked(void) {
    char m[64], agr[64] = "", st[8];
    REQUIRE(member("full", NULL, 1, m) == 0);
    PGconn *pg = PQconnectdb(getenv("RECIPROCAL_TEST_DATABASE_URL"));
    REQUIRE(PQstatus(pg) == CONNECTION_OK);
    PQclear(PQexec(pg, "SELECT set_config('app.network_admin', 'on', false)"));
    const char *ap[] = {g_club[0], g_club[1]};
    PGresult *q = PQexecParams(pg,
                               "SELECT id FROM reciprocal.agreements WHERE $1::uuid = ANY "
                               "(club_ids) AND $2::uuid = ANY (club_ids)",
                               2, NULL, ap, NULL, NULL, 0);
    if (PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1)
        snprintf(agr, sizeof agr, "%s", PQgetvalue(q, 0, 0));
    PQclear(q);
    REQUIRE(agr[0]);
    PQclear(PQexec(pg, "BEGIN"));
    CHECK_STR(
        sqlstate(pg, "SELECT 1 FROM reciprocal.agreements WHERE id = $1::uuid FOR UPDATE", agr, st),
        "");
    e2e_resp_t r;
    visit(m, 1, "2030-03-12", "2030-03-12", ",\"facilities\":[\"dining\"]", &r);
    CHECK_EQ_INT(r.status, 201);
    char id[64] = "";
    if (jstr(r.json, "id")) snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    CHECK_STR(jstr(r.json, "agreement_id"), agr);
    e2e_resp_free(&r);
    PQclear(PQexec(pg, "ROLLBACK"));
    /* a visit never names a missing agreement */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO reciprocal.visits (home_club_id, host_club_id, member_id, agreement_id, "
             "arrive_on, depart_on, host_timezone) VALUES ('%s', '%s', '%s', $1::uuid, "
             "'2030-03-13', '2030-03-13', 'UTC')",
             g_club[0], g_club[1], m);
    CHECK_STR(sqlstate(pg, sql, "6b1c4a52-6f0e-4d59-9d0b-2c7f1d3e9a10", st), "23503");
    CHECK_STR(sqlstate(pg, sql, agr, st), ""); /* the same row with the agreement: accepted */
    CHECK_STR(sqlstate(pg,
                       "UPDATE reciprocal.visits SET agreement_id = gen_random_uuid() WHERE id = "
                       "$1::uuid",
                       id, st),
              "23503");
    PQfinish(pg);
    /* and an agreement is never removed, not even by the tables' owner */
    PGconn *own = PQconnectdb(getenv("RECIPROCAL_TEST_OWNER_URL"));
    REQUIRE(PQstatus(own) == CONNECTION_OK);
    PQclear(PQexec(own, "SELECT set_config('app.network_admin', 'on', false)"));
    CHECK_STR(sqlstate(own, "DELETE FROM reciprocal.agreements WHERE id = $1::uuid", agr, st),
              "23503");
    CHECK_STR(sqlstate(own,
                       "UPDATE reciprocal.agreements SET id = gen_random_uuid() WHERE id = "
                       "$1::uuid",
                       agr, st),
              "23503");
    PQclear(PQexec(own, "BEGIN"));
    CHECK_STR(sqlstate(own, "TRUNCATE reciprocal.agreements CASCADE", NULL, st), "23503");
    PQclear(PQexec(own, "ROLLBACK"));
    PQfinish(own);
}

/* The agreement sweep (FOR UPDATE SKIP LOCKED) no longer skips an agreement while a visit of it
 * is being written: with the foreign key, the visit INSERT's FOR KEY SHARE made the sweep skip
 * the row, so under steady requests an expiry or termination was put off pass after pass. An
 * agreement of A and D ending 2030-01-31, a visit INSERT of it left uncommitted, the sweep as of
 * 2030-02-15 expires it (on s22's schema: 0 expired, the agreement still active). */
static void test_sweep_beside_visit(void) {
    char m[64], agr[64] = "", st[8], sql[1024];
    REQUIRE(member("full", NULL, 1, m) == 0);
    PGconn *pg = PQconnectdb(getenv("RECIPROCAL_TEST_DATABASE_URL"));
    REQUIRE(PQstatus(pg) == CONNECTION_OK);
    PQclear(PQexec(pg, "SELECT set_config('app.network_admin', 'on', false)"));
    const char *ap[] = {g_club[0], g_club[3]};
    PGresult *q = PQexecParams(
        pg,
        "INSERT INTO reciprocal.agreements (status, proposer_club_id, club_ids, starts_on, "
        "ends_on, terms) VALUES ('active', $1::uuid, ARRAY[$1::uuid, $2::uuid], '2029-01-01', "
        "'2030-01-31', '{}') RETURNING id",
        2, NULL, ap, NULL, NULL, 0);
    if (PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1)
        snprintf(agr, sizeof agr, "%s", PQgetvalue(q, 0, 0));
    PQclear(q);
    REQUIRE(agr[0]);
    PQclear(PQexec(pg, "BEGIN"));
    snprintf(sql, sizeof sql,
             "INSERT INTO reciprocal.visits (home_club_id, host_club_id, member_id, agreement_id, "
             "arrive_on, depart_on, host_timezone) VALUES ('%s', '%s', '%s', $1::uuid, "
             "'2030-01-20', '2030-01-20', 'UTC')",
             g_club[0], g_club[3], m);
    CHECK_STR(sqlstate(pg, sql, agr, st), "");
    e2e_resp_t r;
    REQUIRE(req(NULL, "POST", "/api/v1/agreements/sweep", "{\"as_of\":\"2030-02-15\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_integer_value(json_object_get(r.json, "expired")) >= 1);
    e2e_resp_free(&r);
    PQclear(PQexec(pg, "ROLLBACK"));
    const char *pp[] = {agr};
    q = PQexecParams(pg, "SELECT status FROM reciprocal.agreements WHERE id = $1::uuid", 1, NULL,
                     pp, NULL, NULL, 0);
    CHECK(PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1);
    if (PQntuples(q) == 1) CHECK_STR(PQgetvalue(q, 0, 0), "expired");
    PQclear(q);
    PQfinish(pg);
}

/* A visit requested for a new member of club 0 at club 1 on date: its id into id (0), or -1. */
static int fresh_visit(const char *date, char id[64]) {
    char m[64];
    e2e_resp_t r;
    id[0] = '\0';
    if (member("full", NULL, 1, m) != 0) return -1;
    visit(m, 1, date, date, "", &r);
    CHECK_EQ_INT(r.status, 201);
    if (jstr(r.json, "id")) snprintf(id, 64, "%s", jstr(r.json, "id"));
    e2e_resp_free(&r);
    return id[0] ? 0 : -1;
}

/* The moves are HOT (reciprocal migration 0019): no index of visits names a column a move sets
 * (status, updated_at, the check-in's and check-out's time and staff), as key, expression or
 * predicate (0003's visits_open_idx named status), so the door's UPDATE writes no index entry:
 * in one transaction of this session (its own statistics, pg_stat_xact_user_tables, no waiting
 * for another backend's report) the check-in's SET on a fresh visit counts one HOT update. */
static void test_move_hot(void) {
    char id[64], n[64] = "";
    REQUIRE(fresh_visit("2030-03-19", id) == 0);
    PGconn *pg = PQconnectdb(getenv("RECIPROCAL_TEST_DATABASE_URL"));
    REQUIRE(PQstatus(pg) == CONNECTION_OK);
    PQclear(PQexec(pg, "SELECT set_config('app.network_admin', 'on', false)"));
    PGresult *q = PQexec(
        pg, "SELECT string_agg(DISTINCT x.relname || '.' || a.attname, ' ') FROM pg_index i JOIN "
            "pg_class x ON x.oid = i.indexrelid JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum > 0 WHERE i.indrelid = 'reciprocal.visits'::regclass AND a.attname IN "
            "('status', 'updated_at', 'checked_in_at', 'checked_in_by', 'checked_out_at', "
            "'checked_out_by') AND (a.attnum = ANY (i.indkey) OR coalesce(pg_get_expr(i.indpred, "
            "i.indrelid), '') ~ ('\\m' || a.attname || '\\M') OR "
            "coalesce(pg_get_expr(i.indexprs, i.indrelid), '') ~ ('\\m' || a.attname || "
            "'\\M'))");
    CHECK(PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1);
    if (PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1) {
        if (!PQgetisnull(q, 0, 0)) printf("#   indexed: %s\n", PQgetvalue(q, 0, 0));
        CHECK(PQgetisnull(q, 0, 0));
    }
    PQclear(q);
    PQclear(PQexec(pg, "BEGIN"));
    const char *p[] = {id};
    PQclear(PQexecParams(pg,
                         "UPDATE reciprocal.visits SET status = 'checked_in', checked_in_at = "
                         "now(), checked_in_by = NULL, updated_at = now() WHERE id = $1::uuid",
                         1, NULL, p, NULL, NULL, 0));
    q = PQexec(pg, "SELECT n_tup_upd || '/' || n_tup_hot_upd FROM pg_stat_xact_user_tables "
                   "WHERE relid = 'reciprocal.visits'::regclass");
    if (PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1)
        snprintf(n, sizeof n, "%s", PQgetvalue(q, 0, 0));
    PQclear(q);
    PQclear(PQexec(pg, "ROLLBACK"));
    PQfinish(pg);
    CHECK_STR(n, "1/1"); /* updated once, HOT once */
}

/* A writer of a visit arriving one day before the sweep's floor cap (today - 2, UTC) share-locks
 * the floor's row until its COMMIT (migration 0019's trigger fires from today - 1): a sweep,
 * which takes the row FOR UPDATE first, waits for it and then sees the visit, so it never raises
 * the floor past an uncommitted early arrival (a writer's transaction across midnight UTC). */
static void test_floor_waits_for_early_writer(void) {
    char id[64], code[8] = "";
    REQUIRE(fresh_visit("2030-03-20", id) == 0);
    const char *url = getenv("RECIPROCAL_TEST_DATABASE_URL");
    PGconn *w = PQconnectdb(url), *s = PQconnectdb(url);
    REQUIRE(PQstatus(w) == CONNECTION_OK && PQstatus(s) == CONNECTION_OK);
    PQclear(PQexec(w, "SELECT set_config('app.network_admin', 'on', false)"));
    PQclear(PQexec(s, "SELECT set_config('app.network_admin', 'on', false)"));
    PQclear(PQexec(w, "BEGIN"));
    const char *p[] = {id};
    PGresult *q = PQexecParams(w,
                               "UPDATE reciprocal.visits SET arrive_on = (now() AT TIME ZONE "
                               "'UTC')::date - 2, depart_on = (now() AT TIME ZONE 'UTC')::date - "
                               "2 WHERE id = $1::uuid",
                               1, NULL, p, NULL, NULL, 0);
    CHECK(PQresultStatus(q) == PGRES_COMMAND_OK && strcmp(PQcmdTuples(q), "1") == 0);
    PQclear(q);
    PQclear(PQexec(s, "SET lock_timeout = '300ms'"));
    PQclear(PQexec(s, "BEGIN"));
    q = PQexec(s, "SELECT floor FROM reciprocal.visit_sweep_floor FOR UPDATE");
    if (PQresultErrorField(q, PG_DIAG_SQLSTATE))
        snprintf(code, sizeof code, "%s", PQresultErrorField(q, PG_DIAG_SQLSTATE));
    PQclear(q);
    PQclear(PQexec(s, "ROLLBACK"));
    PQclear(PQexec(w, "ROLLBACK"));
    PQfinish(s);
    PQfinish(w);
    CHECK_STR(code, "55P03"); /* lock_not_available: the sweep waits for the writer */
}

int main(void) {
    RUN(test_start);
    RUN(test_request);
    RUN(test_rules);
    RUN(test_concurrency);
    RUN(test_isolation);
    RUN(test_paging);
    RUN(test_flow);
    RUN(test_door);
    RUN(test_door_wakes_relay);
    RUN(test_door_without_loi_doc);
    RUN(test_documents_inlined);
    RUN(test_agreement_unlocked);
    RUN(test_sweep_beside_visit);
    RUN(test_move_hot);
    RUN(test_floor_waits_for_early_writer);
    e2e_stop(&g_proc);
    TEST_DONE();
}
