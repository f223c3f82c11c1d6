/* End-to-end: the walkable demo network (`make run`, README "Walk a visit"). `reciprocal seed`
 * (member, auth and reciprocal seed hooks) creates the three demo clubs, their administrators,
 * two active members each and ONE active agreement among the three clubs; a second run changes
 * nothing; scripts/demo_ledger.sh against the running service bootstraps the ledger with the
 * clubs as organisations and the agreement's activation is committed on the ledger (VALID).
 * Then the README's walk with the demo accounts at the real clock: harbour-yacht's
 * administrator requests a visit to union-university for member DEMO-1 arriving today (host
 * date), approves it (the letter), union-university's administrator confirms and checks the
 * member in with the letter's token; `reciprocal ledger export` + `ledger verify` pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"
#include "test.h"

#define SEED_PW "Demo-Seed-Password-42"

static e2e_proc_t g_proc;
static const char *const g_env[] = {
    "RECIPROCAL_SEED_ADMIN_PASSWORD=" SEED_PW,
    "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", NULL};
static char g_harbour[4096], g_union[4096], g_hy[64], g_uu[64], g_ag[64];

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
    CHECK_EQ_INT(e2e_run(args, g_env, &out), 0);
    if (!out || !strstr(out, "seeded agreement")) printf("# %s\n", out ? out : "");
    CHECK(out && strstr(out, "seeded agreement") && strstr(out, "(active)"));
    CHECK(out && strstr(out, "seeded member DEMO-2 of highveld-country"));
    free(out);
    out = NULL;
    /* idempotent */
    CHECK_EQ_INT(e2e_run(args, g_env, &out), 0);
    CHECK(out && strstr(out, "agreement among the demo clubs already active"));
    CHECK(out && strstr(out, "member DEMO-1 of harbour-yacht already present"));
    CHECK(out && !strstr(out, "seeded agreement"));
    free(out);
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
    RUN(test_ledger);
    RUN(test_walk);
    TEST_DONE();
}
