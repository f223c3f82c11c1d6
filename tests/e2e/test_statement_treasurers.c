/* test_statement_treasurers (issue 13): settlement statement mails reach the treasurers of the
 * club that must act, split: `reciprocal serve --services notification` (its own NATS user, so a
 * call it is not permitted shows as "Not Permitted" and fails) beside `--services
 * gateway,auth,member,reciprocal`, with a real SMTP server (aiosmtpd). The role club_treasurer is
 * granted and revoked over REST and GraphQL (grantRole / revokeRole) by the club's administrator;
 * statement events go to JetStream on the subject the reciprocal relay uses. Checked at the SMTP
 * server: two treasurers of the home club get one statement.issued mail each, each in their
 * language (preferences' locale), and its contact address none; a replayed event sends nothing
 * again; the host club without a treasurer gets the disputed mail at its contact address; a
 * treasurer of a third club gets nothing; a revoked treasurer stops receiving; one who opted out of
 * the category gets nothing more while the club still has a treasurer (no fallback).
 * auth.role_holders over NATS: a service caller gets the holders, a person (any permission, even
 * "*") 403, another club's scope 403. What the role may do over REST: statements yes, members and
 * role grants no. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/db.h"
#include "core/service.h"
#include "core/uuid.h"
#include "support/e2e.h"
#include "support/sink.h"
#include "test.h"

static e2e_proc_t g_gw, g_notify;
static sink_mail_t g_mail;
static bus_t *g_bus;
static cfg_t g_cfg;
static char g_home[64], g_host[64], g_third[64];
static char g_slug_home[64];
static char g_home_contact[128], g_host_contact[128], g_third_contact[128];
static char g_t1[128], g_t2[128], g_t3[128]; /* treasurers' addresses */
static char g_t1_id[64], g_t2_id[64], g_home_admin[4096], g_t1_tok[4096];
static const char *g_pw = "treasurer passphrase 42 ledger";
static int g_seq;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct want {
    const char *to, *sid, *text;
    int n;
} want_t;

static int on_mail(const char *text, void *ud) {
    want_t *w = ud;
    char to[300], plain[8192];
    snprintf(to, sizeof to, "To: %s", w->to);
    if (!strstr(text, to)) return 0;
    sink_mail_plain_part(text, plain, sizeof plain);
    if ((!w->sid || strstr(plain, w->sid)) && (!w->text || strstr(plain, w->text))) w->n++;
    return 0;
}

/* Mails to addr whose text part names statement sid (NULL = any) and holds text (NULL = any). */
static int mails_with(const char *addr, const char *sid, const char *text) {
    want_t w = {addr, sid, text, 0};
    sink_mail_each(&g_mail, 0, on_mail, &w);
    return w.n;
}

static int mails(const char *addr, const char *sid) {
    return mails_with(addr, sid, NULL);
}

/* Waits until addr has want mails about sid (up to 30 s); the count. */
static int wait_mails(const char *addr, const char *sid, int want) {
    int n = 0;
    for (int i = 0; i < 300 && (n = mails(addr, sid)) < want; i++)
        sleep_ms(100);
    return n;
}

static long api(const char *as, const char *method, const char *path, const char *body,
                json_t **out) {
    return e2e_call(&g_gw, as, method, path, body, out);
}

/* grantRole / revokeRole over GraphQL as as: the payload's assignment.changed (1/0), -1 on a
 * field error or userErrors. */
static int gql_role(const char *as, const char *field, const char *user, const char *role) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"query\":\"mutation { %s(input: {userId: \\\"%s\\\", role: \\\"%s\\\"}) { "
             "assignment { userId roles changed } userErrors { field code } } }\"}",
             field, user, role);
    json_t *v = NULL;
    if (api(as, "POST", "/graphql", body, &v) != 200) return -1;
    json_t *p = json_object_get(json_object_get(v, "data"), field);
    json_t *a = json_object_get(p, "assignment");
    int rc = json_is_object(a) && json_array_size(json_object_get(p, "userErrors")) == 0
                 ? json_is_true(json_object_get(a, "changed"))
                 : -1;
    if (rc < 0) {
        char *d = json_dumps(v, JSON_COMPACT);
        printf("#   %s: %s\n", field, d ? d : "");
        free(d);
    }
    json_decref(v);
    return rc;
}

/* Publishes statement event `type` (event id eid, JetStream message id msg) for home/host, as
 * the reciprocal relay does. 0 or -1. */
static int publish(const char *type, const char *eid, const char *msg, const char *sid,
                   const char *home, const char *host) {
    char subject[96];
    snprintf(subject, sizeof subject, "events.%s", type);
    json_t *env =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s, s:s}, s:{}}", "id", eid, "type",
                  type, "source", "reciprocal", "tenant_id", host, "timestamp",
                  "2030-01-01T00:00:00Z", "version", 1, "data", "statement_id", sid, "home_club_id",
                  home, "host_club_id", host, "status", "issued", "metadata");
    char *payload = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    err_t e = {0};
    int dup = 0;
    int rc = payload ? bus_js_publish(g_bus, subject, msg, payload, strlen(payload), &dup, &e) : -1;
    if (rc != 0) printf("#   publish %s: %s\n", type, e.message);
    free(payload);
    return rc;
}

/* A new statement id (the mails carry it) and a statement event about it; eid gets the event
 * id. */
static int statement_event(const char *type, const char *home, const char *host, char sid[40],
                           char eid[37]) {
    if (!sid[0])
        snprintf(sid, 40, "5a7e7ea5-0000-4000-8000-%06d%06d", (int)getpid() % 1000000, ++g_seq);
    uuid_v4(eid);
    return publish(type, eid, eid, sid, home, host);
}

/* The notification service's inbox holds event eid (it was applied), waiting up to 30 s; as the
 * application role (the inbox's policy admits it only). */
static int applied(const char *eid) {
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_DATABASE_URL"), 1, &e);
    if (!db) return 0;
    db_scope_t s = {.network_admin = 1, .relay = 1};
    int found = 0;
    for (int i = 0; i < 300 && !found; i++) {
        PGresult *r = db_read(db, &s, "SELECT 1 FROM notification.inbox WHERE event_id = $1::uuid",
                              1, (const char *[]){eid}, &e);
        found = r && PQntuples(r) > 0;
        PQclear(r);
        if (!found) sleep_ms(100);
    }
    db_pool_close(db);
    return found;
}

/* auth.role_holders over NATS as caller c (club, perms, user): status; *out the answer. */
static int role_holders(const char *club, const char *perms, const char *user, const char *for_club,
                        json_t **out) {
    svc_env_t env = {.cfg = &g_cfg, .bus = g_bus};
    svc_caller_t c = {0};
    snprintf(c.club_id, sizeof c.club_id, "%s", club);
    snprintf(c.perms, sizeof c.perms, "%s", perms);
    snprintf(c.user_id, sizeof c.user_id, "%s", user ? user : "");
    const svc_module_t *m = svc_find_module("auth");
    const svc_op_t *op = m ? svc_find_op(m, "role_holders") : NULL;
    if (!op) return -1;
    json_t *in = json_pack("{s:s, s:s}", "club_id", for_club, "role", "club_treasurer");
    int status = 0;
    err_t e = {0};
    *out = NULL;
    int rc = svc_call_remote(&env, m, op, &c, in, &status, out, &e);
    json_decref(in);
    return rc == 0 ? status : e.status;
}

static int club(const char *name, const char *contact, char *id, char *slug_out) {
    char slug[64], extra[400];
    snprintf(slug, sizeof slug, "treas-%s-%d", name, (int)getpid());
    snprintf(extra, sizeof extra, "%s,\"contact_email\":\"%s\"", E2E_CLUB_UTC, contact);
    if (slug_out) snprintf(slug_out, 64, "%s", slug);
    return e2e_club(&g_gw, name, slug, extra, id);
}

static void test_setup(void) {
    REQUIRE(sink_mail_start(&g_mail, "treasurers", NULL, NULL) == 0);
    const char *env[] = {g_mail.env, "RECIPROCAL_NOTIFY_POLL_MS=100",
                         "RECIPROCAL_LOI_KEK=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", NULL};
    REQUIRE(e2e_start_split(&g_notify, &g_gw, "gateway,auth,member,reciprocal", env) == 0);
    err_t e = {0};
    REQUIRE(cfg_load(&g_cfg, NULL, &e) == 0); /* RECIPROCAL_BUS_KEY from tests/run.sh */
    g_bus = bus_connect(getenv("RECIPROCAL_TEST_NATS_URL"), "test_statement_treasurers", &e);
    REQUIRE(g_bus);
    int pid = (int)getpid();
    snprintf(g_home_contact, sizeof g_home_contact, "home-contact-%d@treas.example", pid);
    snprintf(g_host_contact, sizeof g_host_contact, "host-contact-%d@treas.example", pid);
    snprintf(g_third_contact, sizeof g_third_contact, "third-contact-%d@treas.example", pid);
    snprintf(g_t1, sizeof g_t1, "t1-%d@treas.example", pid);
    snprintf(g_t2, sizeof g_t2, "t2-%d@treas.example", pid);
    snprintf(g_t3, sizeof g_t3, "t3-%d@treas.example", pid);
    char slug_third[64], admin[128];
    REQUIRE(club("home", g_home_contact, g_home, g_slug_home) == 0);
    REQUIRE(club("host", g_host_contact, g_host, NULL) == 0);
    REQUIRE(club("third", g_third_contact, g_third, slug_third) == 0);
    snprintf(admin, sizeof admin, "admin-%d@treas.example", pid);
    REQUIRE(e2e_account(&g_gw, g_home, g_slug_home, admin, "club_admin", g_pw, NULL,
                        g_home_admin) == 0);
    /* t1 a member who also becomes treasurer; t2 and t3 (third club) start as staff */
    REQUIRE(e2e_account(&g_gw, g_home, g_slug_home, g_t1, "member", g_pw, g_t1_id, NULL) == 0);
    REQUIRE(e2e_account(&g_gw, g_home, g_slug_home, g_t2, "club_staff", g_pw, g_t2_id, NULL) == 0);
    REQUIRE(e2e_account(&g_gw, g_third, slug_third, g_t3, "club_treasurer", g_pw, NULL, NULL) == 0);
}

/* The home club's administrator grants club_treasurer beside the roles already held (REST);
 * the role may read statements but not members, and may not grant roles. */
static void test_grant_over_rest(void) {
    char path[256], body[512];
    json_t *v = NULL;
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/roles", g_t1_id);
    CHECK_EQ_INT(api(g_home_admin, "POST", path, "{\"role\":\"club_treasurer\"}", &v), 200);
    CHECK_EQ_INT((int)json_array_size(json_object_get(v, "roles")), 2); /* beside member */
    json_decref(v);
    /* t2 over GraphQL (beside club_staff); again: unchanged */
    CHECK_EQ_INT(gql_role(g_home_admin, "grantRole", g_t2_id, "club_treasurer"), 1);
    CHECK_EQ_INT(gql_role(g_home_admin, "grantRole", g_t2_id, "club_treasurer"), 0);
    snprintf(body, sizeof body, "{\"club\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}",
             g_slug_home, g_t1, g_pw);
    REQUIRE(api("", "POST", "/api/v1/auth/login", body, &v) == 200);
    const char *t = e2e_str(v, "access_token");
    snprintf(g_t1_tok, sizeof g_t1_tok, "%s", t ? t : "");
    json_decref(v);
    CHECK_EQ_INT(api(g_t1_tok, "GET", "/api/v1/statements", NULL, NULL), 200);
    CHECK_EQ_INT(api(g_t1_tok, "GET", "/api/v1/charges", NULL, NULL), 200);
    CHECK_EQ_INT(api(g_t1_tok, "GET", "/api/v1/members", NULL, NULL), 403);
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/roles", g_t2_id);
    CHECK_EQ_INT(api(g_t1_tok, "POST", path, "{\"role\":\"club_admin\"}", NULL), 403);
    CHECK_EQ_INT(api(g_t1_tok, "POST", "/api/v1/agreements", "{}", NULL), 403);
    /* t1 reads mail in French (preferences, migration 0018) */
    CHECK_EQ_INT(
        api(g_t1_tok, "PUT", "/api/v1/notifications/preferences", "{\"locale\":\"french\"}", NULL),
        422);
    CHECK_EQ_INT(
        api(g_t1_tok, "PUT", "/api/v1/notifications/preferences", "{\"locale\":\"fr\"}", &v), 200);
    CHECK(v && e2e_str(v, "locale") && strcmp(e2e_str(v, "locale"), "fr") == 0);
    json_decref(v);
}

/* Two treasurers: one mail each, none to the contact address, none to another club's
 * treasurer; a replayed event (another JetStream message, the same event) sends nothing. */
static void test_two_treasurers(void) {
    char sid[40] = "", eid[37], msg[64];
    REQUIRE(statement_event("statement.issued", g_home, g_host, sid, eid) == 0);
    CHECK_EQ_INT(wait_mails(g_t1, sid, 1), 1);
    CHECK_EQ_INT(wait_mails(g_t2, sid, 1), 1);
    /* each in their language: t1 French, t2 the default */
    CHECK_EQ_INT(mails_with(g_t1, sid, "Vérifiez-le"), 1);
    CHECK_EQ_INT(mails_with(g_t2, sid, "Review it and accept or dispute it"), 1);
    snprintf(msg, sizeof msg, "%s-replay", eid);
    REQUIRE(publish("statement.issued", eid, msg, sid, g_home, g_host) == 0);
    /* a later event proves the replay was consumed before it */
    char sid2[40] = "", eid2[37];
    REQUIRE(statement_event("statement.disputed", g_home, g_host, sid2, eid2) == 0);
    CHECK_EQ_INT(wait_mails(g_host_contact, sid2, 1), 1); /* the host has no treasurer */
    sleep_ms(1000);
    CHECK_EQ_INT(mails(g_t1, sid), 1);
    CHECK_EQ_INT(mails(g_t2, sid), 1);
    CHECK_EQ_INT(mails(g_home_contact, NULL), 0);
    CHECK_EQ_INT(mails(g_t3, NULL), 0);
    CHECK_EQ_INT(mails(g_third_contact, NULL), 0);
    CHECK_EQ_INT(mails(g_t1, sid2) + mails(g_t2, sid2), 0);
}

/* The third club's treasurer gets the third club's mail, and only that. */
static void test_tenant_isolation(void) {
    char sid[40] = "", eid[37];
    REQUIRE(statement_event("statement.paid", g_third, g_host, sid, eid) == 0);
    CHECK_EQ_INT(wait_mails(g_t3, sid, 1), 1);
    sleep_ms(500);
    CHECK_EQ_INT(mails(g_t1, sid) + mails(g_t2, sid) + mails(g_third_contact, sid), 0);
    CHECK_EQ_INT(mails(g_t3, NULL), 1);
}

/* Revoked: t2 gets nothing more, t1 still does; t1 opted out of the category: nothing, and no
 * fallback to the contact address while the club has a treasurer; no treasurer left: the contact
 * address again. */
static void test_revoke_and_preferences(void) {
    char path[256], sid[40] = "", eid[37];
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/roles/club_treasurer", g_t2_id);
    CHECK_EQ_INT(api(g_home_admin, "DELETE", path, NULL, NULL), 200);
    REQUIRE(statement_event("statement.issued", g_home, g_host, sid, eid) == 0);
    CHECK_EQ_INT(wait_mails(g_t1, sid, 1), 1);
    sleep_ms(500);
    CHECK_EQ_INT(mails(g_t2, sid), 0);

    CHECK_EQ_INT(api(g_t1_tok, "PUT", "/api/v1/notifications/preferences",
                     "{\"categories\":[{\"category\":\"agreements\",\"email\":false}]}", NULL),
                 200);
    char sid2[40] = "", eid2[37];
    REQUIRE(statement_event("statement.paid", g_home, g_host, sid2, eid2) == 0);
    CHECK(applied(eid2));
    sleep_ms(1000);
    CHECK_EQ_INT(mails(g_t1, sid2) + mails(g_t2, sid2) + mails(g_home_contact, sid2), 0);

    CHECK_EQ_INT(gql_role(g_t1_tok, "revokeRole", g_t1_id, "club_treasurer"), -1); /* 403 */
    CHECK_EQ_INT(gql_role(g_home_admin, "revokeRole", g_t1_id, "club_treasurer"), 1);
    char sid3[40] = "", eid3[37];
    REQUIRE(statement_event("statement.issued", g_home, g_host, sid3, eid3) == 0);
    CHECK_EQ_INT(wait_mails(g_home_contact, sid3, 1), 1);
    CHECK_EQ_INT(mails(g_t1, sid3) + mails(g_t2, sid3), 0);
}

/* The service-audience operation over NATS: a service caller of the club gets the holders (t3
 * of the third club); a person is refused whatever the token says; another club's scope too. */
static void test_role_holders_operation(void) {
    json_t *v = NULL;
    CHECK_EQ_INT(role_holders(g_third, "auth:directory", NULL, g_third, &v), 200);
    json_t *users = json_object_get(v, "users");
    CHECK_EQ_INT((int)json_array_size(users), 1);
    const char *got = e2e_str(json_array_get(users, 0), "email");
    CHECK(got && strcmp(got, g_t3) == 0);
    CHECK(json_is_false(json_object_get(v, "truncated")));
    json_decref(v);
    /* revoked in the previous test: the home club has none left */
    CHECK_EQ_INT(role_holders(g_home, "auth:directory", NULL, g_home, &v), 200);
    CHECK_EQ_INT((int)json_array_size(json_object_get(v, "users")), 0);
    json_decref(v);
    const char *human[] = {"auth:self auth:admin auth:invite club:read club:write member:read",
                           "auth:self club:read settlement:read settlement:write", "auth:directory",
                           "*"};
    for (size_t i = 0; i < sizeof human / sizeof human[0]; i++) {
        CHECK_EQ_INT(role_holders(g_third, human[i], g_t1_id, g_third, &v), 403);
        json_decref(v);
    }
    CHECK_EQ_INT(role_holders(g_home, "auth:directory", NULL, g_third, &v), 403);
    json_decref(v);
}

static void test_stop(void) {
    bus_close(g_bus);
    CHECK_EQ_INT(e2e_stop(&g_gw), 0);
    CHECK_EQ_INT(e2e_stop(&g_notify), 0);
    sink_mail_stop(&g_mail);
}

int main(void) {
    RUN(test_setup);
    RUN(test_grant_over_rest);
    RUN(test_two_treasurers);
    RUN(test_tenant_isolation);
    RUN(test_revoke_and_preferences);
    RUN(test_role_holders_operation);
    RUN(test_stop);
    bus_shutdown_library();
    TEST_DONE();
}
