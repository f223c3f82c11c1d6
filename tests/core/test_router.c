/* test_router: template validation, literal-over-parameter priority, percent-decoding, trailing
 * slashes, 404 vs 405 with the Allow list. */
#include <string.h>

#include "core/router.h"
#include "test.h"

static int T_LIST, T_GET, T_ME, T_POST, T_DEL, T_MEMBER, T_ROOT, T_A, T_B;

static router_t *make_router(void) {
    router_t *r = router_new();
    if (!r) return NULL;
    int rc = 0;
    rc |= router_add(r, "GET", "/", &T_ROOT);
    rc |= router_add(r, "GET", "/api/v1/clubs", &T_LIST);
    rc |= router_add(r, "POST", "/api/v1/clubs", &T_POST);
    rc |= router_add(r, "GET", "/api/v1/clubs/{id}", &T_GET);
    rc |= router_add(r, "DELETE", "/api/v1/clubs/{id}", &T_DEL);
    rc |= router_add(r, "GET", "/api/v1/clubs/mine", &T_ME);
    rc |= router_add(r, "GET", "/api/v1/clubs/{club_id}/members/{member_id}", &T_MEMBER);
    rc |= router_add(r, "GET", "/x/{a}/c", &T_A);
    rc |= router_add(r, "GET", "/x/b/{c}", &T_B);
    if (rc != 0) {
        router_free(r);
        return NULL;
    }
    return r;
}

static void test_add_rejects_malformed(void) {
    router_t *r = router_new();
    REQUIRE(r != NULL);
    CHECK_EQ_INT(router_add(r, "GET", "", NULL), -1);
    CHECK_EQ_INT(router_add(r, "GET", "api/v1", NULL), -1);               /* no leading slash */
    CHECK_EQ_INT(router_add(r, "GET", "/a//b", NULL), -1);                /* empty segment */
    CHECK_EQ_INT(router_add(r, "GET", "/a/b/", NULL), -1);                /* trailing slash */
    CHECK_EQ_INT(router_add(r, "GET", "/a/{}", NULL), -1);                /* empty name */
    CHECK_EQ_INT(router_add(r, "GET", "/a/{id", NULL), -1);               /* unclosed */
    CHECK_EQ_INT(router_add(r, "GET", "/a/x{id}", NULL), -1);             /* partial segment */
    CHECK_EQ_INT(router_add(r, "GET", "/a/{i-d}", NULL), -1);             /* bad name char */
    CHECK_EQ_INT(router_add(r, "GET", "/a/b%20c", NULL), -1);             /* encoded literal */
    CHECK_EQ_INT(router_add(r, "GET", "/{a}/{b}/{c}/{d}/{e}", NULL), -1); /* > 4 params */
    CHECK_EQ_INT(router_add(r, "GET", "/a/{abcdefghijklmnopqrstuvwxyz012345}", NULL), -1);
    CHECK_EQ_INT(router_add(r, "", "/a", NULL), -1);
    CHECK_EQ_INT(router_add(r, "GET", "/{a}/{b}/{c}/{d}", NULL), 0);
    CHECK_EQ_INT(router_add(r, "GET", "/a/{id}", NULL), 0);
    CHECK_EQ_INT(router_add(r, "GET", "/a/{id}", NULL), -1);    /* duplicate */
    CHECK_EQ_INT(router_add(r, "GET", "/a/{other}", NULL), -1); /* same shape */
    CHECK_EQ_INT(router_add(r, "PUT", "/a/{id}", NULL), 0);     /* other method is fine */
    router_free(r);
}

static void test_literal_and_params(void) {
    router_t *r = make_router();
    REQUIRE(r != NULL);
    router_match_t m;
    char allow[64];
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs", &m, allow, sizeof allow), 200);
    CHECK(m.target == &T_LIST);
    CHECK_STR(m.route, "/api/v1/clubs");
    CHECK_EQ_INT(m.n_params, 0);

    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/42", &m, allow, sizeof allow), 200);
    CHECK(m.target == &T_GET);
    CHECK_STR(m.route, "/api/v1/clubs/{id}");
    CHECK_EQ_INT(m.n_params, 1);
    CHECK_STR(m.names[0], "id");
    CHECK_STR(m.values[0], "42");

    /* literal wins over the parameter, in either registration order */
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/mine", &m, allow, sizeof allow), 200);
    CHECK(m.target == &T_ME);
    CHECK_EQ_INT(m.n_params, 0);
    CHECK_EQ_INT(router_match(r, "GET", "/x/b/c", &m, allow, sizeof allow), 200);
    CHECK(m.target == &T_B); /* first differing segment decides: literal "b" */
    CHECK_EQ_INT(router_match(r, "GET", "/x/q/c", &m, allow, sizeof allow), 200);
    CHECK(m.target == &T_A);

    /* a method without the literal falls back to the parameter template */
    CHECK_EQ_INT(router_match(r, "DELETE", "/api/v1/clubs/mine", &m, allow, sizeof allow), 200);
    CHECK(m.target == &T_DEL);
    CHECK_STR(m.values[0], "mine");

    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/c1/members/m%202", &m, allow, sizeof allow),
                 200);
    CHECK(m.target == &T_MEMBER);
    CHECK_EQ_INT(m.n_params, 2);
    CHECK_STR(m.names[0], "club_id");
    CHECK_STR(m.values[0], "c1");
    CHECK_STR(m.names[1], "member_id");
    CHECK_STR(m.values[1], "m 2");

    CHECK_EQ_INT(router_match(r, "GET", "/", &m, allow, sizeof allow), 200);
    CHECK(m.target == &T_ROOT);
    router_free(r);
}

static void test_percent_decoding(void) {
    router_t *r = make_router();
    REQUIRE(r != NULL);
    router_match_t m;
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/a%2Fb%3f%C3%A9", &m, NULL, 0), 200);
    CHECK_STR(m.values[0], "a/b?\xc3\xa9"); /* %2F stays inside the segment */
    /* encoded literals match the literal */
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/%63lubs", &m, NULL, 0), 200);
    CHECK(m.target == &T_LIST);
    /* decoded once only */
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/%2541", &m, NULL, 0), 200);
    CHECK_STR(m.values[0], "%41");
    /* invalid encodings: 404 */
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/%", &m, NULL, 0), 404);
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/%4", &m, NULL, 0), 404);
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/%zz", &m, NULL, 0), 404);
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/a%00b", &m, NULL, 0), 404);
    CHECK(m.target == NULL);
    /* a parameter value must fit in 255 bytes */
    char path[600] = "/api/v1/clubs/";
    memset(path + strlen(path), 'x', 255);
    CHECK_EQ_INT(router_match(r, "GET", path, &m, NULL, 0), 200);
    CHECK_EQ_INT((int)strlen(m.values[0]), 255);
    strcat(path, "x");
    CHECK_EQ_INT(router_match(r, "GET", path, &m, NULL, 0), 404);
    router_free(r);
}

static void test_trailing_slash_and_404(void) {
    router_t *r = make_router();
    REQUIRE(r != NULL);
    router_match_t m;
    char allow[64] = "junk";
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/", &m, allow, sizeof allow), 404);
    CHECK_STR(allow, "");
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1//clubs", &m, allow, sizeof allow), 404);
    CHECK_EQ_INT(router_match(r, "GET", "/api/v1/clubs/1/2", &m, allow, sizeof allow), 404);
    CHECK_EQ_INT(router_match(r, "GET", "/api/v2/clubs", &m, allow, sizeof allow), 404);
    CHECK_EQ_INT(router_match(r, "GET", "", &m, allow, sizeof allow), 404);
    CHECK_EQ_INT(router_match(r, "GET", "api/v1/clubs", &m, allow, sizeof allow), 404);
    CHECK_EQ_INT(router_match(r, "GET", "*", &m, allow, sizeof allow), 404);
    CHECK(m.route == NULL && m.target == NULL && m.n_params == 0);
    router_free(r);
}

static void test_405_allow(void) {
    router_t *r = make_router();
    REQUIRE(r != NULL);
    router_match_t m;
    char allow[64];
    CHECK_EQ_INT(router_match(r, "PUT", "/api/v1/clubs", &m, allow, sizeof allow), 405);
    CHECK_STR(allow, "GET, HEAD, POST");
    CHECK(m.target == NULL);
    CHECK_EQ_INT(router_match(r, "PATCH", "/api/v1/clubs/7", &m, allow, sizeof allow), 405);
    CHECK_STR(allow, "GET, HEAD, DELETE");
    /* methods are case-sensitive */
    CHECK_EQ_INT(router_match(r, "get", "/api/v1/clubs", &m, allow, sizeof allow), 405);
    /* HEAD is served by GET routes */
    CHECK_EQ_INT(router_match(r, "HEAD", "/api/v1/clubs/7", &m, allow, sizeof allow), 200);
    CHECK(m.target == &T_GET);
    /* a short buffer keeps whole entries only; NULL is accepted */
    char small[10];
    CHECK_EQ_INT(router_match(r, "PUT", "/api/v1/clubs", &m, small, sizeof small), 405);
    CHECK_STR(small, "GET, HEAD");
    CHECK_EQ_INT(router_match(r, "PUT", "/api/v1/clubs", &m, NULL, 0), 405);
    CHECK_EQ_INT(router_match(r, "PUT", "/api/v1/clubs", NULL, NULL, 0), 405);
    router_free(r);
}

int main(void) {
    RUN(test_add_rejects_malformed);
    RUN(test_literal_and_params);
    RUN(test_percent_decoding);
    RUN(test_trailing_slash_and_404);
    RUN(test_405_allow);
    TEST_DONE();
}
