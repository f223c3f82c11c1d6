/* End-to-end: a service owns its cursors (issue 10 step 2). The same lists (members of one
 * club in every sort order, with or without a search, and clubs of one country) paged over
 * REST (limit + next_cursor) and over GraphQL (first + endCursor) with small pages give the
 * same items in the same order, none twice, none missing, and every GraphQL edge carries the
 * service's cursor of that item (the one REST returns in `cursors`). The names are chosen to
 * break any cursor rebuilt outside the service: non-ASCII (é, ß, 日本), names differing only in
 * case ("anne" / "Anne"), and identical names (ordered by id). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_proc;
static char g_club[64], g_country[8];
static int g_members, g_clubs;

static int req(const char *method, const char *path, const char *body, e2e_resp_t *r) {
    char url[4096];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    return e2e_http(method, url, body ? "application/json" : NULL, body, r);
}

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

static const char *const g_names[][2] = {
    {"Élodie", "Dupont"}, {"Emil", "Dupont"},  {"Jürgen", "Straße"}, {"Jurgen", "Strasse"},
    {"太郎", "日本"},     {"花子", "日本"},    {"anne", "smith"},    {"Anne", "Smith"},
    {"ANNE", "SMITH"},    {"Same", "Name"},    {"Same", "Name"},     {"Same", "Name"},
    {"Zoë", "Ångström"},  {"Zoe", "Angstrom"}, {"ß", "ß"},
};

static void test_start(void) {
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, NULL) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    char slug[64];
    e2e_resp_t r;
    snprintf(slug, sizeof slug, "paging-%d", (int)getpid());
    REQUIRE(e2e_club(&g_proc, "Paging Club", slug, NULL, g_club) == 0);
    for (size_t i = 0; i < sizeof g_names / sizeof g_names[0]; i++) {
        json_t *b = json_pack("{s:s, s:s, s:{s:s, s:s}}", "club_id", g_club, "category", "full",
                              "profile", "first_name", g_names[i][0], "last_name", g_names[i][1]);
        char *s = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        REQUIRE(req("POST", "/api/v1/members", s, &r) == 0);
        free(s);
        CHECK_EQ_INT(r.status, 201);
        g_members += r.status == 201;
        e2e_resp_free(&r);
    }
    /* clubs of one country (other tests may add some), with names of the same kinds; GL, not
     * test_clubs_api's IS/FO (its pagination test counts the clubs of its country) */
    static const char *const cn[] = {"Club Été",    "club été", "日本クラブ",
                                     "Straße Club", "Same",     "Same"};
    snprintf(g_country, sizeof g_country, "GL");
    for (size_t i = 0; i < sizeof cn / sizeof cn[0]; i++) {
        char id[64], extra[128];
        snprintf(slug, sizeof slug, "paging-%d-%zu", (int)getpid(), i);
        snprintf(extra, sizeof extra,
                 "\"timezone\":\"Atlantic/Reykjavik\",\"address\":{\"country\":\"%s\"}", g_country);
        int rc = e2e_club(&g_proc, cn[i], slug, extra, id);
        CHECK_EQ_INT(rc, 0);
        g_clubs += rc == 0;
    }
}

/* Pages a REST list (path ends with "?...&limit=N") to its end: ids (array of strings) and the
 * per-item cursors in the same order. Checks cursors[last] == next_cursor on every page. */
static void rest_pages(const char *path, json_t *ids, json_t *cursors) {
    char p[2048], after[1200] = "";
    for (int pages = 0; pages < 100; pages++) {
        snprintf(p, sizeof p, "%s%s%s", path, after[0] ? "&after=" : "", after);
        e2e_resp_t r;
        REQUIRE(req("GET", p, NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        json_t *items = json_object_get(r.json, "items"), *cs = json_object_get(r.json, "cursors");
        CHECK_EQ_INT(json_array_size(cs), json_array_size(items));
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            json_array_append_new(ids, json_string(jstr(it, "id")));
            json_array_append(cursors, json_array_get(cs, i));
        }
        const char *next = jstr(r.json, "next_cursor");
        if (next) CHECK_STR(json_string_value(json_array_get(cs, json_array_size(cs) - 1)), next);
        snprintf(after, sizeof after, "%s", next ? next : "");
        e2e_resp_free(&r);
        if (!next) return;
    }
    CHECK(0); /* no end */
}

/* Pages a GraphQL connection (query with $after, the connection at data.<field>). */
static void gql_pages(const char *query, const char *field, json_t *vars, json_t *ids,
                      json_t *cursors) {
    char url[256], after[1200] = "";
    snprintf(url, sizeof url, "%s/graphql", g_proc.base);
    for (int pages = 0; pages < 100; pages++) {
        json_t *v = json_deep_copy(vars);
        if (after[0]) json_object_set_new(v, "after", json_string(after));
        json_t *body = json_pack("{s:s, s:o}", "query", query, "variables", v);
        char *s = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        e2e_resp_t r;
        REQUIRE(e2e_http("POST", url, "application/json", s, &r) == 0);
        free(s);
        CHECK_EQ_INT(r.status, 200);
        CHECK(json_object_get(r.json, "errors") == NULL);
        json_t *conn = json_object_get(json_object_get(r.json, "data"), field);
        size_t i;
        json_t *edge;
        json_array_foreach(json_object_get(conn, "edges"), i, edge) {
            json_array_append_new(ids, json_string(jstr(json_object_get(edge, "node"), "id")));
            json_array_append_new(cursors, json_string(jstr(edge, "cursor")));
        }
        json_t *pi = json_object_get(conn, "pageInfo");
        int more = json_is_true(json_object_get(pi, "hasNextPage"));
        snprintf(after, sizeof after, "%s",
                 more && jstr(pi, "endCursor") ? jstr(pi, "endCursor") : "");
        e2e_resp_free(&r);
        if (!more) return;
    }
    CHECK(0);
}

/* Same ids in the same order, the same cursors, n items (n < 0: at least -n, the list is shared
 * with other tests' data), no duplicates. */
static void same_list(const char *what, json_t *ra, json_t *rc, json_t *ga, json_t *gc, int n) {
    int size = (int)json_array_size(ra);
    int ok = (n >= 0 ? size == n : size >= -n) && json_equal(ra, ga) && json_equal(rc, gc);
    for (size_t i = 0; ok && i < json_array_size(ra); i++)
        for (size_t j = i + 1; j < json_array_size(ra); j++)
            if (json_equal(json_array_get(ra, i), json_array_get(ra, j))) ok = 0;
    if (!ok) {
        char *a = json_dumps(ra, JSON_COMPACT), *b = json_dumps(ga, JSON_COMPACT);
        printf("#   %s: REST %s (%zu) vs GraphQL %s (%zu), want %d distinct\n", what, a,
               json_array_size(ra), b, json_array_size(ga), n);
        free(a), free(b);
    }
    CHECK(ok);
}

static void test_members_rest_equals_graphql(void) {
    static const char *const sorts[][2] = {
        {"name", "NAME"},
        {"-name", "NAME_DESC"},
        {"created_at", "CREATED_AT"},
        {"-created_at", "CREATED_AT_DESC"},
        {"member_number", "MEMBER_NUMBER"},
        {"expires_on", "EXPIRES_ON"},
        {"", ""}, /* none: created_at, with q the match order (docs/member.md) */
    };
    static const char *const qs[] = {NULL, "dupont", "anne", "same"};
    static const int want_q[] = {0, 2, 3, 3};
    for (size_t s = 0; s < sizeof sorts / sizeof sorts[0]; s++)
        for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++)
            for (int limit = 1; limit <= 3; limit += 2) {
                char path[512];
                snprintf(path, sizeof path, "/api/v1/members?club_id=%s%s%s%s%s&limit=%d", g_club,
                         sorts[s][0][0] ? "&sort=" : "", sorts[s][0], qs[k] ? "&q=" : "",
                         qs[k] ? qs[k] : "", limit);
                json_t *ra = json_array(), *rc = json_array(), *ga = json_array(),
                       *gc = json_array();
                rest_pages(path, ra, rc);
                json_t *vars = json_pack("{s:s, s:i}", "club", g_club, "first", limit);
                if (sorts[s][1][0]) json_object_set_new(vars, "sort", json_string(sorts[s][1]));
                if (qs[k]) json_object_set_new(vars, "q", json_string(qs[k]));
                gql_pages("query Q($club: ID, $after: String, $sort: MemberSort, $first: Int, "
                          "$q: String) { members(clubId: $club, first: $first, after: $after, "
                          "sort: $sort, q: $q) { edges { cursor node { id } } pageInfo { "
                          "hasNextPage endCursor } } }",
                          "members", vars, ga, gc);
                json_decref(vars);
                char what[128];
                snprintf(what, sizeof what, "members sort=%s q=%s limit=%d", sorts[s][0],
                         qs[k] ? qs[k] : "", limit);
                same_list(what, ra, rc, ga, gc, qs[k] ? want_q[k] : g_members);
                json_decref(ra), json_decref(rc), json_decref(ga), json_decref(gc);
            }
}

/* Every edge cursor continues the list right after its item, over either API. */
static void test_member_cursor_continues(void) {
    char path[2048];
    snprintf(path, sizeof path, "/api/v1/members?club_id=%s&sort=name&limit=100", g_club);
    e2e_resp_t r;
    REQUIRE(req("GET", path, NULL, &r) == 0);
    json_t *items = json_incref(json_object_get(r.json, "items"));
    json_t *cs = json_incref(json_object_get(r.json, "cursors"));
    e2e_resp_free(&r);
    CHECK_EQ_INT(json_array_size(items), g_members);
    for (size_t i = 0; i + 1 < json_array_size(items); i++) {
        snprintf(path, sizeof path, "/api/v1/members?club_id=%s&sort=name&limit=1&after=%s", g_club,
                 json_string_value(json_array_get(cs, i)));
        REQUIRE(req("GET", path, NULL, &r) == 0);
        CHECK_STR(jstr(json_array_get(json_object_get(r.json, "items"), 0), "id"),
                  jstr(json_array_get(items, i + 1), "id"));
        e2e_resp_free(&r);
    }
    /* a cursor of one sort is refused by another: 400 naming after */
    snprintf(path, sizeof path, "/api/v1/members?club_id=%s&sort=-name&after=%s", g_club,
             json_string_value(json_array_get(cs, 0)));
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK_STR(jstr(json_object_get(r.json, "error"), "field"), "after");
    e2e_resp_free(&r);
    json_decref(items), json_decref(cs);
}

static void test_clubs_rest_equals_graphql(void) {
    for (int limit = 1; limit <= 4; limit += 3) {
        char path[256];
        snprintf(path, sizeof path, "/api/v1/clubs?country=%s&limit=%d", g_country, limit);
        json_t *ra = json_array(), *rc = json_array(), *ga = json_array(), *gc = json_array();
        rest_pages(path, ra, rc);
        json_t *vars = json_pack("{s:s, s:i}", "country", g_country, "first", limit);
        gql_pages("query Q($after: String, $country: String, $first: Int) { clubs(first: $first, "
                  "after: $after, country: $country) { edges { cursor node { id } } pageInfo { "
                  "hasNextPage endCursor } } }",
                  "clubs", vars, ga, gc);
        json_decref(vars);
        same_list("clubs", ra, rc, ga, gc, -g_clubs); /* other tests make IS clubs too */
        json_decref(ra), json_decref(rc), json_decref(ga), json_decref(gc);
    }
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

int main(void) {
    RUN(test_start);
    if (test_fails_ == 0) {
        RUN(test_members_rest_equals_graphql);
        RUN(test_member_cursor_continues);
        RUN(test_clubs_rest_equals_graphql);
    }
    RUN(test_stop);
    TEST_DONE();
}
