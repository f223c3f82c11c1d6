/* End-to-end: the real binary's /graphql endpoint. Clubs over GraphQL (club by id and slug, the
 * clubs connection page by page, createClub with userErrors on a duplicate slug), batching of
 * aliased club(id:) fields into one get_clubs_by_ids call (counted in /metrics), members
 * (createMember with dependents and userErrors, changeMemberStatus with invalid_transition and
 * cascade, updateMember, member(id:) with profile/addresses/dependents/statusHistory, the members
 * connection paged with filters and sort, homeClub/club of a list in ONE get_clubs_by_ids call),
 * `me` for a signed-in member (user, club, member, sessions) and permission errors with path and
 * extensions.code (a member reading another member, the member list without member:read, staff
 * of another club, anonymous), the GraphQL-over-HTTP rules (GET/POST, 405, 415, status codes per
 * Accept, q-values included), introspection for signed-in callers only, persisted documents,
 * graphql-http's serverAudits run by node against the live server (no MUST failure), and the
 * runtime limits (a 1 ms execution deadline, a 4000-byte response limit). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bus.h"
#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_proc;
static char g_tag[32];
static char g_id[64];
static char g_admin[4096]; /* network administrator's access token */
static char g_club_m[64], g_club_n[64], g_slug_m[96], g_slug_n[96];
static char g_primary[64], g_dep[64], g_other[64]; /* members of club M */
static const char *g_pw = "graphql member passphrase 77";
static char g_member_tok[4096]; /* a signed-in club member (test_me_and_permissions) */

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
    /* `first` out of range: refused by validation before any resolver runs (the resolvers'
     * gqlb_first check is the second line) */
    REQUIRE(post_query("{ clubs(first: 101) { edges { cursor } } }", NULL, &r) == 0);
    json_t *err = json_array_get(json_object_get(r.json, "errors"), 0);
    const char *msg = json_string_value(json_object_get(err, "message"));
    CHECK(msg && strstr(msg, "between 1 and 100"));
    CHECK(json_object_get(data_of(&r), "clubs") == NULL);
    e2e_resp_free(&r);
}

/* ---- members ---- */

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

/* data.<a>.<b> ... */
static json_t *dig(json_t *j, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(k)) : json_object_get(j, k);
    return j;
}

static int post_as(const char *bearer, const char *q, json_t *vars, e2e_resp_t *r) {
    char url[256];
    snprintf(url, sizeof url, "%s/graphql", g_proc.base);
    json_t *body = json_pack("{s:s}", "query", q);
    if (vars) json_object_set(body, "variables", vars);
    char *s = json_dumps(body, JSON_COMPACT);
    int rc = e2e_http_as(bearer, "POST", url, "application/json", s, r);
    free(s);
    json_decref(body);
    return rc;
}

static const char *const k_member_fields =
    "id clubId memberNumber category status joinedOn expiresOn homeClubId primaryMemberId "
    "relationship directoryOptIn erased profile { firstName lastName email staffNotes } "
    "addresses { home { lines city postalCode country } } createdAt updatedAt";

static void test_members(void) {
    snprintf(g_slug_m, sizeof g_slug_m, "gql-m-%s", g_tag);
    snprintf(g_slug_n, sizeof g_slug_n, "gql-n-%s", g_tag);
    create_club(g_slug_m, "GraphQL Members M", g_club_m);
    create_club(g_slug_n, "GraphQL Members N", g_club_n);
    REQUIRE(g_club_m[0] && g_club_n[0]);
    char q[2048];
    e2e_resp_t r;
    /* createMember with a dependent, home club N */
    json_t *vars = json_pack(
        "{s:{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:{s:[s], s:s, s:s, s:s}}, "
        "s:[{s:s, s:s, s:{s:s, s:s}}]}}",
        "in", "clubId", g_club_m, "category", "full", "expiresOn", "2099-12-31", "homeClubId",
        g_club_n, "profile", "firstName", "Ada", "lastName", "Lovelace", "email", "ada@example.com",
        "staffNotes", "prefers tea", "addresses", "home", "lines", "1 Analytical Row", "city",
        "London", "postalCode", "N1 1AA", "country", "gb", "dependents", "relationship", "SPOUSE",
        "category", "social", "profile", "firstName", "Wil", "lastName", "Lovelace");
    snprintf(q, sizeof q,
             "mutation M($in: CreateMemberInput!) { createMember(input: $in) { member { %s "
             "dependents { id relationship status primaryMemberId } } userErrors { field message "
             "code } } }",
             k_member_fields);
    REQUIRE(post_as(g_admin, q, vars, &r) == 0);
    json_decref(vars);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_object_get(r.json, "errors") == NULL);
    json_t *m = dig(r.json, "data.createMember.member");
    CHECK_EQ_INT(json_array_size(dig(r.json, "data.createMember.userErrors")), 0);
    snprintf(g_primary, sizeof g_primary, "%s", jstr(m, "id") ? jstr(m, "id") : "");
    snprintf(g_dep, sizeof g_dep, "%s",
             jstr(dig(m, "dependents.0"), "id") ? jstr(dig(m, "dependents.0"), "id") : "");
    CHECK_STR(jstr(m, "status"), "PENDING");
    CHECK_STR(jstr(m, "homeClubId"), g_club_n);
    CHECK_STR(jstr(dig(m, "profile"), "staffNotes"), "prefers tea");
    CHECK_STR(jstr(dig(m, "addresses.home"), "postalCode"), "N1 1AA");
    CHECK_STR(jstr(dig(m, "addresses.home"), "country"), "GB");
    CHECK_STR(jstr(dig(m, "dependents.0"), "relationship"), "SPOUSE");
    CHECK_STR(jstr(dig(m, "dependents.0"), "primaryMemberId"), g_primary);
    e2e_resp_free(&r);
    REQUIRE(g_primary[0] && g_dep[0]);

    /* userErrors: an invalid email (camelCase path), an unknown category */
    vars = json_pack("{s:{s:s, s:s, s:{s:s, s:s, s:s}}}", "in", "clubId", g_club_m, "category",
                     "full", "profile", "firstName", "Bad", "lastName", "Email", "email", "nope");
    REQUIRE(post_as(g_admin,
                    "mutation M($in: CreateMemberInput!) { createMember(input: $in) { member { "
                    "id } userErrors { field message code } } }",
                    vars, &r) == 0);
    json_decref(vars);
    CHECK(json_is_null(dig(r.json, "data.createMember.member")));
    CHECK_STR(jstr(dig(r.json, "data.createMember.userErrors.0"), "field"), "profile.email");
    CHECK_STR(jstr(dig(r.json, "data.createMember.userErrors.0"), "code"), "invalid_field");
    e2e_resp_free(&r);

    /* a second member of club M, not linked to anybody */
    vars = json_pack("{s:{s:s, s:s, s:s, s:{s:s, s:s}}}", "in", "clubId", g_club_m, "category",
                     "senior", "status", "ACTIVE", "profile", "firstName", "Charles", "lastName",
                     "Babbage");
    REQUIRE(post_as(g_admin,
                    "mutation M($in: CreateMemberInput!) { createMember(input: $in) { member { "
                    "id status } userErrors { code } } }",
                    vars, &r) == 0);
    json_decref(vars);
    CHECK_STR(jstr(dig(r.json, "data.createMember.member"), "status"), "ACTIVE");
    snprintf(g_other, sizeof g_other, "%s",
             jstr(dig(r.json, "data.createMember.member"), "id")
                 ? jstr(dig(r.json, "data.createMember.member"), "id")
                 : "");
    e2e_resp_free(&r);

    /* transitions: rejected (typed userError naming the allowed ones), then allowed + cascade */
    snprintf(q, sizeof q,
             "mutation { bad: changeMemberStatus(input: {id: \"%s\", clubId: \"%s\", status: "
             "SUSPENDED}) { member { id } changes { memberId } userErrors { field message code } } "
             "ok: changeMemberStatus(input: {id: \"%s\", clubId: \"%s\", status: ACTIVE, reason: "
             "\"paid\"}) { member { status } changes { memberId from to cascadeOf } userErrors { "
             "code } } }",
             g_primary, g_club_m, g_primary, g_club_m);
    REQUIRE(post_as(g_admin, q, NULL, &r) == 0);
    CHECK(json_object_get(r.json, "errors") == NULL);
    json_t *ue = dig(r.json, "data.bad.userErrors.0");
    CHECK_STR(jstr(ue, "code"), "invalid_transition");
    CHECK_STR(jstr(ue, "field"), "status");
    CHECK(jstr(ue, "message") && strstr(jstr(ue, "message"), "allowed: active, deceased"));
    CHECK(json_is_null(dig(r.json, "data.bad.member")));
    CHECK_STR(jstr(dig(r.json, "data.ok.member"), "status"), "ACTIVE");
    CHECK_EQ_INT(json_array_size(dig(r.json, "data.ok.changes")), 2);
    CHECK_STR(jstr(dig(r.json, "data.ok.changes.0"), "from"), "PENDING");
    CHECK_STR(jstr(dig(r.json, "data.ok.changes.1"), "cascadeOf"), g_primary);
    e2e_resp_free(&r);

    /* updateMember: a patch; null clears */
    snprintf(q, sizeof q,
             "mutation { updateMember(input: {id: \"%s\", clubId: \"%s\", profile: {preferredName: "
             "\"Countess\"}, expiresOn: null}) { member { expiresOn profile { preferredName } } "
             "userErrors { field code } } }",
             g_primary, g_club_m);
    REQUIRE(post_as(g_admin, q, NULL, &r) == 0);
    CHECK_STR(jstr(dig(r.json, "data.updateMember.member.profile"), "preferredName"), "Countess");
    CHECK(json_is_null(dig(r.json, "data.updateMember.member.expiresOn")));
    e2e_resp_free(&r);

    /* addDependent */
    snprintf(q, sizeof q,
             "mutation { addDependent(input: {primaryMemberId: \"%s\", clubId: \"%s\", "
             "relationship: CHILD, category: \"junior\", profile: {firstName: \"Ada\", lastName: "
             "\"King\"}}) { member { id relationship primaryMemberId status } userErrors { code } "
             "} }",
             g_primary, g_club_m);
    REQUIRE(post_as(g_admin, q, NULL, &r) == 0);
    CHECK_STR(jstr(dig(r.json, "data.addDependent.member"), "relationship"), "CHILD");
    CHECK_STR(jstr(dig(r.json, "data.addDependent.member"), "primaryMemberId"), g_primary);
    e2e_resp_free(&r);

    /* member(id:) with the fields that need calls */
    snprintf(q, sizeof q,
             "{ member(id: \"%s\", clubId: \"%s\") { id status homeClub { slug } club { slug } "
             "dependents { relationship } statusHistory { from to reason changedAt } } }",
             g_primary, g_club_m);
    REQUIRE(post_as(g_admin, q, NULL, &r) == 0);
    CHECK(json_object_get(r.json, "errors") == NULL);
    m = dig(r.json, "data.member");
    CHECK_STR(jstr(dig(m, "homeClub"), "slug"), g_slug_n);
    CHECK_STR(jstr(dig(m, "club"), "slug"), g_slug_m);
    CHECK_EQ_INT(json_array_size(dig(m, "dependents")), 2);
    CHECK_EQ_INT(json_array_size(dig(m, "statusHistory")), 2);
    CHECK_STR(jstr(dig(m, "statusHistory.1"), "reason"), "paid");
    CHECK_STR(jstr(dig(m, "statusHistory.1"), "to"), "ACTIVE");
    e2e_resp_free(&r);
}

static void test_members_connection(void) {
    char q[1024];
    e2e_resp_t r;
    /* paged one by one, sorted by name, text search */
    char after[512] = "";
    int pages = 0, seen = 0;
    for (;;) {
        json_t *vars = json_pack("{s:s}", "club", g_club_m);
        if (after[0]) json_object_set_new(vars, "after", json_string(after));
        REQUIRE(post_as(g_admin,
                        "query Q($club: ID, $after: String) { members(clubId: $club, first: 1, "
                        "after: $after, q: \"love\", sort: NAME_DESC) { edges { cursor node { id "
                        "profile { firstName } } } pageInfo { hasNextPage endCursor } } }",
                        vars, &r) == 0);
        json_decref(vars);
        CHECK(json_object_get(r.json, "errors") == NULL);
        json_t *edges = dig(r.json, "data.members.edges");
        CHECK(json_array_size(edges) <= 1);
        seen += (int)json_array_size(edges);
        json_t *pi = dig(r.json, "data.members.pageInfo");
        int more = json_is_true(json_object_get(pi, "hasNextPage"));
        if (more) snprintf(after, sizeof after, "%s", jstr(pi, "endCursor"));
        pages++;
        e2e_resp_free(&r);
        if (!more || pages > 10) break;
    }
    CHECK_EQ_INT(seen, 2); /* Ada and Wil Lovelace */
    json_t *cv = json_pack("{s:s}", "club", g_club_m);
    /* every edge's cursor continues the list after that edge (same as REST next_cursor) */
    REQUIRE(post_as(g_admin,
                    "query Q($club: ID) { members(clubId: $club, first: 3, sort: NAME) { edges { "
                    "cursor node { id } } } }",
                    cv, &r) == 0);
    json_t *e0 = json_incref(dig(r.json, "data.members.edges"));
    e2e_resp_free(&r);
    CHECK_EQ_INT(json_array_size(e0), 3);
    json_t *vars = json_pack(
        "{s:s, s:s}", "club", g_club_m, "after",
        jstr(json_array_get(e0, 0), "cursor") ? jstr(json_array_get(e0, 0), "cursor") : "");
    REQUIRE(post_as(g_admin,
                    "query Q($club: ID, $after: String) { members(clubId: $club, first: 1, "
                    "after: $after, sort: NAME) { edges { node { id } } } }",
                    vars, &r) == 0);
    json_decref(vars);
    CHECK_STR(jstr(dig(r.json, "data.members.edges.0.node"), "id"),
              jstr(dig(json_array_get(e0, 1), "node"), "id"));
    e2e_resp_free(&r);
    json_decref(e0);
    /* filters: status, category; expiresAfter as a Date */
    REQUIRE(post_as(g_admin,
                    "query Q($club: ID) { members(clubId: $club, status: ACTIVE, category: "
                    "\"senior\") { edges { node { id } } } }",
                    cv, &r) == 0);
    CHECK_EQ_INT(json_array_size(dig(r.json, "data.members.edges")), 1);
    CHECK_STR(jstr(dig(r.json, "data.members.edges.0.node"), "id"), g_other);
    e2e_resp_free(&r);
    json_decref(cv);
    /* homeClub and club of a whole list: ONE get_clubs_by_ids call, no get_club */
    double batch0 = metric("get_clubs_by_ids"), single0 = metric("get_club");
    snprintf(q, sizeof q,
             "{ members(clubId: \"%s\", first: 10) { edges { node { club { slug } homeClub { "
             "slug } } } } }",
             g_club_m);
    REQUIRE(post_as(g_admin, q, NULL, &r) == 0);
    json_t *edges = dig(r.json, "data.members.edges");
    CHECK(json_array_size(edges) >= 4);
    int n_home = 0;
    size_t i;
    json_t *ed;
    json_array_foreach(edges, i, ed) {
        CHECK_STR(jstr(dig(ed, "node.club"), "slug"), g_slug_m);
        if (jstr(dig(ed, "node.homeClub"), "slug") &&
            strcmp(jstr(dig(ed, "node.homeClub"), "slug"), g_slug_n) == 0)
            n_home++;
    }
    CHECK_EQ_INT(n_home, 1);
    e2e_resp_free(&r);
    double batch1 = metric("get_clubs_by_ids"), single1 = metric("get_club");
    if (batch1 != batch0 + 1 || single1 != single0)
        printf("#   get_clubs_by_ids %g -> %g, get_club %g -> %g\n", batch0, batch1, single0,
               single1);
    CHECK(batch1 == batch0 + 1);
    CHECK(single1 == single0);

    /* dependents and statusHistory of a whole list: ONE member_relations_by_ids call */
    double rel0 = metric("member_relations_by_ids"), deps0 = metric("list_dependents"),
           hist0 = metric("member_status_history");
    snprintf(q, sizeof q,
             "{ members(clubId: \"%s\", first: 10) { edges { node { id dependents { id } "
             "statusHistory { to } } } } }",
             g_club_m);
    REQUIRE(post_as(g_admin, q, NULL, &r) == 0);
    CHECK(json_is_null(json_object_get(r.json, "errors")) || !json_object_get(r.json, "errors"));
    edges = dig(r.json, "data.members.edges");
    CHECK(json_array_size(edges) >= 4);
    int with_history = 0;
    json_array_foreach(edges, i, ed) {
        CHECK(json_is_array(dig(ed, "node.dependents")));
        if (json_array_size(dig(ed, "node.statusHistory")) > 0) with_history++;
    }
    CHECK(with_history >= 1);
    e2e_resp_free(&r);
    double rel1 = metric("member_relations_by_ids"), deps1 = metric("list_dependents"),
           hist1 = metric("member_status_history");
    if (rel1 != rel0 + 1 || deps1 != deps0 || hist1 != hist0)
        printf("#   member_relations_by_ids %g -> %g, list_dependents %g -> %g, "
               "member_status_history %g -> %g\n",
               rel0, rel1, deps0, deps1, hist0, hist1);
    CHECK(rel1 == rel0 + 1);
    CHECK(deps1 == deps0);
    CHECK(hist1 == hist0);
}

/* ---- me and permissions ---- */

/* Invites email into club with role (as the network administrator), registers it from the
 * token of its auth.invite_created event (e2e_event_token) and signs in: the access token into
 * token (4096). */
static int club_user(const char *club_id, const char *slug, const char *email, const char *role,
                     char *token) {
    char url[256], body[512];
    e2e_resp_t r;
    snprintf(url, sizeof url, "%s/api/v1/auth/invites", g_proc.base);
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"role\":\"%s\",\"club_id\":\"%s\"}", email,
             role, club_id);
    if (e2e_http_as(g_admin, "POST", url, "application/json", body, &r) != 0 || r.status != 201) {
        printf("#   invite: %ld %s\n", r.status, r.body ? r.body : "");
        e2e_resp_free(&r);
        return -1;
    }
    e2e_resp_free(&r);
    char tok[128];
    if (e2e_event_token("auth.invite_created", email, 20, tok, sizeof tok) != 0) return -1;
    snprintf(url, sizeof url, "%s/api/v1/auth/register", g_proc.base);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", tok, g_pw);
    if (e2e_http_as(NULL, "POST", url, "application/json", body, &r) != 0 || r.status != 200) {
        printf("#   register: %ld %s\n", r.status, r.body ? r.body : "");
        e2e_resp_free(&r);
        return -1;
    }
    e2e_resp_free(&r);
    snprintf(url, sizeof url, "%s/api/v1/auth/login", g_proc.base);
    snprintf(body, sizeof body, "{\"club\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}", slug,
             email, g_pw);
    int ok = e2e_http_as(NULL, "POST", url, "application/json", body, &r) == 0 && r.status == 200 &&
             jstr(r.json, "access_token");
    if (ok)
        snprintf(token, 4096, "%s", jstr(r.json, "access_token"));
    else
        printf("#   login: %ld %s\n", r.status, r.body ? r.body : "");
    e2e_resp_free(&r);
    return ok ? 0 : -1;
}

static void check_error(const e2e_resp_t *r, const char *path0, const char *code) {
    json_t *err = dig(r->json, "errors.0");
    CHECK(err != NULL);
    CHECK_STR(json_string_value(dig(err, "path.0")), path0);
    CHECK_STR(jstr(json_object_get(err, "extensions"), "code"), code);
    CHECK(json_array_size(json_object_get(err, "locations")) == 1);
}

static void test_me_and_permissions(void) {
    static char member_tok[4096], staff_tok[4096];
    char email[128], q[1024];
    e2e_resp_t r;
    snprintf(email, sizeof email, "gql-member-%s@example.test", g_tag);
    REQUIRE(club_user(g_club_m, g_slug_m, email, "member", member_tok) == 0);
    snprintf(g_member_tok, sizeof g_member_tok, "%s", member_tok);
    snprintf(email, sizeof email, "gql-staff-%s@example.test", g_tag);
    REQUIRE(club_user(g_club_n, g_slug_n, email, "club_staff", staff_tok) == 0);

    /* me before the account is linked to a member record: member null, no error */
    REQUIRE(post_as(member_tok,
                    "{ me { user { id email roles permissions clubId } club { slug } member { id "
                    "} sessions { current mfa } } }",
                    NULL, &r) == 0);
    CHECK(json_object_get(r.json, "errors") == NULL);
    json_t *me = dig(r.json, "data.me");
    char uid[64];
    snprintf(uid, sizeof uid, "%s", jstr(dig(me, "user"), "id") ? jstr(dig(me, "user"), "id") : "");
    CHECK_STR(json_string_value(dig(me, "user.roles.0")), "member");
    CHECK_STR(jstr(dig(me, "user"), "clubId"), g_club_m);
    CHECK_STR(jstr(dig(me, "club"), "slug"), g_slug_m);
    CHECK(json_is_null(dig(me, "member")));
    CHECK(json_is_true(dig(me, "sessions.0.current")));
    json_t *perms = dig(me, "user.permissions");
    CHECK(json_array_size(perms) >= 1);
    e2e_resp_free(&r);
    REQUIRE(uid[0]);

    /* staff links the account to the primary member */
    snprintf(q, sizeof q,
             "mutation { updateMember(input: {id: \"%s\", clubId: \"%s\", authUserId: \"%s\"}) { "
             "member { authUserId } userErrors { field code } } }",
             g_primary, g_club_m, uid);
    REQUIRE(post_as(g_admin, q, NULL, &r) == 0);
    CHECK_STR(jstr(dig(r.json, "data.updateMember.member"), "authUserId"), uid);
    e2e_resp_free(&r);

    /* me { member }: own record; staff notes hidden from the member */
    REQUIRE(post_as(member_tok, "{ me { member { id profile { firstName staffNotes } } } }", NULL,
                    &r) == 0);
    CHECK(json_object_get(r.json, "errors") == NULL);
    CHECK_STR(jstr(dig(r.json, "data.me.member"), "id"), g_primary);
    CHECK(json_is_null(dig(r.json, "data.me.member.profile.staffNotes")));
    e2e_resp_free(&r);

    /* own record yes; another member of the same club: null + not_found with path */
    snprintf(q, sizeof q,
             "{ mine: member(id: \"%s\") { id } theirs: member(id: \"%s\") { id profile { "
             "firstName } } }",
             g_primary, g_other);
    REQUIRE(post_as(member_tok, q, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(dig(r.json, "data.mine"), "id"), g_primary);
    CHECK(json_is_null(dig(r.json, "data.theirs")));
    check_error(&r, "theirs", "not_found");
    e2e_resp_free(&r);

    /* the list needs member:read: forbidden; members is non-null, so data is null */
    REQUIRE(post_as(member_tok, "{ members(first: 5) { edges { node { id } } } }", NULL, &r) == 0);
    CHECK(json_is_null(json_object_get(r.json, "data")));
    check_error(&r, "members", "forbidden");
    e2e_resp_free(&r);

    /* a member may not change their own category (a 403 is an error, not a userError) */
    snprintf(q, sizeof q,
             "mutation { updateMember(input: {id: \"%s\", category: \"honorary\"}) { member { id "
             "} userErrors { code } } }",
             g_primary);
    REQUIRE(post_as(member_tok, q, NULL, &r) == 0);
    check_error(&r, "updateMember", "forbidden");
    e2e_resp_free(&r);

    /* staff of club N: club M's member is invisible (RLS) or forbidden (naming club M) */
    snprintf(q, sizeof q,
             "{ a: member(id: \"%s\") { id } b: member(id: \"%s\", clubId: \"%s\") { id } }",
             g_primary, g_primary, g_club_m);
    REQUIRE(post_as(staff_tok, q, NULL, &r) == 0);
    CHECK(json_is_null(dig(r.json, "data.a")) && json_is_null(dig(r.json, "data.b")));
    CHECK_STR(json_string_value(dig(r.json, "errors.0.path.0")), "a");
    CHECK_STR(jstr(dig(r.json, "errors.0.extensions"), "code"), "not_found");
    CHECK_STR(json_string_value(dig(r.json, "errors.1.path.0")), "b");
    CHECK_STR(jstr(dig(r.json, "errors.1.extensions"), "code"), "forbidden");
    CHECK(strstr(r.body, "Lovelace") == NULL);
    e2e_resp_free(&r);

    /* anonymous: me is null; a member read fails with the code REST answers */
    char url[512], code[64];
    snprintf(url, sizeof url, "%s/api/v1/members/%s?club_id=%s", g_proc.base, g_primary, g_club_m);
    REQUIRE(e2e_http_as("", "GET", url, NULL, NULL, &r) == 0);
    CHECK(r.status == 401 || r.status == 403);
    snprintf(code, sizeof code, "%s",
             jstr(json_object_get(r.json, "error"), "code")
                 ? jstr(json_object_get(r.json, "error"), "code")
                 : "?");
    e2e_resp_free(&r);
    snprintf(q, sizeof q, "{ me { user { id } } member(id: \"%s\", clubId: \"%s\") { id } }",
             g_primary, g_club_m);
    REQUIRE(post_as("", q, NULL, &r) == 0);
    CHECK(json_is_null(dig(r.json, "data.me")));
    CHECK(json_is_null(dig(r.json, "data.member")));
    check_error(&r, "member", code);
    e2e_resp_free(&r);
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

/* Introspection is for signed-in callers by default (RECIPROCAL_GRAPHQL_INTROSPECTION=signed_in):
 * anonymous __schema / __type is a request error (no data; 400 with graphql-response+json),
 * a club member and a network administrator get the answer; __typename stays open. */
static void test_introspection_signed_in_only(void) {
    char url[256], ct[128];
    snprintf(url, sizeof url, "%s/graphql", g_proc.base);
    e2e_resp_t r;
    static const char *const docs[] = {
        "{ __schema { queryType { name } } }", "{ __type(name: \"Club\") { name } }",
        "query { ...F } fragment F on Query { __schema { queryType { name } } }"};
    for (size_t i = 0; i < 3; i++) {
        REQUIRE(post_as("", docs[i], NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK(json_object_get(r.json, "data") == NULL);
        CHECK_STR(json_string_value(dig(r.json, "errors.0.extensions.code")), "unauthenticated");
        e2e_resp_free(&r);
    }
    e2e_set_extra_header("Accept: application/graphql-response+json");
    REQUIRE(post_as("", docs[0], NULL, &r) == 0);
    e2e_set_extra_header(NULL);
    CHECK_EQ_INT(r.status, 400);
    e2e_resp_free(&r);
    REQUIRE(post_as("", "{ __typename }", NULL, &r) == 0);
    CHECK_STR(json_string_value(dig(r.json, "data.__typename")), "Query");
    e2e_resp_free(&r);
    const char *const tokens[] = {g_member_tok, g_admin};
    for (size_t i = 0; i < 2; i++) {
        REQUIRE(tokens[i][0] != 0);
        REQUIRE(post_as(tokens[i], docs[0], NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK(json_object_get(r.json, "errors") == NULL);
        CHECK_STR(json_string_value(dig(r.json, "data.__schema.queryType.name")), "Query");
        CHECK(e2e_header(&r, "Content-Type", ct, sizeof ct) && strstr(ct, "application/json"));
        e2e_resp_free(&r);
    }
}

/* Accept negotiation honours q-values (RFC 9110 12.5.1), q=0 included. */
static void test_accept_q_values(void) {
    static const struct {
        const char *accept;
        int status;
        const char *media; /* expected Content-Type prefix */
    } cases[] = {
        {"application/graphql-response+json", 200, "application/graphql-response+json"},
        {"application/graphql-response+json;q=0, application/json", 200, "application/json"},
        {"application/json;q=0.5, application/graphql-response+json", 200,
         "application/graphql-response+json"},
        {"application/json, application/graphql-response+json;q=0.9", 200, "application/json"},
        {"application/graphql-response+json;q=0.8, application/json;q=0.9", 200,
         "application/json"},
        {"*/*;q=0.1, application/graphql-response+json;q=0", 200, "application/json"},
        {"application/*;q=0.2, application/graphql-response+json;q=0.5", 200,
         "application/graphql-response+json"},
        {"*/*", 200, "application/json"},
        {"application/json;q=0", 406, "application/json"},
        {"text/html", 406, "application/json"},
    };
    e2e_resp_t r;
    char ct[128], header[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(header, sizeof header, "Accept: %s", cases[i].accept);
        e2e_set_extra_header(header);
        int rc = post_as("", "{ __typename }", NULL, &r);
        e2e_set_extra_header(NULL);
        REQUIRE(rc == 0);
        if (r.status != cases[i].status) fprintf(stdout, "#   Accept: %s\n", cases[i].accept);
        CHECK_EQ_INT(r.status, cases[i].status);
        CHECK(e2e_header(&r, "Content-Type", ct, sizeof ct) &&
              strncmp(ct, cases[i].media, strlen(cases[i].media)) == 0);
        if (cases[i].status == 200)
            CHECK_STR(json_string_value(dig(r.json, "data.__typename")), "Query");
        else
            CHECK(json_array_size(json_object_get(r.json, "errors")) == 1);
        e2e_resp_free(&r);
    }
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
    char marker[1024], cmd[8192];
    snprintf(marker, sizeof marker, "%s/build/oracle-exec/node_modules/graphql-http/package.json",
             root);
    struct stat st;
    if (stat(marker, &st) != 0) {
        snprintf(cmd, sizeof cmd,
                 "set -e; d='%s/build/oracle-exec'; mkdir -p \"$d\"; cp '%s/tests/lib/graphql/"
                 "oracle-exec/package.json' '%s/tests/lib/graphql/oracle-exec/package-lock.json' "
                 "\"$d\"/; npm ci --prefix \"$d\" --no-audit --no-fund --silent >&2",
                 root, root, root);
        REQUIRE(system(cmd) == 0);
    }
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && RECIPROCAL_AUDIT_BEARER='%s' NODE_PATH='%s/build/oracle-exec/node_modules' "
        "node tests/lib/graphql/oracle-exec/audit.js %s/graphql > "
        "'%s/build/oracle-exec/audit.txt' 2>&1",
        root, g_admin, root, g_proc.base, root);
    int rc = system(cmd);
    snprintf(marker, sizeof marker, "%s/build/oracle-exec/audit.txt", root);
    FILE *f = fopen(marker, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "ok ", 3) != 0) fprintf(stdout, "# audit: %s", line);
    if (f) fclose(f);
    CHECK_EQ_INT(rc, 0);
}

static void test_start(void) {
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, NULL) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    snprintf(g_admin, sizeof g_admin, "%s", e2e_bearer());
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

/* A small configured execution deadline on the real server (RECIPROCAL_GRAPHQL_TIMEOUT_MS=1):
 * 100 aliases of `me` (each a call to the auth service) overrun 1 ms, so the later fields are
 * null and one deadline_exceeded error names the first field cut. */
static void test_deadline_configured(void) {
    const char *env[] = {"RECIPROCAL_GRAPHQL_TIMEOUT_MS=1", NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    char *q = malloc(100 * 40 + 8);
    REQUIRE(q != NULL);
    size_t n = 0;
    q[n++] = '{';
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(q + n, " h%d: me { user { id } }", i);
    q[n++] = '}';
    q[n] = 0;
    e2e_resp_t r;
    REQUIRE(post_as(e2e_bearer(), q, NULL, &r) == 0);
    free(q);
    CHECK_EQ_INT(r.status, 200);
    json_t *errors = json_object_get(r.json, "errors");
    CHECK_EQ_INT(json_array_size(errors), 1);
    CHECK_STR(json_string_value(dig(r.json, "errors.0.extensions.code")), "deadline_exceeded");
    const char *cut = json_string_value(dig(r.json, "errors.0.path.0"));
    CHECK(cut != NULL && cut[0] == 'h');
    CHECK(json_array_size(dig(r.json, "errors.0.locations")) == 1);
    json_t *data = json_object_get(r.json, "data");
    CHECK(cut && json_is_null(json_object_get(data, cut)));
    CHECK(json_is_null(json_object_get(data, "h99")));
    CHECK_EQ_INT(json_object_size(data), 100);
    e2e_resp_free(&r);
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

/* A small configured response-size limit (RECIPROCAL_GRAPHQL_MAX_RESPONSE_BYTES=4000):
 * introspection larger than that is data null with one response_too_large error and a small
 * body; a small answer passes. */
static void test_response_limit_configured(void) {
    const char *env[] = {"RECIPROCAL_GRAPHQL_MAX_RESPONSE_BYTES=4000", NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    e2e_resp_t r;
    REQUIRE(post_as(e2e_bearer(), "{ __schema { types { name fields { name } } } }", NULL, &r) ==
            0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_is_null(json_object_get(r.json, "data")));
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "errors")), 1);
    CHECK_STR(json_string_value(dig(r.json, "errors.0.extensions.code")), "response_too_large");
    CHECK(strstr(r.body, "4000 bytes") != NULL);
    CHECK(strlen(r.body) < 1000);
    e2e_resp_free(&r);
    REQUIRE(post_as(e2e_bearer(), "{ __type(name: \"Club\") { name } }", NULL, &r) == 0);
    CHECK(json_object_get(r.json, "errors") == NULL);
    CHECK_STR(json_string_value(dig(r.json, "data.__type.name")), "Club");
    e2e_resp_free(&r);
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

/* RECIPROCAL_GRAPHQL_REQUIRE_PERSISTED_MUTATIONS=1: inline mutations are refused, registered
 * ones run, queries are unaffected. */
static void test_require_persisted_mutations(void) {
    const char *env[] = {"RECIPROCAL_GRAPHQL_REQUIRE_PERSISTED_MUTATIONS=1", NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    char slug[64], doc[512], body[1024], url[256];
    snprintf(slug, sizeof slug, "persisted-%s", g_tag);
    snprintf(doc, sizeof doc,
             "mutation { createClub(input: {name: \"Persisted\", slug: \"%s\", timezone: "
             "\"UTC\", address: {country: \"GB\"}}) { club { slug } userErrors { field } } }",
             slug);
    json_t *b = json_pack("{s:s}", "query", doc);
    char *inline_body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    e2e_resp_t r;
    REQUIRE(gql(NULL, inline_body, &r) == 0);
    free(inline_body);
    CHECK(json_array_size(json_object_get(r.json, "errors")) == 1);
    CHECK(json_object_get(data_of(&r), "createClub") == NULL);
    e2e_resp_free(&r);
    REQUIRE(gql(NULL, "{\"query\":\"{ health { status } }\"}", &r) == 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(data_of(&r), "health"), "status")),
              "ready");
    e2e_resp_free(&r);
    snprintf(url, sizeof url, "%s/api/v1/graphql/documents", g_proc.base);
    b = json_pack("{s:s, s:s}", "document", doc, "name", "create-club");
    char *reg = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    REQUIRE(e2e_http("POST", url, "application/json", reg, &r) == 0);
    free(reg);
    CHECK_EQ_INT(r.status, 201);
    snprintf(body, sizeof body, "{\"documentId\":\"%s\"}",
             json_string_value(json_object_get(r.json, "id"))
                 ? json_string_value(json_object_get(r.json, "id"))
                 : "");
    e2e_resp_free(&r);
    REQUIRE(gql(NULL, body, &r) == 0);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_object_get(data_of(&r), "createClub"), "club"), "slug")),
              slug);
    e2e_resp_free(&r);
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

int main(void) {
    snprintf(g_tag, sizeof g_tag, "%d", (int)getpid());
    RUN(test_start);
    if (test_fails_ == 0) {
        RUN(test_create_and_read);
        RUN(test_batching);
        RUN(test_connection);
        RUN(test_members);
        RUN(test_members_connection);
        RUN(test_me_and_permissions);
        RUN(test_http_rules);
        RUN(test_introspection_signed_in_only);
        RUN(test_accept_q_values);
        RUN(test_persisted);
        RUN(test_audit);
        RUN(test_stop);
        RUN(test_require_persisted_mutations);
        RUN(test_deadline_configured);
        RUN(test_response_limit_configured);
    }
    TEST_DONE();
}
