/* test_auth_service: the auth service at the operation level (svc_dispatch, no HTTP) against the
 * harness's PostgreSQL on the app role (RLS applies). One-time tokens are read from the auth
 * outbox (the notification service's input). Covers: invitation -> registration (single use,
 * expiry), login, refresh rotation and reuse detection, session idle timeout and absolute
 * lifetime (a configuration with tiny limits), the sessions list marking the current session,
 * DELETE of an own session, logout without a refresh token, admin revoke-all, TOTP MFA as a
 * second step, password reset (single use, expiry, sessions revoked), the legacy bcrypt hash
 * re-hashed to argon2id at login, role grant/removal (who may grant what, events), disable /
 * enable (no sign-in, no refresh, sessions revoked, event), the audit log (club-scoped,
 * paginated) and tenant isolation: club A's admin cannot read or touch club B's users even with
 * a guessed id. test_signing_algorithms (issue 16): RECIPROCAL_JWT_ALG switches the signing key
 * (login and refresh tokens carry the configured alg and verify against the published JWKS),
 * a switch keeps the other algorithms' keys published, rotation retires every active key.
 * test_refresh_token_forgery / test_refresh_legacy_token (auth 0007): refresh tokens are MAC'd
 * (club, session, generation), a forged one ends nothing, a pre-0007 token rotates once. */
#include <crypt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/db.h"
#include "core/json.h"
#include "core/service.h"
#include "services/auth/auth.h"
#include "services/auth/auth_accounts.h"
#include "services/auth/auth_keys.h"
#include "services/auth/auth_util.h"
#include "lib/credentials/jwt.h"
#include "lib/credentials/totp.h"
#include "services/member/member.h"
#include "test.h"

static db_pool_t *g_db, *g_owner;
static cfg_t g_cfg;
static svc_env_t g_env;
static svc_settings_t g_set;
static const char *PW = "correct horse battery staple 42";
static const char *PW2 = "a different long passphrase 77";
static char g_club_a[40], g_club_b[40], g_slug_a[64], g_slug_b[64];
static svc_caller_t g_na, g_admin_a, g_admin_b; /* from real access tokens */
static char g_admin_a_email[128], g_admin_b_email[128];
static int g_seq;

/* ---------------------------------------------------------------- helpers */

static svc_caller_t anon(void) {
    svc_caller_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.request_id, sizeof c.request_id, "svc-test-%d", (int)getpid());
    snprintf(c.ip, sizeof c.ip, "10.9.%d.%d", (int)(getpid() % 250), ++g_seq % 250);
    snprintf(c.user_agent, sizeof c.user_agent, "test_auth_service");
    return c;
}

/* Dispatches op of module m in env with input built by json_pack(fmt, ...). Returns the status;
 * *out (may be NULL) gets the output or {"error":{code, field, message}}. */
static int vcall(const svc_env_t *env, const svc_module_t *m, const svc_caller_t *c, const char *op,
                 json_t **out, const char *fmt, va_list ap) {
    const svc_op_t *o = svc_find_op(m, op);
    if (!o) {
        printf("#   no operation %s\n", op);
        return -1;
    }
    json_error_t je;
    json_t *in = fmt ? json_vpack_ex(&je, 0, fmt, ap) : json_object();
    if (!in) {
        printf("#   bad input for %s: %s\n", op, je.text);
        return -1;
    }
    err_t e = {0};
    int status = 0;
    json_t *output = NULL;
    svc_dispatch(env, m, o, c, in, &status, &output, &e);
    json_decref(in);
    if (!output && status >= 300)
        output = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", e.code, "field", e.field,
                           "message", e.message);
    if (out)
        *out = output;
    else
        json_decref(output);
    return status;
}

static int call_env(const svc_env_t *env, const svc_caller_t *c, const char *op, json_t **out,
                    const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int st = vcall(env, &auth_module, c, op, out, fmt, ap);
    va_end(ap);
    return st;
}

static int call(const svc_caller_t *c, const char *op, json_t **out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int st = vcall(&g_env, &auth_module, c, op, out, fmt, ap);
    va_end(ap);
    return st;
}

static const char *sget(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}
static const char *ecode(json_t *j) {
    return sget(json_object_get(j, "error"), "code");
}

/* The caller the gateway would build from an access token (claims decoded, not verified: the
 * gateway's verification is tested end to end in tests/e2e/test_auth_api.c). */
static int caller_from_token(const char *access, svc_caller_t *c) {
    *c = anon();
    const char *p1 = access ? strchr(access, '.') : NULL;
    const char *p2 = p1 ? strchr(p1 + 1, '.') : NULL;
    if (!p2) return -1;
    char part[4096];
    snprintf(part, sizeof part, "%.*s", (int)(p2 - p1 - 1), p1 + 1);
    size_t n = 0;
    unsigned char *raw = jsonx_b64url_decode(part, &n);
    json_t *cl = raw ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
    free(raw);
    if (!cl) return -1;
    snprintf(c->user_id, sizeof c->user_id, "%s", sget(cl, "sub"));
    const char *club = sget(cl, "club_id");
    snprintf(c->club_id, sizeof c->club_id, "%s", club ? club : "");
    snprintf(c->perms, sizeof c->perms, "%s", sget(cl, "perms"));
    snprintf(c->session_id, sizeof c->session_id, "%s", sget(cl, "sid"));
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(cl, "roles"), i, r) {
        if (strcmp(json_string_value(r), "network_admin") == 0) c->network_admin = 1;
    }
    json_decref(cl);
    return 0;
}

/* Logs in (slug NULL = network login); 200 fills *c (may be NULL) and refresh (may be NULL). */
static int login(const char *slug, const char *email, const char *pw, svc_caller_t *c,
                 char refresh[128]) {
    svc_caller_t a = anon();
    json_t *o = NULL;
    int st = slug ? call(&a, "login", &o, "{s:s, s:s, s:s}", "club", slug, "email", email,
                         "password", pw)
                  : call(&a, "login", &o, "{s:s, s:s}", "email", email, "password", pw);
    if (st == 200 && sget(o, "access_token")) {
        if (c && caller_from_token(sget(o, "access_token"), c) != 0) st = -2;
        if (refresh) snprintf(refresh, 128, "%s", sget(o, "refresh_token"));
    }
    json_decref(o);
    return st;
}

static int refresh(const char *tok, char fresh[128], json_t **out) {
    svc_caller_t a = anon();
    json_t *o = NULL;
    int st = call(&a, "refresh", &o, "{s:s}", "refresh_token", tok);
    if (st == 200 && fresh) snprintf(fresh, 128, "%s", sget(o, "refresh_token"));
    if (out)
        *out = o;
    else
        json_decref(o);
    return st;
}

/* A transaction as the database owner in the network scope, as the outbox relay (only the
 * relay reads the outbox), for reading events and writing a legacy hash: FORCE RLS applies to
 * the owner too. */
static db_tx_t *owner_tx(void) {
    db_scope_t s = {.network_admin = 1, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    if (db_begin(g_owner, &s, &tx, &e) != 0) printf("#   owner begin: %s\n", e.message);
    return tx;
}

/* One scalar as text from an owner query (malloc'd, NULL when no row). */
static char *owner_value(const char *sql, int n, const char *const *p) {
    db_tx_t *tx = owner_tx();
    if (!tx) return NULL;
    err_t e = {0};
    PGresult *r = db_exec(tx, sql, n, p, &e);
    char *v = NULL;
    if (!r) printf("#   owner query: %s\n", e.message);
    if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    db_commit(tx, &e);
    return v;
}

static int owner_exec(const char *sql, int n, const char *const *p) {
    db_tx_t *tx = owner_tx();
    if (!tx) return -1;
    err_t e = {0};
    long long rc = db_exec_cmd(tx, sql, n, p, &e);
    if (rc < 0) {
        printf("#   owner exec: %s\n", e.message);
        db_rollback(tx);
        return -1;
    }
    return db_commit(tx, &e) == 0 ? (int)rc : -1;
}

/* The one-time token of the newest event `type` for `email`, fetched the way the notification
 * service will: the event carries only the token's id (docs/security.md N3), the NATS-only
 * operation delivery_token (permission auth:deliver) gives the token. */
static int event_token(const char *type, const char *email, char out[64]) {
    const char *p[] = {type, email};
    char *v = owner_value("SELECT (o.payload->'data'->>'club_id') || ' ' || (o.payload->'data'->>"
                          "'token_id') FROM auth.outbox o JOIN auth.users u ON u.id = "
                          "(o.payload->'data'->>'user_id')::uuid WHERE o.type = $1 AND "
                          "lower(u.email) = lower($2) AND NOT o.payload->'data' ? 'token' ORDER "
                          "BY o.seq DESC LIMIT 1",
                          2, p);
    char club[40] = "", token_id[40] = "";
    out[0] = '\0';
    if (v && sscanf(v, "%39s %39s", club, token_id) == 2) {
        svc_caller_t sys = {0};
        json_t *o = NULL;
        snprintf(sys.perms, sizeof sys.perms, "auth:deliver");
        if (call(&sys, "delivery_token", &o, "{s:s, s:s}", "club_id", club, "token_id", token_id) ==
            200)
            snprintf(out, 64, "%s", sget(o, "token") ? sget(o, "token") : "");
        json_decref(o);
    }
    free(v);
    return out[0] ? 0 : -1;
}

static int event_count(const char *type, const char *user_id) {
    const char *p[] = {type, user_id};
    char *v = owner_value("SELECT count(*) FROM auth.outbox WHERE type = $1 AND "
                          "payload->'data'->>'user_id' = $2",
                          2, p);
    int n = v ? atoi(v) : -1;
    free(v);
    return n;
}

static void unique_email(const char *tag, char out[128]) {
    snprintf(out, 128, "%s-%d-%d@svc.example", tag, (int)getpid(), ++g_seq);
}

/* Invites email into club with role as `by`, registers with pw. user id into id_out (40). */
static int invite_register(const svc_env_t *env, const svc_caller_t *by, const char *club,
                           const char *email, const char *role, const char *pw, char *id_out) {
    json_t *o = NULL;
    char tok[64];
    int st = call_env(env, by, "invite", &o, "{s:s, s:s, s:s}", "email", email, "role", role,
                      "club_id", club);
    if (st != 201) {
        printf("#   invite %s: %d %s\n", email, st, o ? jsonx_dump(o) : "");
        json_decref(o);
        return -1;
    }
    if (id_out) snprintf(id_out, 40, "%s", sget(o, "user_id"));
    json_decref(o);
    if (event_token("auth.invite_created", email, tok) != 0) {
        printf("#   no invite event for %s\n", email);
        return -1;
    }
    svc_caller_t a = anon();
    st = call_env(env, &a, "register", NULL, "{s:s, s:s}", "token", tok, "password", pw);
    if (st != 200) printf("#   register %s: %d\n", email, st);
    return st == 200 ? 0 : -1;
}

static int create_club(const char *tag, char id[40], char slug[64]) {
    svc_caller_t na = g_na;
    snprintf(slug, 64, "svc-%s-%d-%ld", tag, (int)getpid(), (long)(random() % 100000));
    json_t *o = NULL;
    const svc_op_t *op = svc_find_op(&member_module, "create_club");
    if (!op) return -1;
    json_t *in = json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", "Service Test Club", "slug", slug,
                           "timezone", "UTC", "address", "country", "GB");
    err_t e = {0};
    int st = 0;
    svc_dispatch(&g_env, &member_module, op, &na, in, &st, &o, &e);
    json_decref(in);
    if (st != 201) {
        printf("#   create_club: %d %s\n", st, e.message);
        json_decref(o);
        return -1;
    }
    snprintf(id, 40, "%s", sget(o, "id"));
    json_decref(o);
    return 0;
}

/* ---------------------------------------------------------------- setup */

static void test_setup(void) {
    err_t e = {0};
    const char *url = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    const char *owner = TEST_ENV("RECIPROCAL_TEST_OWNER_URL");
    REQUIRE(url && owner);
    REQUIRE(cfg_load(&g_cfg, NULL, &e) == 0);
    REQUIRE(svc_settings_load(&g_set, NULL, &e) == 0); /* RECIPROCAL_AUTH_KEK from tests/run.sh */
    REQUIRE(((const auth_settings_t *)svc_settings_edit(&g_set, &auth_module))->kek.set);
    g_db = db_pool_open(url, 4, &e);
    g_owner = db_pool_open(owner, 1, &e);
    REQUIRE(g_db && g_owner);
    g_env = (svc_env_t){.cfg = &g_cfg, .db = g_db, .bus = NULL, .settings = &g_set};
    srandom((unsigned)getpid() ^ (unsigned)time(NULL));

    char email[128], id[40];
    unique_email("netadmin", email);
    REQUIRE(auth_create_network_admin(g_db, email, PW, id, &e) == 0);
    REQUIRE(login(NULL, email, PW, &g_na, NULL) == 200);
    CHECK(g_na.network_admin);
    CHECK_STR(g_na.user_id, id);
    CHECK_STR(g_na.club_id, "");
    REQUIRE(create_club("a", g_club_a, g_slug_a) == 0);
    REQUIRE(create_club("b", g_club_b, g_slug_b) == 0);
    unique_email("admin-a", g_admin_a_email);
    unique_email("admin-b", g_admin_b_email);
    REQUIRE(invite_register(&g_env, &g_na, g_club_a, g_admin_a_email, "club_admin", PW, NULL) == 0);
    REQUIRE(invite_register(&g_env, &g_na, g_club_b, g_admin_b_email, "club_admin", PW, NULL) == 0);
    REQUIRE(login(g_slug_a, g_admin_a_email, PW, &g_admin_a, NULL) == 200);
    REQUIRE(login(g_slug_b, g_admin_b_email, PW, &g_admin_b, NULL) == 200);
    CHECK_STR(g_admin_a.club_id, g_club_a);
    CHECK(strstr(g_admin_a.perms, "auth:admin") != NULL);
    CHECK(g_admin_a.session_id[0] != 0);
}

/* ---------------------------------------------------------------- invitations */

static void test_invite_single_use_and_wrong_club(void) {
    char email[128], tok[64];
    unique_email("inv", email);
    json_t *o = NULL;
    REQUIRE(call(&g_admin_a, "invite", &o, "{s:s, s:s}", "email", email, "role", "member") == 201);
    CHECK(json_object_get(o, "token") == NULL); /* only the invitee gets the token */
    json_decref(o);
    REQUIRE(event_token("auth.invite_created", email, tok) == 0);
    svc_caller_t a = anon();
    /* policy: too short */
    CHECK_EQ_INT(call(&a, "register", NULL, "{s:s, s:s}", "token", tok, "password", "short"), 422);
    CHECK_EQ_INT(call(&a, "register", NULL, "{s:s, s:s}", "token", tok, "password", PW), 200);
    CHECK_EQ_INT(call(&a, "register", &o, "{s:s, s:s}", "token", tok, "password", PW), 400);
    CHECK_STR(ecode(o), "invalid_token");
    json_decref(o);
    CHECK_EQ_INT(login(g_slug_a, email, PW, NULL, NULL), 200);
    CHECK_EQ_INT(login(g_slug_b, email, PW, NULL, NULL), 401); /* not a club B account */
    /* a club admin invites only into its own club */
    unique_email("inv-x", email);
    CHECK_EQ_INT(
        call(&g_admin_a, "invite", NULL, "{s:s, s:s}", "email", email, "club_id", g_club_b), 403);
}

static void test_invite_expires(void) {
    static svc_settings_t shortcfg;
    shortcfg = g_set;
    ((auth_settings_t *)svc_settings_edit(&shortcfg, &auth_module))->invite_ttl_s = 1;
    svc_env_t env = g_env;
    env.settings = &shortcfg;
    char email[128], tok[64];
    unique_email("inv-exp", email);
    REQUIRE(call_env(&env, &g_admin_a, "invite", NULL, "{s:s}", "email", email) == 201);
    REQUIRE(event_token("auth.invite_created", email, tok) == 0);
    sleep(2);
    svc_caller_t a = anon();
    json_t *o = NULL;
    CHECK_EQ_INT(call(&a, "register", &o, "{s:s, s:s}", "token", tok, "password", PW), 400);
    CHECK_STR(ecode(o), "invalid_token");
    json_decref(o);
    CHECK_EQ_INT(login(g_slug_a, email, PW, NULL, NULL), 401);
}

/* ---------------------------------------------------------------- refresh and sessions */

static void test_refresh_rotation_and_reuse(void) {
    char email[128], id[40], r1[128], r2[128], r3[128];
    unique_email("rot", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, id) == 0);
    REQUIRE(login(g_slug_a, email, PW, NULL, r1) == 200);
    json_t *o = NULL;
    REQUIRE(refresh(r1, r2, &o) == 200);
    CHECK(strcmp(r1, r2) != 0);
    svc_caller_t c;
    CHECK_EQ_INT(caller_from_token(sget(o, "access_token"), &c), 0);
    CHECK_STR(c.user_id, id);
    json_decref(o);
    REQUIRE(refresh(r2, r3, NULL) == 200);
    /* r1 again: reuse -> the family dies, r3 too */
    CHECK_EQ_INT(refresh(r1, NULL, &o), 401);
    CHECK_STR(ecode(o), "refresh_token_reused");
    json_decref(o);
    CHECK_EQ_INT(refresh(r3, NULL, &o), 401);
    CHECK_STR(ecode(o), "invalid_refresh_token");
    json_decref(o);
    CHECK_EQ_INT(event_count("auth.refresh_reuse_detected", id), 1);
    CHECK_EQ_INT(refresh("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, NULL), 401);
}

/* Refresh tokens name club, session and generation under a MAC (auth 0007): a token changed in
 * any part, or made with another key, is invalid and ends nothing, so no one who merely knows a
 * session id (the access token's `sid`) can end a session by posing as a rotated token of it. */
static void test_refresh_token_forgery(void) {
    const auth_settings_t *as = svc_settings(&g_env, &auth_module);
    char email[128], r1[128], r2[128], club[37], sid[37], forged[128];
    int gen = -1;
    unique_email("forge", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, NULL) == 0);
    REQUIRE(login(g_slug_a, email, PW, NULL, r1) == 200);
    CHECK_EQ_INT((int)strlen(r1), AUTH_REFRESH_LEN);
    REQUIRE(auth_refresh_token_open(as, r1, club, sid, &gen) == 1);
    CHECK_STR(club, g_club_a);
    CHECK_EQ_INT(gen, 0);
    REQUIRE(refresh(r1, r2, NULL) == 200);
    REQUIRE(auth_refresh_token_open(as, r2, club, sid, &gen) == 1);
    CHECK_EQ_INT(gen, 1);
    json_t *o = NULL;
    /* each character changed in turn: the club, the session, the generation, the MAC */
    for (int i = 0; i < AUTH_REFRESH_LEN; i += 5) {
        snprintf(forged, sizeof forged, "%s", r2);
        forged[i] = forged[i] == 'A' ? 'B' : 'A';
        CHECK_EQ_INT(refresh(forged, NULL, &o), 401);
        CHECK_STR(ecode(o), "invalid_refresh_token");
        json_decref(o);
    }
    /* generation 0 of the session under another key: not a reuse, nothing ends */
    static svc_settings_t other;
    other = g_set;
    auth_settings_t *os = svc_settings_edit(&other, &auth_module);
    os->kek.key[0] ^= 1;
    err_t e = {0};
    REQUIRE(auth_refresh_token_make(os, club, sid, 0, forged, &e) == 0);
    CHECK_EQ_INT(refresh(forged, NULL, &o), 401);
    CHECK_STR(ecode(o), "invalid_refresh_token");
    json_decref(o);
    /* a generation never issued (made with the right key): invalid, nothing ends */
    REQUIRE(auth_refresh_token_make(as, club, sid, 7, forged, &e) == 0);
    CHECK_EQ_INT(refresh(forged, NULL, &o), 401);
    CHECK_STR(ecode(o), "invalid_refresh_token");
    json_decref(o);
    /* logout with a forged token ends nothing either */
    svc_caller_t a = anon();
    os->kek.key[0] ^= 1;
    os->kek.key[1] ^= 1;
    REQUIRE(auth_refresh_token_make(os, club, sid, 1, forged, &e) == 0);
    CHECK_EQ_INT(call(&a, "logout", NULL, "{s:s}", "refresh_token", forged), 204);
    /* the live token still rotates: the session was never ended */
    CHECK_EQ_INT(refresh(r2, r1, NULL), 200);
    /* and the real rotated one is a reuse */
    REQUIRE(auth_refresh_token_make(as, club, sid, 1, forged, &e) == 0);
    CHECK_EQ_INT(refresh(forged, NULL, &o), 401);
    CHECK_STR(ecode(o), "refresh_token_reused");
    json_decref(o);
}

/* A token from before auth 0007 (a row of auth.refresh_tokens) still rotates once, onto the
 * session's generation 0; presented again it is a reuse and ends the family. */
static void test_refresh_legacy_token(void) {
    char email[128], id[40], hash[AUTH_HASH_HEX], legacy[AUTH_TOKEN_LEN + 1], r0[128], r1[128];
    err_t e = {0};
    unique_email("legacy", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, id) == 0);
    const char *p[] = {g_club_a, id};
    char *sid = owner_value("INSERT INTO auth.sessions (club_id, user_id, expires_at) VALUES "
                            "($1::uuid, $2::uuid, now() + interval '1 day') RETURNING id",
                            2, p);
    REQUIRE(sid);
    REQUIRE(auth_token_new(legacy, &e) == 0);
    auth_sha256_hex(legacy, strlen(legacy), hash);
    const char *q[] = {g_club_a, sid, hash};
    CHECK_EQ_INT(owner_exec("INSERT INTO auth.refresh_tokens (club_id, session_id, token_hash) "
                            "VALUES ($1::uuid, $2::uuid, $3)",
                            3, q),
                 1);
    json_t *o = NULL;
    REQUIRE(refresh(legacy, r0, &o) == 200);
    CHECK_STR(sget(o, "session_id"), sid);
    json_decref(o);
    CHECK_EQ_INT((int)strlen(r0), AUTH_REFRESH_LEN);
    REQUIRE(refresh(r0, r1, NULL) == 200);
    CHECK_EQ_INT(refresh(legacy, NULL, &o), 401);
    CHECK_STR(ecode(o), "refresh_token_reused");
    json_decref(o);
    CHECK_EQ_INT(refresh(r1, NULL, &o), 401);
    CHECK_STR(ecode(o), "invalid_refresh_token");
    json_decref(o);
    free(sid);
}

/* The token's header alg and whether it verifies against the service's own JWKS. */
static int token_alg_verifies(const svc_env_t *env, const char *tok, char alg[16]) {
    svc_caller_t a = anon();
    json_t *jwks = NULL;
    alg[0] = 0;
    if (call_env(env, &a, "jwks", &jwks, "{}") != 200) return -1;
    jwt_keyset_t *ks = jwt_keyset_new();
    size_t i;
    json_t *k;
    err_t e = {0};
    json_array_foreach(json_object_get(jwks, "keys"), i, k) {
        jwt_key_t *key = NULL;
        if (jwt_key_from_jwk(k, &key, &e) == 0) jwt_keyset_add(ks, key, &e);
        jwt_key_free(key);
    }
    json_decref(jwks);
    const auth_settings_t *as = svc_settings(env, &auth_module);
    jwt_verify_opts_t o = {
        .issuer = as->issuer, .audience = as->audience, .now = time(NULL), .leeway = 30};
    json_t *claims = NULL;
    int rc = jwt_verify(ks, tok, strlen(tok), &o, &claims, &e);
    json_decref(claims);
    jwt_keyset_free(ks);
    const char *d = strchr(tok, '.');
    char h64[256];
    snprintf(h64, sizeof h64, "%.*s", (int)(d - tok), tok);
    size_t n = 0;
    unsigned char *h = jsonx_b64url_decode(h64, &n);
    json_t *hj = h ? json_loadb((char *)h, n, 0, NULL) : NULL;
    snprintf(alg, 16, "%s", hj ? sget(hj, "alg") : "");
    json_decref(hj);
    free(h);
    if (rc != 0) printf("#   token does not verify: %s\n", e.code);
    return rc;
}

/* The number of published keys of each algorithm. */
static void jwks_algs(int count[3]) {
    svc_caller_t a = anon();
    json_t *jwks = NULL;
    count[0] = count[1] = count[2] = 0;
    if (call(&a, "jwks", &jwks, "{}") != 200) return;
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(jwks, "keys"), i, k) {
        jwt_alg_t alg;
        if (jwt_alg_parse(sget(k, "alg"), &alg) == 0) count[alg]++;
    }
    json_decref(jwks);
}

static void test_signing_algorithms(void) {
    char email[128], r1[128], r2[128], alg[16];
    unique_email("algs", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, NULL) == 0);
    for (int a = 0; a < 3; a++) {
        static svc_settings_t cf;
        cf = g_set;
        ((auth_settings_t *)svc_settings_edit(&cf, &auth_module))->jwt_alg = a;
        svc_env_t env = g_env;
        env.settings = &cf;
        auth_keys_forget(); /* the key cache does not follow a settings change */
        svc_caller_t an = anon();
        json_t *o = NULL;
        REQUIRE(call_env(&env, &an, "login", &o, "{s:s, s:s, s:s}", "club", g_slug_a, "email",
                         email, "password", PW) == 200);
        CHECK_EQ_INT(token_alg_verifies(&env, sget(o, "access_token"), alg), 0);
        CHECK_STR(alg, jwt_alg_name((jwt_alg_t)a));
        snprintf(r1, sizeof r1, "%s", sget(o, "refresh_token"));
        json_decref(o);
        REQUIRE(call_env(&env, &an, "refresh", &o, "{s:s}", "refresh_token", r1) == 200);
        CHECK_EQ_INT(token_alg_verifies(&env, sget(o, "access_token"), alg), 0);
        CHECK_STR(alg, jwt_alg_name((jwt_alg_t)a));
        snprintf(r2, sizeof r2, "%s", sget(o, "refresh_token"));
        json_decref(o);
        /* reuse detection works whatever the algorithm */
        CHECK_EQ_INT(call_env(&env, &an, "refresh", &o, "{s:s}", "refresh_token", r1), 401);
        CHECK_STR(ecode(o), "refresh_token_reused");
        json_decref(o);
        CHECK_EQ_INT(call_env(&env, &an, "refresh", NULL, "{s:s}", "refresh_token", r2), 401);
    }
    /* a switch retires nothing: a key of each algorithm is published */
    int n[3];
    jwks_algs(n);
    CHECK(n[0] >= 1 && n[1] >= 1 && n[2] >= 1);
    /* rotation with EdDSA configured: every active key retired (still published), one new EdDSA
     * key; an RS256 process then makes itself a new RS256 key */
    static svc_settings_t ed;
    ed = g_set;
    ((auth_settings_t *)svc_settings_edit(&ed, &auth_module))->jwt_alg = JWT_ALG_EDDSA;
    err_t e = {0};
    char kid[32];
    REQUIRE(auth_keys_rotate(svc_settings_edit(&ed, &auth_module), g_db, kid, &e) == 0);
    db_scope_t none = {0}; /* signing_keys admits the app role (not the owner) */
    PGresult *r = db_read(g_db, &none,
                          "SELECT string_agg(alg, ',') FROM auth.signing_keys WHERE retired_at "
                          "IS NULL",
                          0, NULL, &e);
    REQUIRE(r);
    CHECK_STR(PQgetvalue(r, 0, 0), "EdDSA");
    PQclear(r);
    int m[3];
    auth_keys_forget();
    jwks_algs(m);
    CHECK(m[0] >= n[0] && m[1] == n[1] + 1 && m[2] >= n[2]); /* retired keys stay published */
    svc_caller_t c;
    CHECK_EQ_INT(login(g_slug_a, email, PW, &c, NULL), 200); /* RS256 (g_set) again */
    auth_keys_forget();
}

static void test_session_idle_timeout(void) {
    static svc_settings_t idle;
    idle = g_set;
    ((auth_settings_t *)svc_settings_edit(&idle, &auth_module))->session_idle_s = 1;
    svc_env_t env = g_env;
    env.settings = &idle;
    char email[128], r1[128], r2[128];
    unique_email("idle", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, NULL) == 0);
    REQUIRE(login(g_slug_a, email, PW, NULL, r1) == 200);
    svc_caller_t a = anon();
    json_t *o = NULL;
    /* used within the idle time: fine (the default config) */
    REQUIRE(refresh(r1, r2, NULL) == 200);
    sleep(2);
    CHECK_EQ_INT(call_env(&env, &a, "refresh", &o, "{s:s}", "refresh_token", r2), 401);
    CHECK_STR(ecode(o), "session_expired");
    json_decref(o);
    /* and it stays dead with the normal limits */
    CHECK_EQ_INT(refresh(r2, NULL, NULL), 401);
}

static void test_session_absolute_lifetime(void) {
    static svc_settings_t shortcfg;
    shortcfg = g_set;
    ((auth_settings_t *)svc_settings_edit(&shortcfg, &auth_module))->session_max_s =
        2; /* idle stays 7 days */
    svc_env_t env = g_env;
    env.settings = &shortcfg;
    char email[128], tok[64], r[128], r2[128];
    unique_email("abs", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, NULL) == 0);
    svc_caller_t a = anon();
    json_t *o = NULL;
    REQUIRE(call_env(&env, &a, "login", &o, "{s:s, s:s, s:s}", "club", g_slug_a, "email", email,
                     "password", PW) == 200);
    snprintf(r, sizeof r, "%s", sget(o, "refresh_token"));
    json_decref(o);
    /* refreshing keeps it alive only until the absolute end */
    REQUIRE(call_env(&env, &a, "refresh", &o, "{s:s}", "refresh_token", r) == 200);
    snprintf(r2, sizeof r2, "%s", sget(o, "refresh_token"));
    json_decref(o);
    sleep(3);
    CHECK_EQ_INT(call_env(&env, &a, "refresh", &o, "{s:s}", "refresh_token", r2), 401);
    CHECK_STR(ecode(o), "session_expired");
    json_decref(o);
    (void)tok;
}

static void test_sessions_current_delete_logout(void) {
    char email[128], id[40], r1[128], r2[128], r3[128];
    svc_caller_t s1, s2, s3;
    unique_email("sess", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, id) == 0);
    REQUIRE(login(g_slug_a, email, PW, &s1, r1) == 200);
    REQUIRE(login(g_slug_a, email, PW, &s2, r2) == 200);
    REQUIRE(login(g_slug_a, email, PW, &s3, r3) == 200);
    json_t *o = NULL;
    REQUIRE(call(&s1, "sessions_list", &o, NULL) == 200);
    json_t *items = json_object_get(o, "items");
    CHECK_EQ_INT(json_array_size(items), 3);
    int current = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (json_is_true(json_object_get(it, "current"))) {
            current++;
            CHECK_STR(sget(it, "id"), s1.session_id);
        }
        CHECK(sget(it, "user_agent") && sget(it, "ip") && sget(it, "created_at") &&
              sget(it, "last_used_at"));
    }
    CHECK_EQ_INT(current, 1);
    json_decref(o);
    /* DELETE an own session: its refresh token stops */
    CHECK_EQ_INT(call(&s1, "session_delete", NULL, "{s:s}", "id", s2.session_id), 204);
    CHECK_EQ_INT(refresh(r2, NULL, NULL), 401);
    CHECK_EQ_INT(call(&s1, "session_delete", NULL, "{s:s}", "id", s2.session_id), 404);
    /* someone else's session: not found */
    CHECK_EQ_INT(call(&g_admin_a, "session_delete", NULL, "{s:s}", "id", s3.session_id), 404);
    CHECK_EQ_INT(refresh(r3, r3, NULL), 200);
    /* logout without a refresh token ends the access token's session (s1) only */
    CHECK_EQ_INT(call(&s1, "logout", NULL, "{}"), 204);
    CHECK_EQ_INT(refresh(r1, NULL, NULL), 401);
    CHECK_EQ_INT(refresh(r3, r3, NULL), 200);
    /* logout with the refresh token (s3) */
    svc_caller_t a = anon();
    CHECK_EQ_INT(call(&a, "logout", NULL, "{s:s}", "refresh_token", r3), 204);
    CHECK_EQ_INT(refresh(r3, NULL, NULL), 401);
    /* anonymous without a token: nothing to end */
    CHECK_EQ_INT(call(&a, "logout", &o, "{}"), 401);
    json_decref(o);
    REQUIRE(call(&s1, "sessions_list", &o, NULL) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 0);
    json_decref(o);
}

static void test_admin_revokes_all_sessions(void) {
    char email[128], id[40], r1[128], r2[128];
    unique_email("revall", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, id) == 0);
    REQUIRE(login(g_slug_a, email, PW, NULL, r1) == 200);
    REQUIRE(login(g_slug_a, email, PW, NULL, r2) == 200);
    json_t *o = NULL;
    /* club B's admin: no such user */
    CHECK_EQ_INT(call(&g_admin_b, "user_revoke_sessions", NULL, "{s:s}", "id", id), 404);
    CHECK_EQ_INT(refresh(r1, r1, NULL), 200);
    REQUIRE(call(&g_admin_a, "user_revoke_sessions", &o, "{s:s}", "id", id) == 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "revoked")), 2);
    json_decref(o);
    CHECK_EQ_INT(refresh(r1, NULL, NULL), 401);
    CHECK_EQ_INT(refresh(r2, NULL, NULL), 401);
    /* a member cannot */
    svc_caller_t m;
    REQUIRE(login(g_slug_a, email, PW, &m, NULL) == 200);
    CHECK_EQ_INT(call(&m, "user_revoke_sessions", NULL, "{s:s}", "id", g_admin_a.user_id), 403);
}

/* Several sessions of one user rotating their refresh tokens at the same time: every rotation
 * succeeds (no false reuse detection, no lost token). */
#define CHAINS 8
#define ROTATIONS 40
typedef struct chain {
    char tok[128];
    int ok, failed;
    char why[160];
} chain_t;

static void *rotate_chain(void *arg) {
    chain_t *c = arg;
    for (int i = 0; i < ROTATIONS; i++) {
        json_t *o = NULL;
        if (refresh(c->tok, c->tok, &o) == 200) {
            c->ok++;
        } else {
            if (!c->failed) snprintf(c->why, sizeof c->why, "%s", ecode(o) ? ecode(o) : "?");
            c->failed++;
            json_decref(o);
            break;
        }
        json_decref(o);
    }
    return NULL;
}

static void test_concurrent_refresh_chains(void) {
    char email[128];
    chain_t chains[CHAINS];
    pthread_t th[CHAINS];
    memset(chains, 0, sizeof chains);
    unique_email("chains", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, NULL) == 0);
    for (int i = 0; i < CHAINS; i++)
        REQUIRE(login(g_slug_a, email, PW, NULL, chains[i].tok) == 200);
    for (int i = 0; i < CHAINS; i++)
        pthread_create(&th[i], NULL, rotate_chain, &chains[i]);
    for (int i = 0; i < CHAINS; i++) {
        pthread_join(th[i], NULL);
        if (chains[i].failed)
            printf("#   chain %d failed after %d: %s\n", i, chains[i].ok, chains[i].why);
        CHECK_EQ_INT(chains[i].ok, ROTATIONS);
    }
}

/* ---------------------------------------------------------------- MFA */

static void test_mfa_second_step(void) {
    char email[128], code[8];
    svc_caller_t u;
    unique_email("mfa", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, NULL) == 0);
    REQUIRE(login(g_slug_a, email, PW, &u, NULL) == 200);
    json_t *o = NULL;
    REQUIRE(call(&u, "mfa_enrol", &o, NULL) == 200);
    unsigned char secret[64];
    size_t sn = 0;
    err_t e = {0};
    REQUIRE(totp_base32_decode(sget(o, "secret"), secret, sizeof secret, &sn, &e) == 0);
    CHECK(strncmp(sget(o, "otpauth_uri"), "otpauth://totp/", 15) == 0);
    json_decref(o);
    int64_t step = totp_step((int64_t)time(NULL));
    totp_code_at_step(secret, sn, step - 1, 6, code, &e);
    REQUIRE(call(&u, "mfa_confirm", &o, "{s:s}", "code", code) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "recovery_codes")), 10);
    json_decref(o);
    /* password alone is not enough now */
    svc_caller_t a = anon();
    REQUIRE(call(&a, "login", &o, "{s:s, s:s, s:s}", "club", g_slug_a, "email", email, "password",
                 PW) == 200);
    CHECK(json_is_true(json_object_get(o, "mfa_required")));
    CHECK(json_object_get(o, "access_token") == NULL);
    char mfa_tok[64];
    snprintf(mfa_tok, sizeof mfa_tok, "%s", sget(o, "mfa_token"));
    json_decref(o);
    /* the code used for confirmation cannot be replayed */
    CHECK_EQ_INT(call(&a, "mfa_verify", NULL, "{s:s, s:s}", "mfa_token", mfa_tok, "code", code),
                 401);
    totp_code_at_step(secret, sn, step, 6, code, &e);
    REQUIRE(call(&a, "mfa_verify", &o, "{s:s, s:s}", "mfa_token", mfa_tok, "code", code) == 200);
    svc_caller_t m;
    CHECK_EQ_INT(caller_from_token(sget(o, "access_token"), &m), 0);
    CHECK_STR(m.user_id, u.user_id);
    json_decref(o);
    /* the challenge is single use */
    CHECK_EQ_INT(call(&a, "mfa_verify", NULL, "{s:s, s:s}", "mfa_token", mfa_tok, "code", code),
                 401);
}

/* ---------------------------------------------------------------- password reset */

static void test_password_reset_single_use(void) {
    char email[128], tok[64], old_tok[64], r[128];
    unique_email("reset", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, NULL) == 0);
    REQUIRE(login(g_slug_a, email, PW, NULL, r) == 200);
    svc_caller_t a = anon();
    json_t *o = NULL;
    REQUIRE(call(&a, "password_forgot", NULL, "{s:s, s:s}", "club", g_slug_a, "email", email) ==
            202);
    REQUIRE(event_token("auth.password_reset_requested", email, old_tok) == 0);
    /* a second request replaces the first token */
    REQUIRE(call(&a, "password_forgot", NULL, "{s:s, s:s}", "club", g_slug_a, "email", email) ==
            202);
    REQUIRE(event_token("auth.password_reset_requested", email, tok) == 0);
    CHECK(strcmp(tok, old_tok) != 0);
    CHECK_EQ_INT(call(&a, "password_reset", NULL, "{s:s, s:s}", "token", old_tok, "password", PW2),
                 400);
    /* unknown account: same answer, no event */
    CHECK_EQ_INT(call(&a, "password_forgot", NULL, "{s:s, s:s}", "club", g_slug_a, "email",
                      "nobody-here@svc.example"),
                 202);
    CHECK_EQ_INT(call(&a, "password_reset", NULL, "{s:s, s:s}", "token", tok, "password", PW2),
                 200);
    CHECK_EQ_INT(call(&a, "password_reset", &o, "{s:s, s:s}", "token", tok, "password", PW), 400);
    CHECK_STR(ecode(o), "invalid_token");
    json_decref(o);
    CHECK_EQ_INT(login(g_slug_a, email, PW, NULL, NULL), 401);
    CHECK_EQ_INT(login(g_slug_a, email, PW2, NULL, NULL), 200);
    CHECK_EQ_INT(refresh(r, NULL, NULL), 401); /* the reset ended the old sessions */
}

static void test_password_reset_expires(void) {
    static svc_settings_t shortcfg;
    shortcfg = g_set;
    ((auth_settings_t *)svc_settings_edit(&shortcfg, &auth_module))->reset_ttl_s = 1;
    svc_env_t env = g_env;
    env.settings = &shortcfg;
    char email[128], tok[64];
    unique_email("reset-exp", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, NULL) == 0);
    svc_caller_t a = anon();
    REQUIRE(call_env(&env, &a, "password_forgot", NULL, "{s:s, s:s}", "club", g_slug_a, "email",
                     email) == 202);
    REQUIRE(event_token("auth.password_reset_requested", email, tok) == 0);
    sleep(2);
    CHECK_EQ_INT(call(&a, "password_reset", NULL, "{s:s, s:s}", "token", tok, "password", PW2),
                 400);
    CHECK_EQ_INT(login(g_slug_a, email, PW, NULL, NULL), 200);
}

/* ---------------------------------------------------------------- legacy bcrypt */

static void test_bcrypt_upgraded_at_login(void) {
    char email[128], id[40], salt[64];
    unique_email("bcrypt", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, id) == 0);
    struct crypt_data *cd = calloc(1, sizeof *cd);
    REQUIRE(cd);
    REQUIRE(crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof salt) != NULL);
    const char *h = crypt_r(PW, salt, cd);
    int ok = h && strncmp(h, "$2b$10$", 7) == 0;
    char bh[128];
    snprintf(bh, sizeof bh, "%s", ok ? h : "");
    free(cd);
    REQUIRE(ok);
    const char *p[] = {g_club_a, id, bh};
    REQUIRE(owner_exec("UPDATE auth.users SET password_hash = $3 WHERE club_id = $1::uuid AND id = "
                       "$2::uuid",
                       3, p) == 1);
    const char *q[] = {g_club_a, id};
    static const char sel[] =
        "SELECT password_hash FROM auth.users WHERE club_id = $1::uuid AND id = $2::uuid";
    char *stored = owner_value(sel, 2, q);
    CHECK(stored && strncmp(stored, "$2b$", 4) == 0);
    free(stored);
    CHECK_EQ_INT(login(g_slug_a, email, "wrong password entirely!", NULL, NULL), 401);
    stored = owner_value(sel, 2, q);
    CHECK(stored && strncmp(stored, "$2b$", 4) == 0); /* a failed login changes nothing */
    free(stored);
    CHECK_EQ_INT(login(g_slug_a, email, PW, NULL, NULL), 200);
    stored = owner_value(sel, 2, q);
    CHECK(stored && strncmp(stored, "$argon2id$", 10) == 0);
    free(stored);
    CHECK_EQ_INT(login(g_slug_a, email, PW, NULL, NULL), 200); /* and the new hash verifies */
}

/* ---------------------------------------------------------------- roles */

static int has_role(json_t *o, const char *role) {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(o, "roles"), i, r) {
        if (strcmp(json_string_value(r), role) == 0) return 1;
    }
    return 0;
}

static void test_roles_grant_and_revoke(void) {
    char email[128], id[40], r[128];
    unique_email("roles", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, id) == 0);
    REQUIRE(login(g_slug_a, email, PW, NULL, r) == 200);
    json_t *o = NULL;
    REQUIRE(call(&g_admin_a, "user_role_grant", &o, "{s:s, s:s}", "id", id, "role", "club_staff") ==
            200);
    CHECK(has_role(o, "club_staff") && has_role(o, "member"));
    CHECK(json_is_true(json_object_get(o, "changed")));
    json_decref(o);
    CHECK_EQ_INT(event_count("auth.permission_granted", id), 1);
    /* idempotent: granting again changes nothing and emits nothing */
    REQUIRE(call(&g_admin_a, "user_role_grant", &o, "{s:s, s:s}", "id", id, "role", "club_staff") ==
            200);
    CHECK(json_is_false(json_object_get(o, "changed")));
    json_decref(o);
    CHECK_EQ_INT(event_count("auth.permission_granted", id), 1);
    /* the next refresh carries the new permissions */
    svc_caller_t u;
    REQUIRE(refresh(r, r, &o) == 200);
    CHECK_EQ_INT(caller_from_token(sget(o, "access_token"), &u), 0);
    json_decref(o);
    CHECK(strstr(u.perms, "member:write") != NULL);
    /* who may grant what */
    CHECK_EQ_INT(
        call(&g_admin_a, "user_role_grant", &o, "{s:s, s:s}", "id", id, "role", "network_admin"),
        403);
    json_decref(o);
    CHECK_EQ_INT(call(&u, "user_role_grant", NULL, "{s:s, s:s}", "id", id, "role", "club_admin"),
                 403); /* staff lacks auth:admin */
    CHECK_EQ_INT(call(&g_admin_a, "user_role_grant", NULL, "{s:s, s:s}", "id", g_admin_a.user_id,
                      "role", "club_staff"),
                 403); /* own roles */
    CHECK_EQ_INT(
        call(&g_admin_b, "user_role_grant", NULL, "{s:s, s:s}", "id", id, "role", "club_admin"),
        404); /* another club's user */
    CHECK_EQ_INT(
        call(&g_na, "user_role_grant", NULL, "{s:s, s:s}", "id", id, "role", "network_admin"),
        422); /* network_admin is not a club role */
    CHECK_EQ_INT(call(&g_na, "user_role_grant", &o, "{s:s, s:s}", "id", id, "role", "club_admin"),
                 200); /* a network admin anywhere */
    CHECK(has_role(o, "club_admin"));
    json_decref(o);
    /* removal */
    REQUIRE(call(&g_admin_a, "user_role_revoke", &o, "{s:s, s:s}", "id", id, "role",
                 "club_staff") == 200);
    CHECK(!has_role(o, "club_staff"));
    json_decref(o);
    CHECK_EQ_INT(event_count("auth.permission_revoked", id), 1);
    CHECK_EQ_INT(
        call(&g_admin_a, "user_role_revoke", NULL, "{s:s, s:s}", "id", id, "role", "club_staff"),
        404);
    CHECK_EQ_INT(
        call(&g_admin_a, "user_role_revoke", NULL, "{s:s, s:s}", "id", id, "role", "superuser"),
        404); /* a possible custom role name, not held */
    CHECK_EQ_INT(
        call(&g_admin_a, "user_role_revoke", NULL, "{s:s, s:s}", "id", id, "role", "Super User!"),
        422);
    /* audited */
    REQUIRE(call(&g_admin_a, "audit_list", &o, "{s:s, s:s}", "user_id", id, "action",
                 "permission_granted") == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 2);
    json_decref(o);
}

/* Custom roles per club: a named subset of club_admin's permissions, in one club only. */
static void test_custom_roles(void) {
    char email[128], id[40], r[128], role[48];
    snprintf(role, sizeof role, "front_desk_%d", (int)(getpid() % 100000));
    unique_email("custom", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, id) == 0);
    REQUIRE(login(g_slug_a, email, PW, NULL, r) == 200);
    json_t *o = NULL;
    REQUIRE(call(&g_admin_a, "role_create", &o, "{s:s, s:[s, s]}", "name", role, "permissions",
                 "visit:verify", "member:read") == 201);
    CHECK_STR(sget(o, "permissions"), "visit:verify member:read");
    CHECK_STR(sget(o, "club_id"), g_club_a);
    json_decref(o);
    CHECK_EQ_INT(call(&g_admin_a, "role_create", NULL, "{s:s, s:[s]}", "name", role, "permissions",
                      "member:read"),
                 409);
    CHECK_EQ_INT(call(&g_admin_a, "role_create", NULL, "{s:s, s:[s]}", "name", "sneaky",
                      "permissions", "club:create"),
                 422); /* more than a club admin holds */
    CHECK_EQ_INT(call(&g_admin_a, "role_create", NULL, "{s:s, s:[s]}", "name", "member",
                      "permissions", "member:read"),
                 422); /* built-in */
    CHECK_EQ_INT(call(&g_admin_b, "role_create", NULL, "{s:s, s:[s], s:s}", "name", "x_role",
                      "permissions", "member:read", "club_id", g_club_a),
                 403);
    CHECK_EQ_INT(call(&g_na, "role_create", NULL, "{s:s, s:[s]}", "name", "x_role", "permissions",
                      "member:read"),
                 400); /* a network admin names the club */
    REQUIRE(call(&g_na, "role_create", NULL, "{s:s, s:[s], s:s}", "name", "b_only_role",
                 "permissions", "governance:vote", "club_id", g_club_b) == 201);
    /* lists: A sees its role, not B's; B does not see A's */
    REQUIRE(call(&g_admin_a, "roles_list", &o, NULL) == 200);
    char *dump = jsonx_dump(o);
    CHECK(dump && strstr(dump, role) && !strstr(dump, "b_only_role") && strstr(dump, "club_staff"));
    free(dump);
    json_decref(o);
    REQUIRE(call(&g_admin_b, "roles_list", &o, NULL) == 200);
    dump = jsonx_dump(o);
    CHECK(dump && !strstr(dump, role) && strstr(dump, "b_only_role"));
    free(dump);
    json_decref(o);
    /* granted: the next token carries its permissions, and only in club A */
    REQUIRE(call(&g_admin_a, "user_role_grant", &o, "{s:s, s:s}", "id", id, "role", role) == 200);
    CHECK(has_role(o, role));
    json_decref(o);
    CHECK_EQ_INT(event_count("auth.permission_granted", id), 1);
    svc_caller_t u;
    REQUIRE(refresh(r, r, &o) == 200);
    CHECK_EQ_INT(caller_from_token(sget(o, "access_token"), &u), 0);
    json_decref(o);
    CHECK(strstr(u.perms, "visit:verify") != NULL && strstr(u.perms, "member:read") != NULL);
    CHECK(strstr(u.perms, "member:write") == NULL);
    CHECK(svc_authorized(&u, "visit:verify"));
    CHECK_EQ_INT(
        call(&g_admin_a, "user_role_grant", NULL, "{s:s, s:s}", "id", id, "role", "b_only_role"),
        422); /* club A has no such role */
    CHECK_EQ_INT(
        call(&g_admin_a, "user_role_grant", NULL, "{s:s, s:s}", "id", id, "role", "Bad-Name"), 422);
    /* deleted: holders lose it (event), the next token no longer carries it */
    CHECK_EQ_INT(call(&g_admin_b, "role_delete", NULL, "{s:s}", "name", role), 404);
    REQUIRE(call(&g_admin_a, "role_delete", &o, "{s:s}", "name", role) == 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "holders_removed")), 1);
    json_decref(o);
    CHECK_EQ_INT(event_count("auth.permission_revoked", id), 1);
    REQUIRE(refresh(r, r, &o) == 200);
    CHECK_EQ_INT(caller_from_token(sget(o, "access_token"), &u), 0);
    json_decref(o);
    CHECK(strstr(u.perms, "visit:verify") == NULL);
    CHECK_EQ_INT(call(&g_admin_a, "role_delete", NULL, "{s:s}", "name", role), 404);
}

/* ---------------------------------------------------------------- disable / enable */

static void test_disable_enable(void) {
    char email[128], id[40], r1[128];
    svc_caller_t u;
    unique_email("disable", email);
    REQUIRE(invite_register(&g_env, &g_admin_a, g_club_a, email, "member", PW, id) == 0);
    REQUIRE(login(g_slug_a, email, PW, &u, r1) == 200);
    json_t *o = NULL;
    CHECK_EQ_INT(call(&g_admin_b, "user_disable", NULL, "{s:s}", "id", id), 404);
    CHECK_EQ_INT(call(&g_admin_a, "user_disable", NULL, "{s:s}", "id", g_admin_a.user_id), 403);
    CHECK_EQ_INT(call(&u, "user_disable", NULL, "{s:s}", "id", id), 403);
    REQUIRE(call(&g_admin_a, "user_disable", &o, "{s:s}", "id", id) == 200);
    CHECK_STR(sget(o, "status"), "disabled");
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "sessions_revoked")), 1);
    json_decref(o);
    CHECK_EQ_INT(event_count("auth.user_disabled", id), 1);
    CHECK_EQ_INT(refresh(r1, NULL, NULL), 401);
    REQUIRE(call(&g_admin_a, "user_disable", &o, "{s:s}", "id", id) == 200); /* idempotent */
    CHECK(json_is_false(json_object_get(o, "changed")));
    json_decref(o);
    CHECK_EQ_INT(event_count("auth.user_disabled", id), 1);
    /* sign-in is refused with the same answer as a wrong password */
    svc_caller_t a = anon();
    CHECK_EQ_INT(
        call(&a, "login", &o, "{s:s, s:s, s:s}", "club", g_slug_a, "email", email, "password", PW),
        401);
    CHECK_STR(ecode(o), "invalid_credentials");
    json_decref(o);
    /* no reset link for a disabled account */
    CHECK_EQ_INT(call(&a, "password_forgot", NULL, "{s:s, s:s}", "club", g_slug_a, "email", email),
                 202);
    CHECK_EQ_INT(event_count("auth.password_reset_requested", id), 0);
    REQUIRE(call(&g_admin_a, "user_enable", &o, "{s:s}", "id", id) == 200);
    CHECK_STR(sget(o, "status"), "active");
    json_decref(o);
    CHECK_EQ_INT(event_count("auth.user_enabled", id), 1);
    CHECK_EQ_INT(login(g_slug_a, email, PW, NULL, NULL), 200);
}

/* ---------------------------------------------------------------- audit log */

static void test_audit_list_paginated_and_scoped(void) {
    json_t *o = NULL;
    char after[96] = "";
    int pages = 0, rows = 0;
    char first_ids[3][40] = {{0}};
    do {
        int st = after[0]
                     ? call(&g_admin_a, "audit_list", &o, "{s:i, s:s}", "limit", 3, "after", after)
                     : call(&g_admin_a, "audit_list", &o, "{s:s}", "limit", "3");
        REQUIRE(st == 200);
        json_t *items = json_object_get(o, "items");
        CHECK(json_array_size(items) <= 3);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            CHECK_STR(sget(it, "club_id"), g_club_a);
            if (pages == 0 && i < 3) snprintf(first_ids[i], 40, "%s", sget(it, "id"));
            if (pages == 1) /* no overlap with page one */
                for (int k = 0; k < 3; k++)
                    CHECK(strcmp(first_ids[k], sget(it, "id")) != 0);
            rows++;
        }
        const char *next = sget(o, "next_cursor");
        snprintf(after, sizeof after, "%s", next ? next : "");
        json_decref(o);
        pages++;
    } while (after[0] && pages < 100);
    CHECK(pages > 2);
    CHECK(rows > 6);
    /* network admin: club B's rows too, and a club filter */
    REQUIRE(call(&g_na, "audit_list", &o, "{s:s, s:i}", "club_id", g_club_b, "limit", 100) == 200);
    CHECK(json_array_size(json_object_get(o, "items")) > 0);
    json_decref(o);
    /* club A's admin asking for club B's rows sees none */
    REQUIRE(call(&g_admin_a, "audit_list", &o, "{s:s}", "club_id", g_club_b) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 0);
    json_decref(o);
    CHECK_EQ_INT(call(&g_admin_a, "audit_list", &o, "{s:s}", "after", "garbage"), 400);
    json_decref(o);
    svc_caller_t a = anon();
    CHECK_EQ_INT(call(&a, "audit_list", NULL, NULL), 401);
}

/* ---------------------------------------------------------------- tenancy */

static void test_rls_club_a_cannot_read_club_b(void) {
    char email[128], id_b[40];
    unique_email("bee", email);
    REQUIRE(invite_register(&g_env, &g_admin_b, g_club_b, email, "member", PW, id_b) == 0);
    json_t *o = NULL;
    /* list: none of B's users */
    REQUIRE(call(&g_admin_a, "users_list", &o, NULL) == 200);
    size_t i;
    json_t *it;
    int seen_b = 0, seen_a = 0;
    json_array_foreach(json_object_get(o, "items"), i, it) {
        if (strcmp(sget(it, "club_id") ? sget(it, "club_id") : "", g_club_b) == 0) seen_b++;
        if (strcmp(sget(it, "club_id") ? sget(it, "club_id") : "", g_club_a) == 0) seen_a++;
    }
    CHECK_EQ_INT(seen_b, 0);
    CHECK(seen_a > 0);
    json_decref(o);
    /* operations on B's user by its (known or guessed) id: not found */
    CHECK_EQ_INT(call(&g_admin_a, "user_disable", NULL, "{s:s}", "id", id_b), 404);
    CHECK_EQ_INT(
        call(&g_admin_a, "user_role_grant", NULL, "{s:s, s:s}", "id", id_b, "role", "club_admin"),
        404);
    CHECK_EQ_INT(call(&g_admin_a, "user_revoke_sessions", NULL, "{s:s}", "id", id_b), 404);
    /* straight SQL in club A's scope on the app role: no row of B, by id or by club */
    db_scope_t s = {.club_id = g_club_a, .user_id = g_admin_a.user_id};
    db_tx_t *tx = NULL;
    err_t e = {0};
    REQUIRE(db_begin(g_db, &s, &tx, &e) == 0);
    const char *p[] = {id_b, g_club_b};
    static const char *const probes[] = {
        "SELECT count(*) FROM auth.users WHERE id = $1::uuid OR club_id = $2::uuid",
        "SELECT count(*) FROM auth.user_roles WHERE user_id = $1::uuid OR club_id = $2::uuid",
        "SELECT count(*) FROM auth.sessions WHERE user_id = $1::uuid OR club_id = $2::uuid",
        "SELECT count(*) FROM auth.one_time_tokens WHERE user_id = $1::uuid OR club_id = $2::uuid",
        "SELECT count(*) FROM auth.audit WHERE user_id = $1::uuid OR club_id = $2::uuid",
        "SELECT count(*) FROM auth.roles WHERE name = $1 OR club_id = $2::uuid",
        NULL};
    for (const char *const *q = probes; *q; q++) {
        PGresult *r = db_exec(tx, *q, 2, p, &e);
        CHECK(r != NULL);
        if (r) {
            if (atoi(PQgetvalue(r, 0, 0)) != 0) printf("#   visible: %s\n", *q);
            CHECK_EQ_INT(atoi(PQgetvalue(r, 0, 0)), 0);
        }
        PQclear(r);
    }
    long long n =
        db_exec_cmd(tx, "UPDATE auth.users SET status = 'disabled' WHERE id = $1::uuid", 1, p, &e);
    CHECK_EQ_INT(n, 0);
    db_rollback(tx);
    /* and B's user still signs in */
    CHECK_EQ_INT(login(g_slug_b, email, PW, NULL, NULL), 200);
}

int main(void) {
    RUN(test_setup);
    if (g_db && g_owner && g_na.user_id[0] && g_admin_a.user_id[0] && g_admin_b.user_id[0]) {
        RUN(test_invite_single_use_and_wrong_club);
        RUN(test_invite_expires);
        RUN(test_refresh_rotation_and_reuse);
        RUN(test_refresh_token_forgery);
        RUN(test_refresh_legacy_token);
        RUN(test_signing_algorithms);
        RUN(test_session_idle_timeout);
        RUN(test_session_absolute_lifetime);
        RUN(test_sessions_current_delete_logout);
        RUN(test_admin_revokes_all_sessions);
        RUN(test_concurrent_refresh_chains);
        RUN(test_mfa_second_step);
        RUN(test_password_reset_single_use);
        RUN(test_password_reset_expires);
        RUN(test_bcrypt_upgraded_at_login);
        RUN(test_roles_grant_and_revoke);
        RUN(test_custom_roles);
        RUN(test_disable_enable);
        RUN(test_audit_list_paginated_and_scoped);
        RUN(test_rls_club_a_cannot_read_club_b);
    }
    db_pool_close(g_db);
    db_pool_close(g_owner);
    TEST_DONE();
}
