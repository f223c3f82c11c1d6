/* member_test_util: helpers shared by the member service tests (header-only, static): a pool
 * on the app role, hand-built callers, svc_dispatch by operation name, clubs per run. */
#ifndef TESTS_SERVICES_MEMBER_TEST_UTIL_H
#define TESTS_SERVICES_MEMBER_TEST_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/json.h"
#include "core/service.h"
#include "core/uuid.h"
#include "services/member/member.h"
#include "test.h"

static db_pool_t *mt_pool;
static svc_env_t mt_env;
static cfg_t mt_cfg;
static svc_settings_t mt_set;

/* The member module's settings in s, writable (a test changes one and restores it). */
static inline member_settings_t *mt_settings(svc_settings_t *s) {
    return svc_settings_edit(s, &member_module);
}

static int mt_open(void) {
    const char *url = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    if (!url) return -1;
    err_t e = {0};
    mt_pool = db_pool_open(url, 4, &e);
    if (!mt_pool) {
        printf("#   pool: %s\n", e.message);
        return -1;
    }
    mt_env.db = mt_pool;
    /* a fixed card key-encryption key; RECIPROCAL_AUTH_KEK comes from tests/run.sh (invites) */
    setenv("RECIPROCAL_CARD_KEK", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", 1);
    unsetenv("RECIPROCAL_CARD_TTL_SECONDS");
    unsetenv("RECIPROCAL_SERVICES");
    if (cfg_load(&mt_cfg, NULL, &e) != 0 || svc_settings_load(&mt_set, NULL, &e) != 0) {
        printf("#   config: %s\n", e.message);
        return -1;
    }
    mt_env.cfg = &mt_cfg;
    mt_env.settings = &mt_set;
    return 0;
}

static void mt_close(void) {
    db_pool_close(mt_pool);
}

static svc_caller_t mt_caller(const char *club, const char *user, int network_admin,
                              const char *perms) {
    svc_caller_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.club_id, sizeof c.club_id, "%s", club ? club : "");
    snprintf(c.user_id, sizeof c.user_id, "%s", user ? user : "");
    c.network_admin = network_admin;
    snprintf(c.perms, sizeof c.perms, "%s", perms ? perms : "");
    snprintf(c.request_id, sizeof c.request_id, "test-%d", (int)getpid());
    return c;
}

/* Dispatches op with the JSON input text; returns the status; *out (may be NULL) gets the
 * output or an {"error":{code, field, message}} object. */
static int mt_call(const svc_caller_t *c, const char *op, const char *input, json_t **out) {
    const svc_op_t *o = svc_find_op(&member_module, op);
    if (!o) {
        printf("#   no operation %s\n", op);
        return -1;
    }
    json_t *in = json_loads(input ? input : "{}", 0, NULL);
    if (!in) {
        printf("#   bad test input for %s: %s\n", op, input);
        return -1;
    }
    err_t e = {0};
    int status = 0;
    json_t *output = NULL;
    svc_dispatch(&mt_env, &member_module, o, c, in, &status, &output, &e);
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

static const char *mt_str(json_t *j, const char *path) {
    /* "a.b.c" */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = j;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
        cur = json_object_get(cur, tok);
    return json_string_value(cur);
}

__attribute__((unused)) static const char *mt_err_field(json_t *j) {
    return mt_str(j, "error.field");
}
__attribute__((unused)) static const char *mt_err_code(json_t *j) {
    return mt_str(j, "error.code");
}

/* Creates a club with a unique slug (tag, pid, start second and a per-process counter: an
 * unseeded random() repeated its numbers, and two clubs of one run met on a slug); id into out. */
static int mt_club(const char *tag, char *out) {
    static long t0;
    static int n;
    if (!t0) t0 = (long)time(NULL) % 100000000;
    svc_caller_t na = mt_caller(NULL, NULL, 1, "*");
    char in[512];
    snprintf(in, sizeof in,
             "{\"name\":\"Club %s\",\"slug\":\"%s-%d-%ld-%d\",\"timezone\":\"Europe/London\","
             "\"address\":{\"country\":\"GB\"}}",
             tag, tag, (int)getpid(), t0, ++n);
    json_t *o = NULL;
    int st = mt_call(&na, "create_club", in, &o);
    if (st != 201) {
        printf("#   create_club %d %s\n", st, o ? jsonx_dump(o) : "");
        json_decref(o);
        return -1;
    }
    snprintf(out, 40, "%s", mt_str(o, "id"));
    json_decref(o);
    return 0;
}

/* A fresh random uuid (for auth user ids; core/uuid). */
static void mt_uuid(char *out) {
    uuid_v4(out);
}

/* A new account of club in the auth service's table (status invited, written in the club's
 * scope as the app role), so a member may be linked to it (auth_user_id must name an account
 * of the member's club); its id into out (40). 0 or -1. */
__attribute__((unused)) static int mt_account(const char *club, char *out) {
    db_scope_t s = {club, NULL, 0, 0};
    db_tx_t *tx = NULL;
    err_t e = {0};
    char email[96];
    snprintf(email, sizeof email, "acct-%ld-%d@example.test", random(), (int)getpid());
    if (db_begin(mt_pool, &s, &tx, &e) != 0) return -1;
    const char *p[] = {club, email};
    PGresult *r = db_exec(tx,
                          "INSERT INTO auth.users (club_id, email) VALUES ($1::uuid, $2) "
                          "RETURNING id",
                          2, p, &e);
    if (!r) {
        printf("#   account: %s\n", e.message);
        db_rollback(tx);
        return -1;
    }
    snprintf(out, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return db_commit(tx, &e);
}

#endif
