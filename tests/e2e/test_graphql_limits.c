/* End-to-end: the static GraphQL limits of the real binary with its default settings, as an
 * anonymous caller (issue 9). A 40-level document spreading its fragments twice per level (about
 * 2 KB standing for 2^40 selections: before, the depth check never finished and eight such
 * requests took every worker) is refused with a depth error at once, while /health/live keeps
 * answering; 7,000 aliases of __schema and 3,000 aliases of members(first: 100) are refused at
 * validation (aliases, fields, cost) with GraphQL errors carrying locations, quickly. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_proc;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* POST {"query": q} to /graphql without credentials. */
static int post_anon(const char *q, e2e_resp_t *r) {
    char url[256];
    snprintf(url, sizeof url, "%s/graphql", g_proc.base);
    json_t *body = json_pack("{s:s}", "query", q);
    char *s = json_dumps(body, JSON_COMPACT);
    int rc = e2e_http_as(NULL, "POST", url, "application/json", s, r);
    free(s);
    json_decref(body);
    return rc;
}

/* The first error message containing needle, checking it has a location; NULL when none. */
static const char *find_error(const e2e_resp_t *r, const char *needle) {
    json_t *errors = json_object_get(r->json, "errors");
    for (size_t i = 0; i < json_array_size(errors); i++) {
        json_t *e = json_array_get(errors, i);
        const char *m = json_string_value(json_object_get(e, "message"));
        if (m && strstr(m, needle)) {
            json_t *loc = json_array_get(json_object_get(e, "locations"), 0);
            if (!json_integer_value(json_object_get(loc, "line"))) return NULL;
            return m;
        }
    }
    return NULL;
}

/* {members {edges {node {...F0}}}}, F<i> on Member spreading F<i+1> twice, `levels` deep. */
static char *doubling(int levels) {
    size_t cap = 256 + (size_t)levels * 96;
    char *q = malloc(cap);
    size_t n = (size_t)snprintf(q, cap, "{ members(first: 1) { edges { node { ...F0 } } } }\n");
    for (int i = 0; i < levels; i++)
        n += (size_t)snprintf(q + n, cap - n,
                              "fragment F%d on Member { dependents { ...F%d ...F%d } }\n", i, i + 1,
                              i + 1);
    snprintf(q + n, cap - n, "fragment F%d on Member { id }\n", levels);
    return q;
}

static void *send_doubling(void *arg) {
    e2e_resp_t r;
    if (post_anon(arg, &r) == 0) e2e_resp_free(&r);
    return NULL;
}

static void test_start(void) {
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, NULL) == 0);
}

static void test_fragment_doubling(void) {
    char *q = doubling(40);
    CHECK(strlen(q) < 2500);
    e2e_resp_t r;
    double t0 = now_s();
    REQUIRE(post_anon(q, &r) == 0);
    double t1 = now_s();
    printf("# 40-level doubling document (%zu bytes) answered in %.3f s\n", strlen(q), t1 - t0);
    CHECK(t1 - t0 < 2.0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_object_get(r.json, "data") == NULL);
    CHECK(find_error(&r, "Anonymous operation has depth 44, which exceeds the maximum depth of "
                         "15.") != NULL);
    e2e_resp_free(&r);
    /* eight at once (as many as the workers) while the liveness probe keeps answering */
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        REQUIRE(pthread_create(&th[i], NULL, send_doubling, q) == 0);
    char url[256];
    snprintf(url, sizeof url, "%s/health/live", g_proc.base);
    for (int i = 0; i < 5; i++) {
        t0 = now_s();
        REQUIRE(e2e_http_as(NULL, "GET", url, NULL, NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK(now_s() - t0 < 2.0);
        e2e_resp_free(&r);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    free(q);
}

static void test_aliases(void) {
    size_t cap = 7000 * 72;
    char *q = malloc(cap);
    size_t n = (size_t)snprintf(q, cap, "{");
    for (int i = 0; i < 7000; i++)
        n += (size_t)snprintf(q + n, cap - n,
                              " a%d: __schema { queryType { name } types { name } }", i);
    snprintf(q + n, cap - n, " }");
    e2e_resp_t r;
    double t0 = now_s();
    REQUIRE(post_anon(q, &r) == 0);
    double t1 = now_s();
    printf("# 7000 aliases of __schema (%zu bytes) answered in %.3f s\n", strlen(q), t1 - t0);
    CHECK(t1 - t0 < 2.0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_object_get(r.json, "data") == NULL);
    CHECK(find_error(&r, "Anonymous operation has 7000 aliased fields, which exceeds the maximum "
                         "of 100 aliases") != NULL);
    CHECK(find_error(&r, "Anonymous operation selects 35000 fields, which exceeds the maximum of "
                         "1000 fields") != NULL);
    CHECK(find_error(&r, "Anonymous operation has cost 70000, which exceeds the maximum cost of "
                         "10000.") != NULL);
    e2e_resp_free(&r);
    n = (size_t)snprintf(q, cap, "query Many {");
    for (int i = 0; i < 3000; i++)
        n += (size_t)snprintf(q + n, cap - n, " m%d: members(first: 100) { edges { node { id } } }",
                              i);
    snprintf(q + n, cap - n, " }");
    t0 = now_s();
    REQUIRE(post_anon(q, &r) == 0);
    t1 = now_s();
    printf("# 3000 aliases of members(first: 100) answered in %.3f s\n", t1 - t0);
    CHECK(t1 - t0 < 2.0);
    CHECK(json_object_get(r.json, "data") == NULL);
    CHECK(find_error(&r, "Operation \"Many\" has cost 300000, which exceeds the maximum cost of "
                         "10000.") != NULL);
    CHECK(find_error(&r, "Operation \"Many\" has 3000 aliased fields") != NULL);
    e2e_resp_free(&r);
    free(q);
    /* an ordinary query (clubs' first defaults to 20) passes the default limits */
    REQUIRE(post_anon("{ health { status } clubs { edges { node { id name } } } }", &r) == 0);
    CHECK(json_object_get(r.json, "data") != NULL); /* validated: executed (anonymous: null) */
    CHECK(find_error(&r, "exceeds the maximum") == NULL);
    e2e_resp_free(&r);
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

int main(void) {
    RUN(test_start);
    if (test_fails_ == 0) {
        RUN(test_fragment_doubling);
        RUN(test_aliases);
        RUN(test_stop);
    }
    TEST_DONE();
}
