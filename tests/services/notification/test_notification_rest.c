/* test_notification_rest: the notification service's client idempotency keys, club preference
 * defaults, hourly digests, template overrides, ICU formatting and sealed webhook secrets
 * (docs/notification.md, the sections from "Client idempotency keys" on), against the harness's
 * PostgreSQL and NATS and a real SMTP server (aiosmtpd, tests/services/notification/
 * smtp_server.py on a free port, a Maildir in the scratch folder). Every count is scoped to the
 * clubs, addresses and ids this test creates. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "services/notification/icu_fmt.h"
#include "services/notification/idem.h"
#include "services/notification/notification.h"
#include "services/notification/prefs.h"
#include "services/notification/rules.h"
#include "services/notification/webhook.h"
#include "services/notification/webhook_http.h"
#include "services/notification/webhook_seal.h"
#include "support/sink.h"
#include "test.h"

static db_pool_t *g_db, *g_owner;
static bus_t *g_bus;
static cfg_t g_cfg;
static svc_env_t g_env;
static svc_settings_t g_set;
static sink_mail_t g_mail; /* the SMTP server and its Maildir */
static char g_club_a[40], g_club_b[40];
static svc_caller_t g_na; /* a network administrator */
static int g_seq;
static const char *PW = "correct horse battery staple 42";

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
        output = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", e.code, "message", e.message,
                           "field", e.field);
    if (out)
        *out = output;
    else
        json_decref(output);
    return status;
}

static const char *err_field(json_t *o) {
    return sget(json_object_get(o, "error"), "field");
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

/* The first column of the first row of sql as text into out ("" when none). */
static void owner_text(const char *sql, int n, const char *const *p, char *out, size_t cap) {
    db_tx_t *tx = owner_tx();
    out[0] = '\0';
    if (!tx) return;
    err_t e = {0};
    PGresult *r = db_exec(tx, sql, n, p, &e);
    if (!r) printf("#   owner query: %s\n", e.message);
    if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    db_commit(tx, &e);
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
    snprintf(out, 128, "%s-%d-%d@notifyrest.example", tag, (int)getpid(), ++g_seq);
}

static svc_caller_t club_admin(const char *club) {
    svc_caller_t c = {0};
    snprintf(c.user_id, sizeof c.user_id, "%s", "6d1e0c1a-0000-4000-8000-0000000000e1");
    snprintf(c.club_id, sizeof c.club_id, "%s", club);
    snprintf(c.perms, sizeof c.perms, "club:read club:write club:admin");
    return c;
}

/* ---- the SMTP server -------------------------------------------------------------------- */

/* Mails in the Maildir containing needle; the last one's text into last (malloc'd) if given. */
static int mails_with(const char *needle, char **last) {
    return sink_mails_matching(&g_mail, needle, NULL, last);
}

/* ---- members and events --------------------------------------------------------------------- */

/* A member of club with an account: user id, member id, profile email. */
static int member_with_account(const char *club, char user[40], char member[40], char email[128]) {
    unique_email("member", email);
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
    int st =
        call(&member_module, &g_na, "create_member", &o, "{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}",
             "club_id", club, "category", "full", "expires_on", "2099-12-31", "auth_user_id", user,
             "profile", "first_name", "Rhea", "last_name", "Rest", "email", email);
    if (st != 201) printf("#   create_member: %d\n", st);
    if (st == 201) snprintf(member, 40, "%s", sget(o, "id"));
    json_decref(o);
    return st == 201 ? 0 : -1;
}

/* The same with the profile's language (a BCP 47 tag: the recipient's locale). */
static int member_with_language(const char *club, const char *lang, char user[40], char member[40],
                                char email[128]) {
    if (member_with_account(club, user, member, email) != 0) return -1;
    json_t *o = NULL;
    int st = call(&member_module, &g_na, "update_member", &o, "{s:s, s:s, s:{s:s}}", "club_id",
                  club, "id", member, "profile", "language", lang);
    if (st != 200) printf("#   update_member: %d %s\n", st, o ? json_dumps(o, 0) : "");
    json_decref(o);
    return st == 200 ? 0 : -1;
}

/* One visit event of type (new event and visit ids) for member of club, applied as the
 * consumers do; with arrival and departure dates (host zone Europe/Berlin) when arrive is set. */
static int visit_event_on(const char *club, const char *type, const char *member,
                          const char *arrive, const char *depart) {
    char id[40], vid[40];
    snprintf(id, sizeof id, "8a2f6a1c-0000-4000-8000-%012d", ++g_seq);
    snprintf(vid, sizeof vid, "8b2f6a1c-0000-4000-8000-%012d", ++g_seq);
    const char *other = strcmp(club, g_club_a) == 0 ? g_club_b : g_club_a;
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s}", "visit_id", vid, "member_id", member,
                             "home_club_id", club, "host_club_id", other, "status", "x");
    if (arrive) {
        json_object_set_new(data, "arrive_on", json_string(arrive));
        json_object_set_new(data, "depart_on", json_string(depart));
        json_object_set_new(data, "host_timezone", json_string("Europe/Berlin"));
    }
    svc_event_t ev = {.id = id,
                      .type = type,
                      .subject = type,
                      .tenant_id = club,
                      .correlation_id = "",
                      .data = data,
                      .envelope = data};
    svc_caller_t sys = {0};
    snprintf(sys.club_id, sizeof sys.club_id, "%s", club);
    svc_call_t c = {.env = &g_env, .module = &notification_module, .caller = &sys};
    db_scope_t scope = {.club_id = club, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    int rc = db_begin(g_db, &scope, &tx, &e);
    if (rc == 0) rc = db_tx_finish(&tx, notify_on_event(&c, tx, &ev, &e), NULL, &e);
    if (rc != 0) printf("#   %s: %s\n", type, e.message);
    json_decref(data);
    return rc;
}

static int visit_event(const char *club, const char *type, const char *member) {
    return visit_event_on(club, type, member, NULL, NULL);
}

static long long count1(const char *sql, const char *a) {
    return owner_count(sql, 1, (const char *[]){a});
}

/* ---- client idempotency keys ------------------------------------------------------------- */

/* create_webhook with an idempotency key: the same request answers the same endpoint (and
 * secret), a different one is 409 naming the differing field, another club's same key is its
 * own; after 24 h (injected clock) the key is free. */
static void test_idempotency_keys(void) {
    svc_caller_t a = club_admin(g_club_a), b = club_admin(g_club_b);
    char key[64];
    snprintf(key, sizeof key, "idem-%d-%d", (int)getpid(), ++g_seq);
    json_t *o1 = NULL, *o2 = NULL, *o3 = NULL;
    REQUIRE(call(&notification_module, &a, "create_webhook", &o1, "{s:s, s:[s], s:s}", "url",
                 "http://127.0.0.1:9/idem", "event_types", "visit.confirmed", "idempotency_key",
                 key) == 201);
    REQUIRE(call(&notification_module, &a, "create_webhook", &o2, "{s:s, s:[s], s:s}", "url",
                 "http://127.0.0.1:9/idem", "event_types", "visit.confirmed", "idempotency_key",
                 key) == 201);
    CHECK_STR(sget(o1, "id"), sget(o2, "id"));
    CHECK_STR(sget(o1, "secret"), sget(o2, "secret"));
    CHECK_EQ_INT(count1("SELECT count(*) FROM notification.webhooks WHERE club_id = $1::uuid AND "
                        "url = 'http://127.0.0.1:9/idem'",
                        g_club_a),
                 1);
    /* the stored answer holds no secret */
    CHECK_EQ_INT(count1("SELECT count(*) FROM notification.idempotency_keys WHERE key = $1 AND "
                        "response ? 'secret'",
                        key),
                 0);
    /* same key, different payload: 409 naming the field */
    CHECK_EQ_INT(call(&notification_module, &a, "create_webhook", &o3, "{s:s, s:[s], s:s}", "url",
                      "http://127.0.0.1:9/idem", "event_types", "visit.cancelled",
                      "idempotency_key", key),
                 409);
    CHECK_STR(sget(json_object_get(o3, "error"), "code"), "idempotency_conflict");
    CHECK_STR(err_field(o3), "idempotency_key");
    CHECK(strstr(sget(json_object_get(o3, "error"), "message"), "event_types") != NULL);
    json_decref(o3);
    /* another club: its own key space */
    REQUIRE(call(&notification_module, &b, "create_webhook", &o3, "{s:s, s:[s], s:s}", "url",
                 "http://127.0.0.1:9/idem-b", "event_types", "visit.confirmed", "idempotency_key",
                 key) == 201);
    CHECK(strcmp(sget(o3, "id"), sget(o1, "id")) != 0);
    json_decref(o3);
    /* too long: 422 idempotency_key */
    char longkey[300];
    memset(longkey, 'k', 256);
    longkey[256] = '\0';
    CHECK_EQ_INT(call(&notification_module, &a, "create_webhook", &o3, "{s:s, s:[s], s:s}", "url",
                      "http://127.0.0.1:9/idem", "event_types", "visit.confirmed",
                      "idempotency_key", longkey),
                 422);
    CHECK_STR(err_field(o3), "idempotency_key");
    json_decref(o3);
    json_decref(o1);
    json_decref(o2);

    /* expiry with the injected clock: remembered at T, replayed at T + 23:59:59, free at T + 24 h
     */
    db_scope_t in_a = {.club_id = g_club_a};
    db_tx_t *tx = NULL;
    err_t e = {0};
    json_t *in = json_pack("{s:s, s:i}", "idempotency_key", key, "n", 1), *rep = NULL;
    json_t *other = json_pack("{s:s, s:i}", "idempotency_key", key, "n", 2);
    json_t *ans = json_pack("{s:s}", "id", "first");
    REQUIRE(db_begin(g_db, &in_a, &tx, &e) == 0);
    CHECK_EQ_INT(notify_idem_begin(tx, "clock_test", in, "2026-03-01T10:00:00Z", &rep, &e), 0);
    CHECK(rep == NULL);
    CHECK_EQ_INT(notify_idem_finish(tx, "clock_test", in, ans, "2026-03-01T10:00:00Z", &e), 0);
    CHECK_EQ_INT(notify_idem_begin(tx, "clock_test", in, "2026-03-02T09:59:59Z", &rep, &e), 0);
    CHECK(rep && strcmp(sget(rep, "id"), "first") == 0);
    json_decref(rep);
    rep = NULL;
    CHECK_EQ_INT(notify_idem_begin(tx, "clock_test", other, "2026-03-02T09:59:59Z", &rep, &e), -1);
    CHECK_EQ_INT(e.status, 409);
    CHECK(strstr(e.message, "(n differs)") != NULL);
    e = (err_t){0};
    CHECK_EQ_INT(notify_idem_begin(tx, "clock_test", other, "2026-03-02T10:00:00Z", &rep, &e), 0);
    CHECK(rep == NULL);
    db_tx_rollback(&tx);
    json_decref(in);
    json_decref(other);
    json_decref(ans);
}

/* ---- club preference defaults -----------------------------------------------------------------
 */

static long long queued(const char *user, const char *email, const char *channel) {
    const char *p[] = {channel, user, email};
    return owner_count("SELECT count(*) FROM notification.messages WHERE template = "
                       "'visit_approved' AND channel = $1 AND (user_id::text = $2 OR recipient = "
                       "$3)",
                       3, p);
}

/* Club A's defaults (email off, visits in-app off) apply to a member who chose nothing, below
 * the member's own global and per-category choices; critical messages and the security
 * category ignore them; club B's members are not affected. */
static void test_club_defaults(void) {
    svc_caller_t a = club_admin(g_club_a);
    json_t *o = NULL;
    /* security cannot be switched off by a club: 422 categories */
    CHECK_EQ_INT(call(&notification_module, &a, "set_club_notification_defaults", &o,
                      "{s:[{s:s, s:b}]}", "categories", "category", "security", "email", 0),
                 422);
    CHECK_STR(err_field(o), "categories");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &a, "set_club_notification_defaults", &o, "{s:s}",
                      "email", "no"),
                 400);
    CHECK_STR(err_field(o), "email");
    json_decref(o);
    REQUIRE(call(&notification_module, &a, "set_club_notification_defaults", &o,
                 "{s:b, s:[{s:s, s:b}]}", "email", 0, "categories", "category", "visits", "in_app",
                 0) == 200);
    CHECK(json_is_false(json_object_get(o, "email")));
    json_t *cats = json_object_get(o, "categories");
    CHECK(json_is_true(json_object_get(json_array_get(cats, 0), "email"))); /* security */
    CHECK(json_is_false(json_object_get(json_array_get(cats, 1), "in_app")));
    CHECK(json_is_false(json_object_get(json_array_get(cats, 1), "email")));
    json_decref(o);
    /* partial change keeps the rest; get answers the same */
    REQUIRE(call(&notification_module, &a, "set_club_notification_defaults", NULL, "{s:b}", "push",
                 1) == 200);
    REQUIRE(call(&notification_module, &a, "get_club_notification_defaults", &o, NULL) == 200);
    CHECK(json_is_false(json_object_get(o, "email")));
    CHECK(json_is_true(json_object_get(o, "push")));
    CHECK(json_is_false(
        json_object_get(json_array_get(json_object_get(o, "categories"), 1), "in_app")));
    json_decref(o);
    /* club B sees its own (network) defaults */
    svc_caller_t b = club_admin(g_club_b);
    REQUIRE(call(&notification_module, &b, "get_club_notification_defaults", &o, NULL) == 200);
    CHECK(json_is_true(json_object_get(o, "email")));
    CHECK(json_is_false(json_object_get(o, "push")));
    json_decref(o);

    /* a member of A who chose nothing: loi.issued queues nothing (email off by the club, visits
     * in-app off by the club); the critical confirmation is queued on both channels */
    char user[40], member[40], email[128];
    REQUIRE(member_with_account(g_club_a, user, member, email) == 0);
    svc_caller_t u = {0};
    snprintf(u.user_id, sizeof u.user_id, "%s", user);
    snprintf(u.club_id, sizeof u.club_id, "%s", g_club_a);
    REQUIRE(call(&notification_module, &u, "get_preferences", &o, NULL) == 200);
    CHECK(json_is_false(json_object_get(o, "email")));
    CHECK(json_is_false(
        json_object_get(json_array_get(json_object_get(o, "categories"), 1), "in_app")));
    json_decref(o);
    REQUIRE(visit_event(g_club_a, "loi.issued", member) == 0);
    CHECK_EQ_INT(queued(user, email, "email"), 0);
    CHECK_EQ_INT(queued(user, email, "in_app"), 0);
    REQUIRE(visit_event(g_club_a, "visit.confirmed", member) == 0);
    CHECK_EQ_INT(count1("SELECT count(*) FROM notification.messages WHERE template = "
                        "'visit_confirmed' AND (recipient = $1 OR user_id::text = "
                        "(SELECT user_id::text FROM notification.messages WHERE recipient = $1 "
                        "LIMIT 1))",
                        email),
                 2);
    /* the member's own timezone change sets no switch: the club's defaults still apply */
    REQUIRE(call(&notification_module, &u, "update_preferences", NULL, "{s:s}", "timezone",
                 "Europe/Paris") == 200);
    REQUIRE(visit_event(g_club_a, "loi.issued", member) == 0);
    CHECK_EQ_INT(queued(user, email, "email"), 0);
    /* the member's global email switch beats the club's; the club's visits in-app default stays */
    REQUIRE(call(&notification_module, &u, "update_preferences", NULL, "{s:b}", "email", 1) == 200);
    REQUIRE(visit_event(g_club_a, "loi.issued", member) == 0);
    CHECK_EQ_INT(queued(user, email, "email"), 1);
    CHECK_EQ_INT(queued(user, email, "in_app"), 0);
    /* the member's per-category choice beats the club's per-category default */
    REQUIRE(call(&notification_module, &u, "update_preferences", NULL, "{s:[{s:s, s:b}]}",
                 "categories", "category", "visits", "in_app", 1) == 200);
    REQUIRE(visit_event(g_club_a, "loi.issued", member) == 0);
    CHECK_EQ_INT(queued(user, email, "email"), 2);
    CHECK_EQ_INT(queued(user, email, "in_app"), 1);
    /* club B's member: the network defaults (email and in-app) */
    char user_b[40], member_b[40], email_b[128];
    REQUIRE(member_with_account(g_club_b, user_b, member_b, email_b) == 0);
    REQUIRE(visit_event(g_club_b, "loi.issued", member_b) == 0);
    CHECK_EQ_INT(queued(user_b, email_b, "email"), 1);
    CHECK_EQ_INT(queued(user_b, email_b, "in_app"), 1);
    /* resetting the club's email to the network default (null) */
    REQUIRE(call(&notification_module, &a, "set_club_notification_defaults", &o, "{s:n}",
                 "email") == 200);
    CHECK(json_is_true(json_object_get(o, "email")));
    json_decref(o);
}

/* ---- hourly digests ---------------------------------------------------------------------------
 */

/* notify_prefs_decide for an hourly (or daily) digest of user at instant at: deliver_at. */
static void digest_due(const char *user, const char *at, char out[40]) {
    db_scope_t sc = {.club_id = g_club_a, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    int send = 0, digest = 0;
    out[0] = '\0';
    if (db_begin(g_db, &sc, &tx, &e) != 0) return;
    if (notify_prefs_decide(tx, g_club_a, user, "visits", "email", 0, "UTC", at, &send, out,
                            &digest, &e) != 0)
        printf("#   decide: %s\n", e.message);
    db_tx_rollback(&tx);
}

/* visits as an hourly digest: due at the next full local hour (across both London DST changes
 * and in a :30 zone), daily at 08:00 local across the spring change; the worker's pass with the
 * injected clock sends nothing a second before the hour and one mail grouped by category at the
 * hour. */
static void test_hourly_digest(void) {
    char user[40], member[40], email[128], due[40];
    REQUIRE(member_with_account(g_club_a, user, member, email) == 0);
    svc_caller_t u = {0};
    snprintf(u.user_id, sizeof u.user_id, "%s", user);
    snprintf(u.club_id, sizeof u.club_id, "%s", g_club_a);
    json_t *o = NULL;
    CHECK_EQ_INT(call(&notification_module, &u, "update_preferences", &o, "{s:[{s:s, s:s}]}",
                      "categories", "category", "visits", "digest", "weekly"),
                 422);
    CHECK_STR(err_field(o), "categories.digest");
    json_decref(o);
    REQUIRE(call(&notification_module, &u, "update_preferences", &o, "{s:s, s:b, s:[{s:s, s:s}]}",
                 "timezone", "Europe/London", "email", 1, "categories", "category", "visits",
                 "digest", "hourly") == 200);
    json_t *visits = json_array_get(json_object_get(o, "categories"), 1);
    CHECK(json_is_true(json_object_get(visits, "digest")));
    CHECK_STR(sget(visits, "digest_window"), "hourly");
    json_decref(o);
    /* the clock injected: an ordinary hour, the spring-forward night (00:30 GMT -> 02:00 BST =
     * 01:00Z), the autumn night (01:30 BST -> 01:00 GMT = 01:00Z; 01:30 GMT -> 02:00Z) */
    digest_due(user, "2026-06-01T10:20:00Z", due);
    CHECK_STR(due, "2026-06-01T11:00:00Z");
    digest_due(user, "2026-06-01T10:59:59Z", due);
    CHECK_STR(due, "2026-06-01T11:00:00Z");
    digest_due(user, "2026-06-01T11:00:00Z", due);
    CHECK_STR(due, "2026-06-01T12:00:00Z");
    digest_due(user, "2026-03-29T00:30:00Z", due);
    CHECK_STR(due, "2026-03-29T01:00:00Z");
    digest_due(user, "2026-10-25T00:30:00Z", due);
    CHECK_STR(due, "2026-10-25T01:00:00Z");
    digest_due(user, "2026-10-25T01:30:00Z", due);
    CHECK_STR(due, "2026-10-25T02:00:00Z");
    /* a zone with a :30 offset has its own hours (India, +05:30) */
    REQUIRE(call(&notification_module, &u, "update_preferences", NULL, "{s:s}", "timezone",
                 "Asia/Kolkata") == 200);
    digest_due(user, "2026-06-01T10:20:00Z", due);
    CHECK_STR(due, "2026-06-01T10:30:00Z");
    /* daily: 08:00 local, the day after the spring change is BST (07:00Z) */
    REQUIRE(call(&notification_module, &u, "update_preferences", NULL, "{s:s, s:[{s:s, s:s}]}",
                 "timezone", "Europe/London", "categories", "category", "visits", "digest",
                 "daily") == 200);
    digest_due(user, "2026-03-28T09:00:00Z", due);
    CHECK_STR(due, "2026-03-29T07:00:00Z");
    digest_due(user, "2026-03-27T09:00:00Z", due);
    CHECK_STR(due, "2026-03-28T08:00:00Z");
    REQUIRE(call(&notification_module, &u, "update_preferences", NULL, "{s:[{s:s, s:s}]}",
                 "categories", "category", "visits", "digest", "hourly") == 200);

    /* the pipeline: two approvals held for the next full hour, plus an agreements row held with
     * them (grouping by category) */
    REQUIRE(visit_event(g_club_a, "loi.issued", member) == 0);
    REQUIRE(visit_event(g_club_a, "loi.issued", member) == 0);
    const char *p[] = {email};
    char next[40] = "", before[40] = "";
    owner_text("SELECT to_char(min(next_attempt_at) AT TIME ZONE 'UTC', "
               "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM notification.messages WHERE recipient = $1 "
               "AND digest AND digest_window = 'hourly' AND status = 'queued' AND "
               "extract(minute FROM next_attempt_at) = 0 AND extract(second FROM next_attempt_at) "
               "= 0 AND next_attempt_at > now() AND next_attempt_at <= now() + interval '1 hour'",
               1, p, next, sizeof next);
    REQUIRE(next[0]);
    CHECK_EQ_INT(
        count1("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND digest", email),
        2);
    json_t *sample = notify_sample_vars("agreement_proposed");
    char *sv = json_dumps(sample, JSON_COMPACT);
    const char *ip[] = {g_club_a, email, sv, next};
    REQUIRE(
        owner_exec("INSERT INTO notification.messages (club_id, event_id, event_type, template, "
                   "channel, recipient, vars, digest, digest_window, next_attempt_at) VALUES "
                   "($1::uuid, gen_random_uuid(), 'reciprocal.agreement_created', "
                   "'agreement_proposed', 'email', $2, $3::jsonb, true, 'hourly', "
                   "$4::timestamptz)",
                   4, ip) == 0);
    free(sv);
    json_decref(sample);
    owner_text("SELECT to_char(($1::timestamptz - interval '1 second') AT TIME ZONE 'UTC', "
               "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
               1, (const char *[]){next}, before, sizeof before);
    err_t e = {0};
    char needle[160];
    snprintf(needle, sizeof needle, "To: %s", email);
    CHECK(notify_digest_pass(&g_env, before, &e) >= 0);
    CHECK_EQ_INT(mails_with(needle, NULL), 0);
    CHECK(notify_digest_pass(&g_env, next, &e) >= 1);
    char *mail = NULL;
    CHECK_EQ_INT(mails_with(needle, &mail), 1);
    REQUIRE(mail);
    CHECK(strstr(mail, "Subject: Your hourly digest: 3 notifications") != NULL);
    char text[4096] = "";
    sink_mail_plain_part(mail, text, sizeof text);
    free(mail);
    const char *v = strstr(text, "Visits:\n\n- "), *ag = strstr(text, "Agreements:\n\n- ");
    CHECK(v && ag && v < ag);
    CHECK(v && strstr(v, "\n- ") && strstr(strstr(v, "\n- ") + 1, "\n- "));
    CHECK(strstr(text, "(hourly)") != NULL);
    CHECK_EQ_INT(
        count1("SELECT count(*) FROM notification.messages WHERE recipient = $1 AND digest "
               "AND status = 'sent'",
               email),
        3);
    CHECK_EQ_INT(notify_digest_pass(&g_env, next, &e) >= 0, 1);
    CHECK_EQ_INT(mails_with(needle, NULL), 1);
}

/* ---- template overrides -----------------------------------------------------------------------
 */

/* notify_template of club (NULL = network) for key in locale: the subject into out. */
static void resolved(const char *club, const char *key, const char *locale, char *out, size_t cap) {
    db_scope_t sc = {.club_id = club, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    char *subj = NULL, *body = NULL;
    out[0] = '\0';
    if (db_begin(g_db, &sc, &tx, &e) != 0) return;
    if (notify_template(tx, club, key, locale, &subj, &body, &e) == 0)
        snprintf(out, cap, "%s", subj);
    else
        printf("#   template: %s\n", e.message);
    db_tx_rollback(&tx);
    free(subj);
    free(body);
}

/* A club administrator puts, lists, gets and deletes overrides; a template that does not parse
 * or uses a variable the notification does not carry is 422 naming subject or body; the
 * resolution order; another club sees and changes none of them. */
static void test_template_overrides(void) {
    svc_caller_t a = club_admin(g_club_a), b = club_admin(g_club_b);
    json_t *o = NULL;
    /* refused: unknown variable (body), unclosed section (subject), unknown key, bad locale */
    CHECK_EQ_INT(call(&notification_module, &a, "put_template_override", &o, "{s:s, s:s, s:s, s:s}",
                      "key", "visit_confirmed", "locale", "de-DE", "subject", "Besuch bestätigt",
                      "body", "Hallo {{member.nickname}}"),
                 422);
    CHECK_STR(sget(json_object_get(o, "error"), "code"), "template_error");
    CHECK_STR(err_field(o), "body");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &a, "put_template_override", &o, "{s:s, s:s, s:s, s:s}",
                      "key", "visit_confirmed", "locale", "de-DE", "subject",
                      "{{#host_club}}{{name}}", "body", "Hallo"),
                 422);
    CHECK_STR(err_field(o), "subject");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &a, "put_template_override", &o, "{s:s, s:s, s:s, s:s}",
                      "key", "no_such_template", "locale", "de", "subject", "x", "body", "y"),
                 404);
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &a, "put_template_override", &o, "{s:s, s:s, s:s, s:s}",
                      "key", "visit_confirmed", "locale", "DE_de", "subject", "x", "body", "y"),
                 422);
    CHECK_STR(err_field(o), "locale");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &a, "put_template_override", &o, "{s:s, s:s, s:s}",
                      "key", "visit_confirmed", "locale", "de", "subject", "x"),
                 400);
    CHECK_STR(err_field(o), "body");
    json_decref(o);
    /* created, then replaced */
    REQUIRE(call(&notification_module, &a, "put_template_override", &o, "{s:s, s:s, s:s, s:s}",
                 "key", "visit_confirmed", "locale", "de-DE", "subject",
                 "Besuch bei {{host_club.name}} bestätigt", "body",
                 "Hallo {{member.first_name}}") == 200);
    CHECK(json_is_true(json_object_get(o, "created")));
    json_decref(o);
    REQUIRE(call(&notification_module, &a, "put_template_override", &o, "{s:s, s:s, s:s, s:s}",
                 "key", "visit_confirmed", "locale", "de-DE", "subject",
                 "A-de: Besuch bei {{host_club.name}}", "body",
                 "Hallo {{member.first_name}}") == 200);
    CHECK(json_is_false(json_object_get(o, "created")));
    json_decref(o);
    REQUIRE(call(&notification_module, &a, "put_template_override", NULL, "{s:s, s:s, s:s, s:s}",
                 "key", "visit_confirmed", "locale", "en", "subject",
                 "A-en: visit to {{host_club.name}}", "body", "Hi {{member.first_name}}") == 200);
    REQUIRE(call(&notification_module, &a, "get_template_override", &o, "{s:s, s:s}", "key",
                 "visit_confirmed", "locale", "de-DE") == 200);
    CHECK_STR(sget(o, "subject"), "A-de: Besuch bei {{host_club.name}}");
    json_decref(o);
    REQUIRE(call(&notification_module, &a, "list_template_overrides", &o, NULL) == 200);
    CHECK_EQ_INT((long long)json_array_size(json_object_get(o, "items")), 2);
    json_decref(o);
    /* resolution: A's override in the user's locale -> A's in en -> network in the user's
     * locale (fr exists for visit_confirmed) -> network en */
    char subj[300];
    resolved(g_club_a, "visit_confirmed", "de-DE", subj, sizeof subj);
    CHECK(strncmp(subj, "A-de:", 5) == 0);
    resolved(g_club_a, "visit_confirmed", "fr", subj, sizeof subj);
    CHECK(strncmp(subj, "A-en:", 5) == 0);
    char net_fr[300], net_en[300];
    resolved(NULL, "visit_confirmed", "fr", net_fr, sizeof net_fr);
    resolved(NULL, "visit_confirmed", "en", net_en, sizeof net_en);
    CHECK(net_fr[0] && net_en[0] && strcmp(net_fr, net_en) != 0);
    resolved(g_club_b, "visit_confirmed", "fr", subj, sizeof subj);
    CHECK_STR(subj, net_fr);
    resolved(g_club_b, "visit_confirmed", "de-DE", subj, sizeof subj);
    CHECK_STR(subj, net_en);
    /* tenant isolation: B sees none of A's, cannot get, change or delete them */
    REQUIRE(call(&notification_module, &b, "list_template_overrides", &o, NULL) == 200);
    CHECK_EQ_INT((long long)json_array_size(json_object_get(o, "items")), 0);
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &b, "get_template_override", NULL, "{s:s, s:s}", "key",
                      "visit_confirmed", "locale", "de-DE"),
                 404);
    CHECK_EQ_INT(call(&notification_module, &b, "delete_template_override", NULL, "{s:s, s:s}",
                      "key", "visit_confirmed", "locale", "de-DE"),
                 404);
    REQUIRE(call(&notification_module, &b, "preview_template", &o, "{s:s, s:s}", "key",
                 "visit_confirmed", "locale", "de-DE") == 200);
    CHECK(sget(o, "subject") && strncmp(sget(o, "subject"), "A-", 2) != 0);
    json_decref(o);
    REQUIRE(call(&notification_module, &b, "put_template_override", &o, "{s:s, s:s, s:s, s:s}",
                 "key", "visit_confirmed", "locale", "de-DE", "subject", "B-de", "body",
                 "B") == 200);
    CHECK(json_is_true(json_object_get(o, "created")));
    json_decref(o);
    resolved(g_club_a, "visit_confirmed", "de-DE", subj, sizeof subj);
    CHECK(strncmp(subj, "A-de:", 5) == 0);
    /* A's preview uses A's override; delete falls back to A's en */
    REQUIRE(call(&notification_module, &a, "preview_template", &o, "{s:s, s:s}", "key",
                 "visit_confirmed", "locale", "de-DE") == 200);
    CHECK_STR(sget(o, "subject"), "A-de: Besuch bei Sample Host Club");
    json_decref(o);
    REQUIRE(call(&notification_module, &a, "delete_template_override", &o, "{s:s, s:s}", "key",
                 "visit_confirmed", "locale", "de-DE") == 200);
    CHECK_STR(sget(o, "locale"), "de-DE");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &a, "delete_template_override", NULL, "{s:s, s:s}",
                      "key", "visit_confirmed", "locale", "de-DE"),
                 404);
    resolved(g_club_a, "visit_confirmed", "de-DE", subj, sizeof subj);
    CHECK(strncmp(subj, "A-en:", 5) == 0);
    resolved(g_club_b, "visit_confirmed", "de-DE", subj, sizeof subj);
    CHECK_STR(subj, "B-de");
    /* a member without club:admin: 403 */
    svc_caller_t m = a;
    snprintf(m.perms, sizeof m.perms, "club:read");
    CHECK_EQ_INT(call(&notification_module, &m, "list_template_overrides", NULL, NULL), 403);
    /* clean up A's en override (other tests of the run render A's mails) */
    REQUIRE(call(&notification_module, &a, "delete_template_override", NULL, "{s:s, s:s}", "key",
                 "visit_confirmed", "locale", "en") == 200);
}

/* ---- ICU formatting ---------------------------------------------------------------------------
 */

/* Dates, times and money for en-GB and de-DE, an instant on the spring-forward day in two zones;
 * the consumers store the "_local" values in the recipient's locale; preview and overrides use
 * them. */
static void test_icu_formatting(void) {
    char out[200];
    REQUIRE(notify_format_date("2030-03-04", "en-GB", out, sizeof out) == 0);
    CHECK_STR(out, "4 March 2030");
    REQUIRE(notify_format_date("2030-03-04", "de-DE", out, sizeof out) == 0);
    CHECK_STR(out, "4. März 2030");
    CHECK_EQ_INT(notify_format_date("2030-13-04", "de-DE", out, sizeof out), -1);
    /* 01:30Z on 29 March 2026: London has just moved to BST (02:30), Berlin to CEST (03:30); the
     * day before both are on winter time */
    REQUIRE(notify_format_instant("2026-03-29T01:30:00Z", "en-GB", "Europe/London", out,
                                  sizeof out) == 0);
    CHECK_STR(out, "29 March 2026 at 02:30");
    REQUIRE(notify_format_instant("2026-03-29T01:30:00Z", "de-DE", "Europe/Berlin", out,
                                  sizeof out) == 0);
    CHECK_STR(out, "29. März 2026 um 03:30");
    REQUIRE(notify_format_instant("2026-03-28T01:30:00Z", "en-GB", "Europe/London", out,
                                  sizeof out) == 0);
    CHECK_STR(out, "28 March 2026 at 01:30");
    REQUIRE(notify_format_instant("2026-03-28T02:30:00+01:00", "de-DE", "Europe/Berlin", out,
                                  sizeof out) == 0);
    CHECK_STR(out, "28. März 2026 um 02:30");
    CHECK_EQ_INT(notify_format_instant("2026-03-28 02:30", "de-DE", "UTC", out, sizeof out), -1);
    /* money: exact decimals, the locale's separators and symbol placement */
    REQUIRE(notify_format_money("1234.5", "GBP", "en-GB", out, sizeof out) == 0);
    CHECK_STR(out, "£1,234.50");
    REQUIRE(notify_format_money("1234.5", "EUR", "de-DE", out, sizeof out) == 0);
    CHECK(strncmp(out, "1.234,50", 8) == 0 && strstr(out, "€") != NULL);
    REQUIRE(notify_format_money("-0.10", "EUR", "en-GB", out, sizeof out) == 0);
    CHECK(strstr(out, "0.10") && strstr(out, "€") && strchr(out, '-'));
    CHECK_EQ_INT(notify_format_money("1e3", "EUR", "en-GB", out, sizeof out), -1);
    CHECK_EQ_INT(notify_format_money("12", "eur", "en-GB", out, sizeof out), -1);
    /* the variables: dates, instants and money anywhere, "_local" beside them */
    json_t *v = json_pack("{s:s, s:s, s:{s:{s:s, s:s}}, s:s}", "arrive_on", "2030-03-04",
                          "expires_at", "2026-03-29T01:30:00Z", "charge", "total", "amount",
                          "1234.5", "currency", "EUR", "name", "2030-03-04 is not a date here");
    REQUIRE(notify_format_vars(v, "de-DE", "Europe/Berlin", NULL) == 0);
    CHECK_STR(sget(v, "arrive_on_local"), "4. März 2030");
    CHECK_STR(sget(v, "expires_at_local"), "29. März 2026 um 03:30");
    const char *money = sget(json_object_get(v, "charge"), "total_local");
    CHECK(money && strncmp(money, "1.234,50", 8) == 0);
    CHECK(json_object_get(v, "name_local") == NULL);
    json_decref(v);

    /* the pipeline: a de-DE member's reminder carries the German dates; an en-GB member's the
     * British ones (the DST day as arrival) */
    char user[40], member[40], email[128], user2[40], member2[40], email2[128];
    REQUIRE(member_with_language(g_club_a, "de-DE", user, member, email) == 0);
    REQUIRE(member_with_language(g_club_a, "en-GB", user2, member2, email2) == 0);
    REQUIRE(visit_event_on(g_club_a, "visit.confirmed", member, "2030-03-31", "2030-04-02") == 0);
    REQUIRE(visit_event_on(g_club_a, "visit.confirmed", member2, "2030-03-31", "2030-04-02") == 0);
    char got[200];
    owner_text("SELECT vars->>'arrive_on_local' || ' / ' || (vars->>'depart_on_local') FROM "
               "notification.messages WHERE recipient = $1 AND template = 'visit_reminder'",
               1, (const char *[]){email}, got, sizeof got);
    CHECK_STR(got, "31. März 2030 / 2. April 2030");
    owner_text("SELECT vars->>'arrive_on_local' FROM notification.messages WHERE recipient = $1 "
               "AND template = 'visit_reminder'",
               1, (const char *[]){email2}, got, sizeof got);
    CHECK_STR(got, "31 March 2030");
    /* preview in de-DE renders the reminder's dates in German; an override may use them */
    svc_caller_t a = club_admin(g_club_a);
    json_t *o = NULL;
    REQUIRE(call(&notification_module, &a, "preview_template", &o, "{s:s, s:s}", "key",
                 "visit_reminder", "locale", "de-DE") == 200);
    CHECK(sget(o, "text") && strstr(sget(o, "text"), "4. März 2030"));
    json_decref(o);
    REQUIRE(call(&notification_module, &a, "put_template_override", NULL, "{s:s, s:s, s:s, s:s}",
                 "key", "visit_reminder", "locale", "de-DE", "subject",
                 "Morgen: {{host_club.name}}", "body", "Ankunft am {{arrive_on_local}}.") == 200);
    REQUIRE(call(&notification_module, &a, "delete_template_override", NULL, "{s:s, s:s}", "key",
                 "visit_reminder", "locale", "de-DE") == 200);
}

/* ---- sealed webhook secrets ---------------------------------------------------------------------
 */

/* The sealed columns of webhook id: enc and nonce as hex into the buffers. */
static void sealed_of(const char *id, char enc[200], char nonce[100]) {
    owner_text("SELECT encode(secret_enc, 'hex') FROM notification.webhooks WHERE id = $1::uuid", 1,
               (const char *[]){id}, enc, 200);
    owner_text("SELECT encode(secret_nonce, 'hex') FROM notification.webhooks WHERE id = $1::uuid",
               1, (const char *[]){id}, nonce, 100);
}

/* Webhook secrets are stored only sealed under RECIPROCAL_WEBHOOK_KEK (bound to their endpoint);
 * rows in clear from before are sealed at start; without the KEK creation is 503; no secret
 * reaches the log (debug level captured). */
static void test_webhook_sealed_secrets(void) {
    char logpath[600];
    snprintf(logpath, sizeof logpath, "%s.log", g_mail.maildir);
    FILE *logf = fopen(logpath, "w+");
    REQUIRE(logf);
    log_init(LOG_DEBUG, 0, "test_notification_rest");
    log_set_stream(logf);
    svc_caller_t a = club_admin(g_club_a);
    json_t *o = NULL;
    REQUIRE(call(&notification_module, &a, "create_webhook", &o, "{s:s, s:[s]}", "url",
                 "http://127.0.0.1:9/sealed", "event_types", "*") == 201);
    char id[40], secret[128], enc[200], nonce[100], opened[WEBHOOK_SECRET_MAX];
    snprintf(id, sizeof id, "%s", sget(o, "id"));
    snprintf(secret, sizeof secret, "%s", sget(o, "secret"));
    json_decref(o);
    /* nothing in clear: no column holds it */
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.webhooks w WHERE id = $1::uuid AND "
                             "(secret IS NOT NULL OR previous_secret IS NOT NULL OR "
                             "position($2 IN row_to_json(w)::text) > 0 OR position(substr($2, 7) "
                             "IN row_to_json(w)::text) > 0)",
                             2, (const char *[]){id, secret}),
                 0);
    sealed_of(id, enc, nonce);
    CHECK_EQ_INT((long long)strlen(enc), 96);
    CHECK_EQ_INT((long long)strlen(nonce), 48);
    const notification_settings_t *ns = notification_settings(&g_env);
    REQUIRE(ns->webhook_kek.set);
    CHECK_EQ_INT(webhook_unseal(enc, nonce, ns->webhook_kek.key, id, opened), 0);
    CHECK_STR(opened, secret);
    /* bound to the endpoint and the key */
    CHECK_EQ_INT(webhook_unseal(enc, nonce, ns->webhook_kek.key,
                                "00000000-0000-4000-8000-000000000000", opened),
                 -1);
    unsigned char other[32];
    memset(other, 7, sizeof other);
    CHECK_EQ_INT(webhook_unseal(enc, nonce, other, id, opened), -1);
    /* rotation: the new secret sealed, the previous one moved sealed */
    REQUIRE(call(&notification_module, &a, "rotate_webhook_secret", &o, "{s:s}", "id", id) == 200);
    char rotated[128], penc[200];
    snprintf(rotated, sizeof rotated, "%s", sget(o, "secret"));
    json_decref(o);
    owner_text("SELECT encode(previous_enc, 'hex') FROM notification.webhooks WHERE id = $1::uuid",
               1, (const char *[]){id}, penc, sizeof penc);
    CHECK_STR(penc, enc);
    sealed_of(id, enc, nonce);
    CHECK_EQ_INT(webhook_unseal(enc, nonce, ns->webhook_kek.key, id, opened), 0);
    CHECK_STR(opened, rotated);
    /* an idempotent create replays the secret it opens */
    char key[48];
    snprintf(key, sizeof key, "sealed-%d", ++g_seq);
    json_t *o2 = NULL;
    REQUIRE(call(&notification_module, &a, "create_webhook", &o, "{s:s, s:[s], s:s}", "url",
                 "http://127.0.0.1:9/sealed2", "event_types", "*", "idempotency_key", key) == 201);
    REQUIRE(call(&notification_module, &a, "create_webhook", &o2, "{s:s, s:[s], s:s}", "url",
                 "http://127.0.0.1:9/sealed2", "event_types", "*", "idempotency_key", key) == 201);
    CHECK(sget(o, "secret") && sget(o2, "secret") &&
          !strcmp(sget(o, "secret"), sget(o2, "secret")));
    json_decref(o);
    json_decref(o2);
    /* a row stored in clear before migration 0009 (and its previous secret) is sealed at start */
    char legacy[WEBHOOK_SECRET_MAX], legacy_prev[WEBHOOK_SECRET_MAX], lid[40];
    webhook_new_secret(legacy);
    webhook_new_secret(legacy_prev);
    owner_text("INSERT INTO notification.webhooks (club_id, url, event_types, secret, "
               "previous_secret, previous_expires_at) VALUES ($1::uuid, 'http://127.0.0.1:9/old', "
               "'{*}', $2, $3, now() + interval '1 hour') RETURNING id::text",
               3, (const char *[]){g_club_a, legacy, legacy_prev}, lid, sizeof lid);
    REQUIRE(lid[0]);
    err_t e = {0};
    CHECK(notify_webhooks_seal_legacy(&g_env, &e) >= 1);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.webhooks WHERE secret IS NOT NULL "
                             "OR previous_secret IS NOT NULL",
                             0, NULL),
                 0);
    sealed_of(lid, enc, nonce);
    CHECK_EQ_INT(webhook_unseal(enc, nonce, ns->webhook_kek.key, lid, opened), 0);
    CHECK_STR(opened, legacy);
    char pn[100];
    owner_text("SELECT encode(previous_enc, 'hex') FROM notification.webhooks WHERE id = $1::uuid",
               1, (const char *[]){lid}, penc, sizeof penc);
    owner_text("SELECT encode(previous_nonce, 'hex') FROM notification.webhooks WHERE id = "
               "$1::uuid",
               1, (const char *[]){lid}, pn, sizeof pn);
    CHECK_EQ_INT(webhook_unseal(penc, pn, ns->webhook_kek.key, lid, opened), 0);
    CHECK_STR(opened, legacy_prev);
    CHECK_EQ_INT(notify_webhooks_seal_legacy(&g_env, &e), 0);
    /* the database refuses a row with a secret in both forms or in none */
    CHECK(owner_exec("UPDATE notification.webhooks SET secret = 'whsec_x' WHERE id = $1::uuid", 1,
                     (const char *[]){lid}) != 0);
    /* without the KEK: 503, nothing stored */
    notification_settings_t *ws = svc_settings_edit(&g_set, &notification_module);
    cfg_key_t saved = ws->webhook_kek;
    ws->webhook_kek.set = 0;
    CHECK_EQ_INT(call(&notification_module, &a, "create_webhook", &o, "{s:s, s:[s]}", "url",
                      "http://127.0.0.1:9/nokek", "event_types", "*"),
                 503);
    CHECK_STR(sget(json_object_get(o, "error"), "code"), "webhook_secrets_unconfigured");
    json_decref(o);
    CHECK_EQ_INT(call(&notification_module, &a, "rotate_webhook_secret", NULL, "{s:s}", "id", id),
                 503);
    ws->webhook_kek = saved;
    sodium_memzero(&saved, sizeof saved);
    /* the log (debug level) holds none of the secrets */
    log_set_stream(stderr);
    log_init(LOG_ERROR, 0, "test_notification_rest");
    fflush(logf);
    fseek(logf, 0, SEEK_END);
    long size = ftell(logf);
    fseek(logf, 0, SEEK_SET);
    char *text = calloc(1, (size_t)size + 1);
    REQUIRE(text);
    if (size > 0 && fread(text, 1, (size_t)size, logf) != (size_t)size) text[0] = '\0';
    fclose(logf);
    const char *secrets[] = {secret, rotated, legacy, legacy_prev};
    for (size_t i = 0; i < 4; i++)
        CHECK(strstr(text, secrets[i] + 6) == NULL);
    CHECK(strstr(text, "whsec_") == NULL);
    free(text);
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int create_club(const char *name, const char *tz, char id[40]) {
    char slug[64];
    snprintf(slug, sizeof slug, "notifyrest-%d-%d", (int)getpid(), ++g_seq);
    json_t *o = NULL;
    int st = call(&member_module, &g_na, "create_club", &o, "{s:s, s:s, s:s, s:{s:s}}", "name",
                  name, "slug", slug, "timezone", tz, "address", "country", "GB");
    if (st == 201) snprintf(id, 40, "%s", sget(o, "id"));
    if (st != 201) printf("#   create_club: %d\n", st);
    json_decref(o);
    return st == 201 ? 0 : -1;
}

static void test_setup(void) {
    err_t e = {0};
    const char *url = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    const char *owner = TEST_ENV("RECIPROCAL_TEST_OWNER_URL");
    const char *tmp = TEST_ENV("RECIPROCAL_TEST_TMP");
    const char *nats = TEST_ENV("RECIPROCAL_TEST_NATS_URL");
    REQUIRE(url && owner && tmp && nats);
    REQUIRE(sink_mail_start(&g_mail, "notifyrest", NULL, NULL) == 0);
    REQUIRE(cfg_load(&g_cfg, NULL, &e) == 0);
    REQUIRE(svc_settings_load(&g_set, NULL, &e) == 0);
    notification_settings_t *ns = svc_settings_edit(&g_set, &notification_module);
    snprintf(ns->smtp_url, sizeof ns->smtp_url, "%s", g_mail.url);
    ns->retry_base_s = 1;
    ns->max_tries = 3;
    snprintf(ns->webhook_allow_hosts, sizeof ns->webhook_allow_hosts, "127.0.0.1");
    g_db = db_pool_open(url, 4, &e);
    g_owner = db_pool_open(owner, 1, &e);
    REQUIRE(g_db && g_owner);
    g_bus = bus_connect(nats, "test_notification_rest", &e);
    REQUIRE(g_bus && outbox_ensure_stream(g_bus, 720LL * 3600, &e) == 0);
    g_env = (svc_env_t){.cfg = &g_cfg, .db = g_db, .bus = g_bus, .settings = &g_set};
    char email[128], id[40];
    unique_email("netadmin", email);
    REQUIRE(auth_create_network_admin(g_db, email, PW, id, &e) == 0);
    snprintf(g_na.user_id, sizeof g_na.user_id, "%s", id);
    g_na.network_admin = 1;
    snprintf(g_na.perms, sizeof g_na.perms, "*");
    snprintf(g_na.ip, sizeof g_na.ip, "10.8.0.2");
    REQUIRE(create_club("Rest Club A", "Europe/London", g_club_a) == 0);
    REQUIRE(create_club("Rest Club B", "Europe/Berlin", g_club_b) == 0);
}

int main(void) {
    log_init(LOG_ERROR, 0, "test_notification_rest");
    RUN(test_setup);
    if (g_db && g_bus && g_club_b[0]) {
        RUN(test_idempotency_keys);
        RUN(test_club_defaults);
        RUN(test_hourly_digest);
        RUN(test_template_overrides);
        RUN(test_icu_formatting);
        RUN(test_webhook_sealed_secrets);
    }
    sink_mail_stop(&g_mail);
    db_pool_close(g_db);
    db_pool_close(g_owner);
    bus_close(g_bus);
    bus_shutdown_library();
    TEST_DONE();
}
