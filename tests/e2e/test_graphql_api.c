/* End-to-end: the real binary's /graphql endpoint. Clubs over GraphQL (club by id and slug, the
 * clubs connection page by page, createClub with userErrors on a duplicate slug), batching of
 * aliased club(id:) fields into one get_clubs_by_ids call (counted in /metrics), the
 * GraphQL-over-HTTP rules (GET/POST, 405, 415, status codes per Accept), persisted documents,
 * and graphql-http's serverAudits run by node against the live server (no MUST failure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_proc;
static char g_tag[32];
static char g_id[64];

static int gql(const char *accept_gql, const char *body, e2e_resp_t *r) {
    char url[256];
    snprintf(url, sizeof url, "%s/graphql", g_proc.base);
    (void)accept_gql;
    return e2e_http("POST", url, "application/json", body, r);
}

static json_t *data_of(const e2e_resp_t *r) {
    return json_object_get(r->json, "data");
}

/* POST {"query": q, "variables": vars} */
static int post_query(const char *q, json_t *vars, e2e_resp_t *r) {
    json_t *body = json_pack("{s:s}", "query", q);
    if (vars) json_object_set(body, "variables", vars);
    char *s = json_dumps(body, JSON_COMPACT);
    int rc = gql(NULL, s, r);
    free(s);
    json_decref(body);
    return rc;
}

static void create_club(const char *slug, const char *name, char *id_out) {
    json_t *vars = json_pack("{s:{s:s, s:s, s:s, s:{s:s, s:s}, s:[s]}}", "in", "name", name, "slug",
                             slug, "timezone", "Europe/London", "address", "city", "London",
                             "country", "GB", "facilities", "GOLF");
    e2e_resp_t r;
    int rc = post_query("mutation M($in: CreateClubInput!) { createClub(input: $in) { club { id "
                        "slug status facilities address { country postalCode } } userErrors { "
                        "field message code } } }",
                        vars, &r);
    json_decref(vars);
    REQUIRE(rc == 0);
    CHECK_EQ_INT(r.status, 200);
    json_t *club = json_object_get(json_object_get(data_of(&r), "createClub"), "club");
    CHECK_STR(json_string_value(json_object_get(club, "slug")), slug);
    CHECK_STR(json_string_value(json_object_get(club, "status")), "ACTIVE");
    CHECK_STR(json_string_value(json_array_get(json_object_get(club, "facilities"), 0)), "GOLF");
    if (id_out)
        snprintf(id_out, 64, "%s",
                 json_string_value(json_object_get(club, "id"))
                     ? json_string_value(json_object_get(club, "id"))
                     : "");
    e2e_resp_free(&r);
}

static void test_create_and_read(void) {
    char slug[96], q[512];
    snprintf(slug, sizeof slug, "gql-a-%s", g_tag);
    create_club(slug, "GraphQL Club A", g_id);
    REQUIRE(g_id[0]);
    /* duplicate slug: typed user error, no GraphQL error */
    json_t *vars = json_pack("{s:{s:s, s:s, s:s, s:{s:s}}}", "in", "name", "Dup", "slug", slug,
                             "timezone", "Europe/London", "address", "country", "GB");
    e2e_resp_t r;
    REQUIRE(post_query("mutation M($in: CreateClubInput!) { createClub(input: $in) { club { id } "
                       "userErrors { field message code } } }",
                       vars, &r) == 0);
    json_decref(vars);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_object_get(r.json, "errors") == NULL);
    json_t *ue = json_array_get(
        json_object_get(json_object_get(data_of(&r), "createClub"), "userErrors"), 0);
    CHECK_STR(json_string_value(json_object_get(ue, "code")), "conflict");
    CHECK_STR(json_string_value(json_object_get(ue, "field")), "slug");
    CHECK(json_is_null(json_object_get(json_object_get(data_of(&r), "createClub"), "club")));
    e2e_resp_free(&r);
    /* invalid input field: camelCase field name */
    vars = json_pack("{s:{s:s, s:s, s:s, s:{s:s}, s:s}}", "in", "name", "Bad", "slug", "bad-phone",
                     "timezone", "Europe/London", "address", "country", "GB", "contactPhone", "12");
    REQUIRE(post_query("mutation M($in: CreateClubInput!) { createClub(input: $in) { userErrors "
                       "{ field code } } }",
                       vars, &r) == 0);
    json_decref(vars);
    ue = json_array_get(json_object_get(json_object_get(data_of(&r), "createClub"), "userErrors"),
                        0);
    CHECK_STR(json_string_value(json_object_get(ue, "field")), "contactPhone");
    e2e_resp_free(&r);
    /* by id, by slug, missing */
    snprintf(q, sizeof q,
             "{ a: club(id: \"%s\") { id name slug timezone createdAt } b: club(id: \"%s\") { id "
             "} c: club(id: \"no-such-club-%s\") { id } }",
             g_id, slug, g_tag);
    REQUIRE(post_query(q, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(json_object_get(data_of(&r), "a"), "name")),
              "GraphQL Club A");
    CHECK_STR(json_string_value(json_object_get(json_object_get(data_of(&r), "b"), "id")), g_id);
    CHECK(json_is_null(json_object_get(data_of(&r), "c")));
    e2e_resp_free(&r);
    /* updateClub and deactivateClub */
    snprintf(q, sizeof q,
             "mutation { updateClub(input: {id: \"%s\", name: \"Renamed\", website: null}) { club "
             "{ name } userErrors { code } } deactivateClub(input: {id: \"%s\", reason: \"x\"}) { "
             "club { status } } }",
             g_id, g_id);
    REQUIRE(post_query(q, NULL, &r) == 0);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_object_get(data_of(&r), "updateClub"), "club"), "name")),
              "Renamed");
    CHECK_STR(
        json_string_value(json_object_get(
            json_object_get(json_object_get(data_of(&r), "deactivateClub"), "club"), "status")),
        "SUSPENDED");
    e2e_resp_free(&r);
}

static double metric(const char *op) {
    char url[256], needle[128];
    snprintf(url, sizeof url, "%s/metrics", g_proc.base);
    snprintf(needle, sizeof needle, "graphql_operation_calls_total{operation=\"%s\"} ", op);
    e2e_resp_t r;
    if (e2e_http("GET", url, NULL, NULL, &r) != 0) return -1;
    const char *p = strstr(r.body, needle);
    double v = p ? atof(p + strlen(needle)) : 0;
    e2e_resp_free(&r);
    return v;
}

static void test_batching(void) {
    char slug[96], id2[64] = "", q[512];
    snprintf(slug, sizeof slug, "gql-b-%s", g_tag);
    create_club(slug, "GraphQL Club B", id2);
    double batch0 = metric("get_clubs_by_ids"), single0 = metric("get_club");
    snprintf(q, sizeof q,
             "{ x: club(id: \"%s\") { id name address { country } } y: club(id: \"%s\") { id name "
             "} z: club(id: \"nope-%s\") { id } }",
             g_id, slug, g_tag);
    e2e_resp_t r;
    REQUIRE(post_query(q, NULL, &r) == 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(data_of(&r), "y"), "name")),
              "GraphQL Club B");
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_object_get(data_of(&r), "x"), "address"), "country")),
              "GB");
    CHECK(json_is_null(json_object_get(data_of(&r), "z")));
    e2e_resp_free(&r);
    CHECK(metric("get_clubs_by_ids") == batch0 + 1); /* one batch call for three fields */
    CHECK(metric("get_club") == single0);
    /* the batch returns the same club JSON as get_club */
    snprintf(q, sizeof q,
             "{ club(id: \"%s\") { id name slug status timezone address { lines city region "
             "postalCode country } latitude longitude contactEmail contactPhone website "
             "facilities createdAt updatedAt } }",
             id2);
    REQUIRE(post_query(q, NULL, &r) == 0);
    json_t *single = json_incref(json_object_get(data_of(&r), "club"));
    e2e_resp_free(&r);
    char q2[1024];
    snprintf(q2, sizeof q2,
             "{ club(id: \"%s\") { id name slug status timezone address { lines city region "
             "postalCode country } latitude longitude contactEmail contactPhone website "
             "facilities createdAt updatedAt } other: club(id: \"%s\") { id } }",
             id2, g_id);
    REQUIRE(post_query(q2, NULL, &r) == 0);
    CHECK(json_equal(single, json_object_get(data_of(&r), "club")));
    e2e_resp_free(&r);
    json_decref(single);
}

static void test_connection(void) {
    e2e_resp_t r;
    char after[256] = "";
    int pages = 0, seen_a = 0;
    for (;;) {
        json_t *vars = after[0] ? json_pack("{s:s}", "after", after) : json_object();
        REQUIRE(post_query("query Q($after: String) { clubs(first: 1, after: $after, country: "
                           "\"GB\") { edges { cursor node { id slug } } pageInfo { hasNextPage "
                           "endCursor } } }",
                           vars, &r) == 0);
        json_decref(vars);
        json_t *conn = json_object_get(data_of(&r), "clubs");
        json_t *edges = json_object_get(conn, "edges");
        json_t *pi = json_object_get(conn, "pageInfo");
        CHECK(json_array_size(edges) <= 1);
        if (json_array_size(edges) == 1) {
            json_t *e = json_array_get(edges, 0);
            if (strcmp(json_string_value(json_object_get(json_object_get(e, "node"), "id")),
                       g_id) == 0)
                seen_a = 1;
            CHECK_STR(json_string_value(json_object_get(e, "cursor")),
                      json_string_value(json_object_get(pi, "endCursor")));
        }
        pages++;
        int more = json_is_true(json_object_get(pi, "hasNextPage"));
        if (more)
            snprintf(after, sizeof after, "%s",
                     json_string_value(json_object_get(pi, "endCursor")));
        e2e_resp_free(&r);
        if (!more || pages > 200) break;
    }
    CHECK(seen_a);
    CHECK(pages >= 2);
}

static void test_http_rules(void) {
    char url[512];
    e2e_resp_t r;
    char ct[128];
    /* GET query */
    snprintf(url, sizeof url, "%s/graphql?query=%%7B__typename%%7D", g_proc.base);
    REQUIRE(e2e_http("GET", url, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(data_of(&r), "__typename")), "Query");
    CHECK(e2e_header(&r, "Content-Type", ct, sizeof ct) && strstr(ct, "application/json"));
    e2e_resp_free(&r);
    /* GET mutation: 405 */
    snprintf(url, sizeof url, "%s/graphql?query=mutation%%7B__typename%%7D", g_proc.base);
    REQUIRE(e2e_http("GET", url, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 405);
    e2e_resp_free(&r);
    /* CSRF: simple content types are refused */
    snprintf(url, sizeof url, "%s/graphql", g_proc.base);
    static const char *const simple[] = {"text/plain", "application/x-www-form-urlencoded",
                                         "multipart/form-data; boundary=x"};
    for (size_t i = 0; i < 3; i++) {
        REQUIRE(e2e_http("POST", url, simple[i], "{\"query\":\"{__typename}\"}", &r) == 0);
        CHECK_EQ_INT(r.status, 415);
        e2e_resp_free(&r);
    }
    REQUIRE(e2e_http("PUT", url, "application/json", "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 405);
    e2e_resp_free(&r);
    /* status codes: application/json -> 200 for a validation error; graphql-response -> 400 */
    REQUIRE(post_query("{ nope }", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_object_get(r.json, "errors") != NULL && !json_object_get(r.json, "data"));
    e2e_resp_free(&r);
    REQUIRE(post_query("{", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    REQUIRE(e2e_http("POST", url, "application/json", "{\"query\": 1}", &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    e2e_resp_free(&r);
}

static void test_persisted(void) {
    char url[256], body[512];
    const char *doc = "query Persisted { health { status postgres nats } }";
    snprintf(url, sizeof url, "%s/api/v1/graphql/documents", g_proc.base);
    json_t *b = json_pack("{s:s, s:s}", "document", doc, "name", "health");
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    e2e_resp_t r;
    REQUIRE(e2e_http("POST", url, "application/json", s, &r) == 0);
    free(s);
    CHECK_EQ_INT(r.status, 201);
    char id[80];
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(r.json, "id"))
                 ? json_string_value(json_object_get(r.json, "id"))
                 : "");
    e2e_resp_free(&r);
    CHECK(strncmp(id, "sha256:", 7) == 0 && strlen(id) == 71);
    /* anonymous callers cannot register */
    REQUIRE(e2e_http_as("", "POST", url, "application/json",
                        "{\"document\":\"{ health { status } }\"}", &r) == 0);
    CHECK(r.status == 401 || r.status == 403);
    e2e_resp_free(&r);
    snprintf(body, sizeof body, "{\"documentId\":\"%s\"}", id);
    REQUIRE(gql(NULL, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(json_object_get(data_of(&r), "health"), "status")),
              "ready");
    e2e_resp_free(&r);
    snprintf(body, sizeof body, "{\"documentId\":\"sha256:%064d\"}", 0);
    REQUIRE(gql(NULL, body, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    e2e_resp_free(&r);
}

static void test_audit(void) {
    const char *root = getenv("RECIPROCAL_TEST_ROOT");
    if (!root || !*root) root = ".";
    char marker[1024], cmd[4096];
    snprintf(marker, sizeof marker, "%s/build/oracle-exec/node_modules/graphql-http/package.json",
             root);
    struct stat st;
    if (stat(marker, &st) != 0) {
        snprintf(cmd, sizeof cmd,
                 "set -e; d='%s/build/oracle-exec'; mkdir -p \"$d\"; cp '%s/tests/gateway/"
                 "oracle-exec/package.json' '%s/tests/gateway/oracle-exec/package-lock.json' "
                 "\"$d\"/; npm ci --prefix \"$d\" --no-audit --no-fund --silent >&2",
                 root, root, root);
        REQUIRE(system(cmd) == 0);
    }
    snprintf(cmd, sizeof cmd,
             "cd '%s' && NODE_PATH='%s/build/oracle-exec/node_modules' node "
             "tests/gateway/oracle-exec/audit.js %s/graphql > '%s/build/oracle-exec/audit.txt' "
             "2>&1",
             root, root, g_proc.base, root);
    int rc = system(cmd);
    snprintf(marker, sizeof marker, "%s/build/oracle-exec/audit.txt", root);
    FILE *f = fopen(marker, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "ok ", 3) != 0) fprintf(stdout, "# audit: %s", line);
    if (f) fclose(f);
    CHECK_EQ_INT(rc, 0);
}

static void test_all(void) {
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, NULL) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    test_create_and_read();
    test_batching();
    test_connection();
    test_http_rules();
    test_persisted();
    test_audit();
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

int main(void) {
    snprintf(g_tag, sizeof g_tag, "%d", (int)getpid());
    RUN(test_all);
    TEST_DONE();
}
