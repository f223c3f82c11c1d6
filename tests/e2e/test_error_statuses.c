/* End-to-end: the request-error rule (core/err.h, README "HTTP API", docs/architecture.md
 * "Errors") over HTTP, one table for every service: a body that is not JSON, a required field
 * absent, a field of the wrong JSON type and an unknown field are 400 (invalid_json,
 * missing_field, invalid_type, unknown_field); a well-formed value that is not acceptable (format,
 * range, enum) is 422 invalid_field. Each row checks the status, the code and the field the JSON
 * error names. Representative operations of auth, member (clubs, members), ledger, analytics and
 * the GraphQL documents; GraphQL mutations report the same code and field in userErrors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_proc;
static char g_club[64];

typedef struct row {
    const char *method, *path;
    const char *body; /* "%s" is replaced by the club id */
    long status;
    const char *code, *field;
} row_t;

#define CLUB_BODY(extra)                                                                           \
    "{\"slug\":\"errors-x1\",\"timezone\":\"UTC\",\"address\":{\"country\":\"GB\"}" extra "}"

static const row_t k_rows[] = {
    /* auth */
    {"POST", "/api/v1/auth/login", "{\"email\":", 400, "invalid_json", "body"},
    {"POST", "/api/v1/auth/login", "{\"password\":\"x\"}", 400, "missing_field", "email"},
    {"POST", "/api/v1/auth/login", "{\"email\":5,\"password\":\"x\"}", 400, "invalid_type",
     "email"},
    {"POST", "/api/v1/auth/login", "{\"email\":\"a@example.com\",\"password\":\"x\",\"colour\":1}",
     400, "unknown_field", "colour"},
    {"POST", "/api/v1/auth/login", "{\"email\":\"not-an-email\",\"password\":\"x\"}", 422,
     "invalid_field", "email"},
    {"POST", "/api/v1/auth/invites", "{\"email\":\"a@example.com\",\"role\":\"king\"}", 422,
     "invalid_field", "role"},
    /* member: clubs */
    {"POST", "/api/v1/clubs", "[1]", 400, "invalid_json", "body"},
    {"POST", "/api/v1/clubs", CLUB_BODY(""), 400, "missing_field", "name"},
    {"POST", "/api/v1/clubs", CLUB_BODY(",\"name\":5"), 400, "invalid_type", "name"},
    {"POST", "/api/v1/clubs", CLUB_BODY(",\"name\":\"A\",\"colour\":\"red\""), 400, "unknown_field",
     "colour"},
    {"POST", "/api/v1/clubs",
     "{\"name\":\"A\",\"slug\":\"Bad Slug\",\"timezone\":\"UTC\",\"address\":{\"country\":\"GB\"}}",
     422, "invalid_field", "slug"},
    {"GET", "/api/v1/clubs?limit=abc", NULL, 400, "invalid_type", "limit"},
    {"GET", "/api/v1/clubs?limit=0", NULL, 422, "invalid_field", "limit"},
    /* member: members */
    {"POST", "/api/v1/members", "{\"club_id\":\"%s\",", 400, "invalid_json", "body"},
    {"POST", "/api/v1/members",
     "{\"category\":\"full\",\"profile\":{\"first_name\":\"A\",\"last_name\":\"B\"}}", 400,
     "missing_field", "club_id"},
    {"POST", "/api/v1/members", "{\"club_id\":\"%s\",\"category\":\"full\"}", 400, "missing_field",
     "profile"},
    {"POST", "/api/v1/members", "{\"club_id\":\"%s\",\"category\":\"full\",\"profile\":\"Ada\"}",
     400, "invalid_type", "profile"},
    {"POST", "/api/v1/members",
     "{\"club_id\":\"%s\",\"category\":\"full\",\"profile\":{\"first_name\":\"Ada\","
     "\"last_name\":\"L\",\"email\":\"not-an-email\"}}",
     422, "invalid_field", "profile.email"},
    /* ledger */
    {"POST", "/api/v1/ledger/transactions", "{", 400, "invalid_json", "body"},
    {"POST", "/api/v1/ledger/transactions", "{\"tx\":\"AAAA\"}", 400, "missing_field",
     "endorsements"},
    {"POST", "/api/v1/ledger/transactions", "{\"tx\":\"AAAA\",\"endorsements\":\"x\"}", 400,
     "invalid_type", "endorsements"},
    {"POST", "/api/v1/ledger/transactions", "{\"tx\":\"AAAA\",\"endorsements\":[]}", 422,
     "invalid_field", "endorsements"},
    {"GET", "/api/v1/ledger/events?limit=abc", NULL, 400, "invalid_type", "limit"},
    {"GET", "/api/v1/ledger/events?limit=101", NULL, 422, "invalid_field", "limit"},
    /* GraphQL persisted documents */
    {"POST", "/api/v1/graphql/documents", "query", 400, "invalid_json", "body"},
    {"POST", "/api/v1/graphql/documents", "{}", 400, "missing_field", "document"},
    {"POST", "/api/v1/graphql/documents", "{\"document\":5}", 400, "invalid_type", "document"},
    {"POST", "/api/v1/graphql/documents", "{\"document\":\"query {\"}", 422, "invalid_field",
     "document"},
    /* analytics: a range names both ends ("%s" in a path is the club id too) */
    {"GET", "/api/v1/analytics/clubs/%s/report?from=2030-01-01", NULL, 400, "missing_field", "to"},
    {"GET", "/api/v1/analytics/clubs/%s/report?from=2030-01-02&to=2030-01-01", NULL, 422,
     "invalid_field", "to"},
};

/* tmpl with its "%s" (at most one) replaced by the club id */
static void with_club(const char *tmpl, char *out, size_t cap) {
    const char *p = strstr(tmpl, "%s");
    if (p)
        snprintf(out, cap, "%.*s%s%s", (int)(p - tmpl), tmpl, g_club, p + 2);
    else
        snprintf(out, cap, "%s", tmpl);
}

static void test_start(void) {
    const char *kek = getenv("RECIPROCAL_LEDGER_KEK");
    static char kek_buf[128];
    snprintf(kek_buf, sizeof kek_buf, "RECIPROCAL_LEDGER_KEK=%s", kek ? kek : "");
    const char *env[] = {kek_buf, NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    char slug[64];
    snprintf(slug, sizeof slug, "errors-%d", (int)getpid());
    REQUIRE(e2e_club(&g_proc, "Error Club", slug, E2E_CLUB_UTC, g_club) == 0);
}

static void test_rest_table(void) {
    for (size_t i = 0; i < sizeof k_rows / sizeof k_rows[0]; i++) {
        const row_t *w = &k_rows[i];
        char url[512], path[256], body[1024] = "";
        with_club(w->path, path, sizeof path);
        snprintf(url, sizeof url, "%s%s", g_proc.base, path);
        if (w->body) with_club(w->body, body, sizeof body);
        e2e_resp_t r;
        if (e2e_http(w->method, url, w->body ? "application/json" : NULL, w->body ? body : NULL,
                     &r) != 0) {
            CHECK(!"request failed");
            continue;
        }
        json_t *err = json_object_get(r.json, "error");
        const char *code = json_string_value(json_object_get(err, "code"));
        const char *field = json_string_value(json_object_get(err, "field"));
        int ok = r.status == w->status && code && strcmp(code, w->code) == 0 && field &&
                 strcmp(field, w->field) == 0 && json_is_string(json_object_get(err, "message"));
        if (!ok)
            printf("#   row %zu: %s %s %s -> %ld %s (want %ld %s field %s)\n", i, w->method,
                   w->path, w->body ? w->body : "", r.status, r.body, w->status, w->code, w->field);
        CHECK(ok);
        e2e_resp_free(&r);
    }
}

/* GraphQL mutations report the same code and field in userErrors. */
static void test_graphql_user_errors(void) {
    char url[256];
    snprintf(url, sizeof url, "%s/graphql", g_proc.base);
    const char *q =
        "{\"query\":\"mutation { createClub(input: {name: \\\"A\\\", slug: \\\"Bad Slug\\\", "
        "timezone: \\\"UTC\\\", address: {country: \\\"GB\\\"}}) { club { id } userErrors { "
        "field message code } } }\"}";
    e2e_resp_t r;
    REQUIRE(e2e_http("POST", url, "application/json", q, &r) == 0);
    json_t *ue = json_array_get(
        json_object_get(json_object_get(json_object_get(r.json, "data"), "createClub"),
                        "userErrors"),
        0);
    if (!ue) printf("#   %ld %s\n", r.status, r.body);
    CHECK_STR(json_string_value(json_object_get(ue, "code")), "invalid_field");
    CHECK_STR(json_string_value(json_object_get(ue, "field")), "slug");
    e2e_resp_free(&r);
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

int main(void) {
    RUN(test_start);
    if (g_proc.pid) {
        RUN(test_rest_table);
        RUN(test_graphql_user_errors);
        RUN(test_stop);
    }
    TEST_DONE();
}
