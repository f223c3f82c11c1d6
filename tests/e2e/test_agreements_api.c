/* End-to-end: the agreement API of the reciprocal service through the real binary, with club
 * administrators of three clubs (invited through auth, signed in with their own tokens): propose
 * A-B with terms (defaults filled, facilities from the host's list, bad terms 422 naming the
 * field path), non-admin staff 403, club C (not a party) sees and changes nothing (404), every
 * transition (accept -> active, suspend, resume, notice of termination, termination enacted by
 * the sweep on the injected date) and illegal ones (409 naming the allowed actions), a
 * three-party agreement activated and expired by the sweep, withdraw and reject, list filters
 * and keyset pagination, the partner directory (JSON both directions and CSV); then the same
 * service split over NATS (reciprocal, member+auth and gateway in three processes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_proc, g_member, g_recip;
static char g_club[3][64], g_slug[3][64], g_admin[3][2048], g_staff[2048], g_ag[40];
static char g_kek[128], g_ag2[40];
static const char *g_env[] = {
    "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", g_kek, NULL};

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}
static const char *err_code(const e2e_resp_t *r) {
    return jstr(json_object_get(r->json, "error"), "code");
}
static const char *err_field(const e2e_resp_t *r) {
    return jstr(json_object_get(r->json, "error"), "field");
}

/* as: bearer token (NULL = the network administrator's global one) */
static int req_as(const char *as, const char *method, const char *path, const char *body,
                  e2e_resp_t *r) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    if (!as) return e2e_http(method, url, body ? "application/json" : NULL, body, r);
    return e2e_http_as(as, method, url, body ? "application/json" : NULL, body, r);
}

/* YYYY-MM-DD of today (UTC) + days */
static void day(int days, char out[16]) {
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static int register_login(int club, const char *email, const char *pw, char *access, size_t cap) {
    char body[512], url[512], tok[128];
    e2e_resp_t r;
    if (e2e_event_token("auth.invite_created", email, 60, tok, sizeof tok) != 0) {
        printf("#   no auth.invite_created event for %s\n", email);
        return -1;
    }
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", tok, pw);
    snprintf(url, sizeof url, "%s/api/v1/auth/register", g_proc.base);
    if (e2e_http_as(NULL, "POST", url, "application/json", body, &r) != 0) return -1;
    long st = r.status;
    e2e_resp_free(&r);
    if (st != 200) return -1;
    snprintf(body, sizeof body, "{\"club\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}",
             g_slug[club], email, pw);
    snprintf(url, sizeof url, "%s/api/v1/auth/login", g_proc.base);
    if (e2e_http_as(NULL, "POST", url, "application/json", body, &r) != 0) return -1;
    int ok = r.status == 200 && jstr(r.json, "access_token");
    if (ok) snprintf(access, cap, "%s", jstr(r.json, "access_token"));
    e2e_resp_free(&r);
    return ok ? 0 : -1;
}

/* invites (as the network administrator) and signs in one account of role in club */
static int account(int club, const char *role, char *access, size_t cap) {
    char email[128], body[512];
    e2e_resp_t r;
    snprintf(email, sizeof email, "%s-%d-%d@example.com", role, club, (int)getpid());
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"role\":\"%s\",\"club_id\":\"%s\"}", email,
             role, g_club[club]);
    if (req_as(NULL, "POST", "/api/v1/auth/invites", body, &r) != 0) return -1;
    long st = r.status;
    e2e_resp_free(&r);
    if (st != 201) return -1;
    return register_login(club, email, "Marmalade-Harbour-77", access, cap);
}

static void test_start(void) {
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, g_env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    static const char *const names[] = {"Harbour", "Hill", "Lake"};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(g_slug[i], sizeof g_slug[i], "ag-%s-%d", names[i], (int)getpid());
        for (char *c = g_slug[i]; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
        snprintf(name, sizeof name, "%s Club", names[i]);
        REQUIRE(e2e_club(&g_proc, name, g_slug[i],
                         "\"timezone\":\"Europe/London\",\"address\":{\"country\":\"GB\"},"
                         "\"facilities\":[\"dining\",\"rooms\"]",
                         g_club[i]) == 0);
        REQUIRE(account(i, "club_admin", g_admin[i], sizeof g_admin[i]) == 0);
    }
    REQUIRE(account(0, "club_staff", g_staff, sizeof g_staff) == 0);
}

static void expect(const char *as, const char *method, const char *path, const char *body,
                   long status, const char *field) {
    e2e_resp_t r;
    if (req_as(as, method, path, body, &r) != 0) {
        CHECK(!"request failed");
        return;
    }
    if (r.status != status) printf("#   %s %s -> %ld %s\n", method, path, r.status, r.body);
    CHECK_EQ_INT(r.status, status);
    if (field) CHECK_STR(err_field(&r), field);
    e2e_resp_free(&r);
}

static void test_propose(void) {
    char body[2048], today[16], field[128];
    e2e_resp_t r;
    day(0, today);
    /* bad terms: the field path names the host club and the field */
    snprintf(body, sizeof body,
             "{\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\",\"terms\":{\"%s\":{\"max_guests\":"
             "99}}}",
             g_club[0], g_club[1], today, g_club[1]);
    snprintf(field, sizeof field, "terms.%s.max_guests", g_club[1]);
    expect(g_admin[0], "POST", "/api/v1/agreements", body, 422, field);
    snprintf(body, sizeof body,
             "{\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\",\"terms\":{\"%s\":{"
             "\"allowed_facilities\":[\"golf\"]}}}",
             g_club[0], g_club[1], today, g_club[0]);
    snprintf(field, sizeof field, "terms.%s.allowed_facilities[0]", g_club[0]);
    expect(g_admin[0], "POST", "/api/v1/agreements", body, 422, field);
    /* the proposer must be a party; the clubs must exist; 2..16 distinct */
    snprintf(body, sizeof body, "{\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\"}", g_club[1],
             g_club[2], today);
    expect(g_admin[0], "POST", "/api/v1/agreements", body, 422, "clubs");
    snprintf(body, sizeof body,
             "{\"clubs\":[\"%s\",\"00000000-0000-4000-8000-000000000000\"],\"starts_on\":\"%s\"}",
             g_club[0], today);
    expect(g_admin[0], "POST", "/api/v1/agreements", body, 422, "clubs[1]");
    snprintf(body, sizeof body, "{\"clubs\":[\"%s\"],\"starts_on\":\"%s\"}", g_club[0], today);
    expect(g_admin[0], "POST", "/api/v1/agreements", body, 422, "clubs");
    snprintf(body, sizeof body, "{\"clubs\":[\"%s\",\"%s\"]}", g_club[0], g_club[1]);
    expect(g_admin[0], "POST", "/api/v1/agreements", body, 400, "starts_on");
    /* staff are not administrators */
    snprintf(body, sizeof body, "{\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\"}", g_club[0],
             g_club[1], today);
    expect(g_staff, "POST", "/api/v1/agreements", body, 403, NULL);

    snprintf(body, sizeof body,
             "{\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\",\"notice_days\":30,\"terms\":{"
             "\"%s\":{\"max_guests\":1,\"fees\":{\"currency\":\"GBP\",\"entry\":1500},"
             "\"allowed_facilities\":[\"dining\"]}}}",
             g_club[0], g_club[1], today, g_club[0]);
    REQUIRE(req_as(g_admin[0], "POST", "/api/v1/agreements", body, &r) == 0);
    if (r.status != 201) printf("#   %s\n", r.body);
    REQUIRE(r.status == 201);
    snprintf(g_ag, sizeof g_ag, "%s", jstr(r.json, "id"));
    CHECK_STR(jstr(r.json, "status"), "proposed");
    CHECK_STR(jstr(r.json, "proposer_club_id"), g_club[0]);
    json_t *terms = json_object_get(r.json, "terms");
    json_t *ta = json_object_get(terms, g_club[0]), *tb = json_object_get(terms, g_club[1]);
    CHECK_EQ_INT(json_integer_value(json_object_get(ta, "max_guests")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(tb, "max_guests")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(tb, "max_visits_month")), 4);
    CHECK_EQ_INT(json_array_size(json_object_get(ta, "allowed_facilities")), 1);
    CHECK_EQ_INT(json_array_size(json_object_get(tb, "allowed_facilities")), 2);
    json_t *parties = json_object_get(r.json, "parties");
    CHECK_EQ_INT(json_array_size(parties), 2);
    CHECK(json_is_true(json_object_get(json_array_get(parties, 0), "accepted")));
    CHECK(json_is_false(json_object_get(json_array_get(parties, 1), "accepted")));
    char buf[256], loc[128];
    snprintf(loc, sizeof loc, "/api/v1/agreements/%s", g_ag);
    CHECK(e2e_header(&r, "Location", buf, sizeof buf) && strcmp(buf, loc) == 0);
    e2e_resp_free(&r);
}

static void test_isolation(void) {
    char path[256];
    e2e_resp_t r;
    /* club C is not a party: it sees nothing and changes nothing */
    snprintf(path, sizeof path, "/api/v1/agreements/%s", g_ag);
    expect(g_admin[2], "GET", path, NULL, 404, "id");
    static const char *const actions[] = {"accept",  "reject",    "withdraw",
                                          "suspend", "terminate", "resume"};
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        snprintf(path, sizeof path, "/api/v1/agreements/%s/%s", g_ag, actions[i]);
        expect(g_admin[2], "POST", path, "{\"reason\":\"not mine\"}", 404, "id");
    }
    REQUIRE(req_as(g_admin[2], "GET", "/api/v1/agreements", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 0);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/clubs/%s/partners", g_club[2]);
    REQUIRE(req_as(g_admin[2], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 0);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/clubs/%s/partners", g_club[0]);
    expect(g_admin[2], "GET", path, NULL, 403, "id");
    /* B, a party, sees it; A's staff may read (club:read) but not accept */
    snprintf(path, sizeof path, "/api/v1/agreements/%s", g_ag);
    expect(g_admin[1], "GET", path, NULL, 200, NULL);
    expect(g_staff, "GET", path, NULL, 200, NULL);
    snprintf(path, sizeof path, "/api/v1/agreements/%s/accept", g_ag);
    expect(g_staff, "POST", path, "{}", 403, NULL);
    /* the network administrator acts for a party only when naming it */
    expect(NULL, "POST", path, "{}", 400, "club_id");
}

/* POST /agreements/{id}/<action> as `as`; expected status; *status_out the agreement's status */
static void act(const char *as, const char *id, const char *action, const char *body, long status,
                const char *want_status) {
    char path[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/agreements/%s/%s", id, action);
    if (req_as(as, "POST", path, body ? body : "{}", &r) != 0) {
        CHECK(!"request failed");
        return;
    }
    if (r.status != status) printf("#   %s -> %ld %s\n", path, r.status, r.body);
    CHECK_EQ_INT(r.status, status);
    if (want_status && status == 200) CHECK_STR(jstr(r.json, "status"), want_status);
    e2e_resp_free(&r);
}

static void test_transitions(void) {
    char path[256], when[16];
    e2e_resp_t r;
    /* illegal: 409 naming the allowed actions */
    snprintf(path, sizeof path, "/api/v1/agreements/%s/suspend", g_ag);
    REQUIRE(req_as(g_admin[1], "POST", path, "{\"reason\":\"x\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 409);
    CHECK_STR(err_code(&r), "invalid_transition");
    CHECK(strstr(r.body, "accept, reject, withdraw") != NULL);
    e2e_resp_free(&r);
    act(g_admin[0], g_ag, "accept", NULL, 409, NULL); /* the proposer has accepted */
    act(g_admin[0], g_ag, "reject", NULL, 403, NULL); /* the proposer withdraws instead */
    act(g_admin[1], g_ag, "withdraw", NULL, 403, NULL);
    /* B accepts: every party accepted and starts_on is today -> active */
    act(g_admin[1], g_ag, "accept", NULL, 200, "active");
    act(g_admin[1], g_ag, "accept", NULL, 409, NULL);
    /* suspend needs a reason; only the suspending club resumes */
    expect(g_admin[0], "POST", path, "{}", 400, "reason");
    act(g_admin[0], g_ag, "suspend", "{\"reason\":\"abuse of guest rules\"}", 200, "suspended");
    act(g_admin[0], g_ag, "suspend", "{\"reason\":\"again\"}", 409, NULL);
    act(g_admin[1], g_ag, "resume", NULL, 403, NULL);
    act(g_admin[0], g_ag, "resume", NULL, 200, "active");
    /* notice of termination: still active until the notice ran out */
    snprintf(path, sizeof path, "/api/v1/agreements/%s/terminate", g_ag);
    REQUIRE(req_as(g_admin[1], "POST", path, "{\"reason\":\"closing rooms\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(r.json, "status"), "active");
    day(30, when);
    CHECK_STR(jstr(json_object_get(r.json, "termination"), "effective_on"), when);
    CHECK_STR(jstr(json_object_get(r.json, "termination"), "by_club_id"), g_club[1]);
    e2e_resp_free(&r);
    act(g_admin[0], g_ag, "terminate", "{\"reason\":\"too\"}", 409, NULL);
    /* the sweep is the network administrator's (and the scheduler's) */
    day(29, when);
    char body[128];
    snprintf(body, sizeof body, "{\"as_of\":\"%s\"}", when);
    expect(g_admin[0], "POST", "/api/v1/agreements/sweep", body, 403, NULL);
    REQUIRE(req_as(NULL, "POST", "/api/v1/agreements/sweep", body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "terminated")), 0);
    CHECK(json_integer_value(json_object_get(r.json, "ledger_pending")) >= 1);
    e2e_resp_free(&r);
    /* the activation's ledger record: queued with the activation; the test ledger has no
     * organisation for these clubs, so it stays pending with the reason, retried every sweep */
    snprintf(path, sizeof path, "/api/v1/agreements/%s", g_ag);
    REQUIRE(req_as(g_admin[0], "GET", path, NULL, &r) == 0);
    json_t *led = json_object_get(r.json, "ledger");
    CHECK_STR(jstr(led, "status"), "pending");
    CHECK(json_integer_value(json_object_get(led, "attempts")) >= 1);
    CHECK(jstr(led, "last_error") && strstr(jstr(led, "last_error"), "not an organisation"));
    CHECK_STR(jstr(r.json, "status"), "active");
    e2e_resp_free(&r);
    day(30, when);
    snprintf(body, sizeof body, "{\"as_of\":\"%s\"}", when);
    REQUIRE(req_as(NULL, "POST", "/api/v1/agreements/sweep", body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_integer_value(json_object_get(r.json, "terminated")) >= 1);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/agreements/%s", g_ag);
    REQUIRE(req_as(g_admin[0], "GET", path, NULL, &r) == 0);
    CHECK_STR(jstr(r.json, "status"), "terminated");
    json_t *h = json_object_get(r.json, "history");
    /* propose, accept, activate, suspend, resume, terminate (notice), enact */
    CHECK_EQ_INT(json_array_size(h), 7);
    json_t *last = json_array_get(h, json_array_size(h) - 1);
    CHECK_STR(jstr(last, "action"), "enact");
    CHECK(json_is_null(json_object_get(last, "club_id")));
    json_t *susp = json_array_get(h, 3);
    CHECK_STR(jstr(susp, "reason"), "abuse of guest rules");
    CHECK_STR(jstr(susp, "club_id"), g_club[0]);
    CHECK(jstr(susp, "actor_user_id") != NULL);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/agreements/%s/resume", g_ag);
    REQUIRE(req_as(g_admin[0], "POST", path, "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 409);
    CHECK(strstr(r.body, "allowed: none") != NULL);
    e2e_resp_free(&r);
}

static void test_multiparty(void) {
    char body[1024], start[16], end[16], when[16], id[40];
    e2e_resp_t r;
    day(10, start);
    day(20, end);
    snprintf(body, sizeof body,
             "{\"clubs\":[\"%s\",\"%s\",\"%s\"],\"starts_on\":\"%s\",\"ends_on\":\"%s\"}",
             g_club[1], g_club[0], g_club[2], start, end);
    REQUIRE(req_as(g_admin[1], "POST", "/api/v1/agreements", body, &r) == 0);
    REQUIRE(r.status == 201);
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    e2e_resp_free(&r);
    act(g_admin[0], id, "accept", NULL, 200, "proposed");
    act(g_admin[2], id, "accept", NULL, 200, "proposed"); /* starts_on not yet come */
    day(9, when);
    snprintf(body, sizeof body, "{\"as_of\":\"%s\"}", when);
    expect(NULL, "POST", "/api/v1/agreements/sweep", body, 200, NULL);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/agreements/%s", id);
    REQUIRE(req_as(g_admin[2], "GET", path, NULL, &r) == 0);
    CHECK_STR(jstr(r.json, "status"), "proposed");
    e2e_resp_free(&r);
    snprintf(body, sizeof body, "{\"as_of\":\"%s\"}", start);
    expect(NULL, "POST", "/api/v1/agreements/sweep", body, 200, NULL);
    REQUIRE(req_as(g_admin[2], "GET", path, NULL, &r) == 0);
    CHECK_STR(jstr(r.json, "status"), "active");
    e2e_resp_free(&r);
    /* C is a party here: its directory lists A and B */
    snprintf(path, sizeof path, "/api/v1/clubs/%s/partners", g_club[2]);
    REQUIRE(req_as(g_admin[2], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 2);
    e2e_resp_free(&r);
    day(20, when);
    snprintf(body, sizeof body, "{\"as_of\":\"%s\"}", when); /* ends_on is the last day */
    expect(NULL, "POST", "/api/v1/agreements/sweep", body, 200, NULL);
    snprintf(path, sizeof path, "/api/v1/agreements/%s", id);
    REQUIRE(req_as(g_admin[2], "GET", path, NULL, &r) == 0);
    CHECK_STR(jstr(r.json, "status"), "active");
    e2e_resp_free(&r);
    day(21, when);
    snprintf(body, sizeof body, "{\"as_of\":\"%s\"}", when);
    expect(NULL, "POST", "/api/v1/agreements/sweep", body, 200, NULL);
    REQUIRE(req_as(g_admin[2], "GET", path, NULL, &r) == 0);
    CHECK_STR(jstr(r.json, "status"), "expired");
    e2e_resp_free(&r);

    /* withdraw (proposer) and reject (other party) */
    day(0, start);
    snprintf(body, sizeof body, "{\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\"}", g_club[0],
             g_club[2], start);
    REQUIRE(req_as(g_admin[0], "POST", "/api/v1/agreements", body, &r) == 0);
    REQUIRE(r.status == 201);
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    e2e_resp_free(&r);
    act(g_admin[0], id, "withdraw", "{\"reason\":\"typo\"}", 200, "withdrawn");
    act(g_admin[2], id, "accept", NULL, 409, NULL);
    REQUIRE(req_as(g_admin[0], "POST", "/api/v1/agreements", body, &r) == 0);
    REQUIRE(r.status == 201);
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    e2e_resp_free(&r);
    act(g_admin[2], id, "reject", "{\"reason\":\"no rooms\"}", 200, "rejected");
}

static void test_list_and_partners(void) {
    char path[256], buf[256];
    e2e_resp_t r;
    /* A is a party to 4 agreements: filters and keyset pagination */
    REQUIRE(req_as(g_admin[0], "GET", "/api/v1/agreements?limit=2", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 2);
    const char *next = jstr(r.json, "next_cursor");
    REQUIRE(next != NULL);
    snprintf(path, sizeof path, "/api/v1/agreements?limit=2&after=%s", next);
    e2e_resp_free(&r);
    REQUIRE(req_as(g_admin[0], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 2);
    CHECK(json_is_null(json_object_get(r.json, "next_cursor")));
    e2e_resp_free(&r);
    expect(g_admin[0], "GET", "/api/v1/agreements?after=bogus", NULL, 400, "after");
    expect(g_admin[0], "GET", "/api/v1/agreements?status=dormant", NULL, 422, "status");
    snprintf(path, sizeof path, "/api/v1/agreements?partner=%s", g_club[2]);
    REQUIRE(req_as(g_admin[0], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 3);
    e2e_resp_free(&r);
    REQUIRE(req_as(g_admin[0], "GET", "/api/v1/agreements?status=terminated", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 1);
    e2e_resp_free(&r);

    /* a fresh active A-B agreement for the directory */
    char body[1024], today[16], id[40];
    day(0, today);
    snprintf(body, sizeof body,
             "{\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\",\"terms\":{\"%s\":{\"max_guests\":"
             "2},\"%s\":{\"max_visits_month\":6,\"payment_mode\":\"bill_home_club\"}}}",
             g_club[0], g_club[1], today, g_club[0], g_club[1]);
    REQUIRE(req_as(g_admin[0], "POST", "/api/v1/agreements", body, &r) == 0);
    REQUIRE(r.status == 201);
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    e2e_resp_free(&r);
    act(g_admin[1], id, "accept", NULL, 200, "active");
    snprintf(g_ag2, sizeof g_ag2, "%s", id);
    snprintf(path, sizeof path, "/api/v1/clubs/%s/partners?status=active", g_club[0]);
    REQUIRE(req_as(g_admin[0], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    CHECK_EQ_INT(json_array_size(items), 1);
    json_t *p = json_array_get(items, 0);
    CHECK_STR(jstr(p, "partner_club_id"), g_club[1]);
    CHECK_STR(jstr(p, "partner_name"), "Hill Club");
    CHECK_EQ_INT(
        json_integer_value(json_object_get(json_object_get(p, "at_partner"), "max_visits_month")),
        6);
    CHECK_STR(jstr(json_object_get(p, "at_partner"), "payment_mode"), "bill_home_club");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(p, "at_us"), "max_guests")), 2);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/clubs/%s/partners?status=active&format=csv", g_club[0]);
    REQUIRE(req_as(g_admin[0], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(e2e_header(&r, "Content-Type", buf, sizeof buf) && strstr(buf, "text/csv"));
    CHECK(strncmp(r.body, "partner_club_id,partner_name,", 29) == 0);
    CHECK(strstr(r.body, "\"Hill Club\"") != NULL);
    CHECK(strstr(r.body, ",6,30,14,0,\"bill_home_club\",4,30,14,2,\"pay_at_host\"\n") != NULL);
    e2e_resp_free(&r);
}

/* With A and B registered as ledger organisations (club_id), the sweep submits the pending
 * records of their agreements: agreement.activated endorsed by both admins, committed VALID. */
static void test_ledger_record(void) {
    char body[256], path[256], tx_id[80];
    e2e_resp_t r;
    REQUIRE(req_as(NULL, "POST", "/api/v1/ledger/bootstrap", "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"org\":\"rc%c%d\",\"club_id\":\"%s\"}", 'a' + i,
                 (int)getpid(), g_club[i]);
        REQUIRE(req_as(NULL, "POST", "/api/v1/ledger/orgs", body, &r) == 0);
        if (r.status != 200) printf("#   register_org: %s\n", r.body);
        CHECK_EQ_INT(r.status, 200);
        e2e_resp_free(&r);
    }
    REQUIRE(req_as(NULL, "POST", "/api/v1/agreements/sweep", "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_integer_value(json_object_get(r.json, "ledger_submitted")) >= 1);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/agreements/%s", g_ag2);
    REQUIRE(req_as(g_admin[1], "GET", path, NULL, &r) == 0);
    json_t *led = json_object_get(r.json, "ledger");
    if (!jstr(led, "tx_id")) printf("#   %s\n", r.body);
    CHECK_STR(jstr(led, "status"), "submitted");
    REQUIRE(jstr(led, "tx_id") != NULL);
    snprintf(tx_id, sizeof tx_id, "%s", jstr(led, "tx_id"));
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/ledger/transactions/%s/status?wait_ms=10000", tx_id);
    REQUIRE(req_as(NULL, "GET", path, NULL, &r) == 0);
    if (!r.body || !strstr(r.body, "VALID")) printf("#   %s\n", r.body);
    CHECK_STR(jstr(r.json, "status"), "committed");
    CHECK_STR(jstr(r.json, "validation_code"), "VALID");
    e2e_resp_free(&r);
}

/* POST /graphql {"query", "variables"} as `as` */
static int gql_as(const char *as, const char *q, json_t *vars, e2e_resp_t *r) {
    json_t *body = json_pack("{s:s}", "query", q);
    if (vars) json_object_set(body, "variables", vars);
    char *s = json_dumps(body, JSON_COMPACT);
    int rc = req_as(as, "POST", "/graphql", s, r);
    free(s);
    json_decref(body);
    return rc;
}

/* GraphQL mirrors REST: propose with terms as a list, accept, read back with parties' clubs
 * (batched) and history, the connection, partners; club C sees nothing; a bad term is a
 * userError naming the field path. */
static void test_graphql(void) {
    char today[16], id[40];
    e2e_resp_t r;
    day(0, today);
    json_t *vars = json_pack("{s:{s:[s,s], s:s, s:[{s:s, s:i, s:{s:s, s:i}}]}}", "input", "clubs",
                             g_club[1], g_club[2], "startsOn", today, "terms", "hostClubId",
                             g_club[2], "maxGuests", 3, "fees", "currency", "EUR", "entry", 900);
    REQUIRE(gql_as(g_admin[1],
                   "mutation($input: ProposeAgreementInput!) { proposeAgreement(input: $input) "
                   "{ agreement { id status terms { hostClubId maxGuests maxVisitsMonth fees { "
                   "currency entry } } } userErrors { field code } } }",
                   vars, &r) == 0);
    json_decref(vars);
    CHECK_EQ_INT(r.status, 200);
    json_t *p = json_object_get(json_object_get(r.json, "data"), "proposeAgreement");
    json_t *ag = json_object_get(p, "agreement");
    if (!ag || json_is_null(ag)) printf("#   %s\n", r.body);
    REQUIRE(json_is_object(ag));
    snprintf(id, sizeof id, "%s", jstr(ag, "id"));
    CHECK_STR(jstr(ag, "status"), "PROPOSED");
    json_t *t1 = json_array_get(json_object_get(ag, "terms"), 1);
    CHECK_STR(jstr(t1, "hostClubId"), g_club[2]);
    CHECK_EQ_INT(json_integer_value(json_object_get(t1, "maxGuests")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(t1, "maxVisitsMonth")), 4);
    CHECK_STR(jstr(json_object_get(t1, "fees"), "currency"), "EUR");
    e2e_resp_free(&r);
    /* a bad term: userError with the REST field path */
    vars = json_pack("{s:{s:[s,s], s:s, s:[{s:s, s:i}]}}", "input", "clubs", g_club[1], g_club[2],
                     "startsOn", today, "terms", "hostClubId", g_club[2], "maxGuests", 50);
    REQUIRE(gql_as(g_admin[1],
                   "mutation($input: ProposeAgreementInput!) { proposeAgreement(input: $input) "
                   "{ agreement { id } userErrors { field code } } }",
                   vars, &r) == 0);
    json_decref(vars);
    json_t *ue = json_array_get(
        json_object_get(json_object_get(json_object_get(r.json, "data"), "proposeAgreement"),
                        "userErrors"),
        0);
    CHECK_STR(jstr(ue, "code"), "invalid_field");
    char field[128];
    snprintf(field, sizeof field, "terms.%s.maxGuests", g_club[2]);
    CHECK_STR(jstr(ue, "field"), field);
    e2e_resp_free(&r);
    /* C accepts */
    vars = json_pack("{s:{s:s}}", "input", "id", id);
    REQUIRE(gql_as(g_admin[2],
                   "mutation($input: AgreementTransitionInput!) { acceptAgreement(input: $input) "
                   "{ agreement { status parties { clubId accepted club { name } } history { "
                   "action from to } } userErrors { field code message } } }",
                   vars, &r) == 0);
    ag = json_object_get(json_object_get(json_object_get(r.json, "data"), "acceptAgreement"),
                         "agreement");
    if (!json_is_object(ag)) printf("#   %s\n", r.body);
    CHECK_STR(jstr(ag, "status"), "ACTIVE");
    json_t *parties = json_object_get(ag, "parties");
    CHECK_STR(jstr(json_object_get(json_array_get(parties, 0), "club"), "name"), "Hill Club");
    CHECK_STR(jstr(json_object_get(json_array_get(parties, 1), "club"), "name"), "Lake Club");
    json_t *h = json_object_get(ag, "history");
    CHECK_EQ_INT(json_array_size(h), 3);
    CHECK_STR(jstr(json_array_get(h, 2), "to"), "ACTIVE");
    e2e_resp_free(&r);
    /* accepting an active agreement is a userError naming the allowed actions */
    REQUIRE(gql_as(g_admin[2],
                   "mutation($input: AgreementTransitionInput!) { acceptAgreement(input: $input) "
                   "{ agreement { id } userErrors { code message } } }",
                   vars, &r) == 0);
    if (!strstr(r.body, "invalid_transition")) printf("#   %s\n", r.body);
    CHECK(strstr(r.body, "invalid_transition") != NULL);
    CHECK(strstr(r.body, "suspend, terminate") != NULL);
    e2e_resp_free(&r);
    json_decref(vars);
    /* queries */
    REQUIRE(gql_as(g_admin[2],
                   "{ agreements(first: 1, status: ACTIVE) { edges { cursor node { id status } } "
                   "pageInfo { hasNextPage endCursor } } }",
                   NULL, &r) == 0);
    json_t *conn = json_object_get(json_object_get(r.json, "data"), "agreements");
    CHECK_EQ_INT(json_array_size(json_object_get(conn, "edges")), 1);
    CHECK(json_is_boolean(json_object_get(json_object_get(conn, "pageInfo"), "hasNextPage")));
    e2e_resp_free(&r);
    char q[512];
    snprintf(q, sizeof q,
             "{ partners(clubId: \"%s\", status: ACTIVE) { partnerClubId partnerName status "
             "atUs { maxGuests } atPartner { maxGuests } } }",
             g_club[2]);
    REQUIRE(gql_as(g_admin[2], q, NULL, &r) == 0);
    json_t *partners = json_object_get(json_object_get(r.json, "data"), "partners");
    int found = 0;
    for (size_t i = 0; i < json_array_size(partners); i++) {
        json_t *pt = json_array_get(partners, i);
        if (strcmp(jstr(pt, "partnerClubId"), g_club[1]) == 0 &&
            json_integer_value(json_object_get(json_object_get(pt, "atUs"), "maxGuests")) == 3)
            found = 1;
    }
    CHECK(found);
    e2e_resp_free(&r);
    /* A (not a party) gets null + not_found */
    snprintf(q, sizeof q, "{ agreement(id: \"%s\") { id } }", id);
    REQUIRE(gql_as(g_admin[0], q, NULL, &r) == 0);
    CHECK(json_is_null(json_object_get(json_object_get(r.json, "data"), "agreement")));
    CHECK(strstr(r.body, "not_found") != NULL);
    e2e_resp_free(&r);
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

/* The reciprocal service in its own process (NATS user "reciprocal"): it checks the party
 * clubs through the member service over NATS. */
static void test_split(void) {
    REQUIRE(e2e_start(&g_member, "member,auth", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&g_recip, "reciprocal", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&g_proc, "gateway", 0, 1, g_env) == 0);
    char body[1024], today[16], path[256];
    e2e_resp_t r;
    day(0, today);
    snprintf(body, sizeof body, "{\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\"}", g_club[2],
             g_club[1], today);
    int tries = 0;
    do { /* the gateway may answer before the responders are subscribed */
        if (tries) usleep(300 * 1000);
        REQUIRE(req_as(g_admin[2], "POST", "/api/v1/agreements", body, &r) == 0);
        if (r.status != 201) e2e_resp_free(&r);
    } while (r.status != 201 && ++tries < 20);
    CHECK_EQ_INT(r.status, 201);
    char id[40];
    snprintf(id, sizeof id, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    e2e_resp_free(&r);
    act(g_admin[1], id, "accept", NULL, 200, "active");
    snprintf(path, sizeof path, "/api/v1/clubs/%s/partners?status=active&format=csv", g_club[2]);
    REQUIRE(req_as(g_admin[2], "GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "\"Hill Club\"") != NULL);
    e2e_resp_free(&r);
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
    CHECK_EQ_INT(e2e_stop(&g_recip), 0);
    CHECK_EQ_INT(e2e_stop(&g_member), 0);
}

int main(void) {
    const char *kek = getenv("RECIPROCAL_LEDGER_KEK"); /* exported by tests/run.sh */
    snprintf(g_kek, sizeof g_kek, "RECIPROCAL_LEDGER_KEK=%s", kek ? kek : "");
    RUN(test_start);
    if (test_fails_ == 0) {
        RUN(test_propose);
        RUN(test_isolation);
        RUN(test_transitions);
        RUN(test_multiparty);
        RUN(test_list_and_partners);
        RUN(test_graphql);
        RUN(test_ledger_record);
        RUN(test_stop);
        RUN(test_split);
    }
    TEST_DONE();
}
