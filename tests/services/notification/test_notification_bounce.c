/* test_notification_bounce: e-mail delivery statuses from the provider and the clubs'
 * suppression lists (docs/notification.md "E-mail delivery statuses and bounces") against the
 * harness's PostgreSQL and NATS and a REAL SMTP server (aiosmtpd, tests/support/sink). Mails are
 * queued as rows of this run's two clubs (a club template override renders them), sent by the
 * worker with a Message-ID derived from the row (kept as provider_ref); the provider's status
 * callback (email_status_callback, X-Reciprocal-Signature HMAC-SHA256) with a missing or bad
 * signature is 401 and changes nothing; delivered moves the mail forward once (a replay changes
 * nothing); a hard bounce makes it bounced, emits notification.failed and suppresses the address
 * in its club: the next non-critical mail there is not_sent ('suppressed', nothing reaches the
 * SMTP server), a critical one still goes, another club's mail to it still goes; the other club's
 * administrator neither sees nor removes the suppression (404); once the club's administrator
 * removes it, a replayed hard bounce does not add it back and mail flows again. Counts are scoped
 * to this run's clubs, addresses and message ids (the database is shared). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/service.h"
#include "services/auth/auth_accounts.h"
#include "services/member/member.h"
#include "services/notification/bounce.h"
#include "services/notification/delivery.h"
#include "services/notification/notification.h"
#include "services/notification/provider.h"
#include "support/e2e.h"
#include "support/sink.h"
#include "test.h"

static db_pool_t *g_db, *g_owner;
static bus_t *g_bus;
static cfg_t g_cfg;
static svc_env_t g_env;
static svc_settings_t g_set;
static notification_settings_t *g_ns;
static sink_mail_t g_mail;
static char g_club_a[40], g_club_b[40];
static svc_caller_t g_na, g_admin_a, g_admin_b;
static int g_seq;
static const char *PW = "correct horse battery staple 42";
static const char *SECRET = "email-callback-secret-for-tests";

static const char *sget(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

static int call(const svc_caller_t *c, const char *op, json_t **out, const char *fmt, ...) {
    const svc_module_t *m = strcmp(op, "create_club") == 0 ? &member_module : &notification_module;
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
    if (tx) db_commit(tx, &e);
}

static long long owner_count(const char *sql, int n, const char *const *p) {
    char v[64];
    owner_text(sql, n, p, v, sizeof v);
    return v[0] ? atoll(v) : -1;
}

static void unique_email(const char *tag, char out[128]) {
    snprintf(out, 128, "%s-%d-%d@bounce.example", tag, (int)getpid(), ++g_seq);
}

/* One e-mail of club to addr queued now (template bounce_test, the club's override); its id. */
static int queue_mail(const char *club, const char *addr, int critical, char id[40]) {
    const char *p[] = {club, addr, critical ? "t" : "f"};
    owner_text("INSERT INTO notification.messages (club_id, event_id, event_type, template, "
               "channel, recipient, critical, vars) VALUES ($1::uuid, gen_random_uuid(), "
               "'test.bounce', 'bounce_test', 'email', $2, $3::boolean, '{\"n\": \"one\"}') "
               "RETURNING id::text",
               3, p, id, 40);
    return id[0] ? 0 : -1;
}

static void deliver(void) {
    err_t e = {0};
    while (notify_deliver_once(&g_env, &e) > 0) {
    }
}

/* status, last_error and provider_ref of message id */
static void message(const char *id, char status[32], char error[64], char ref[NOTIFY_REF_MAX]) {
    const char *p[] = {id};
    owner_text("SELECT status FROM notification.messages WHERE id = $1::uuid", 1, p, status, 32);
    if (error)
        owner_text("SELECT last_error FROM notification.messages WHERE id = $1::uuid", 1, p, error,
                   64);
    if (ref)
        owner_text("SELECT provider_ref FROM notification.messages WHERE id = $1::uuid", 1, p, ref,
                   NOTIFY_REF_MAX);
}

/* The provider's callback for Message-ID ref with status, signed with secret (NULL = the test
 * secret, "" = no signature header). */
static int callback(const char *ref, const char *status, const char *secret, json_t **out) {
    char body[600], sig[80];
    snprintf(body, sizeof body, "{\"message_id\":\"%s\",\"status\":\"%s\",\"error\":\"550 5.1.1\"}",
             ref, status);
    notify_callback_signature(secret ? secret : SECRET, body, strlen(body), sig);
    svc_caller_t anon = {0};
    if (secret && !*secret) return call(&anon, "email_status_callback", out, "{s:s}", "body", body);
    return call(&anon, "email_status_callback", out, "{s:s, s:s}", "body", body, "signature", sig);
}

static long long failed_events(const char *message_id) {
    return owner_count("SELECT count(*) FROM notification.outbox WHERE type = "
                       "'notification.failed' AND payload -> 'data' ->> 'message_id' = $1",
                       1, (const char *[]){message_id});
}

static long long suppressions(const char *club, const char *addr) {
    return owner_count("SELECT count(*) FROM notification.suppressions WHERE club_id = $1::uuid "
                       "AND address = lower($2)",
                       2, (const char *[]){club, addr});
}

/* ---- tests -------------------------------------------------------------------------------- */

/* The mail carries the Message-ID kept as provider_ref; a missing, wrong or another secret's
 * signature is 401 and changes nothing; delivered once (a replay and a late soft bounce change
 * nothing); no secret configured: 404. */
static void test_signed_delivered_callback(void) {
    char addr[128], id[40], st[32], err[64], ref[NOTIFY_REF_MAX], needle[NOTIFY_REF_MAX + 20];
    unique_email("delivered", addr);
    REQUIRE(queue_mail(g_club_a, addr, 0, id) == 0);
    deliver();
    message(id, st, err, ref);
    CHECK_STR(st, "sent");
    char expected[NOTIFY_REF_MAX];
    snprintf(expected, sizeof expected, "%s@reciprocal.example", id);
    CHECK_STR(ref, expected);
    snprintf(needle, sizeof needle, "Message-ID: <%s>", expected);
    CHECK_EQ_INT(sink_mails_to(&g_mail, addr, needle), 1);
    json_t *o = NULL;
    /* the signature authenticates: missing, forged, another channel's secret */
    CHECK_EQ_INT(callback(ref, "delivered", "", &o), 401);
    CHECK_STR(sget(json_object_get(o, "error"), "field"), "signature");
    json_decref(o);
    CHECK_EQ_INT(callback(ref, "delivered", "not-the-secret", &o), 401);
    CHECK_STR(sget(json_object_get(o, "error"), "code"), "invalid_signature");
    json_decref(o);
    CHECK_EQ_INT(callback(ref, "hard_bounce", "sms-secret", &o), 401);
    json_decref(o);
    message(id, st, NULL, NULL);
    CHECK_STR(st, "sent");
    CHECK_EQ_INT(suppressions(g_club_a, addr), 0);
    /* no secret configured: refused */
    notification_settings_t saved = *g_ns;
    g_ns->email_callback_secret[0] = '\0';
    CHECK_EQ_INT(callback(ref, "delivered", NULL, &o), 404);
    json_decref(o);
    *g_ns = saved;
    /* validation names the field; an unknown Message-ID is 404 */
    CHECK_EQ_INT(callback(ref, "opened", NULL, &o), 422);
    CHECK_STR(sget(json_object_get(o, "error"), "field"), "status");
    json_decref(o);
    CHECK_EQ_INT(callback("no-such@reciprocal.example", "delivered", NULL, &o), 404);
    json_decref(o);
    /* delivered, once */
    CHECK_EQ_INT(callback(ref, "delivered", NULL, &o), 200);
    CHECK_STR(sget(o, "status"), "delivered");
    CHECK(json_is_true(json_object_get(o, "applied")));
    json_decref(o);
    CHECK_EQ_INT(callback(ref, "delivered", NULL, &o), 200);
    CHECK(json_is_false(json_object_get(o, "applied")));
    json_decref(o);
    CHECK_EQ_INT(callback(ref, "soft_bounce", NULL, &o), 200);
    CHECK_STR(sget(o, "status"), "delivered");
    CHECK(json_is_false(json_object_get(o, "applied")));
    json_decref(o);
    message(id, st, NULL, NULL);
    CHECK_STR(st, "delivered");
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE id = $1::uuid AND "
                             "delivered_at IS NOT NULL",
                             1, (const char *[]){id}),
                 1);
}

/* A soft bounce, then a hard bounce (the Message-ID in angle brackets): bounced,
 * notification.failed once, the address suppressed in club A only; the next non-critical mail
 * is not sent, a critical one and club B's go; replays change nothing; club B's administrator
 * neither sees nor removes it; removed by club A's administrator, mail flows again. */
static void test_bounce_suppresses(void) {
    char addr[128], upper[128], id[40], st[32], err[64], ref[NOTIFY_REF_MAX], bracketed[300];
    unique_email("bounce", addr);
    REQUIRE(queue_mail(g_club_a, addr, 0, id) == 0);
    deliver();
    message(id, st, err, ref);
    CHECK_STR(st, "sent");
    json_t *o = NULL;
    CHECK_EQ_INT(callback(ref, "soft_bounce", NULL, &o), 200);
    CHECK_STR(sget(o, "status"), "delivery_attempted");
    json_decref(o);
    snprintf(bracketed, sizeof bracketed, "<%s>", ref);
    CHECK_EQ_INT(callback(bracketed, "hard_bounce", NULL, &o), 200);
    CHECK_STR(sget(o, "status"), "bounced");
    CHECK(json_is_true(json_object_get(o, "applied")));
    CHECK(json_is_true(json_object_get(o, "suppressed")));
    json_decref(o);
    message(id, st, err, NULL);
    CHECK_STR(st, "bounced");
    CHECK_STR(err, "550 5.1.1");
    CHECK_EQ_INT(failed_events(id), 1);
    CHECK_EQ_INT(suppressions(g_club_a, addr), 1);
    CHECK_EQ_INT(suppressions(g_club_b, addr), 0);
    /* the next non-critical mail (the address in another case): not sent, nothing mailed */
    snprintf(upper, sizeof upper, "%s", addr);
    upper[0] = (char)(upper[0] - 'a' + 'A');
    char next[40], crit[40], other[40];
    REQUIRE(queue_mail(g_club_a, upper, 0, next) == 0);
    REQUIRE(queue_mail(g_club_a, addr, 1, crit) == 0);
    REQUIRE(queue_mail(g_club_b, addr, 0, other) == 0);
    deliver();
    message(next, st, err, NULL);
    CHECK_STR(st, "not_sent");
    CHECK_STR(err, "suppressed");
    message(crit, st, NULL, NULL);
    CHECK_STR(st, "sent");
    message(other, st, NULL, NULL);
    CHECK_STR(st, "sent");
    CHECK_EQ_INT(sink_mails_to(&g_mail, upper, NULL), 0);
    CHECK_EQ_INT(sink_mails_to(&g_mail, addr, NULL), 3); /* the first, the critical, club B's */
    /* replayed: nothing changes */
    CHECK_EQ_INT(callback(ref, "hard_bounce", NULL, &o), 200);
    CHECK(json_is_false(json_object_get(o, "applied")));
    CHECK(json_is_false(json_object_get(o, "suppressed")));
    json_decref(o);
    CHECK_EQ_INT(failed_events(id), 1);
    /* club A's administrator lists it; club B's sees nothing and cannot remove it */
    char sid[40] = "";
    CHECK_EQ_INT(call(&g_admin_a, "list_email_suppressions", &o, NULL), 200);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(o, "items"), i, it) {
        if (strcmp(sget(it, "address"), addr) == 0) {
            snprintf(sid, sizeof sid, "%s", sget(it, "id"));
            CHECK_STR(sget(it, "reason"), "hard_bounce");
            CHECK_STR(sget(it, "message_id"), id);
        }
    }
    json_decref(o);
    REQUIRE(sid[0]);
    CHECK_EQ_INT(call(&g_admin_b, "list_email_suppressions", &o, NULL), 200);
    json_array_foreach(json_object_get(o, "items"), i, it) CHECK(strcmp(sget(it, "id"), sid) != 0);
    json_decref(o);
    CHECK_EQ_INT(call(&g_admin_b, "delete_email_suppression", &o, "{s:s}", "id", sid), 404);
    json_decref(o);
    CHECK_EQ_INT(suppressions(g_club_a, addr), 1);
    CHECK_EQ_INT(call(&g_admin_a, "delete_email_suppression", &o, "{s:s}", "id", "not-a-uuid"),
                 422);
    CHECK_STR(sget(json_object_get(o, "error"), "field"), "id");
    json_decref(o);
    /* removed: a replayed hard bounce does not add it back; mail flows again */
    CHECK_EQ_INT(call(&g_admin_a, "delete_email_suppression", &o, "{s:s}", "id", sid), 200);
    CHECK_STR(sget(o, "address"), addr);
    json_decref(o);
    CHECK_EQ_INT(call(&g_admin_a, "delete_email_suppression", &o, "{s:s}", "id", sid), 404);
    json_decref(o);
    CHECK_EQ_INT(callback(ref, "hard_bounce", NULL, &o), 200);
    json_decref(o);
    CHECK_EQ_INT(suppressions(g_club_a, addr), 0);
    char again[40];
    REQUIRE(queue_mail(g_club_a, addr, 0, again) == 0);
    deliver();
    message(again, st, NULL, NULL);
    CHECK_STR(st, "sent");
}

/* ---- suppression expiry (docs/notification.md "Suppression expiry and GraphQL") ----------- */

/* One mail of club A to addr (critical or not) queued and sent; its Message-ID into ref. */
static void sent_mail(const char *addr, int critical, char ref[NOTIFY_REF_MAX]) {
    char id[40], st[32];
    ref[0] = '\0';
    if (queue_mail(g_club_a, addr, critical, id) != 0) return;
    deliver();
    message(id, st, NULL, ref);
    CHECK_STR(st, "sent");
}

/* reason, and expires_at as whole seconds from now ("" = none), of addr's suppression in A */
static void suppression_of(const char *addr, char reason[32], char in_s[32]) {
    const char *p[] = {g_club_a, addr};
    owner_text("SELECT reason FROM notification.suppressions WHERE club_id = $1::uuid AND "
               "address = lower($2)",
               2, p, reason, 32);
    owner_text("SELECT round(extract(epoch FROM expires_at - now()))::bigint FROM "
               "notification.suppressions WHERE club_id = $1::uuid AND address = lower($2)",
               2, p, in_s, 32);
}

/* The digest worker's suppression step for (club A, addr) with its clock at `at`, for message id
 * in a transaction rolled back: 1 when it marked the row suppressed. */
static int suppressed_at(const char *addr, const char *id, const char *at) {
    db_scope_t sys = {NULL, NULL, 0, 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    char v[8] = "";
    if (db_begin(g_db, &sys, &tx, &e) != 0) return -1;
    if (notify_bounce_suppress_recipient(tx, g_club_a, addr, at, &e) >= 0) {
        PGresult *r = db_exec(tx,
                              "SELECT coalesce(last_error, '') = 'suppressed' FROM "
                              "notification.messages WHERE id = $1::uuid",
                              1, (const char *[]){id}, &e);
        if (r && PQntuples(r) == 1) snprintf(v, sizeof v, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    } else
        printf("#   suppress_recipient: %s\n", e.message);
    db_rollback(tx);
    return v[0] == 't';
}

/* A complaint suppresses for RECIPROCAL_NOTIFY_SUPPRESSION_DAYS (30): the queued mail is
 * suppressed by the worker's clock one second before expires_at, not at it; once expired (the
 * entry moved into the past) the mail is sent and the list shows it inactive; a new complaint
 * renews it; a hard bounce makes it permanent (expires_at null) and a later complaint does not
 * shorten it. Soft bounces: the third within the window suppresses for 30 days. */
static void test_suppression_expiry(void) {
    char addr[128], ref[NOTIFY_REF_MAX], reason[32], in_s[32], id[40], st[32], at[64];
    json_t *o = NULL;
    unique_email("complaint", addr);
    sent_mail(addr, 0, ref);
    CHECK_EQ_INT(callback(ref, "complaint", NULL, &o), 200);
    CHECK_STR(sget(o, "status"), "delivered");
    CHECK(json_is_true(json_object_get(o, "suppressed")));
    json_decref(o);
    suppression_of(addr, reason, in_s);
    CHECK_STR(reason, "complaint");
    CHECK(atoll(in_s) > 30 * 86400 - 120 && atoll(in_s) <= 30 * 86400);
    CHECK_EQ_INT(callback(ref, "complaint", NULL, &o), 200); /* a replay: nothing */
    CHECK(json_is_false(json_object_get(o, "suppressed")));
    json_decref(o);
    /* the injected clock: suppressed until expires_at, not from it on */
    REQUIRE(queue_mail(g_club_a, addr, 0, id) == 0);
    const char *p[] = {g_club_a, addr};
    owner_text("SELECT to_char((expires_at - interval '1 second') AT TIME ZONE 'UTC', "
               "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM notification.suppressions WHERE club_id "
               "= $1::uuid AND address = lower($2)",
               2, p, at, sizeof at);
    CHECK_EQ_INT(suppressed_at(addr, id, at), 1);
    owner_text("SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
               "FROM notification.suppressions WHERE club_id = $1::uuid AND address = lower($2)",
               2, p, at, sizeof at);
    CHECK_EQ_INT(suppressed_at(addr, id, at), 0);
    CHECK_EQ_INT(suppressed_at(addr, id, NULL), 1);
    /* the entry's time has passed: the mail goes, the list says inactive */
    owner_count("WITH u AS (UPDATE notification.suppressions SET expires_at = now() - interval "
                "'1 second' WHERE club_id = $1::uuid AND address = lower($2) RETURNING 1) SELECT "
                "count(*) FROM u",
                2, p);
    deliver();
    message(id, st, NULL, ref);
    CHECK_STR(st, "sent");
    CHECK_EQ_INT(call(&g_admin_a, "list_email_suppressions", &o, NULL), 200);
    size_t i;
    json_t *it;
    int seen = 0;
    json_array_foreach(json_object_get(o, "items"), i, it) {
        if (strcmp(sget(it, "address"), addr) != 0) continue;
        seen = 1;
        CHECK(json_is_false(json_object_get(it, "active")));
        CHECK(json_is_string(json_object_get(it, "expires_at")));
    }
    CHECK(seen);
    json_decref(o);
    /* a new complaint renews the expired entry */
    CHECK_EQ_INT(callback(ref, "complaint", NULL, &o), 200);
    CHECK(json_is_true(json_object_get(o, "suppressed")));
    json_decref(o);
    suppression_of(addr, reason, in_s);
    CHECK(atoll(in_s) > 30 * 86400 - 120);
    /* a hard bounce (of a critical mail, which still goes) makes it permanent */
    char cref[NOTIFY_REF_MAX];
    sent_mail(addr, 1, cref);
    CHECK_EQ_INT(callback(cref, "hard_bounce", NULL, &o), 200);
    CHECK(json_is_true(json_object_get(o, "suppressed")));
    json_decref(o);
    suppression_of(addr, reason, in_s);
    CHECK_STR(reason, "hard_bounce");
    CHECK_STR(in_s, "");
    char cref2[NOTIFY_REF_MAX];
    sent_mail(addr, 1, cref2);
    CHECK_EQ_INT(callback(cref2, "complaint", NULL, &o), 200); /* does not shorten it */
    CHECK(json_is_false(json_object_get(o, "suppressed")));
    json_decref(o);
    suppression_of(addr, reason, in_s);
    CHECK_STR(reason, "hard_bounce");
    CHECK_STR(in_s, "");

    /* soft bounces: the third within the window suppresses for 30 days */
    char soft[128], r1[NOTIFY_REF_MAX], r2[NOTIFY_REF_MAX], r3[NOTIFY_REF_MAX];
    unique_email("soft", soft);
    sent_mail(soft, 0, r1);
    sent_mail(soft, 0, r2);
    sent_mail(soft, 0, r3);
    const char *refs[] = {r1, r2, r3};
    for (int k = 0; k < 3; k++) {
        CHECK_EQ_INT(callback(refs[k], "soft_bounce", NULL, &o), 200);
        CHECK_STR(sget(o, "status"), "delivery_attempted");
        CHECK(json_is_true(json_object_get(o, "suppressed")) == (k == 2));
        json_decref(o);
    }
    suppression_of(soft, reason, in_s);
    CHECK_STR(reason, "soft_bounce");
    CHECK(atoll(in_s) > 30 * 86400 - 120 && atoll(in_s) <= 30 * 86400);
    REQUIRE(queue_mail(g_club_a, soft, 0, id) == 0);
    deliver();
    message(id, st, NULL, NULL);
    CHECK_STR(st, "not_sent");
}

/* ---- digests through the mail path (docs/notification.md "Digests through the mail path") -- */

/* n digest rows of club to addr, due a minute ago, created one second apart; the first's id
 * (the oldest: the digest's lead) into lead. */
static int queue_digest(const char *club, const char *addr, int n, char lead[40]) {
    char nstr[8];
    snprintf(nstr, sizeof nstr, "%d", n);
    const char *p[] = {club, addr, nstr};
    owner_text("WITH q AS (INSERT INTO notification.messages (club_id, event_id, event_type, "
               "template, channel, recipient, critical, vars, digest, digest_window, "
               "next_attempt_at, created_at) SELECT $1::uuid, gen_random_uuid(), 'test.digest', "
               "'bounce_test', 'email', $2, false, jsonb_build_object('n', 'digest ' || i), "
               "true, 'daily', now() - interval '1 minute', now() - make_interval(secs => 100 - "
               "i) FROM generate_series(1, $3::int) i RETURNING id, created_at) SELECT id::text "
               "FROM q ORDER BY created_at LIMIT 1",
               3, p, lead, 40);
    return lead[0] ? 0 : -1;
}

/* Digest passes until addr's rows are no longer queued (other tests' rows may be due too). */
static void digest_until_done(const char *addr) {
    err_t e = {0};
    for (int i = 0; i < 20; i++) {
        if (notify_digest_pass(&g_env, NULL, &e) < 0) printf("#   digest: %s\n", e.message);
        if (owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND "
                        "status = 'queued'",
                        1, (const char *[]){addr}) == 0)
            return;
    }
}

static long long rows_of(const char *addr, const char *status, const char *lead) {
    return owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND "
                       "status = $2 AND digest_of = $3::uuid",
                       3, (const char *[]){addr, status, lead});
}

/* A digest through the primary carries its lead row's Message-ID (provider_ref); every row
 * points at the lead; a signed delivered callback naming it moves all three rows. Then, with the
 * primary down and a secondary configured, the next digest fails over (as single mails do), is
 * kept as smtp:secondary:<lead>, and its hard bounce bounces all its rows and suppresses the
 * address. Before: a new connection to the primary only, a random Message-ID, 404. */
static void test_digest_message_id_and_failover(void) {
    char addr[128], lead[40], ref[NOTIFY_REF_MAX], expected[NOTIFY_REF_MAX], needle[300];
    unique_email("digest", addr);
    REQUIRE(queue_digest(g_club_a, addr, 3, lead) == 0);
    digest_until_done(addr);
    CHECK_EQ_INT(rows_of(addr, "sent", lead), 3);
    owner_text("SELECT provider_ref FROM notification.messages WHERE id = $1::uuid", 1,
               (const char *[]){lead}, ref, sizeof ref);
    snprintf(expected, sizeof expected, "%s@reciprocal.example", lead);
    CHECK_STR(ref, expected);
    snprintf(needle, sizeof needle, "Message-ID: <%s>", expected);
    CHECK_EQ_INT(sink_mails_to(&g_mail, addr, needle), 1);
    CHECK_EQ_INT(sink_mails_to(&g_mail, addr, NULL), 1);
    json_t *o = NULL;
    CHECK_EQ_INT(callback(ref, "delivered", NULL, &o), 200);
    CHECK(json_is_true(json_object_get(o, "applied")));
    json_decref(o);
    CHECK_EQ_INT(rows_of(addr, "delivered", lead), 3);

    /* the primary down (nothing listens on its port), a secondary configured */
    sink_mail_t second;
    REQUIRE(sink_mail_start(&second, "bounce-second", NULL, NULL) == 0);
    notification_settings_t saved = *g_ns;
    snprintf(g_ns->smtp_url, sizeof g_ns->smtp_url, "smtp://127.0.0.1:%d", e2e_free_port());
    snprintf(g_ns->smtp_secondary_url, sizeof g_ns->smtp_secondary_url, "%s", second.url);
    g_ns->smtp_failover_after = 1;
    char addr2[128], lead2[40];
    unique_email("digest-failover", addr2);
    REQUIRE(queue_digest(g_club_a, addr2, 2, lead2) == 0);
    digest_until_done(addr2);
    *g_ns = saved; /* no secondary: the failover ends for the next tests */
    CHECK_EQ_INT(rows_of(addr2, "sent", lead2), 2);
    owner_text("SELECT provider_ref FROM notification.messages WHERE id = $1::uuid", 1,
               (const char *[]){lead2}, ref, sizeof ref);
    snprintf(expected, sizeof expected, "smtp:secondary:%s", lead2);
    CHECK_STR(ref, expected);
    snprintf(expected, sizeof expected, "%s@reciprocal.example", lead2);
    snprintf(needle, sizeof needle, "Message-ID: <%s>", expected);
    CHECK_EQ_INT(sink_mails_to(&second, addr2, needle), 1);
    CHECK_EQ_INT(sink_mails_to(&g_mail, addr2, NULL), 0);
    sink_mail_stop(&second);
    CHECK_EQ_INT(callback(expected, "hard_bounce", NULL, &o), 200);
    CHECK(json_is_true(json_object_get(o, "applied")));
    CHECK(json_is_true(json_object_get(o, "suppressed")));
    json_decref(o);
    CHECK_EQ_INT(rows_of(addr2, "bounced", lead2), 2);
    CHECK_EQ_INT(suppressions(g_club_a, addr2), 1);
    /* the address suppressed now: its next digest's rows are not_sent by the digest pass (the
     * delivery worker's lease checks only the rows it leases, which digest rows never are) */
    char lead3[40];
    REQUIRE(queue_digest(g_club_a, addr2, 2, lead3) == 0);
    digest_until_done(addr2);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND "
                             "status = 'not_sent' AND last_error = 'suppressed'",
                             1, (const char *[]){addr2}),
                 2);
    CHECK_EQ_INT(sink_mails_to(&g_mail, addr2, NULL), 0);
}

static int create_club(const char *name, char id[40]) {
    char slug[64];
    snprintf(slug, sizeof slug, "bounce-%d-%d", (int)getpid(), ++g_seq);
    json_t *o = NULL;
    int st = call(&g_na, "create_club", &o, "{s:s, s:s, s:s, s:{s:s}}", "name", name, "slug", slug,
                  "timezone", "UTC", "address", "country", "GB");
    if (st == 201) snprintf(id, 40, "%s", sget(o, "id"));
    json_decref(o);
    if (st != 201) printf("#   create_club: %d\n", st);
    if (st != 201) return -1;
    const char *p[] = {id};
    db_scope_t scope = {.club_id = id}; /* the club's own override (RLS) */
    db_tx_t *tx = NULL;
    err_t e = {0};
    if (db_begin(g_owner, &scope, &tx, &e) != 0) return -1;
    long long n = db_exec_cmd(tx,
                              "INSERT INTO notification.templates (club_id, key, locale, "
                              "subject, body) VALUES ($1::uuid, 'bounce_test', 'en', "
                              "'Bounce test {{n}}', 'Hello, mail number {{n}}.')",
                              1, p, &e);
    if (n < 0) printf("#   template override: %s\n", e.message);
    return db_tx_finish(&tx, n < 0 ? -1 : 0, NULL, &e) == 0 ? 0 : -1;
}

static void club_admin(const char *club, svc_caller_t *c) {
    *c = (svc_caller_t){0};
    snprintf(c->club_id, sizeof c->club_id, "%s", club);
    snprintf(c->user_id, sizeof c->user_id, "6c1e0c1a-0000-4000-8000-%012d", ++g_seq);
    snprintf(c->perms, sizeof c->perms, "club:admin");
}

static void test_setup(void) {
    err_t e = {0};
    const char *url = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    const char *owner = TEST_ENV("RECIPROCAL_TEST_OWNER_URL");
    const char *tmp = TEST_ENV("RECIPROCAL_TEST_TMP");
    const char *nats = TEST_ENV("RECIPROCAL_TEST_NATS_URL");
    REQUIRE(url && owner && tmp && nats);
    REQUIRE(sink_mail_start(&g_mail, "bounce", NULL, NULL) == 0);
    REQUIRE(cfg_load(&g_cfg, NULL, &e) == 0);
    REQUIRE(svc_settings_load(&g_set, NULL, &e) == 0);
    g_ns = svc_settings_edit(&g_set, &notification_module);
    snprintf(g_ns->smtp_url, sizeof g_ns->smtp_url, "%s", g_mail.url);
    snprintf(g_ns->smtp_from, sizeof g_ns->smtp_from, "Reciprocal <no-reply@reciprocal.example>");
    snprintf(g_ns->email_callback_secret, sizeof g_ns->email_callback_secret, "%s", SECRET);
    snprintf(g_ns->sms_callback_secret, sizeof g_ns->sms_callback_secret, "sms-secret");
    g_ns->retry_base_s = 1;
    g_ns->max_tries = 3;
    g_db = db_pool_open(url, 4, &e);
    g_owner = db_pool_open(owner, 1, &e);
    REQUIRE(g_db && g_owner);
    g_bus = bus_connect(nats, "test_notification_bounce", &e);
    REQUIRE(g_bus);
    g_env = (svc_env_t){.cfg = &g_cfg, .db = g_db, .bus = g_bus, .settings = &g_set};
    char email[128], id[40];
    unique_email("netadmin", email);
    REQUIRE(auth_create_network_admin(g_db, email, PW, id, &e) == 0);
    snprintf(g_na.user_id, sizeof g_na.user_id, "%s", id);
    g_na.network_admin = 1;
    snprintf(g_na.perms, sizeof g_na.perms, "*");
    REQUIRE(create_club("Bounce Club A", g_club_a) == 0);
    REQUIRE(create_club("Bounce Club B", g_club_b) == 0);
    club_admin(g_club_a, &g_admin_a);
    club_admin(g_club_b, &g_admin_b);
}

int main(void) {
    log_init(LOG_ERROR, 0, "test_notification_bounce");
    RUN(test_setup);
    if (g_db && g_bus && g_club_b[0]) {
        RUN(test_signed_delivered_callback);
        RUN(test_bounce_suppresses);
        RUN(test_suppression_expiry);
        RUN(test_digest_message_id_and_failover);
    }
    sink_mail_stop(&g_mail);
    db_pool_close(g_db);
    db_pool_close(g_owner);
    bus_close(g_bus);
    bus_shutdown_library();
    TEST_DONE();
}
