/* End-to-end: the analytics report of a visit made through the real reciprocal service. Clubs A
 * (home, Europe/London) and B (host, Pacific/Auckland) under an active agreement; a member of A
 * requests a visit to B arriving 2030-03-04, A approves, B confirms, the member checks in. The
 * visit events carry arrive_on, depart_on and host_timezone, so analytics needs no get_visit:
 * B's club report (REST) for the day 2030-03-04 shows one visit in, A's one visit out, and the
 * neighbouring days none (the visit's day is its arrival date at the host).
 * GraphQL (test_graphql): the same figures through Query.analyticsReport, the capacity through
 * Mutation.setAnalyticsCapacity (a bad value as a userError naming the field) and room
 * utilisation; another club's report is a field error with its path and code forbidden, the
 * network report likewise for a club administrator; club C (no party) sees none of the A-B
 * pair in its own report; the network administrator's table shows the pair as "<11". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "services/reciprocal/loi.h"
#include "support/e2e.h"
#include "test.h"

#define AS_OF "2030-01-01T00:00:00Z"

static e2e_proc_t g_proc;
static char g_club[3][64], g_slug[3][64], g_admin[3][4096], g_member[64];
static const char g_pw[] = "Marmalade-Harbour-77";
static const char *const g_tz[3] = {"Europe/London", "Pacific/Auckland", "UTC"};

static int account(int club, char *tok) {
    char email[128];
    snprintf(email, sizeof email, "avisits-%d-%d@example.test", club, (int)getpid());
    char uid[64];
    return e2e_account(&g_proc, g_club[club], g_slug[club], email, "club_admin", g_pw, uid, tok);
}

static void test_start(void) {
    const char *env[] = {"RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                         "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    char name[16], extra[128];
    for (int i = 0; i < 3; i++) {
        snprintf(g_slug[i], sizeof g_slug[i], "avisits-%c-%d", 'a' + i, (int)getpid());
        snprintf(name, sizeof name, "Club %c", 'A' + i);
        snprintf(extra, sizeof extra, "\"timezone\":\"%s\",\"address\":{\"country\":\"GB\"}",
                 g_tz[i]);
        REQUIRE(e2e_club(&g_proc, name, g_slug[i], extra, g_club[i]) == 0);
        REQUIRE(account(i, g_admin[i]) == 0);
    }
    REQUIRE(e2e_member(&g_proc, g_club[0], "full", NULL, 1, "Ana", "Lytic", g_member) == 0);
    REQUIRE(e2e_agreement(&g_proc, g_club[0], g_club[1], "{\"max_guests\":2}") == 0);
}

/* figure of club's report for the local day date; waits for want (the consumer is async) */
static long figure(int club, const char *date, const char *name, long want) {
    char path[256];
    snprintf(path, sizeof path, "/api/v1/analytics/clubs/%s/report?period=day&date=%s",
             g_club[club], date);
    long got = -1;
    for (int i = 0; i < 150; i++) {
        json_t *v = NULL;
        if (e2e_call(&g_proc, g_admin[club], "GET", path, NULL, &v) == 200)
            got = (long)json_integer_value(json_object_get(v, name));
        json_decref(v);
        if (got == want) break;
        usleep(100000);
    }
    return got;
}

static void test_visit_report(void) {
    char body[LOI_TOKEN_MAX + 1024], vid[64], tok[LOI_TOKEN_MAX + 1];
    json_t *v = NULL;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":"
             "\"2030-03-04\",\"depart_on\":\"2030-03-05\",\"guests\":1,\"as_of\":\"" AS_OF "\"}",
             g_club[0], g_member, g_club[1]);
    REQUIRE(e2e_visit_confirmed(&g_proc, body, g_admin[0], g_admin[1], vid, tok, sizeof tok) == 0);
    /* 2030-03-04 00:30 UTC = 13:30 in Auckland */
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"at\":1898814600}", tok);
    REQUIRE(e2e_call(&g_proc, NULL, "POST", "/api/v1/visits/check-in", body, &v) == 200);
    CHECK_STR(e2e_str(v, "status"), "checked_in");
    json_decref(v);
    CHECK_EQ_INT(figure(1, "2030-03-04", "visits_in", 1), 1);
    CHECK_EQ_INT(figure(1, "2030-03-04", "visitor_days_in", 2), 2);
    CHECK_EQ_INT(figure(1, "2030-03-04", "visitor_nights_in", 1), 1);
    CHECK_EQ_INT(figure(1, "2030-03-04", "guests_in", 1), 1);
    CHECK_EQ_INT(figure(0, "2030-03-04", "visits_out", 1), 1);
    CHECK_EQ_INT(figure(1, "2030-03-03", "visits_in", 0), 0);
    CHECK_EQ_INT(figure(1, "2030-03-05", "visits_in", 0), 0);
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
static long long dint(json_t *j, const char *path) {
    return json_integer_value(dig(j, path));
}

/* POST /graphql as `as` (NULL = the network administrator): the response (new reference). */
static json_t *gql(const char *as, const char *q, json_t *vars) {
    json_t *body = json_pack("{s:s}", "query", q);
    if (vars) json_object_set_new(body, "variables", vars);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *out = NULL;
    long st = e2e_call(&g_proc, as, "POST", "/graphql", text, &out);
    free(text);
    if (st != 200) printf("#   graphql: %ld\n", st);
    return out;
}

static const char k_report_q[] =
    "query($c: ID!, $p: ID) { analyticsReport(clubId: $c, period: DAY, date: \"2030-03-04\", "
    "partner: $p) { clubId timezone from to visitsIn visitsOut uniqueVisitorsIn visitorDaysIn "
    "visitorNightsIn guestsIn requestsIn noShowRate leadTime { upToOneDay twoToSevenDays "
    "eightDaysOrMore } partners { partnerClubId visitsIn visitsOut netVisits } usage { signIns "
    "activeMembers } rooms { capacity roomNights availableRoomNights utilisation } flags { flag } "
    "} }";

static void test_graphql(void) {
    /* the capacity: a bad value is a userError on rooms; B's own administrator sets 3 */
    json_t *res = gql(g_admin[1],
                      "mutation($c: ID!, $n: Int!) { setAnalyticsCapacity(input: {clubId: $c, "
                      "rooms: $n}) { capacity { clubId rooms } userErrors { field code } } }",
                      json_pack("{s:s, s:i}", "c", g_club[1], "n", -2));
    CHECK_STR(dstr(res, "data.setAnalyticsCapacity.userErrors.0.field"), "rooms");
    CHECK(json_is_null(dig(res, "data.setAnalyticsCapacity.capacity")));
    json_decref(res);
    res = gql(g_admin[1],
              "mutation($c: ID!, $n: Int!) { setAnalyticsCapacity(input: {clubId: $c, rooms: "
              "$n}) { capacity { clubId rooms } userErrors { field code } } }",
              json_pack("{s:s, s:i}", "c", g_club[1], "n", 3));
    CHECK_EQ_INT(dint(res, "data.setAnalyticsCapacity.capacity.rooms"), 3);
    CHECK_EQ_INT(json_array_size(dig(res, "data.setAnalyticsCapacity.userErrors")), 0);
    json_decref(res);
    /* A may not set B's capacity: a field error with its path */
    res = gql(g_admin[0],
              "mutation($c: ID!) { setAnalyticsCapacity(input: {clubId: $c, rooms: 9}) { "
              "capacity { rooms } } }",
              json_pack("{s:s}", "c", g_club[1]));
    CHECK_STR(dstr(res, "errors.0.path.0"), "setAnalyticsCapacity");
    CHECK_STR(dstr(res, "errors.0.extensions.code"), "forbidden");
    json_decref(res);
    /* B's report: the visit of the REST test, with the pairwise row of A */
    res = gql(g_admin[1], k_report_q, json_pack("{s:s}", "c", g_club[1]));
    json_t *r = dig(res, "data.analyticsReport");
    REQUIRE(r != NULL);
    CHECK_STR(dstr(r, "clubId"), g_club[1]);
    CHECK_STR(dstr(r, "timezone"), "Pacific/Auckland");
    CHECK_STR(dstr(r, "from"), "2030-03-04");
    CHECK_EQ_INT(dint(r, "visitsIn"), 1);
    CHECK_EQ_INT(dint(r, "uniqueVisitorsIn"), 1);
    CHECK_EQ_INT(dint(r, "visitorDaysIn"), 2);
    CHECK_EQ_INT(dint(r, "visitorNightsIn"), 1);
    CHECK_EQ_INT(dint(r, "guestsIn"), 1);
    CHECK_EQ_INT(dint(r, "requestsIn"), 1);
    CHECK_EQ_INT(dint(r, "leadTime.eightDaysOrMore"), 1); /* requested 2030-01-01 */
    CHECK_STR(dstr(r, "partners.0.partnerClubId"), g_club[0]);
    CHECK_EQ_INT(dint(r, "partners.0.netVisits"), 1);
    CHECK_EQ_INT(dint(r, "rooms.capacity"), 3);
    CHECK_EQ_INT(dint(r, "rooms.availableRoomNights"), 3);
    CHECK(json_is_number(dig(r, "rooms.utilisation")));
    json_decref(res);
    /* tenant isolation: C asks for B's report -> forbidden, with the path */
    res = gql(g_admin[2], k_report_q, json_pack("{s:s}", "c", g_club[1]));
    CHECK_STR(dstr(res, "errors.0.path.0"), "analyticsReport");
    CHECK_STR(dstr(res, "errors.0.extensions.code"), "forbidden");
    CHECK(dig(res, "data.analyticsReport.visitsIn") == NULL);
    json_decref(res);
    /* C's own report naming A as partner holds nothing of the A-B pair */
    res = gql(g_admin[2], k_report_q, json_pack("{s:s, s:s}", "c", g_club[2], "p", g_club[0]));
    CHECK_EQ_INT(dint(res, "data.analyticsReport.visitsIn"), 0);
    CHECK_EQ_INT(dint(res, "data.analyticsReport.visitsOut"), 0);
    CHECK_EQ_INT(json_array_size(dig(res, "data.analyticsReport.partners")), 0);
    json_decref(res);
    /* a bad range: an argument error with the path and code invalid_field */
    res = gql(g_admin[1],
              "query($c: ID!) { analyticsReport(clubId: $c, from: \"2030-03-05\", to: "
              "\"2030-03-01\") { visitsIn } }",
              json_pack("{s:s}", "c", g_club[1]));
    CHECK_STR(dstr(res, "errors.0.path.0"), "analyticsReport");
    CHECK_STR(dstr(res, "errors.0.extensions.code"), "invalid_field");
    json_decref(res);
    /* the network table: network administrators only */
    static const char q_net[] =
        "{ analyticsNetworkReport(from: \"2030-03-01\", to: \"2030-03-31\") { k rows cols "
        "table rowTotals colTotals total requests noShowRate measures { visitorDays guests "
        "leadTime8 roomNights } money { currency amountMinor charges } byClub { clubId "
        "requests guests visitorDays } byClubTotals { requests } seasonality { byMonth { month "
        "visits } monthTotal byWeekday { weekday visits } weekdayTotal } } }";
    res = gql(g_admin[1], q_net, NULL);
    CHECK_STR(dstr(res, "errors.0.path.0"), "analyticsNetworkReport");
    CHECK_STR(dstr(res, "errors.0.extensions.code"), "forbidden");
    json_decref(res);
    res = gql(NULL, q_net, NULL);
    json_t *net = dig(res, "data.analyticsNetworkReport");
    REQUIRE(net != NULL);
    CHECK_EQ_INT(dint(net, "k"), 11);
    CHECK(dstr(net, "measures.visitorDays") != NULL && dstr(net, "requests") != NULL);
    long row = -1, col = -1;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(net, "rows"), i, v) {
        if (strcmp(json_string_value(v), g_club[1]) == 0) row = (long)i;
    }
    json_array_foreach(json_object_get(net, "cols"), i, v) {
        if (strcmp(json_string_value(v), g_club[0]) == 0) col = (long)i;
    }
    REQUIRE(row >= 0 && col >= 0);
    CHECK_STR(json_string_value(json_array_get(
                  json_array_get(json_object_get(net, "table"), (size_t)row), (size_t)col)),
              "<11"); /* one visit */
    /* the per-club breakdown and the seasonality lists (docs/analytics.md) */
    CHECK_STR(dstr(net, "byClubTotals.requests"), dstr(net, "requests"));
    int host_seen = 0;
    json_array_foreach(json_object_get(net, "byClub"), i, v) {
        if (strcmp(json_string_value(json_object_get(v, "clubId")), g_club[1]) == 0) {
            host_seen = 1;
            CHECK_STR(json_string_value(json_object_get(v, "requests")), "<11");
        }
    }
    CHECK(host_seen);
    CHECK_STR(dstr(net, "seasonality.byMonth.0.month"), "2030-03");
    CHECK_STR(dstr(net, "seasonality.byMonth.0.visits"), "<11");
    CHECK_STR(dstr(net, "seasonality.byWeekday.6.weekday"), "Sun");
    CHECK_STR(dstr(net, "seasonality.weekdayTotal"), "<11");
    json_decref(res);
}

int main(void) {
    RUN(test_start);
    RUN(test_visit_report);
    RUN(test_graphql);
    e2e_stop(&g_proc);
    TEST_DONE();
}
