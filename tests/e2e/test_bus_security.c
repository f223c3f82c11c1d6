/* test_bus_security: the NATS bus is not an open door (issue 9, defect 2; docs/security.md N1,
 * N2). A `reciprocal serve` (all services, NATS user `all`) runs against the harness's
 * nats-server, which requires credentials (tests/run.sh, scripts/pg.sh rcp_nats_conf). As an
 * attacker who reaches nats-server: without credentials the connection is refused; with a real
 * service's credentials a forged caller ({network_admin:true, perms:"*"}) on svc.member.* and
 * svc.auth.* is refused, and so is a signed envelope that was altered, re-targeted, expired or
 * signed with another key; a service's credentials cannot publish another service's events,
 * answer another service's subjects or read another user's replies; `auth.revoked` is open to
 * the auth service (publish) and the gateway (subscribe) only. */
#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/service.h"
#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_proc;
static cfg_t g_cfg; /* the harness environment: RECIPROCAL_BUS_KEY */
static const char *g_url;

static bus_t *connect_as(const char *user) {
    char pw[256];
    err_t e = {0};
    if (e2e_nats_password(user, pw, sizeof pw) != 0) {
        printf("#   no password for NATS user %s\n", user);
        return NULL;
    }
    bus_t *b = bus_connect_auth(g_url, "bus-security-test", user, pw, &e);
    if (!b) printf("#   connect as %s: %s\n", user, e.message);
    return b;
}

/* One raw request; *status and *code from the reply ({status, error{code}} or {status, body}). */
static int raw_call(bus_t *b, const char *subject, const char *payload, size_t len, int *status,
                    char *code, size_t cap) {
    err_t e = {0};
    char *reply = NULL;
    size_t rlen = 0;
    *status = 0;
    code[0] = '\0';
    if (bus_request(b, subject, payload, len, 3000, &reply, &rlen, &e) != 0) {
        snprintf(code, cap, "%s", e.code);
        *status = e.status;
        return -1;
    }
    json_t *j = json_loadb(reply, rlen, 0, NULL);
    free(reply);
    *status = (int)json_integer_value(json_object_get(j, "status"));
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(code, cap, "%s", c ? c : "");
    json_decref(j);
    return 0;
}

static const char *forged_json(void) {
    return "{\"caller\":{\"user_id\":\"00000000-0000-4000-8000-000000000001\",\"club_id\":\"\","
           "\"network_admin\":true,\"perms\":\"*\"},\"input\":{}}";
}

static void test_start(void) {
    err_t e = {0};
    g_url = getenv("RECIPROCAL_TEST_NATS_SERVER_URL");
    REQUIRE(g_url);
    REQUIRE(cfg_load(&g_cfg, NULL, &e) == 0);
    REQUIRE(g_cfg.bus_key.set);
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, NULL) == 0);
}

/* N1: nats-server refuses a connection without credentials or with a wrong password */
static void test_no_credentials_refused(void) {
    err_t e = {0};
    bus_t *b = bus_connect(g_url, "anonymous", &e);
    CHECK(b == NULL);
    if (b) bus_close(b);
    CHECK_EQ_INT(e.status, 503);
    e = (err_t){0};
    b = bus_connect_auth(g_url, "guesser", "gateway", "not-the-password", &e);
    CHECK(b == NULL);
    if (b) bus_close(b);
}

/* N2: a forged caller in plain JSON, sent with a real service's credentials (the gateway's,
 * which may call every service), is refused by the member and the auth service */
static void test_forged_caller_refused(void) {
    bus_t *b = connect_as("gateway");
    REQUIRE(b);
    static const char *const subjects[] = {"svc.member.list_clubs", "svc.member.list_members",
                                           "svc.auth.users_list", "svc.auth.audit_list", NULL};
    for (const char *const *s = subjects; *s; s++) {
        int status = 0;
        char code[64];
        raw_call(b, *s, forged_json(), strlen(forged_json()), &status, code, sizeof code);
        printf("# forged caller on %s -> %d %s\n", *s, status, code);
        CHECK_EQ_INT(status, 401);
        CHECK_STR(code, "invalid_assertion");
    }
    bus_close(b);
}

/* An envelope sealed with this run's key: the positive case, then every way to abuse one. */
static void test_envelope_binding(void) {
    err_t e = {0};
    bus_t *b = connect_as("gateway");
    REQUIRE(b);
    svc_caller_t admin = {0};
    admin.network_admin = 1;
    snprintf(admin.user_id, sizeof admin.user_id, "00000000-0000-4000-8000-000000000001");
    snprintf(admin.perms, sizeof admin.perms, "*");
    json_t *in = json_object();
    size_t len = 0;
    int status = 0;
    char code[64];
    /* sealed with the deployment's key: believed (this is how the gateway calls) */
    char *msg = svc_envelope_seal(g_cfg.bus_key.key, "svc.member.list_clubs", &admin, in, &len, &e);
    REQUIRE(msg);
    CHECK_EQ_INT(raw_call(b, "svc.member.list_clubs", msg, len, &status, code, sizeof code), 0);
    CHECK_EQ_INT(status, 200);
    /* the same message on another subject (re-targeted to another operation) */
    raw_call(b, "svc.auth.users_list", msg, len, &status, code, sizeof code);
    CHECK_EQ_INT(status, 401);
    CHECK_STR(code, "invalid_assertion");
    /* one byte of the caller changed (network_admin false -> ...) */
    char *alt = strdup(msg);
    char *p = strstr(alt, "\"perms\":\"*\"");
    REQUIRE(p);
    p[9] = '+';
    raw_call(b, "svc.member.list_clubs", alt, len, &status, code, sizeof code);
    CHECK_EQ_INT(status, 401);
    CHECK_STR(code, "invalid_assertion");
    free(alt);
    free(msg);
    /* sealed with another key */
    unsigned char other[32];
    randombytes_buf(other, sizeof other);
    msg = svc_envelope_seal(other, "svc.member.list_clubs", &admin, in, &len, &e);
    REQUIRE(msg);
    raw_call(b, "svc.member.list_clubs", msg, len, &status, code, sizeof code);
    CHECK_EQ_INT(status, 401);
    CHECK_STR(code, "invalid_assertion");
    free(msg);
    /* expired: a correct MAC over an expiry in the past (the format of service.c) */
    char exp[24], hex[65], body[512];
    unsigned char mac[32];
    snprintf(exp, sizeof exp, "%lld", (long long)time(NULL) * 1000 - 1000);
    const char *subject = "svc.member.list_clubs";
    const char *json = forged_json();
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, g_cfg.bus_key.key, 32);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"RCB1\n", 5);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)subject, strlen(subject));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)exp, strlen(exp));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)json, strlen(json));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    int n = snprintf(body, sizeof body, "RCB1 %s %s\n%s", exp, hex, json);
    raw_call(b, subject, body, (size_t)n, &status, code, sizeof code);
    CHECK_EQ_INT(status, 401);
    CHECK_STR(code, "invalid_assertion");
    /* and the same with a fresh expiry is accepted, so the refusal above is the expiry's */
    snprintf(exp, sizeof exp, "%lld", (long long)time(NULL) * 1000 + 10000);
    crypto_auth_hmacsha256_init(&st, g_cfg.bus_key.key, 32);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"RCB1\n", 5);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)subject, strlen(subject));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)exp, strlen(exp));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)json, strlen(json));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    n = snprintf(body, sizeof body, "RCB1 %s %s\n%s", exp, hex, json);
    raw_call(b, subject, body, (size_t)n, &status, code, sizeof code);
    CHECK_EQ_INT(status, 200);
    json_decref(in);
    bus_close(b);
}

/* N1: the auth service's credentials cannot publish the member service's events */
static int count_msg(const char *subject, const char *msg_id, const char *data, size_t len,
                     void *ud) {
    (void)subject;
    (void)msg_id;
    (void)data;
    (void)len;
    (*(int *)ud)++;
    return 0;
}

static void test_cannot_publish_others_events(void) {
    err_t e = {0};
    bus_t *b = connect_as("auth");
    REQUIRE(b);
    char subject[96], id[64];
    snprintf(subject, sizeof subject, "events.member.forged_%d", (int)getpid());
    snprintf(id, sizeof id, "forged-%d", (int)getpid());
    int dup = 0;
    CHECK(bus_js_publish(b, subject, id, "{\"type\":\"member.created\"}", 25, &dup, &e) != 0);
    bus_close(b);
    bus_t *t = bus_connect(getenv("RECIPROCAL_TEST_NATS_URL"), "bus-security-reader", &e);
    REQUIRE(t);
    char durable[64];
    snprintf(durable, sizeof durable, "forged_%d", (int)getpid());
    int n = 0;
    CHECK(bus_js_fetch(t, "EVENTS", durable, subject, 10, 500, count_msg, &n, &e) >= 0);
    CHECK_EQ_INT(n, 0);
    bus_close(t);
}

/* N1: the auth service's credentials cannot answer svc.member.* (nor read the gateway's
 * replies): every request reaches the real member service */
static atomic_int g_rogue;

static char *rogue(const char *subject, const char *data, size_t len, size_t *reply_len, void *ud) {
    (void)subject;
    (void)data;
    (void)len;
    (void)ud;
    atomic_fetch_add(&g_rogue, 1);
    *reply_len = 2;
    return strdup("{}");
}

static void test_cannot_answer_others_subjects(void) {
    err_t e = {0};
    bus_t *r = connect_as("auth");
    REQUIRE(r);
    CHECK_EQ_INT(bus_serve(r, "svc.member.*", "svc.member", 4, rogue, NULL, &e), 0);
    CHECK_EQ_INT(bus_serve(r, "_INBOX.gateway.>", "snoop", 1, rogue, NULL, &e), 0);
    bus_t *g = connect_as("gateway");
    REQUIRE(g);
    usleep(300 * 1000);
    svc_caller_t anon = {0};
    json_t *in = json_object();
    int answered = 0;
    for (int i = 0; i < 20; i++) {
        size_t len = 0;
        int status = 0;
        char code[64];
        char *msg =
            svc_envelope_seal(g_cfg.bus_key.key, "svc.member.list_clubs", &anon, in, &len, &e);
        REQUIRE(msg);
        if (raw_call(g, "svc.member.list_clubs", msg, len, &status, code, sizeof code) == 0 &&
            status == 401 && strcmp(code, "unauthenticated") == 0)
            answered++; /* the real service: an anonymous caller may not list clubs */
        free(msg);
    }
    json_decref(in);
    printf("# rogue responder got %d of 20 requests\n", atomic_load(&g_rogue));
    CHECK_EQ_INT(atomic_load(&g_rogue), 0);
    CHECK_EQ_INT(answered, 20);
    bus_close(g);
    bus_close(r);
}

/* auth.revoked (session revocation broadcast): published by the auth service, received by the
 * gateway; the member service may not publish it */
static char *pong(const char *subject, const char *data, size_t len, size_t *reply_len, void *ud) {
    (void)subject;
    (void)data;
    (void)len;
    (void)ud;
    *reply_len = 4;
    return strdup("seen");
}

static void test_auth_revoked_subject(void) {
    err_t e = {0};
    bus_t *gw = connect_as("gateway");
    bus_t *au = connect_as("auth");
    bus_t *me = connect_as("member");
    REQUIRE(gw && au && me);
    CHECK_EQ_INT(bus_serve(gw, "auth.revoked", "revoked-test", 1, pong, NULL, &e), 0);
    usleep(200 * 1000);
    char *reply = NULL;
    size_t rlen = 0;
    CHECK_EQ_INT(bus_request(au, "auth.revoked", "{}", 2, 2000, &reply, &rlen, &e), 0);
    CHECK(reply && strcmp(reply, "seen") == 0);
    free(reply);
    reply = NULL;
    CHECK(bus_request(me, "auth.revoked", "{}", 2, 1000, &reply, &rlen, &e) != 0);
    free(reply);
    bus_close(me);
    bus_close(au);
    bus_close(gw);
}

/* N1/N2 in a split deployment: three processes, each as its own NATS user (gateway, member,
 * auth). REST and GraphQL calls of the gateway and the member service's own call to auth (an
 * invitation) cross processes with sealed callers and work, and no process is refused a
 * subject it uses (e2e_stop fails on a "Not Permitted" in a server's log). */
static void test_split_three_processes(void) {
    e2e_proc_t au, me, gw;
    e2e_resp_t r;
    char url[256], body[512], id[64] = "", tok[128];
    REQUIRE(e2e_start(&au, "auth", 0, 0, NULL) == 0);
    REQUIRE(e2e_start(&me, "member", 0, 0, NULL) == 0);
    REQUIRE(e2e_start(&gw, "gateway", 0, 1, NULL) == 0);
    REQUIRE(e2e_login_admin(&gw, NULL, NULL) == 0);
    char slug[64];
    snprintf(slug, sizeof slug, "split-%d", (int)getpid());
    REQUIRE(e2e_club(&gw, "Split Club", slug, E2E_CLUB_UTC, id) == 0);
    /* gateway -> member -> auth (invite), two hops over NATS */
    char email[128];
    snprintf(email, sizeof email, "split-%d@example.com", (int)getpid());
    snprintf(url, sizeof url, "%s/api/v1/members", gw.base);
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"category\":\"full\",\"status\":\"active\",\"invite\":"
             "true,\"profile\":{\"first_name\":\"Sam\",\"last_name\":\"Split\",\"email\":\"%s\"}}",
             id, email);
    REQUIRE(e2e_http("POST", url, "application/json", body, &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    CHECK(json_string_value(json_object_get(r.json, "auth_user_id")) != NULL);
    e2e_resp_free(&r);
    CHECK_EQ_INT(e2e_event_token("auth.invite_created", email, 20, tok, sizeof tok), 0);
    /* member -> auth invitations never call member back (invite_member): were one to land on the
     * member responder that waits for it, it would time out (504) with a chance per call of one
     * in the number of responders; eight in a row all succeed */
    for (int i = 0; i < 8; i++) {
        snprintf(body, sizeof body,
                 "{\"club_id\":\"%s\",\"category\":\"full\",\"status\":\"active\",\"invite\":"
                 "true,\"profile\":{\"first_name\":\"Sam\",\"last_name\":\"Split%d\",\"email\":"
                 "\"split-%d-%d@example.com\"}}",
                 id, i, (int)getpid(), i);
        REQUIRE(e2e_http("POST", url, "application/json", body, &r) == 0);
        CHECK_EQ_INT(r.status, 201);
        e2e_resp_free(&r);
    }
    /* auth -> member (resolve_club) over NATS, auth reading no member table: the invitee
     * registers and signs in by club slug; a role names its club by id, an unknown one is 422 */
    snprintf(url, sizeof url, "%s/api/v1/auth/register", gw.base);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"Split-pass-9431-xyz\"}", tok);
    REQUIRE(e2e_http("POST", url, "application/json", body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    snprintf(url, sizeof url, "%s/api/v1/auth/login", gw.base);
    snprintf(body, sizeof body,
             "{\"club\":\"split-%d\",\"email\":\"%s\",\"password\":\"Split-pass-9431-xyz\"}",
             (int)getpid(), email);
    REQUIRE(e2e_http("POST", url, "application/json", body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_string_value(json_object_get(r.json, "access_token")) != NULL);
    e2e_resp_free(&r);
    snprintf(url, sizeof url, "%s/api/v1/auth/roles", gw.base);
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"name\":\"split_role\",\"permissions\":[\"member:read\"]}", id);
    REQUIRE(e2e_http("POST", url, "application/json", body, &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    e2e_resp_free(&r);
    REQUIRE(e2e_http("POST", url, "application/json",
                     "{\"club_id\":\"00000000-0000-4000-8000-000000000001\",\"name\":"
                     "\"split_role\",\"permissions\":[\"member:read\"]}",
                     &r) == 0);
    CHECK_EQ_INT(r.status, 422);
    CHECK(r.body && strstr(r.body, "club_id"));
    e2e_resp_free(&r);
    /* a GraphQL resolver in the split gateway */
    snprintf(url, sizeof url, "%s/graphql", gw.base);
    REQUIRE(e2e_http("POST", url, "application/json",
                     "{\"query\":\"{ clubs(first: 2) { edges { node { slug } } } }\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, "\"edges\"") && !strstr(r.body, "\"errors\""));
    e2e_resp_free(&r);
    e2e_set_bearer(NULL);
    CHECK_EQ_INT(e2e_stop(&gw), 0);
    CHECK_EQ_INT(e2e_stop(&me), 0);
    CHECK_EQ_INT(e2e_stop(&au), 0);
}

int main(void) {
    RUN(test_start);
    if (g_proc.pid) {
        RUN(test_no_credentials_refused);
        RUN(test_forged_caller_refused);
        RUN(test_envelope_binding);
        RUN(test_cannot_publish_others_events);
        RUN(test_cannot_answer_others_subjects);
        RUN(test_auth_revoked_subject);
        CHECK_EQ_INT(e2e_stop(&g_proc), 0);
        RUN(test_split_three_processes);
    }
    bus_shutdown_library();
    TEST_DONE();
}
