/* End-to-end: visits over GraphQL, like a client. Clubs A (home) and B (host) under an active
 * agreement, D (no party); an administrator of each, a member of A signed in.
 *   - the contract: Query.visit / Query.visits and one mutation per transition plus verifyLoi
 *     are in the served schema (introspection);
 *   - the flow: requestVisit (the network administrator for A, clock injected), a refused
 *     request as a userError with the rule's code and field, approve by the host is a field
 *     error with its path and extensions.code forbidden, confirm before approval a userError
 *     invalid_transition, approve (the letter), confirm, verifyLoi, checkInVisit, checkOutVisit,
 *     decline (reason), cancel, revoke;
 *   - reading: visit(id) with history, the connection with filters (side, status, from, to,
 *     memberId) and paging; Visit.member, homeClub and hostClub of a page loaded in ONE
 *     member_relations_by_ids and ONE get_clubs_by_ids call (metrics); the host sees the visit
 *     but not the member (null); the member sees only their own; club D sees nothing and gets
 *     not_found with the path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"
#include "test.h"

#define AS_OF "2030-01-01T00:00:00Z" /* a Tuesday */

static e2e_proc_t g_proc;
static char g_club[3][64], g_slug[3][64], g_admin[3][4096], g_member_tok[4096];
static char g_m1[64], g_m2[64], g_m1_user[64], g_v1[64];
static const char g_pw[] = "Marmalade-Harbour-77";

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

/* The value at a dotted path ("a.b.0.c"; numbers index arrays). */
static json_t *dig(json_t *j, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = strtok(buf, "."); s && j; s = strtok(NULL, "."))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(s)) : json_object_get(j, s);
    return j;
}
static const char *dstr(json_t *j, const char *path) {
    return json_string_value(dig(j, path));
}

static int req(const char *as, const char *method, const char *path, const char *body,
               e2e_resp_t *r) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    return e2e_http_as(as ? as : e2e_bearer(), method, url, body ? "application/json" : NULL, body,
                       r);
}

/* POST /graphql as `as` (NULL = the network administrator): the response JSON (new
 * reference) or NULL. vars is stolen. */
static json_t *gql(const char *as, const char *q, json_t *vars) {
    json_t *body = json_pack("{s:s}", "query", q);
    if (vars) json_object_set_new(body, "variables", vars);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    e2e_resp_t r;
    int rc = req(as, "POST", "/graphql", s, &r);
    free(s);
    if (rc != 0) return NULL;
    json_t *out = json_incref(r.json);
    if (r.status != 200) printf("#   graphql %ld: %s\n", r.status, r.body);
    e2e_resp_free(&r);
    return out;
}

static double metric(const char *op) {
    char url[256], needle[128];
    snprintf(url, sizeof url, "%s/metrics", g_proc.base);
    snprintf(needle, sizeof needle, "graphql_operation_calls_total{operation=\"%s\"} ", op);
    e2e_resp_t r;
    if (e2e_http("GET", url, NULL, NULL, &r) != 0) return -1;
    const char *p = r.body ? strstr(r.body, needle) : NULL;
    double v = p ? atof(p + strlen(needle)) : 0;
    e2e_resp_free(&r);
    return v;
}

/* An active account of club with role, signed in (e2e_account). */
static int account(int club, const char *role, char *uid, char *tok) {
    char email[128];
    snprintf(email, sizeof email, "vgql-%s-%d-%d@example.test", role, club, (int)getpid());
    return e2e_account(&g_proc, g_club[club], g_slug[club], email, role, g_pw, uid, tok);
}

/* An active member of club A (linked user or NULL). */
static int member(const char *user, char id[64]) {
    return e2e_member(&g_proc, g_club[0], "full", user, 1, "Gra", "Phql", id);
}

static void test_start(void) {
    static const char *const env[] = {
        "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    srand((unsigned)getpid());
    for (int i = 0; i < 3; i++) {
        char name[16], uid[64];
        snprintf(g_slug[i], sizeof g_slug[i], "vgql-%c-%d", 'a' + i, (int)getpid());
        snprintf(name, sizeof name, "GQL Club %c", 'A' + i);
        REQUIRE(e2e_club(&g_proc, name, g_slug[i],
                         "\"timezone\":\"Europe/London\",\"address\":{\"country\":\"GB\"},"
                         "\"facilities\":[\"dining\",\"rooms\"]",
                         g_club[i]) == 0);
        REQUIRE(account(i, "club_admin", uid, g_admin[i]) == 0);
    }
    REQUIRE(account(0, "member", g_m1_user, g_member_tok) == 0);
    REQUIRE(member(g_m1_user, g_m1) == 0);
    REQUIRE(member(NULL, g_m2) == 0);
    /* the agreement A-B over GraphQL: proposed by A, accepted by B */
    char today[16];
    time_t t = time(NULL);
    strftime(today, sizeof today, "%Y-%m-%d", gmtime(&t));
    json_t *res = gql(g_admin[0],
                      "mutation($i: ProposeAgreementInput!) { proposeAgreement(input: $i) { "
                      "agreement { id } userErrors { code } } }",
                      json_pack("{s:{s:[s,s], s:s, s:[{s:s, s:i, s:[s]}]}}", "i", "clubs",
                                g_club[0], g_club[1], "startsOn", today, "terms", "hostClubId",
                                g_club[1], "maxGuests", 1, "allowedFacilities", "dining"));
    const char *ag = dstr(res, "data.proposeAgreement.agreement.id");
    REQUIRE(ag != NULL);
    json_t *r2 = gql(g_admin[1],
                     "mutation($i: AgreementTransitionInput!) { acceptAgreement(input: $i) { "
                     "agreement { status } } }",
                     json_pack("{s:{s:s}}", "i", "id", ag));
    CHECK_STR(dstr(r2, "data.acceptAgreement.agreement.status"), "ACTIVE");
    json_decref(r2);
    json_decref(res);
}

/* The served schema has every visit field and mutation (the contract, docs/schema.graphql). */
static void test_contract(void) {
    json_t *res = gql(NULL,
                      "{ q: __type(name: \"Query\") { fields { name } } m: __type(name: "
                      "\"Mutation\") { fields { name } } v: __type(name: \"Visit\") { fields { "
                      "name } } }",
                      NULL);
    static const char *const want[][2] = {
        {"q", "visit"},        {"q", "visits"},       {"q", "partners"},      {"m", "requestVisit"},
        {"m", "approveVisit"}, {"m", "confirmVisit"}, {"m", "declineVisit"},  {"m", "cancelVisit"},
        {"m", "revokeVisit"},  {"m", "checkInVisit"}, {"m", "checkOutVisit"}, {"m", "verifyLoi"},
        {"v", "member"},       {"v", "homeClub"},     {"v", "hostClub"},      {"v", "history"},
        {"v", "loi"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "data.%s.fields", want[i][0]);
        json_t *fields = dig(res, path), *f;
        size_t k;
        int found = 0;
        json_array_foreach(fields, k, f) found |= strcmp(jstr(f, "name"), want[i][1]) == 0;
        if (!found) printf("#   missing %s.%s\n", want[i][0], want[i][1]);
        CHECK(found);
    }
    json_decref(res);
}

#define VISIT_FIELDS                                                                               \
    "id status memberId homeClubId hostClubId arriveOn departOn days guests facilities loi { "     \
    "token code validFrom validTo revoked qrSvg }"

/* requestVisit as the network administrator for club A at AS_OF: the payload (new ref). */
static json_t *request(const char *member_id, const char *arrive, const char *depart, int guests) {
    return gql(NULL,
               "mutation($i: RequestVisitInput!) { requestVisit(input: $i) { visit { " VISIT_FIELDS
               " } userErrors { field message code } } }",
               json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:i, s:[s], s:s}}", "i", "clubId", g_club[0],
                         "memberId", member_id, "hostClubId", g_club[1], "arriveOn", arrive,
                         "departOn", depart, "guests", guests, "facilities", "dining", "asOf",
                         AS_OF));
}

/* A transition mutation (name, e.g. "approveVisit") on id as `as`: the response (new ref). */
static json_t *act(const char *as, const char *name, const char *id, const char *reason) {
    char q[512];
    snprintf(q, sizeof q,
             "mutation($i: VisitTransitionInput!) { %s(input: $i) { visit { " VISIT_FIELDS
             " } userErrors { field message code } } }",
             name);
    json_t *in = json_pack("{s:s}", "id", id);
    if (reason) json_object_set_new(in, "reason", json_string(reason));
    return gql(as, q, json_pack("{s:o}", "i", in));
}

static const char *status_of(json_t *res, const char *name) {
    char path[96];
    snprintf(path, sizeof path, "data.%s.visit.status", name);
    return dstr(res, path);
}
static const char *code_of(json_t *res, const char *name) {
    char path[96];
    snprintf(path, sizeof path, "data.%s.userErrors.0.code", name);
    return dstr(res, path);
}

static json_t *door(const char *name, const char *token, long long at) {
    char q[512];
    snprintf(q, sizeof q,
             strcmp(name, "verifyLoi") == 0
                 ? "mutation($i: LoiTokenInput!) { %s(input: $i) { verification { valid reason "
                   "member { name memberNumber category } facilities restrictions visit { id "
                   "status } } userErrors { field code } } }"
                 : "mutation($i: LoiTokenInput!) { %s(input: $i) { visit { id status checkedInAt "
                   "} userErrors { field code } } }",
             name);
    return gql(NULL, q, json_pack("{s:{s:s, s:I}}", "i", "token", token, "at", (json_int_t)at));
}

static long long utc(int y, int mo, int d, int h) {
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h};
    return (long long)timegm(&tm);
}

/* request, approve, confirm, verify, check in, check out: every step over GraphQL. */
static void test_flow(void) {
    /* a rule refused: a userError with the rule's code and the field in camelCase */
    json_t *res = request(g_m1, "2030-03-05", "2030-03-06", 2);
    CHECK(json_is_null(dig(res, "data.requestVisit.visit")));
    CHECK_STR(code_of(res, "requestVisit"), "guest_limit");
    CHECK_STR(dstr(res, "data.requestVisit.userErrors.0.field"), "guests");
    json_decref(res);
    res = request(g_m1, "2030-03-05", "2030-03-06", 1);
    CHECK_STR(status_of(res, "requestVisit"), "REQUESTED");
    CHECK_EQ_INT(json_array_size(dig(res, "data.requestVisit.userErrors")), 0);
    REQUIRE(dstr(res, "data.requestVisit.visit.id") != NULL);
    snprintf(g_v1, sizeof g_v1, "%s", dstr(res, "data.requestVisit.visit.id"));
    CHECK(json_is_null(dig(res, "data.requestVisit.visit.loi")));
    json_decref(res);
    /* the host may not approve: a field error with its path and extensions.code */
    res = act(g_admin[1], "approveVisit", g_v1, NULL);
    CHECK(!dig(res, "data.approveVisit") || json_is_null(dig(res, "data.approveVisit")));
    CHECK_STR(dstr(res, "errors.0.path.0"), "approveVisit");
    CHECK_STR(dstr(res, "errors.0.extensions.code"), "forbidden");
    json_decref(res);
    /* confirm before approval: a userError naming the allowed actions */
    res = act(g_admin[1], "confirmVisit", g_v1, NULL);
    CHECK_STR(code_of(res, "confirmVisit"), "invalid_transition");
    const char *msg = dstr(res, "data.confirmVisit.userErrors.0.message");
    CHECK(msg && strstr(msg, "approve"));
    json_decref(res);
    /* the home club approves: the letter */
    res = act(g_admin[0], "approveVisit", g_v1, NULL);
    CHECK_STR(status_of(res, "approveVisit"), "APPROVED");
    const char *tok = dstr(res, "data.approveVisit.visit.loi.token");
    REQUIRE(tok != NULL);
    char token[2048];
    snprintf(token, sizeof token, "%s", tok);
    CHECK(dstr(res, "data.approveVisit.visit.loi.qrSvg") &&
          strstr(dstr(res, "data.approveVisit.visit.loi.qrSvg"), "<svg"));
    CHECK_EQ_INT((long)strlen(dstr(res, "data.approveVisit.visit.loi.code")), 22);
    json_decref(res);
    res = act(g_admin[1], "confirmVisit", g_v1, NULL);
    CHECK_STR(status_of(res, "confirmVisit"), "CONFIRMED");
    json_decref(res);
    /* the door */
    long long inside = utc(2030, 3, 5, 12);
    res = door("verifyLoi", token, inside);
    CHECK(json_is_true(dig(res, "data.verifyLoi.verification.valid")));
    CHECK_STR(dstr(res, "data.verifyLoi.verification.reason"), "ok");
    CHECK_STR(dstr(res, "data.verifyLoi.verification.member.name"), "Gra Phql");
    CHECK_STR(dstr(res, "data.verifyLoi.verification.member.category"), "full");
    CHECK_STR(dstr(res, "data.verifyLoi.verification.visit.id"), g_v1);
    CHECK_STR(dstr(res, "data.verifyLoi.verification.visit.status"), "CONFIRMED");
    CHECK_STR(dstr(res, "data.verifyLoi.verification.facilities.0"), "dining");
    json_decref(res);
    res = door("verifyLoi", token, utc(2030, 3, 8, 12));
    CHECK(json_is_false(dig(res, "data.verifyLoi.verification.valid")));
    CHECK_STR(dstr(res, "data.verifyLoi.verification.reason"), "expired");
    json_decref(res);
    res = door("checkInVisit", "RL1.garbage", inside);
    CHECK_STR(code_of(res, "checkInVisit"), "loi_malformed");
    json_decref(res);
    res = door("checkInVisit", token, inside);
    CHECK_STR(status_of(res, "checkInVisit"), "CHECKED_IN");
    CHECK(dstr(res, "data.checkInVisit.visit.checkedInAt") != NULL);
    json_decref(res);
    res = act(g_admin[0], "checkOutVisit", g_v1, NULL);
    CHECK_STR(dstr(res, "errors.0.extensions.code"), "forbidden");
    json_decref(res);
    res = act(g_admin[1], "checkOutVisit", g_v1, NULL);
    CHECK_STR(status_of(res, "checkOutVisit"), "COMPLETED");
    json_decref(res);
    /* terminal: nothing leads out */
    res = act(g_admin[0], "cancelVisit", g_v1, NULL);
    CHECK_STR(code_of(res, "cancelVisit"), "invalid_transition");
    json_decref(res);
}

/* decline (reason required), cancel by the member, revoke by the home club. */
static void test_exits(void) {
    json_t *res = request(g_m2, "2030-04-01", "2030-04-01", 0);
    char a[64], b[64], c[64];
    snprintf(a, sizeof a, "%s", dstr(res, "data.requestVisit.visit.id"));
    json_decref(res);
    res = request(g_m1, "2030-04-08", "2030-04-08", 0);
    snprintf(b, sizeof b, "%s", dstr(res, "data.requestVisit.visit.id"));
    json_decref(res);
    res = request(g_m2, "2030-02-04", "2030-02-04",
                  0); /* the day test_visits_api checks a revoked letter on */
    snprintf(c, sizeof c, "%s", dstr(res, "data.requestVisit.visit.id"));
    json_decref(res);
    res = act(g_admin[1], "declineVisit", a, NULL);
    CHECK_STR(code_of(res, "declineVisit"), "missing_field");
    CHECK_STR(dstr(res, "data.declineVisit.userErrors.0.field"), "reason");
    json_decref(res);
    res = act(g_admin[1], "declineVisit", a, "house full");
    CHECK_STR(status_of(res, "declineVisit"), "DECLINED");
    json_decref(res);
    res = act(g_member_tok, "cancelVisit", b, "plans changed");
    CHECK_STR(status_of(res, "cancelVisit"), "CANCELLED");
    json_decref(res);
    res = act(g_admin[0], "approveVisit", c, NULL);
    CHECK_STR(status_of(res, "approveVisit"), "APPROVED");
    json_decref(res);
    res = act(g_admin[0], "revokeVisit", c, "membership query");
    CHECK_STR(status_of(res, "revokeVisit"), "REVOKED");
    CHECK(json_is_true(dig(res, "data.revokeVisit.visit.loi.revoked")));
    json_decref(res);
    /* the history of the declined visit, as the host */
    char q[512];
    snprintf(q, sizeof q,
             "{ visit(id: \"%s\") { status history { action from to clubId reason at } } }", a);
    res = gql(g_admin[1], q, NULL);
    CHECK_STR(dstr(res, "data.visit.status"), "DECLINED");
    CHECK_EQ_INT(json_array_size(dig(res, "data.visit.history")), 2);
    CHECK_STR(dstr(res, "data.visit.history.1.action"), "decline");
    CHECK_STR(dstr(res, "data.visit.history.1.from"), "REQUESTED");
    CHECK_STR(dstr(res, "data.visit.history.1.to"), "DECLINED");
    CHECK_STR(dstr(res, "data.visit.history.1.reason"), "house full");
    CHECK_STR(dstr(res, "data.visit.history.1.clubId"), g_club[1]);
    json_decref(res);
}

/* The connection, its filters, batching, and who sees what. */
static void test_reading(void) {
    static const char list_q[] =
        "query($side: VisitSide, $status: VisitStatus, $from: Date, $to: Date, $m: ID, $after: "
        "String, $first: Int) { visits(side: $side, status: $status, from: $from, to: $to, "
        "memberId: $m, after: $after, first: $first) { edges { cursor node { id status memberId "
        "member { id memberNumber status club { id } } homeClub { slug } hostClub { slug } "
        "history { action } } } pageInfo { hasNextPage endCursor } } }";
    /* the home club: 4 visits, members and clubs in one batch each */
    double mb0 = metric("member_relations_by_ids"), cb0 = metric("get_clubs_by_ids");
    double gm0 = metric("get_member"), gc0 = metric("get_club");
    json_t *res = gql(g_admin[0], list_q, json_pack("{s:s}", "side", "HOME"));
    json_t *edges = dig(res, "data.visits.edges");
    CHECK_EQ_INT(json_array_size(edges), 4);
    size_t i;
    json_t *e;
    json_array_foreach(edges, i, e) {
        CHECK_STR(dstr(e, "node.member.id"), dstr(e, "node.memberId"));
        CHECK_STR(dstr(e, "node.homeClub.slug"), g_slug[0]);
        CHECK_STR(dstr(e, "node.hostClub.slug"), g_slug[1]);
        CHECK(json_array_size(dig(e, "node.history")) >= 1);
    }
    CHECK_EQ_INT((long)(metric("member_relations_by_ids") - mb0), 1);
    CHECK_EQ_INT((long)(metric("get_clubs_by_ids") - cb0), 1);
    CHECK_EQ_INT((long)(metric("get_member") - gm0), 0);
    CHECK_EQ_INT((long)(metric("get_club") - gc0), 0);
    json_decref(res);
    /* filters: status, member, dates; paging */
    res = gql(g_admin[0], list_q, json_pack("{s:s}", "status", "COMPLETED"));
    CHECK_EQ_INT(json_array_size(dig(res, "data.visits.edges")), 1);
    CHECK_STR(dstr(res, "data.visits.edges.0.node.id"), g_v1);
    json_decref(res);
    res = gql(g_admin[0], list_q, json_pack("{s:s}", "m", g_m2));
    CHECK_EQ_INT(json_array_size(dig(res, "data.visits.edges")), 2);
    json_decref(res);
    res =
        gql(g_admin[0], list_q, json_pack("{s:s, s:s}", "from", "2030-04-07", "to", "2030-04-09"));
    CHECK_EQ_INT(json_array_size(dig(res, "data.visits.edges")), 1);
    CHECK_STR(dstr(res, "data.visits.edges.0.node.status"), "CANCELLED");
    json_decref(res);
    res = gql(g_admin[0], list_q, json_pack("{s:i}", "first", 3));
    CHECK_EQ_INT(json_array_size(dig(res, "data.visits.edges")), 3);
    CHECK(json_is_true(dig(res, "data.visits.pageInfo.hasNextPage")));
    char after[512];
    snprintf(after, sizeof after, "%s", dstr(res, "data.visits.pageInfo.endCursor"));
    json_decref(res);
    res = gql(g_admin[0], list_q, json_pack("{s:i, s:s}", "first", 3, "after", after));
    CHECK_EQ_INT(json_array_size(dig(res, "data.visits.edges")), 1);
    CHECK(json_is_false(dig(res, "data.visits.pageInfo.hasNextPage")));
    json_decref(res);
    res = gql(g_admin[0], list_q, json_pack("{s:i}", "first", 101));
    CHECK_STR(dstr(res, "errors.0.extensions.code"), "invalid_field");
    json_decref(res);
    /* the host sees its side, not the member: null without a call to the member service */
    mb0 = metric("member_relations_by_ids"), gm0 = metric("get_member");
    res = gql(g_admin[1], list_q, json_pack("{s:s}", "side", "HOST"));
    edges = dig(res, "data.visits.edges");
    CHECK_EQ_INT(json_array_size(edges), 4);
    json_array_foreach(edges, i, e) {
        CHECK(json_is_null(dig(e, "node.member")));
        CHECK_STR(dstr(e, "node.homeClub.slug"), g_slug[0]);
    }
    char *errs = dig(res, "errors") ? json_dumps(dig(res, "errors"), 0) : NULL;
    if (errs) printf("#   %s\n", errs);
    free(errs);
    CHECK(!dig(res, "errors"));
    CHECK_EQ_INT((long)(metric("member_relations_by_ids") - mb0), 0);
    CHECK_EQ_INT((long)(metric("get_member") - gm0), 0);
    json_decref(res);
    res = gql(g_admin[1], list_q, json_pack("{s:s}", "side", "HOME"));
    CHECK_EQ_INT(json_array_size(dig(res, "data.visits.edges")), 0);
    json_decref(res);
    /* the member: their own visits only, themself as member */
    res = gql(g_member_tok, list_q, NULL);
    edges = dig(res, "data.visits.edges");
    CHECK_EQ_INT(json_array_size(edges), 2);
    json_array_foreach(edges, i, e) {
        CHECK_STR(dstr(e, "node.memberId"), g_m1);
        CHECK_STR(dstr(e, "node.member.id"), g_m1);
    }
    json_decref(res);
    /* club D: nothing; visit(id) is null with not_found and its path */
    res = gql(g_admin[2], list_q, NULL);
    CHECK_EQ_INT(json_array_size(dig(res, "data.visits.edges")), 0);
    json_decref(res);
    char q[256];
    snprintf(q, sizeof q, "{ visit(id: \"%s\") { id } }", g_v1);
    res = gql(g_admin[2], q, NULL);
    CHECK(json_is_null(dig(res, "data.visit")));
    CHECK_STR(dstr(res, "errors.0.extensions.code"), "not_found");
    CHECK_STR(dstr(res, "errors.0.path.0"), "visit");
    json_decref(res);
    res = act(g_admin[2], "approveVisit", g_v1, NULL);
    CHECK_STR(code_of(res, "approveVisit"), "not_found");
    json_decref(res);
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

int main(void) {
    RUN(test_start);
    RUN(test_contract);
    RUN(test_flow);
    RUN(test_exits);
    RUN(test_reading);
    RUN(test_stop);
    TEST_DONE();
}
