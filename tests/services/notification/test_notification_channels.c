/* test_notification_channels: SMS and push (docs/notification.md "SMS and push") against the
 * harness's PostgreSQL and NATS and a REAL HTTP receiver (tests/services/notification/
 * provider_receiver.py, started here on a free port) playing the generic JSON SMS provider,
 * Twilio's Messages API and an FCM-shaped push gateway. A visit event of a member with an E.164
 * phone and a registered device queues an SMS and a push message; the worker sends them (the
 * receiver logs the requests: shape, auth) and keeps the provider's id; the providers' status
 * callbacks (generic HMAC-SHA256, Twilio X-Twilio-Signature) move the status forward once (a
 * repeat changes nothing, a bad signature is 401, an oversized one 413, undelivered emits
 * notification.failed); 5xx/429 are retried with backoff and end undelivered after max_tries,
 * 4xx is permanent at once; the hourly limit defers the excess; opt-in, critical and quiet hours
 * as for email; devices are the caller's own (another member or club: invisible, 404). Counts
 * are scoped to this run's clubs, members and message ids (the database is shared). */
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/outbox.h"
#include "core/service.h"
#include "services/auth/auth.h"
#include "services/auth/auth_accounts.h"
#include "services/member/member.h"
#include "services/notification/delivery.h"
#include "services/notification/fcm_auth.h"
#include "services/notification/notification.h"
#include "services/notification/provider.h"
#include "services/notification/rules.h"
#include "support/sink.h"
#include "test.h"

static db_pool_t *g_db, *g_owner;
static bus_t *g_bus;
static cfg_t g_cfg;
static svc_env_t g_env;
static svc_settings_t g_set;
static notification_settings_t *g_ns;
static sink_proc_t g_recv = {.pid = -1}; /* provider_receiver.py */
static char g_log[600];
static char g_club_a[40], g_club_b[40];
static svc_caller_t g_na;
static int g_seq;
static const char *PW = "correct horse battery staple 42";
static const char *SECRET = "sms-callback-secret-for-tests";
static const char *TWILIO_AUTH = "ACtest0000000000:twilio-auth-token";

static const char *sget(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

static int call(const svc_module_t *m, const svc_caller_t *c, const char *op, json_t **out,
                const char *fmt, ...) {
    const svc_op_t *o = svc_find_op(m, op);
    if (!o) return -1;
    va_list ap;
    va_start(ap, fmt);
    json_t *in = fmt ? json_vpack_ex(NULL, 0, fmt, ap) : json_object();
    va_end(ap);
    err_t e = {0};
    int status = 0;
    json_t *output = NULL;
    svc_dispatch(&g_env, m, o, c, in, &status, &output, &e);
    json_decref(in);
    if (!output && status >= 300)
        output = json_pack("{s:{s:s, s:s}}", "error", "code", e.code, "field", e.field);
    if (out)
        *out = output;
    else
        json_decref(output);
    return status;
}

static db_tx_t *owner_tx(void) {
    db_scope_t s = {.network_admin = 1, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    if (db_begin(g_owner, &s, &tx, &e) != 0) printf("#   owner begin: %s\n", e.message);
    return tx;
}

/* the first column of the first row as text into out ("" when none); committed */
static void owner_text(const char *sql, int n, const char *const *p, char *out, size_t cap) {
    db_tx_t *tx = owner_tx();
    err_t e = {0};
    out[0] = '\0';
    PGresult *r = tx ? db_exec(tx, sql, n, p, &e) : NULL;
    if (!r && tx) printf("#   owner query: %s\n", e.message);
    if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (tx) db_commit(tx, &e); /* an INSERT ... RETURNING stays */
}

static long long owner_count(const char *sql, int n, const char *const *p) {
    char v[64];
    owner_text(sql, n, p, v, sizeof v);
    return v[0] ? atoll(v) : -1;
}

static int owner_exec(const char *sql, int n, const char *const *p) {
    db_tx_t *tx = owner_tx();
    if (!tx) return -1;
    err_t e = {0};
    long long rc = db_exec_cmd(tx, sql, n, p, &e);
    if (rc < 0) printf("#   owner exec: %s\n", e.message);
    return db_tx_finish(&tx, rc < 0 ? -1 : 0, NULL, &e);
}

static int start_receiver(void) {
    return sink_start(&g_recv, "tests/services/notification/provider_receiver.py", 0,
                      (const char *[]){g_log, TWILIO_AUTH, NULL});
}

/* Requests the receiver logged whose line contains both needles (b may be NULL); the last
 * such line's JSON into *last when not NULL. */
static int received(const char *a, const char *b, json_t **last) {
    FILE *f = fopen(g_log, "r");
    char line[8192];
    int n = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, a) && (!b || strstr(line, b))) {
            n++;
            if (last) {
                json_decref(*last);
                *last = json_loads(line, 0, NULL);
            }
        }
    fclose(f);
    return n;
}

static void set_url(char *field, const char *path) {
    snprintf(field, 256, "http://127.0.0.1:%d%s", g_recv.port, path);
}

/* ---- people and events ------------------------------------------------------------------- */

/* A member of club with an account (user), phone and email; caller u acts as that user. */
static int member_with_phone(const char *club, const char *phone, char user[40], char member[40],
                             svc_caller_t *u) {
    char email[128];
    snprintf(email, sizeof email, "sms-%d-%d@channels.example", (int)getpid(), ++g_seq);
    const char *p[] = {club, email};
    db_tx_t *tx = owner_tx();
    err_t e = {0};
    PGresult *r = tx ? db_exec(tx,
                               "INSERT INTO auth.users (club_id, email, status) VALUES ($1::uuid, "
                               "$2, 'active') RETURNING id",
                               2, p, &e)
                     : NULL;
    if (r) snprintf(user, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (db_tx_finish(&tx, r ? 0 : -1, NULL, &e) != 0) return -1;
    json_t *o = NULL;
    int st = call(&member_module, &g_na, "create_member", &o,
                  "{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "club_id", club, "category",
                  "full", "expires_on", "2099-12-31", "auth_user_id", user, "profile", "first_name",
                  "Sam", "last_name", "Sms", "email", email, "phone", phone);
    if (st == 201) snprintf(member, 40, "%s", sget(o, "id"));
    if (st != 201) printf("#   create_member: %d\n", st);
    json_decref(o);
    memset(u, 0, sizeof *u);
    snprintf(u->user_id, sizeof u->user_id, "%s", user);
    snprintf(u->club_id, sizeof u->club_id, "%s", club);
    return st == 201 ? 0 : -1;
}

/* One visit event of type for member of club A (a new visit), applied as the consumers do. */
static int visit_event(const char *type, const char *member, char vid[40]) {
    char id[40];
    snprintf(id, sizeof id, "7c3f6a1c-0000-4000-8000-%012d", ++g_seq);
    snprintf(vid, 40, "7d3f6a1c-%04d-4000-8000-%012d", (int)getpid() % 10000, ++g_seq);
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s}", "visit_id", vid, "member_id", member,
                             "home_club_id", g_club_a, "host_club_id", g_club_b, "status", "x");
    svc_event_t ev = {.id = id,
                      .type = type,
                      .subject = type,
                      .tenant_id = g_club_a,
                      .correlation_id = "",
                      .data = data,
                      .envelope = data};
    svc_caller_t sys = {0};
    snprintf(sys.club_id, sizeof sys.club_id, "%s", g_club_a);
    svc_call_t c = {.env = &g_env, .module = &notification_module, .caller = &sys};
    db_scope_t scope = {.club_id = g_club_a, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    int rc = db_begin(g_db, &scope, &tx, &e);
    if (rc == 0) rc = db_tx_finish(&tx, notify_on_event(&c, tx, &ev, &e), NULL, &e);
    if (rc != 0) printf("#   %s: %s\n", type, e.message);
    json_decref(data);
    return rc;
}

static void deliver(void) {
    err_t e = {0};
    while (notify_deliver_once(&g_env, &e) > 0) {
    }
}

/* the one message of user on channel about visit vid: id, status, provider_ref */
static void message_of(const char *user, const char *channel, const char *vid, char id[40],
                       char status[32], char ref[NOTIFY_REF_MAX]) {
    char key[128];
    snprintf(key, sizeof key, "visit:%s", vid);
    const char *p[] = {user, channel, key};
    static const char *const cols[] = {"id::text", "status", "coalesce(provider_ref, '')"};
    char *outs[] = {id, status, ref};
    size_t caps[] = {40, 32, NOTIFY_REF_MAX};
    for (int i = 0; i < 3; i++) {
        char sql[400];
        snprintf(sql, sizeof sql,
                 "SELECT %s FROM notification.messages WHERE user_id::text = $1 AND channel = $2 "
                 "AND cancellation_key = $3 ORDER BY created_at DESC LIMIT 1",
                 cols[i]);
        owner_text(sql, 3, p, outs[i], caps[i]);
    }
}

static int register_device(const svc_caller_t *u, const char *token, char id[40]) {
    json_t *o = NULL;
    int st = call(&notification_module, u, "register_push_device", &o, "{s:s, s:s, s:s}", "token",
                  token, "platform", "android", "label", "Test phone");
    if (st == 201 && id) snprintf(id, 40, "%s", sget(o, "id"));
    json_decref(o);
    return st;
}

/* The generic callback of channel for provider id ref with status, signed with secret (NULL =
 * the test secret); the answer's status and applied into out. */
static int callback(const char *channel, const char *ref, const char *status, const char *secret,
                    json_t **out) {
    char body[600], sig[80];
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"status\":\"%s\"}", ref, status);
    notify_callback_signature(secret ? secret : SECRET, body, strlen(body), sig);
    svc_caller_t anon = {0};
    return call(&notification_module, &anon,
                strcmp(channel, "sms") == 0 ? "sms_status_callback" : "push_status_callback", out,
                "{s:s, s:s}", "body", body, "signature", sig);
}

static long long failed_events(const char *message_id) {
    return owner_count("SELECT count(*) FROM notification.outbox WHERE type = "
                       "'notification.failed' AND payload -> 'data' ->> 'message_id' = $1",
                       1, (const char *[]){message_id});
}

/* ---- tests -------------------------------------------------------------------------------- */

/* Devices: registered, listed (token hint only), removed; invisible to another member and to
 * another club (RLS), 404 there; validation names the field. */
static void test_devices_and_isolation(void) {
    char user[40], member[40], dev[40];
    svc_caller_t u;
    REQUIRE(member_with_phone(g_club_a, "+447700900001", user, member, &u) == 0);
    CHECK_EQ_INT(register_device(&u, "fcm-token-aaaaaaaaaaaa-111111", dev), 201);
    json_t *o = NULL;
    CHECK_EQ_INT(call(&notification_module, &u, "list_push_devices", &o, NULL), 200);
    json_t *items = json_object_get(o, "items");
    CHECK_EQ_INT((long long)json_array_size(items), 1);
    CHECK_STR(sget(json_array_get(items, 0), "token_hint"), "111111");
    CHECK(!json_object_get(json_array_get(items, 0), "token"));
    json_decref(o);
    /* validation: 400 missing, 422 naming the field */
    CHECK_EQ_INT(
        call(&notification_module, &u, "register_push_device", &o, "{s:s}", "platform", "android"),
        400);
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &u, "register_push_device", &o, "{s:s, s:s}", "token",
                      "fcm-token-bbbbbbbbbbbbbbbb", "platform", "symbian"),
                 422);
    CHECK_STR(sget(json_object_get(o, "error"), "field"), "platform");
    json_decref(o);
    /* another member of the same club, and the same user id acting in club B: nothing */
    char user2[40], member2[40];
    svc_caller_t v;
    REQUIRE(member_with_phone(g_club_a, "+447700900002", user2, member2, &v) == 0);
    svc_caller_t other_club = u;
    snprintf(other_club.club_id, sizeof other_club.club_id, "%s", g_club_b);
    const svc_caller_t *strangers[] = {&v, &other_club};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(call(&notification_module, strangers[i], "list_push_devices", &o, NULL), 200);
        CHECK_EQ_INT((long long)json_array_size(json_object_get(o, "items")), 0);
        json_decref(o);
        CHECK_EQ_INT(call(&notification_module, strangers[i], "delete_push_device", NULL, "{s:s}",
                          "id", dev),
                     404);
    }
    CHECK_EQ_INT(call(&notification_module, &u, "delete_push_device", NULL, "{s:s}", "id", dev),
                 200);
    CHECK_EQ_INT(call(&notification_module, &u, "delete_push_device", NULL, "{s:s}", "id", dev),
                 404);
    /* E.164 where the phone is stored: the member service refuses another form (422 naming it) */
    CHECK_EQ_INT(call(&member_module, &g_na, "create_member", &o,
                      "{s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "club_id", g_club_a, "category", "full",
                      "expires_on", "2099-12-31", "profile", "first_name", "Bad", "last_name",
                      "Phone", "phone", "07700 900003"),
                 422);
    CHECK_STR(sget(json_object_get(o, "error"), "field"), "profile.phone");
    json_decref(o);
}

/* A confirmed visit: SMS to the phone (generic JSON shape) and push to each device (FCM shape);
 * both sent, the providers' ids kept; the status callbacks move them forward, once. */
static void test_delivery_and_callbacks(void) {
    char user[40], member[40], vid[40], dev[40];
    svc_caller_t u;
    REQUIRE(member_with_phone(g_club_a, "+447700900010", user, member, &u) == 0);
    REQUIRE(register_device(&u, "fcm-token-cccccccccccc-222222", dev) == 201);
    REQUIRE(visit_event("visit.confirmed", member, vid) == 0);
    char sid[40], sst[32], sref[NOTIFY_REF_MAX], pid[40], pst[32], pref[NOTIFY_REF_MAX];
    message_of(user, "sms", vid, sid, sst, sref);
    message_of(user, "push", vid, pid, pst, pref);
    CHECK_STR(sst, "queued");
    CHECK_STR(pst, "queued");
    deliver();
    message_of(user, "sms", vid, sid, sst, sref);
    message_of(user, "push", vid, pid, pst, pref);
    CHECK_STR(sst, "sent");
    CHECK_STR(pst, "sent");
    CHECK(strncmp(sref, "gen-", 4) == 0);
    CHECK(strncmp(pref, "projects/test/messages/", 23) == 0);
    /* what the receiver got: the generic SMS JSON with the Authorization header, the FCM body */
    json_t *last = NULL;
    CHECK_EQ_INT(received("\"/sms/ok\"", "+447700900010", &last), 1);
    CHECK_STR(sget(last, "auth"), "Bearer sms-test-key");
    json_t *b = json_loads(sget(last, "body") ? sget(last, "body") : "", 0, NULL);
    CHECK_STR(sget(b, "to"), "+447700900010");
    CHECK_STR(sget(b, "reference"), sid);
    CHECK(sget(b, "text") && strstr(sget(b, "text"), "is confirmed"));
    json_decref(b);
    CHECK_EQ_INT(received("\"/push/ok\"", "fcm-token-cccccccccccc-222222", &last), 1);
    b = json_loads(sget(last, "body") ? sget(last, "body") : "", 0, NULL);
    json_t *msg = json_object_get(b, "message");
    CHECK_STR(sget(msg, "token"), "fcm-token-cccccccccccc-222222");
    CHECK(sget(json_object_get(msg, "notification"), "title") != NULL);
    CHECK_STR(sget(json_object_get(msg, "data"), "message_id"), pid);
    CHECK_STR(sget(last, "auth"), "Bearer push-test-token");
    json_decref(b);
    json_decref(last);
    /* callbacks: delivered once; the repeat and a late "sent" change nothing */
    json_t *o = NULL;
    CHECK_EQ_INT(callback("sms", sref, "delivered", NULL, &o), 200);
    CHECK_STR(sget(o, "status"), "delivered");
    CHECK(json_is_true(json_object_get(o, "applied")));
    json_decref(o);
    CHECK_EQ_INT(callback("sms", sref, "delivered", NULL, &o), 200);
    CHECK(json_is_false(json_object_get(o, "applied")));
    json_decref(o);
    CHECK_EQ_INT(callback("sms", sref, "sent", NULL, &o), 200);
    CHECK_STR(sget(o, "status"), "delivered");
    json_decref(o);
    message_of(user, "sms", vid, sid, sst, sref);
    CHECK_STR(sst, "delivered");
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE id = $1::uuid AND "
                             "delivered_at IS NOT NULL",
                             1, (const char *[]){sid}),
                 1);
    /* a bad signature, another channel's secret, a missing one: 401 and nothing changes */
    CHECK_EQ_INT(callback("push", pref, "delivered", "not-the-secret", &o), 401);
    CHECK_STR(sget(json_object_get(o, "error"), "code"), "invalid_signature");
    json_decref(o);
    CHECK_EQ_INT(callback("push", pref, "delivered", SECRET, &o), 401);
    json_decref(o);
    svc_caller_t anon = {0};
    CHECK_EQ_INT(call(&notification_module, &anon, "push_status_callback", &o, "{s:s}", "body",
                      "{\"id\":\"x\",\"status\":\"delivered\"}"),
                 401);
    json_decref(o);
    message_of(user, "push", vid, pid, pst, pref);
    CHECK_STR(pst, "sent");
    /* too large: 413 before any work */
    char *big = malloc(NOTIFY_CALLBACK_MAX_BYTES + 64);
    REQUIRE(big);
    memset(big, 'x', NOTIFY_CALLBACK_MAX_BYTES + 63);
    big[NOTIFY_CALLBACK_MAX_BYTES + 63] = '\0';
    CHECK_EQ_INT(call(&notification_module, &anon, "push_status_callback", &o, "{s:s, s:s}", "body",
                      big, "signature", "sha256=00"),
                 413);
    json_decref(o);
    free(big);
    /* push: delivery_attempted then undelivered -> notification.failed, once */
    char psecret[] = "push-callback-secret-for-tests";
    CHECK_EQ_INT(callback("push", pref, "delivery_attempted", psecret, &o), 200);
    CHECK_STR(sget(o, "status"), "delivery_attempted");
    json_decref(o);
    CHECK_EQ_INT(callback("push", pref, "undelivered", psecret, &o), 200);
    json_decref(o);
    CHECK_EQ_INT(callback("push", pref, "undelivered", psecret, &o), 200);
    json_decref(o);
    message_of(user, "push", vid, pid, pst, pref);
    CHECK_STR(pst, "undelivered");
    CHECK_EQ_INT(failed_events(pid), 1);
    /* the gateway no longer knows the token (FCM UNREGISTERED, 404): undelivered, device gone */
    notification_settings_t saved = *g_ns;
    set_url(g_ns->push_url, "/push/e404");
    REQUIRE(visit_event("loi.revoked", member, vid) == 0);
    deliver();
    message_of(user, "push", vid, pid, pst, pref);
    CHECK_STR(pst, "undelivered");
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.devices WHERE id = $1::uuid", 1,
                             (const char *[]){dev}),
                 0);
    *g_ns = saved;
    /* an unknown provider id: 404 */
    CHECK_EQ_INT(callback("sms", "gen-no-such-message", "delivered", NULL, &o), 404);
    json_decref(o);
}

/* The Twilio preset: the Messages API form with basic auth and StatusCallback; its answer's sid
 * kept; X-Twilio-Signature verified (a forged one 401). */
static void test_twilio_shape(void) {
    notification_settings_t saved = *g_ns;
    snprintf(g_ns->sms_provider, sizeof g_ns->sms_provider, "twilio");
    set_url(g_ns->sms_url, "/twilio/Messages.json");
    snprintf(g_ns->sms_auth, sizeof g_ns->sms_auth, "%s", TWILIO_AUTH);
    snprintf(g_ns->sms_from, sizeof g_ns->sms_from, "+15005550006");
    char user[40], member[40], vid[40];
    svc_caller_t u;
    REQUIRE(member_with_phone(g_club_a, "+447700900020", user, member, &u) == 0);
    REQUIRE(visit_event("loi.revoked", member, vid) == 0);
    deliver();
    char id[40], st[32], ref[NOTIFY_REF_MAX];
    message_of(user, "sms", vid, id, st, ref);
    CHECK_STR(st, "sent");
    CHECK(strncmp(ref, "SM", 2) == 0);
    json_t *last = NULL;
    CHECK_EQ_INT(received("Messages.json", "To=%2B447700900020", &last), 1);
    CHECK_STR(sget(last, "content_type"), "application/x-www-form-urlencoded");
    CHECK(strncmp(sget(last, "auth") ? sget(last, "auth") : "", "Basic ", 6) == 0);
    CHECK(strstr(sget(last, "body"), "From=%2B15005550006") != NULL);
    CHECK(strstr(sget(last, "body"), "StatusCallback=http%3A%2F%2Fcallbacks.test%2Fapi%2Fv1%2F"
                                     "notifications%2Fcallbacks%2Ftwilio") != NULL);
    json_decref(last);
    /* Twilio's callback, signed over the URL and the sorted parameters */
    json_t *form = json_pack("{s:s, s:s, s:s, s:s}", "MessageSid", ref, "MessageStatus",
                             "delivered", "AccountSid", "ACtest0000000000", "To", "+447700900020");
    char sig[64], raw[600];
    REQUIRE(notify_twilio_signature("twilio-auth-token",
                                    "http://callbacks.test/api/v1/notifications/callbacks/twilio",
                                    form, sig) == 0);
    json_decref(form);
    snprintf(
        raw, sizeof raw,
        "MessageSid=%s&MessageStatus=delivered&AccountSid=ACtest0000000000&To=%%2B447700900020",
        ref);
    svc_caller_t anon = {0};
    json_t *o = NULL;
    CHECK_EQ_INT(call(&notification_module, &anon, "twilio_status_callback", &o, "{s:s, s:s}",
                      "form", raw, "signature", "Zm9yZ2VkIHNpZ25hdHVyZQ=="),
                 401);
    json_decref(o);
    message_of(user, "sms", vid, id, st, ref);
    CHECK_STR(st, "sent");
    CHECK_EQ_INT(call(&notification_module, &anon, "twilio_status_callback", &o, "{s:s, s:s}",
                      "form", raw, "signature", sig),
                 200);
    CHECK_STR(sget(o, "status"), "delivered");
    json_decref(o);
    message_of(user, "sms", vid, id, st, ref);
    CHECK_STR(st, "delivered");
    /* the wrong credentials: Twilio answers 401, a permanent failure */
    snprintf(g_ns->sms_auth, sizeof g_ns->sms_auth, "ACtest0000000000:wrong");
    REQUIRE(visit_event("visit.cancelled", member, vid) == 0);
    deliver();
    message_of(user, "sms", vid, id, st, ref);
    CHECK_STR(st, "undelivered");
    CHECK_EQ_INT(failed_events(id), 1);
    *g_ns = saved;
}

/* 500 and 429 are retried with backoff (tries counted, due later), undelivered after max_tries
 * with notification.failed; 400 is permanent at once; a phone that is not E.164 is not sent. */
static void test_retry_and_permanent(void) {
    notification_settings_t saved = *g_ns;
    char user[40], member[40], vid[40], id[40], st[32], ref[NOTIFY_REF_MAX];
    svc_caller_t u;
    REQUIRE(member_with_phone(g_club_a, "+447700900030", user, member, &u) == 0);
    set_url(g_ns->sms_url, "/sms/e500");
    REQUIRE(visit_event("visit.confirmed", member, vid) == 0);
    deliver();
    message_of(user, "sms", vid, id, st, ref);
    CHECK_STR(st, "queued");
    const char *p[] = {id};
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE id = $1::uuid AND "
                             "tries = 1 AND next_attempt_at > now() AND last_error LIKE '%500%'",
                             1, p),
                 1);
    for (int i = 0; i < 5; i++) {
        owner_exec("UPDATE notification.messages SET next_attempt_at = now() WHERE id = $1::uuid "
                   "AND status = 'queued'",
                   1, p);
        deliver();
    }
    message_of(user, "sms", vid, id, st, ref);
    CHECK_STR(st, "undelivered");
    CHECK_EQ_INT(owner_count("SELECT tries FROM notification.messages WHERE id = $1::uuid", 1, p),
                 g_ns->max_tries);
    CHECK_EQ_INT(failed_events(id), 1);
    CHECK_EQ_INT(received("/sms/e500", "+447700900030", NULL), g_ns->max_tries);
    /* 429: retried */
    set_url(g_ns->sms_url, "/sms/e429");
    REQUIRE(visit_event("visit.confirmed", member, vid) == 0);
    deliver();
    message_of(user, "sms", vid, id, st, ref);
    CHECK_STR(st, "queued");
    /* 400: permanent, one try */
    set_url(g_ns->sms_url, "/sms/e400");
    REQUIRE(visit_event("visit.cancelled", member, vid) == 0);
    deliver();
    message_of(user, "sms", vid, id, st, ref);
    CHECK_STR(st, "undelivered");
    CHECK_EQ_INT(owner_count("SELECT tries FROM notification.messages WHERE id = $1::uuid", 1,
                             (const char *[]){id}),
                 1);
    CHECK_EQ_INT(failed_events(id), 1);
    /* a recipient that is not E.164 (a row written around the consumers): not_sent, no request */
    set_url(g_ns->sms_url, "/sms/ok");
    char mid[40];
    const char *q[] = {g_club_a, user};
    owner_text("INSERT INTO notification.messages (club_id, user_id, event_id, event_type, "
               "template, channel, recipient, vars) VALUES ($1::uuid, $2::uuid, "
               "gen_random_uuid(), 'visit.confirmed', 'visit_confirmed', 'sms', '0770090003x', "
               "'{\"member\": {\"first_name\": \"S\"}, \"host_club\": {\"name\": \"H\"}}') "
               "RETURNING id::text",
               2, q, mid, sizeof mid);
    deliver();
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE id = $1::uuid AND "
                             "status = 'not_sent' AND last_error LIKE '%E.164%'",
                             1, (const char *[]){mid}),
                 1);
    CHECK_EQ_INT(received("0770090003x", NULL, NULL), 0);
    *g_ns = saved;
}

/* RECIPROCAL_SMS_MAX_PER_HOUR: the excess waits (queued, due when the hour allows, no try). */
static void test_rate_limit(void) {
    notification_settings_t saved = *g_ns;
    g_ns->sms_max_per_hour = 2;
    char user[40], member[40], vid[40];
    svc_caller_t u;
    REQUIRE(member_with_phone(g_club_a, "+447700900040", user, member, &u) == 0);
    for (int i = 0; i < 3; i++)
        REQUIRE(visit_event("visit.confirmed", member, vid) == 0);
    deliver();
    const char *p[] = {user};
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE user_id::text = $1 "
                             "AND channel = 'sms' AND status = 'sent'",
                             1, p),
                 2);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE user_id::text = $1 "
                             "AND channel = 'sms' AND status = 'queued' AND tries = 0 AND "
                             "next_attempt_at > now() + interval '50 minutes' AND last_error LIKE "
                             "'rate limited%'",
                             1, p),
                 1);
    CHECK_EQ_INT(received("\"/sms/ok\"", "+447700900040", NULL), 2);
    *g_ns = saved;
}

/* Opt-in and critical: a non-critical push (loi.issued) needs push switched on; quiet hours
 * defer it; critical SMS and push are sent anyway (SMS off, quiet hours). */
static void test_preferences_and_quiet_hours(void) {
    char user[40], member[40], vid[40], dev[40];
    svc_caller_t u;
    REQUIRE(member_with_phone(g_club_a, "+447700900050", user, member, &u) == 0);
    REQUIRE(register_device(&u, "fcm-token-dddddddddddd-333333", dev) == 201);
    const char *p[] = {user};
    REQUIRE(visit_event("loi.issued", member, vid) == 0);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE user_id::text = $1 "
                             "AND channel IN ('push', 'sms')",
                             1, p),
                 0);
    time_t now = time(NULL), a = now - 3600, b = now + 7200;
    char qs[8], qe[8];
    struct tm tm;
    gmtime_r(&a, &tm);
    strftime(qs, sizeof qs, "%H:%M", &tm);
    gmtime_r(&b, &tm);
    strftime(qe, sizeof qe, "%H:%M", &tm);
    json_t *o = NULL;
    REQUIRE(call(&notification_module, &u, "update_preferences", &o, "{s:b, s:s, s:{s:s, s:s}}",
                 "push", 1, "timezone", "UTC", "quiet_hours", "start", qs, "end", qe) == 200);
    CHECK(json_is_false(json_object_get(o, "sms")));
    CHECK(json_is_true(json_object_get(o, "push")));
    json_decref(o);
    REQUIRE(visit_event("loi.issued", member, vid) == 0);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE user_id::text = $1 "
                             "AND channel = 'push' AND status = 'queued' AND next_attempt_at > "
                             "now() + interval '100 minutes'",
                             1, p),
                 1);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE user_id::text = $1 "
                             "AND channel = 'sms'",
                             1, p),
                 0);
    /* critical: SMS (switched off) and push, due now despite the quiet hours */
    REQUIRE(visit_event("visit.cancelled", member, vid) == 0);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE user_id::text = $1 "
                             "AND channel IN ('sms', 'push') AND template = 'visit_cancelled' AND "
                             "next_attempt_at <= now()",
                             1, p),
                 2);
    /* push switched off per category: the next non-critical push is not queued */
    REQUIRE(call(&notification_module, &u, "update_preferences", &o, "{s:[{s:s, s:b}]}",
                 "categories", "category", "visits", "push", 0) == 200);
    /* the effective values per category: visits push off, security (mandatory) on */
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(o, "categories"), i, c) {
        if (strcmp(sget(c, "category"), "visits") == 0) {
            CHECK(json_is_false(json_object_get(c, "push")));
            CHECK(json_is_false(json_object_get(c, "sms")));
        }
        if (strcmp(sget(c, "category"), "security") == 0)
            CHECK(json_is_true(json_object_get(c, "push")));
    }
    json_decref(o);
    REQUIRE(visit_event("loi.issued", member, vid) == 0);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE user_id::text = $1 "
                             "AND channel = 'push' AND template = 'visit_approved'",
                             1, p),
                 1);
}

static int create_club(const char *name, char id[40]) {
    char slug[64];
    snprintf(slug, sizeof slug, "channels-%d-%d", (int)getpid(), ++g_seq);
    json_t *o = NULL;
    int st = call(&member_module, &g_na, "create_club", &o, "{s:s, s:s, s:s, s:{s:s}}", "name",
                  name, "slug", slug, "timezone", "UTC", "address", "country", "GB");
    if (st == 201) snprintf(id, 40, "%s", sget(o, "id"));
    json_decref(o);
    return st == 201 ? 0 : -1;
}

/* ---- mailfx: FCM with a service account, through the worker --------------------------- */

static int g_token_requests, g_token_bad;

typedef struct token_upload {
    char buf[16384];
    size_t n;
} token_upload_t;

/* The OAuth 2 token endpoint: a jwt-bearer grant with a three-part assertion gets
 * {"access_token": "minted-<n>", "expires_in": 3600}; anything else 400. */
static enum MHD_Result token_endpoint(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version, const char *data,
                                      size_t *size, void **state) {
    (void)cls, (void)version;
    token_upload_t *u = *state;
    if (!u) {
        *state = calloc(1, sizeof(token_upload_t));
        return *state ? MHD_YES : MHD_NO;
    }
    if (*size) {
        size_t k = *size < sizeof u->buf - 1 - u->n ? *size : sizeof u->buf - 1 - u->n;
        memcpy(u->buf + u->n, data, k);
        u->n += k;
        *size = 0;
        return MHD_YES;
    }
    static const char prefix[] = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                                 "&assertion=";
    const char *jwt = u->buf + strlen(prefix), *d1 = strchr(jwt, '.');
    int good = strcmp(method, "POST") == 0 && strcmp(url, "/token") == 0 &&
               strncmp(u->buf, prefix, strlen(prefix)) == 0 && d1 && strchr(d1 + 1, '.');
    int n = __atomic_add_fetch(&g_token_requests, 1, __ATOMIC_SEQ_CST);
    if (!good) __atomic_add_fetch(&g_token_bad, 1, __ATOMIC_SEQ_CST);
    char body[128];
    snprintf(body, sizeof body, "{\"access_token\":\"minted-%d\",\"expires_in\":3600}", n);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, good ? 200u : 400u, r);
    MHD_destroy_response(r);
    return rc;
}

static void token_completed(void *cls, struct MHD_Connection *c, void **state,
                            enum MHD_RequestTerminationCode t) {
    (void)cls, (void)c, (void)t;
    free(*state);
    *state = NULL;
}

/* A service account key file whose token_uri is uri, at path. 0 or -1. */
static int write_service_account(const char *path, const char *uri) {
    EVP_PKEY *key = EVP_RSA_gen(2048);
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    int rc = -1;
    if (key && b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1) {
        long n = BIO_get_mem_data(b, &pem);
        json_t *acct = json_pack("{s:s, s:s, s:s, s:s%, s:s}", "type", "service_account",
                                 "client_email", "push@channels.iam", "private_key_id", "key-2",
                                 "private_key", pem, (size_t)n, "token_uri", uri);
        rc = acct && json_dump_file(acct, path, 0) == 0 ? 0 : -1;
        json_decref(acct);
    }
    BIO_free(b);
    EVP_PKEY_free(key);
    return rc;
}

/* Two confirmed visits of a member with a device, with RECIPROCAL_PUSH_SERVICE_ACCOUNT_FILE set:
 * the worker mints an access token at the (real, local) token endpoint once, sends both pushes
 * to the receiver with "Authorization: Bearer minted-<n>" (never the static
 * RECIPROCAL_PUSH_AUTH), and reuses the token for the second push. */
static void test_fcm_service_account_push(void) {
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, token_endpoint, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, token_completed, NULL, MHD_OPTION_END);
    REQUIRE(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char uri[128], file[512];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%u/token", info ? (unsigned)info->port : 0u);
    snprintf(file, sizeof file, "%.480s.fcm.json", g_log);
    if (write_service_account(file, uri) != 0) {
        MHD_stop_daemon(d);
        REQUIRE(0);
    }
    notification_settings_t saved = *g_ns;
    snprintf(g_ns->push_service_account_file, sizeof g_ns->push_service_account_file, "%s", file);
    notify_fcm_forget();
    char user[40], member[40], dev[40], vid1[40], vid2[40], id[40], st[32], ref[NOTIFY_REF_MAX];
    svc_caller_t u;
    int before = g_token_requests;
    REQUIRE(member_with_phone(g_club_a, "+447700900090", user, member, &u) == 0);
    REQUIRE(register_device(&u, "fcm-token-serviceaccount-909090", dev) == 201);
    REQUIRE(visit_event("visit.confirmed", member, vid1) == 0);
    deliver();
    message_of(user, "push", vid1, id, st, ref);
    CHECK_STR(st, "sent");
    REQUIRE(visit_event("visit.confirmed", member, vid2) == 0);
    deliver();
    message_of(user, "push", vid2, id, st, ref);
    CHECK_STR(st, "sent");
    *g_ns = saved;
    notify_fcm_forget();
    MHD_stop_daemon(d);
    unlink(file);
    CHECK_EQ_INT(g_token_requests - before, 1);
    CHECK_EQ_INT(g_token_bad, 0);
    char bearer[64];
    snprintf(bearer, sizeof bearer, "\"auth\": \"Bearer minted-%d\"", before + 1);
    CHECK_EQ_INT(received("909090", bearer, NULL), 2);
    CHECK_EQ_INT(received("909090", "push-test-token", NULL), 0);
}

static void test_setup(void) {
    err_t e = {0};
    const char *url = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    const char *owner = TEST_ENV("RECIPROCAL_TEST_OWNER_URL");
    const char *tmp = TEST_ENV("RECIPROCAL_TEST_TMP");
    const char *nats = TEST_ENV("RECIPROCAL_TEST_NATS_URL");
    REQUIRE(url && owner && tmp && nats);
    mkdir(tmp, 0700);
    snprintf(g_log, sizeof g_log, "%s/providers-%d.log", tmp, (int)getpid());
    REQUIRE(start_receiver() == 0);
    REQUIRE(cfg_load(&g_cfg, NULL, &e) == 0);
    REQUIRE(svc_settings_load(&g_set, NULL, &e) == 0);
    g_ns = svc_settings_edit(&g_set, &notification_module);
    g_ns->retry_base_s = 1;
    g_ns->max_tries = 3;
    /* the members' mails go nowhere (connection refused, retried): not to a demo's server */
    snprintf(g_ns->smtp_url, sizeof g_ns->smtp_url, "smtp://127.0.0.1:9");
    snprintf(g_ns->webhook_allow_hosts, sizeof g_ns->webhook_allow_hosts, "127.0.0.1");
    snprintf(g_ns->sms_provider, sizeof g_ns->sms_provider, "generic");
    set_url(g_ns->sms_url, "/sms/ok");
    snprintf(g_ns->sms_auth, sizeof g_ns->sms_auth, "Bearer sms-test-key");
    snprintf(g_ns->sms_from, sizeof g_ns->sms_from, "Reciprocal");
    snprintf(g_ns->sms_callback_secret, sizeof g_ns->sms_callback_secret, "%s", SECRET);
    snprintf(g_ns->push_provider, sizeof g_ns->push_provider, "fcm");
    set_url(g_ns->push_url, "/push/ok");
    snprintf(g_ns->push_auth, sizeof g_ns->push_auth, "Bearer push-test-token");
    snprintf(g_ns->push_callback_secret, sizeof g_ns->push_callback_secret,
             "push-callback-secret-for-tests");
    snprintf(g_ns->provider_callback_base, sizeof g_ns->provider_callback_base,
             "http://callbacks.test");
    g_ns->provider_timeout_s = 5;
    REQUIRE(notify_provider_check(g_ns, &e) == 0);
    g_db = db_pool_open(url, 4, &e);
    g_owner = db_pool_open(owner, 1, &e);
    REQUIRE(g_db && g_owner);
    g_bus = bus_connect(nats, "test_notification_channels", &e);
    REQUIRE(g_bus);
    g_env = (svc_env_t){.cfg = &g_cfg, .db = g_db, .bus = g_bus, .settings = &g_set};
    char email[128], id[40];
    snprintf(email, sizeof email, "channels-admin-%d@channels.example", (int)getpid());
    REQUIRE(auth_create_network_admin(g_db, email, PW, id, &e) == 0);
    snprintf(g_na.user_id, sizeof g_na.user_id, "%s", id);
    g_na.network_admin = 1;
    snprintf(g_na.perms, sizeof g_na.perms, "*");
    REQUIRE(create_club("Channels Club A", g_club_a) == 0);
    REQUIRE(create_club("Channels Club B", g_club_b) == 0);
}

/* A bad provider name or a provider without URL stops the start. */
static void test_config_check(void) {
    notification_settings_t s = *g_ns;
    err_t e = {0};
    snprintf(s.sms_provider, sizeof s.sms_provider, "carrier-pigeon");
    CHECK_EQ_INT(notify_provider_check(&s, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_SMS_PROVIDER");
    s = *g_ns;
    s.push_url[0] = '\0';
    CHECK_EQ_INT(notify_provider_check(&s, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_PUSH_URL");
}

int main(void) {
    log_init(LOG_ERROR, 0, "test_notification_channels");
    RUN(test_setup);
    if (g_db && g_bus && g_club_b[0]) {
        RUN(test_config_check);
        RUN(test_devices_and_isolation);
        RUN(test_delivery_and_callbacks);
        RUN(test_twilio_shape);
        RUN(test_retry_and_permanent);
        RUN(test_rate_limit);
        RUN(test_preferences_and_quiet_hours);
        RUN(test_fcm_service_account_push);
    }
    sink_stop(&g_recv);
    db_pool_close(g_db);
    db_pool_close(g_owner);
    bus_close(g_bus);
    bus_shutdown_library();
    TEST_DONE();
}
