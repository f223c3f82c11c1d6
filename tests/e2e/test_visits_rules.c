/* End-to-end: the rules of a visit at every stage and the visits' scheduled work, through the
 * real binary. Club A (home, Bath) and hosts B (London, with coordinates: residency 50 km,
 * opening hours 08:00-20:00), C (America/New_York, auto_approve) and D (Bristol, no
 * coordinates: residency by city and country).
 *   - residency_exclusion_km: by distance from the member's home coordinates, and by city and
 *     country (case-insensitive) without them; the address coordinates' validation;
 *   - auto_approve: the request answers `approved` with its letter;
 *   - every rule again at confirmation (agreement suspended between approve and confirm: 422,
 *     resumed: 200; the member moved next to the host: 422 residency, moved back: 200) and at
 * check-in (agreement suspended: 422 agreement_not_active; outside the opening hours: 422 hours;
 * member suspended at home: 422 loi_member_not_active; inside: 200);
 *   - the sweep (POST /visits/sweep {as_of}): requested and approved visits expire when their
 *     validity ended (loi.expired), confirmed ones become no_show 2 h after the last day in the
 *     host's time zone, across both DST changes in New York (not a second early);
 *   - a restart loses no transition: the binary stopped, the visits' dates moved into the past
 *     in the database, the binary started again: its periodic job makes them expired / no_show;
 *   - the month and year limits at check-in, with the clock injected (`at`): club E (London,
 *     summer time starting on 2030-03-31, the month's last day) by the host's calendar month of
 *     arrival, F (New York) by the days of each calendar year a stay across the year's end
 *     touches, the terms tightened between confirm and check-in (as by an amendment);
 *   - notice of termination (club G): requests refused, visits ending before the termination
 *     honoured at confirm and the door, later ones refused there (agreement_terminating);
 *   - loi_validity_days (club H, New York, 2 days): the letter of a 4-day stay ends with the
 *     second day (host time, across the start of summer time), signed into the token; verify
 *     one second before that end ok, exactly at it and one second after expired;
 *   - loi_validity_days absent (club I, UTC, stays up to 40 days): the default 30 days bounds
 *     the letter of a 40-day stay (not its departure), and the door refuses it from that end on
 *     (422 loi_expired) while admitting it one second before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "services/reciprocal/loi.h"
#include "support/e2e.h"
#include "test.h"

#define AS_OF "2030-01-01T00:00:00Z" /* a Tuesday */

static e2e_proc_t g_proc;
static char g_club[9][64], g_agr[9][64];
static char g_near[64], g_far[64], g_city[64], g_susp[64];
static const char *const g_env[] = {
    "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", NULL};

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}
static const char *err_code(const e2e_resp_t *r) {
    return jstr(json_object_get(r->json, "error"), "code");
}

/* as the network administrator */
static int req(const char *method, const char *path, const char *body, e2e_resp_t *r) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    return e2e_http_as(e2e_bearer(), method, url, body ? "application/json" : NULL, body, r);
}

static long long utc(int y, int mo, int d, int h, int mi) {
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (long long)timegm(&tm);
}

/* An active member of club A with a home address (JSON object text, or NULL). */
static int member(const char *home, char id[64]) {
    char body[1024], path[256];
    e2e_resp_t r;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"category\":\"full\",\"expires_on\":\"2099-12-31\","
             "\"profile\":{\"first_name\":\"Res\",\"last_name\":\"Ident\"}%s%s%s}",
             g_club[0], home ? ",\"addresses\":{\"home\":" : "", home ? home : "", home ? "}" : "");
    if (req("POST", "/api/v1/members", body, &r) != 0) return -1;
    int ok = r.status == 201;
    if (!ok) printf("#   member: %s\n", r.body);
    if (ok) snprintf(id, 64, "%s", jstr(r.json, "id"));
    e2e_resp_free(&r);
    if (!ok) return -1;
    snprintf(path, sizeof path, "/api/v1/members/%s/status", id);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"active\"}", g_club[0]);
    if (req("POST", path, body, &r) != 0) return -1;
    ok = r.status == 200;
    e2e_resp_free(&r);
    return ok ? 0 : -1;
}

/* An active agreement between A and host with the host's terms; its id into g_agr[host]. */
static int agreement(int host, const char *terms) {
    char body[2048], path[256];
    e2e_resp_t r;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"2026-01-01\","
             "\"terms\":{\"%s\":%s}}",
             g_club[0], g_club[0], g_club[host], g_club[host], terms);
    if (req("POST", "/api/v1/agreements", body, &r) != 0) return -1;
    int ok = r.status == 201;
    if (!ok) printf("#   agreement: %s\n", r.body);
    if (ok) snprintf(g_agr[host], sizeof g_agr[host], "%s", jstr(r.json, "id"));
    e2e_resp_free(&r);
    if (!ok) return -1;
    snprintf(path, sizeof path, "/api/v1/agreements/%s/accept", g_agr[host]);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\"}", g_club[host]);
    if (req("POST", path, body, &r) != 0) return -1;
    ok = r.status == 200 && strcmp(jstr(r.json, "status"), "active") == 0;
    e2e_resp_free(&r);
    return ok ? 0 : -1;
}

static void test_start(void) {
    static const char *const clubs[4] = {
        "\"timezone\":\"Europe/London\",\"address\":{\"city\":\"Bath\",\"country\":\"GB\"}",
        "\"timezone\":\"Europe/London\",\"address\":{\"city\":\"London\",\"country\":\"GB\"},"
        "\"latitude\":51.5074,\"longitude\":-0.1278",
        "\"timezone\":\"America/New_York\",\"address\":{\"city\":\"New York\",\"country\":"
        "\"US\"},\"latitude\":40.7128,\"longitude\":-74.006",
        "\"timezone\":\"Europe/London\",\"address\":{\"city\":\"Bristol\",\"country\":\"GB\"}"};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, g_env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    for (int i = 0; i < 4; i++) {
        char name[16], slug[64], extra[512];
        snprintf(name, sizeof name, "Rules %c", 'A' + i);
        snprintf(slug, sizeof slug, "rules-%c-%d", 'a' + i, (int)getpid());
        snprintf(extra, sizeof extra, "%s,\"facilities\":[\"dining\"]", clubs[i]);
        REQUIRE(e2e_club(&g_proc, name, slug, extra, g_club[i]) == 0);
    }
    /* ~2 km from B; Edinburgh, ~530 km from B; Bristol without coordinates */
    REQUIRE(member("{\"city\":\"London\",\"country\":\"GB\",\"latitude\":51.52,\"longitude\":-0.1}",
                   g_near) == 0);
    REQUIRE(member("{\"city\":\"Edinburgh\",\"country\":\"GB\",\"latitude\":55.9533,"
                   "\"longitude\":-3.1883}",
                   g_far) == 0);
    REQUIRE(member("{\"city\":\"bristol\",\"country\":\"gb\"}", g_city) == 0);
    REQUIRE(member(NULL, g_susp) == 0);
    static const char generous[] = "\"max_visits_month\":30,\"max_days_year\":365,"
                                   "\"max_days_per_stay\":14";
    char terms[512];
    snprintf(terms, sizeof terms,
             "{%s,\"residency_exclusion_km\":50,\"hours\":{\"from\":\"08:00\",\"to\":\"20:00\"}}",
             generous);
    REQUIRE(agreement(1, terms) == 0);
    snprintf(terms, sizeof terms, "{%s,\"auto_approve\":true}", generous);
    REQUIRE(agreement(2, terms) == 0);
    snprintf(terms, sizeof terms, "{%s}", generous); /* residency 150 km by default */
    REQUIRE(agreement(3, terms) == 0);
}

/* POST /visits for member at host (as of AS_OF): status; *out (may be NULL) the body. */
static long visit(const char *member_id, int host, const char *arrive, const char *depart,
                  json_t **out) {
    char body[1024];
    e2e_resp_t r;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":"
             "\"%s\",\"depart_on\":\"%s\",\"as_of\":\"" AS_OF "\"}",
             g_club[0], member_id, g_club[host], arrive, depart);
    if (req("POST", "/api/v1/visits", body, &r) != 0) return -1;
    long st = r.status;
    if (st != 201 && !out) printf("#   visit: %s\n", r.body);
    if (out) *out = json_incref(r.json);
    e2e_resp_free(&r);
    return st;
}

static void refused(const char *member_id, int host, const char *code) {
    json_t *v = NULL;
    CHECK_EQ_INT(visit(member_id, host, "2030-02-05", "2030-02-05", &v), 422);
    CHECK_STR(jstr(json_object_get(v, "error"), "code"), code);
    json_decref(v);
}

/* A new visit's id (201 expected). */
static int new_visit(const char *member_id, int host, const char *arrive, const char *depart,
                     char id[64]) {
    json_t *v = NULL;
    long st = visit(member_id, host, arrive, depart, &v);
    if (st != 201) printf("#   visit %s..%s: %ld %s\n", arrive, depart, st, jstr(v, "status"));
    int ok = st == 201 && jstr(v, "id");
    if (ok) snprintf(id, 64, "%s", jstr(v, "id"));
    json_decref(v);
    return ok ? 0 : -1;
}

/* POST /visits/{id}/<action>: status; *out (may be NULL) the body. */
static long act(const char *id, const char *action, json_t **out) {
    char path[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/visits/%s/%s", id, action);
    if (req("POST", path, "{}", &r) != 0) return -1;
    long st = r.status;
    if (out)
        *out = json_incref(r.json);
    else if (st != 200)
        printf("#   %s: %s\n", action, r.body);
    e2e_resp_free(&r);
    return st;
}

static const char *status_of(const char *id, char buf[32]) {
    char path[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/visits/%s", id);
    buf[0] = 0;
    if (req("GET", path, NULL, &r) == 0 && jstr(r.json, "status"))
        snprintf(buf, 32, "%s", jstr(r.json, "status"));
    e2e_resp_free(&r);
    return buf;
}

static long agreement_action(int host, const char *action) {
    char path[256], body[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/agreements/%s/%s", g_agr[host], action);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"reason\":\"test\"}", g_club[0]);
    if (req("POST", path, body, &r) != 0) return -1;
    long st = r.status;
    if (st != 200) printf("#   %s agreement: %s\n", action, r.body);
    e2e_resp_free(&r);
    return st;
}

static void test_residency(void) {
    char id[64];
    /* coordinates on both sides: by distance */
    refused(g_near, 1, "residency");
    CHECK(new_visit(g_far, 1, "2030-02-05", "2030-02-05", id) == 0);
    /* D has none: same city and country, case-insensitive */
    refused(g_city, 3, "residency");
    CHECK(new_visit(g_far, 3, "2030-02-05", "2030-02-05", id) == 0);
    /* no home address: the rule does not apply */
    CHECK(new_visit(g_susp, 3, "2030-02-05", "2030-02-05", id) == 0);
    /* the coordinates of an address: both or neither, in range */
    e2e_resp_t r;
    char body[512];
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"category\":\"full\",\"profile\":{\"first_name\":\"A\","
             "\"last_name\":\"B\"},\"addresses\":{\"home\":{\"country\":\"GB\",\"latitude\":51}}}",
             g_club[0]);
    REQUIRE(req("POST", "/api/v1/members", body, &r) == 0);
    CHECK_EQ_INT(r.status, 422);
    CHECK_STR(jstr(json_object_get(r.json, "error"), "field"), "addresses.home.longitude");
    e2e_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"category\":\"full\",\"profile\":{\"first_name\":\"A\","
             "\"last_name\":\"B\"},\"addresses\":{\"home\":{\"country\":\"GB\",\"latitude\":91,"
             "\"longitude\":0}}}",
             g_club[0]);
    REQUIRE(req("POST", "/api/v1/members", body, &r) == 0);
    CHECK_EQ_INT(r.status, 422);
    CHECK_STR(jstr(json_object_get(r.json, "error"), "field"), "addresses.home.latitude");
    e2e_resp_free(&r);
    /* a member's address shows its coordinates */
    char path[256];
    snprintf(path, sizeof path, "/api/v1/members/%s?club_id=%s", g_far, g_club[0]);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    json_t *home = json_object_get(json_object_get(r.json, "addresses"), "home");
    CHECK(json_number_value(json_object_get(home, "latitude")) > 55.9);
    e2e_resp_free(&r);
}

static void test_auto_approve(void) {
    json_t *v = NULL;
    CHECK_EQ_INT(visit(g_far, 2, "2030-02-12", "2030-02-13", &v), 201);
    CHECK_STR(jstr(v, "status"), "approved");
    json_t *loi = json_object_get(v, "loi");
    CHECK(jstr(loi, "token") != NULL);
    CHECK(jstr(loi, "qr_svg") != NULL);
    char path[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/visits/%s", jstr(v, "id"));
    REQUIRE(req("GET", path, NULL, &r) == 0);
    json_t *h = json_object_get(r.json, "history");
    CHECK_EQ_INT(json_array_size(h), 2);
    CHECK_STR(jstr(json_array_get(h, 1), "action"), "approve");
    CHECK_STR(jstr(json_array_get(h, 1), "reason"), "auto_approve");
    e2e_resp_free(&r);
    json_decref(v);
    /* without auto_approve the request waits for the home club */
    CHECK_EQ_INT(visit(g_far, 1, "2030-02-12", "2030-02-13", &v), 201);
    CHECK_STR(jstr(v, "status"), "requested");
    json_decref(v);
}

/* POST /visits/check-in {token, at}: status, *code the error code. */
static long check_in(const char *token, long long at, char code[64]) {
    char body[LOI_TOKEN_MAX + 128];
    e2e_resp_t r;
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"at\":%lld}", token, at);
    code[0] = 0;
    if (req("POST", "/api/v1/visits/check-in", body, &r) != 0) return -1;
    long st = r.status;
    if (err_code(&r)) snprintf(code, 64, "%s", err_code(&r));
    e2e_resp_free(&r);
    return st;
}

/* A visit of member at B on day (2030-03-DD), approved; its token into tok. */
static int approved(const char *member_id, const char *day, char id[64], char tok[LOI_TOKEN_MAX]) {
    json_t *v = NULL;
    if (new_visit(member_id, 1, day, day, id) != 0 || act(id, "approve", &v) != 200) {
        json_decref(v);
        return -1;
    }
    snprintf(tok, LOI_TOKEN_MAX, "%s", jstr(json_object_get(v, "loi"), "token"));
    json_decref(v);
    return 0;
}

static void test_stages(void) {
    char id[64], tok[LOI_TOKEN_MAX], code[64], st[32];
    json_t *v = NULL;
    /* confirm: the agreement suspended between approve and confirm */
    REQUIRE(approved(g_far, "2030-03-05", id, tok) == 0);
    REQUIRE(agreement_action(1, "suspend") == 200);
    CHECK_EQ_INT(act(id, "confirm", &v), 422);
    CHECK_STR(jstr(json_object_get(v, "error"), "code"), "agreement_not_active");
    json_decref(v);
    REQUIRE(agreement_action(1, "resume") == 200);
    CHECK_EQ_INT(act(id, "confirm", NULL), 200);
    /* check-in: suspended between confirm and check-in, then outside and inside the hours */
    long long morning = utc(2030, 3, 5, 7, 59), opening = utc(2030, 3, 5, 8, 0);
    REQUIRE(agreement_action(1, "suspend") == 200);
    CHECK_EQ_INT(check_in(tok, opening, code), 422);
    CHECK_STR(code, "agreement_not_active");
    REQUIRE(agreement_action(1, "resume") == 200);
    CHECK_EQ_INT(check_in(tok, morning, code), 422);
    CHECK_STR(code, "hours");
    CHECK_EQ_INT(check_in(tok, utc(2030, 3, 5, 20, 0), code), 422);
    CHECK_STR(code, "hours");
    CHECK_STR(status_of(id, st), "confirmed");
    CHECK_EQ_INT(check_in(tok, opening, code), 200);
    CHECK_STR(status_of(id, st), "checked_in");
    /* summer time in London: 08:00 BST is 07:00 UTC */
    REQUIRE(approved(g_far, "2030-06-04", id, tok) == 0);
    CHECK_EQ_INT(act(id, "confirm", NULL), 200);
    CHECK_EQ_INT(check_in(tok, utc(2030, 6, 4, 6, 59), code), 422);
    CHECK_STR(code, "hours");
    CHECK_EQ_INT(check_in(tok, utc(2030, 6, 4, 7, 0), code), 200);
    /* the member suspended at home between confirm and check-in */
    REQUIRE(approved(g_susp, "2030-03-06", id, tok) == 0);
    CHECK_EQ_INT(act(id, "confirm", NULL), 200);
    char path[256], body[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/members/%s/status", g_susp);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"suspended\",\"reason\":\"x\"}",
             g_club[0]);
    REQUIRE(req("POST", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    CHECK_EQ_INT(check_in(tok, utc(2030, 3, 6, 12, 0), code), 422);
    CHECK_STR(code, "loi_member_not_active");
    CHECK_STR(status_of(id, st), "confirmed");
    /* the member moved next to the host between approve and confirm: residency at confirm */
    REQUIRE(approved(g_city, "2030-03-12", id, tok) == 0); /* Bristol, no coordinates: passes */
    snprintf(path, sizeof path, "/api/v1/members/%s/addresses/home", g_city);
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"city\":\"London\",\"country\":\"GB\",\"latitude\":51.5,"
             "\"longitude\":-0.12}",
             g_club[0]);
    REQUIRE(req("PUT", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    CHECK_EQ_INT(act(id, "confirm", &v), 422);
    CHECK_STR(jstr(json_object_get(v, "error"), "code"), "residency");
    json_decref(v);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"city\":\"Bristol\",\"country\":\"GB\"}",
             g_club[0]);
    REQUIRE(req("PUT", path, body, &r) == 0);
    e2e_resp_free(&r);
    CHECK_EQ_INT(act(id, "confirm", NULL), 200);
    /* and a member suspended before confirmation is refused there */
    snprintf(path, sizeof path, "/api/v1/members/%s/status", g_susp);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"active\"}", g_club[0]);
    REQUIRE(req("POST", path, body, &r) == 0);
    e2e_resp_free(&r);
    REQUIRE(approved(g_susp, "2030-03-07", id, tok) == 0);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"suspended\",\"reason\":\"x\"}",
             g_club[0]);
    REQUIRE(req("POST", path, body, &r) == 0);
    e2e_resp_free(&r);
    CHECK_EQ_INT(act(id, "confirm", &v), 422);
    CHECK_STR(jstr(json_object_get(v, "error"), "code"), "member_not_active");
    json_decref(v);
}

/* POST /visits/sweep {as_of}: retried while another sweep holds the lock. */
static void sweep(const char *as_of) {
    char body[128];
    snprintf(body, sizeof body, "{\"as_of\":\"%s\"}", as_of);
    for (int i = 0; i < 20; i++) {
        e2e_resp_t r;
        REQUIRE(req("POST", "/api/v1/visits/sweep", body, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        int ran = json_is_true(json_object_get(r.json, "ran"));
        e2e_resp_free(&r);
        if (ran) return;
        usleep(200000);
    }
    CHECK(!"the sweep ran");
}

static void test_sweep(void) {
    char req_id[64], appr_id[64], conf_id[64], tok[LOI_TOKEN_MAX], st[32];
    /* London in summer time: the last day 2030-04-02 ends at 2030-04-03T00:00 BST =
     * 2030-04-02T23:00Z; a no-show 2 h later */
    REQUIRE(new_visit(g_far, 1, "2030-04-01", "2030-04-02", req_id) == 0);
    REQUIRE(new_visit(g_far, 3, "2030-04-01", "2030-04-02", appr_id) == 0);
    REQUIRE(act(appr_id, "approve", NULL) == 200);
    REQUIRE(new_visit(g_near, 3, "2030-04-02", "2030-04-02", conf_id) == 0);
    json_t *v = NULL;
    REQUIRE(act(conf_id, "approve", &v) == 200);
    snprintf(tok, sizeof tok, "%s", jstr(json_object_get(v, "loi"), "token"));
    json_decref(v);
    REQUIRE(act(conf_id, "confirm", NULL) == 200);
    sweep("2030-04-02T22:59:59Z");
    CHECK_STR(status_of(req_id, st), "requested");
    CHECK_STR(status_of(appr_id, st), "approved");
    sweep("2030-04-02T23:00:00Z");
    CHECK_STR(status_of(req_id, st), "expired");
    CHECK_STR(status_of(appr_id, st), "expired");
    char path[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/visits/%s", appr_id);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    json_t *h = json_object_get(r.json, "history");
    json_t *last = json_array_get(h, json_array_size(h) - 1);
    CHECK_STR(jstr(last, "action"), "expire");
    CHECK(json_is_null(json_object_get(last, "club_id")));
    e2e_resp_free(&r);
    CHECK_STR(status_of(conf_id, st), "confirmed");
    sweep("2030-04-03T00:59:59Z");
    CHECK_STR(status_of(conf_id, st), "confirmed");
    sweep("2030-04-03T01:00:00Z");
    CHECK_STR(status_of(conf_id, st), "no_show");
    /* a letter of a visit that ended is no longer valid at the door */
    char code[64];
    CHECK_EQ_INT(check_in(tok, utc(2030, 4, 2, 12, 0), code), 409);
    /* bad input */
    REQUIRE(req("POST", "/api/v1/visits/sweep", "{\"as_of\":\"tomorrow\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 422);
    e2e_resp_free(&r);
}

/* A confirmed visit at C (New York, auto-approved) on day..day. */
static int confirmed_ny(const char *day, char id[64]) {
    if (new_visit(g_far, 2, day, day, id) != 0) return -1;
    return act(id, "confirm", NULL) == 200 ? 0 : -1;
}

static void test_no_show_dst(void) {
    char spring[64], autumn[64], st[32];
    /* the day before summer time starts (2030-03-10 02:00 EST): that day ends at 05:00Z, the
     * grace of 2 h ends at 07:00Z (03:00 EDT) */
    REQUIRE(confirmed_ny("2030-03-09", spring) == 0);
    /* the day before summer time ends (2030-11-03 02:00 EDT): that day ends at 04:00Z, the grace
     * ends at 06:00Z (01:00 EST) */
    REQUIRE(confirmed_ny("2030-11-02", autumn) == 0);
    sweep("2030-03-10T06:59:59Z");
    CHECK_STR(status_of(spring, st), "confirmed");
    sweep("2030-03-10T07:00:00Z");
    CHECK_STR(status_of(spring, st), "no_show");
    sweep("2030-11-03T05:59:59Z");
    CHECK_STR(status_of(autumn, st), "confirmed");
    sweep("2030-11-03T06:00:00Z");
    CHECK_STR(status_of(autumn, st), "no_show");
    /* a terminal visit never changes: sweeping again leaves it */
    sweep("2031-01-01T00:00:00Z");
    CHECK_STR(status_of(spring, st), "no_show");
}

/* As the database owner: one statement with one parameter. */
static int owner_exec(const char *sql, const char *param) {
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    if (!db) return -1;
    db_scope_t s = {.network_admin = 1};
    db_tx_t *tx = NULL;
    int rc = -1;
    const char *p[] = {param};
    if (db_begin(db, &s, &tx, &e) == 0) {
        if (db_exec_cmd(tx, sql, 1, p, &e) >= 0)
            rc = db_commit(tx, &e);
        else
            db_rollback(tx);
    }
    if (rc != 0) printf("#   owner: %s\n", e.message);
    db_pool_close(db);
    return rc;
}

static void test_restart(void) {
    char appr[64], conf[64], tok[LOI_TOKEN_MAX], st[32];
    REQUIRE(approved(g_far, "2030-05-07", appr, tok) == 0);
    REQUIRE(approved(g_far, "2030-05-08", conf, tok) == 0);
    REQUIRE(act(conf, "confirm", NULL) == 200);
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
    /* while no process runs, their deadlines pass (the clock moved: their dates moved back) */
    REQUIRE(owner_exec("UPDATE reciprocal.visits SET arrive_on = current_date - 3, depart_on = "
                       "current_date - 3 WHERE id = $1::uuid",
                       appr) == 0);
    REQUIRE(owner_exec("UPDATE reciprocal.lois SET valid_from = now() - interval '4 days', "
                       "valid_to = now() - interval '2 days' WHERE visit_id = $1::uuid",
                       appr) == 0);
    REQUIRE(owner_exec("UPDATE reciprocal.visits SET arrive_on = current_date - 3, depart_on = "
                       "current_date - 3 WHERE id = $1::uuid",
                       conf) == 0);
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, g_env) == 0);
    /* the periodic job's first run, at start */
    for (int i = 0; i < 100; i++) {
        if (strcmp(status_of(appr, st), "expired") == 0 &&
            strcmp(status_of(conf, st), "no_show") == 0)
            break;
        usleep(200000);
    }
    CHECK_STR(status_of(appr, st), "expired");
    CHECK_STR(status_of(conf, st), "no_show");
}

/* Club i (E, F, G) with its time zone and an active agreement with A under terms. */
static int extra_club(int i, const char *tz, const char *terms) {
    char body[512];
    e2e_resp_t r;
    snprintf(body, sizeof body,
             "{\"name\":\"Rules %c\",\"slug\":\"rules-%c-%d\",\"timezone\":\"%s\","
             "\"address\":{\"city\":\"Elsewhere\",\"country\":\"US\"},\"facilities\":["
             "\"dining\"]}",
             'A' + i, 'a' + i, (int)getpid(), tz);
    if (req("POST", "/api/v1/clubs", body, &r) != 0) return -1;
    int ok = r.status == 201;
    if (!ok) printf("#   club: %s\n", r.body);
    if (ok) snprintf(g_club[i], sizeof g_club[i], "%s", jstr(r.json, "id"));
    e2e_resp_free(&r);
    return ok ? agreement(i, terms) : -1;
}

/* A confirmed visit of g_far at host on arrive..depart; its token into tok (may be NULL). */
static int confirmed_at(int host, const char *arrive, const char *depart, char id[64],
                        char tok[LOI_TOKEN_MAX]) {
    json_t *v = NULL;
    if (new_visit(g_far, host, arrive, depart, id) != 0) return -1;
    int ok = act(id, "approve", &v) == 200 && act(id, "confirm", NULL) == 200;
    if (ok && tok) snprintf(tok, LOI_TOKEN_MAX, "%s", jstr(json_object_get(v, "loi"), "token"));
    json_decref(v);
    return ok ? 0 : -1;
}

/* The host's term set to n in the agreement (as an amendment would). */
static int tighten(int host, const char *term, int n) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE reciprocal.agreements SET terms = jsonb_set(terms, ARRAY[$1::text, '%s'], "
             "'%d') WHERE $1::uuid = ANY (club_ids)",
             term, n);
    return owner_exec(sql, g_club[host]);
}

/* max_visits_month at check-in, by the host's calendar month of arrival: London, summer time
 * from 2030-03-31 01:00 UTC; 00:30 BST on 1 April is still 31 March in UTC. */
static void test_month_limit_at_check_in(void) {
    char v1[64], v2[64], v3[64], t1[LOI_TOKEN_MAX], t2[LOI_TOKEN_MAX], t3[LOI_TOKEN_MAX];
    char code[64], st[32];
    REQUIRE(extra_club(4, "Europe/London",
                       "{\"max_visits_month\":2,\"max_days_year\":30,\"max_days_per_stay\":4}") ==
            0);
    REQUIRE(confirmed_at(4, "2030-03-31", "2030-03-31", v1, t1) == 0);
    REQUIRE(confirmed_at(4, "2030-04-01", "2030-04-01", v2, t2) == 0);
    REQUIRE(confirmed_at(4, "2030-04-02", "2030-04-02", v3, t3) == 0);
    REQUIRE(tighten(4, "max_visits_month", 1) == 0);
    /* 23:30 BST on 31 March: March holds only this visit */
    CHECK_EQ_INT(check_in(t1, utc(2030, 3, 31, 22, 30), code), 200);
    /* April holds v2 and v3: the second refused at the door, the visit stays confirmed */
    CHECK_EQ_INT(check_in(t3, utc(2030, 4, 2, 9, 0), code), 422);
    CHECK_STR(code, "monthly_limit");
    CHECK_STR(status_of(v3, st), "confirmed");
    CHECK_EQ_INT(act(v3, "cancel", NULL), 200);
    /* 23:59 BST on 31 March: the letter of 1 April is not valid yet */
    CHECK(check_in(t2, utc(2030, 3, 31, 22, 59), code) != 200);
    CHECK_STR(status_of(v2, st), "confirmed");
    /* 00:30 BST on 1 April (31 March in UTC, where v1 counts): April holds only v2 */
    CHECK_EQ_INT(check_in(t2, utc(2030, 3, 31, 23, 30), code), 200);
    CHECK_STR(status_of(v2, st), "checked_in");
}

/* max_days_year at check-in across the year's end in New York (UTC-5): a stay from 30 December
 * to 2 January counts 2 days in each year. */
static void test_year_limit_at_check_in(void) {
    char w1[64], w2[64], w3[64], t1[LOI_TOKEN_MAX], t2[LOI_TOKEN_MAX], t3[LOI_TOKEN_MAX];
    char code[64], st[32];
    REQUIRE(extra_club(5, "America/New_York",
                       "{\"max_visits_month\":5,\"max_days_year\":6,\"max_days_per_stay\":4,"
                       "\"max_advance_days\":730}") == 0);
    REQUIRE(confirmed_at(5, "2030-12-30", "2031-01-02", w1, t1) == 0); /* 2 + 2 days */
    REQUIRE(confirmed_at(5, "2030-12-26", "2030-12-27", w2, t2) == 0); /* 2030: 4 */
    REQUIRE(confirmed_at(5, "2031-01-05", "2031-01-07", w3, t3) == 0); /* 2031: 5 */
    /* at request, 2031 holds 5 of 6 days: a 2-day stay there refused, in 2030 admitted */
    json_t *v = NULL;
    CHECK_EQ_INT(visit(g_far, 5, "2031-01-10", "2031-01-11", &v), 422);
    CHECK_STR(jstr(json_object_get(v, "error"), "code"), "yearly_limit");
    json_decref(v);
    char w4[64];
    CHECK_EQ_INT(new_visit(g_far, 5, "2030-12-20", "2030-12-21", w4), 0);
    CHECK_EQ_INT(act(w4, "cancel", NULL), 200);
    REQUIRE(tighten(5, "max_days_year", 4) == 0);
    /* 2030 holds w2's 2 days and w1's first 2: admitted (counting w1's 4 days in 2030 would
     * refuse it) */
    CHECK_EQ_INT(check_in(t2, utc(2030, 12, 26, 15, 0), code), 200);
    /* 2031 holds w1's last 2 days and w3's 3: both refused at the door */
    CHECK_EQ_INT(check_in(t3, utc(2031, 1, 5, 15, 0), code), 422);
    CHECK_STR(code, "yearly_limit");
    /* 23:30 EST on 30 December is 31 December in UTC */
    CHECK_EQ_INT(check_in(t1, utc(2030, 12, 31, 4, 30), code), 422);
    CHECK_STR(code, "yearly_limit");
    CHECK_EQ_INT(act(w3, "cancel", NULL), 200);
    CHECK_EQ_INT(check_in(t1, utc(2030, 12, 31, 4, 30), code), 200);
    CHECK_STR(status_of(w1, st), "checked_in");
}

/* Notice of termination: it takes effect on 2030-03-20 (moved there in the database). */
static void test_terminating(void) {
    char early[64], late[64], te[LOI_TOKEN_MAX], tl[LOI_TOKEN_MAX], appr[64], code[64];
    REQUIRE(extra_club(6, "Europe/London",
                       "{\"max_visits_month\":30,\"max_days_year\":365,\"max_days_per_stay\":"
                       "14}") == 0);
    REQUIRE(confirmed_at(6, "2030-03-12", "2030-03-13", early, te) == 0);
    REQUIRE(confirmed_at(6, "2030-03-19", "2030-03-20", late, tl) == 0);
    REQUIRE(new_visit(g_far, 6, "2030-03-05", "2030-03-05", appr) == 0);
    REQUIRE(act(appr, "approve", NULL) == 200);
    REQUIRE(agreement_action(6, "terminate") == 200);
    REQUIRE(owner_exec("UPDATE reciprocal.agreements SET terminates_on = '2030-03-20' WHERE id = "
                       "$1::uuid",
                       g_agr[6]) == 0);
    json_t *v = NULL;
    CHECK_EQ_INT(visit(g_far, 6, "2030-03-06", "2030-03-06", &v), 422);
    CHECK_STR(jstr(json_object_get(v, "error"), "code"), "agreement_terminating");
    json_decref(v);
    /* confirm: a visit ending before the effective day is honoured */
    CHECK_EQ_INT(act(appr, "confirm", NULL), 200);
    CHECK_EQ_INT(check_in(te, utc(2030, 3, 12, 10, 0), code), 200);
    /* the door: one whose last day is the effective day is refused */
    CHECK_EQ_INT(check_in(tl, utc(2030, 3, 19, 10, 0), code), 422);
    CHECK_STR(code, "agreement_terminating");
}

/* POST /lois/verify {token, at} as the network administrator: the answer's reason. */
static void expect_reason(const char *token, long long at, const char *reason) {
    char body[LOI_TOKEN_MAX + 128];
    e2e_resp_t r;
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"at\":%lld}", token, at);
    REQUIRE(req("POST", "/api/v1/lois/verify", body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(r.json, "reason"), reason);
    e2e_resp_free(&r);
}

/* loi_validity_days 2 at H (New York, summer time from 2030-03-10 07:00 UTC): a stay of
 * 10..13 March gets a letter valid from 10 March 00:00 EST to 12 March 00:00 EDT (04:00 UTC),
 * not to the end of the departure day. */
static void test_loi_validity_days(void) {
    char id[64], tok[LOI_TOKEN_MAX];
    REQUIRE(extra_club(7, "America/New_York",
                       "{\"loi_validity_days\":2,\"max_days_per_stay\":5}") == 0);
    json_t *v = NULL;
    REQUIRE(new_visit(g_far, 7, "2030-03-10", "2030-03-13", id) == 0);
    REQUIRE(act(id, "approve", &v) == 200);
    json_t *loi = json_object_get(v, "loi");
    snprintf(tok, sizeof tok, "%s", jstr(loi, "token"));
    CHECK_STR(jstr(loi, "valid_from"), "2030-03-10T05:00:00.000000Z");
    CHECK_STR(jstr(loi, "valid_to"), "2030-03-12T04:00:00.000000Z");
    json_decref(v);
    long long end = utc(2030, 3, 12, 4, 0);
    loi_t l;
    REQUIRE(loi_decode(tok, &l) == 0); /* the signed letter carries it (offline check) */
    CHECK_EQ_INT(l.exp, end);
    expect_reason(tok, utc(2030, 3, 10, 5, 0), "ok");
    expect_reason(tok, end - 1, "ok");
    expect_reason(tok, end, "expired");
    expect_reason(tok, end + 1, "expired");
}

/* The default loi_validity_days (30) when the host's terms leave it out: a stay of 1 April to
 * 10 May 2030 at I (UTC) gets a letter ending 1 May 00:00, 30 days after arrival; check-in at
 * that end is refused (loi_expired), one second before it is admitted. */
static void test_loi_validity_default(void) {
    char id[64], tok[LOI_TOKEN_MAX], code[64];
    REQUIRE(extra_club(8, "UTC", "{\"max_days_per_stay\":40,\"max_days_year\":60}") == 0);
    REQUIRE(confirmed_at(8, "2030-04-01", "2030-05-10", id, tok) == 0);
    long long end = utc(2030, 5, 1, 0, 0);
    loi_t l;
    REQUIRE(loi_decode(tok, &l) == 0);
    CHECK_EQ_INT(l.nbf, utc(2030, 4, 1, 0, 0));
    CHECK_EQ_INT(l.exp, end);
    expect_reason(tok, end - 1, "ok");
    expect_reason(tok, end, "expired");
    CHECK_EQ_INT(check_in(tok, end, code), 422);
    CHECK_STR(code, "loi_expired");
    CHECK_EQ_INT(check_in(tok, end + 86400, code), 422);
    CHECK_STR(code, "loi_expired");
    CHECK_EQ_INT(check_in(tok, end - 1, code), 200);
}

int main(void) {
    RUN(test_start);
    RUN(test_residency);
    RUN(test_auto_approve);
    RUN(test_stages);
    RUN(test_sweep);
    RUN(test_no_show_dst);
    RUN(test_restart);
    RUN(test_month_limit_at_check_in);
    RUN(test_year_limit_at_check_in);
    RUN(test_terminating);
    RUN(test_loi_validity_days);
    RUN(test_loi_validity_default);
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
    TEST_DONE();
}
