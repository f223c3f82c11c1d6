/* End-to-end: start the real binary and drive the clubs REST API like a client, in one process
 * and split across two processes (member service + gateway over NATS), then check the events
 * reach the EVENTS stream, /metrics is valid Prometheus text, PostgreSQL restarts are survived,
 * and bad CLI input is a clear error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/err.h"
#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_proc;  /* the gateway (or all-in-one) process under test */
static char g_tag[32];     /* makes slugs unique per run and per mode */
static char g_club_id[64]; /* club created by test_create */

static int req(const char *method, const char *path, const char *body, e2e_resp_t *r) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    return e2e_http(method, url, body ? "application/json" : NULL, body, r);
}

static const char *err_field(const e2e_resp_t *r) {
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "field"));
}
static const char *err_code(const e2e_resp_t *r) {
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

static void test_health(void) {
    e2e_resp_t r;
    REQUIRE(req("GET", "/health/live", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    REQUIRE(req("GET", "/health/ready", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "status")), "ready");
    e2e_resp_free(&r);
}

static void test_create(void) {
    char body[1024], path[256], buf[256];
    snprintf(
        body, sizeof body,
        "{\"name\":\"Harbour Club\",\"slug\":\"harbour-%s\",\"timezone\":\"Europe/London\","
        "\"address\":{\"city\":\"London\",\"country\":\"gb\"},\"facilities\":[\"dining\","
        "\"rooms\"],\"latitude\":51.5,\"longitude\":-0.12,\"contact_phone\":\"+442071234567\"}",
        g_tag);
    e2e_resp_t r;
    REQUIRE(req("POST", "/api/v1/clubs", body, &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    const char *id = json_string_value(json_object_get(r.json, "id"));
    REQUIRE(id != NULL);
    snprintf(g_club_id, sizeof g_club_id, "%s", id);
    CHECK_STR(json_string_value(json_object_get(r.json, "status")), "active");
    CHECK_STR(json_string_value(json_object_get(json_object_get(r.json, "address"), "country")),
              "GB");
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "facilities")), 2);
    snprintf(path, sizeof path, "/api/v1/clubs/%s", id);
    CHECK(e2e_header(&r, "Location", buf, sizeof buf) && strcmp(buf, path) == 0);
    CHECK(e2e_header(&r, "X-Request-Id", buf, sizeof buf) != NULL);
    e2e_resp_free(&r);

    /* by id and by slug */
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "name")), "Harbour Club");
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/clubs/harbour-%s", g_tag);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "id")), g_club_id);
    e2e_resp_free(&r);

    /* duplicate slug */
    REQUIRE(req("POST", "/api/v1/clubs", body, &r) == 0);
    CHECK_EQ_INT(r.status, 409);
    CHECK_STR(err_code(&r), "conflict");
    CHECK_STR(err_field(&r), "slug");
    e2e_resp_free(&r);
}

/* One bad request: expected status and error field. */
static void expect_error(const char *method, const char *path, const char *ct, const char *body,
                         long status, const char *field) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    e2e_resp_t r;
    if (e2e_http(method, url, ct, body, &r) != 0) {
        CHECK(!"request failed");
        return;
    }
    if (r.status != status) printf("#   %s %s -> %ld %s\n", method, path, r.status, r.body);
    CHECK_EQ_INT(r.status, status);
    json_t *err = json_object_get(r.json, "error");
    CHECK(json_is_string(json_object_get(err, "code")));
    CHECK(json_is_string(json_object_get(err, "message")));
    if (field) CHECK_STR(err_field(&r), field);
    e2e_resp_free(&r);
}

static void test_bad_input(void) {
    const char *j = "application/json";
    expect_error("POST", "/api/v1/clubs", j, "{\"slug\":\"x1\",\"timezone\":\"UTC\"}", 400, "name");
    expect_error("POST", "/api/v1/clubs", j,
                 "{\"name\":\"A\",\"slug\":\"Bad Slug\",\"timezone\":\"UTC\",\"address\":{"
                 "\"country\":\"GB\"}}",
                 422, "slug");
    expect_error("POST", "/api/v1/clubs", j,
                 "{\"name\":\"A\",\"slug\":\"ok-slug-zz\",\"timezone\":\"UTC\",\"address\":{"
                 "\"country\":\"XX\"}}",
                 422, "address.country");
    expect_error("POST", "/api/v1/clubs", j,
                 "{\"name\":\"A\",\"slug\":\"ok-slug-zz\",\"timezone\":\"Mars/Olympus\","
                 "\"address\":{\"country\":\"GB\"}}",
                 422, "timezone");
    expect_error("POST", "/api/v1/clubs", j,
                 "{\"name\":\"A\",\"slug\":\"ok-slug-zz\",\"timezone\":\"UTC\",\"address\":{"
                 "\"country\":\"GB\"},\"colour\":\"red\"}",
                 400, "colour");
    expect_error("POST", "/api/v1/clubs", j,
                 "{\"name\":\"A\",\"slug\":\"ok-slug-zz\",\"timezone\":\"UTC\",\"address\":{"
                 "\"country\":\"GB\"},\"facilities\":[\"helipad\"]}",
                 422, "facilities[0]");
    expect_error("POST", "/api/v1/clubs", j,
                 "{\"name\":\"A\",\"slug\":\"ok-slug-zz\",\"timezone\":\"UTC\",\"address\":{"
                 "\"country\":\"GB\"},\"latitude\":91,\"longitude\":0}",
                 422, "latitude");
    expect_error("POST", "/api/v1/clubs", j,
                 "{\"name\":\"A\",\"slug\":\"ok-slug-zz\",\"timezone\":\"UTC\",\"address\":{"
                 "\"country\":\"GB\"},\"contact_email\":\"not-an-email\"}",
                 422, "contact_email");
    expect_error("POST", "/api/v1/clubs", j, "{\"name\":", 400, NULL);
    expect_error("POST", "/api/v1/clubs", j, "{\"name\":\"a\",\"name\":\"b\"}", 400, NULL);
    expect_error("POST", "/api/v1/clubs", "text/plain", "{\"name\":\"A\"}", 415, "content-type");
    expect_error("GET", "/api/v1/clubs/00000000-0000-4000-8000-000000000000", NULL, NULL, 404,
                 "id");
    expect_error("GET", "/api/v1/clubs/no-such-club", NULL, NULL, 404, "id");
    expect_error("GET", "/api/v1/nothing-here", NULL, NULL, 404, NULL);
    expect_error("DELETE", "/api/v1/clubs", NULL, NULL, 405, NULL);
    expect_error("GET", "/api/v1/clubs?limit=0", NULL, NULL, 422, "limit");
    expect_error("GET", "/api/v1/clubs?limit=abc", NULL, NULL, 400, "limit");
    expect_error("GET", "/api/v1/clubs?after=garbage", NULL, NULL, 400, "after");
    expect_error("GET", "/api/v1/clubs?country=ZZ", NULL, NULL, 422, "country");
    /* oversized body (limit 1 MiB by default) */
    size_t big = 2u << 20;
    char *huge = malloc(big + 32);
    memset(huge, ' ', big);
    memcpy(huge, "{\"name\":\"", 9);
    strcpy(huge + big - 3, "\"}");
    expect_error("POST", "/api/v1/clubs", j, huge, 413, NULL);
    free(huge);
}

static void test_update_and_status(void) {
    char path[256];
    e2e_resp_t r;
    REQUIRE(g_club_id[0]);
    snprintf(path, sizeof path, "/api/v1/clubs/%s", g_club_id);
    REQUIRE(req("PATCH", path,
                "{\"name\":\"Harbour Club & Marina\",\"address\":{\"city\":"
                "\"Greenwich\"},\"facilities\":[\"dining\",\"marina\"]}",
                &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "name")), "Harbour Club & Marina");
    CHECK_STR(json_string_value(json_object_get(json_object_get(r.json, "address"), "city")),
              "Greenwich");
    CHECK_STR(json_string_value(json_object_get(json_object_get(r.json, "address"), "country")),
              "GB");
    e2e_resp_free(&r);
    expect_error("PATCH", path, "application/json", "{\"status\":\"suspended\"}", 422, "status");
    expect_error("PATCH", path, "application/json", "{}", 400, NULL);
    expect_error("PATCH", path, "application/json", "{\"name\":null}", 422, "name");

    snprintf(path, sizeof path, "/api/v1/clubs/%s/deactivate", g_club_id);
    REQUIRE(req("POST", path, "{\"reason\":\"renovation\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "status")), "suspended");
    e2e_resp_free(&r);
    /* repeating is harmless */
    REQUIRE(req("POST", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "status")), "suspended");
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/clubs/%s/activate", g_club_id);
    REQUIRE(req("POST", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "status")), "active");
    e2e_resp_free(&r);
}

static void test_list_pagination(void) {
    /* three more clubs in a country nobody else uses in this run, then page through them */
    const char *countries[] = {"IS", "FO"};
    const char *country = strcmp(g_tag, "one") == 0 ? countries[0] : countries[1];
    for (int i = 0; i < 3; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"name\":\"Page Club %d\",\"slug\":\"page-%s-%d\",\"timezone\":\"UTC\","
                 "\"address\":{\"country\":\"%s\"},\"facilities\":[\"%s\"]}",
                 i, g_tag, i, country, i == 1 ? "golf" : "spa");
        e2e_resp_t r;
        REQUIRE(req("POST", "/api/v1/clubs", body, &r) == 0);
        CHECK_EQ_INT(r.status, 201);
        e2e_resp_free(&r);
    }
    char path[256], seen[3][64] = {{0}};
    int pages = 0, total = 0;
    const char *cursor = NULL;
    char cursor_buf[256] = "";
    do {
        if (cursor)
            snprintf(path, sizeof path, "/api/v1/clubs?country=%s&limit=2&after=%s", country,
                     cursor);
        else
            snprintf(path, sizeof path, "/api/v1/clubs?country=%s&limit=2", country);
        e2e_resp_t r;
        REQUIRE(req("GET", path, NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        json_t *items = json_object_get(r.json, "items");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            if (total < 3)
                snprintf(seen[total], sizeof seen[total], "%s",
                         json_string_value(json_object_get(it, "slug")));
            total++;
        }
        const char *next = json_string_value(json_object_get(r.json, "next_cursor"));
        if (next) snprintf(cursor_buf, sizeof cursor_buf, "%s", next);
        cursor = next ? cursor_buf : NULL;
        e2e_resp_free(&r);
        pages++;
    } while (cursor && pages < 5);
    CHECK_EQ_INT(total, 3);
    CHECK_EQ_INT(pages, 2);
    char want[64];
    for (int i = 0; i < 3; i++) {
        snprintf(want, sizeof want, "page-%s-%d", g_tag, i);
        CHECK_STR(seen[i], want);
    }
    snprintf(path, sizeof path, "/api/v1/clubs?country=%s&facility=golf", country);
    e2e_resp_t r;
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(r.json, "items")), 1);
    CHECK(json_is_null(json_object_get(r.json, "next_cursor")));
    e2e_resp_free(&r);
}

typedef struct seen_event {
    const char *club_id;
    int created, updated, status_changed;
} seen_event_t;

static int on_event(const char *subject, const char *msg_id, const char *data, size_t len,
                    void *ud) {
    seen_event_t *s = ud;
    json_t *ev = json_loadb(data, len, 0, NULL);
    const char *tenant = json_string_value(json_object_get(ev, "tenant_id"));
    if (tenant && strcmp(tenant, s->club_id) == 0) {
        CHECK_STR(json_string_value(json_object_get(ev, "id")), msg_id);
        CHECK(json_is_object(json_object_get(ev, "metadata")));
        CHECK_STR(json_string_value(json_object_get(ev, "source")), "member");
        if (strcmp(subject, "events.club.created") == 0) s->created++;
        if (strcmp(subject, "events.club.updated") == 0) s->updated++;
        if (strcmp(subject, "events.club.status_changed") == 0) s->status_changed++;
    }
    json_decref(ev);
    return 0;
}

static void test_events_on_stream(void) {
    err_t e = {0};
    REQUIRE(g_club_id[0]);
    bus_t *b = bus_connect(getenv("RECIPROCAL_TEST_NATS_URL"), "e2e-test", &e);
    REQUIRE(b != NULL);
    seen_event_t s = {.club_id = g_club_id};
    char durable[64];
    snprintf(durable, sizeof durable, "e2e_%s_%d", g_tag, (int)getpid());
    /* the relay publishes shortly after commit; poll for up to ~10 s */
    for (int i = 0; i < 20 && (s.created < 1 || s.status_changed < 2); i++)
        bus_js_fetch(b, "EVENTS", durable, "events.club.>", 200, 500, on_event, &s, &e);
    CHECK_EQ_INT(s.created, 1);
    CHECK_EQ_INT(s.updated, 1);
    CHECK_EQ_INT(s.status_changed, 2);
    bus_close(b);
}

static void test_metrics(void) {
    e2e_resp_t r;
    REQUIRE(req("GET", "/metrics", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "http_requests_total{") != NULL);
    CHECK(strstr(r.body, "route=\"/api/v1/clubs/{id}\"") != NULL);
    CHECK(strstr(r.body, "http_request_duration_seconds_bucket{") != NULL);
    CHECK(strstr(r.body, "db_pool_connections") != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.txt",
             getenv("RECIPROCAL_TEST_TMP") ? getenv("RECIPROCAL_TEST_TMP") : "/tmp");
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(r.body, f);
    fclose(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    if (rc != 0 || n > 0) printf("#   promtool: %s\n", out);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(n, 0);
    e2e_resp_free(&r);
}

/* Auth (issue 3): the clubs operations need a signed-in caller with the right permission. */
static void test_requires_token(void) {
    char url[256], buf[256];
    e2e_resp_t r;
    snprintf(url, sizeof url, "%s/api/v1/clubs", g_proc.base);
    REQUIRE(e2e_http_as(NULL, "GET", url, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    CHECK_STR(err_code(&r), "unauthenticated");
    CHECK(e2e_header(&r, "WWW-Authenticate", buf, sizeof buf) != NULL);
    e2e_resp_free(&r);
    REQUIRE(e2e_http_as("not-a-token", "POST", url, "application/json", "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    e2e_resp_free(&r);
}

static void run_api_suite(void) {
    RUN(test_requires_token);
    RUN(test_health);
    RUN(test_create);
    RUN(test_bad_input);
    RUN(test_update_and_status);
    RUN(test_list_pagination);
    RUN(test_events_on_stream);
    RUN(test_metrics);
}

static void test_start_all_in_one(void) {
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, NULL) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0); /* auth (issue 3): a network admin */
}
static void test_stop_all_in_one(void) {
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

static e2e_proc_t g_member;
static void test_start_split(void) {
    REQUIRE(e2e_start(&g_member, "member,auth", 0, 0, NULL) == 0);
    REQUIRE(e2e_start(&g_proc, "gateway", 0, 1, NULL) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0); /* login travels over NATS to auth */
}

static void test_split_without_member_is_503(void) {
    CHECK_EQ_INT(e2e_stop(&g_member), 0);
    e2e_resp_t r;
    REQUIRE(req("GET", "/api/v1/clubs", NULL, &r) == 0);
    CHECK(r.status == 503 || r.status == 504);
    CHECK(err_code(&r) != NULL);
    e2e_resp_free(&r);
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

/* PostgreSQL restarted under the running service: requests recover. */
static void test_postgres_restart(void) {
    const char *pgctl = TEST_ENV("RECIPROCAL_TEST_PG_CTL");
    REQUIRE(pgctl != NULL);
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, NULL) == 0);
    char cmd[1024];
    /* PostgreSQL down: readiness says so (503 naming it), liveness does not care */
    snprintf(cmd, sizeof cmd, "%s stop >/dev/null 2>&1", pgctl);
    CHECK_EQ_INT(system(cmd), 0);
    e2e_resp_t down;
    REQUIRE(req("GET", "/health/ready", NULL, &down) == 0);
    CHECK_EQ_INT(down.status, 503);
    CHECK_STR(err_code(&down), "unavailable");
    CHECK_STR(json_string_value(json_object_get(json_object_get(down.json, "checks"), "postgres")),
              "down");
    e2e_resp_free(&down);
    REQUIRE(req("GET", "/health/live", NULL, &down) == 0);
    CHECK_EQ_INT(down.status, 200);
    e2e_resp_free(&down);
    REQUIRE(req("GET", "/api/v1/clubs", NULL, &down) == 0);
    CHECK_EQ_INT(down.status, 503);
    e2e_resp_free(&down);
    snprintf(cmd, sizeof cmd, "%s start >/dev/null 2>&1", pgctl);
    CHECK_EQ_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s restart >/dev/null 2>&1", pgctl);
    CHECK_EQ_INT(system(cmd), 0);
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        e2e_resp_t r;
        if (req("GET", "/api/v1/clubs?limit=1", NULL, &r) == 0 && r.status == 200) ok = 1;
        e2e_resp_free(&r);
        if (!ok) usleep(200000);
    }
    CHECK(ok);
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"After Restart\",\"slug\":\"after-restart-%d\",\"timezone\":\"UTC\","
             "\"address\":{\"country\":\"NZ\"}}",
             (int)getpid());
    e2e_resp_t r;
    REQUIRE(req("POST", "/api/v1/clubs", body, &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    e2e_resp_free(&r);
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

static void test_cli_errors(void) {
    char *out = NULL;
    const char *a1[] = {"migrate", "sideways", NULL};
    CHECK_EQ_INT(e2e_run(a1, NULL, &out), 2);
    CHECK(out && strstr(out, "migrate needs up") != NULL);
    free(out);
    const char *a2[] = {"migrate", "status", NULL};
    const char *bad_env[] = {"RECIPROCAL_DB_POOL_SIZE=lots", NULL};
    CHECK(e2e_run(a2, bad_env, &out) != 0);
    CHECK(out && strstr(out, "RECIPROCAL_DB_POOL_SIZE") != NULL);
    free(out);
    const char *a3[] = {"serve", "--services", "member,bogus", NULL};
    CHECK(e2e_run(a3, NULL, &out) != 0);
    CHECK(out && strstr(out, "bogus") != NULL);
    free(out);
    const char *a4[] = {"migrate", "status", NULL};
    CHECK_EQ_INT(e2e_run(a4, NULL, &out), 0);
    CHECK(out && strstr(out, "clubs") != NULL);
    free(out);
}

int main(void) {
    RUN(test_cli_errors);
    snprintf(g_tag, sizeof g_tag, "one");
    RUN(test_start_all_in_one);
    if (g_proc.pid) {
        run_api_suite();
        RUN(test_stop_all_in_one);
    }
    snprintf(g_tag, sizeof g_tag, "split");
    g_club_id[0] = 0;
    RUN(test_start_split);
    if (g_proc.pid) {
        run_api_suite();
        RUN(test_split_without_member_is_503);
    } else {
        e2e_stop(&g_member);
    }
    RUN(test_postgres_restart);
    TEST_DONE();
}
