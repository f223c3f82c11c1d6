/* test_notification: the notification service against the harness's PostgreSQL and NATS and a
 * real SMTP server (aiosmtpd, tests/services/notification/smtp_server.py, started here on a free
 * port with a Maildir in the scratch folder). An invitation made through auth's operation
 * becomes an auth.invite_created event (relayed to JetStream), the notification consumer queues
 * one email (the audience and the token through auth.delivery_token), the worker sends it over
 * SMTP and the mail's link carries a token that registers the account. Replaying the whole
 * stream (durable deleted) queues and sends nothing twice (messages and Maildir files counted).
 * SMTP 550 is permanent (undelivered at once, notification.failed emitted), 451 is retried with
 * backoff and undelivered after max_tries. The in-app inbox: list, unread count, mark seen/read,
 * publication on inbox.<user>, and tenant isolation (another member, another club: nothing,
 * 404). Every default template renders in strict mode with its audience's variables. */
#include <nats/nats.h>
#include <pthread.h>
#include <sodium.h>
#include <libical/ical.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/consumer.h"
#include "core/db.h"
#include "core/log.h"
#include "core/outbox.h"
#include "core/rcache.h"
#include "core/service.h"
#include "services/auth/auth.h"
#include "services/auth/auth_accounts.h"
#include "services/member/member.h"
#include "services/notification/delivery.h"
#include "services/notification/icu_fmt.h"
#include "services/notification/notification.h"
#include "services/notification/prefs.h"
#include "services/notification/smtp.h"
#include "services/notification/webhook.h"
#include "services/notification/webhook_http.h"
#include "services/notification/rules.h"
#include "support/sink.h"
#include "test.h"

static db_pool_t *g_db, *g_owner;
static bus_t *g_bus;
static cfg_t g_cfg;
static svc_env_t g_env;
static svc_settings_t g_set;
static const char *g_nats_url;
static sink_mail_t g_mail;               /* the SMTP server and its Maildir */
static sink_proc_t g_hook = {.pid = -1}; /* the webhook receiver */
static char g_club_a[40], g_club_b[40];
static svc_caller_t g_na; /* a network administrator */
static int g_seq;
static const char *PW = "correct horse battery staple 42";

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *sget(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

static int vcall(const svc_module_t *m, const svc_caller_t *c, const char *op, json_t **out,
                 const char *fmt, va_list ap) {
    const svc_op_t *o = svc_find_op(m, op);
    if (!o) return -1;
    json_t *in = fmt ? json_vpack_ex(NULL, 0, fmt, ap) : json_object();
    err_t e = {0};
    int status = 0;
    json_t *output = NULL;
    svc_dispatch(&g_env, m, o, c, in, &status, &output, &e);
    json_decref(in);
    if (!output && status >= 300)
        output = json_pack("{s:{s:s, s:s}}", "error", "code", e.code, "message", e.message);
    if (out)
        *out = output;
    else
        json_decref(output);
    return status;
}

static int call(const svc_module_t *m, const svc_caller_t *c, const char *op, json_t **out,
                const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int st = vcall(m, c, op, out, fmt, ap);
    va_end(ap);
    return st;
}

static db_tx_t *owner_tx(void) {
    db_scope_t s = {.network_admin = 1, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    if (db_begin(g_owner, &s, &tx, &e) != 0) printf("#   owner begin: %s\n", e.message);
    return tx;
}

static long long owner_count(const char *sql, int n, const char *const *p) {
    db_tx_t *tx = owner_tx();
    if (!tx) return -1;
    err_t e = {0};
    PGresult *r = db_exec(tx, sql, n, p, &e);
    long long v = -1;
    if (!r) printf("#   owner query: %s\n", e.message);
    if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    db_commit(tx, &e);
    return v;
}

static int owner_exec(const char *sql, int n, const char *const *p) {
    db_tx_t *tx = owner_tx();
    if (!tx) return -1;
    err_t e = {0};
    long long rc = db_exec_cmd(tx, sql, n, p, &e);
    if (rc < 0) printf("#   owner exec: %s\n", e.message);
    return db_tx_finish(&tx, rc < 0 ? -1 : 0, NULL, &e);
}

static void unique_email(const char *tag, char out[128]) {
    snprintf(out, 128, "%s-%d-%d@notify.example", tag, (int)getpid(), ++g_seq);
}

/* ---- the SMTP server -------------------------------------------------------------------- */

/* Mails in the Maildir whose text contains needle and also (either NULL: any); the last one's
 * text into last (malloc'd) when not NULL. */
static int mails_matching(const char *needle, const char *also, char **last) {
    return sink_mails_matching(&g_mail, needle, also, last);
}

static int mails_with(const char *needle, char **last) {
    return mails_matching(needle, NULL, last);
}

/* ---- the pipeline ----------------------------------------------------------------------- */

/* Relays the auth outbox and applies what the notification consumers find. */
static void consume(void) {
    err_t e = {0};
    while (outbox_relay_once(g_db, g_bus, "auth", &e) > 0) {
    }
    for (size_t k = 0; k < notification_module.n_consumers; k++)
        for (int i = 0; i < 100; i++) {
            int n = svc_consumer_poll(&g_env, &notification_module,
                                      &notification_module.consumers[k], 64, 300, NULL, &e);
            if (n < 0) printf("#   poll: %s\n", e.message);
            if (n <= 0) break;
        }
}

static void deliver(void) {
    err_t e = {0};
    while (notify_deliver_once(&g_env, &e) > 0) {
    }
}

static int invite(const char *email, const char *club) {
    json_t *o = NULL;
    int st = call(&auth_module, &g_na, "invite", &o, "{s:s, s:s, s:s}", "email", email, "role",
                  "member", "club_id", club);
    if (st != 201) printf("#   invite: %d\n", st);
    json_decref(o);
    return st == 201 ? 0 : -1;
}

static long long messages_to(const char *email) {
    const char *p[] = {email};
    return owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1", 1, p);
}

static void test_invite_mail_over_smtp(void) {
    char email[128], needle[160];
    unique_email("invitee", email);
    REQUIRE(invite(email, g_club_a) == 0);
    consume();
    CHECK_EQ_INT(messages_to(email), 1);
    deliver();
    snprintf(needle, sizeof needle, "To: %s", email);
    char *mail = NULL;
    CHECK_EQ_INT(mails_with(needle, &mail), 1);
    REQUIRE(mail);
    CHECK(strstr(mail, "multipart/alternative") != NULL);
    CHECK(strstr(mail, "text/html") != NULL);
    CHECK(strstr(mail, "Subject: You are invited to Notify Club A") != NULL);
    char text[4096];
    sink_mail_plain_part(mail, text, sizeof text);
    free(mail);
    const char *link = strstr(text, "/register?token=");
    REQUIRE(link);
    char token[64] = "";
    sscanf(link + strlen("/register?token="), "%63[A-Za-z0-9_-]", token);
    CHECK(strlen(token) >= 40);
    /* the token from the mail registers the account */
    svc_caller_t anon = {0};
    snprintf(anon.ip, sizeof anon.ip, "10.7.0.%d", ++g_seq % 250);
    CHECK_EQ_INT(
        call(&auth_module, &anon, "register", NULL, "{s:s, s:s}", "token", token, "password", PW),
        200);
    const char *p[] = {email};
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 "
                             "AND status = 'sent' AND sent_at IS NOT NULL AND tries = 1",
                             1, p),
                 1);
    /* the token never reaches the database of the notification service */
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE vars::text LIKE "
                             "'%' || $1 || '%' OR coalesce(body_text, '') LIKE '%' || $1 || '%'",
                             1, (const char *[]){token}),
                 0);
}

/* Replaying the whole stream: the durables are deleted, so every event in EVENTS is delivered
 * again; nothing is queued or sent twice. */
static void test_replay_sends_nothing_twice(void) {
    char email[128];
    unique_email("replay", email);
    REQUIRE(invite(email, g_club_a) == 0);
    consume();
    deliver();
    /* The database and the SMTP sink are shared with the run's other tests, whose retries and
     * reminders may fall due meanwhile: a mail is "sent twice" when the sink grows by more than
     * the number of messages that became sent. */
    const char *sent_sql = "SELECT count(*) FROM notification.messages WHERE status = 'sent'";
    long long messages = owner_count("SELECT count(*) FROM notification.messages", 0, NULL);
    long long sent = owner_count(sent_sql, 0, NULL);
    int mails = mails_with(NULL, NULL);
    CHECK(messages >= 2);
    CHECK(mails >= 2);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    REQUIRE(natsConnection_ConnectTo(&nc, g_nats_url) == NATS_OK);
    CHECK(natsConnection_JetStream(&js, nc, NULL) == NATS_OK);
    for (size_t k = 0; js && k < notification_module.n_consumers; k++) {
        char durable[64];
        jsErrCode jerr = 0;
        svc_consumer_durable(&notification_module, &notification_module.consumers[k], durable);
        js_DeleteConsumer(js, "EVENTS", durable, NULL, &jerr);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    err_t e = {0};
    bus_close(g_bus);
    g_bus = g_env.bus = bus_connect(g_nats_url, "test_notification", &e);
    REQUIRE(g_bus);
    consume();
    deliver();
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages", 0, NULL), messages);
    CHECK_EQ_INT(mails_with(NULL, NULL) - mails, owner_count(sent_sql, 0, NULL) - sent);
    CHECK_EQ_INT(messages_to(email), 1);
    CHECK_EQ_INT(mails_with(email, NULL), 1);
}

static void test_smtp_permanent_and_transient(void) {
    char rejected[128], later[128];
    unique_email("reject", rejected);
    unique_email("later", later);
    REQUIRE(invite(rejected, g_club_a) == 0);
    REQUIRE(invite(later, g_club_a) == 0);
    consume();
    err_t e = {0};
    notify_deliver_once(&g_env, &e);
    const char *p1[] = {rejected}, *p2[] = {later};
    /* 550: undelivered after one try, notification.failed emitted */
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND "
                             "status = 'undelivered' AND tries = 1 AND last_error LIKE 'SMTP 550%'",
                             1, p1),
                 1);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.outbox o JOIN "
                             "notification.messages m ON m.id::text = o.payload->'data'->>"
                             "'message_id' WHERE o.type = 'notification.failed' AND m.recipient "
                             "= $1",
                             1, p1),
                 1);
    /* 451: retried with backoff (base 1 s), undelivered after max_tries (3) */
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND "
                             "status = 'queued' AND tries = 1 AND next_attempt_at > now()",
                             1, p2),
                 1);
    for (int i = 0; i < 80 && owner_count("SELECT count(*) FROM notification.messages WHERE "
                                          "recipient = $1 AND status = 'undelivered'",
                                          1, p2) < 1;
         i++) {
        sleep_ms(100);
        notify_deliver_once(&g_env, &e);
    }
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND "
                             "status = 'undelivered' AND tries = 3 AND last_error LIKE 'SMTP 451%'",
                             1, p2),
                 1);
    /* the failed list, and a retry queues it again */
    json_t *o = NULL;
    CHECK_EQ_INT(call(&notification_module, &g_na, "list_failed_notifications", &o, NULL), 200);
    CHECK(json_array_size(json_object_get(o, "items")) >= 2);
    json_decref(o);
    svc_caller_t member = {0};
    snprintf(member.user_id, sizeof member.user_id, "%s", "9d3c1f7e-0000-4000-8000-000000000001");
    snprintf(member.club_id, sizeof member.club_id, "%s", g_club_a);
    CHECK_EQ_INT(call(&notification_module, &member, "list_failed_notifications", NULL, NULL), 403);
}

/* In-app messages, as the consumer queues them (rendered), for two users of club A and one of
 * club B. */
static int add_in_app(const char *club, const char *user, const char *subject) {
    char event[40];
    snprintf(event, sizeof event, "8e2f6a1c-0000-4000-8000-%012d", ++g_seq);
    const char *p[] = {club, user, event, subject};
    return owner_exec("INSERT INTO notification.messages (club_id, user_id, event_id, event_type, "
                      "template, channel, recipient, subject, body_text) VALUES ($1::uuid, "
                      "$2::uuid, $3::uuid, 'visit.confirmed', 'visit_confirmed', 'in_app', $2, "
                      "$4, 'body')",
                      4, p);
}

typedef struct got {
    atomic_int n;
} got_t;

static char *on_inbox(const char *subject, const char *data, size_t len, size_t *reply_len,
                      void *ud) {
    (void)subject, (void)len, (void)reply_len;
    got_t *g = ud;
    if (strstr(data, "Hello inbox")) atomic_fetch_add(&g->n, 1);
    return NULL;
}

static void test_inbox_and_isolation(void) {
    static const char *u1 = "5b1e0c1a-0000-4000-8000-0000000000a1";
    static const char *u2 = "5b1e0c1a-0000-4000-8000-0000000000a2";
    static const char *u3 = "5b1e0c1a-0000-4000-8000-0000000000b1";
    svc_caller_t c1 = {0}, c2 = {0}, c3 = {0};
    snprintf(c1.user_id, sizeof c1.user_id, "%s", u1);
    snprintf(c1.club_id, sizeof c1.club_id, "%s", g_club_a);
    snprintf(c2.user_id, sizeof c2.user_id, "%s", u2);
    snprintf(c2.club_id, sizeof c2.club_id, "%s", g_club_a);
    snprintf(c3.user_id, sizeof c3.user_id, "%s", u3);
    snprintf(c3.club_id, sizeof c3.club_id, "%s", g_club_b);
    static got_t got;
    err_t e = {0};
    char subject[64];
    snprintf(subject, sizeof subject, "inbox.%s", u1);
    REQUIRE(bus_subscribe(g_bus, subject, on_inbox, &got, &e) == 0);
    REQUIRE(add_in_app(g_club_a, u1, "Hello inbox 1") == 0);
    REQUIRE(add_in_app(g_club_a, u1, "Hello inbox 2") == 0);
    REQUIRE(add_in_app(g_club_b, u3, "Club B message") == 0);
    deliver();
    for (int i = 0; i < 50 && atomic_load(&got.n) < 2; i++)
        sleep_ms(100);
    CHECK(atomic_load(&got.n) >= 2);
    json_t *o = NULL;
    REQUIRE(call(&notification_module, &c1, "list_inbox", &o, "{s:i}", "limit", 10) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "unread")), 2);
    char id[40];
    snprintf(id, sizeof id, "%s", sget(json_array_get(json_object_get(o, "items"), 0), "id"));
    CHECK_STR(sget(json_array_get(json_object_get(o, "items"), 0), "status"), "sent");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &c1, "mark_inbox_seen", &o, "{s:s}", "id", id), 200);
    CHECK_STR(sget(o, "status"), "seen");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &c1, "mark_inbox_read", &o, "{s:s}", "id", id), 200);
    CHECK_STR(sget(o, "status"), "read");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &c1, "inbox_unread_count", &o, NULL), 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "unread")), 1);
    json_decref(o);
    /* another member of club A, and club B's member: nothing of u1's, and 404 on its id */
    CHECK_EQ_INT(call(&notification_module, &c2, "list_inbox", &o, NULL), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 0);
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &c2, "mark_inbox_read", NULL, "{s:s}", "id", id), 404);
    CHECK_EQ_INT(call(&notification_module, &c3, "mark_inbox_read", NULL, "{s:s}", "id", id), 404);
    CHECK_EQ_INT(call(&notification_module, &c3, "list_inbox", &o, NULL), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 1);
    json_decref(o);
    /* u1 acting in club B sees nothing of club A */
    svc_caller_t c1b = c1;
    snprintf(c1b.club_id, sizeof c1b.club_id, "%s", g_club_b);
    CHECK_EQ_INT(call(&notification_module, &c1b, "list_inbox", &o, NULL), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 0);
    json_decref(o);
    /* input */
    CHECK_EQ_INT(call(&notification_module, &c1, "list_inbox", NULL, "{s:i}", "limit", 0), 422);
    CHECK_EQ_INT(call(&notification_module, &c1, "mark_inbox_read", NULL, "{s:s}", "id", "x"), 422);
    CHECK_EQ_INT(call(&notification_module, &c1, "list_inbox", NULL, "{s:s}", "bogus", "1"), 400);
}

/* Every rule's template renders in strict mode with its audience's variables. */
static void test_templates_render(void) {
    json_t *club = json_pack("{s:s, s:s}", "id", g_club_a, "name", "A & <B>");
    json_t *vars[] = {
        json_pack("{s:s, s:s, s:s, s:s, s:O, s:s}", "token_id", "x", "purpose", "invite", "email",
                  "a@b.example", "expires_at", "2026-01-01T00:00:00Z", "club", club, "link",
                  "http://x/register?token=abc"),
        json_pack("{s:s, s:s, s:{s:s}, s:O, s:O, s:s, s:s}", "visit_id", "v", "status", "confirmed",
                  "member", "first_name", "[Ann](http://evil.example)", "home_club", club,
                  "host_club", club, "arrive_on", "2030-03-04", "depart_on", "2030-03-05"),
        json_pack("{s:s, s:O, s:O}", "agreement_id", "g", "club", club, "proposer", club),
        json_pack("{s:s, s:s, s:O, s:O, s:O}", "statement_id", "s", "status", "issued", "club",
                  club, "home_club", club, "host_club", club),
    };
    for (size_t k = 0; k < notify_n_rules; k++) {
        const notify_rule_t *r = &notify_rules[k];
        json_t *v = strcmp(r->audience, "token_user") == 0        ? vars[0]
                    : strcmp(r->audience, "visit_member") == 0    ? vars[1]
                    : strncmp(r->audience, "statement_", 10) == 0 ? vars[3]
                                                                  : vars[2];
        notify_format_vars(v, "en-GB", "Europe/London", NULL); /* the consumers' "_local" values */
        char *st = NULL, *bt = NULL, *s = NULL, *t = NULL, *h = NULL;
        err_t e = {0};
        db_tx_t *tx = owner_tx();
        CHECK(notify_template(tx, NULL, r->template, "en", &st, &bt, &e) == 0);
        db_rollback(tx);
        int rc = st ? notify_render(st, bt, v, &s, &t, &h, &e) : -1;
        if (rc != 0) printf("#   %s: %s\n", r->template, e.message);
        CHECK_EQ_INT(rc, 0);
        /* values add no HTML and no Markdown link */
        if (h) CHECK(strstr(h, "<B>") == NULL && strstr(h, "href=\"http://evil") == NULL);
        free(st), free(bt), free(s), free(t), free(h);
    }
    /* a missing variable is an error naming it, never a blank */
    char *s = NULL, *t = NULL;
    err_t e = {0};
    CHECK_EQ_INT(notify_render("Hi {{member.first_name}}", "x", vars[2], &s, &t, NULL, &e), -1);
    CHECK_STR(e.code, "template_error");
    CHECK(strstr(e.message, "member.first_name") != NULL);
    for (size_t i = 0; i < 4; i++)
        json_decref(vars[i]);
    json_decref(club);
}

/* ---- preferences and quiet hours ----------------------------------------------------------- */

/* The end of the quiet window at `at` (notification.quiet_until through notify_quiet_until: the
 * clock is the argument). */
static void quiet(const char *at, const char *tz, const char *qs, const char *qe, char out[40]) {
    err_t e = {0};
    db_tx_t *tx = owner_tx();
    out[0] = '?';
    if (tx && notify_quiet_until(tx, at, tz, qs, qe, out, &e) != 0)
        printf("#   quiet_until: %s\n", e.message);
    db_rollback(tx);
}

/* Quiet hours in the user's time zone, wrapping midnight, across both DST changes. */
static void test_quiet_hours_dst(void) {
    char out[40];
    /* London, 22:00-07:00. Spring forward 2026-03-29 01:00 GMT -> 02:00 BST: the night is an
     * hour shorter; 07:00 BST is 06:00Z */
    quiet("2026-03-28T23:30:00Z", "Europe/London", "22:00", "07:00", out);
    CHECK_STR(out, "2026-03-29T06:00:00Z");
    quiet("2026-03-29T00:30:00Z", "Europe/London", "22:00", "07:00", out);
    CHECK_STR(out, "2026-03-29T06:00:00Z");
    quiet("2026-03-29T05:59:00Z", "Europe/London", "22:00", "07:00", out); /* 06:59 BST */
    CHECK_STR(out, "2026-03-29T06:00:00Z");
    quiet("2026-03-29T06:00:00Z", "Europe/London", "22:00", "07:00", out); /* 07:00 BST: over */
    CHECK_STR(out, "");
    /* fall back 2026-10-25 02:00 BST -> 01:00 GMT: 07:00 GMT is 07:00Z */
    quiet("2026-10-24T21:30:00Z", "Europe/London", "22:00", "07:00", out); /* 22:30 BST */
    CHECK_STR(out, "2026-10-25T07:00:00Z");
    quiet("2026-10-25T01:30:00Z", "Europe/London", "22:00", "07:00", out); /* the repeated hour */
    CHECK_STR(out, "2026-10-25T07:00:00Z");
    /* before the window starts: nothing deferred */
    quiet("2026-10-24T20:59:00Z", "Europe/London", "22:00", "07:00", out); /* 21:59 BST */
    CHECK_STR(out, "");
    /* a window ending in the skipped hour (01:00-02:00 on 2026-03-29 does not exist in London):
     * 01:30 is read in the offset before the change, 01:30 GMT = 02:30 BST */
    quiet("2026-03-29T00:15:00Z", "Europe/London", "00:00", "01:30", out);
    CHECK_STR(out, "2026-03-29T01:30:00Z");
    /* New York (DST 2026-03-08), a daytime window not wrapping midnight */
    quiet("2026-03-08T14:00:00Z", "America/New_York", "09:00", "12:00", out); /* 10:00 EDT */
    CHECK_STR(out, "2026-03-08T16:00:00Z");
    quiet("2026-03-07T14:00:00Z", "America/New_York", "09:00", "12:00", out); /* 09:00 EST */
    CHECK_STR(out, "2026-03-07T17:00:00Z");
    /* no window */
    quiet("2026-03-07T14:00:00Z", "UTC", NULL, NULL, out);
    CHECK_STR(out, "");
}

static void test_preferences_api(void) {
    svc_caller_t u = {0};
    snprintf(u.user_id, sizeof u.user_id, "%s", "6c1e0c1a-0000-4000-8000-0000000000c1");
    snprintf(u.club_id, sizeof u.club_id, "%s", g_club_a);
    json_t *o = NULL;
    REQUIRE(call(&notification_module, &u, "get_preferences", &o, NULL) == 200);
    CHECK(json_is_true(json_object_get(o, "email")));
    CHECK(json_is_true(json_object_get(o, "in_app")));
    CHECK(json_is_null(json_object_get(o, "quiet_hours")));
    CHECK_EQ_INT(json_array_size(json_object_get(o, "categories")), 3);
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &u, "update_preferences", &o,
                      "{s:s, s:{s:s, s:s}, s:[{s:s, s:b}]}", "timezone", "Europe/Paris",
                      "quiet_hours", "start", "22:30", "end", "06:45", "categories", "category",
                      "visits", "email", 0),
                 200);
    CHECK_STR(sget(o, "timezone"), "Europe/Paris");
    CHECK_STR(sget(json_object_get(o, "quiet_hours"), "start"), "22:30");
    json_t *visits = json_array_get(json_object_get(o, "categories"), 1);
    CHECK_STR(sget(visits, "category"), "visits");
    CHECK(json_is_false(json_object_get(visits, "email")));
    CHECK(json_is_true(json_object_get(visits, "in_app")));
    json_decref(o);
    /* a later change keeps what it does not name */
    CHECK_EQ_INT(call(&notification_module, &u, "update_preferences", &o, "{s:[{s:s, s:b}]}",
                      "categories", "category", "visits", "in_app", 0),
                 200);
    visits = json_array_get(json_object_get(o, "categories"), 1);
    CHECK(json_is_false(json_object_get(visits, "email")));
    CHECK(json_is_false(json_object_get(visits, "in_app")));
    CHECK_STR(sget(o, "timezone"), "Europe/Paris");
    json_decref(o);
    /* mandatory, unknown, invalid */
    CHECK_EQ_INT(call(&notification_module, &u, "update_preferences", &o, "{s:[{s:s, s:b}]}",
                      "categories", "category", "security", "email", 0),
                 422);
    CHECK_STR(sget(json_object_get(o, "error"), "code"), "invalid_field");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &u, "update_preferences", NULL, "{s:[{s:s}]}",
                      "categories", "category", "gossip"),
                 422);
    CHECK_EQ_INT(call(&notification_module, &u, "update_preferences", NULL, "{s:s}", "timezone",
                      "Mars/Olympus"),
                 422);
    CHECK_EQ_INT(call(&notification_module, &u, "update_preferences", NULL, "{s:{s:s, s:s}}",
                      "quiet_hours", "start", "25:00", "end", "06:00"),
                 422);
    CHECK_EQ_INT(call(&notification_module, &u, "update_preferences", NULL, "{s:{s:s, s:s}}",
                      "quiet_hours", "start", "06:00", "end", "06:00"),
                 422);
    CHECK_EQ_INT(call(&notification_module, &u, "update_preferences", NULL, "{s:s}", "bogus", "x"),
                 400);
    CHECK_EQ_INT(
        call(&notification_module, &u, "update_preferences", &o, "{s:b}", "clear_quiet_hours", 1),
        200);
    CHECK(json_is_null(json_object_get(o, "quiet_hours")));
    json_decref(o);
    /* another member of the club sees its own defaults */
    svc_caller_t v = u;
    snprintf(v.user_id, sizeof v.user_id, "%s", "6c1e0c1a-0000-4000-8000-0000000000c2");
    REQUIRE(call(&notification_module, &v, "get_preferences", &o, NULL) == 200);
    CHECK(json_is_null(json_object_get(o, "timezone")));
    json_decref(o);
}

/* A member of club A (id into member) with an account (linked, id into user) and its profile
 * email into email. */
static int member_with_account(char user[40], char member[40], char email[128]) {
    unique_email("member", email);
    const char *p[] = {g_club_a, email};
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
    int st =
        call(&member_module, &g_na, "create_member", &o, "{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}",
             "club_id", g_club_a, "category", "full", "expires_on", "2099-12-31", "auth_user_id",
             user, "profile", "first_name", "Pia", "last_name", "Prefs", "email", email);
    if (st != 201) printf("#   create_member: %d %s\n", st, o ? json_dumps(o, 0) : "");
    if (st == 201) snprintf(member, 40, "%s", sget(o, "id"));
    json_decref(o);
    return st == 201 ? 0 : -1;
}

/* The data of a visit event for member and visit vid, with the dates and host zone when arrive
 * is not NULL (a new reference). */
static json_t *visit_data(const char *member, const char *vid, const char *arrive, const char *tz) {
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s}", "visit_id", vid, "member_id", member,
                             "home_club_id", g_club_a, "host_club_id", g_club_b, "status", "x");
    if (arrive) {
        json_object_set_new(data, "arrive_on", json_string(arrive));
        json_object_set_new(data, "depart_on", json_string(arrive));
        json_object_set_new(data, "host_timezone", json_string(tz));
    }
    return data;
}

/* Applies one visit event of type (a new event id) for member and visit vid, with the dates
 * and host zone when arrive is not NULL, as the consumers do. */
static int visit_event_of(const char *type, const char *member, const char *vid, const char *arrive,
                          const char *tz) {
    char id[40];
    snprintf(id, sizeof id, "7a2f6a1c-0000-4000-8000-%012d", ++g_seq);
    json_t *data = visit_data(member, vid, arrive, tz);
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

/* The same for a new visit, without dates. */
static int visit_event(const char *type, const char *member) {
    char vid[40];
    snprintf(vid, sizeof vid, "7b2f6a1c-0000-4000-8000-%012d", ++g_seq);
    return visit_event_of(type, member, vid, NULL, NULL);
}

/* Opt-outs drop non-critical messages, critical ones are sent; quiet hours defer non-critical
 * email to the end of the window, critical email and in-app are not deferred. */
static void test_preferences_in_pipeline(void) {
    char user[40], member[40], email[128];
    REQUIRE(member_with_account(user, member, email) == 0);
    svc_caller_t u = {0};
    snprintf(u.user_id, sizeof u.user_id, "%s", user);
    snprintf(u.club_id, sizeof u.club_id, "%s", g_club_a);
    const char *p[] = {email};
    /* visits by email off: loi.issued (not critical) queues in-app only; visit.confirmed
     * (critical) is mailed anyway */
    REQUIRE(call(&notification_module, &u, "update_preferences", NULL, "{s:[{s:s, s:b}]}",
                 "categories", "category", "visits", "email", 0) == 200);
    REQUIRE(visit_event("loi.issued", member) == 0);
    CHECK_EQ_INT(messages_to(email), 0);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE user_id::text = $1 "
                             "AND channel = 'in_app' AND template = 'visit_approved'",
                             1, (const char *[]){user}),
                 1);
    REQUIRE(visit_event("visit.confirmed", member) == 0);
    CHECK_EQ_INT(messages_to(email), 1);
    /* email back on, quiet hours around now (UTC): loi.issued's email waits for the window's
     * end, the in-app message does not; a critical mail is not deferred */
    time_t now = time(NULL);
    char qs[8], qe[8];
    struct tm tm;
    time_t a = now - 3600, b = now + 7200;
    gmtime_r(&a, &tm);
    strftime(qs, sizeof qs, "%H:%M", &tm);
    gmtime_r(&b, &tm);
    strftime(qe, sizeof qe, "%H:%M", &tm);
    REQUIRE(call(&notification_module, &u, "update_preferences", NULL,
                 "{s:s, s:{s:s, s:s}, s:[{s:s, s:b}]}", "timezone", "UTC", "quiet_hours", "start",
                 qs, "end", qe, "categories", "category", "visits", "email", 1) == 200);
    REQUIRE(visit_event("loi.issued", member) == 0);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 "
                             "AND template = 'visit_approved' AND status = 'queued' AND "
                             "next_attempt_at > now() + interval '100 minutes' AND "
                             "next_attempt_at <= now() + interval '2 hours'",
                             1, p),
                 1);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE user_id::text = $1 "
                             "AND channel = 'in_app' AND next_attempt_at > now()",
                             1, (const char *[]){user}),
                 0);
    REQUIRE(visit_event("visit.cancelled", member) == 0);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 "
                             "AND template = 'visit_cancelled' AND next_attempt_at <= now()",
                             1, p),
                 1);
    /* the deferred mail is not sent by the worker now */
    deliver();
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 "
                             "AND template = 'visit_approved' AND status = 'queued'",
                             1, p),
                 1);
}

/* ---- idempotency, scheduling, cancellation ------------------------------------------------- */

static long long count_of(const char *sql, const char *a, const char *b) {
    const char *p[] = {a, b};
    return owner_count(sql, b ? 2 : 1, p);
}

/* The same notification published twice under two event ids is queued once per recipient and
 * channel (idempotency key "<template>:<visit>"). */
static void test_idempotent_events(void) {
    char user[40], member[40], email[128], vid[40];
    REQUIRE(member_with_account(user, member, email) == 0);
    snprintf(vid, sizeof vid, "7c2f6a1c-0000-4000-8000-%012d", ++g_seq);
    REQUIRE(visit_event_of("visit.confirmed", member, vid, NULL, NULL) == 0);
    REQUIRE(visit_event_of("visit.confirmed", member, vid, NULL, NULL) == 0);
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' = "
                          "$1 AND template = 'visit_confirmed' AND channel = 'email'",
                          vid, NULL),
                 1);
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' = "
                          "$1 AND template = 'visit_confirmed' AND channel = 'in_app'",
                          vid, NULL),
                 1);
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE idempotency_key = $1",
                          "visit_confirmed:", NULL),
                 0);
}

/* visit.confirmed schedules a reminder at 09:00 (host's zone) the day before arrival, expiring
 * when the day starts; visit.cancelled cancels it (and anything else queued about the visit). */
static void test_reminder_and_cancellation(void) {
    char user[40], member[40], email[128], vid[40], arrive[16];
    REQUIRE(member_with_account(user, member, email) == 0);
    snprintf(vid, sizeof vid, "7d2f6a1c-0000-4000-8000-%012d", ++g_seq);
    time_t t = time(NULL) + 5 * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(arrive, sizeof arrive, "%Y-%m-%d", &tm);
    REQUIRE(visit_event_of("visit.confirmed", member, vid, arrive, "Europe/London") == 0);
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' = "
                          "$1 AND template = 'visit_reminder' AND status = 'queued' AND "
                          "scheduled_for = (($2::date - 1) + time '09:00') AT TIME ZONE "
                          "'Europe/London' AND next_attempt_at = scheduled_for AND expires_at = "
                          "$2::date::timestamp AT TIME ZONE 'Europe/London' AND "
                          "cancellation_key = 'visit:' || $1",
                          vid, arrive),
                 1);
    deliver(); /* not due: stays queued */
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' = "
                          "$1 AND template = 'visit_reminder' AND status = 'queued'",
                          vid, NULL),
                 1);
    REQUIRE(visit_event_of("visit.cancelled", member, vid, arrive, "Europe/London") == 0);
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' = "
                          "$1 AND template = 'visit_reminder' AND status = 'not_sent' AND "
                          "cancelled_at IS NOT NULL AND last_error = 'cancelled by "
                          "visit.cancelled'",
                          vid, NULL),
                 1);
    deliver();
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' = "
                          "$1 AND template = 'visit_cancelled' AND channel = 'email' AND status "
                          "= 'sent'",
                          vid, NULL),
                 1);
    /* cancelled rows are not in the operators' failed list */
    json_t *o = NULL, *it;
    size_t i;
    int listed = 0;
    CHECK_EQ_INT(
        call(&notification_module, &g_na, "list_failed_notifications", &o, "{s:i}", "limit", 100),
        200);
    json_array_foreach(json_object_get(o, "items"), i, it) {
        /* this binary's clubs only: the database is shared with the other tests of the run */
        const char *club = sget(it, "club_id");
        if (sget(it, "template") && strcmp(sget(it, "template"), "visit_reminder") == 0 && club &&
            (strcmp(club, g_club_a) == 0 || strcmp(club, g_club_b) == 0))
            listed++;
    }
    json_decref(o);
    CHECK_EQ_INT(listed, 0);
}

/* A reminder queued when its day has already begun expires: not sent. */
static void test_reminder_expiry(void) {
    char user[40], member[40], email[128], vid[40], arrive[16];
    REQUIRE(member_with_account(user, member, email) == 0);
    snprintf(vid, sizeof vid, "7e2f6a1c-0000-4000-8000-%012d", ++g_seq);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(arrive, sizeof arrive, "%Y-%m-%d", &tm);
    REQUIRE(visit_event_of("visit.confirmed", member, vid, arrive, "UTC") == 0);
    deliver();
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' = "
                          "$1 AND template = 'visit_reminder' AND status = 'not_sent' AND "
                          "last_error = 'expired'",
                          vid, NULL),
                 1);
    CHECK_EQ_INT(mails_with("Tomorrow: your visit", NULL), 0);
}

/* ---- webhooks -------------------------------------------------------------------------------- */

static char g_hook_log[600], g_hook_secrets[600];

static int start_receiver(void) {
    snprintf(g_hook_log, sizeof g_hook_log, "%s.hooks.log", g_mail.maildir);
    snprintf(g_hook_secrets, sizeof g_hook_secrets, "%s.hooks.secrets", g_mail.maildir);
    return sink_start(&g_hook, "tests/services/notification/webhook_receiver.py", 0,
                      (const char *[]){g_hook_secrets, g_hook_log, NULL});
}

static void write_secrets(const char *a, const char *b) {
    FILE *f = fopen(g_hook_secrets, "w");
    if (!f) return;
    fprintf(f, "%s\n%s\n", a ? a : "", b ? b : "");
    fclose(f);
}

/* Lines of the receiver's log that contain needle. */
static int hook_lines(const char *needle) {
    FILE *f = fopen(g_hook_log, "r");
    char line[512];
    int n = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

static svc_caller_t club_admin(const char *club) {
    svc_caller_t c = {0};
    snprintf(c.user_id, sizeof c.user_id, "%s", "6d1e0c1a-0000-4000-8000-0000000000d1");
    snprintf(c.club_id, sizeof c.club_id, "%s", club);
    snprintf(c.perms, sizeof c.perms, "club:read club:write club:admin");
    return c;
}

/* A webhook of club for types (JSON array text) at path on the receiver: id and secret. */
static int hook(const char *club, const char *path, const char *types, char id[40],
                char secret[WEBHOOK_SECRET_MAX]) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g_hook.port, path);
    svc_caller_t a = club_admin(club);
    json_t *o = NULL;
    int st = call(&notification_module, &a, "create_webhook", &o, "{s:s, s:o}", "url", url,
                  "event_types", json_loads(types, 0, NULL));
    if (st == 201) {
        snprintf(id, 40, "%s", sget(o, "id"));
        snprintf(secret, WEBHOOK_SECRET_MAX, "%s", sget(o, "secret"));
    } else {
        printf("#   create_webhook %s: %d\n", path, st);
    }
    json_decref(o);
    return st == 201 ? 0 : -1;
}

/* One event of type for club (tenant, no other club named) queued for the webhooks. */
static int hook_event(const char *type, const char *club) {
    char id[40];
    snprintf(id, sizeof id, "7f2f6a1c-0000-4000-8000-%012d", ++g_seq);
    json_t *data = json_pack("{s:s, s:s}", "visit_id", id, "status", "x");
    svc_event_t ev = {.id = id,
                      .type = type,
                      .subject = type,
                      .tenant_id = club,
                      .correlation_id = "",
                      .data = data,
                      .envelope = data};
    db_scope_t scope = {.club_id = club, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    int rc = db_begin(g_db, &scope, &tx, &e);
    if (rc == 0) rc = db_tx_finish(&tx, notify_webhooks_queue(tx, &ev, &e), NULL, &e);
    if (rc != 0) printf("#   hook_event: %s\n", e.message);
    json_decref(data);
    return rc;
}

static void deliver_hooks(void) {
    err_t e = {0};
    while (notify_webhooks_deliver_once(&g_env, &e) > 0) {
    }
}

static long long hook_count(const char *where, const char *id) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM notification.webhook_deliveries WHERE webhook_id = $1::uuid "
             "AND %s",
             where);
    return owner_count(sql, 1, (const char *[]){id});
}

/* Signed per Standard Webhooks and verified by a real receiver; rotation signs with both
 * secrets; tenant isolation; the delivery log. */
static void test_webhook_signed_delivery(void) {
    char a_id[40], a_secret[WEBHOOK_SECRET_MAX], b_id[40], b_secret[WEBHOOK_SECRET_MAX];
    REQUIRE(start_receiver() == 0);
    REQUIRE(hook(g_club_a, "/ok", "[\"visit.confirmed\"]", a_id, a_secret) == 0);
    REQUIRE(hook(g_club_b, "/ok", "[\"*\"]", b_id, b_secret) == 0);
    CHECK(strncmp(a_secret, "whsec_", 6) == 0 && strlen(a_secret) == 6 + 44);
    write_secrets(a_secret, NULL);
    REQUIRE(hook_event("visit.confirmed", g_club_a) == 0);
    REQUIRE(hook_event("visit.cancelled", g_club_a) == 0); /* not subscribed */
    CHECK_EQ_INT(hook_count("true", a_id), 1);
    CHECK_EQ_INT(hook_count("true", b_id), 0); /* club B's catch-all sees nothing of A */
    deliver_hooks();
    CHECK_EQ_INT(hook_lines("/ok verified"), 1);
    CHECK_EQ_INT(hook_lines(" bad "), 0);
    CHECK_EQ_INT(hook_count("status = 'sent' AND last_status_code = 200 AND tries = 1", a_id), 1);
    /* the log, to the club's administrators only; the secret is never listed */
    svc_caller_t aa = club_admin(g_club_a), ba = club_admin(g_club_b);
    json_t *o = NULL;
    REQUIRE(call(&notification_module, &aa, "list_webhook_deliveries", &o, "{s:s}", "id", a_id) ==
            200);
    json_t *d0 = json_array_get(json_object_get(o, "items"), 0);
    CHECK_STR(sget(d0, "status"), "sent");
    CHECK(sget(d0, "id") && strncmp(sget(d0, "id"), "msg_", 4) == 0);
    char msg[64];
    snprintf(msg, sizeof msg, " %s ", sget(d0, "id") ? sget(d0, "id") : "?");
    CHECK_EQ_INT(hook_lines(msg), 1); /* the same webhook-id as the header */
    json_decref(o);
    CHECK_EQ_INT(
        call(&notification_module, &ba, "list_webhook_deliveries", NULL, "{s:s}", "id", a_id), 404);
    CHECK_EQ_INT(
        call(&notification_module, &ba, "rotate_webhook_secret", NULL, "{s:s}", "id", a_id), 404);
    REQUIRE(call(&notification_module, &aa, "list_webhooks", &o, NULL) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 1);
    CHECK(json_object_get(json_array_get(json_object_get(o, "items"), 0), "secret") == NULL);
    json_decref(o);
    /* rotation: both signatures for 24 h; the receiver knowing only the new, or only the old
     * secret verifies */
    REQUIRE(call(&notification_module, &aa, "rotate_webhook_secret", &o, "{s:s}", "id", a_id) ==
            200);
    char fresh[WEBHOOK_SECRET_MAX];
    snprintf(fresh, sizeof fresh, "%s", sget(o, "secret") ? sget(o, "secret") : "");
    json_decref(o);
    CHECK(strcmp(fresh, a_secret) != 0 && strncmp(fresh, "whsec_", 6) == 0);
    write_secrets(fresh, NULL);
    REQUIRE(hook_event("visit.confirmed", g_club_a) == 0);
    deliver_hooks();
    CHECK_EQ_INT(hook_lines("/ok verified"), 2);
    CHECK_EQ_INT(hook_lines(" 2 0\n"), 1); /* two signatures, the new secret's matched */
    write_secrets(a_secret, NULL);
    REQUIRE(hook_event("visit.confirmed", g_club_a) == 0);
    deliver_hooks();
    CHECK_EQ_INT(hook_lines("/ok verified"), 3);
    /* past the overlap only the new secret signs */
    const char *p[] = {a_id};
    owner_exec("UPDATE notification.webhooks SET previous_expires_at = now() - interval '1 "
               "second' WHERE id = $1::uuid",
               1, p);
    REQUIRE(hook_event("visit.confirmed", g_club_a) == 0);
    deliver_hooks();
    CHECK_EQ_INT(hook_lines("/ok bad"), 1);
    /* a wrong secret never verifies */
    CHECK_EQ_INT(hook_lines(" bad ") + hook_lines(" verified "), 4);
}

/* 5xx and timeouts are retried on the schedule 0 s, 5 s, 5 min, ...; 4xx (not 408/429) and
 * redirects are permanent. */
static void test_webhook_retries(void) {
    char id500[40], id410[40], idr[40], sec[WEBHOOK_SECRET_MAX];
    REQUIRE(hook(g_club_a, "/e500", "[\"loi.issued\"]", id500, sec) == 0);
    REQUIRE(hook(g_club_a, "/e410", "[\"loi.issued\"]", id410, sec) == 0);
    REQUIRE(hook(g_club_a, "/redirect", "[\"loi.issued\"]", idr, sec) == 0);
    REQUIRE(hook_event("loi.issued", g_club_a) == 0);
    deliver_hooks();
    CHECK_EQ_INT(hook_count("status = 'queued' AND tries = 1 AND last_status_code = 500 AND "
                            "next_attempt_at BETWEEN now() + interval '3 seconds' AND now() + "
                            "interval '6 seconds'",
                            id500),
                 1);
    CHECK_EQ_INT(
        hook_count("status = 'undelivered' AND tries = 1 AND last_status_code = 410", id410), 1);
    CHECK_EQ_INT(hook_count("status = 'undelivered' AND tries = 1 AND last_error LIKE "
                            "'%redirects are not followed%'",
                            idr),
                 1);
    CHECK_EQ_INT(hook_lines("/ok") - hook_lines("/ok bad") - hook_lines("/ok verified"), 0);
    const char *p[] = {id500};
    owner_exec("UPDATE notification.webhook_deliveries SET next_attempt_at = now() WHERE "
               "webhook_id = $1::uuid",
               1, p);
    deliver_hooks();
    CHECK_EQ_INT(hook_count("status = 'queued' AND tries = 2 AND next_attempt_at > now() + "
                            "interval '290 seconds'",
                            id500),
                 1);
    /* the last try: undelivered */
    owner_exec("UPDATE notification.webhook_deliveries SET next_attempt_at = now(), tries = 7 "
               "WHERE webhook_id = $1::uuid",
               1, p);
    deliver_hooks();
    CHECK_EQ_INT(hook_count("status = 'undelivered' AND tries = 8", id500), 1);
}

/* ---- settlement statements ------------------------------------------------------------------ */

/* A statement event with event id eid (host B, home A) applied as the statements consumer does. */
static int statement_event(const char *type, const char *eid, const char *sid) {
    json_t *data = json_pack("{s:s, s:s, s:s, s:s}", "statement_id", sid, "host_club_id", g_club_b,
                             "home_club_id", g_club_a, "status", "issued");
    svc_event_t ev = {.id = eid,
                      .type = type,
                      .subject = type,
                      .tenant_id = g_club_b,
                      .correlation_id = "",
                      .data = data,
                      .envelope = data};
    svc_caller_t sys = {0};
    snprintf(sys.club_id, sizeof sys.club_id, "%s", g_club_b);
    svc_call_t c = {.env = &g_env, .module = &notification_module, .caller = &sys};
    db_scope_t scope = {.club_id = g_club_b, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    int rc = db_begin(g_db, &scope, &tx, &e);
    if (rc == 0) rc = db_tx_finish(&tx, notify_on_event(&c, tx, &ev, &e), NULL, &e);
    if (rc != 0) printf("#   %s: %s\n", type, e.message);
    json_decref(data);
    return rc;
}

/* statement.issued and .paid mail the home club's contact address, .disputed and .accepted the
 * host club's; a replayed event mails nothing twice; a club without a contact address gets none;
 * the statements consumer listens on events.statement.>. */
static void test_statement_mails(void) {
    char home[128], host[128], sid[40], eid[40];
    snprintf(home, sizeof home, "treasurer-home-%d@notify.example", (int)getpid());
    snprintf(host, sizeof host, "treasurer-host-%d@notify.example", (int)getpid());
    snprintf(sid, sizeof sid, "5a7e0000-0000-4000-8000-%012d", ++g_seq);
    REQUIRE(owner_exec("UPDATE member.clubs SET contact_email = $2 WHERE id = $1::uuid", 2,
                       (const char *[]){g_club_a, home}) == 0);
    REQUIRE(owner_exec("UPDATE member.clubs SET contact_email = $2 WHERE id = $1::uuid", 2,
                       (const char *[]){g_club_b, host}) == 0);
    /* written behind the member service: its read cache (core/rcache.h) cannot know */
    rcache_clear(rcache_named("clubs"));
    static const char *const types[] = {"statement.issued", "statement.disputed",
                                        "statement.accepted", "statement.paid"};
    for (int i = 0; i < 4; i++) {
        snprintf(eid, sizeof eid, "5a7e1111-0000-4000-8000-%012d", ++g_seq);
        REQUIRE(statement_event(types[i], eid, sid) == 0);
        if (i == 0) REQUIRE(statement_event(types[i], eid, sid) == 0); /* replayed */
    }
    CHECK_EQ_INT(messages_to(home), 2);
    CHECK_EQ_INT(messages_to(host), 2);
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND "
                          "club_id = $2::uuid AND template IN ('statement_issued', "
                          "'statement_paid')",
                          home, g_club_a),
                 2);
    deliver();
    /* addressed to this test's clubs: earlier tests of the run publish statement events too */
    CHECK_EQ_INT(mails_matching("issued a reciprocal statement", home, NULL), 1);
    CHECK_EQ_INT(mails_matching("disputed your statement", host, NULL), 1);
    CHECK_EQ_INT(mails_matching("accepted your statement", host, NULL), 1);
    CHECK_EQ_INT(mails_matching("recorded the payment of a statement", home, NULL), 1);
    /* no contact address: nothing queued, no error */
    REQUIRE(owner_exec("UPDATE member.clubs SET contact_email = NULL WHERE id = $1::uuid", 1,
                       (const char *[]){g_club_a}) == 0);
    rcache_clear(rcache_named("clubs"));
    snprintf(eid, sizeof eid, "5a7e1111-0000-4000-8000-%012d", ++g_seq);
    CHECK_EQ_INT(statement_event("statement.issued", eid, sid), 0);
    CHECK_EQ_INT(messages_to(home), 2);
    int found = 0;
    for (size_t k = 0; k < notification_module.n_consumers; k++)
        found |= strcmp(notification_module.consumers[k].filter, "events.statement.>") == 0;
    CHECK(found);
}

/* ---- STARTTLS ------------------------------------------------------------------------------- */

/* A self-signed certificate for 127.0.0.1 / localhost: dir/name.crt and dir/name.key. */
static int self_signed(const char *name, char crt[600], char key[600]) {
    char cmd[2048];
    snprintf(crt, 600, "%s.%s.crt", g_mail.maildir, name);
    snprintf(key, 600, "%s.%s.key", g_mail.maildir, name);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
             "subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '%s' -out '%s' >/dev/null 2>&1",
             key, crt);
    return system(cmd) == 0 ? 0 : -1;
}

static int send_test_mail(const char *url, int tls, const char *ca, const char *subject, err_t *e) {
    const notify_smtp_t conf = {.url = url, .tls = tls, .timeout_s = 10, .ca_file = ca};
    const notify_mail_t m = {"no-reply@reciprocal.example",
                             "starttls@example.org",
                             subject,
                             "over TLS",
                             NULL,
                             NULL,
                             NULL};
    return notify_smtp_send(&conf, &m, e);
}

/* aiosmtpd requiring STARTTLS with a self-signed certificate: sent when the client trusts that
 * certificate (RECIPROCAL_SMTP_CA_FILE); refused (transient, nothing delivered) without the CA or
 * with another CA; a server that offers no STARTTLS gets nothing in clear when it is required. */
static void test_smtp_starttls(void) {
    char crt[600], key[600], other[600], okey[600], url[96], plain[512];
    REQUIRE(self_signed("tls", crt, key) == 0);
    REQUIRE(self_signed("other", other, okey) == 0);
    /* a second server writing into the same Maildir (the tag of g_mail) */
    sink_mail_t tls;
    REQUIRE(sink_mail_start(&tls, "notify", crt, key) == 0);
    snprintf(url, sizeof url, "%s", tls.url);
    snprintf(plain, sizeof plain, "%s", notification_settings(&g_env)->smtp_url);
    err_t e = {0};
    CHECK_EQ_INT(send_test_mail(url, NOTIFY_TLS_REQUIRED, crt, "tls-trusted", &e), 0);
    CHECK_EQ_INT(mails_with("Subject: tls-trusted", NULL), 1);
    e = (err_t){0};
    CHECK_EQ_INT(send_test_mail(url, NOTIFY_TLS_REQUIRED, NULL, "tls-no-ca", &e), -1);
    CHECK_EQ_INT(e.status, 503); /* unverified certificate: transient, retried */
    e = (err_t){0};
    CHECK_EQ_INT(send_test_mail(url, NOTIFY_TLS_TRY, other, "tls-other-ca", &e), -1);
    CHECK_EQ_INT(e.status, 503);
    e = (err_t){0};
    CHECK_EQ_INT(send_test_mail(url, NOTIFY_TLS_OFF, crt, "tls-clear", &e), -1);
    CHECK_EQ_INT(e.status, 502); /* the server's 530: must issue STARTTLS first */
    /* the plain test server offers no STARTTLS: required refuses to send in clear */
    e = (err_t){0};
    CHECK_EQ_INT(send_test_mail(plain, NOTIFY_TLS_REQUIRED, crt, "clear-refused", &e), -1);
    CHECK_EQ_INT(e.status, 503);
    CHECK_EQ_INT(
        mails_with("Subject: tls-no-ca", NULL) + mails_with("Subject: tls-other-ca", NULL) +
            mails_with("Subject: tls-clear", NULL) + mails_with("Subject: clear-refused", NULL),
        0);
    sink_mail_stop(&tls);
}

/* Disable (queued deliveries end undelivered, no new ones), enable, change types, delete (the
 * log goes too); another club's administrator gets 404; bad input names the field. */
/* The consumers' batch (issue 13, mail throughput): in a transaction with an accumulator,
 * notify_webhooks_queue only collects and notify_webhooks_flush queues every event's deliveries
 * in one statement: the subscribed events of the batch queued once each, with the payload the
 * direct path writes (compact JSON), the others and a second flush of the same events nothing. */
static void test_webhook_batched_queue(void) {
    char id[40], sec[WEBHOOK_SECRET_MAX], ev_ids[3][40];
    const char *types[3] = {"batch.test", "batch.other", "batch.test"};
    REQUIRE(hook(g_club_a, "/ok", "[\"batch.test\"]", id, sec) == 0);
    for (int i = 0; i < 3; i++)
        snprintf(ev_ids[i], sizeof ev_ids[i], "7f2f6a1c-0000-4000-8000-%012d", ++g_seq);
    for (int round = 0; round < 2; round++) { /* the second: the same events again */
        json_t *acc = json_array();
        db_scope_t scope = {.club_id = g_club_a, .relay = 1};
        db_tx_t *tx = NULL;
        err_t e = {0};
        int rc = acc ? db_begin(g_db, &scope, &tx, &e) : -1;
        for (int i = 0; rc == 0 && i < 3; i++) {
            json_t *data = json_pack("{s:s, s:s}", "visit_id", ev_ids[i], "status", "x");
            svc_event_t ev = {.id = ev_ids[i],
                              .type = types[i],
                              .subject = types[i],
                              .tenant_id = g_club_a,
                              .correlation_id = "",
                              .data = data,
                              .envelope = data,
                              .acc = acc};
            rc = notify_webhooks_queue(tx, &ev, &e);
            json_decref(data);
        }
        CHECK_EQ_INT((int)json_array_size(acc), 3); /* collected, not yet inserted */
        if (rc == 0) rc = notify_webhooks_flush(tx, acc, &e);
        rc = db_tx_finish(&tx, rc, NULL, &e);
        if (rc != 0) printf("#   batched queue: %s\n", e.message);
        CHECK_EQ_INT(rc, 0);
        json_decref(acc);
        CHECK_EQ_INT(hook_count("true", id), 2);
    }
    CHECK_EQ_INT(hook_count("status = 'queued'", id), 2);
    char where[200];
    snprintf(where, sizeof where,
             "event_id = '%s' AND event_type = 'batch.test' AND payload LIKE "
             "'{\"type\":\"batch.test\",\"timestamp\":%%'",
             ev_ids[0]);
    CHECK_EQ_INT(hook_count(where, id), 1);
    snprintf(where, sizeof where, "event_id = '%s'", ev_ids[1]);
    CHECK_EQ_INT(hook_count(where, id), 0);
}

/* ---- the visits consumer's linger (stop 23) ---- */

/* Publishes a visit.requested of club A to the stream under a new event id. */
static int publish_visit_requested(void) {
    char id[40], vid[40];
    snprintf(id, sizeof id, "7e3f6a1c-0000-4000-8000-%012d", ++g_seq);
    snprintf(vid, sizeof vid, "7e4f6a1c-0000-4000-8000-%012d", g_seq);
    json_t *env =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s}, s:{}}", "id", id, "type",
                  "visit.requested", "source", "test", "tenant_id", g_club_a, "timestamp",
                  "2030-01-01T00:00:00.000Z", "version", 1, "data", "visit_id", vid, "home_club_id",
                  g_club_a, "status", "requested", "metadata");
    char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    err_t e = {0};
    int dup = 0, rc = text ? bus_js_publish(g_bus, "events.visit.requested", id, text, strlen(text),
                                            &dup, &e)
                           : -1;
    if (rc != 0) printf("#   publish: %s\n", e.message);
    free(text);
    return rc;
}

/* The rest of the trickle: 4 events, one every 20 ms. */
static void *trickle_main(void *ud) {
    (void)ud;
    for (int i = 0; i < 4; i++) {
        usleep(20 * 1000);
        if (publish_visit_requested() != 0) break;
    }
    return NULL;
}

/* The visits consumer lingers after a fetch's first event (NOTIFICATION_VISITS_LINGER_MS): a
 * trickle of 5 visit.requested events 20 ms apart is one fetch (one batch: one transaction, one
 * inbox claim) where a consumer without the linger takes the one event there is. */
static void test_visits_consumer_lingers(void) {
    const svc_consumer_t *c = NULL;
    for (size_t k = 0; k < notification_module.n_consumers; k++)
        if (strcmp(notification_module.consumers[k].name, "visits") == 0)
            c = &notification_module.consumers[k];
    REQUIRE(c != NULL);
    consume(); /* nothing of earlier tests left for it */
    err_t e = {0};
    REQUIRE(publish_visit_requested() == 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, trickle_main, NULL) == 0);
    int n = svc_consumer_poll(&g_env, &notification_module, c, 64, 1000, NULL, &e);
    pthread_join(th, NULL);
    if (n < 0) printf("#   poll: %s\n", e.message);
    CHECK_EQ_INT(n, 5);
    consume();
    /* stop 24: a batch is not re-scoped to each event's club (the handlers and the flush stay in
     * the relay scope) */
    CHECK_EQ_INT(c->relay_only, 1);
}

/* Publishes an event of type for club A under event id id (msg: the stream's message id). */
static int publish_event(const char *type, const char *id, const char *msg) {
    char subject[96], vid[40];
    snprintf(subject, sizeof subject, "events.%s", type);
    snprintf(vid, sizeof vid, "7e5f6a1c-0000-4000-8000-%012d", ++g_seq);
    json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s}, s:{}}", "id", id,
                            "type", type, "source", "test", "tenant_id", g_club_a, "timestamp",
                            "2030-01-01T00:00:00.000Z", "version", 1, "data", "visit_id", vid,
                            "host_club_id", g_club_a, "status", "checked_in", "metadata");
    char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    err_t e = {0};
    int dup = 0, rc = text ? bus_js_publish(g_bus, subject, msg, text, strlen(text), &dup, &e) : -1;
    if (rc != 0) printf("#   publish: %s\n", e.message);
    free(text);
    return rc;
}

/* The inbox rows of event id (as the app role: the inbox's policy admits only it). */
static long long inbox_rows(const char *id) {
    db_scope_t scope = {.relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    long long v = -1;
    if (db_begin(g_db, &scope, &tx, &e) != 0) return -1;
    PGresult *r = db_exec(tx, "SELECT count(*) FROM notification.inbox WHERE event_id = $1::uuid",
                          1, (const char *[]){id}, &e);
    if (r && PQntuples(r) == 1) v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    db_tx_finish(&tx, 0, NULL, &e);
    return v;
}

/* An event no rule mails (visit.checked_in: every first check-in) is not claimed in
 * notification.inbox (stop 24): a webhook subscribed to it still gets it once, and a replay of
 * the same event (the stream delivering it again) queues nothing twice, by the deliveries' key
 * (webhook_id, event_id); a webhook created before the replay is offered it. An event a rule
 * mails is still claimed. Fails without notification_inbox_needed: the event's inbox row. */
static void test_unclaimed_events_reach_webhooks(void) {
    char id[40], sec[WEBHOOK_SECRET_MAX], id2[40], sec2[WEBHOOK_SECRET_MAX], ev_id[40], msg[64];
    svc_event_t mailed = {.type = "visit.confirmed"}, hooked = {.type = "visit.checked_in"};
    CHECK_EQ_INT(notification_inbox_needed(&g_env, &mailed), 1);
    CHECK_EQ_INT(notification_inbox_needed(&g_env, &hooked), 0);
    consume();
    REQUIRE(hook(g_club_a, "/ok", "[\"visit.checked_in\"]", id, sec) == 0);
    snprintf(ev_id, sizeof ev_id, "7e6f6a1c-0000-4000-8000-%012d", ++g_seq);
    for (int round = 0; round < 2; round++) {
        if (round == 1) REQUIRE(hook(g_club_a, "/ok", "[\"*\"]", id2, sec2) == 0);
        snprintf(msg, sizeof msg, "%s-%d", ev_id, round);
        /* with a second event, so that the fetch is applied as a batch (a lone event goes
         * through core's one-event path, which claims every event) */
        REQUIRE(publish_event("visit.checked_in", ev_id, msg) == 0);
        REQUIRE(publish_visit_requested() == 0);
        consume();
        CHECK_EQ_INT(hook_count("true", id), 1);
        CHECK_EQ_INT(inbox_rows(ev_id), 0);
    }
    /* a lone event goes through core's one-event path: claimed (and the count sees claims) */
    char lone[40];
    snprintf(lone, sizeof lone, "7e6f6a1c-0000-4000-8000-%012d", ++g_seq);
    REQUIRE(publish_event("visit.checked_in", lone, lone) == 0);
    consume();
    CHECK_EQ_INT(inbox_rows(lone), 1);
    char where[120];
    snprintf(where, sizeof where, "event_id = '%s'", ev_id);
    CHECK_EQ_INT(hook_count(where, id2), 1);
    snprintf(where, sizeof where,
             "event_id = '%s' AND payload LIKE '{\"type\":\"visit.checked_in\"%%'", ev_id);
    CHECK_EQ_INT(hook_count(where, id), 1);
    /* neither webhook should take the later tests' events */
    owner_exec("UPDATE notification.webhooks SET active = false WHERE id IN ($1::uuid, $2::uuid)",
               2, (const char *[]){id, id2});
}

/* The consumers' batch for messages (issue 13, CPU per mail): in a transaction with an
 * accumulator, notify_on_event only collects the rows and notify_messages_flush inserts them in
 * one statement. An event of the batch that cancels (visit.cancelled) first inserts what the
 * batch collected so far, so it cancels the reminder an earlier event of the same batch queued,
 * as one transaction per event would. */
static void test_messages_batched_queue(void) {
    char user[40], member[40], email[128], vid[40], arrive[16], ids[2][40];
    const char *types[2] = {"visit.confirmed", "visit.cancelled"};
    REQUIRE(member_with_account(user, member, email) == 0);
    snprintf(vid, sizeof vid, "7e2f6a1c-0000-4000-8000-%012d", ++g_seq);
    time_t t = time(NULL) + 5 * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(arrive, sizeof arrive, "%Y-%m-%d", &tm);
    json_t *acc = json_array();
    svc_caller_t sys = {0};
    snprintf(sys.club_id, sizeof sys.club_id, "%s", g_club_a);
    svc_call_t c = {.env = &g_env, .module = &notification_module, .caller = &sys};
    db_scope_t scope = {.club_id = g_club_a, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    const char *p[] = {vid};
    int rc = acc ? db_begin(g_db, &scope, &tx, &e) : -1;
    for (int i = 0; rc == 0 && i < 2; i++) {
        snprintf(ids[i], sizeof ids[i], "7e3f6a1c-0000-4000-8000-%012d", ++g_seq);
        json_t *data = visit_data(member, vid, arrive, "Europe/London");
        svc_event_t ev = {.id = ids[i],
                          .type = types[i],
                          .subject = types[i],
                          .tenant_id = g_club_a,
                          .correlation_id = "",
                          .data = data,
                          .envelope = data,
                          .acc = acc};
        rc = notify_on_event(&c, tx, &ev, &e);
        json_decref(data);
        if (i > 0 || rc != 0) continue;
        /* the confirmation's email, reminder and in-app rows: collected, not yet inserted */
        CHECK_EQ_INT((int)json_array_size(acc), 3);
        PGresult *r = db_exec(tx,
                              "SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' "
                              "= $1",
                              1, p, &e);
        CHECK(r != NULL);
        if (r) CHECK_STR(PQgetvalue(r, 0, 0), "0");
        PQclear(r);
    }
    if (rc == 0) rc = notify_messages_flush(tx, acc, &e);
    CHECK_EQ_INT((int)json_array_size(acc), 0);
    rc = db_tx_finish(&tx, rc, NULL, &e);
    if (rc != 0) printf("#   batched messages: %s\n", e.message);
    CHECK_EQ_INT(rc, 0);
    json_decref(acc);
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' = "
                          "$1 AND template = 'visit_reminder' AND status = 'not_sent' AND "
                          "last_error = 'cancelled by visit.cancelled'",
                          vid, NULL),
                 1);
    /* the confirmation's rows were queued about the visit too; the cancellation's own are due */
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' = "
                          "$1 AND template = 'visit_confirmed' AND status = 'not_sent'",
                          vid, NULL),
                 2);
    CHECK_EQ_INT(count_of("SELECT count(*) FROM notification.messages WHERE vars->>'visit_id' = "
                          "$1 AND template = 'visit_cancelled' AND status = 'queued'",
                          vid, NULL),
                 2);
}

static void test_webhook_disable_delete(void) {
    char id[40], sec[WEBHOOK_SECRET_MAX];
    svc_caller_t aa = club_admin(g_club_a), ba = club_admin(g_club_b);
    json_t *o = NULL;
    REQUIRE(hook(g_club_a, "/ok", "[\"agreement.test\"]", id, sec) == 0);
    REQUIRE(hook_event("agreement.test", g_club_a) == 0);
    CHECK_EQ_INT(hook_count("status = 'queued'", id), 1);
    CHECK_EQ_INT(call(&notification_module, &ba, "update_webhook", NULL, "{s:s, s:b}", "id", id,
                      "active", 0),
                 404);
    CHECK_EQ_INT(call(&notification_module, &aa, "update_webhook", &o, "{s:s}", "id", id), 400);
    CHECK_STR(sget(json_object_get(o, "error"), "code"), "missing_field");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &aa, "update_webhook", NULL, "{s:s, s:[s]}", "id", id,
                      "event_types", "Bad Type"),
                 422);
    REQUIRE(call(&notification_module, &aa, "update_webhook", &o, "{s:s, s:b}", "id", id, "active",
                 0) == 200);
    CHECK(json_is_false(json_object_get(o, "active")));
    json_decref(o);
    REQUIRE(hook_event("agreement.test", g_club_a) == 0); /* disabled: nothing queued */
    CHECK_EQ_INT(hook_count("true", id), 1);
    deliver_hooks();
    CHECK_EQ_INT(hook_count("status = 'undelivered' AND tries = 0 AND last_error = 'webhook "
                            "disabled'",
                            id),
                 1);
    /* enabled again, for another type */
    REQUIRE(call(&notification_module, &aa, "update_webhook", &o, "{s:s, s:b, s:[s]}", "id", id,
                 "active", 1, "event_types", "agreement.other") == 200);
    CHECK(json_is_true(json_object_get(o, "active")));
    CHECK_STR(json_string_value(json_array_get(json_object_get(o, "event_types"), 0)),
              "agreement.other");
    json_decref(o);
    REQUIRE(hook_event("agreement.test", g_club_a) == 0);
    REQUIRE(hook_event("agreement.other", g_club_a) == 0);
    CHECK_EQ_INT(hook_count("status = 'queued' AND event_type = 'agreement.other'", id), 1);
    CHECK_EQ_INT(hook_count("true", id), 2);
    /* delete: another club's admin cannot; the owner's removes the endpoint and its log */
    CHECK_EQ_INT(call(&notification_module, &ba, "delete_webhook", NULL, "{s:s}", "id", id), 404);
    REQUIRE(call(&notification_module, &aa, "delete_webhook", &o, "{s:s}", "id", id) == 200);
    CHECK_STR(sget(o, "id"), id);
    CHECK(json_object_get(o, "secret") == NULL);
    json_decref(o);
    CHECK_EQ_INT(hook_count("true", id), 0);
    CHECK_EQ_INT(call(&notification_module, &aa, "delete_webhook", NULL, "{s:s}", "id", id), 404);
    CHECK_EQ_INT(
        call(&notification_module, &aa, "list_webhook_deliveries", NULL, "{s:s}", "id", id), 404);
}

/* SSRF: https only, loopback / private / link-local / metadata / reserved targets refused after
 * resolution, at creation and again at every send. */
static void test_webhook_ssrf(void) {
    notification_settings_t *ns = svc_settings_edit(&g_set, &notification_module);
    char saved[sizeof ns->webhook_allow_hosts];
    snprintf(saved, sizeof saved, "%s", ns->webhook_allow_hosts);
    ns->webhook_allow_hosts[0] = '\0';
    svc_caller_t a = club_admin(g_club_a);
    static const char *const refused[] = {
        "http://example.com/hook",                   /* not https */
        "https://127.0.0.1/hook",                    /* loopback */
        "https://localhost/hook",                    /* resolves to loopback */
        "https://10.1.2.3/hook",                     /* private */
        "https://192.168.1.10/hook",                 /* private */
        "https://172.20.0.1/hook",                   /* private */
        "https://169.254.169.254/latest/meta-data/", /* cloud metadata */
        "https://[::1]/hook",                        /* v6 loopback */
        "https://[fd00:ec2::254]/hook",              /* v6 metadata (unique local) */
        "https://[::ffff:10.0.0.1]/hook",            /* v4-mapped private */
        "https://0.0.0.0/hook",                      /* unspecified */
        "https://100.64.1.1/hook",                   /* CGNAT */
        "https://2130706433/hook",                   /* 127.0.0.1 as a number */
        "https://user:pw@example.com/hook",          /* user info */
        "ftp://example.com/hook",                    /* not http(s) */
        NULL};
    for (const char *const *u = refused; *u; u++) {
        json_t *o = NULL;
        int st = call(&notification_module, &a, "create_webhook", &o, "{s:s, s:[s]}", "url", *u,
                      "event_types", "*");
        if (st != 422) printf("#   %s -> %d\n", *u, st);
        CHECK_EQ_INT(st, 422);
        const char *m = sget(json_object_get(o, "error"), "message");
        CHECK(m && strncmp(m, "url ", 4) == 0); /* err_invalid names the field first */
        json_decref(o);
    }
    CHECK(webhook_addr_public("93.184.216.34"));
    CHECK(webhook_addr_public("2606:2800:220:1:248:1893:25c8:1946"));
    CHECK(!webhook_addr_public("64:ff9b::a00:1")); /* NAT64 of 10.0.0.1 */
    CHECK(!webhook_addr_public("fe80::1"));
    /* checked again at send time: an endpoint created under the development allowance is
     * refused once the allowance is gone (as a name now resolving to a private address) */
    ns->webhook_allow_hosts[0] = '\0';
    snprintf(ns->webhook_allow_hosts, sizeof ns->webhook_allow_hosts, "%s", saved);
    char id[40], sec[WEBHOOK_SECRET_MAX];
    REQUIRE(hook(g_club_a, "/ok", "[\"loi.revoked\"]", id, sec) == 0);
    REQUIRE(hook_event("loi.revoked", g_club_a) == 0);
    ns->webhook_allow_hosts[0] = '\0';
    int before = hook_lines("/ok");
    deliver_hooks();
    CHECK_EQ_INT(hook_lines("/ok"), before);
    CHECK_EQ_INT(hook_count("status = 'undelivered' AND last_error LIKE '%https%'", id), 1);
    snprintf(ns->webhook_allow_hosts, sizeof ns->webhook_allow_hosts, "%s", saved);
    /* input */
    CHECK_EQ_INT(call(&notification_module, &a, "create_webhook", NULL, "{s:s}", "url",
                      "https://example.com/"),
                 400);
    CHECK_EQ_INT(call(&notification_module, &a, "create_webhook", NULL, "{s:s, s:[s]}", "url",
                      "https://example.com/", "event_types", "Visit Confirmed"),
                 422);
}

/* ---- template preview ---------------------------------------------------------------------- */

static void test_template_preview(void) {
    svc_caller_t a = club_admin(g_club_a), b = club_admin(g_club_b);
    json_t *o = NULL;
    REQUIRE(call(&notification_module, &a, "preview_template", &o, "{s:s, s:s}", "key",
                 "visit_confirmed", "locale", "fr") == 200);
    CHECK(sget(o, "subject") && strstr(sget(o, "subject"), "Sample Host Club") &&
          strstr(sget(o, "subject"), "confirm"));
    CHECK(sget(o, "html") && strstr(sget(o, "html"), "<strong>Sample Host Club</strong>"));
    CHECK_STR(sget(o, "source"), "resolved");
    json_decref(o);
    /* club A's override is A's preview only */
    const char *p[] = {g_club_a};
    db_scope_t in_a = {.club_id = g_club_a};
    db_tx_t *tx = NULL;
    err_t e = {0};
    REQUIRE(db_begin(g_db, &in_a, &tx, &e) == 0);
    long long ins = db_exec_cmd(tx,
                                "INSERT INTO notification.templates (club_id, key, locale, "
                                "subject, body) VALUES ($1::uuid, 'visit_approved', 'en', 'A says "
                                "yes to {{host_club.name}}', 'Bon voyage {{member.first_name}}') "
                                "ON CONFLICT DO NOTHING",
                                1, p, &e);
    REQUIRE(db_tx_finish(&tx, ins < 0 ? -1 : 0, NULL, &e) == 0);
    REQUIRE(call(&notification_module, &a, "preview_template", &o, "{s:s}", "key",
                 "visit_approved") == 200);
    CHECK_STR(sget(o, "subject"), "A says yes to Sample Host Club");
    json_decref(o);
    REQUIRE(call(&notification_module, &b, "preview_template", &o, "{s:s}", "key",
                 "visit_approved") == 200);
    CHECK(sget(o, "subject") && strncmp(sget(o, "subject"), "Your visit", 10) == 0);
    json_decref(o);
    /* a draft with given variables: values are text in the HTML */
    REQUIRE(call(&notification_module, &a, "preview_template", &o, "{s:s, s:s, s:s, s:{s:{s:s}}}",
                 "key", "visit_approved", "subject", "Hi {{member.first_name}}", "body",
                 "**Dear** {{member.first_name}}", "vars", "member", "first_name",
                 "<b>Eve</b>") == 200);
    CHECK_STR(sget(o, "source"), "draft");
    CHECK(sget(o, "html") && strstr(sget(o, "html"), "&lt;b&gt;Eve&lt;/b&gt;") &&
          strstr(sget(o, "html"), "<strong>Dear</strong>"));
    json_decref(o);
    /* a missing variable is an error naming it; unknown key; drafts need both parts */
    CHECK_EQ_INT(call(&notification_module, &a, "preview_template", &o, "{s:s, s:s, s:s}", "key",
                      "visit_approved", "subject", "Hi {{nobody.name}}", "body", "x"),
                 422);
    CHECK_STR(sget(json_object_get(o, "error"), "code"), "template_error");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &a, "preview_template", NULL, "{s:s}", "key",
                      "no_such_template"),
                 404);
    CHECK_EQ_INT(call(&notification_module, &a, "preview_template", NULL, "{s:s, s:s}", "key",
                      "visit_approved", "subject", "x"),
                 422);
    svc_caller_t m = a;
    snprintf(m.perms, sizeof m.perms, "club:read");
    CHECK_EQ_INT(
        call(&notification_module, &m, "preview_template", NULL, "{s:s}", "key", "visit_approved"),
        403);
}

/* ---- the calendar attachment ---------------------------------------------------------------- */

/* The confirmation mail carries the visit as an all-day calendar entry (libical parses it). */
static void test_confirmation_ics(void) {
    char user[40], member[40], email[128], vid[40], arrive[16], needle[160], day[16], next[16];
    REQUIRE(member_with_account(user, member, email) == 0);
    snprintf(vid, sizeof vid, "7a3f6a1c-0000-4000-8000-%012d", ++g_seq);
    time_t t = time(NULL) + 10 * 86400, t2 = t + 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(arrive, sizeof arrive, "%Y-%m-%d", &tm);
    strftime(day, sizeof day, "%Y%m%d", &tm);
    gmtime_r(&t2, &tm);
    strftime(next, sizeof next, "%Y%m%d", &tm);
    REQUIRE(visit_event_of("visit.confirmed", member, vid, arrive, "Europe/London") == 0);
    deliver();
    snprintf(needle, sizeof needle, "To: %s", email);
    char *mail = NULL;
    REQUIRE(mails_with(needle, &mail) >= 1);
    REQUIRE(mail);
    CHECK(strstr(mail, "multipart/mixed") != NULL);
    CHECK(strstr(mail, "multipart/alternative") != NULL);
    const char *p = strstr(mail, "Content-Type: text/calendar");
    REQUIRE(p);
    p = strstr(p, "\n\n");
    REQUIRE(p);
    p += 2;
    char b64[8192], ics[8192];
    size_t n = 0, len = 0;
    while (*p && *p != '-' && n + 1 < sizeof b64) {
        if (*p != '\r' && *p != '\n') b64[n++] = *p;
        p++;
    }
    b64[n] = '\0';
    free(mail);
    REQUIRE(sodium_base642bin((unsigned char *)ics, sizeof ics - 1, b64, n, NULL, &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0);
    ics[len] = '\0';
    icalcomponent *cal = icalparser_parse_string(ics);
    REQUIRE(cal);
    icalcomponent *ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
    REQUIRE(ev);
    struct icaltimetype s = icalcomponent_get_dtstart(ev), en = icalcomponent_get_dtend(ev);
    char got[16], got_end[16];
    snprintf(got, sizeof got, "%04d%02d%02d", s.year, s.month, s.day);
    snprintf(got_end, sizeof got_end, "%04d%02d%02d", en.year, en.month, en.day);
    CHECK(s.is_date);
    CHECK_STR(got, day);
    CHECK_STR(got_end, next); /* one day, DTEND exclusive */
    CHECK(strstr(icalcomponent_get_uid(ev), vid) != NULL);
    CHECK(strstr(icalcomponent_get_summary(ev), "Notify Club B") != NULL);
    CHECK_EQ_INT(icalcomponent_get_method(cal), ICAL_METHOD_PUBLISH);
    icalcomponent_free(cal);
}

/* ---- digests --------------------------------------------------------------------------------- */

/* visits as a daily digest: non-critical mails wait for 08:00 (the user's zone) and leave as one
 * mail listing them; a critical one is not held. */
static void test_daily_digest(void) {
    char user[40], member[40], email[128], needle[160];
    REQUIRE(member_with_account(user, member, email) == 0);
    svc_caller_t u = {0};
    snprintf(u.user_id, sizeof u.user_id, "%s", user);
    snprintf(u.club_id, sizeof u.club_id, "%s", g_club_a);
    json_t *o = NULL;
    REQUIRE(call(&notification_module, &u, "update_preferences", &o, "{s:s, s:[{s:s, s:b}]}",
                 "timezone", "Asia/Tokyo", "categories", "category", "visits", "digest", 1) == 200);
    CHECK(json_is_true(
        json_object_get(json_array_get(json_object_get(o, "categories"), 1), "digest")));
    json_decref(o);
    REQUIRE(visit_event("loi.issued", member) == 0);
    REQUIRE(visit_event("loi.issued", member) == 0);
    REQUIRE(visit_event("visit.cancelled", member) == 0); /* critical: not held */
    const char *p[] = {email};
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND "
                             "digest AND status = 'queued' AND next_attempt_at = "
                             "notification.next_local(now(), 'Asia/Tokyo', time '08:00')",
                             1, p),
                 2);
    deliver();
    err_t e = {0};
    CHECK_EQ_INT(notify_digest_once(&g_env, &e), 0); /* not due yet */
    snprintf(needle, sizeof needle, "To: %s", email);
    CHECK_EQ_INT(mails_with(needle, NULL), 1); /* the cancellation only */
    /* 08:00 comes */
    owner_exec("UPDATE notification.messages SET next_attempt_at = now() WHERE recipient = $1 AND "
               "digest",
               1, p);
    CHECK_EQ_INT(notify_digest_once(&g_env, &e), 1);
    char *mail = NULL;
    CHECK_EQ_INT(mails_with(needle, NULL), 2);
    CHECK_EQ_INT(mails_with("Subject: Your daily digest: 2 notifications", &mail), 1);
    REQUIRE(mail);
    CHECK(strstr(mail, needle) != NULL);
    char text[4096] = "";
    sink_mail_plain_part(mail, text, sizeof text);
    free(mail);
    /* both held mails, by their subjects (club A's override of visit_approved, set by the
     * preview test), then the closing paragraph outside the list */
    const char *first = strstr(text, "- A says yes to Notify Club B\n");
    CHECK(first && strstr(first + 1, "- A says yes to Notify Club B\n"));
    CHECK(strstr(text, "Club B\n\nYou chose") != NULL);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND "
                             "digest AND status = 'sent'",
                             1, p),
                 2);
    CHECK_EQ_INT(notify_digest_once(&g_env, &e), 0);
}

static int create_club(const char *name, char id[40]) {
    char slug[64];
    snprintf(slug, sizeof slug, "notify-%d-%d", (int)getpid(), ++g_seq);
    json_t *o = NULL;
    int st = call(&member_module, &g_na, "create_club", &o, "{s:s, s:s, s:s, s:{s:s}}", "name",
                  name, "slug", slug, "timezone", "UTC", "address", "country", "GB");
    if (st == 201) snprintf(id, 40, "%s", sget(o, "id"));
    if (st != 201) printf("#   create_club: %d\n", st);
    json_decref(o);
    return st == 201 ? 0 : -1;
}

/* A backlog (a lease came back full: 200 rows) does not end the pass: the senders lease the next
 * batch while the current one's last rows are sent, so one pass sends more than one lease's
 * worth (before: 200, then a new pass). 450 in-app messages due at once: one notify_deliver_once
 * handles at least two batches, and every message is sent once (tries = 1). */
static void test_backlog_one_pass(void) {
    char tag[64];
    snprintf(tag, sizeof tag, "backlog-%d-%d-", (int)getpid(), ++g_seq);
    deliver(); /* nothing else due */
    const char *p[] = {g_club_a, tag};
    REQUIRE(owner_exec("INSERT INTO notification.messages (club_id, user_id, event_id, event_type, "
                       "template, channel, recipient, critical, vars, subject, body_text) SELECT "
                       "$1::uuid, gen_random_uuid(), gen_random_uuid(), 'visit.confirmed', "
                       "'visit_confirmed', 'in_app', $2 || i, true, '{}'::jsonb, 'Backlog ' || i, "
                       "'body' FROM generate_series(0, 449) i",
                       2, p) == 0);
    err_t e = {0};
    int n = notify_deliver_once(&g_env, &e);
    printf("#   one pass handled %d of 450\n", n);
    CHECK(n >= 400 && n <= 450);
    deliver();
    const char *q[] = {tag};
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient LIKE $1 "
                             "|| '%' AND status = 'sent' AND tries = 1",
                             1, q),
                 450);
}

/* The delivery worker sleeps RECIPROCAL_NOTIFY_POLL_MS when nothing is due; a message queued
 * meanwhile wakes it at the commit (LISTEN notification_queued, migration 0017): with a 60 s
 * poll, a statement mail queued once the worker is idle is sent within 10 s (before: it waited
 * for the end of the minute). Runs last: the worker thread sends whatever is due. */
static void test_worker_woken_by_queue(void) {
    notification_settings_t *ns = svc_settings_edit(&g_set, &notification_module);
    int saved = ns->poll_ms;
    char home[128], sid[40], eid[40];
    snprintf(home, sizeof home, "treasurer-wake-%d@notify.example", (int)getpid());
    snprintf(sid, sizeof sid, "5a7e0000-0000-4000-8000-%012d", ++g_seq);
    snprintf(eid, sizeof eid, "5a7e1111-0000-4000-8000-%012d", ++g_seq);
    REQUIRE(owner_exec("UPDATE member.clubs SET contact_email = $2 WHERE id = $1::uuid", 2,
                       (const char *[]){g_club_a, home}) == 0);
    rcache_clear(rcache_named("clubs"));
    deliver();
    ns->poll_ms = 60000;
    err_t e = {0};
    REQUIRE(notify_delivery_start(&g_env, &e) == 0);
    sleep(2); /* its first passes find nothing due: it sleeps */
    REQUIRE(statement_event("statement.issued", eid, sid) == 0);
    const char *p[] = {home};
    long long sent = 0;
    for (int waited = 0; waited < 100 && sent < 1; waited++) {
        usleep(100 * 1000);
        sent = owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND "
                           "status = 'sent'",
                           1, p);
    }
    notify_delivery_stop();
    ns->poll_ms = saved;
    CHECK_EQ_INT(sent, 1);
}

static void test_setup(void) {
    err_t e = {0};
    const char *url = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    const char *owner = TEST_ENV("RECIPROCAL_TEST_OWNER_URL");
    const char *tmp = TEST_ENV("RECIPROCAL_TEST_TMP");
    g_nats_url = TEST_ENV("RECIPROCAL_TEST_NATS_URL");
    REQUIRE(url && owner && tmp && g_nats_url);
    REQUIRE(sink_mail_start(&g_mail, "notify", NULL, NULL) == 0);
    REQUIRE(cfg_load(&g_cfg, NULL, &e) == 0);
    REQUIRE(svc_settings_load(&g_set, NULL, &e) == 0);
    notification_settings_t *ns = svc_settings_edit(&g_set, &notification_module);
    snprintf(ns->smtp_url, sizeof ns->smtp_url, "%s", g_mail.url);
    ns->retry_base_s = 1;
    ns->max_tries = 3;
    snprintf(ns->webhook_allow_hosts, sizeof ns->webhook_allow_hosts, "127.0.0.1");
    ns->webhook_timeout_s = 5;
    g_db = db_pool_open(url, 6, &e);
    g_owner = db_pool_open(owner, 1, &e);
    REQUIRE(g_db && g_owner);
    g_bus = bus_connect(g_nats_url, "test_notification", &e);
    REQUIRE(g_bus && outbox_ensure_stream(g_bus, 720LL * 3600, &e) == 0);
    g_env = (svc_env_t){.cfg = &g_cfg, .db = g_db, .bus = g_bus, .settings = &g_set};
    char email[128], id[40];
    unique_email("netadmin", email);
    REQUIRE(auth_create_network_admin(g_db, email, PW, id, &e) == 0);
    snprintf(g_na.user_id, sizeof g_na.user_id, "%s", id);
    g_na.network_admin = 1;
    snprintf(g_na.perms, sizeof g_na.perms, "*");
    snprintf(g_na.ip, sizeof g_na.ip, "10.8.0.1");
    REQUIRE(create_club("Notify Club A", g_club_a) == 0);
    REQUIRE(create_club("Notify Club B", g_club_b) == 0);
}

int main(void) {
    log_init(LOG_ERROR, 0, "test_notification");
    RUN(test_setup);
    if (g_db && g_bus && g_club_b[0]) {
        RUN(test_templates_render);
        RUN(test_invite_mail_over_smtp);
        RUN(test_replay_sends_nothing_twice);
        RUN(test_smtp_permanent_and_transient);
        RUN(test_inbox_and_isolation);
        RUN(test_quiet_hours_dst);
        RUN(test_preferences_api);
        RUN(test_preferences_in_pipeline);
        RUN(test_idempotent_events);
        RUN(test_reminder_and_cancellation);
        RUN(test_reminder_expiry);
        RUN(test_webhook_signed_delivery);
        RUN(test_webhook_retries);
        RUN(test_webhook_disable_delete);
        RUN(test_webhook_batched_queue);
        RUN(test_messages_batched_queue);
        RUN(test_visits_consumer_lingers);
        RUN(test_unclaimed_events_reach_webhooks);
        RUN(test_smtp_starttls);
        RUN(test_statement_mails);
        RUN(test_webhook_ssrf);
        RUN(test_template_preview);
        RUN(test_confirmation_ics);
        RUN(test_daily_digest);
        RUN(test_backlog_one_pass);
        RUN(test_worker_woken_by_queue);
    }
    sink_mail_stop(&g_mail);
    sink_stop(&g_hook);
    db_pool_close(g_db);
    db_pool_close(g_owner);
    bus_close(g_bus);
    bus_shutdown_library();
    TEST_DONE();
}
