/* End-to-end: the read cache (core/rcache.h, docs/architecture.md "Read cache") across
 * processes. Split mode: one gateway and TWO processes running member and auth (`--services
 * member,auth`, one queue group, so the gateway's calls land on either), the cache's TTL set to an
 * hour so that only the event invalidation can make a change visible:
 *   - both member processes answer a club from their cache (a change written behind the
 *     service's back, straight into PostgreSQL, stays unseen: the cache is used);
 *   - a PATCH (and a deactivation) made through one of them is seen through both within a
 *     couple of seconds, by id and by slug: the other process dropped the club on the
 *     club.updated / club.status_changed event.
 * All-in-one: /metrics shows the cache's hits, misses, invalidations and size; a key rotation
 * made by another process (`reciprocal auth rotate-keys`) reaches the serving process's
 * published key set at once, not after the TTL or the 60 s key reload. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"
#include "test.h"

static const char *const g_env[] = {"RECIPROCAL_CACHE_TTL_SECONDS=3600", NULL};
static e2e_proc_t g_gw, g_m1, g_m2, g_all;
static char g_id[64], g_slug[64];

static long get_club(const e2e_proc_t *p, const char *ref, json_t **out) {
    char path[160];
    snprintf(path, sizeof path, "/api/v1/clubs/%s", ref);
    return e2e_call(p, NULL, "GET", path, NULL, out);
}

/* How many of n reads of the club (by ref) answer field == want. */
static int reads_with(const e2e_proc_t *p, const char *ref, const char *field, const char *want,
                      int n) {
    int same = 0;
    for (int i = 0; i < n; i++) {
        json_t *c = NULL;
        if (get_club(p, ref, &c) == 200 && e2e_str(c, field) &&
            strcmp(e2e_str(c, field), want) == 0)
            same++;
        json_decref(c);
    }
    return same;
}

/* Waits up to 5 s until 20 reads in a row (by id and by slug) all answer field == want. */
static int converges(const e2e_proc_t *p, const char *field, const char *want) {
    for (int t = 0; t < 50; t++) {
        if (reads_with(p, g_id, field, want, 20) == 20 &&
            reads_with(p, g_slug, field, want, 20) == 20)
            return 1;
        usleep(100 * 1000);
    }
    return 0;
}

static int owner_sql(const char *sql, const char *arg) {
    PGconn *pg = PQconnectdb(getenv("RECIPROCAL_TEST_OWNER_URL"));
    int ok = PQstatus(pg) == CONNECTION_OK;
    if (ok) {
        const char *p[] = {arg};
        PGresult *r = PQexecParams(pg, sql, 1, NULL, p, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) printf("#   %s\n", PQerrorMessage(pg));
        PQclear(r);
    }
    PQfinish(pg);
    return ok ? 0 : -1;
}

static void test_start_split(void) {
    REQUIRE(e2e_start(&g_m1, "member,auth", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&g_m2, "member,auth", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&g_gw, "gateway", 0, 1, g_env) == 0);
    REQUIRE(e2e_login_admin(&g_gw, NULL, NULL) == 0);
    snprintf(g_slug, sizeof g_slug, "cache-%ld-%d", (long)time(NULL), (int)getpid());
    REQUIRE(e2e_club(&g_gw, "Cache Before", g_slug, NULL, g_id) == 0);
}

/* Both member processes hold the club: 40 reads (each lands on either process) fill both, then
 * a change written straight into PostgreSQL (no event) is answered by neither. */
static void test_both_processes_cache(void) {
    REQUIRE(g_id[0]);
    CHECK_EQ_INT(reads_with(&g_gw, g_id, "name", "Cache Before", 40), 40);
    CHECK_EQ_INT(reads_with(&g_gw, g_slug, "name", "Cache Before", 40), 40);
    REQUIRE(owner_sql("UPDATE member.clubs SET name = 'Behind the service' WHERE id = $1::uuid",
                      g_id) == 0);
    CHECK_EQ_INT(reads_with(&g_gw, g_id, "name", "Cache Before", 40), 40);
    CHECK_EQ_INT(reads_with(&g_gw, g_slug, "name", "Cache Before", 40), 40);
}

/* A PATCH handled by one member process is seen through the other at once (the event). */
static void test_change_reaches_other_process(void) {
    REQUIRE(g_id[0]);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/clubs/%s", g_id);
    CHECK_EQ_INT(e2e_call(&g_gw, NULL, "PATCH", path, "{\"name\":\"Cache After\"}", NULL), 200);
    CHECK(converges(&g_gw, "name", "Cache After"));
    snprintf(path, sizeof path, "/api/v1/clubs/%s/deactivate", g_id);
    CHECK_EQ_INT(e2e_call(&g_gw, NULL, "POST", path, "{}", NULL), 200);
    CHECK(converges(&g_gw, "status", "suspended"));
    snprintf(path, sizeof path, "/api/v1/clubs/%s/activate", g_id);
    CHECK_EQ_INT(e2e_call(&g_gw, NULL, "POST", path, "{}", NULL), 200);
    CHECK(converges(&g_gw, "status", "active"));
}

static void test_stop_split(void) {
    CHECK_EQ_INT(e2e_stop(&g_gw), 0);
    CHECK_EQ_INT(e2e_stop(&g_m1), 0);
    CHECK_EQ_INT(e2e_stop(&g_m2), 0);
}

/* The value of the series `name{cache="<cache>"}` in /metrics, or -1. */
static double metric(const char *name, const char *cache) {
    e2e_resp_t r;
    char url[128], needle[160];
    snprintf(url, sizeof url, "%s/metrics", g_all.base);
    if (e2e_http("GET", url, NULL, NULL, &r) != 0) return -1;
    snprintf(needle, sizeof needle, "\n%s{cache=\"%s\"} ", name, cache);
    const char *at = r.body ? strstr(r.body, needle) : NULL;
    double v = at ? strtod(at + strlen(needle), NULL) : -1;
    e2e_resp_free(&r);
    return v;
}

static void test_metrics(void) {
    REQUIRE(e2e_start(&g_all, NULL, 0, 1, g_env) == 0);
    REQUIRE(e2e_login_admin(&g_all, NULL, NULL) == 0);
    REQUIRE(g_id[0]);
    json_t *c = NULL;
    CHECK_EQ_INT(get_club(&g_all, g_id, &c), 200); /* miss, filled */
    json_decref(c);
    double h0 = metric("cache_hits_total", "clubs");
    CHECK_EQ_INT(get_club(&g_all, g_id, NULL), 200); /* hit */
    CHECK_EQ_INT(get_club(&g_all, g_id, NULL), 200); /* hit */
    CHECK(metric("cache_hits_total", "clubs") >= h0 + 2);
    CHECK(metric("cache_misses_total", "clubs") >= 1);
    CHECK(metric("cache_entries", "clubs") >= 1);
    double inv0 = metric("cache_invalidations_total", "clubs");
    char path[128];
    snprintf(path, sizeof path, "/api/v1/clubs/%s", g_id);
    CHECK_EQ_INT(e2e_call(&g_all, NULL, "PATCH", path, "{\"name\":\"Cache Metrics\"}", NULL), 200);
    CHECK(metric("cache_invalidations_total", "clubs") >= inv0 + 1);
    CHECK_EQ_INT(reads_with(&g_all, g_id, "name", "Cache Metrics", 1), 1);
}

static size_t jwks_keys(void) {
    json_t *j = NULL;
    size_t n = 0;
    if (e2e_call(&g_all, "", "GET", "/.well-known/jwks.json", NULL, &j) == 200)
        n = json_array_size(json_object_get(j, "keys"));
    json_decref(j);
    return n;
}

/* `reciprocal auth rotate-keys` (another process, no NATS) writes auth.signing_keys_rotated to
 * the outbox; the serving process's relay publishes it and its own cache hears it: the new key
 * is published within seconds although the TTL is an hour and the keys reload every 60 s. */
static void test_rotation_reaches_cache(void) {
    REQUIRE(g_all.pid);
    size_t before = jwks_keys();
    REQUIRE(before >= 1);
    CHECK_EQ_INT(jwks_keys(), before); /* from the cache */
    CHECK(metric("cache_hits_total", "jwks") >= 1);
    const char *args[] = {"auth", "rotate-keys", NULL};
    char *out = NULL;
    CHECK_EQ_INT(e2e_run(args, NULL, &out), 0);
    free(out);
    int seen = 0;
    for (int t = 0; t < 50 && !seen; t++) {
        seen = jwks_keys() == before + 1;
        if (!seen) usleep(100 * 1000);
    }
    CHECK(seen);
    /* tokens are signed with the new key and verify */
    REQUIRE(e2e_login_admin(&g_all, NULL, NULL) == 0);
    CHECK_EQ_INT(e2e_call(&g_all, NULL, "GET", "/api/v1/auth/me", NULL, NULL), 200);
    CHECK_EQ_INT(e2e_stop(&g_all), 0);
}

int main(void) {
    RUN(test_start_split);
    if (g_gw.pid) {
        RUN(test_both_processes_cache);
        RUN(test_change_reaches_other_process);
    }
    RUN(test_stop_split);
    RUN(test_metrics);
    RUN(test_rotation_reaches_cache);
    TEST_DONE();
}
