/* test_member_standing: the internal operation member_standing through svc_dispatch (the way
 * the reciprocal service calls it): no REST route; the member's own club gets the letter of
 * introduction snapshot (name, number, category, valid_to, home city/country, the club's place
 * and time zone); another club (a host with visit:verify) gets status, category and expiry only,
 * never names, numbers or addresses; expired and suspended members are not active; unknown
 * member 404, missing permission 403, missing member_id 400, unknown input key 400. */
#include "services/member/member_test_util.h"

static char club_a[40], club_b[40];
static svc_caller_t admin_a, staff_a, host_b, plain_b, netadmin;

static int new_member(const char *extra, char *out) {
    static int n;
    char in[1024];
    n++;
    snprintf(in, sizeof in,
             "{\"category\":\"full\",\"profile\":{\"first_name\":\"Ada\",\"last_name\":\"Stand%d\"}"
             ",%s}",
             n, extra);
    json_t *o = NULL;
    int st = mt_call(&admin_a, "create_member", in, &o);
    if (st != 201) {
        char *d = jsonx_dump(o);
        printf("#   create_member %d %s\n", st, d);
        free(d);
        json_decref(o);
        return -1;
    }
    snprintf(out, 40, "%s", mt_str(o, "id"));
    json_decref(o);
    return 0;
}

static json_t *standing(const svc_caller_t *c, const char *id, const char *club, int want) {
    char in[256];
    if (club)
        snprintf(in, sizeof in, "{\"member_id\":\"%s\",\"club_id\":\"%s\"}", id, club);
    else
        snprintf(in, sizeof in, "{\"member_id\":\"%s\"}", id);
    json_t *o = NULL;
    int st = mt_call(c, "member_standing", in, &o);
    if (st != want) {
        char *d = jsonx_dump(o);
        printf("#   member_standing %s: %d, want %d: %s\n", id, st, want, d);
        free(d);
        json_decref(o);
        return NULL;
    }
    return o;
}

static void test_internal_only(void) {
    const svc_module_t *m = svc_find_module("member");
    REQUIRE(m != NULL);
    const svc_op_t *op = svc_find_op(m, "member_standing");
    REQUIRE(op != NULL);
    CHECK(op->route == NULL && op->method == NULL);
    CHECK_STR(op->permission, "visit:verify");
}

static void test_home_view(void) {
    char id[40], in[512];
    REQUIRE(new_member("\"status\":\"active\",\"expires_on\":\"2099-12-31\"", id) == 0);
    snprintf(in, sizeof in,
             "{\"id\":\"%s\",\"kind\":\"home\",\"lines\":[\"1 High St\"],\"city\":\"York\","
             "\"country\":\"GB\",\"latitude\":53.96,\"longitude\":-1.08}",
             id);
    REQUIRE(mt_call(&admin_a, "put_member_address", in, NULL) == 200);
    json_t *o = standing(&staff_a, id, NULL, 200);
    REQUIRE(o != NULL);
    CHECK(json_is_true(json_object_get(o, "active")));
    CHECK_STR(mt_str(o, "status"), "active");
    CHECK_EQ_INT(json_array_size(json_object_get(o, "restrictions")), 0);
    CHECK(mt_str(o, "name") && strncmp(mt_str(o, "name"), "Ada Stand", 9) == 0);
    CHECK(mt_str(o, "member_number") != NULL);
    CHECK_STR(mt_str(o, "category"), "full");
    CHECK_STR(mt_str(o, "valid_to"), "2099-12-31");
    CHECK_STR(mt_str(o, "club_id"), club_a);
    CHECK_STR(mt_str(o, "member_id"), id);
    CHECK_STR(mt_str(o, "home.city"), "York");
    CHECK_STR(mt_str(o, "home.country"), "GB");
    json_t *home = json_object_get(o, "home"); /* the coordinates (member migration 0008) */
    CHECK(json_real_value(json_object_get(home, "latitude")) > 53.95);
    CHECK(json_real_value(json_object_get(home, "longitude")) < -1.07);
    CHECK(mt_str(o, "club.country") != NULL);
    CHECK(mt_str(o, "club.timezone") != NULL);
    json_decref(o);
    /* the same through a network administrator naming the club */
    o = standing(&netadmin, id, club_a, 200);
    CHECK(o && mt_str(o, "member_number") != NULL);
    json_decref(o);
}

static void test_host_view(void) {
    char id[40];
    REQUIRE(new_member("\"status\":\"active\",\"expires_on\":\"2099-12-31\"", id) == 0);
    json_t *o = standing(&host_b, id, club_a, 200);
    REQUIRE(o != NULL);
    CHECK(json_is_true(json_object_get(o, "active")));
    CHECK_STR(mt_str(o, "category"), "full");
    CHECK_STR(mt_str(o, "valid_to"), "2099-12-31");
    /* nothing personal */
    static const char *const hidden[] = {"name", "member_number", "home", "club", NULL};
    for (int i = 0; hidden[i]; i++)
        CHECK(json_object_get(o, hidden[i]) == NULL);
    json_decref(o);
    /* without club_id the host asks its own club, which has no such member */
    o = standing(&host_b, id, NULL, 404);
    json_decref(o);
    /* another club's caller without visit:verify */
    CHECK_EQ_INT(mt_call(&plain_b, "member_standing",
                         "{\"member_id\":\"" /* any */
                         "00000000-0000-4000-8000-000000000000\"}",
                         NULL),
                 403);
}

static void test_not_active(void) {
    char old[40], sus[40], in[256];
    REQUIRE(new_member("\"status\":\"active\",\"joined_on\":\"2019-01-01\",\"expires_on\":"
                       "\"2020-01-01\"",
                       old) == 0);
    json_t *o = standing(&staff_a, old, NULL, 200);
    REQUIRE(o != NULL);
    CHECK(json_is_false(json_object_get(o, "active")));
    CHECK_STR(mt_str(o, "status"), "active");
    CHECK_STR(json_string_value(json_array_get(json_object_get(o, "restrictions"), 0)),
              "membership_expired");
    json_decref(o);
    o = standing(&host_b, old, club_a, 200);
    CHECK(o && json_is_false(json_object_get(o, "active")));
    json_decref(o);
    REQUIRE(new_member("\"status\":\"active\"", sus) == 0);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"status\":\"suspended\",\"reason\":\"test\"}", sus);
    REQUIRE(mt_call(&admin_a, "change_member_status", in, NULL) == 200);
    o = standing(&staff_a, sus, NULL, 200);
    REQUIRE(o != NULL);
    CHECK(json_is_false(json_object_get(o, "active")));
    CHECK_STR(mt_str(o, "status"), "suspended");
    CHECK(json_is_null(json_object_get(o, "valid_to")));
    json_decref(o);
    o = standing(&host_b, sus, club_a, 200);
    CHECK(o && json_is_false(json_object_get(o, "active")));
    CHECK_STR(mt_str(o, "status"), "suspended");
    json_decref(o);
}

static void test_bad_input(void) {
    json_t *o = standing(&staff_a, "00000000-0000-4000-8000-000000000000", NULL, 404);
    CHECK(o && mt_str(o, "error.field") && !strcmp(mt_str(o, "error.field"), "member_id"));
    json_decref(o);
    o = standing(&host_b, "00000000-0000-4000-8000-000000000000", club_a, 404);
    json_decref(o);
    CHECK_EQ_INT(mt_call(&staff_a, "member_standing", "{\"member_id\":\"x\"}", NULL), 404);
    CHECK_EQ_INT(mt_call(&staff_a, "member_standing", "{}", NULL), 400);
    CHECK_EQ_INT(mt_call(&staff_a, "member_standing",
                         "{\"member_id\":\"00000000-0000-4000-8000-000000000000\",\"x\":1}", NULL),
                 400); /* unknown_field */
}

int main(void) {
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    if (mt_open() != 0 || mt_club("sa", club_a) != 0 || mt_club("sb", club_b) != 0) {
        RUN(test_internal_only);
        TEST_DONE();
    }
    char u[40];
    mt_uuid(u);
    admin_a = mt_caller(club_a, u, 0, "member:read member:write member:admin");
    mt_uuid(u);
    staff_a = mt_caller(club_a, u, 0, "member:read visit:verify");
    mt_uuid(u);
    host_b = mt_caller(club_b, u, 0, "visit:verify");
    mt_uuid(u);
    plain_b = mt_caller(club_b, u, 0, "member:read");
    netadmin = mt_caller(NULL, NULL, 1, "*");
    RUN(test_internal_only);
    RUN(test_home_view);
    RUN(test_host_view);
    RUN(test_not_active);
    RUN(test_bad_input);
    mt_close();
    TEST_DONE();
}
