/* End-to-end: the member API of the real binary over HTTP, signed in as a network
 * administrator (who names the club with club_id): create a club, members with dependents,
 * status transitions (allowed and rejected with the allowed ones named), search, CSV import
 * dry run with errors then a clean import, CSV export (text/csv download), the membership card
 * (issue, verify valid / tampered / suspended / expired membership, the public key, key
 * rotation), GDPR export and erasure, the CSV import as a text/csv body (and its larger body
 * limit: > 1 MiB accepted there, 413 elsewhere), renewal of a lapsed member, creating a member
 * with an invitation (auth event -> register -> login -> GET /members/me); then the CSV export
 * once more with the member service in another process (raw bodies over NATS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/json.h"
#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_proc, g_member;
static char g_club[64], g_primary[40], g_dep[40], g_token[2048], g_slug[64];
static const char *const g_env[] = {
    "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", NULL};

static int req(const char *method, const char *path, const char *body, e2e_resp_t *r) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    return e2e_http(method, url, body ? "application/json" : NULL, body, r);
}

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}
static const char *err_code(const e2e_resp_t *r) {
    return jstr(json_object_get(r->json, "error"), "code");
}

static void test_start(void) {
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, g_env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
}

static void test_club_and_members(void) {
    char body[2048], path[256];
    e2e_resp_t r;
    snprintf(g_slug, sizeof g_slug, "members-%d", (int)getpid());
    REQUIRE(e2e_club(&g_proc, "Member Club", g_slug, NULL, g_club) == 0);

    /* a network administrator must name the club */
    REQUIRE(req("POST", "/api/v1/members",
                "{\"category\":\"full\",\"profile\":{\"first_name\":\"A\",\"last_name\":\"B\"}}",
                &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK_STR(jstr(json_object_get(r.json, "error"), "field"), "club_id");
    e2e_resp_free(&r);

    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"category\":\"full\",\"expires_on\":\"2099-12-31\","
             "\"profile\":{\"first_name\":\"Ada\",\"last_name\":\"Lovelace\",\"email\":"
             "\"ada@example.com\"},\"dependents\":[{\"category\":\"social\",\"relationship\":"
             "\"spouse\",\"profile\":{\"first_name\":\"Wil\",\"last_name\":\"Lovelace\"}}]}",
             g_club);
    REQUIRE(req("POST", "/api/v1/members", body, &r) == 0);
    REQUIRE(r.status == 201);
    snprintf(g_primary, sizeof g_primary, "%s", jstr(r.json, "id"));
    snprintf(g_dep, sizeof g_dep, "%s",
             jstr(json_array_get(json_object_get(r.json, "dependents"), 0), "id"));
    char loc[256], want[256];
    snprintf(want, sizeof want, "/api/v1/members/%s", g_primary);
    CHECK(e2e_header(&r, "Location", loc, sizeof loc) && !strcmp(loc, want));
    CHECK_STR(jstr(r.json, "status"), "pending");
    e2e_resp_free(&r);

    snprintf(path, sizeof path, "/api/v1/members/%s?club_id=%s", g_primary, g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(json_object_get(r.json, "profile"), "email"), "ada@example.com");
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/members/%s/dependents?club_id=%s", g_primary, g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 1);
    e2e_resp_free(&r);
}

static void test_transitions(void) {
    char path[256], body[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/members/%s/status", g_primary);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"suspended\"}", g_club);
    REQUIRE(req("POST", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 409);
    CHECK_STR(err_code(&r), "invalid_transition");
    const char *msg = jstr(json_object_get(r.json, "error"), "message");
    CHECK(msg && strstr(msg, "allowed: active, deceased"));
    e2e_resp_free(&r);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"active\",\"reason\":\"paid\"}",
             g_club);
    REQUIRE(req("POST", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(r.json, "status"), "active");
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "changes")), 2); /* + the dependent */
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/members/%s/status?club_id=%s", g_dep, g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 2);
    e2e_resp_free(&r);
}

static void test_search(void) {
    char path[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/members?club_id=%s&q=love&sort=name&limit=1", g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 1);
    const char *next = jstr(r.json, "next_cursor");
    REQUIRE(next != NULL);
    char p2[1024];
    snprintf(p2, sizeof p2, "/api/v1/members?club_id=%s&q=love&sort=name&limit=1&after=%s", g_club,
             next);
    e2e_resp_free(&r);
    REQUIRE(req("GET", p2, NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 1);
    CHECK(json_is_null(json_object_get(r.json, "next_cursor")));
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/members?club_id=%s&status=bogus", g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 422);
    e2e_resp_free(&r);
}

static void test_import_export(void) {
    e2e_resp_t r;
    json_t *b = json_pack("{s:s, s:s, s:b}", "club_id", g_club, "csv",
                          "member_number,category,first_name,last_name,email\n"
                          "I-1,full,Ivy,Imp,ivy@example.com\n"
                          "I-2,full,Ian,Imp,not-an-email\n"
                          "I-3,bogus,Ira,Imp,\n",
                          "dry_run", 1);
    char *s = jsonx_dump(b);
    REQUIRE(req("POST", "/api/v1/members/import", s, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    json_t *errs = json_object_get(r.json, "errors");
    CHECK_EQ_INT(json_array_size(errs), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(errs, 0), "line")), 3);
    CHECK_STR(jstr(json_array_get(errs, 0), "column"), "email");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(errs, 1), "line")), 4);
    CHECK_STR(jstr(json_array_get(errs, 1), "column"), "category");
    e2e_resp_free(&r);
    free(s);
    json_object_set_new(b, "dry_run", json_false());
    s = jsonx_dump(b);
    REQUIRE(req("POST", "/api/v1/members/import", s, &r) == 0);
    CHECK_EQ_INT(r.status, 422);
    e2e_resp_free(&r);
    free(s);
    json_object_set_new(b, "csv",
                        json_string("member_number,category,first_name,last_name\n"
                                    "I-1,full,Ivy,Imp\nI-2,senior,Ian,Imp\n"));
    s = jsonx_dump(b);
    REQUIRE(req("POST", "/api/v1/members/import", s, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "imported")), 2);
    e2e_resp_free(&r);
    free(s);
    json_decref(b);

    char path[256], buf[256];
    snprintf(path, sizeof path, "/api/v1/members/export?club_id=%s&q=imp&sort=member_number",
             g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(e2e_header(&r, "Content-Type", buf, sizeof buf) && strstr(buf, "text/csv"));
    CHECK(e2e_header(&r, "Content-Disposition", buf, sizeof buf) &&
          strstr(buf, "attachment; filename=\"members.csv\""));
    CHECK(strncmp(r.body, "id,member_number,", 17) == 0);
    CHECK(strstr(r.body, ",I-1,full,") && strstr(r.body, ",I-2,senior,"));
    e2e_resp_free(&r);
}

/* latitude / longitude columns: a number of degrees each, both or neither, in range; imported
 * into the home address (REST and GraphQL show them). */
static void test_import_coordinates(void) {
    e2e_resp_t r;
    json_t *b = json_pack("{s:s, s:s, s:b}", "club_id", g_club, "csv",
                          "member_number,category,first_name,last_name,city,country,latitude,"
                          "longitude\n"
                          "G-1,full,Geo,Ok,London,GB,51.5074,-0.1278\n"
                          "G-2,full,Geo,Word,London,GB,north,-0.1\n"
                          "G-3,full,Geo,Range,London,GB,95,0\n"
                          "G-4,full,Geo,Half,London,GB,51.5,\n",
                          "dry_run", 1);
    char *s = jsonx_dump(b);
    REQUIRE(req("POST", "/api/v1/members/import", s, &r) == 0);
    free(s);
    CHECK_EQ_INT(r.status, 200);
    json_t *errs = json_object_get(r.json, "errors");
    CHECK_EQ_INT(json_array_size(errs), 3);
    for (size_t i = 0; i < json_array_size(errs) && i < 3; i++) {
        json_t *x = json_array_get(errs, i);
        CHECK_EQ_INT(json_integer_value(json_object_get(x, "line")), (long)i + 3);
        CHECK(strcmp(jstr(x, "column"), "latitude") == 0 ||
              strcmp(jstr(x, "column"), "longitude") == 0);
    }
    e2e_resp_free(&r);
    json_object_set_new(b, "dry_run", json_false());
    json_object_set_new(b, "csv",
                        json_string("member_number,category,first_name,last_name,city,"
                                    "country,latitude,longitude\n"
                                    "G-1,full,Geo,Ok,London,GB,51.5074,-0.1278\n"));
    s = jsonx_dump(b);
    REQUIRE(req("POST", "/api/v1/members/import", s, &r) == 0);
    free(s);
    json_decref(b);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "imported")), 1);
    e2e_resp_free(&r);
    char path[256], id[64] = "";
    snprintf(path, sizeof path, "/api/v1/members?club_id=%s&q=geo", g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    json_t *m = json_array_get(json_object_get(r.json, "items"), 0);
    if (jstr(m, "id")) snprintf(id, sizeof id, "%s", jstr(m, "id"));
    e2e_resp_free(&r);
    REQUIRE(id[0]);
    snprintf(path, sizeof path, "/api/v1/members/%s?club_id=%s", id, g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    json_t *home = json_object_get(json_object_get(r.json, "addresses"), "home");
    CHECK(json_real_value(json_object_get(home, "latitude")) == 51.5074);
    CHECK(json_real_value(json_object_get(home, "longitude")) == -0.1278);
    e2e_resp_free(&r);
    char q[512];
    snprintf(q, sizeof q,
             "{\"query\":\"{ member(id: \\\"%s\\\", clubId: \\\"%s\\\") { addresses { home { "
             "city latitude longitude } } } }\"}",
             id, g_club);
    REQUIRE(req("POST", "/graphql", q, &r) == 0);
    json_t *gh = json_object_get(
        json_object_get(json_object_get(json_object_get(r.json, "data"), "member"), "addresses"),
        "home");
    if (!gh) printf("#   graphql: %s\n", r.body);
    CHECK(json_real_value(json_object_get(gh, "latitude")) == 51.5074);
    CHECK(json_real_value(json_object_get(gh, "longitude")) == -0.1278);
    e2e_resp_free(&r);
}

static void test_card(void) {
    char path[256], body[2200];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/members/%s/card?club_id=%s", g_primary, g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    REQUIRE(r.status == 200);
    snprintf(g_token, sizeof g_token, "%s", jstr(r.json, "token"));
    CHECK(jstr(r.json, "qr_svg") && strstr(jstr(r.json, "qr_svg"), "<svg"));
    e2e_resp_free(&r);
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", g_token);
    REQUIRE(req("POST", "/api/v1/cards/verify", body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_is_true(json_object_get(r.json, "valid")));
    e2e_resp_free(&r);
    /* tampered signature */
    char bad[2048];
    snprintf(bad, sizeof bad, "%s", g_token);
    size_t n = strlen(bad);
    bad[n - 3] = bad[n - 3] == 'A' ? 'B' : 'A';
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", bad);
    REQUIRE(req("POST", "/api/v1/cards/verify", body, &r) == 0);
    CHECK(json_is_false(json_object_get(r.json, "valid")));
    CHECK_STR(jstr(r.json, "reason"), "bad_signature");
    e2e_resp_free(&r);
    /* public key for offline checks */
    snprintf(path, sizeof path, "/api/v1/clubs/%s/card-key", g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(json_array_get(json_object_get(r.json, "keys"), 0), "alg"), "Ed25519");
    e2e_resp_free(&r);
    /* suspended: fails online */
    snprintf(path, sizeof path, "/api/v1/members/%s/status", g_primary);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"suspended\"}", g_club);
    REQUIRE(req("POST", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", g_token);
    REQUIRE(req("POST", "/api/v1/cards/verify", body, &r) == 0);
    CHECK(json_is_false(json_object_get(r.json, "valid")));
    CHECK_STR(jstr(r.json, "reason"), "member_suspended");
    e2e_resp_free(&r);
}

static void test_gdpr(void) {
    char path[256], body[256], buf[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/members/%s/export?club_id=%s", g_primary, g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(e2e_header(&r, "Content-Disposition", buf, sizeof buf) && strstr(buf, "attachment"));
    CHECK(strstr(r.body, "ada@example.com") != NULL);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/members/%s/status", g_primary);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"resigned\"}", g_club);
    REQUIRE(req("POST", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/members/%s/erase", g_primary);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\"}", g_club);
    REQUIRE(req("POST", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_is_true(json_object_get(r.json, "erased")));
    CHECK(strstr(r.body, "ada@example.com") == NULL);
    e2e_resp_free(&r);
}

/* The import takes the CSV itself as a text/csv body (club_id, dry_run in the query) and up to
 * 8 MiB there, while other routes keep the 1 MiB default. */
static void test_csv_body(void) {
    char url[512];
    e2e_resp_t r;
    snprintf(url, sizeof url, "%s/api/v1/members/import?club_id=%s&dry_run=true", g_proc.base,
             g_club);
    REQUIRE(e2e_http("POST", url, "text/csv; charset=utf-8",
                     "member_number,category,first_name,last_name\r\nC-1,full,Cee,Essvee\r\n"
                     "C-2,bogus,Cee,Essvee\r\n",
                     &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_is_true(json_object_get(r.json, "dry_run")));
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "errors")), 1);
    e2e_resp_free(&r);
    snprintf(url, sizeof url, "%s/api/v1/members/import?club_id=%s", g_proc.base, g_club);
    REQUIRE(e2e_http("POST", url, "text/csv",
                     "member_number,category,first_name,last_name\nC-1,full,Cee,Essvee\n",
                     &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "imported")), 1);
    e2e_resp_free(&r);
    REQUIRE(e2e_http("POST", url, "text/plain", "a,b\n", &r) == 0);
    CHECK_EQ_INT(r.status, 415);
    e2e_resp_free(&r);
    snprintf(url, sizeof url, "%s/api/v1/members", g_proc.base);
    REQUIRE(e2e_http("POST", url, "text/csv", "a,b\n", &r) == 0);
    CHECK_EQ_INT(r.status, 415); /* only the import takes CSV */
    e2e_resp_free(&r);
    /* 1.3 MB: over the global limit, under the import's */
    size_t cap = 1400000, n = 0;
    char *big = malloc(cap);
    REQUIRE(big != NULL);
    n += (size_t)snprintf(big, cap, "category,first_name,last_name,email,city,country\n");
    int rows = 0;
    while (n + 200 < 1300000) {
        n += (size_t)snprintf(big + n, cap - n,
                              "full,Firstname%06d,Lastname-Bulk-%06d,bulk.member.%06d@"
                              "example.com,Bigtown,GB\n",
                              rows, rows, rows);
        rows++;
    }
    snprintf(url, sizeof url, "%s/api/v1/members/import?club_id=%s&dry_run=true", g_proc.base,
             g_club);
    REQUIRE(e2e_http("POST", url, "text/csv", big, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "rows")), rows);
    CHECK(json_is_true(json_object_get(r.json, "valid")));
    e2e_resp_free(&r);
    snprintf(url, sizeof url, "%s/api/v1/members", g_proc.base);
    REQUIRE(e2e_http("POST", url, "application/json", big, &r) == 0);
    CHECK_EQ_INT(r.status, 413);
    e2e_resp_free(&r);
    free(big);
}

static void test_renew_rotate_expired(void) {
    char body[2400], path[256], id[40], token[2048];
    e2e_resp_t r;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"category\":\"full\",\"status\":\"active\",\"joined_on\":"
             "\"2019-01-01\",\"expires_on\":\"2020-01-01\",\"profile\":{\"first_name\":\"Old\","
             "\"last_name\":\"Timer\"}}",
             g_club);
    REQUIRE(req("POST", "/api/v1/members", body, &r) == 0);
    REQUIRE(r.status == 201);
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    e2e_resp_free(&r);
    /* expired membership: the card fails verification */
    snprintf(path, sizeof path, "/api/v1/members/%s/card?club_id=%s", id, g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    REQUIRE(r.status == 200);
    snprintf(token, sizeof token, "%s", jstr(r.json, "token"));
    e2e_resp_free(&r);
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
    REQUIRE(req("POST", "/api/v1/cards/verify", body, &r) == 0);
    CHECK(json_is_false(json_object_get(r.json, "valid")));
    CHECK_STR(jstr(r.json, "reason"), "membership_expired");
    e2e_resp_free(&r);
    /* sweep -> lapsed; renew -> active with the new expiry */
    snprintf(body, sizeof body, "{\"club_id\":\"%s\"}", g_club);
    REQUIRE(req("POST", "/api/v1/members/lapse-sweep", body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/members/%s/renew", id);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"expires_on\":\"2099-12-31\"}", g_club);
    REQUIRE(req("POST", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(r.json, "status"), "active");
    CHECK_STR(jstr(r.json, "expires_on"), "2099-12-31");
    e2e_resp_free(&r);
    /* key rotation: the old token's key stays published, new cards use the new key */
    snprintf(body, sizeof body, "{\"club_id\":\"%s\"}", g_club);
    REQUIRE(req("POST", "/api/v1/members/card-key/rotate", body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    char kid[40];
    snprintf(kid, sizeof kid, "%s", jstr(r.json, "kid") ? jstr(r.json, "kid") : "");
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/clubs/%s/card-key", g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK(json_array_size(json_object_get(r.json, "keys")) >= 2);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/members/%s/card?club_id=%s", id, g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(json_object_get(r.json, "card"), "kid"), kid);
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", jstr(r.json, "token"));
    e2e_resp_free(&r);
    REQUIRE(req("POST", "/api/v1/cards/verify", body, &r) == 0);
    CHECK(json_is_true(json_object_get(r.json, "valid")));
    e2e_resp_free(&r);
}

/* auth.invite_created carries the token's id; the token comes from auth.delivery_token, as
 * the notification service will fetch it (docs/security.md N3) */
static int invite_token(const char *email, char *out, size_t cap) {
    /* up to 30 s: the relay may be busy */
    return e2e_event_token("auth.invite_created", email, 60, out, cap);
}

/* invite -> token from the event -> register -> login; the access token into access */
static int register_login(const char *email, const char *pw, char *access, size_t cap) {
    char body[512], url[512], tok[128];
    e2e_resp_t r;
    if (invite_token(email, tok, sizeof tok) != 0) {
        printf("#   no auth.invite_created event for %s\n", email);
        return -1;
    }
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", tok, pw);
    snprintf(url, sizeof url, "%s/api/v1/auth/register", g_proc.base);
    if (e2e_http_as(NULL, "POST", url, "application/json", body, &r) != 0) return -1;
    long st = r.status;
    if (st != 200) printf("#   register %s: %ld %s\n", email, st, r.body);
    e2e_resp_free(&r);
    if (st != 200) return -1;
    snprintf(body, sizeof body, "{\"club\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}", g_slug,
             email, pw);
    snprintf(url, sizeof url, "%s/api/v1/auth/login", g_proc.base);
    if (e2e_http_as(NULL, "POST", url, "application/json", body, &r) != 0) return -1;
    int ok = r.status == 200 && jstr(r.json, "access_token");
    if (ok) snprintf(access, cap, "%s", jstr(r.json, "access_token"));
    if (!ok) printf("#   login %s: %ld %s\n", email, r.status, r.body);
    e2e_resp_free(&r);
    return ok ? 0 : -1;
}

/* A club administrator (invited through auth by the network administrator) creates a member
 * with an invitation, in their own club without naming it; the member accepts, signs in and
 * GET /members/me is that member. */
static void test_invite(void) {
    char body[1024], email[128], admin_email[128], id[40], user[40], access[2048], club_admin[2048];
    const char *pw = "Marmalade-Harbour-77";
    e2e_resp_t r;
    snprintf(admin_email, sizeof admin_email, "club-admin-%d@example.com", (int)getpid());
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"role\":\"club_admin\",\"club_id\":\"%s\"}",
             admin_email, g_club);
    REQUIRE(req("POST", "/api/v1/auth/invites", body, &r) == 0);
    REQUIRE(r.status == 201);
    e2e_resp_free(&r);
    REQUIRE(register_login(admin_email, pw, club_admin, sizeof club_admin) == 0);
    snprintf(email, sizeof email, "invited-%d@example.com", (int)getpid());
    snprintf(body, sizeof body,
             "{\"category\":\"full\",\"status\":\"active\",\"invite\":true,"
             "\"profile\":{\"first_name\":\"Ivo\",\"last_name\":\"Invited\",\"email\":\"%s\"}}",
             email);
    char url[512];
    snprintf(url, sizeof url, "%s/api/v1/members", g_proc.base);
    REQUIRE(e2e_http_as(club_admin, "POST", url, "application/json", body, &r) == 0);
    REQUIRE(r.status == 201);
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    REQUIRE(jstr(r.json, "auth_user_id") != NULL);
    snprintf(user, sizeof user, "%s", jstr(r.json, "auth_user_id"));
    CHECK_STR(jstr(r.json, "club_id"), g_club);
    CHECK_STR(jstr(json_object_get(r.json, "invitation"), "status"), "sent");
    e2e_resp_free(&r);
    REQUIRE(register_login(email, pw, access, sizeof access) == 0);
    /* the new account is the member */
    snprintf(url, sizeof url, "%s/api/v1/members/me", g_proc.base);
    REQUIRE(e2e_http_as(access, "GET", url, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(r.json, "id"), id);
    CHECK_STR(jstr(r.json, "auth_user_id"), user);
    e2e_resp_free(&r);
    snprintf(url, sizeof url, "%s/api/v1/members/%s/card", g_proc.base, id);
    REQUIRE(e2e_http_as(access, "GET", url, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200); /* their own card */
    e2e_resp_free(&r);
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

/* The raw CSV body crosses NATS unchanged when the member service runs elsewhere. */
static void test_split_export(void) {
    REQUIRE(e2e_start(&g_member, "member,auth", 0, 0, g_env) == 0);
    REQUIRE(e2e_start(&g_proc, "gateway", 0, 1, g_env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    char path[256], buf[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/members/export?club_id=%s&q=imp", g_club);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(e2e_header(&r, "Content-Type", buf, sizeof buf) && strstr(buf, "text/csv"));
    CHECK(strstr(r.body, ",I-1,full,") != NULL);
    e2e_resp_free(&r);
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
    CHECK_EQ_INT(e2e_stop(&g_member), 0);
}

int main(void) {
    RUN(test_start);
    if (test_fails_ == 0) {
        RUN(test_club_and_members);
        RUN(test_transitions);
        RUN(test_search);
        RUN(test_import_export);
        RUN(test_import_coordinates);
        RUN(test_card);
        RUN(test_gdpr);
        RUN(test_csv_body);
        RUN(test_renew_rotate_expired);
        RUN(test_invite);
        RUN(test_stop);
        RUN(test_split_export);
    }
    TEST_DONE();
}
