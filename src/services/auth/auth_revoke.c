/* auth_revoke: see auth_revoke.h. */
#include "services/auth/auth_revoke.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/log.h"
#include "services/auth/auth_util.h"

/* The most items `revocations` answers (~70 bytes each: well under NATS's 1 MiB payload). When
 * there are more, the answer carries the oldest `at` it covers as `complete_since`, and the
 * gateway refuses every token issued before that instead (authn_cache.h). */
#define REVOCATIONS_MAX 8000

json_t *auth_ids_of(PGresult *r) {
    json_t *a = json_array();
    for (int i = 0; r && i < PQntuples(r); i++)
        json_array_append_new(a, json_string(PQgetvalue(r, i, 0)));
    return a;
}

/* An item of the broadcast; ids in lower case, as tokens carry them. */
static json_t *item(const char *kind, const char *id, long long at) {
    char low[40];
    size_t i = 0;
    for (; id[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)id[i]);
    low[i] = 0;
    return json_pack("{s:s, s:s, s:I}", "kind", kind, "id", low, "at", at);
}

void auth_revoked_publish(const svc_env_t *env, json_t *sessions, const char *club) {
    json_t *items = json_array();
    long long at = (long long)time(NULL);
    size_t i;
    json_t *id;
    json_array_foreach(sessions, i, id) {
        if (json_is_string(id))
            json_array_append_new(items, item("session", json_string_value(id), at));
    }
    if (club) json_array_append_new(items, item("club", club, at));
    if (json_array_size(items) > 0) {
        json_t *msg = json_pack("{s:o}", "items", items);
        char *s = jsonx_dump(msg);
        err_t e = {0};
        if (!s || bus_publish(env->bus, AUTH_REVOKED_SUBJECT, s, strlen(s), &e) != 0)
            log_warn("auth: cannot publish %zu revocation(s) on %s: %s (gateways resync from the "
                     "database)",
                     json_array_size(items), AUTH_REVOKED_SUBJECT, s ? e.message : "out of memory");
        free(s);
        json_decref(msg);
        return;
    }
    json_decref(items);
}

long long auth_revoke_user_sessions(db_tx_t *tx, const char *club, const char *user,
                                    const char *reason, const char *keep_sid, json_t **ids,
                                    err_t *e) {
    const char *p[] = {club, user, reason, keep_sid && keep_sid[0] ? keep_sid : NULL};
    *ids = NULL;
    PGresult *r = db_exec(tx,
                          "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $3 WHERE "
                          "club_id = $1::uuid AND user_id = $2::uuid AND revoked_at IS NULL AND "
                          "id IS DISTINCT FROM $4::uuid RETURNING id",
                          4, p, e);
    if (!r) return -1;
    *ids = auth_ids_of(r);
    PQclear(r);
    return (long long)json_array_size(*ids);
}

int auth_require_club_active(db_tx_t *tx, const char *club, err_t *e) {
    if (strcmp(club, AUTH_NETWORK_CLUB) == 0) return 0;
    const char *p[] = {club};
    PGresult *r =
        db_exec(tx, "SELECT 1 FROM auth.club_suspensions WHERE club_id = $1::uuid", 1, p, e);
    if (!r) return -1;
    int suspended = PQntuples(r) > 0;
    PQclear(r);
    if (suspended)
        return err_set(e, 401, "club_suspended", "",
                       "The club is suspended; its accounts cannot sign in.");
    return 0;
}

/* ---------------------------------------------------------------- revocations (internal) */

int auth_validate_revocations(json_t *in, err_t *e) {
    static const char *const keys[] = {NULL};
    return jsonx_only_keys(in, keys, "", e);
}

/* Sessions revoked and clubs suspended in the last access TTL + slack seconds: what a token
 * verifier must know to refuse every token issued before a revocation. */
int auth_revocations(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    db_tx_t *tx = NULL;
    db_scope_t s = {0}; /* no club: the definer function reads across clubs, ids only */
    char window[16], max[16];
    int w = auth_settings(call->env)->access_ttl_s + AUTH_REVOKED_SLACK_S;
    snprintf(window, sizeof window, "%d", w);
    snprintf(max, sizeof max, "%d", REVOCATIONS_MAX + 1);
    if (db_begin(call->env->db, &s, &tx, e) != 0) return -1;
    const char *p[] = {window, max};
    PGresult *r = db_exec(tx,
                          "SELECT kind, id, at FROM auth.recent_revocations($1::int) ORDER BY at "
                          "DESC LIMIT $2::int",
                          2, p, e);
    if (!r) {
        db_rollback(tx);
        return -1;
    }
    json_t *items = json_array();
    int n = PQntuples(r), complete = n <= REVOCATIONS_MAX;
    for (int i = 0; i < n && i < REVOCATIONS_MAX; i++)
        json_array_append_new(items, json_pack("{s:s, s:s, s:I}", "kind", PQgetvalue(r, i, 0), "id",
                                               PQgetvalue(r, i, 1), "at",
                                               (json_int_t)atoll(PQgetvalue(r, i, 2))));
    long long oldest = complete || n == 0 ? 0 : atoll(PQgetvalue(r, REVOCATIONS_MAX - 1, 2));
    PQclear(r);
    if (db_commit(tx, e) != 0) {
        json_decref(items);
        return -1;
    }
    *out = json_pack("{s:o, s:i}", "items", items, "window", w);
    if (!complete) json_object_set_new(*out, "complete_since", json_integer(oldest));
    return 0;
}

/* ---------------------------------------------------------------- club suspension (internal) */

int auth_validate_club_ref(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_string(in, "club_id", 1, 36, 36, &s, e) != 0) return -1;
    if (!jsonx_is_uuid(s) || strcmp(s, AUTH_NETWORK_CLUB) == 0)
        return err_invalid(e, "club_id", "club_id must be a club id");
    return 0;
}

/* A network admin acts on any club, a club caller (club:admin) only on its own. */
static int club_allowed(const svc_call_t *call, const char *club, err_t *e) {
    if (call->caller->network_admin || strcmp(call->caller->club_id, club) == 0) return 0;
    return err_set(e, 403, "forbidden", "club_id", "you may not act on another club");
}

/* Records the suspension and revokes every live session of the club (one transaction in the
 * club's scope), then broadcasts the club and the sessions. Idempotent: an already suspended
 * club keeps its first suspension time; sessions opened since (none can be) are revoked too. */
int auth_club_suspend(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = json_string_value(json_object_get(in, "club_id"));
    db_tx_t *tx = NULL;
    if (club_allowed(call, club, e) != 0) return -1;
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    const char *u = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *p[] = {club, u};
    if (db_exec_cmd(tx,
                    "INSERT INTO auth.club_suspensions (club_id, suspended_by) VALUES ($1::uuid, "
                    "$2::uuid) ON CONFLICT (club_id) DO NOTHING",
                    2, p, e) < 0)
        goto fail;
    PGresult *r = db_exec(tx,
                          "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = "
                          "'club_suspended' WHERE club_id = $1::uuid AND revoked_at IS NULL "
                          "RETURNING id",
                          1, p, e);
    if (!r) goto fail;
    json_t *ids = auth_ids_of(r);
    PQclear(r);
    if (auth_audit(tx, call->caller, club, NULL, "club_suspended",
                   json_pack("{s:I}", "sessions", (json_int_t)json_array_size(ids)), e) != 0) {
        json_decref(ids);
        goto fail;
    }
    if (db_commit(tx, e) != 0) {
        json_decref(ids);
        return -1;
    }
    auth_revoked_publish(call->env, ids, club);
    *out = json_pack("{s:s, s:b, s:I}", "club_id", club, "suspended", 1, "sessions_revoked",
                     (json_int_t)json_array_size(ids));
    json_decref(ids);
    return 0;
fail:
    db_rollback(tx);
    return -1;
}

int auth_club_resume(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = json_string_value(json_object_get(in, "club_id"));
    db_tx_t *tx = NULL;
    if (club_allowed(call, club, e) != 0) return -1;
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    const char *p[] = {club};
    long long n =
        db_exec_cmd(tx, "DELETE FROM auth.club_suspensions WHERE club_id = $1::uuid", 1, p, e);
    if (n < 0 ||
        (n > 0 && auth_audit(tx, call->caller, club, NULL, "club_resumed", NULL, e) != 0)) {
        db_rollback(tx);
        return -1;
    }
    if (db_commit(tx, e) != 0) return -1;
    *out = json_pack("{s:s, s:b}", "club_id", club, "suspended", 0);
    return 0;
}

/* ---------------------------------------------------------------- accounts (internal) */

int auth_validate_users_in_club(json_t *in, err_t *e) {
    static const char *const keys[] = {"user_ids", "club_id", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_string(in, "club_id", 1, 36, 36, &s, e) != 0) return -1;
    if (!jsonx_is_uuid(s)) return err_invalid(e, "club_id", "not a club id");
    json_t *ids = json_object_get(in, "user_ids");
    if (!ids) return err_missing(e, "user_ids");
    if (!json_is_array(ids)) return err_type(e, "user_ids", "user_ids must be an array of ids");
    if (json_array_size(ids) < 1 || json_array_size(ids) > AUTH_USERS_IN_CLUB_MAX)
        return err_invalid(e, "user_ids", "user_ids must be an array of 1 to %d ids",
                           AUTH_USERS_IN_CLUB_MAX);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v)) return err_type(e, "user_ids", "user_ids must hold strings");
        if (!jsonx_is_uuid(json_string_value(v)))
            return err_invalid(e, "user_ids", "user_ids must hold account ids");
    }
    return 0;
}

/* Which of user_ids are accounts of club_id: {club_id, found: [ids]}. Read in that club's
 * scope, so another club's account is never found. */
int auth_users_in_club(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = json_string_value(json_object_get(in, "club_id"));
    if (club_allowed(call, club, e) != 0) return -1;
    char *ids = jsonx_dump(json_object_get(in, "user_ids"));
    if (!ids) return err_set(e, 500, "internal", "", "out of memory");
    db_scope_t s = {.club_id = club, .user_id = call->caller->user_id};
    const char *p[] = {club, ids};
    PGresult *r = db_read(call->env->db, &s,
                          "SELECT id FROM auth.users WHERE club_id = $1::uuid AND id IN (SELECT "
                          "jsonb_array_elements_text($2::jsonb)::uuid)",
                          2, p, e);
    free(ids);
    if (!r) return -1;
    *out = json_pack("{s:s, s:o}", "club_id", club, "found", auth_ids_of(r));
    PQclear(r);
    return 0;
}
