/* End-to-end: the walkable demo network (`make run`, README "Walk a visit"). `reciprocal seed`
 * (member, auth and reciprocal seed hooks) creates the three demo clubs, their administrators,
 * two active members each and ONE active agreement among the three clubs; a second run changes
 * nothing; scripts/demo_ledger.sh against the running service bootstraps the ledger with the
 * clubs as organisations and the agreement's activation is committed on the ledger (VALID).
 * Then the README's walk with the demo accounts at the real clock: harbour-yacht's
 * administrator requests a visit to union-university for member DEMO-1 arriving today (host
 * date), approves it (the letter), union-university's administrator confirms and checks the
 * member in with the letter's token; `reciprocal ledger export` + `ledger verify` pass.
 * The visit history (reciprocal_seed_history.h): the seed's summary line agrees with the
 * database (visits before the current month by outcome, charges, last month's issued
 * statements), the history spans the 12 months before the current one at every demo host,
 * harbour-yacht's members never visit highveld-country, guests and several facilities occur,
 * and the outbox holds the events of every step (visit.requested, visit.checked_in,
 * visit.no_show, charge.posted, statement.issued); a second run adds nothing. The analytics
 * service's chart of union-university's visits per month shows the history (test_chart; it
 * also writes the README's example chart when RECIPROCAL_README_CHART names a file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "support/e2e.h"
#include "test.h"

#define SEED_PW "Demo-Seed-Password-42"

static e2e_proc_t g_proc;
static const char *const g_env[] = {
    "RECIPROCAL_SEED_ADMIN_PASSWORD=" SEED_PW,
    "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", NULL};
static char g_harbour[4096], g_union[4096], g_hy[64], g_uu[64], g_ag[64];
static long long g_hist[8]; /* the seed's summary line's numbers */

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

static long call(const char *as, const char *method, const char *path, const char *body,
                 json_t **out) {
    char url[1024];
    e2e_resp_t r;
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    if (e2e_http_as(as, method, url, body ? "application/json" : NULL, body, &r) != 0) return -1;
    long st = r.status;
    if (st >= 400) printf("#   %s %s -> %ld %s\n", method, path, st, r.body ? r.body : "");
    if (out) *out = json_incref(r.json);
    e2e_resp_free(&r);
    return st;
}

/* Signs in as email (club slug or NULL for the network administrator) into tok. */
static int login(const char *club, const char *email, char tok[4096]) {
    char body[512];
    json_t *out = NULL;
    if (club)
        snprintf(body, sizeof body,
                 "{\"club\":\"%s\",\"email\":\"%s\",\"password\":\"" SEED_PW "\"}", club, email);
    else
        snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"" SEED_PW "\"}", email);
    long st = call("", "POST", "/api/v1/auth/login", body, &out);
    int ok = st == 200 && jstr(out, "access_token");
    if (ok) snprintf(tok, 4096, "%s", jstr(out, "access_token"));
    json_decref(out);
    return ok ? 0 : -1;
}

static void test_seed(void) {
    const char *args[] = {"seed", NULL};
    char *out = NULL;
    int rc = e2e_run(args, g_env, &out);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0 || !out || !strstr(out, "seeded agreement")) printf("# %s\n", out ? out : "");
    CHECK(out && strstr(out, "seeded agreement") && strstr(out, "(active)"));
    CHECK(out && strstr(out, "seeded member DEMO-2 of highveld-country"));
    const char *sum = out ? strstr(out, "seeded visit history: ") : NULL;
    CHECK(sum && sscanf(sum,
                        "seeded visit history: %lld requests (%lld refused by the rules), %lld "
                        "completed, %lld no-show, %lld cancelled, %lld declined, %lld charges, "
                        "%lld statements of last month issued",
                        &g_hist[0], &g_hist[1], &g_hist[2], &g_hist[3], &g_hist[4], &g_hist[5],
                        &g_hist[6], &g_hist[7]) == 8);
    free(out);
    out = NULL;
    /* idempotent */
    CHECK_EQ_INT(e2e_run(args, g_env, &out), 0);
    CHECK(out && strstr(out, "agreement among the demo clubs already active"));
    CHECK(out && strstr(out, "visit history already present"));
    CHECK(out && strstr(out, "member DEMO-1 of harbour-yacht already present"));
    CHECK(out && !strstr(out, "seeded agreement"));
    free(out);
}

/* One row of integers as the database owner (network administrator and relay scope). */
static int owner_ints(const char *sql, long long *out, int n) {
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    if (!db) return -1;
    db_scope_t s = {.network_admin = 1, .relay = 1};
    PGresult *r = db_read(db, &s, sql, 0, NULL, &e);
    int rc = r && PQntuples(r) == 1 && PQnfields(r) == n ? 0 : -1;
    for (int i = 0; rc == 0 && i < n; i++)
        out[i] = atoll(PQgetvalue(r, 0, i));
    if (!r) printf("#   owner: %s\n", e.message);
    PQclear(r);
    db_pool_close(db);
    return rc;
}

static void test_history(void) {
    long long *h = g_hist, db[8], ev[6], shape[6];
    /* requests, refused, completed, no-show, cancelled, declined, charges, issued */
    printf("# history: %lld requests (%lld refused), %lld completed, %lld no-show, %lld "
           "cancelled, %lld declined, %lld charges, %lld statements issued\n",
           h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
    CHECK(h[0] >= 150);
    CHECK(h[1] * 10 < h[0]); /* the rules refuse few of the generated requests */
    CHECK(h[2] >= 100);
    CHECK(h[3] >= 5);
    CHECK(h[4] >= 5);
    CHECK(h[5] >= 3);
    CHECK(h[6] >= 2 * h[2]);
    CHECK(h[7] >= 3);
    /* the demo clubs' rows only (other tests may share the database) */
#define DEMO_CLUBS                                                                                 \
    "(SELECT id FROM member.clubs WHERE slug IN ('harbour-yacht', 'union-university', "            \
    "'highveld-country'))"
    REQUIRE(
        owner_ints(
            "SELECT count(*), count(*) FILTER (WHERE status = 'completed'), count(*) FILTER "
            "(WHERE status = 'no_show'), count(*) FILTER (WHERE status = 'cancelled'), "
            "count(*) FILTER (WHERE status = 'declined'), (SELECT count(*) FROM "
            "reciprocal.charges WHERE category NOT IN ('entry_fee', 'guest_fee', "
            "'no_show_fee') AND host_club_id IN " DEMO_CLUBS "), (SELECT count(*) FROM "
            "reciprocal.statements WHERE status = 'issued' AND period = (date_trunc('month', "
            "now()) - interval '1 month')::date AND host_club_id IN " DEMO_CLUBS "), "
            "count(*) FILTER (WHERE status NOT IN ('completed', 'no_show', 'cancelled', "
            "'declined')) FROM reciprocal.visits WHERE arrive_on < date_trunc('month', now()) AND "
            "home_club_id IN " DEMO_CLUBS,
            db, 8) == 0);
    CHECK_EQ_INT(db[0], h[0] - h[1]);
    CHECK_EQ_INT(db[1], h[2]);
    CHECK_EQ_INT(db[2], h[3]);
    CHECK_EQ_INT(db[3], h[4]);
    CHECK_EQ_INT(db[4], h[5]);
    CHECK_EQ_INT(db[5], h[6]);
    CHECK_EQ_INT(db[6], h[7]);
    CHECK_EQ_INT(db[7], 0); /* every visit of the past reached its end */
    /* the shape: 12 months, 3 hosts, no harbour-yacht member at highveld-country, guests,
     * facilities beyond dining */
    REQUIRE(
        owner_ints("SELECT count(DISTINCT date_trunc('month', v.arrive_on)), count(DISTINCT "
                   "v.host_club_id), count(*) FILTER (WHERE hc.slug = 'harbour-yacht' AND "
                   "gc.slug = 'highveld-country'), count(*) FILTER (WHERE v.guests > 0), "
                   "count(*) FILTER (WHERE cardinality(v.facilities) > 1), count(*) "
                   "FILTER (WHERE v.depart_on > v.arrive_on) FROM reciprocal.visits v JOIN "
                   "member.clubs hc ON hc.id = v.home_club_id JOIN member.clubs gc ON gc.id "
                   "= v.host_club_id WHERE v.arrive_on < date_trunc('month', now()) AND hc.slug IN "
                   "('harbour-yacht', 'union-university', 'highveld-country')",
                   shape, 6) == 0);
    CHECK_EQ_INT(shape[0], 12);
    CHECK_EQ_INT(shape[1], 3);
    CHECK_EQ_INT(shape[2], 0);
    CHECK(shape[3] > 0);
    CHECK(shape[4] > 0);
    CHECK(shape[5] > 0);
    /* the events of every step, through the outbox (the demo clubs' only: other tests may share
     * the database) */
    REQUIRE(owner_ints("SELECT count(*) FILTER (WHERE type = 'visit.requested'), count(*) "
                       "FILTER (WHERE type = 'visit.checked_in'), count(*) FILTER (WHERE type = "
                       "'visit.no_show'), count(*) FILTER (WHERE type = 'charge.posted'), count(*) "
                       "FILTER (WHERE type = 'visit.cancelled'), count(*) FILTER (WHERE type = "
                       "'statement.issued') FROM reciprocal.outbox o JOIN member.clubs c ON c.id "
                       "= o.tenant_id WHERE c.slug IN ('harbour-yacht', 'union-university', "
                       "'highveld-country')",
                       ev, 6) == 0);
    CHECK_EQ_INT(ev[0], h[0] - h[1]);
    CHECK_EQ_INT(ev[1], h[2]);
    CHECK_EQ_INT(ev[2], h[3]);
    CHECK(ev[3] >= h[6]);
    CHECK_EQ_INT(ev[4], h[4]);
    CHECK(ev[5] >= h[7]);
}

static void test_ledger(void) {
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, g_env) == 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "RECIPROCAL_SEED_ADMIN_PASSWORD='" SEED_PW "' scripts/demo_ledger.sh %s 2>&1",
             g_proc.base);
    CHECK_EQ_INT(system(cmd), 0);
    REQUIRE(login("harbour-yacht", "admin@harbour-yacht.example", g_harbour) == 0);
    REQUIRE(login("union-university", "admin@union-university.example", g_union) == 0);
    json_t *o = NULL;
    REQUIRE(call(g_harbour, "GET", "/api/v1/clubs/harbour-yacht", NULL, &o) == 200);
    snprintf(g_hy, sizeof g_hy, "%s", jstr(o, "id"));
    json_decref(o);
    REQUIRE(call(g_harbour, "GET", "/api/v1/clubs/union-university", NULL, &o) == 200);
    snprintf(g_uu, sizeof g_uu, "%s", jstr(o, "id"));
    json_decref(o);
    /* the directory: two active partners */
    char path[256];
    snprintf(path, sizeof path, "/api/v1/clubs/%s/partners", g_hy);
    REQUIRE(call(g_harbour, "GET", path, NULL, &o) == 200);
    json_t *items = json_object_get(o, "items");
    CHECK_EQ_INT(json_array_size(items), 2);
    CHECK_STR(jstr(json_array_get(items, 0), "status"), "active");
    snprintf(g_ag, sizeof g_ag, "%s", jstr(json_array_get(items, 0), "agreement_id"));
    json_decref(o);
    /* the activation on the ledger */
    snprintf(path, sizeof path, "/api/v1/agreements/%s", g_ag);
    REQUIRE(call(g_harbour, "GET", path, NULL, &o) == 200);
    json_t *led = json_object_get(o, "ledger");
    CHECK_STR(jstr(led, "status"), "submitted");
    char tx[128] = "";
    if (jstr(led, "tx_id")) snprintf(tx, sizeof tx, "%s", jstr(led, "tx_id"));
    json_decref(o);
    REQUIRE(tx[0]);
    snprintf(path, sizeof path, "/api/v1/ledger/transactions/%s/status?wait_ms=10000", tx);
    CHECK_EQ_INT(call(g_harbour, "GET", path, NULL, &o), 200);
    CHECK_STR(jstr(o, "validation_code"), "VALID");
    json_decref(o);
}

/* The README walk at the real clock. */
/* The README's example chart: union-university's visits per month (GET .../chart?kind=visits,
 * the last 12 months against the year before) from the seeded history, once the analytics
 * consumers have applied it (visits in > 0). With RECIPROCAL_README_CHART=<file> the SVG is
 * written there (scripts/readme_chart.sh regenerates docs/analytics-example.svg). */
static void test_chart(void) {
    char url[512];
    snprintf(url, sizeof url, "%s/api/v1/analytics/clubs/%s/chart?kind=visits", g_proc.base, g_uu);
    e2e_resp_t r = {0};
    int ok = 0;
    for (int i = 0; i < 300 && !ok; i++) {
        if (i) usleep(200000);
        e2e_resp_free(&r);
        memset(&r, 0, sizeof r);
        if (e2e_http_as(g_union, "GET", url, NULL, NULL, &r) != 0) continue;
        /* a bar of a month with visits in: "<month>, Visits in, last 12 months: <n> ...", n > 0 */
        static const char k_in[] = "Visits in, last 12 months: ";
        const char *b = r.status == 200 && r.body ? strstr(r.body, k_in) : NULL;
        for (; b && !ok; b = strstr(b + 1, k_in))
            if (atol(b + sizeof k_in - 1) > 0) ok = 1;
    }
    CHECK(ok);
    /* the consumers may still be applying the history: wait until 3 s pass without a change */
    for (int same = 0, i = 0; ok && same < 6 && i < 600; i++) {
        usleep(500000);
        e2e_resp_t n = {0};
        if (e2e_http_as(g_union, "GET", url, NULL, NULL, &n) != 0) continue;
        if (n.status == 200 && n.body && r.body && strcmp(n.body, r.body) == 0) {
            same++;
            e2e_resp_free(&n);
        } else if (n.status == 200) {
            same = 0;
            e2e_resp_free(&r);
            r = n;
        } else {
            e2e_resp_free(&n);
        }
    }
    CHECK(r.headers && strstr(r.headers, "image/svg+xml"));
    CHECK(r.body && strstr(r.body, "<title") && strstr(r.body, "</svg>"));
    const char *file = getenv("RECIPROCAL_README_CHART");
    if (ok && file && *file) {
        FILE *f = fopen(file, "w");
        CHECK(f != NULL);
        if (f) {
            fputs(r.body, f);
            fclose(f);
        }
    }
    e2e_resp_free(&r);
}

static void test_walk(void) {
    json_t *o = NULL;
    /* DEMO-1 of harbour-yacht */
    REQUIRE(call(g_harbour, "GET", "/api/v1/members?limit=100", NULL, &o) == 200);
    char member[64] = "";
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(o, "items"), i,
                       m) if (strcmp(jstr(m, "member_number"), "DEMO-1") == 0)
        snprintf(member, sizeof member, "%s", jstr(m, "id"));
    json_decref(o);
    REQUIRE(member[0]);
    /* today at the host (New York) */
    char today[16], body[2048], path[256];
    time_t now = time(NULL);
    struct tm tm;
    setenv("TZ", "America/New_York", 1);
    tzset();
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    unsetenv("TZ");
    tzset();
    snprintf(body, sizeof body,
             "{\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":\"%s\",\"depart_on\":"
             "\"%s\",\"facilities\":[\"dining\"]}",
             member, g_uu, today, today);
    REQUIRE(call(g_harbour, "POST", "/api/v1/visits", body, &o) == 201);
    char v[64];
    snprintf(v, sizeof v, "%s", jstr(o, "id"));
    json_decref(o);
    snprintf(path, sizeof path, "/api/v1/visits/%s/approve", v);
    REQUIRE(call(g_harbour, "POST", path, "{}", &o) == 200);
    char token[1900];
    snprintf(token, sizeof token, "%s", jstr(json_object_get(o, "loi"), "token"));
    json_decref(o);
    snprintf(path, sizeof path, "/api/v1/visits/%s/confirm", v);
    REQUIRE(call(g_union, "POST", path, "{}", &o) == 200);
    CHECK_STR(jstr(o, "status"), "confirmed");
    json_decref(o);
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
    REQUIRE(call(g_union, "POST", "/api/v1/lois/verify", body, &o) == 200);
    CHECK(json_is_true(json_object_get(o, "valid")));
    CHECK_STR(jstr(json_object_get(o, "member"), "name"), "Ada Lovelace");
    json_decref(o);
    REQUIRE(call(g_union, "POST", "/api/v1/visits/check-in", body, &o) == 200);
    CHECK_STR(jstr(o, "status"), "checked_in");
    json_decref(o);
    /* the chain verifies offline */
    char file[] = "/tmp/demo_chain_XXXXXX";
    int fd = mkstemp(file);
    REQUIRE(fd >= 0);
    close(fd);
    const char *ex[] = {"ledger", "export", file, NULL};
    const char *ve[] = {"ledger", "verify", file, NULL};
    char *out = NULL;
    CHECK_EQ_INT(e2e_run(ex, g_env, &out), 0);
    free(out);
    out = NULL;
    CHECK_EQ_INT(e2e_run(ve, g_env, &out), 0);
    if (out && !strstr(out, "VALID")) printf("# %s\n", out);
    free(out);
    unlink(file);
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

int main(void) {
    RUN(test_seed);
    RUN(test_history);
    RUN(test_ledger);
    RUN(test_chart);
    RUN(test_walk);
    TEST_DONE();
}
