/* End-to-end: charges and monthly settlement (issue 12) through the real binary. Clubs A (home),
 * B (host: GBP, bill_home_club, entry 15.00, guest 5.00, room 120.00, its own cancellation
 * tiers), C (host: JPY, bill_home_club) and D (no party). Entry and guest fees at check-in,
 * line items, reversing lines, who may post, the cancellation fee shown before and charged at
 * cancellation, statements by month in the host's time zone (draft -> issued -> disputed ->
 * issued -> accepted -> paid; a line dispute answered by a reversal, another rejected), the
 * schedule (drafted on the 1st, issued by the 5th), exact totals, a charge posted during issue
 * billed exactly once (concurrency), byte-identical JSON and CSV, the PDF read back with
 * pdftotext, the hash recomputed offline, the home club's re-billing list, and tenant isolation
 * (club D sees nothing; the home club sees nothing of a draft). */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/strbuf.h"
#include "lib/csv/csv.h"
#include "services/reciprocal/fees.h"
#include "support/e2e.h"
#include "test.h"

#define AS_OF "2030-01-01T00:00:00Z"

static e2e_proc_t g_proc;
static char g_club[4][64], g_slug[4][64], g_admin[4][4096];
static char g_m1[64], g_v1[64], g_feb[64], g_dining[64];
static const char g_pw[] = "Marmalade-Harbour-77";

static const char *jstr(const json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}
static long long jint(const json_t *j, const char *k) {
    return (long long)json_integer_value(json_object_get(j, k));
}

static int req(const char *as, const char *method, const char *path, const char *body,
               e2e_resp_t *r) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    return e2e_http_as(as ? as : e2e_bearer(), method, url, body ? "application/json" : NULL, body,
                       r);
}

/* method path body as `as`: the status; *out (may be NULL) the JSON body. */
static long call(const char *as, const char *method, const char *path, const char *body,
                 json_t **out) {
    e2e_resp_t r;
    if (req(as, method, path, body, &r) != 0) return -1;
    long st = r.status;
    if (st >= 400 && (!out || getenv("SETTLE_DEBUG")))
        printf("#   %s %s -> %ld %s\n", method, path, st, r.body);
    if (out) *out = json_incref(r.json);
    e2e_resp_free(&r);
    return st;
}

static void day(int days, char out[16]) {
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static int account(int club, const char *role, char *tok) {
    char email[128];
    snprintf(email, sizeof email, "settle-%s-%d-%d@example.test", role, club, (int)getpid());
    return e2e_account(&g_proc, g_club[club], g_slug[club], email, role, g_pw, NULL, tok);
}

static int member(char id[64]) {
    return e2e_member(&g_proc, g_club[0], "full", NULL, 1, "Set", "Tler", id);
}

static int agreement(int host, const char *terms) {
    return e2e_agreement(&g_proc, g_club[0], g_club[host], terms);
}

static char g_kek[128];

static void test_start(void) {
    const char *kek = getenv("RECIPROCAL_LEDGER_KEK"); /* exported by tests/run.sh */
    snprintf(g_kek, sizeof g_kek, "RECIPROCAL_LEDGER_KEK=%s", kek ? kek : "");
    const char *const env[] = {
        "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", g_kek, NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    srand((unsigned)getpid());
    for (int i = 0; i < 4; i++) {
        char name[16], extra[512];
        snprintf(g_slug[i], sizeof g_slug[i], "settle-%c-%d", 'a' + i, (int)getpid());
        snprintf(name, sizeof name, "Club %c", 'A' + i);
        snprintf(extra, sizeof extra,
                 "\"timezone\":\"%s\",\"address\":{\"lines\":[\"%d Harbour Road\"],\"city\":"
                 "\"Port %c\",\"postal_code\":\"PC%d\",\"country\":\"GB\"},\"facilities\":["
                 "\"dining\",\"rooms\"]",
                 i == 2 ? "Asia/Tokyo" : "Europe/London", i + 1, 'A' + i, i);
        REQUIRE(e2e_club(&g_proc, name, g_slug[i], extra, g_club[i]) == 0);
        REQUIRE(account(i, "club_admin", g_admin[i]) == 0);
    }
    REQUIRE(member(g_m1) == 0);
    REQUIRE(agreement(1, "{\"max_guests\":1,\"max_visits_month\":10,\"fees\":{\"currency\":"
                         "\"GBP\",\"entry\":1500,\"guest\":500,\"room_rate\":12000},"
                         "\"payment_mode\":\"bill_home_club\",\"cancellation_tiers\":[{"
                         "\"hours_before\":8760,\"fee_percent\":0},{\"hours_before\":0,"
                         "\"fee_percent\":10}]}") == 0);
    REQUIRE(agreement(2, "{\"fees\":{\"currency\":\"JPY\",\"entry\":3000},\"payment_mode\":"
                         "\"bill_home_club\"}") == 0);
}

/* A visit of m1 at host arrive..arrive (as_of AS_OF), approved and confirmed; checked in at
 * arrive 12:00 UTC when check_in. id gets the visit id. */
static int visit_of(const char *m, int host, const char *arrive, int guests, int check_in,
                    char id[64]) {
    char body[1024], path[256];
    json_t *j = NULL;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":"
             "\"%s\",\"depart_on\":\"%s\",\"guests\":%d%s}",
             g_club[0], m, g_club[host], arrive, arrive, guests,
             strcmp(arrive, "now") == 0 ? "" : ",\"as_of\":\"" AS_OF "\"");
    if (call(NULL, "POST", "/api/v1/visits", body, &j) != 201) {
        printf("#   visit: %s\n", j ? json_dumps(j, 0) : "?");
        json_decref(j);
        return -1;
    }
    snprintf(id, 64, "%s", jstr(j, "id"));
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/visits/%s/approve", id);
    if (call(g_admin[0], "POST", path, "{}", &j) != 200) return -1;
    char token[2048];
    snprintf(token, sizeof token, "%s", jstr(json_object_get(j, "loi"), "token"));
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/visits/%s/confirm", id);
    if (call(g_admin[host], "POST", path, "{}", NULL) != 200) return -1;
    if (!check_in) return 0;
    struct tm tm = {0};
    sscanf(arrive, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
    tm.tm_year -= 1900, tm.tm_mon -= 1, tm.tm_hour = 12;
    char door[2200];
    snprintf(door, sizeof door, "{\"token\":\"%s\",\"at\":%lld}", token, (long long)timegm(&tm));
    return call(NULL, "POST", "/api/v1/visits/check-in", door, NULL) == 200 ? 0 : -1;
}

static int visit(int host, const char *arrive, int guests, int check_in, char id[64]) {
    return visit_of(g_m1, host, arrive, guests, check_in, id);
}

static long charge(const char *as, const char *visit_id, const char *fields, json_t **out) {
    char path[256];
    snprintf(path, sizeof path, "/api/v1/visits/%s/charges", visit_id);
    return call(as, "POST", path, fields, out);
}

static int count(const char *as, const char *path) {
    json_t *j = NULL;
    long st = call(as, "GET", path, NULL, &j);
    int n = st == 200 ? (int)json_array_size(json_object_get(j, "items")) : -(int)st;
    json_decref(j);
    return n;
}

static void test_charges(void) {
    char path[256], id[64];
    json_t *j = NULL;
    REQUIRE(visit(1, "2030-02-04", 1, 1, g_v1) == 0);
    /* entry and guest fee at check-in */
    snprintf(path, sizeof path, "/api/v1/charges?visit_id=%s", g_v1);
    REQUIRE(call(g_admin[1], "GET", path, NULL, &j) == 200);
    json_t *items = json_object_get(j, "items");
    CHECK_EQ_INT(json_array_size(items), 2);
    CHECK_STR(jstr(json_array_get(items, 0), "category"), "entry_fee");
    CHECK_EQ_INT(jint(json_array_get(items, 0), "total_amount"), 1500);
    CHECK_STR(jstr(json_array_get(items, 1), "category"), "guest_fee");
    CHECK_EQ_INT(jint(json_array_get(items, 1), "total_amount"), 500);
    CHECK_STR(jstr(json_array_get(items, 0), "currency"), "GBP");
    CHECK(jstr(json_array_get(items, 0), "statement_id") != NULL);
    snprintf(g_feb, sizeof g_feb, "%s", jstr(json_array_get(items, 0), "statement_id"));
    json_decref(j);
    /* a line item */
    REQUIRE(charge(g_admin[1], g_v1,
                   "{\"category\":\"dining\",\"description\":\"Dinner, 2 covers\",\"quantity\":2,"
                   "\"unit_amount\":2500,\"tax_amount\":1000,\"tax_rate_bp\":2000,\"at\":"
                   "\"2030-02-04T20:00:00Z\"}",
                   &j) == 201);
    CHECK_EQ_INT(jint(j, "net_amount"), 5000);
    CHECK_EQ_INT(jint(j, "total_amount"), 6000);
    CHECK_STR(jstr(j, "statement_id"), g_feb);
    snprintf(g_dining, sizeof g_dining, "%s", jstr(j, "id"));
    json_decref(j);
    REQUIRE(charge(g_admin[1], g_v1,
                   "{\"category\":\"bar\",\"description\":\"=cmd|' /C calc'!A0\",\"unit_amount\":"
                   "800,\"at\":\"2030-02-04T21:00:00Z\"}",
                   NULL) == 201);
    REQUIRE(charge(g_admin[1], g_v1,
                   "{\"category\":\"room\",\"description\":\"Room 12\",\"unit_amount\":12000,"
                   "\"tax_amount\":2400,\"tax_rate_bp\":2000,\"at\":\"2030-02-04T22:00:00Z\"}",
                   &j) == 201);
    snprintf(id, sizeof id, "%s", jstr(j, "id"));
    json_decref(j);
    /* bad input names the field; the home club and club D may not post */
    CHECK_EQ_INT(charge(g_admin[1], g_v1,
                        "{\"category\":\"spa\",\"description\":\"x\","
                        "\"unit_amount\":1}",
                        &j),
                 422);
    CHECK_STR(jstr(json_object_get(j, "error"), "field"), "category");
    json_decref(j);
    CHECK_EQ_INT(charge(g_admin[1], g_v1, "{\"category\":\"bar\",\"description\":\"x\"}", &j), 400);
    CHECK_STR(jstr(json_object_get(j, "error"), "field"), "unit_amount");
    json_decref(j);
    CHECK_EQ_INT(charge(g_admin[1], g_v1,
                        "{\"category\":\"bar\",\"description\":\"x\","
                        "\"unit_amount\":1.5}",
                        &j),
                 400);
    json_decref(j);
    CHECK_EQ_INT(charge(g_admin[1], g_v1,
                        "{\"category\":\"bar\",\"description\":\"x\","
                        "\"unit_amount\":100,\"currency\":\"EUR\"}",
                        &j),
                 422);
    CHECK_STR(jstr(json_object_get(j, "error"), "code"), "currency_mismatch");
    json_decref(j);
    CHECK_EQ_INT(charge(g_admin[0], g_v1,
                        "{\"category\":\"bar\",\"description\":\"x\","
                        "\"unit_amount\":100}",
                        &j),
                 403);
    json_decref(j);
    CHECK_EQ_INT(charge(g_admin[3], g_v1,
                        "{\"category\":\"bar\",\"description\":\"x\","
                        "\"unit_amount\":100}",
                        &j),
                 404);
    json_decref(j);
    /* reversing: a new line referencing the original; never twice; a reversal is final */
    snprintf(path, sizeof path, "/api/v1/charges/%s/reverse", id);
    REQUIRE(call(g_admin[1], "POST", path, "{\"reason\":\"wrong room\"}", &j) == 201);
    CHECK_STR(jstr(j, "reverses"), id);
    CHECK_EQ_INT(jint(j, "quantity"), -1);
    CHECK_EQ_INT(jint(j, "total_amount"), -14400);
    CHECK_STR(jstr(j, "statement_id"), g_feb);
    char rev[64];
    snprintf(rev, sizeof rev, "%s", jstr(j, "id"));
    json_decref(j);
    CHECK_EQ_INT(call(g_admin[1], "POST", path, "{\"reason\":\"again\"}", &j), 409);
    CHECK_STR(jstr(json_object_get(j, "error"), "code"), "already_reversed");
    json_decref(j);
    CHECK_EQ_INT(call(g_admin[0], "POST", path, "{\"reason\":\"x\"}", &j), 404); /* unseen */
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/charges/%s/reverse", rev);
    CHECK_EQ_INT(call(g_admin[1], "POST", path, "{\"reason\":\"x\"}", &j), 409);
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/charges/%s", id);
    /* a visit not checked in is not billable */
    char v2[64];
    REQUIRE(visit(1, "2030-02-11", 0, 0, v2) == 0);
    CHECK_EQ_INT(charge(g_admin[1], v2,
                        "{\"category\":\"bar\",\"description\":\"x\","
                        "\"unit_amount\":100}",
                        &j),
                 409);
    CHECK_STR(jstr(json_object_get(j, "error"), "code"), "visit_not_billable");
    json_decref(j);
    /* the scheduler marks it no_show: 100 % of one night, the host's line */
    REQUIRE(call(NULL, "POST", "/api/v1/visits/sweep", "{\"as_of\":\"2030-02-13T00:00:00Z\"}",
                 &j) == 200);
    CHECK(jint(j, "no_show") >= 1);
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/charges?visit_id=%s", v2);
    REQUIRE(call(g_admin[1], "GET", path, NULL, &j) == 200);
    json_t *ns = json_array_get(json_object_get(j, "items"), 0);
    CHECK_STR(jstr(ns, "category"), "no_show_fee");
    CHECK_EQ_INT(jint(ns, "total_amount"), 12000);
    json_decref(j);
    /* keyset paging over every charge of B */
    int seen = 0;
    char after[600] = "";
    for (int page = 0; page < 10; page++) {
        snprintf(path, sizeof path, "/api/v1/charges?limit=2%s%s", after[0] ? "&after=" : "",
                 after);
        REQUIRE(call(g_admin[1], "GET", path, NULL, &j) == 200);
        seen += (int)json_array_size(json_object_get(j, "items"));
        const char *next = jstr(j, "next_cursor");
        snprintf(after, sizeof after, "%s", next ? next : "");
        json_decref(j);
        if (!after[0]) break;
    }
    CHECK_EQ_INT(seen, 7);
    /* the home club sees no line of a draft statement; D sees nothing */
    CHECK_EQ_INT(count(g_admin[0], "/api/v1/charges"), 0);
    CHECK_EQ_INT(count(g_admin[3], "/api/v1/charges"), 0);
}

/* The fee before cancelling (B's tiers: 10 % of one night inside a year, 0 % before), and the
 * fee charged on cancel. */
static void test_cancellation(void) {
    char path[256], v[64], soon[16];
    json_t *j = NULL;
    REQUIRE(visit(1, "2030-03-12", 0, 0, v) == 0);
    snprintf(path, sizeof path, "/api/v1/visits/%s/cancellation-fee?at=2030-03-10T12:00:00Z", v);
    REQUIRE(call(NULL, "GET", path, NULL, &j) == 200);
    CHECK_EQ_INT(jint(j, "fee_percent"), 10);
    CHECK_EQ_INT(jint(j, "amount"), 1200);
    CHECK_STR(jstr(j, "amount_text"), "12.00");
    CHECK_STR(jstr(j, "currency"), "GBP");
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/visits/%s/cancellation-fee?at=2029-03-01T00:00:00Z", v);
    REQUIRE(call(NULL, "GET", path, NULL, &j) == 200);
    CHECK_EQ_INT(jint(j, "amount"), 0);
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/visits/%s/cancellation-fee?at=2030-03-10T12:00:00Z", v);
    CHECK_EQ_INT(call(g_admin[0], "GET", path, NULL, &j), 403); /* at: administrators */
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/visits/%s/cancellation-fee", v);
    CHECK_EQ_INT(call(g_admin[3], "GET", path, NULL, &j), 404);
    json_decref(j);
    /* a real cancellation within the year: the home club cancels, the host's line is posted */
    day(20, soon);
    char body[512];
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":"
             "\"%s\",\"depart_on\":\"%s\"}",
             g_club[0], g_m1, g_club[1], soon, soon);
    REQUIRE(call(NULL, "POST", "/api/v1/visits", body, &j) == 201);
    snprintf(v, sizeof v, "%s", jstr(j, "id"));
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/visits/%s/approve", v);
    REQUIRE(call(g_admin[0], "POST", path, "{}", NULL) == 200);
    snprintf(path, sizeof path, "/api/v1/visits/%s/cancellation-fee", v);
    REQUIRE(call(g_admin[0], "GET", path, NULL, &j) == 200);
    CHECK_EQ_INT(jint(j, "amount"), 1200);
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/visits/%s/cancel", v);
    REQUIRE(call(g_admin[0], "POST", path, "{\"reason\":\"plans changed\"}", NULL) == 200);
    snprintf(path, sizeof path, "/api/v1/charges?visit_id=%s", v);
    REQUIRE(call(g_admin[1], "GET", path, NULL, &j) == 200);
    json_t *it = json_array_get(json_object_get(j, "items"), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "items")), 1);
    CHECK_STR(jstr(it, "category"), "cancellation_fee");
    CHECK_EQ_INT(jint(it, "total_amount"), 1200);
    CHECK_STR(jstr(it, "host_club_id"), g_club[1]);
    json_decref(j);
}

static json_t *statement(const char *as, const char *id, long *st) {
    char path[256];
    json_t *j = NULL;
    snprintf(path, sizeof path, "/api/v1/statements/%s", id);
    *st = call(as, "GET", path, NULL, &j);
    return j;
}

static long sact(const char *as, const char *id, const char *action, const char *body,
                 json_t **out) {
    char path[256];
    snprintf(path, sizeof path, "/api/v1/statements/%s/%s", id, action);
    return call(as, "POST", path, body ? body : "{}", out);
}

/* totals equal the sum of the lines */
static void check_sums(const json_t *s) {
    long long sum = 0, tax = 0;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(s, "lines"), i, l) {
        sum += jint(l, "total_amount");
        tax += jint(l, "tax_amount");
    }
    const json_t *t = json_object_get(s, "totals");
    CHECK_EQ_INT(jint(t, "total"), sum);
    CHECK_EQ_INT(jint(t, "tax"), tax);
    CHECK_EQ_INT(jint(t, "lines"), (long long)json_array_size(json_object_get(s, "lines")));
    long long by = 0;
    json_array_foreach(json_object_get(s, "by_tax_rate"), i, l) by += jint(l, "total");
    CHECK_EQ_INT(by, sum);
}

static void test_statements(void) {
    long st;
    json_t *s = statement(g_admin[1], g_feb, &st), *j = NULL;
    REQUIRE(st == 200);
    CHECK_STR(jstr(s, "status"), "draft");
    CHECK_STR(jstr(s, "period"), "2030-02");
    CHECK_EQ_INT(json_array_size(json_object_get(s, "lines")), 6);
    CHECK_EQ_INT(jint(json_object_get(s, "totals"), "total"), 1500 + 500 + 6000 + 800);
    check_sums(s);
    json_decref(s);
    /* a draft: the home club and D see nothing */
    s = statement(g_admin[0], g_feb, &st);
    CHECK_EQ_INT(st, 404);
    json_decref(s);
    s = statement(g_admin[3], g_feb, &st);
    CHECK_EQ_INT(st, 404);
    json_decref(s);
    CHECK_EQ_INT(count(g_admin[1], "/api/v1/statements?side=host&period=2030-02"), 1);
    CHECK_EQ_INT(count(g_admin[0], "/api/v1/statements?side=home"), 0);
    CHECK_EQ_INT(count(g_admin[3], "/api/v1/statements"), 0);
    /* the schedule: nothing before the month ends; drafted on the 1st; issued by the 5th */
    REQUIRE(call(NULL, "POST", "/api/v1/statements/sweep", "{\"as_of\":\"2030-02-28T23:00:00Z\"}",
                 &j) == 200);
    json_decref(j);
    s = statement(g_admin[1], g_feb, &st);
    CHECK(json_is_null(json_object_get(s, "drafted_at")));
    json_decref(s);
    REQUIRE(call(NULL, "POST", "/api/v1/statements/sweep", "{\"as_of\":\"2030-03-01T00:30:00Z\"}",
                 &j) == 200);
    CHECK(jint(j, "drafted") >= 1);
    json_decref(j);
    s = statement(g_admin[1], g_feb, &st);
    CHECK(!json_is_null(json_object_get(s, "drafted_at")));
    CHECK_STR(jstr(s, "status"), "draft");
    json_decref(s);
    CHECK_EQ_INT(sact(g_admin[0], g_feb, "issue", NULL, &j), 404); /* a draft: unseen at home */
    json_decref(j);
    REQUIRE(call(NULL, "POST", "/api/v1/statements/sweep", "{\"as_of\":\"2030-03-05T00:30:00Z\"}",
                 &j) == 200);
    CHECK(jint(j, "issued") >= 1);
    json_decref(j);
    s = statement(g_admin[0], g_feb, &st);
    REQUIRE(st == 200);
    CHECK_STR(jstr(s, "status"), "issued");
    CHECK_EQ_INT(jint(json_object_get(s, "issued_totals"), "total"), 8800);
    json_decref(s);
    CHECK_EQ_INT(sact(g_admin[1], g_feb, "issue", NULL, &j), 409);
    json_decref(j);
    /* a February line posted now joins the next open statement (March) */
    REQUIRE(charge(g_admin[1], g_v1,
                   "{\"category\":\"other\",\"description\":\"Late bar tab\","
                   "\"unit_amount\":300,\"at\":\"2030-02-05T10:00:00Z\"}",
                   &j) == 201);
    CHECK(strcmp(jstr(j, "statement_id"), g_feb) != 0);
    json_decref(j);
    /* disputes: one line rejected, one answered by a reversing line */
    char path[256], guest[64] = "";
    s = statement(g_admin[0], g_feb, &st);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(s, "lines"), i, l) {
        if (strcmp(jstr(l, "category"), "guest_fee") == 0)
            snprintf(guest, sizeof guest, "%s", jstr(l, "id"));
    }
    json_decref(s);
    snprintf(path, sizeof path, "/api/v1/statements/%s/lines/%s/dispute", g_feb, guest);
    CHECK_EQ_INT(call(g_admin[1], "POST", path, "{\"reason\":\"x\"}", &j), 403);
    json_decref(j);
    REQUIRE(call(g_admin[0], "POST", path, "{\"reason\":\"no guest came\"}", &j) == 200);
    CHECK_STR(jstr(j, "status"), "disputed");
    json_decref(j);
    CHECK_EQ_INT(call(g_admin[0], "POST", path, "{\"reason\":\"again\"}", &j), 409);
    json_decref(j);
    CHECK_EQ_INT(sact(g_admin[0], g_feb, "accept", NULL, &j), 409); /* disputed */
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/statements/%s/lines/%s/dispute", g_feb, g_dining);
    REQUIRE(call(g_admin[0], "POST", path, "{\"reason\":\"one cover only\"}", NULL) == 200);
    char body[256];
    snprintf(body, sizeof body, "{\"line\":\"%s\",\"answer\":\"the guest signed\"}", guest);
    REQUIRE(sact(g_admin[1], g_feb, "reject-dispute", body, &j) == 200);
    CHECK_STR(jstr(j, "status"), "disputed"); /* the dining line is still open */
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/charges/%s/reverse", g_dining);
    REQUIRE(call(g_admin[1], "POST", path, "{\"reason\":\"dispute: one cover\"}", &j) == 201);
    CHECK_STR(jstr(j, "statement_id"), g_feb);
    json_decref(j);
    s = statement(g_admin[0], g_feb, &st);
    CHECK_STR(jstr(s, "status"), "issued");
    CHECK_EQ_INT(jint(json_object_get(s, "totals"), "total"), 8800 - 6000);
    CHECK_EQ_INT(jint(json_object_get(s, "issued_totals"), "total"), 8800 - 6000);
    CHECK_EQ_INT(json_array_size(json_object_get(s, "disputes")), 2);
    check_sums(s);
    json_decref(s);
    /* the same inputs, the same bytes */
    e2e_resp_t a, b;
    snprintf(path, sizeof path, "/api/v1/statements/%s", g_feb);
    REQUIRE(req(g_admin[0], "GET", path, NULL, &a) == 0 &&
            req(g_admin[0], "GET", path, NULL, &b) == 0);
    CHECK_STR(a.body, b.body);
    e2e_resp_free(&a), e2e_resp_free(&b);
    snprintf(path, sizeof path, "/api/v1/statements/%s?format=csv", g_feb);
    REQUIRE(req(g_admin[0], "GET", path, NULL, &a) == 0 &&
            req(g_admin[1], "GET", path, NULL, &b) == 0);
    CHECK_EQ_INT(a.status, 200);
    CHECK_STR(a.body, b.body);
    CHECK(strncmp(a.body, "statement_number,period,", 24) == 0);
    CHECK(strstr(a.body, "\r\n") != NULL);
    CHECK(strstr(a.body, "\"'=cmd|' /C calc'!A0\"") != NULL); /* no formula */
    CHECK(strstr(a.body, ",total,") != NULL && strstr(a.body, ",28.00\r\n") != NULL);
    char ct[128];
    CHECK(e2e_header(&a, "Content-Type", ct, sizeof ct) && strstr(ct, "text/csv"));
    e2e_resp_free(&a), e2e_resp_free(&b);
    /* accept: the hash of the content, recomputed here */
    REQUIRE(sact(g_admin[0], g_feb, "accept", NULL, &j) == 200);
    CHECK_STR(jstr(j, "status"), "accepted");
    const char *hash = jstr(j, "hash");
    REQUIRE(hash && strlen(hash) == 64);
    static const char *const keys[] = {"number", "host_club_id", "home_club_id", "currency",
                                       "period", "lines",        "totals",       NULL};
    json_t *c = json_object();
    for (const char *const *k = keys; *k; k++)
        json_object_set(c, *k, json_object_get(j, *k));
    char *text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    CHECK_STR(hex, hash);
    free(text);
    json_decref(c);
    CHECK_STR(jstr(json_object_get(j, "ledger"), "status"), "pending");
    json_decref(j);
    CHECK_EQ_INT(sact(g_admin[0], g_feb, "pay", NULL, &j), 403);
    json_decref(j);
    REQUIRE(sact(g_admin[1], g_feb, "pay", "{\"payment_ref\":\"BACS 2030-03-20\"}", &j) == 200);
    CHECK_STR(jstr(j, "status"), "paid");
    json_decref(j);
    /* the home club's list to re-bill its member (JSON and CSV); D sees none */
    snprintf(path, sizeof path, "/api/v1/members/%s/reciprocal-charges", g_m1);
    REQUIRE(call(g_admin[0], "GET", path, NULL, &j) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "items")), 9);
    json_decref(j);
    CHECK_EQ_INT(count(g_admin[3], path), 0);
    snprintf(path, sizeof path, "/api/v1/members/%s/reciprocal-charges?format=csv", g_m1);
    REQUIRE(req(g_admin[0], "GET", path, NULL, &a) == 0);
    CHECK_EQ_INT(a.status, 200);
    CHECK(strncmp(a.body, "statement_number,", 17) == 0);
    e2e_resp_free(&a);
}

/* With A and B ledger organisations, the sweep records the accepted statement's hash:
 * statement.accepted endorsed by both clubs' admins, committed VALID, its tx id on the
 * statement (and in the PDF). */
static void test_ledger(void) {
    char body[512], path[256], tx_id[80];
    json_t *j = NULL;
    REQUIRE(call(NULL, "POST", "/api/v1/ledger/bootstrap", "{}", NULL) == 200);
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"org\":\"st%c%d\",\"club_id\":\"%s\"}", 'a' + i,
                 (int)getpid(), g_club[i]);
        REQUIRE(call(NULL, "POST", "/api/v1/ledger/orgs", body, NULL) == 200);
    }
    REQUIRE(call(NULL, "POST", "/api/v1/statements/sweep", "{}", &j) == 200);
    CHECK(jint(j, "ledger_submitted") >= 1);
    json_decref(j);
    long st;
    json_t *s = statement(g_admin[0], g_feb, &st);
    json_t *led = json_object_get(s, "ledger");
    if (!jstr(led, "tx_id")) printf("#   %s\n", json_dumps(led, 0));
    CHECK_STR(jstr(led, "status"), "submitted");
    REQUIRE(jstr(led, "tx_id") != NULL);
    snprintf(tx_id, sizeof tx_id, "%s", jstr(led, "tx_id"));
    json_decref(s);
    snprintf(path, sizeof path, "/api/v1/ledger/transactions/%s/status?wait_ms=10000", tx_id);
    REQUIRE(call(NULL, "GET", path, NULL, &j) == 200);
    CHECK_STR(jstr(j, "status"), "committed");
    CHECK_STR(jstr(j, "validation_code"), "VALID");
    json_decref(j);
}

static void test_pdf(void) {
    char path[256], file[128], cmd[512];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/statements/%s?format=pdf", g_feb);
    REQUIRE(req(g_admin[0], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    char *by_query = strdup(r.body ? r.body : "");
    e2e_resp_free(&r);
    /* the same document by Accept; the same bytes */
    e2e_set_extra_header("Accept: application/pdf");
    snprintf(path, sizeof path, "/api/v1/statements/%s", g_feb);
    REQUIRE(req(g_admin[0], "GET", path, NULL, &r) == 0);
    e2e_set_extra_header(NULL);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(r.body, by_query);
    free(by_query);
    char ct[128];
    CHECK(e2e_header(&r, "Content-Type", ct, sizeof ct) && strstr(ct, "application/pdf"));
    REQUIRE(r.body && strncmp(r.body, "%PDF-", 5) == 0);
    snprintf(file, sizeof file, "/tmp/settle-%d.pdf", (int)getpid());
    FILE *f = fopen(file, "wb");
    REQUIRE(f != NULL);
    fwrite(r.body, 1, strlen(r.body), f);
    fclose(f);
    e2e_resp_free(&r);
    snprintf(cmd, sizeof cmd, "pdftotext -layout %s - 2>&1", file);
    FILE *p = popen(cmd, "r");
    REQUIRE(p != NULL);
    char text[16384] = "";
    size_t n = fread(text, 1, sizeof text - 1, p);
    text[n] = 0;
    pclose(p);
    unlink(file);
    CHECK(strstr(text, "Total due (GBP): 28.00") != NULL);
    CHECK(strstr(text, "Club B") != NULL && strstr(text, "Club A") != NULL);
    CHECK(strstr(text, "2 Harbour Road") != NULL);
    CHECK(strstr(text, "Period: 2030-02") != NULL);
    CHECK(strstr(text, "Visit subtotal") != NULL);
    CHECK(strstr(text, "20.00 %") != NULL);
    CHECK(strstr(text, "Ledger transaction") != NULL);
    long st;
    json_t *s = statement(g_admin[0], g_feb, &st);
    const char *tx = jstr(json_object_get(s, "ledger"), "tx_id");
    CHECK(tx && strstr(text, tx) != NULL);
    json_decref(s);
    if (!strstr(text, "Total due")) printf("# %s\n", text);
    /* JPY: no decimals */
    char v[64], id[64];
    json_t *j = NULL;
    REQUIRE(visit(2, "2030-04-02", 0, 1, v) == 0);
    REQUIRE(charge(g_admin[2], v,
                   "{\"category\":\"green_fee\",\"description\":\"18 holes\","
                   "\"unit_amount\":12000,\"at\":\"2030-04-02T03:00:00Z\"}",
                   &j) == 201);
    snprintf(id, sizeof id, "%s", jstr(j, "statement_id"));
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/statements/%s?format=csv", id);
    REQUIRE(req(g_admin[2], "GET", path, NULL, &r) == 0);
    CHECK(strstr(r.body, ",15000\r\n") != NULL); /* entry 3000 + 12000, no decimals */
    e2e_resp_free(&r);
}

/* POST /graphql as `as`: the JSON answer (new reference) */
static json_t *gql(const char *as, const char *q, json_t *vars) {
    json_t *body = json_pack("{s:s}", "query", q), *out = NULL;
    if (vars) json_object_set_new(body, "variables", vars);
    char *text = json_dumps(body, JSON_COMPACT);
    call(as, "POST", "/graphql", text, &out);
    free(text);
    json_decref(body);
    return out;
}

/* GraphQL mirrors REST: a statement with its lines and totals, the charges connection, the
 * cancellation fee, postCharge (and a userError naming the field), issueStatement refused to the
 * home club; club D gets null + not_found. */
static void test_graphql(void) {
    char q[512];
    snprintf(q, sizeof q,
             "{ statement(id: \"%s\") { number status period totals { total lines } byTaxRate "
             "{ taxRateBp total } lines { category totalAmount reverses } ledger { status txId } } "
             "charges(visitId: \"%s\", first: 2) { edges { node { id category unitAmount } } "
             "pageInfo { hasNextPage } } }",
             g_feb, g_v1);
    json_t *j = gql(g_admin[0], q, NULL);
    json_t *d = json_object_get(j, "data"), *s = json_object_get(d, "statement");
    if (!s || json_is_null(s)) printf("#   %s\n", json_dumps(j, 0));
    CHECK_STR(jstr(s, "status"), "PAID");
    CHECK_STR(jstr(s, "period"), "2030-02");
    CHECK_EQ_INT(jint(json_object_get(s, "totals"), "total"), 2800);
    CHECK_STR(jstr(json_array_get(json_object_get(s, "lines"), 0), "category"), "ENTRY_FEE");
    CHECK_STR(jstr(json_object_get(s, "ledger"), "status"), "SUBMITTED");
    /* the home club sees the lines of its statements only */
    json_t *edges = json_object_get(json_object_get(d, "charges"), "edges");
    CHECK_EQ_INT(json_array_size(edges), 2);
    json_decref(j);
    j = gql(g_admin[3], q, NULL);
    json_t *dd = json_object_get(j, "data");
    CHECK(json_is_null(json_object_get(dd, "statement")));
    json_t *ce = json_object_get(json_object_get(dd, "charges"), "edges");
    CHECK_EQ_INT(json_array_size(ce), 0);
    json_decref(j);
    j = gql(g_admin[1],
            "mutation($i: PostChargeInput!) { postCharge(input: $i) { charge { category "
            "totalAmount statementId } userErrors { field code } } }",
            json_pack("{s:{s:s, s:s, s:s, s:i, s:i}}", "i", "visitId", g_v1, "category", "CART_FEE",
                      "description", "Buggy", "unitAmount", 2000, "quantity", 2));
    json_t *pc = json_object_get(json_object_get(j, "data"), "postCharge");
    CHECK_STR(jstr(json_object_get(pc, "charge"), "category"), "CART_FEE");
    CHECK_EQ_INT(jint(json_object_get(pc, "charge"), "totalAmount"), 4000);
    json_decref(j);
    j = gql(g_admin[1],
            "mutation($i: PostChargeInput!) { postCharge(input: $i) { charge { id } userErrors { "
            "field code } } }",
            json_pack("{s:{s:s, s:s, s:s, s:i, s:s}}", "i", "visitId", g_v1, "category", "BAR",
                      "description", "x", "unitAmount", 100, "currency", "JPY"));
    pc = json_object_get(json_object_get(j, "data"), "postCharge");
    CHECK_STR(jstr(json_array_get(json_object_get(pc, "userErrors"), 0), "field"), "currency");
    json_decref(j);
}

static int g_posted;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_v3[64];

static void *poster(void *arg) {
    (void)arg;
    for (int i = 0; i < 15; i++) {
        long st = charge(g_admin[1], g_v3,
                         "{\"category\":\"bar\",\"description\":\"Round\",\"unit_amount\":100,"
                         "\"at\":\"2030-06-15T18:00:00Z\"}",
                         NULL);
        pthread_mutex_lock(&g_mu);
        if (st == 201) g_posted++;
        pthread_mutex_unlock(&g_mu);
    }
    return NULL;
}

/* The scenario shared by single charges and whole bills: a visit on DATE (its entry fee opens
 * that month's statement, written into STMT, 64 bytes), six threads of POSTER posting to it while
 * the statement is issued, by the host (AS_OF NULL) or by the schedule (POST /statements/sweep
 * at AS_OF); then *POSTED must be WANT, each of the visit's 91 lines must be in
 * exactly one statement and the issued statement's totals those of the lines it holds. *OUT: the
 * issued statement (the caller frees it), NULL when a step failed. */
static void issue_while_posting(json_t **out, int *vid_posted, const char *date, char *vid,
                                void *(*poster)(void *), int want, char *stmt, const char *as_of,
                                const char *month, const char *next_month) {
    json_t *j = NULL;
    REQUIRE(visit(1, date, 0, 1, vid) == 0);
    char path[512];
    snprintf(path, sizeof path, "/api/v1/charges?visit_id=%s", vid);
    REQUIRE(call(g_admin[1], "GET", path, NULL, &j) == 200);
    snprintf(stmt, 64, "%s", jstr(json_array_get(json_object_get(j, "items"), 0), "statement_id"));
    json_decref(j);
    pthread_t th[6];
    for (int i = 0; i < 6; i++)
        REQUIRE(pthread_create(&th[i], NULL, poster, NULL) == 0);
    usleep(300000);
    if (as_of) {
        char body[96];
        snprintf(body, sizeof body, "{\"as_of\":\"%s\"}", as_of);
        REQUIRE(call(NULL, "POST", "/api/v1/statements/sweep", body, &j) == 200);
        CHECK(jint(j, "issued") >= 1);
    } else {
        REQUIRE(sact(g_admin[1], stmt, "issue", NULL, &j) == 200);
    }
    json_decref(j);
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(*vid_posted, want);
    int total = 0, in_month = 0, elsewhere = 0;
    char after[600] = "";
    for (int page = 0; page < 20; page++) {
        snprintf(path, sizeof path, "/api/v1/charges?visit_id=%s&limit=100%s%s", vid,
                 after[0] ? "&after=" : "", after);
        REQUIRE(call(g_admin[1], "GET", path, NULL, &j) == 200);
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(j, "items"), i, it) {
            total++;
            if (strcmp(jstr(it, "statement_id"), stmt) == 0)
                in_month++;
            else if (jstr(it, "statement_id"))
                elsewhere++;
        }
        const char *next = jstr(j, "next_cursor");
        snprintf(after, sizeof after, "%s", next ? next : "");
        json_decref(j);
        if (!after[0]) break;
    }
    CHECK_EQ_INT(total, 91);
    CHECK_EQ_INT(in_month + elsewhere, 91);
    long st;
    json_t *s = statement(g_admin[1], stmt, &st);
    CHECK_STR(jstr(s, "status"), "issued");
    CHECK_EQ_INT(jint(json_object_get(s, "totals"), "lines"), in_month);
    CHECK_EQ_INT(jint(json_object_get(s, "issued_totals"), "lines"), in_month);
    check_sums(s);
    printf("# %d of 91 lines in %s, %d in %s\n", in_month, month, elsewhere, next_month);
    *out = s;
}

/* Charges posted while the statement is issued: each in exactly one statement. */
static void test_concurrency(void) {
    json_t *j = NULL;
    char path[512], june[64];
    json_t *s = NULL;
    issue_while_posting(&s, &g_posted, "2030-06-15", g_v3, poster, 90, june, NULL, "June", "July");
    REQUIRE(s != NULL);
    long long june_total = jint(json_object_get(s, "issued_totals"), "total");
    json_decref(s);
    /* netting: B is owed the issued June statement by A; A sees the mirror; D may not look */
    snprintf(path, sizeof path, "/api/v1/clubs/%s/netting?partner=%s&period=2030-06", g_club[1],
             g_club[0]);
    REQUIRE(call(g_admin[1], "GET", path, NULL, &j) == 200);
    json_t *it = json_array_get(json_object_get(j, "items"), 0);
    CHECK_STR(jstr(it, "currency"), "GBP");
    CHECK_EQ_INT(jint(it, "receivable"), june_total);
    CHECK_EQ_INT(jint(it, "net"), june_total);
    CHECK_STR(jstr(it, "payer_club_id"), g_club[0]);
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/clubs/%s/netting?partner=%s&period=2030-06", g_club[0],
             g_club[1]);
    REQUIRE(call(g_admin[0], "GET", path, NULL, &j) == 200);
    CHECK_EQ_INT(jint(json_array_get(json_object_get(j, "items"), 0), "net"), -june_total);
    json_decref(j);
    CHECK_EQ_INT(call(g_admin[3], "GET", path, NULL, &j), 403);
    json_decref(j);
}

/* The one-pass document (reciprocal.statement_json, migration 0012) equals the jsonb one of
 * statement_doc(s, true) for every statement of this run's hosts (reversals, disputes, ledger,
 * issued totals: the statements above have them all), and GET answers it byte for byte as a
 * parse and print of the jsonb document would. */
static void test_documents(void) {
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    REQUIRE(db != NULL);
    db_scope_t sc = {.network_admin = 1};
    db_tx_t *tx = NULL;
    REQUIRE(db_begin(db, &sc, &tx, &e) == 0);
    const char *p[] = {g_club[1], g_club[2]};
    PGresult *r = db_exec(tx,
                          "SELECT s.id::text, (reciprocal.statement_doc(s, true) = "
                          "reciprocal.statement_json(s)::jsonb)::text, "
                          "reciprocal.statement_doc(s, true)::text FROM reciprocal.statements s "
                          "WHERE s.host_club_id IN ($1::uuid, $2::uuid) ORDER BY s.number",
                          2, p, &e);
    REQUIRE(r != NULL);
    CHECK(PQntuples(r) >= 4);
    for (int i = 0; i < PQntuples(r); i++) {
        CHECK_STR(PQgetvalue(r, i, 1), "true");
        /* the REST answer: the pass-through text equals jansson's print of the jsonb one */
        json_t *want = json_loads(PQgetvalue(r, i, 2), 0, NULL);
        char *want_text = want ? json_dumps(want, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        char path[128];
        snprintf(path, sizeof path, "/api/v1/statements/%s", PQgetvalue(r, i, 0));
        e2e_resp_t resp;
        REQUIRE(req(NULL, "GET", path, NULL, &resp) == 0);
        CHECK_EQ_INT(resp.status, 200);
        CHECK_STR(resp.body, want_text ? want_text : "?");
        e2e_resp_free(&resp);
        free(want_text);
        json_decref(want);
    }
    PQclear(r);
    db_rollback(tx);
    db_pool_close(db);
}

/* The CSV of a statement document as it was written from the parsed JSON document before
 * statement_doc.c wrote it from the rows (RFC 4180; docs/reciprocal.md "Documents"). */
static char *csv_of_doc(const json_t *doc) {
    static const char *const cols[] = {"id",          "visit_id",    "member_id",    "at",
                                       "category",    "description", "quantity",     "unit_amount",
                                       "tax_rate_bp", "tax_amount",  "total_amount", "reverses"};
    static const char *const head[] = {"number", "period", "host_club_id", "home_club_id",
                                       "currency"};
    const char *cur = jstr(doc, "currency");
    strbuf_t b = {0};
    strbuf_puts(&b, "statement_number,period,host_club_id,home_club_id,currency,line,charge_id,"
                    "visit_id,member_id,at,category,description,quantity,unit_amount_minor,"
                    "tax_rate_bp,tax_minor,total_minor,reverses,total\r\n");
    size_t i;
    json_t *l;
    char num[40];
    json_array_foreach(json_object_get(doc, "lines"), i, l) {
        for (size_t k = 0; k < 5; k++) {
            csv_put_field(&b, jstr(doc, head[k]), 0);
            strbuf_puts(&b, ",");
        }
        strbuf_printf(&b, "%zu,", i + 1);
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
            json_t *v = json_object_get(l, cols[k]);
            if (json_is_integer(v))
                strbuf_printf(&b, "%lld", (long long)json_integer_value(v));
            else
                csv_put_field(&b, json_is_string(v) ? json_string_value(v) : "",
                              strcmp(cols[k], "description") == 0 ? CSV_TEXT : 0);
            strbuf_puts(&b, ",");
        }
        strbuf_printf(&b, "%s\r\n", fees_format(jint(l, "total_amount"), cur, num, sizeof num));
    }
    json_t *t = json_object_get(doc, "totals");
    strbuf_printf(&b, "%s,%s,%s,%s,%s,total,,,,,,,,,,%lld,%lld,,%s\r\n", jstr(doc, "number"),
                  jstr(doc, "period"), jstr(doc, "host_club_id"), jstr(doc, "home_club_id"), cur,
                  jint(t, "tax"), jint(t, "total"),
                  fees_format(jint(t, "total"), cur, num, sizeof num));
    return strbuf_take(&b);
}

/* The CSV written from the rows (statement_doc.c) equals, byte for byte, the CSV the parsed JSON
 * document gave, for every statement of this run's hosts (reversals, a formula-like
 * description, JPY and GBP), as the host and, once issued, as the home club. */
static void test_csv_rows(void) {
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    REQUIRE(db != NULL);
    db_scope_t sc = {.network_admin = 1};
    const char *p[] = {g_club[1], g_club[2]};
    PGresult *r = db_read(db, &sc,
                          "SELECT s.id::text, s.status FROM reciprocal.statements s WHERE "
                          "s.host_club_id IN ($1::uuid, $2::uuid) ORDER BY s.number",
                          2, p, &e);
    REQUIRE(r != NULL);
    CHECK(PQntuples(r) >= 4);
    for (int i = 0; i < PQntuples(r); i++) {
        char path[160];
        json_t *doc = NULL;
        snprintf(path, sizeof path, "/api/v1/statements/%s", PQgetvalue(r, i, 0));
        REQUIRE(call(NULL, "GET", path, NULL, &doc) == 200);
        char *want = csv_of_doc(doc);
        json_decref(doc);
        snprintf(path, sizeof path, "/api/v1/statements/%s?format=csv", PQgetvalue(r, i, 0));
        e2e_resp_t resp;
        REQUIRE(req(NULL, "GET", path, NULL, &resp) == 0);
        CHECK_EQ_INT(resp.status, 200);
        CHECK_STR(resp.body, want ? want : "?");
        e2e_resp_free(&resp);
        if (strcmp(PQgetvalue(r, i, 1), "draft") != 0) { /* the home club's copy: the same */
            REQUIRE(req(g_admin[0], "GET", path, NULL, &resp) == 0);
            CHECK_EQ_INT(resp.status, 200);
            CHECK_STR(resp.body, want ? want : "?");
            e2e_resp_free(&resp);
        }
        free(want);
    }
    PQclear(r);
    db_pool_close(db);
}

/* ---- many hosts' staff posting at once (the bench's failed posts) ---- */

#define PAR_VISITS 24
#define PAR_THREADS 16
#define PAR_POSTS 25
static char g_pv[PAR_VISITS][64];
static int g_par_ok, g_par_failed;

static void *par_poster(void *arg) {
    long t = (long)arg;
    for (int i = 0; i < PAR_POSTS; i++) {
        char path[256];
        e2e_resp_t r;
        snprintf(path, sizeof path, "/api/v1/visits/%s/charges",
                 g_pv[(t + i * PAR_THREADS) % PAR_VISITS]);
        if (req(g_admin[2], "POST", path,
                "{\"category\":\"dining\",\"description\":\"Dinner\",\"unit_amount\":4500,"
                "\"tax_amount\":900,\"tax_rate_bp\":2000}",
                &r) != 0) {
            __atomic_add_fetch(&g_par_failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (r.status == 201) {
            __atomic_add_fetch(&g_par_ok, 1, __ATOMIC_RELAXED);
        } else {
            __atomic_add_fetch(&g_par_failed, 1, __ATOMIC_RELAXED);
            printf("#   parallel post -> %ld %s\n", r.status, r.body);
        }
        e2e_resp_free(&r);
    }
    return NULL;
}

/* PAR_THREADS clients post one line at a time (no `at`: now) to PAR_VISITS checked-in visits of
 * different members, as bench/visits_charges.lua does: every post is 201. */
static void test_parallel_posts(void) {
    for (int i = 0; i < PAR_VISITS; i++) {
        char m[64];
        REQUIRE(member(m) == 0);
        REQUIRE(visit_of(m, 2, "2030-07-10", 0, 1, g_pv[i]) == 0);
    }
    pthread_t th[PAR_THREADS];
    for (long i = 0; i < PAR_THREADS; i++)
        REQUIRE(pthread_create(&th[i], NULL, par_poster, (void *)i) == 0);
    for (int i = 0; i < PAR_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(g_par_failed, 0);
    CHECK_EQ_INT(g_par_ok, PAR_THREADS * PAR_POSTS);
}

/* ---- measurements (RECIPROCAL_SETTLE_BENCH=1; run with RECIPROCAL_TEST_BIN=build/reciprocal) ----
 */

static int g_bench_ok;
static void *bench_poster(void *arg) {
    long n = (long)arg;
    for (long i = 0; i < n; i++) {
        long st = charge(g_admin[1], g_v3,
                         "{\"category\":\"bar\",\"description\":\"Bench\",\"unit_amount\":100,"
                         "\"at\":\"2030-06-16T18:00:00Z\"}",
                         NULL);
        if (st == 201) __atomic_add_fetch(&g_bench_ok, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void *bench_getter(void *arg) {
    long n = (long)arg;
    for (long i = 0; i < n; i++)
        if (call(g_admin[1], "GET", "/health/live", NULL, NULL) == 200)
            __atomic_add_fetch(&g_bench_ok, 1, __ATOMIC_RELAXED);
    return NULL;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- whole bills: {lines: [...]} (docs/reciprocal.md "Posting charges: whole bills, fewer
 * round trips") ---- */

/* A bill of n lines "Bill <tag> k" of 100 + k minor units at `at`, as a JSON body. */
static char *bill_body(int n, const char *tag, const char *at, const char *extra_line) {
    strbuf_t b = {0};
    strbuf_puts(&b, "{\"lines\":[");
    for (int k = 0; k < n; k++)
        strbuf_printf(&b,
                      "%s{\"category\":\"dining\",\"description\":\"Bill %s %d\",\"quantity\":2,"
                      "\"unit_amount\":%d,\"tax_amount\":20,\"tax_rate_bp\":1000,\"at\":\"%s\"}",
                      k ? "," : "", tag, k, 100 + k, at);
    if (extra_line) strbuf_printf(&b, ",%s", extra_line);
    strbuf_puts(&b, "]}");
    return strbuf_take(&b);
}

/* The charges of visit v (as B) whose description starts with prefix. */
static int count_like(const char *v, const char *prefix) {
    char path[256];
    json_t *j = NULL;
    int n = 0;
    snprintf(path, sizeof path, "/api/v1/charges?visit_id=%s&limit=100", v);
    if (call(g_admin[1], "GET", path, NULL, &j) != 200) return -1;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(j, "items"), i, it) {
        const char *d = jstr(it, "description");
        if (d && strncmp(d, prefix, strlen(prefix)) == 0) n++;
    }
    json_decref(j);
    return n;
}

/* A bill posts every line in one transaction (201 {items}, in order, one statement, one
 * charge.posted per line is the outbox's: the lines are listed); one bad line rejects all of
 * it with lines[i].field; more than 500 lines, an empty bill and keys beside lines are refused;
 * the currency rules of a single line hold per line; the home club 403, another club 404. */
static void test_bills(void) {
    char v[64], path[256];
    json_t *j = NULL;
    REQUIRE(visit(1, "2030-09-08", 0, 1, v) == 0);
    char *body = bill_body(10, "ok", "2030-09-08T19:00:00Z", NULL);
    snprintf(path, sizeof path, "/api/v1/visits/%s/charges", v);
    REQUIRE(call(g_admin[1], "POST", path, body, &j) == 201);
    free(body);
    json_t *items = json_object_get(j, "items");
    CHECK_EQ_INT(json_array_size(items), 10);
    char sid[64];
    snprintf(sid, sizeof sid, "%s", jstr(json_array_get(items, 0), "statement_id") ?: "");
    CHECK(sid[0] != 0);
    for (size_t k = 0; k < json_array_size(items); k++) {
        json_t *it = json_array_get(items, k);
        char want[32];
        snprintf(want, sizeof want, "Bill ok %zu", k);
        CHECK_STR(jstr(it, "description"), want);
        CHECK_EQ_INT(jint(it, "net_amount"), 2 * (100 + (long long)k));
        CHECK_EQ_INT(jint(it, "total_amount"), 2 * (100 + (long long)k) + 20);
        CHECK_STR(jstr(it, "currency"), "GBP");
        CHECK_STR(jstr(it, "payment_mode"), "bill_home_club");
        CHECK_STR(jstr(it, "statement_id"), sid);
        CHECK(json_is_null(json_object_get(it, "reversed_by")));
    }
    json_decref(j);
    CHECK_EQ_INT(count_like(v, "Bill ok "), 10);
    /* one event per line */
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    REQUIRE(db != NULL);
    db_scope_t sc = {.network_admin = 1, .relay = 1}; /* the outbox is the relay's to read */
    const char *pv[] = {v};
    PGresult *r = db_read(db, &sc,
                          "SELECT count(*) FROM reciprocal.outbox WHERE type = 'charge.posted' "
                          "AND payload->'data'->>'visit_id' = $1",
                          1, pv, &e);
    REQUIRE(r != NULL);
    CHECK_EQ_INT(atoi(PQgetvalue(r, 0, 0)), 10 + 1); /* the bill and the entry fee */
    PQclear(r);
    db_pool_close(db);
    /* one bad line: nothing posted, the line and field named */
    body = bill_body(3, "bad", "2030-09-08T19:30:00Z",
                     "{\"category\":\"bar\",\"description\":\"x\",\"unit_amount\":-5}");
    CHECK_EQ_INT(call(g_admin[1], "POST", path, body, &j), 422);
    free(body);
    CHECK_STR(jstr(json_object_get(j, "error"), "field"), "lines[3].unit_amount");
    json_decref(j);
    body = bill_body(2, "bad", "2030-09-08T19:30:00Z", "{\"category\":\"bar\",\"unit_amount\":5}");
    CHECK_EQ_INT(call(g_admin[1], "POST", path, body, &j), 400);
    free(body);
    CHECK_STR(jstr(json_object_get(j, "error"), "field"), "lines[2].description");
    json_decref(j);
    body = bill_body(1, "bad", "2030-09-08T19:30:00Z",
                     "{\"category\":\"bar\",\"description\":\"x\",\"unit_amount\":5,\"tip\":1}");
    CHECK_EQ_INT(call(g_admin[1], "POST", path, body, &j), 400);
    free(body);
    CHECK_STR(jstr(json_object_get(j, "error"), "field"), "lines[1].tip");
    json_decref(j);
    /* the currency rules per line: the agreement's GBP only; checked before anything is posted */
    body = bill_body(2, "bad", "2030-09-08T19:30:00Z",
                     "{\"category\":\"bar\",\"description\":\"x\",\"unit_amount\":5,"
                     "\"currency\":\"EUR\"}");
    CHECK_EQ_INT(call(g_admin[1], "POST", path, body, &j), 422);
    free(body);
    CHECK_STR(jstr(json_object_get(j, "error"), "code"), "currency_mismatch");
    CHECK_STR(jstr(json_object_get(j, "error"), "field"), "lines[2].currency");
    json_decref(j);
    CHECK_EQ_INT(count_like(v, "Bill bad "), 0);
    /* 1..500 lines; lines is the whole body */
    body = bill_body(501, "big", "2030-09-08T19:30:00Z", NULL);
    CHECK_EQ_INT(call(g_admin[1], "POST", path, body, &j), 422);
    free(body);
    CHECK_STR(jstr(json_object_get(j, "error"), "field"), "lines");
    json_decref(j);
    CHECK_EQ_INT(call(g_admin[1], "POST", path, "{\"lines\":[]}", &j), 422);
    json_decref(j);
    CHECK_EQ_INT(call(g_admin[1], "POST", path, "{\"lines\":{}}", &j), 400);
    json_decref(j);
    CHECK_EQ_INT(call(g_admin[1], "POST", path,
                      "{\"lines\":[{\"category\":\"bar\",\"description\":\"x\",\"unit_amount\":5}],"
                      "\"category\":\"bar\"}",
                      &j),
                 400);
    CHECK_STR(jstr(json_object_get(j, "error"), "field"), "category");
    json_decref(j);
    CHECK_EQ_INT(count_like(v, "Bill big "), 0);
    /* 500 lines are one bill */
    body = bill_body(500, "max", "2030-09-09T12:00:00Z", NULL);
    REQUIRE(call(g_admin[1], "POST", path, body, &j) == 201);
    free(body);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "items")), 500);
    json_decref(j);
    /* lines of two months: each in its month's statement */
    char two[512];
    snprintf(two, sizeof two,
             "{\"lines\":[{\"category\":\"bar\",\"description\":\"Month a\",\"unit_amount\":5,"
             "\"at\":\"2030-09-30T22:30:00Z\"},{\"category\":\"bar\",\"description\":\"Month "
             "b\",\"unit_amount\":5,\"at\":\"2030-10-01T00:30:00Z\"}]}");
    REQUIRE(call(g_admin[1], "POST", path, two, &j) == 201);
    items = json_object_get(j, "items");
    CHECK_STR(jstr(json_array_get(items, 0), "statement_id"), sid);
    CHECK(strcmp(jstr(json_array_get(items, 1), "statement_id"), sid) != 0);
    json_decref(j);
    /* who: the home club 403, another club 404 (tenant isolation) */
    body = bill_body(2, "who", "2030-09-08T19:30:00Z", NULL);
    CHECK_EQ_INT(call(g_admin[0], "POST", path, body, &j), 403);
    json_decref(j);
    CHECK_EQ_INT(call(g_admin[3], "POST", path, body, &j), 404);
    json_decref(j);
    CHECK_EQ_INT(call(g_admin[2], "POST", path, body, &j), 404);
    json_decref(j);
    free(body);
    CHECK_EQ_INT(count_like(v, "Bill who "), 0);
    /* GraphQL: postCharges, a userError naming the line */
    j = gql(g_admin[1],
            "mutation($i: PostChargesInput!) { postCharges(input: $i) { charges { category "
            "totalAmount statementId } userErrors { field code } } }",
            json_pack("{s:{s:s, s:[{s:s, s:s, s:i}, {s:s, s:s, s:i, s:i, s:s}]}}", "i", "visitId",
                      v, "lines", "category", "GREEN_FEE", "description", "GQL 18 holes",
                      "unitAmount", 4000, "category", "CART_FEE", "description", "GQL buggy",
                      "unitAmount", 1000, "quantity", 2, "at", "2030-09-08T15:00:00Z"));
    json_t *pc = json_object_get(json_object_get(j, "data"), "postCharges");
    json_t *cs = json_object_get(pc, "charges");
    if (json_array_size(cs) != 2) printf("#   %s\n", json_dumps(j, 0));
    CHECK_EQ_INT(json_array_size(cs), 2);
    CHECK_STR(jstr(json_array_get(cs, 0), "category"), "GREEN_FEE");
    CHECK_EQ_INT(jint(json_array_get(cs, 1), "totalAmount"), 2000);
    CHECK_STR(jstr(json_array_get(cs, 1), "statementId"), sid);
    json_decref(j);
    j = gql(g_admin[1],
            "mutation($i: PostChargesInput!) { postCharges(input: $i) { charges { id } "
            "userErrors { field code } } }",
            json_pack("{s:{s:s, s:[{s:s, s:s, s:i}, {s:s, s:s, s:i, s:s}]}}", "i", "visitId", v,
                      "lines", "category", "BAR", "description", "GQL bad", "unitAmount", 100,
                      "category", "BAR", "description", "GQL bad", "unitAmount", 100, "currency",
                      "JPY"));
    pc = json_object_get(json_object_get(j, "data"), "postCharges");
    CHECK(json_is_null(json_object_get(pc, "charges")));
    const char *f = jstr(json_array_get(json_object_get(pc, "userErrors"), 0), "field");
    CHECK(f && strncmp(f, "lines[1].", 9) == 0);
    json_decref(j);
    CHECK_EQ_INT(count_like(v, "GQL bad"), 0);
}

static char g_v4[64];
static const char *g_bill_at; /* the bills' time */
static int g_bills_posted;

static void *bill_poster(void *arg) {
    (void)arg;
    char path[256];
    snprintf(path, sizeof path, "/api/v1/visits/%s/charges", g_v4);
    char *body = bill_body(3, "conc", g_bill_at, NULL);
    for (int i = 0; i < 5; i++) {
        json_t *j = NULL;
        long st = call(g_admin[1], "POST", path, body, &j);
        json_t *items = json_object_get(j, "items");
        /* a bill is in one statement: one transaction, one month */
        int same = st == 201 && json_array_size(items) == 3 &&
                   strcmp(jstr(json_array_get(items, 0), "statement_id"),
                          jstr(json_array_get(items, 2), "statement_id")) == 0;
        json_decref(j);
        pthread_mutex_lock(&g_mu);
        if (same) g_bills_posted++;
        pthread_mutex_unlock(&g_mu);
    }
    free(body);
    return NULL;
}

/* Bills posted (at AT, against a new visit arriving on ARRIVE) while their month's statement is
 * issued, by the host (AS_OF NULL) or by the schedule (POST /statements/sweep at AS_OF). */
static void bill_concurrency(const char *arrive, const char *at, const char *as_of,
                             const char *month, const char *next_month) {
    char stmt[64];
    json_t *s = NULL;
    g_bill_at = at;
    g_bills_posted = 0;
    issue_while_posting(&s, &g_bills_posted, arrive, g_v4, bill_poster, 30, stmt, as_of, month,
                        next_month);
    json_decref(s);
}

static void test_bill_concurrency(void) {
    bill_concurrency("2030-11-15", "2030-11-15T18:00:00Z", NULL, "November", "December");
}

/* The same while the schedule issues every due statement at once (one transaction, the totals
 * of all in one statement: statements.c issue_due). */
static void test_sweep_concurrency(void) {
    bill_concurrency("2030-08-14", "2030-08-14T18:00:00Z", "2030-09-05T12:00:00Z", "August",
                     "September");
}

/* Posting charges over REST (16 connections) and issuing 50 pairs' statements with 100,000 lines
 * in all (the lines inserted as the owner, the issue through the schedule). */
static void test_bench(void) {
    pthread_t th[16];
    double t0 = now_s();
    for (int i = 0; i < 16; i++) /* the baseline: the same client on GET /health/live */
        REQUIRE(pthread_create(&th[i], NULL, bench_getter, (void *)100L) == 0);
    for (int i = 0; i < 16; i++)
        pthread_join(th[i], NULL);
    printf("# bench: baseline %d GET /health/live in %.2f s = %.0f req/s\n", g_bench_ok,
           now_s() - t0, g_bench_ok / (now_s() - t0));
    g_bench_ok = 0;
    t0 = now_s();
    for (int i = 0; i < 16; i++)
        REQUIRE(pthread_create(&th[i], NULL, bench_poster, (void *)250L) == 0);
    for (int i = 0; i < 16; i++)
        pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    printf("# bench: posted %d charges in %.2f s = %.0f lines/s\n", g_bench_ok, dt,
           g_bench_ok / dt);
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    REQUIRE(db != NULL);
    db_scope_t sc = {.network_admin = 1};
    db_tx_t *tx = NULL;
    REQUIRE(db_begin(db, &sc, &tx, &e) == 0);
    const char *p[] = {g_club[0], g_v1, g_m1};
    REQUIRE(db_exec_cmd(tx,
                        "WITH s AS (INSERT INTO reciprocal.statements (number, host_club_id, "
                        "home_club_id, currency, period, host_timezone) SELECT 'BENCH-' || k, "
                        "gen_random_uuid(), $1::uuid, 'GBP', '2031-01-01', 'Europe/London' FROM "
                        "generate_series(1, 50) k RETURNING id, host_club_id) INSERT INTO "
                        "reciprocal.charges (visit_id, host_club_id, home_club_id, member_id, "
                        "category, description, quantity, unit_amount, tax_amount, tax_rate_bp, "
                        "currency, payment_mode, at, statement_id) SELECT $2::uuid, "
                        "s.host_club_id, $1::uuid, $3::uuid, 'dining', 'Bench line', 1, 1000 + "
                        "i % 97, 200, 2000, 'GBP', 'bill_home_club', '2031-01-15T12:00:00Z', s.id "
                        "FROM s, generate_series(1, 2000) i",
                        3, p, &e) == 100000);
    REQUIRE(db_commit(tx, &e) == 0);
    db_pool_close(db);
    json_t *j = NULL;
    t0 = now_s();
    REQUIRE(call(NULL, "POST", "/api/v1/statements/sweep", "{\"as_of\":\"2031-02-05T12:00:00Z\"}",
                 &j) == 200);
    dt = now_s() - t0;
    printf("# bench: issued %lld statements (50 pairs, 100000 lines) in %.2f s\n",
           jint(j, "issued"), dt);
    CHECK(jint(j, "issued") >= 50);
    json_decref(j);
}

int main(void) {
    RUN(test_start);
    RUN(test_charges);
    RUN(test_cancellation);
    RUN(test_statements);
    RUN(test_ledger);
    RUN(test_pdf);
    RUN(test_graphql);
    RUN(test_concurrency);
    RUN(test_documents);
    RUN(test_csv_rows);
    RUN(test_parallel_posts);
    RUN(test_bills);
    RUN(test_bill_concurrency);
    RUN(test_sweep_concurrency);
    if (getenv("RECIPROCAL_SETTLE_BENCH")) RUN(test_bench);
    e2e_stop(&g_proc);
    TEST_DONE();
}
