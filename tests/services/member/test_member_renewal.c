/* Member service, second part (svc_dispatch level, real PostgreSQL): the card configuration
 * (RECIPROCAL_CARD_KEK / RECIPROCAL_CARD_TTL_SECONDS in core/config, 503 without a key),
 * per-club card lifetime, card-key rotation (old key published while its tokens live),
 * renewal (lapsed -> active through renew, expiry extension of dependents, audit, events) and
 * the invitation of a new member through the auth service (linked auth_user_id, accepted
 * invitation -> the account sees its member record). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "member_test_util.h"
#include "services/auth/auth.h"
#include "services/member/cards.h"
#include "test.h"

#define ADMIN_PERMS "member:read member:write member:admin auth:invite visit:verify"

static char club_a[40], club_b[40];
static svc_caller_t admin_a, staff_a, admin_b;

/* ---- config ---- */

static const char *g_kek, *g_ttl;
static const char *fake_env(const char *name) {
    if (!strcmp(name, "RECIPROCAL_CARD_KEK")) return g_kek;
    if (!strcmp(name, "RECIPROCAL_CARD_TTL_SECONDS")) return g_ttl;
    return NULL;
}

static void test_config(void) {
    static svc_settings_t c;
    err_t e = {0};
    const svc_env_t env = {.settings = &c};
    g_kek = NULL, g_ttl = NULL;
    REQUIRE(svc_settings_load(&c, fake_env, &e) == 0);
    CHECK_EQ_INT(member_settings(&env)->card_kek.set, 0);
    CHECK_EQ_INT(member_settings(&env)->card_ttl_s, 86400);
    CHECK_EQ_INT(auth_settings(&env)->kek.set, 0);
    g_kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", g_ttl = "604800";
    REQUIRE(svc_settings_load(&c, fake_env, &e) == 0);
    CHECK_EQ_INT(member_settings(&env)->card_kek.set, 1);
    CHECK_EQ_INT(member_settings(&env)->card_kek.key[31], 31);
    CHECK_EQ_INT(auth_settings(&env)->kek.set, 0); /* the card key is not the auth key */
    CHECK_EQ_INT(member_settings(&env)->card_ttl_s, 604800);
    g_ttl = "59";
    CHECK_EQ_INT(svc_settings_load(&c, fake_env, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_CARD_TTL_SECONDS");
    g_ttl = NULL, g_kek = "c2hvcnQ=";
    CHECK_EQ_INT(svc_settings_load(&c, fake_env, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_CARD_KEK");
    CHECK(strstr(e.message, "c2hvcnQ") == NULL); /* a secret is never echoed */
}

/* ---- helpers ---- */

static int create(const svc_caller_t *c, const char *json, char *id, json_t **out) {
    json_t *o = NULL;
    int st = mt_call(c, "create_member", json, &o);
    if (st == 201 && id) snprintf(id, 40, "%s", mt_str(o, "id"));
    if (st != 201 && !out) {
        char *d = jsonx_dump(o);
        printf("#   create_member %d %s\n", st, d ? d : "");
        free(d);
    }
    if (out)
        *out = o;
    else
        json_decref(o);
    return st;
}

static int card(const svc_caller_t *c, const char *id, const char *extra, json_t **out) {
    char in[256];
    snprintf(in, sizeof in, "{\"id\":\"%s\"%s}", id, extra ? extra : "");
    return mt_call(c, "get_member_card", in, out);
}

/* Counts rows of a query with one parameter in the app role (relay scope for outboxes). */
static int count_rows(int relay, const char *club, const char *sql, const char *arg) {
    db_scope_t s = {.club_id = club, .network_admin = relay, .relay = relay};
    db_tx_t *tx;
    err_t e = {0};
    if (db_begin(mt_pool, &s, &tx, &e) != 0) return -1;
    const char *p[] = {arg};
    PGresult *r = db_exec(tx, sql, 1, p, &e);
    int n = r ? atoi(PQgetvalue(r, 0, 0)) : -1;
    if (!r) printf("#   count: %s\n", e.message);
    PQclear(r);
    db_rollback(tx);
    return n;
}

/* ---- cards ---- */

static void test_card_unconfigured(void) {
    char id[40];
    REQUIRE(create(&admin_a,
                   "{\"category\":\"full\",\"status\":\"active\",\"profile\":{\"first_name\":"
                   "\"No\",\"last_name\":\"Key\"}}",
                   id, NULL) == 201);
    static svc_settings_t nokey;
    nokey = mt_set;
    mt_settings(&nokey)->card_kek.set = 0;
    mt_env.settings = &nokey;
    json_t *o = NULL;
    CHECK_EQ_INT(card(&admin_a, id, NULL, &o), 503);
    CHECK_STR(mt_err_code(o), "card_signing_unconfigured");
    CHECK(strstr(mt_str(o, "error.message"), "RECIPROCAL_CARD_KEK") != NULL);
    json_decref(o);
    mt_env.settings = &mt_set;
    CHECK_EQ_INT(card(&admin_a, id, NULL, NULL), 200);
}

static long long token_life(json_t *o) {
    json_t *c = json_object_get(o, "card");
    return json_integer_value(json_object_get(c, "tex")) -
           json_integer_value(json_object_get(c, "iat"));
}

static void test_card_ttl(void) {
    char id[40];
    json_t *o = NULL;
    REQUIRE(create(&admin_b,
                   "{\"category\":\"full\",\"status\":\"active\",\"profile\":{\"first_name\":"
                   "\"Tim\",\"last_name\":\"Ttl\"}}",
                   id, NULL) == 201);
    /* the server default (RECIPROCAL_CARD_TTL_SECONDS) */
    static svc_settings_t shorter;
    shorter = mt_set;
    mt_settings(&shorter)->card_ttl_s = 7200;
    mt_env.settings = &shorter;
    REQUIRE(card(&admin_b, id, NULL, &o) == 200);
    CHECK_EQ_INT(token_life(o), 7200);
    json_decref(o);
    mt_env.settings = &mt_set;
    /* the club's own lifetime; the request may only shorten it */
    CHECK_EQ_INT(mt_call(&staff_a, "update_member_settings", "{\"card_ttl_seconds\":120}", NULL),
                 403);
    CHECK_EQ_INT(mt_call(&admin_b, "update_member_settings", "{\"card_ttl_seconds\":59}", NULL),
                 422);
    REQUIRE(mt_call(&admin_b, "update_member_settings", "{\"card_ttl_seconds\":120}", &o) == 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "card_ttl_seconds")), 120);
    json_decref(o);
    REQUIRE(card(&admin_b, id, NULL, &o) == 200);
    CHECK_EQ_INT(token_life(o), 120);
    json_decref(o);
    REQUIRE(card(&admin_b, id, ",\"ttl_seconds\":3600", &o) == 200);
    CHECK_EQ_INT(token_life(o), 120);
    json_decref(o);
    REQUIRE(card(&admin_b, id, ",\"ttl_seconds\":60", &o) == 200);
    CHECK_EQ_INT(token_life(o), 60);
    json_decref(o);
    /* other settings keep it; null goes back to the server default */
    REQUIRE(mt_call(&admin_b, "update_member_settings", "{\"next_seq\":5}", &o) == 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "card_ttl_seconds")), 120);
    json_decref(o);
    REQUIRE(mt_call(&admin_b, "update_member_settings", "{\"card_ttl_seconds\":null}", &o) == 200);
    CHECK(json_is_null(json_object_get(o, "card_ttl_seconds")));
    json_decref(o);
    REQUIRE(card(&admin_b, id, NULL, &o) == 200);
    CHECK_EQ_INT(token_life(o), 86400);
    json_decref(o);
}

static json_t *published_keys(const char *club) {
    char in[80];
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", club);
    svc_caller_t nobody = mt_caller(NULL, NULL, 0, "");
    json_t *o = NULL;
    if (mt_call(&nobody, "club_card_key", in, &o) != 200) {
        json_decref(o);
        return NULL;
    }
    json_t *k = json_incref(json_object_get(o, "keys"));
    json_decref(o);
    return k;
}

static int has_kid(json_t *keys, const char *kid) {
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) if (!strcmp(mt_str(k, "kid"), kid)) return 1;
    return 0;
}

static void test_key_rotation(void) {
    char id[40], token[2048], vin[2200], k1[40], k2[40], k3[40];
    json_t *o = NULL;
    REQUIRE(create(&admin_a,
                   "{\"category\":\"full\",\"status\":\"active\",\"profile\":{\"first_name\":"
                   "\"Rob\",\"last_name\":\"Rotate\"}}",
                   id, NULL) == 201);
    REQUIRE(card(&admin_a, id, NULL, &o) == 200);
    snprintf(token, sizeof token, "%s", mt_str(o, "token"));
    snprintf(k1, sizeof k1, "%s", mt_str(o, "card.kid"));
    json_decref(o);
    CHECK_EQ_INT(mt_call(&staff_a, "rotate_card_key", "{}", NULL), 403);
    REQUIRE(mt_call(&admin_a, "rotate_card_key", "{}", &o) == 200);
    snprintf(k2, sizeof k2, "%s", mt_str(o, "kid"));
    CHECK(strcmp(k1, k2) != 0);
    CHECK_STR(json_string_value(json_array_get(json_object_get(o, "retired"), 0)), k1);
    json_decref(o);
    /* new cards use the new key; the old token still verifies, its key is still published */
    REQUIRE(card(&admin_a, id, NULL, &o) == 200);
    CHECK_STR(mt_str(o, "card.kid"), k2);
    json_decref(o);
    snprintf(vin, sizeof vin, "{\"token\":\"%s\"}", token);
    REQUIRE(mt_call(&admin_a, "verify_card", vin, &o) == 200);
    CHECK(json_is_true(json_object_get(o, "valid")));
    json_decref(o);
    json_t *keys = published_keys(club_a);
    REQUIRE(keys != NULL);
    CHECK(has_kid(keys, k1) && has_kid(keys, k2));
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        if (!strcmp(mt_str(k, "kid"), k1)) CHECK(mt_str(k, "retired_at") != NULL);
        if (!strcmp(mt_str(k, "kid"), k2)) CHECK(json_is_null(json_object_get(k, "retired_at")));
    }
    json_decref(keys);
    /* a retired key whose tokens have all expired is no longer published: k3 signs nothing */
    REQUIRE(mt_call(&admin_a, "rotate_card_key", "{}", &o) == 200);
    snprintf(k3, sizeof k3, "%s", mt_str(o, "kid"));
    json_decref(o);
    REQUIRE(mt_call(&admin_a, "rotate_card_key", "{}", NULL) == 200);
    keys = published_keys(club_a);
    REQUIRE(keys != NULL);
    CHECK(!has_kid(keys, k3));
    CHECK(has_kid(keys, k1) && has_kid(keys, k2));
    json_decref(keys);
}

/* ---- renewal ---- */

static void test_renewal(void) {
    char id[40], dep[40], in[512];
    json_t *o = NULL;
    REQUIRE(create(&admin_a,
                   "{\"category\":\"full\",\"status\":\"active\",\"joined_on\":\"2019-01-01\","
                   "\"expires_on\":\"2020-12-31\",\"profile\":{\"first_name\":\"Rene\","
                   "\"last_name\":\"Renew\"},\"dependents\":[{\"category\":\"junior\","
                   "\"relationship\":\"child\",\"joined_on\":\"2019-01-01\",\"expires_on\":"
                   "\"2020-12-31\",\"profile\":{\"first_name\":\"Kid\",\"last_name\":\"Renew\"}}]}",
                   id, &o) == 201);
    snprintf(dep, sizeof dep, "%s",
             mt_str(json_array_get(json_object_get(o, "dependents"), 0), "id"));
    json_decref(o);
    REQUIRE(mt_call(&admin_a, "lapse_sweep", "{}", NULL) == 200);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", dep);
    REQUIRE(mt_call(&admin_a, "get_member", in, &o) == 200);
    CHECK_STR(mt_str(o, "status"), "lapsed");
    json_decref(o);
    /* back to active only with a new expiry */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"status\":\"active\"}", id);
    REQUIRE(mt_call(&admin_a, "change_member_status", in, &o) == 409);
    CHECK_STR(mt_err_code(o), "renewal_required");
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"expires_on\":\"2099-12-31\"}", id);
    CHECK_EQ_INT(mt_call(&staff_a, "renew_member", in, NULL), 403);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"expires_on\":\"2021-06-30\"}", id);
    REQUIRE(mt_call(&admin_a, "renew_member", in, &o) == 422);
    CHECK_STR(mt_err_field(o), "expires_on");
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"expires_on\":\"2099-12-31\"}", dep);
    CHECK_EQ_INT(mt_call(&admin_a, "renew_member", in, NULL), 409);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"expires_on\":\"2099-12-31\",\"reason\":\"paid\"}",
             id);
    REQUIRE(mt_call(&admin_a, "renew_member", in, &o) == 200);
    CHECK_STR(mt_str(o, "status"), "active");
    CHECK_STR(mt_str(o, "expires_on"), "2099-12-31");
    CHECK_EQ_INT(json_array_size(json_object_get(o, "changes")), 2); /* + the dependent */
    CHECK_STR(json_string_value(json_array_get(json_object_get(o, "extended_dependents"), 0)), dep);
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", dep);
    REQUIRE(mt_call(&admin_a, "get_member", in, &o) == 200);
    CHECK_STR(mt_str(o, "status"), "active");
    CHECK_STR(mt_str(o, "expires_on"), "2099-12-31");
    json_decref(o);
    /* history with the reason, audit entry, events */
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    REQUIRE(mt_call(&admin_a, "member_status_history", in, &o) == 200);
    json_t *items = json_object_get(o, "items");
    json_t *last = json_array_get(items, json_array_size(items) - 1);
    CHECK_STR(mt_str(last, "from"), "lapsed");
    CHECK_STR(mt_str(last, "to"), "active");
    CHECK_STR(mt_str(last, "reason"), "paid");
    json_decref(o);
    CHECK_EQ_INT(count_rows(0, club_a,
                            "SELECT count(*) FROM member.audit_log WHERE club_id = "
                            "core.current_club() AND action = 'renew' AND member_id = $1::uuid",
                            id),
                 1);
    CHECK_EQ_INT(count_rows(1, NULL,
                            "SELECT count(*) FROM member.outbox WHERE type = 'member.renewed' "
                            "AND payload->'data'->>'member_id' = $1",
                            id),
                 1);
    CHECK_EQ_INT(count_rows(1, NULL,
                            "SELECT count(*) FROM member.outbox WHERE type = 'member.renewed' "
                            "AND payload->'data'->>'renewed_with' = $1",
                            id),
                 1);
    /* an active member is extended without a status change; never backwards */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"expires_on\":\"2100-06-30\"}", id);
    REQUIRE(mt_call(&admin_a, "renew_member", in, &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "changes")), 0);
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"expires_on\":\"2100-01-01\"}", id);
    CHECK_EQ_INT(mt_call(&admin_a, "renew_member", in, NULL), 422);
    /* a lapsed member without an expiry (manually lapsed) may become active by status */
    char m2[40];
    REQUIRE(create(&admin_a,
                   "{\"category\":\"full\",\"status\":\"active\",\"profile\":{\"first_name\":"
                   "\"Lou\",\"last_name\":\"Lapsed\"}}",
                   m2, NULL) == 201);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"status\":\"lapsed\"}", m2);
    REQUIRE(mt_call(&admin_a, "change_member_status", in, NULL) == 200);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"status\":\"active\"}", m2);
    CHECK_EQ_INT(mt_call(&admin_a, "change_member_status", in, NULL), 200);
    /* ended memberships are not renewed */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"status\":\"resigned\"}", m2);
    REQUIRE(mt_call(&admin_a, "change_member_status", in, NULL) == 200);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"expires_on\":\"2099-12-31\"}", m2);
    CHECK_EQ_INT(mt_call(&admin_a, "renew_member", in, NULL), 409);
}

/* ---- invitation through the auth service ---- */

static int club_slug(const char *club, char *out, size_t cap) {
    db_scope_t s = {.club_id = club};
    db_tx_t *tx;
    err_t e = {0};
    if (db_begin(mt_pool, &s, &tx, &e) != 0) return -1;
    const char *p[] = {club};
    PGresult *r = db_exec(tx, "SELECT slug FROM member.clubs WHERE id = $1::uuid", 1, p, &e);
    int ok = r && PQntuples(r) == 1;
    if (ok) snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    db_rollback(tx);
    return ok ? 0 : -1;
}

/* The invitation token of user_id: its event carries the token's id only (docs/security.md N3);
 * the auth operation delivery_token gives the token to a caller holding auth:deliver. */
static int invite_token(const char *user_id, char *out, size_t cap) {
    db_scope_t s = {.network_admin = 1, .relay = 1};
    db_tx_t *tx;
    err_t e = {0};
    char club[40] = "", token_id[40] = "";
    if (db_begin(mt_pool, &s, &tx, &e) != 0) return -1;
    const char *p[] = {user_id};
    PGresult *r = db_exec(tx,
                          "SELECT payload->'data'->>'club_id', payload->'data'->>'token_id' FROM "
                          "auth.outbox WHERE type = 'auth.invite_created' AND "
                          "payload->'data'->>'user_id' = $1 ORDER BY seq DESC LIMIT 1",
                          1, p, &e);
    int ok = r && PQntuples(r) == 1;
    if (!r) printf("#   outbox: %s\n", e.message);
    if (ok) {
        snprintf(club, sizeof club, "%s", PQgetvalue(r, 0, 0));
        snprintf(token_id, sizeof token_id, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    db_rollback(tx);
    if (!ok) return -1;
    svc_caller_t sys = mt_caller(NULL, NULL, 0, "auth:deliver");
    json_t *in = json_pack("{s:s, s:s}", "club_id", club, "token_id", token_id), *o = NULL;
    int st = 0;
    svc_call(&mt_env, "auth", "delivery_token", &sys, in, &st, &o, &e);
    json_decref(in);
    const char *tok = json_string_value(json_object_get(o, "token"));
    ok = st == 200 && tok;
    if (ok) snprintf(out, cap, "%s", tok);
    json_decref(o);
    return ok ? 0 : -1;
}

static int auth_call(const char *op, json_t *in, json_t **out) {
    svc_caller_t anon = mt_caller(NULL, NULL, 0, "");
    err_t e = {0};
    int st = 0;
    *out = NULL;
    svc_call(&mt_env, "auth", op, &anon, in, &st, out, &e);
    json_decref(in);
    return st;
}

static void test_invite(void) {
    char id[40], in[1024], email[128], tok[128], slug[80];
    json_t *o = NULL;
    snprintf(email, sizeof email, "invitee-%d-%ld@example.com", (int)getpid(), random() % 100000);
    /* needs an email, and not together with auth_user_id */
    CHECK_EQ_INT(create(&admin_a,
                        "{\"category\":\"full\",\"invite\":true,\"profile\":{\"first_name\":"
                        "\"No\",\"last_name\":\"Mail\"}}",
                        NULL, &o),
                 400); /* a field required by invite is missing */
    CHECK_STR(mt_err_field(o), "profile.email");
    json_decref(o);
    /* staff without auth:invite: 403 and nothing is created */
    snprintf(in, sizeof in,
             "{\"category\":\"full\",\"invite\":true,\"profile\":{\"first_name\":\"Ina\","
             "\"last_name\":\"Vite\",\"email\":\"%s\"}}",
             email);
    CHECK_EQ_INT(create(&staff_a, in, NULL, &o), 403);
    CHECK_STR(mt_err_field(o), "invite");
    json_decref(o);
    CHECK_EQ_INT(count_rows(0, club_a,
                            "SELECT count(*) FROM member.profiles WHERE club_id = "
                            "core.current_club() AND email = $1",
                            email),
                 0);
    /* invited: linked to the new account at once */
    REQUIRE(create(&admin_a, in, id, &o) == 201);
    const char *user = mt_str(o, "auth_user_id");
    REQUIRE(user != NULL);
    char user_id[40];
    snprintf(user_id, sizeof user_id, "%s", user);
    CHECK_STR(mt_str(o, "invitation.user_id"), user_id);
    CHECK_STR(mt_str(o, "invitation.status"), "sent");
    CHECK(mt_str(o, "invitation.expires_at") != NULL);
    json_decref(o);
    /* the same email again: the account exists, 409 on profile.email, no second member */
    snprintf(in, sizeof in,
             "{\"category\":\"social\",\"invite\":true,\"profile\":{\"first_name\":\"Ina\","
             "\"last_name\":\"Again\",\"email\":\"%s\"}}",
             email);
    CHECK_EQ_INT(create(&admin_a, in, NULL, &o), 409);
    CHECK_STR(mt_err_field(o), "profile.email");
    json_decref(o);
    CHECK_EQ_INT(count_rows(0, club_a,
                            "SELECT count(*) FROM member.profiles WHERE club_id = "
                            "core.current_club() AND email = $1",
                            email),
                 1);
    /* the invitee accepts, signs in, and the token's user is the member */
    REQUIRE(invite_token(user_id, tok, sizeof tok) == 0);
    REQUIRE(club_slug(club_a, slug, sizeof slug) == 0);
    const char *pw = "Tangerine-Lighthouse-42";
    CHECK_EQ_INT(auth_call("register", json_pack("{s:s, s:s}", "token", tok, "password", pw), &o),
                 200);
    json_decref(o);
    REQUIRE(auth_call("login",
                      json_pack("{s:s, s:s, s:s}", "club", slug, "email", email, "password", pw),
                      &o) == 200);
    CHECK_STR(mt_str(o, "user.id"), user_id);
    json_decref(o);
    svc_caller_t me = mt_caller(club_a, user_id, 0, "auth:self club:read");
    REQUIRE(mt_call(&me, "get_me", "{}", &o) == 200);
    CHECK_STR(mt_str(o, "id"), id);
    json_decref(o);
}

int main(void) {
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    RUN(test_config);
    if (mt_open() != 0 || mt_club("na", club_a) != 0 || mt_club("nb", club_b) != 0) {
        printf("#   no database or clubs\n");
        RUN(test_card_unconfigured);
        TEST_DONE();
    }
    char u[40];
    mt_uuid(u);
    admin_a = mt_caller(club_a, u, 0, ADMIN_PERMS);
    mt_uuid(u);
    staff_a = mt_caller(club_a, u, 0, "member:read member:write");
    mt_uuid(u);
    admin_b = mt_caller(club_b, u, 0, ADMIN_PERMS);
    RUN(test_card_unconfigured);
    RUN(test_card_ttl);
    RUN(test_key_rotation);
    RUN(test_renewal);
    RUN(test_invite);
    mt_close();
    TEST_DONE();
}
