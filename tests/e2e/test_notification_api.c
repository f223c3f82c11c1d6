/* test_notification_api: the notification service end to end, split: `reciprocal serve
 * --services gateway,auth,member` and `--services notification` (its own NATS user, so a
 * missing permission of its consumers, its calls to auth.delivery_token / member.get_member /
 * member.get_club or its inbox.<user> publication shows as "Not Permitted" and fails the stop),
 * with a real SMTP server (aiosmtpd, tests/services/notification/smtp_server.py). An invitation
 * over REST arrives in the SMTP server's Maildir through the notification process's consumer
 * and delivery worker; the inbox answers over REST and GraphQL through the gateway; both
 * processes stop cleanly (LeakSanitizer, no NATS refusal). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "services/notification/provider.h"
#include "support/e2e.h"
#include "support/sink.h"
#include "test.h"

static e2e_proc_t g_gw, g_notify;
static sink_mail_t g_mail; /* the SMTP server and its Maildir */

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Mails to email whose text also contains also (NULL = any). */
static int mails_to_with(const char *email, const char *also) {
    return sink_mails_to(&g_mail, email, also);
}

static int mails_to(const char *email) {
    return mails_to_with(email, NULL);
}

static int req(const char *method, const char *path, const char *body, e2e_resp_t *r) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", g_gw.base, path);
    return e2e_http(method, url, body ? "application/json" : NULL, body, r);
}

static void test_split_invite_mail_and_inbox(void) {
    REQUIRE(sink_mail_start(&g_mail, "e2e", NULL, NULL) == 0);
    const char *env[] = {g_mail.env,
                         "RECIPROCAL_NOTIFY_POLL_MS=100",
                         "RECIPROCAL_WEBHOOK_ALLOW_HOSTS=127.0.0.1",
                         "RECIPROCAL_PUSH_CALLBACK_SECRET=e2e-push-callback-secret",
                         "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                         "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
                         NULL};
    REQUIRE(e2e_start_split(&g_notify, &g_gw, "gateway,auth,member,reciprocal", env) == 0);

    char slug[64], body[512], email[128], club[64] = "";
    e2e_resp_t r;
    snprintf(slug, sizeof slug, "notify-e2e-%d", (int)getpid());
    REQUIRE(e2e_club(&g_gw, "Notify E2E Club", slug,
                     "\"timezone\":\"UTC\",\"address\":{\"country\":\"GB\"}", club) == 0);
    snprintf(email, sizeof email, "e2e-invitee-%d@notify.example", (int)getpid());
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"role\":\"member\",\"club_id\":\"%s\"}", email,
             club);
    REQUIRE(req("POST", "/api/v1/auth/invites", body, &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    e2e_resp_free(&r);
    /* relay -> JetStream -> notification_auth -> messages -> worker -> SMTP */
    int got = 0;
    for (int i = 0; i < 300 && !got; i++) {
        got = mails_to(email);
        if (!got) sleep_ms(100);
    }
    CHECK_EQ_INT(got, 1);

    /* the inbox through the gateway, REST and GraphQL (the notification process answers) */
    REQUIRE(req("GET", "/api/v1/notifications/inbox?limit=5", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_is_integer(json_object_get(r.json, "unread")));
    e2e_resp_free(&r);
    REQUIRE(req("POST", "/graphql",
                "{\"query\":\"{ me { notifications(first: 5) { unread items { id "
                "status } } } }\"}",
                &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    json_t *n =
        json_object_get(json_object_get(json_object_get(r.json, "data"), "me"), "notifications");
    CHECK(json_is_integer(json_object_get(n, "unread")));
    CHECK(json_is_array(json_object_get(n, "items")));
    if (!n) printf("#   %s\n", r.body);
    e2e_resp_free(&r);
    REQUIRE(req("POST", "/graphql",
                "{\"query\":\"mutation { markNotificationRead(input: {id: "
                "\\\"00000000-0000-4000-8000-000000000001\\\"}) { notification { id } userErrors "
                "{ code } } }\"}",
                &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, "not_found") != NULL);
    e2e_resp_free(&r);
}

/* ---- a visit's mails (the consumers resolve the member through member.member_contact) ---- */

static long api(const char *as, const char *method, const char *path, const char *body,
                json_t **out) {
    char url[1024];
    e2e_resp_t r;
    snprintf(url, sizeof url, "%s%s", g_gw.base, path);
    if (out) *out = NULL;
    if (e2e_http_as(as ? as : e2e_bearer(), method, url, body ? "application/json" : NULL, body,
                    &r) != 0)
        return -1;
    long st = r.status;
    if (st >= 300) printf("#   %s %s -> %ld %s\n", method, path, st, r.body ? r.body : "");
    if (out) *out = json_incref(r.json);
    e2e_resp_free(&r);
    return st;
}

/* A club (id into id, slug into slug) and a signed-in club_admin of it (token into tok). */
static int club_with_admin(const char *name, char id[64], char tok[4096]) {
    char slug[64], club_name[64], email[128];
    snprintf(slug, sizeof slug, "notify-%s-%d", name, (int)getpid());
    snprintf(club_name, sizeof club_name, "Notify %s", name);
    if (e2e_club(&g_gw, club_name, slug, NULL, id) != 0) return -1;
    snprintf(email, sizeof email, "notify-admin-%s-%d@example.test", name, (int)getpid());
    return e2e_account(&g_gw, id, slug, email, "club_admin", "Marmalade-Harbour-77", NULL, tok);
}

/* A count in the relay scope as the application role (the dead-letter policies are the app's). */
static long long relay_count(const char *sql, const char *arg) {
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_DATABASE_URL"), 1, &e);
    if (!db) return -1;
    db_scope_t s = {.network_admin = 1, .relay = 1};
    db_tx_t *tx = NULL;
    long long v = -1;
    if (db_begin(db, &s, &tx, &e) == 0) {
        const char *p[] = {arg};
        PGresult *r = db_exec(tx, sql, arg ? 1 : 0, p, &e);
        if (r && PQntuples(r) == 1) v = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        db_rollback(tx);
    }
    db_pool_close(db);
    return v;
}

/* A visit requested, approved by the home club and confirmed by the host: the notification
 * process resolves the visiting member through member's service operation and the confirmation
 * mail arrives at the SMTP server; nothing is dead-lettered (before the fix member.get_member
 * answered the service caller 401 and every visit event was dead-lettered). */
static void test_split_visit_confirmation_mail(void) {
    char home[64], host[64], home_admin[4096], host_admin[4096], today[16], body[1024], path[256],
        email[128], member[64], vid[64];
    REQUIRE(club_with_admin("home", home, home_admin) == 0);
    REQUIRE(club_with_admin("host", host, host_admin) == 0);
    json_t *v = NULL;
    snprintf(email, sizeof email, "visitor-%d@notify.example", (int)getpid());
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"category\":\"full\",\"expires_on\":\"2099-12-31\","
             "\"profile\":{\"first_name\":\"Vera\",\"last_name\":\"Visitor\",\"email\":\"%s\"}}",
             home, email);
    REQUIRE(api(NULL, "POST", "/api/v1/members", body, &v) == 201);
    snprintf(member, sizeof member, "%s", json_string_value(json_object_get(v, "id")));
    json_decref(v);
    snprintf(path, sizeof path, "/api/v1/members/%s/status", member);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"active\"}", home);
    REQUIRE(api(NULL, "POST", path, body, NULL) == 200);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\"}", home, home,
             host, today);
    REQUIRE(api(NULL, "POST", "/api/v1/agreements", body, &v) == 201);
    snprintf(path, sizeof path, "/api/v1/agreements/%s/accept",
             json_string_value(json_object_get(v, "id")));
    json_decref(v);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\"}", host);
    REQUIRE(api(NULL, "POST", path, body, NULL) == 200);
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"member_id\":\"%s\",\"host_club_id\":\"%s\",\"arrive_on\":"
             "\"2030-03-04\",\"depart_on\":\"2030-03-05\",\"as_of\":\"2030-01-01T00:00:00Z\"}",
             home, member, host);
    REQUIRE(api(NULL, "POST", "/api/v1/visits", body, &v) == 201);
    snprintf(vid, sizeof vid, "%s", json_string_value(json_object_get(v, "id")));
    json_decref(v);
    snprintf(path, sizeof path, "/api/v1/visits/%s/approve", vid);
    REQUIRE(api(home_admin, "POST", path, "{}", NULL) == 200);
    snprintf(path, sizeof path, "/api/v1/visits/%s/confirm", vid);
    REQUIRE(api(host_admin, "POST", path, "{}", NULL) == 200);
    /* relay -> JetStream -> notification_visits -> member_contact -> messages -> SMTP */
    int got = 0;
    for (int i = 0; i < 300 && !got; i++) {
        got = mails_to_with(email, "is confirmed");
        if (!got) sleep_ms(100);
    }
    CHECK_EQ_INT(got, 1);
    CHECK_EQ_INT(mails_to_with(email, "is approved"), 1);
    CHECK_EQ_INT(relay_count("SELECT count(*) FROM notification.dead_letter", NULL), 0);
    /* preferences over REST and GraphQL (the club administrator's own) */
    REQUIRE(api(home_admin, "PUT", "/api/v1/notifications/preferences",
                "{\"timezone\":\"Europe/London\",\"quiet_hours\":{\"start\":\"22:00\","
                "\"end\":\"07:00\"}}",
                &v) == 200);
    CHECK_STR(json_string_value(json_object_get(v, "timezone")), "Europe/London");
    json_decref(v);
    REQUIRE(api(home_admin, "POST", "/graphql",
                "{\"query\":\"mutation { updateNotificationPreferences(input: {categories: "
                "[{category: \\\"visits\\\", email: false}]}) { preferences { quietHours { "
                "start end } categories { category email inApp mandatory } } userErrors { code "
                "} } }\"}",
                &v) == 200);
    json_t *pr = json_object_get(
        json_object_get(json_object_get(v, "data"), "updateNotificationPreferences"),
        "preferences");
    CHECK_STR(json_string_value(json_object_get(json_object_get(pr, "quietHours"), "end")),
              "07:00");
    json_t *cat = json_array_get(json_object_get(pr, "categories"), 1);
    CHECK(json_is_false(json_object_get(cat, "email")) &&
          json_is_true(json_object_get(cat, "inApp")));
    if (!pr) printf("#   %s\n", json_dumps(v, 0));
    json_decref(v);
    REQUIRE(api(home_admin, "POST", "/graphql",
                "{\"query\":\"mutation { updateNotificationPreferences(input: {categories: "
                "[{category: \\\"security\\\", email: false}]}) { preferences { email } "
                "userErrors { code field } } }\"}",
                &v) == 200);
    json_t *ue = json_array_get(json_object_get(json_object_get(json_object_get(v, "data"),
                                                                "updateNotificationPreferences"),
                                                "userErrors"),
                                0);
    CHECK_STR(json_string_value(json_object_get(ue, "code")), "invalid_field");
    json_decref(v);
    REQUIRE(api(home_admin, "POST", "/graphql",
                "{\"query\":\"{ me { notificationPreferences { timezone categories { "
                "category mandatory } } } }\"}",
                &v) == 200);
    pr = json_object_get(json_object_get(json_object_get(v, "data"), "me"),
                         "notificationPreferences");
    CHECK_STR(json_string_value(json_object_get(pr, "timezone")), "Europe/London");
    CHECK(json_is_true(
        json_object_get(json_array_get(json_object_get(pr, "categories"), 0), "mandatory")));
    json_decref(v);
    CHECK_EQ_INT(relay_count("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' "
                             "= $1 AND channel = 'email' AND status = 'sent'",
                             vid),
                 2);
}

/* The webhook GraphQL fields through the gateway (split deployment): create (the secret answered
 * once), list, disable, deliveries, delete; a refused URL and an unknown id are userErrors. */
static void test_webhooks_graphql(void) {
    char club[64], admin[4096], q[1024], id[64];
    REQUIRE(club_with_admin("hooks", club, admin) == 0);
    json_t *v = NULL;
    REQUIRE(api(admin, "POST", "/graphql",
                "{\"query\":\"mutation { createWebhook(input: {url: \\\"http://127.0.0.1:9/h\\\", "
                "eventTypes: [\\\"visit.confirmed\\\"]}) { webhook { id url eventTypes active "
                "secret } userErrors { code field } } }\"}",
                &v) == 200);
    json_t *w = json_object_get(
        json_object_get(json_object_get(json_object_get(v, "data"), "createWebhook"), "webhook"),
        "id");
    if (!w) printf("#   %s\n", json_dumps(v, 0));
    REQUIRE(json_is_string(w));
    snprintf(id, sizeof id, "%s", json_string_value(w));
    json_t *hook =
        json_object_get(json_object_get(json_object_get(v, "data"), "createWebhook"), "webhook");
    CHECK(json_is_true(json_object_get(hook, "active")));
    CHECK(strncmp(json_string_value(json_object_get(hook, "secret")), "whsec_", 6) == 0);
    json_decref(v);
    REQUIRE(api(admin, "POST", "/graphql",
                "{\"query\":\"mutation { createWebhook(input: {url: \\\"ftp://127.0.0.1/h\\\", "
                "eventTypes: [\\\"*\\\"]}) { webhook { id } userErrors { code field } } }\"}",
                &v) == 200);
    json_t *ue = json_array_get(
        json_object_get(json_object_get(json_object_get(v, "data"), "createWebhook"), "userErrors"),
        0);
    CHECK_STR(json_string_value(json_object_get(ue, "field")), "url");
    json_decref(v);
    snprintf(q, sizeof q,
             "{\"query\":\"mutation { updateWebhook(input: {id: \\\"%s\\\", active: false}) { "
             "webhook { active eventTypes } userErrors { code } } }\"}",
             id);
    REQUIRE(api(admin, "POST", "/graphql", q, &v) == 200);
    hook = json_object_get(json_object_get(json_object_get(v, "data"), "updateWebhook"), "webhook");
    CHECK(json_is_false(json_object_get(hook, "active")));
    json_decref(v);
    snprintf(q, sizeof q,
             "{\"query\":\"{ me { webhooks { id active secret } webhookDeliveries(id: "
             "\\\"%s\\\", first: 5) { id status } } }\"}",
             id);
    REQUIRE(api(admin, "POST", "/graphql", q, &v) == 200);
    json_t *me = json_object_get(json_object_get(v, "data"), "me");
    CHECK_EQ_INT(json_array_size(json_object_get(me, "webhooks")), 1);
    CHECK(json_is_null(
        json_object_get(json_array_get(json_object_get(me, "webhooks"), 0), "secret")));
    CHECK_EQ_INT(json_array_size(json_object_get(me, "webhookDeliveries")), 0);
    if (!me) printf("#   %s\n", json_dumps(v, 0));
    json_decref(v);
    snprintf(q, sizeof q,
             "{\"query\":\"mutation { deleteWebhook(input: {id: \\\"%s\\\"}) { webhook { id } "
             "userErrors { code } } }\"}",
             id);
    REQUIRE(api(admin, "POST", "/graphql", q, &v) == 200);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_object_get(json_object_get(v, "data"), "deleteWebhook"),
                                  "webhook"),
                  "id")),
              id);
    json_decref(v);
    REQUIRE(api(admin, "POST", "/graphql", q, &v) == 200); /* gone: a userError */
    ue = json_array_get(
        json_object_get(json_object_get(json_object_get(v, "data"), "deleteWebhook"), "userErrors"),
        0);
    CHECK_STR(json_string_value(json_object_get(ue, "code")), "not_found");
    json_decref(v);
}

/* SMS and push over HTTP: a member's push devices through GraphQL; the providers' callbacks
 * through the gateway: the signature comes from its header only (the same value as a query
 * argument is dropped: 401), a good one reaches the message lookup (404 for an unknown id), a
 * bad one is 401, an oversized body 413, and Twilio's form body is accepted (404: no twilio
 * provider configured here), the signature header of the split deployment carried over NATS. */
static void test_push_devices_and_callbacks(void) {
    char club[64], admin[4096], url[512], sig[80];
    REQUIRE(club_with_admin("devices", club, admin) == 0);
    json_t *v = NULL;
    REQUIRE(api(admin, "POST", "/graphql",
                "{\"query\":\"mutation { registerPushDevice(input: {token: "
                "\\\"e2e-fcm-token-0000000000-abcdef\\\", platform: \\\"ios\\\"}) { device { id "
                "platform tokenHint } userErrors { code field } } }\"}",
                &v) == 200);
    json_t *d = json_object_get(
        json_object_get(json_object_get(json_object_get(v, "data"), "registerPushDevice"),
                        "device"),
        "tokenHint");
    if (!d) printf("#   %s\n", json_dumps(v, 0));
    CHECK_STR(json_string_value(d), "abcdef");
    json_decref(v);
    REQUIRE(api(admin, "POST", "/graphql", "{\"query\":\"{ me { pushDevices { platform } } }\"}",
                &v) == 200);
    json_t *list =
        json_object_get(json_object_get(json_object_get(v, "data"), "me"), "pushDevices");
    if (json_array_size(list) != 1) printf("#   %s\n", json_dumps(v, 0));
    CHECK_EQ_INT((long long)json_array_size(list), 1);
    json_decref(v);

    const char *body = "{\"id\":\"no-such-provider-id\",\"status\":\"delivered\"}";
    char header[160];
    e2e_resp_t r;
    snprintf(url, sizeof url, "%s/api/v1/notifications/callbacks/push", g_gw.base);
    notify_callback_signature("e2e-push-callback-secret", body, strlen(body), sig);
    snprintf(header, sizeof header, "X-Reciprocal-Signature: %s", sig);
    e2e_set_extra_header(header);
    REQUIRE(e2e_http_as("", "POST", url, "application/json", body, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    e2e_resp_free(&r);
    e2e_set_extra_header("X-Reciprocal-Signature: sha256=0000");
    REQUIRE(e2e_http_as("", "POST", url, "application/json", body, &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    e2e_resp_free(&r);
    e2e_set_extra_header(NULL);
    char qurl[700];
    snprintf(qurl, sizeof qurl, "%s?signature=%s", url, sig);
    REQUIRE(e2e_http_as("", "POST", qurl, "application/json", body, &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    e2e_resp_free(&r);
    char *big = malloc(NOTIFY_CALLBACK_MAX_BYTES + 100);
    REQUIRE(big);
    memset(big, ' ', NOTIFY_CALLBACK_MAX_BYTES + 99);
    big[0] = '{';
    memcpy(big + NOTIFY_CALLBACK_MAX_BYTES + 97, "}", 2);
    e2e_set_extra_header(header);
    REQUIRE(e2e_http_as("", "POST", url, "application/json", big, &r) == 0);
    CHECK_EQ_INT(r.status, 413);
    e2e_resp_free(&r);
    free(big);
    snprintf(url, sizeof url, "%s/api/v1/notifications/callbacks/twilio", g_gw.base);
    e2e_set_extra_header("X-Twilio-Signature: Zm9yZ2Vk");
    REQUIRE(e2e_http_as("", "POST", url, "application/x-www-form-urlencoded",
                        "MessageSid=SM1&MessageStatus=delivered", &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    e2e_resp_free(&r);
    e2e_set_extra_header(NULL);
}

/* ---- notif-api: club notification defaults, template overrides, digest windows (GraphQL) ---- */

/* POSTs the GraphQL document q (plain text, quotes escaped by the caller as \\\") as token as;
 * the HTTP status, *out the answer. */
static long gql(const char *as, const char *q, json_t **out) {
    char body[4096];
    snprintf(body, sizeof body, "{\"query\":\"%s\"}", q);
    return api(as, "POST", "/graphql", body, out);
}

/* data.<a>.<b> of a GraphQL answer (b NULL: data.<a>). */
static json_t *gdata(json_t *v, const char *a, const char *b) {
    json_t *x = json_object_get(json_object_get(v, "data"), a);
    return b ? json_object_get(x, b) : x;
}

/* The first error's path as "a.b.c" into out ("" when none) and its extensions.code into code. */
static void gerror(json_t *v, char *out, size_t cap, char *code, size_t ccap) {
    json_t *err = json_array_get(json_object_get(v, "errors"), 0), *seg;
    size_t i, n = 0;
    out[0] = code[0] = '\0';
    json_array_foreach(json_object_get(err, "path"), i, seg) {
        if (json_is_string(seg))
            n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", i ? "." : "",
                                  json_string_value(seg));
    }
    const char *c = json_string_value(json_object_get(json_object_get(err, "extensions"), "code"));
    snprintf(code, ccap, "%s", c ? c : "");
}

/* The category named c of a categories array. */
static json_t *category(json_t *cats, const char *c) {
    json_t *x;
    size_t i;
    json_array_foreach(cats, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "category")), c) == 0) return x;
    }
    return NULL;
}

/* Club defaults over GraphQL: read, partial change, the mandatory category refused (a
 * userError naming the field), null back to the network default; a member of the club (not
 * club:admin) gets a forbidden error carrying the field's path. */
static void test_club_defaults_graphql(void) {
    char club[64], admin[4096], slug[64], email[128], mtok[4096], path[128], code[48];
    REQUIRE(club_with_admin("gqldefaults", club, admin) == 0);
    snprintf(slug, sizeof slug, "notify-gqldefaults-%d", (int)getpid());
    snprintf(email, sizeof email, "gqldefaults-member-%d@example.test", (int)getpid());
    REQUIRE(e2e_account(&g_gw, club, slug, email, "member", "Marmalade-Harbour-78", NULL, mtok) ==
            0);
    json_t *v = NULL;
    REQUIRE(gql(admin,
                "{ me { clubNotificationDefaults { email inApp push categories { category email "
                "inApp push mandatory } } } }",
                &v) == 200);
    json_t *d = gdata(v, "me", "clubNotificationDefaults");
    if (!d) printf("#   %s\n", json_dumps(v, 0));
    CHECK(json_is_true(json_object_get(d, "email")) && json_is_false(json_object_get(d, "push")));
    CHECK(json_is_true(
        json_object_get(category(json_object_get(d, "categories"), "security"), "mandatory")));
    json_decref(v);
    REQUIRE(gql(admin,
                "mutation { setClubNotificationDefaults(input: {email: false, categories: "
                "[{category: \\\"visits\\\", inApp: false}]}) { defaults { email inApp categories "
                "{ category email inApp } } userErrors { field code } } }",
                &v) == 200);
    d = gdata(v, "setClubNotificationDefaults", "defaults");
    if (!d) printf("#   %s\n", json_dumps(v, 0));
    CHECK(json_is_false(json_object_get(d, "email")) && json_is_true(json_object_get(d, "inApp")));
    json_t *visits = category(json_object_get(d, "categories"), "visits");
    CHECK(json_is_false(json_object_get(visits, "inApp")) &&
          json_is_false(json_object_get(visits, "email")));
    CHECK_EQ_INT(json_array_size(gdata(v, "setClubNotificationDefaults", "userErrors")), 0);
    json_decref(v);
    /* security cannot be switched off: a userError naming the field, nothing changed */
    REQUIRE(gql(admin,
                "mutation { setClubNotificationDefaults(input: {categories: [{category: "
                "\\\"security\\\", email: false}]}) { defaults { email } userErrors { field code "
                "} } }",
                &v) == 200);
    json_t *ue = json_array_get(gdata(v, "setClubNotificationDefaults", "userErrors"), 0);
    CHECK_STR(json_string_value(json_object_get(ue, "field")), "categories");
    CHECK_STR(json_string_value(json_object_get(ue, "code")), "invalid_field");
    CHECK(json_is_null(gdata(v, "setClubNotificationDefaults", "defaults")));
    json_decref(v);
    /* null: back to the network default (email on); the category's choice stays */
    REQUIRE(gql(admin,
                "mutation { setClubNotificationDefaults(input: {email: null}) { defaults { email "
                "categories { category inApp } } userErrors { code } } }",
                &v) == 200);
    d = gdata(v, "setClubNotificationDefaults", "defaults");
    CHECK(json_is_true(json_object_get(d, "email")));
    CHECK(json_is_false(
        json_object_get(category(json_object_get(d, "categories"), "visits"), "inApp")));
    json_decref(v);
    /* a member of the club: forbidden, the error carries the field's path */
    REQUIRE(gql(mtok, "{ me { clubNotificationDefaults { email } } }", &v) == 200);
    gerror(v, path, sizeof path, code, sizeof code);
    CHECK_STR(path, "me.clubNotificationDefaults");
    CHECK_STR(code, "forbidden");
    json_decref(v);
    REQUIRE(gql(mtok,
                "mutation { setClubNotificationDefaults(input: {push: true}) { defaults { push } "
                "userErrors { code } } }",
                &v) == 200);
    gerror(v, path, sizeof path, code, sizeof code);
    CHECK_STR(path, "setClubNotificationDefaults");
    CHECK_STR(code, "forbidden");
    json_decref(v);
    REQUIRE(gql("", "{ me { clubNotificationDefaults { email } } }", &v) == 200); /* anonymous */
    CHECK(!gdata(v, "me", "clubNotificationDefaults"));
    json_decref(v);
}

/* Template overrides over GraphQL: set (created, then replaced), a template that does not render
 * with the notification's variables is a userError naming body, list, one by key and locale
 * (null when there is none; a malformed locale an error with its path), delete (then a
 * not_found userError); another club sees none of them; a member is forbidden. */
static void test_template_overrides_graphql(void) {
    char club[64], admin[4096], other_club[64], other[4096], path[128], code[48];
    REQUIRE(club_with_admin("gqltmpl", club, admin) == 0);
    REQUIRE(club_with_admin("gqltmplb", other_club, other) == 0);
    static const char set[] =
        "mutation { setNotificationTemplate(input: {key: \\\"visit_confirmed\\\", locale: "
        "\\\"de-DE\\\", subject: \\\"Besuch bei {{host_club.name}} bestaetigt\\\", body: "
        "\\\"Hallo {{member.first_name}}\\\"}) { template { key locale subject body updatedAt "
        "created } userErrors { field code } } }";
    json_t *v = NULL;
    REQUIRE(gql(admin, set, &v) == 200);
    json_t *t = gdata(v, "setNotificationTemplate", "template");
    if (!t) printf("#   %s\n", json_dumps(v, 0));
    CHECK_STR(json_string_value(json_object_get(t, "locale")), "de-DE");
    CHECK(json_is_true(json_object_get(t, "created")));
    CHECK(json_is_string(json_object_get(t, "updatedAt")));
    json_decref(v);
    REQUIRE(gql(admin, set, &v) == 200);
    CHECK(
        json_is_false(json_object_get(gdata(v, "setNotificationTemplate", "template"), "created")));
    json_decref(v);
    REQUIRE(gql(admin,
                "mutation { setNotificationTemplate(input: {key: \\\"visit_confirmed\\\", "
                "locale: \\\"en\\\", subject: \\\"Hi\\\", body: \\\"{{no_such_variable}}\\\"}) { "
                "template { key } userErrors { field code } } }",
                &v) == 200);
    json_t *ue = json_array_get(gdata(v, "setNotificationTemplate", "userErrors"), 0);
    CHECK_STR(json_string_value(json_object_get(ue, "field")), "body");
    CHECK_STR(json_string_value(json_object_get(ue, "code")), "template_error");
    json_decref(v);
    REQUIRE(gql(admin,
                "{ me { notificationTemplates { key locale } one: notificationTemplate(key: "
                "\\\"visit_confirmed\\\", locale: \\\"de-DE\\\") { subject body } none: "
                "notificationTemplate(key: \\\"visit_confirmed\\\", locale: \\\"fr\\\") { subject "
                "} } }",
                &v) == 200);
    json_t *me = gdata(v, "me", NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(me, "notificationTemplates")), 1);
    CHECK_STR(json_string_value(json_object_get(json_object_get(me, "one"), "body")),
              "Hallo {{member.first_name}}");
    CHECK(json_is_null(json_object_get(me, "none")));
    CHECK(!json_object_get(v, "errors"));
    if (!me) printf("#   %s\n", json_dumps(v, 0));
    json_decref(v);
    REQUIRE(gql(admin,
                "{ me { notificationTemplate(key: \\\"visit_confirmed\\\", locale: \\\"de_DE\\\") "
                "{ subject } } }",
                &v) == 200);
    gerror(v, path, sizeof path, code, sizeof code);
    CHECK_STR(path, "me.notificationTemplate");
    CHECK_STR(code, "invalid_field");
    json_decref(v);
    /* the preview: the club's resolution (its de-DE override), a draft with a missing variable
     * (template_error with the field's path), vars that are not a JSON object */
    REQUIRE(gql(admin,
                "{ me { notificationTemplatePreview(key: \\\"visit_confirmed\\\", locale: "
                "\\\"de-DE\\\") { key locale source subject text html } } }",
                &v) == 200);
    json_t *pv = gdata(v, "me", "notificationTemplatePreview");
    if (!pv) printf("#   %s\n", json_dumps(v, 0));
    CHECK_STR(json_string_value(json_object_get(pv, "source")), "resolved");
    CHECK(strstr(json_string_value(json_object_get(pv, "text")), "Hallo ") != NULL);
    json_decref(v);
    REQUIRE(gql(admin,
                "{ me { notificationTemplatePreview(key: \\\"visit_confirmed\\\", subject: "
                "\\\"Hi\\\", body: \\\"{{no_such_variable}}\\\") { text } } }",
                &v) == 200);
    gerror(v, path, sizeof path, code, sizeof code);
    CHECK_STR(path, "me.notificationTemplatePreview");
    CHECK_STR(code, "template_error");
    json_decref(v);
    REQUIRE(gql(admin,
                "{ me { notificationTemplatePreview(key: \\\"visit_confirmed\\\", vars: "
                "\\\"[1]\\\") { text } } }",
                &v) == 200);
    gerror(v, path, sizeof path, code, sizeof code);
    CHECK_STR(path, "me.notificationTemplatePreview");
    CHECK_STR(code, "invalid_type");
    json_decref(v);
    /* another club: none of A's overrides (its preview resolves the network default) */
    REQUIRE(gql(other,
                "{ me { notificationTemplatePreview(key: \\\"visit_confirmed\\\", locale: "
                "\\\"de-DE\\\") { text } } }",
                &v) == 200);
    pv = gdata(v, "me", "notificationTemplatePreview");
    CHECK(strstr(json_string_value(json_object_get(pv, "text")), "Hello ") != NULL);
    json_decref(v);
    REQUIRE(gql(other,
                "{ me { notificationTemplates { key } notificationTemplate(key: "
                "\\\"visit_confirmed\\\", locale: \\\"de-DE\\\") { subject } } }",
                &v) == 200);
    CHECK_EQ_INT(json_array_size(gdata(v, "me", "notificationTemplates")), 0);
    CHECK(json_is_null(json_object_get(gdata(v, "me", NULL), "notificationTemplate")));
    json_decref(v);
    static const char del[] =
        "mutation { deleteNotificationTemplate(input: {key: \\\"visit_confirmed\\\", locale: "
        "\\\"de-DE\\\"}) { template { key locale } userErrors { field code } } }";
    REQUIRE(gql(other, del, &v) == 200); /* not B's to delete */
    ue = json_array_get(gdata(v, "deleteNotificationTemplate", "userErrors"), 0);
    CHECK_STR(json_string_value(json_object_get(ue, "code")), "not_found");
    json_decref(v);
    REQUIRE(gql(admin, del, &v) == 200);
    CHECK_STR(json_string_value(
                  json_object_get(gdata(v, "deleteNotificationTemplate", "template"), "locale")),
              "de-DE");
    json_decref(v);
    REQUIRE(gql(admin, del, &v) == 200);
    ue = json_array_get(gdata(v, "deleteNotificationTemplate", "userErrors"), 0);
    CHECK_STR(json_string_value(json_object_get(ue, "code")), "not_found");
    json_decref(v);
    REQUIRE(gql(admin, "{ me { notificationTemplates { key } } }", &v) == 200);
    CHECK_EQ_INT(json_array_size(gdata(v, "me", "notificationTemplates")), 0);
    json_decref(v);
}

/* The digest window over GraphQL: HOURLY and DAILY set through digestWindow and answered as the
 * enum, digest false clears it, an unknown window is refused by the schema (an error with a
 * location, nothing changed). */
static void test_digest_window_graphql(void) {
    char club[64], admin[4096];
    REQUIRE(club_with_admin("gqldigest", club, admin) == 0);
    json_t *v = NULL;
    REQUIRE(gql(admin,
                "mutation { updateNotificationPreferences(input: {categories: [{category: "
                "\\\"visits\\\", digestWindow: HOURLY}]}) { preferences { categories { category "
                "digest digestWindow } } userErrors { field code } } }",
                &v) == 200);
    json_t *c = category(
        json_object_get(gdata(v, "updateNotificationPreferences", "preferences"), "categories"),
        "visits");
    if (!c) printf("#   %s\n", json_dumps(v, 0));
    CHECK(json_is_true(json_object_get(c, "digest")));
    CHECK_STR(json_string_value(json_object_get(c, "digestWindow")), "HOURLY");
    json_decref(v);
    REQUIRE(gql(admin,
                "mutation { updateNotificationPreferences(input: {categories: [{category: "
                "\\\"agreements\\\", digestWindow: DAILY}]}) { preferences { email } } }",
                &v) == 200);
    json_decref(v);
    REQUIRE(gql(admin,
                "{ me { notificationPreferences { categories { category digest digestWindow } } } "
                "}",
                &v) == 200);
    json_t *cats = json_object_get(gdata(v, "me", "notificationPreferences"), "categories");
    CHECK_STR(json_string_value(json_object_get(category(cats, "visits"), "digestWindow")),
              "HOURLY");
    CHECK_STR(json_string_value(json_object_get(category(cats, "agreements"), "digestWindow")),
              "DAILY");
    CHECK(json_is_null(json_object_get(category(cats, "security"), "digestWindow")));
    json_decref(v);
    REQUIRE(gql(admin,
                "mutation { updateNotificationPreferences(input: {categories: [{category: "
                "\\\"visits\\\", digest: false}]}) { preferences { categories { category digest "
                "digestWindow } } } }",
                &v) == 200);
    c = category(
        json_object_get(gdata(v, "updateNotificationPreferences", "preferences"), "categories"),
        "visits");
    CHECK(json_is_false(json_object_get(c, "digest")));
    CHECK(json_is_null(json_object_get(c, "digestWindow")));
    json_decref(v);
    REQUIRE(gql(admin,
                "mutation { updateNotificationPreferences(input: {categories: [{category: "
                "\\\"visits\\\", digestWindow: WEEKLY}]}) { preferences { email } } }",
                &v) >= 200);
    CHECK(json_array_size(json_object_get(v, "errors")) > 0);
    CHECK(!json_object_get(json_object_get(v, "data"), "updateNotificationPreferences"));
    json_decref(v);
}

/* ---- mailfx: the e-mail suppression list over GraphQL ---- */

/* A suppression of club for address (reason; expires "" = never, else an interval from now,
 * e.g. "-1 day"), written as the database owner; its id into id. */
static int add_suppression(const char *club, const char *address, const char *reason,
                           const char *expires, char id[64]) {
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    if (!db) return -1;
    db_scope_t s = {.network_admin = 1, .relay = 1};
    db_tx_t *tx = NULL;
    const char *p[] = {club, address, reason, expires};
    PGresult *r = NULL;
    id[0] = '\0';
    if (db_begin(db, &s, &tx, &e) == 0) {
        r = db_exec(tx,
                    "INSERT INTO notification.suppressions (club_id, address, reason, detail, "
                    "expires_at) VALUES ($1::uuid, $2, $3, '550 5.1.1', CASE WHEN $4 = '' THEN "
                    "NULL ELSE now() + $4::interval END) RETURNING id::text",
                    4, p, &e);
        if (r && PQntuples(r) == 1) snprintf(id, 64, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        db_tx_finish(&tx, id[0] ? 0 : -1, NULL, &e);
    }
    if (!id[0]) printf("#   add_suppression: %s\n", e.message);
    db_pool_close(db);
    return id[0] ? 0 : -1;
}

/* The list and removal mirror the REST operations (club:admin): newest first with reason,
 * expiresAt (null for a hard bounce) and active (false once expired); `first` out of range and a
 * member are errors with the field's path; another club neither lists nor removes the entries
 * (not_found userError); a malformed id is a userError naming id; removed, then not_found. */
static void test_suppressions_graphql(void) {
    char club[64], admin[4096], club_b[64], admin_b[4096], slug[64], email[128], mtok[4096];
    char hard[64], soft[64], addr[128], addr2[128], q[1024], path[128], code[48];
    REQUIRE(club_with_admin("suppress", club, admin) == 0);
    REQUIRE(club_with_admin("suppress-b", club_b, admin_b) == 0);
    snprintf(slug, sizeof slug, "notify-suppress-%d", (int)getpid());
    snprintf(email, sizeof email, "suppress-member-%d@example.test", (int)getpid());
    REQUIRE(e2e_account(&g_gw, club, slug, email, "member", "Marmalade-Harbour-79", NULL, mtok) ==
            0);
    snprintf(addr, sizeof addr, "hard-%d@suppress.example", (int)getpid());
    snprintf(addr2, sizeof addr2, "complaint-%d@suppress.example", (int)getpid());
    REQUIRE(add_suppression(club, addr, "hard_bounce", "", hard) == 0);
    REQUIRE(add_suppression(club, addr2, "complaint", "-1 day", soft) == 0);
    json_t *v = NULL;
    REQUIRE(gql(admin,
                "{ me { emailSuppressions(first: 10) { id address reason detail expiresAt active "
                "createdAt } } }",
                &v) == 200);
    json_t *list = gdata(v, "me", "emailSuppressions"), *it;
    if (json_array_size(list) != 2) printf("#   %s\n", json_dumps(v, 0));
    CHECK_EQ_INT(json_array_size(list), 2);
    size_t i;
    json_array_foreach(list, i, it) {
        const char *a = json_string_value(json_object_get(it, "address"));
        if (a && strcmp(a, addr) == 0) {
            CHECK_STR(json_string_value(json_object_get(it, "reason")), "hard_bounce");
            CHECK(json_is_null(json_object_get(it, "expiresAt")));
            CHECK(json_is_true(json_object_get(it, "active")));
            CHECK_STR(json_string_value(json_object_get(it, "detail")), "550 5.1.1");
        } else {
            CHECK_STR(json_string_value(json_object_get(it, "reason")), "complaint");
            CHECK(json_is_string(json_object_get(it, "expiresAt")));
            CHECK(json_is_false(json_object_get(it, "active")));
        }
    }
    json_decref(v);
    /* first is required and bounded, as for every list field (checked before any resolver) */
    REQUIRE(gql(admin, "{ me { emailSuppressions(first: 0) { id } } }", &v) >= 200);
    CHECK(!gdata(v, "me", NULL));
    CHECK(strstr(json_string_value(
                     json_object_get(json_array_get(json_object_get(v, "errors"), 0), "message")),
                 "between 1 and 100") != NULL);
    json_decref(v);
    /* a member of the club: forbidden, with the field's path */
    REQUIRE(gql(mtok, "{ me { emailSuppressions(first: 5) { id } } }", &v) == 200);
    gerror(v, path, sizeof path, code, sizeof code);
    CHECK_STR(path, "me.emailSuppressions");
    CHECK_STR(code, "forbidden");
    json_decref(v);
    snprintf(q, sizeof q,
             "mutation { deleteEmailSuppression(input: {id: \\\"%s\\\"}) { suppression { id "
             "address } userErrors { field code } } }",
             hard);
    REQUIRE(gql(mtok, q, &v) == 200);
    gerror(v, path, sizeof path, code, sizeof code);
    CHECK_STR(path, "deleteEmailSuppression");
    CHECK_STR(code, "forbidden");
    json_decref(v);
    /* another club: sees none, cannot remove */
    REQUIRE(gql(admin_b, "{ me { emailSuppressions(first: 5) { id } } }", &v) == 200);
    CHECK_EQ_INT(json_array_size(gdata(v, "me", "emailSuppressions")), 0);
    json_decref(v);
    REQUIRE(gql(admin_b, q, &v) == 200);
    json_t *ue = json_array_get(gdata(v, "deleteEmailSuppression", "userErrors"), 0);
    CHECK_STR(json_string_value(json_object_get(ue, "code")), "not_found");
    CHECK_STR(json_string_value(json_object_get(ue, "field")), "id");
    CHECK(json_is_null(gdata(v, "deleteEmailSuppression", "suppression")));
    json_decref(v);
    REQUIRE(gql(admin,
                "mutation { deleteEmailSuppression(input: {id: \\\"not-a-uuid\\\"}) { "
                "suppression { id } userErrors { field code } } }",
                &v) == 200);
    ue = json_array_get(gdata(v, "deleteEmailSuppression", "userErrors"), 0);
    CHECK_STR(json_string_value(json_object_get(ue, "field")), "id");
    json_decref(v);
    /* the club's administrator removes it; a second time: not_found */
    REQUIRE(gql(admin, q, &v) == 200);
    CHECK_STR(json_string_value(
                  json_object_get(gdata(v, "deleteEmailSuppression", "suppression"), "address")),
              addr);
    CHECK_EQ_INT(json_array_size(gdata(v, "deleteEmailSuppression", "userErrors")), 0);
    json_decref(v);
    REQUIRE(gql(admin, q, &v) == 200);
    ue = json_array_get(gdata(v, "deleteEmailSuppression", "userErrors"), 0);
    CHECK_STR(json_string_value(json_object_get(ue, "code")), "not_found");
    json_decref(v);
    REQUIRE(gql(admin, "{ me { emailSuppressions(first: 5) { id } } }", &v) == 200);
    CHECK_EQ_INT(json_array_size(gdata(v, "me", "emailSuppressions")), 1);
    json_decref(v);
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_gw), 0);
    CHECK_EQ_INT(e2e_stop(&g_notify), 0);
}

int main(void) {
    RUN(test_split_invite_mail_and_inbox);
    RUN(test_split_visit_confirmation_mail);
    RUN(test_webhooks_graphql);
    RUN(test_push_devices_and_callbacks);
    RUN(test_club_defaults_graphql);
    RUN(test_template_overrides_graphql);
    RUN(test_digest_window_graphql);
    RUN(test_suppressions_graphql);
    RUN(test_stop);
    sink_mail_stop(&g_mail);
    TEST_DONE();
}
