/* End-to-end: the analytics report of a visit made through the real reciprocal service. Clubs A
 * (home, Europe/London) and B (host, Pacific/Auckland) under an active agreement; a member of A
 * requests a visit to B arriving 2030-03-04, A approves, B confirms, the member checks in. The
 * visit events carry arrive_on, depart_on and host_timezone, so analytics needs no get_visit:
 * B's club report (REST) for the day 2030-03-04 shows one visit in, A's one visit out, and the
 * neighbouring days none (the visit's day is its arrival date at the host). */
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
static char g_club[2][64], g_slug[2][64], g_admin[2][4096], g_member[64];
static const char g_pw[] = "Marmalade-Harbour-77";
static const char *const g_tz[2] = {"Europe/London", "Pacific/Auckland"};

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
    for (int i = 0; i < 2; i++) {
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

int main(void) {
    RUN(test_start);
    RUN(test_visit_report);
    e2e_stop(&g_proc);
    TEST_DONE();
}
