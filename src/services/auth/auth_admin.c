/* auth_admin: see auth_admin.h. */
#include "services/auth/auth_admin.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cursor.h"
#include "core/json.h"
#include "services/auth/auth_me.h"
#include "services/auth/auth_revoke.h"
#include "services/auth/auth_util.h"
#include "services/auth/rbac.h"

#define NOT_FOUND "no such user"

/* ---------------------------------------------------------------- validation */

static int v_user_id(json_t *in, err_t *e) {
    const char *s;
    if (jsonx_string(in, "id", 1, 36, 36, &s, e) != 0) return -1;
    if (!jsonx_is_uuid(s)) return err_set(e, 404, "not_found", "id", NOT_FOUND);
    return 0;
}

/* role: a built-in role or a custom role name (whether the club has it is checked later) */
static int v_role(json_t *in, const char *name, err_t *e) {
    const char *s;
    if (jsonx_string(in, name, 1, 1, 40, &s, e) != 0) return -1;
    if (!rbac_is_role(s) && !rbac_is_custom_name(s))
        return err_invalid(
            e, name,
            "%s must be network_admin, club_admin, club_staff, club_treasurer, member or the "
            "name of a "
            "custom role ([a-z][a-z0-9_]{1,39})",
            name);
    return 0;
}

int auth_validate_role_change(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "role", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (v_user_id(in, e) != 0) return -1;
    return v_role(in, "role", e);
}

int auth_validate_role_create(json_t *in, err_t *e) {
    static const char *const keys[] = {"name", "permissions", "club_id", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_string(in, "name", 1, 2, 40, &s, e) != 0) return -1;
    if (!rbac_is_custom_name(s))
        return err_invalid(e, "name",
                           "name must match [a-z][a-z0-9_]{1,39} and not be a built-in role");
    if (jsonx_string(in, "club_id", 0, 36, 36, &s, e) != 0) return -1;
    if (s && !jsonx_is_uuid(s)) return err_invalid(e, "club_id", "club_id must be a club id");
    json_t *perms = json_object_get(in, "permissions");
    if (!perms || json_is_null(perms)) return err_missing(e, "permissions");
    if (!json_is_array(perms))
        return err_type(e, "permissions", "permissions must be a list of permission names");
    if (json_array_size(perms) < 1 || json_array_size(perms) > 32)
        return err_invalid(e, "permissions",
                           "permissions must be a list of 1 to 32 permission names");
    size_t i, j;
    json_t *p;
    json_array_foreach(perms, i, p) {
        const char *v = json_string_value(p);
        if (!v) return err_type(e, "permissions", "permissions must hold strings");
        if (!rbac_is_grantable(v))
            return err_invalid(e, "permissions", "permissions may hold only these: %s",
                               rbac_role_perms("club_admin"));
        for (j = 0; j < i; j++)
            if (strcmp(v, json_string_value(json_array_get(perms, j))) == 0)
                return err_invalid(e, "permissions", "permissions lists %s twice", v);
    }
    return 0;
}

int auth_validate_role_name(json_t *in, err_t *e) {
    static const char *const keys[] = {"name", "club_id", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_string(in, "name", 1, 1, 40, &s, e) != 0) return -1;
    if (!rbac_is_custom_name(s)) return err_set(e, 404, "not_found", "name", "no such custom role");
    if (jsonx_string(in, "club_id", 0, 36, 36, &s, e) != 0) return -1;
    if (s && !jsonx_is_uuid(s)) return err_invalid(e, "club_id", "club_id must be a club id");
    return 0;
}

int auth_validate_roles_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_string(in, "club_id", 0, 36, 36, &s, e) != 0) return -1;
    if (s && !jsonx_is_uuid(s)) return err_invalid(e, "club_id", "club_id must be a club id");
    return 0;
}

int auth_validate_audit_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"limit", "after", "user_id", "action", "club_id", NULL};
    const char *s;
    long long n;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_int(in, "limit", 0, 1, 100, 50, &n, e) != 0) return -1;
    if (jsonx_string(in, "user_id", 0, 36, 36, &s, e) != 0) return -1;
    if (s && !jsonx_is_uuid(s)) return err_invalid(e, "user_id", "user_id must be a user id");
    if (jsonx_string(in, "club_id", 0, 36, 36, &s, e) != 0) return -1;
    if (s && !jsonx_is_uuid(s)) return err_invalid(e, "club_id", "club_id must be a club id");
    if (jsonx_string(in, "action", 0, 1, 64, &s, e) != 0) return -1;
    if (jsonx_string(in, "after", 0, 1, CURSOR_MAX_LEN, &s, e) != 0) return -1;
    cursor_t cur;
    if (s && cursor_decode(s, "audit", "iu", "after", &cur, e) != 0) return -1;
    return 0;
}

/* ---------------------------------------------------------------- helpers */

/* The target user, locked, in the caller's scope (RLS: a club admin sees its club only). 1 when
 * found (club/status filled), 0 when not (404 set), -1 on error. */
static int find_user(const svc_call_t *call, db_tx_t *tx, const char *id, char club[40],
                     char status[16], err_t *e) {
    const svc_caller_t *c = call->caller;
    const char *p[] = {id};
    PGresult *r = db_exec(
        tx, "SELECT club_id, status FROM auth.users WHERE id = $1::uuid FOR UPDATE", 1, p, e);
    if (!r) return -1;
    int found = PQntuples(r) == 1;
    if (found) {
        snprintf(club, 40, "%s", PQgetvalue(r, 0, 0));
        snprintf(status, 16, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    /* RLS already hides other clubs' users; this makes the rule independent of the policy */
    if (found && !c->network_admin && strcmp(club, c->club_id) != 0) found = 0;
    if (!found) err_set(e, 404, "not_found", "id", NOT_FOUND);
    return found;
}

static int not_self(const svc_caller_t *c, const char *id, const char *what, err_t *e) {
    if (strcmp(c->user_id, id) == 0)
        return err_set(e, 403, "forbidden", "id", "you cannot %s your own account", what);
    return 0;
}

static json_t *roles_of(db_tx_t *tx, const char *club, const char *id, err_t *e) {
    const char *p[] = {club, id};
    return db_query_json(tx,
                         "SELECT coalesce(jsonb_agg(role ORDER BY role), '[]')::text FROM "
                         "auth.user_roles WHERE club_id = $1::uuid AND user_id = $2::uuid",
                         2, p, e);
}

static const char *public_club(const char *club) {
    return strcmp(club, AUTH_NETWORK_CLUB) == 0 ? NULL : club;
}

/* ---------------------------------------------------------------- roles */

static int role_change(const svc_call_t *call, json_t *in, int grant, json_t **out, err_t *e) {
    const svc_caller_t *c = call->caller;
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *role = json_string_value(json_object_get(in, "role"));
    char club[40], status[16];
    db_tx_t *tx = NULL;
    int network_role = strcmp(role, "network_admin") == 0;
    if (network_role && !c->network_admin)
        return err_set(e, 403, "forbidden", "role",
                       "only a network administrator can grant or remove network_admin");
    if (not_self(c, id, "change the roles of", e) != 0) return -1;
    if (svc_begin(call, &tx, e) != 0) return -1;
    int found = find_user(call, tx, id, club, status, e);
    if (found <= 0) goto fail;
    int network_user = strcmp(club, AUTH_NETWORK_CLUB) == 0;
    if (network_role != network_user) {
        err_invalid(e, "role",
                    network_user
                        ? "a network account can hold only network_admin"
                        : "network_admin is held only by network accounts, not club members");
        goto fail;
    }
    /* the permissions the role carries: built-in, or the club's custom role */
    char role_perms[512];
    if (rbac_is_role(role)) {
        snprintf(role_perms, sizeof role_perms, "%s", rbac_role_perms(role));
    } else {
        const char *q[] = {club, role};
        PGresult *r = db_exec(
            tx, "SELECT perms FROM auth.roles WHERE club_id = $1::uuid AND name = $2", 2, q, e);
        if (!r) goto fail;
        int have = PQntuples(r) == 1;
        snprintf(role_perms, sizeof role_perms, "%s", have ? PQgetvalue(r, 0, 0) : "");
        PQclear(r);
        if (!have && grant) {
            err_invalid(e, "role", "the club has no role %s", role);
            goto fail;
        }
    }
    const char *p[] = {club, id, role, c->user_id[0] ? c->user_id : NULL};
    long long n = grant ? db_exec_cmd(tx,
                                      "INSERT INTO auth.user_roles (club_id, user_id, role, "
                                      "granted_by) VALUES ($1::uuid, $2::uuid, $3, $4::uuid) ON "
                                      "CONFLICT DO NOTHING",
                                      4, p, e)
                        : db_exec_cmd(tx,
                                      "DELETE FROM auth.user_roles WHERE club_id = $1::uuid AND "
                                      "user_id = $2::uuid AND role = $3",
                                      3, p, e);
    if (n < 0) goto fail;
    if (n == 0 && !grant) {
        err_set(e, 404, "not_found", "role", "the user does not hold the role %s", role);
        goto fail;
    }
    if (n > 0) {
        const char *action = grant ? "permission_granted" : "permission_revoked";
        char type[48];
        snprintf(type, sizeof type, "auth.%s", action);
        if (auth_audit(tx, c, club, id, action, json_pack("{s:s}", "role", role), e) != 0 ||
            svc_emit(call, tx, type, club,
                     json_pack("{s:s, s:o, s:s, s:s, s:s}", "user_id", id, "club_id",
                               public_club(club) ? json_string(club) : json_null(), "role", role,
                               "permissions", role_perms, "by", c->user_id),
                     e) != 0)
            goto fail;
    }
    json_t *roles = roles_of(tx, club, id, e);
    if (!roles) goto fail;
    if (db_commit(tx, e) != 0) {
        json_decref(roles);
        return -1;
    }
    if (n > 0) auth_me_changed(club, id);
    *out = json_pack("{s:s, s:o, s:o, s:b}", "user_id", id, "club_id",
                     public_club(club) ? json_string(club) : json_null(), "roles", roles, "changed",
                     n > 0);
    return 0;
fail:
    db_rollback(tx);
    return -1;
}

int auth_role_grant(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return role_change(call, in, 1, out, e);
}

int auth_role_revoke(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return role_change(call, in, 0, out, e);
}

/* ---------------------------------------------------------------- disable / enable */

static int set_status(const svc_call_t *call, json_t *in, int disable, json_t **out, err_t *e) {
    const svc_caller_t *c = call->caller;
    const char *id = json_string_value(json_object_get(in, "id"));
    char club[40], status[16], now_status[16];
    long long revoked = 0;
    db_tx_t *tx = NULL;
    json_t *ended = NULL; /* sessions ended by a disable */
    if (not_self(c, id, disable ? "disable" : "enable", e) != 0) return -1;
    if (svc_begin(call, &tx, e) != 0) return -1;
    int found = find_user(call, tx, id, club, status, e);
    if (found <= 0) goto fail;
    const char *p[] = {club, id};
    int changed = disable ? strcmp(status, "disabled") != 0 : strcmp(status, "disabled") == 0;
    if (changed) {
        /* an enabled account that never set a password goes back to "invited" */
        PGresult *r = db_exec(tx,
                              disable ? "UPDATE auth.users SET status = 'disabled', updated_at = "
                                        "now() WHERE club_id = $1::uuid AND id = $2::uuid "
                                        "RETURNING status"
                                      : "UPDATE auth.users SET status = CASE WHEN password_hash "
                                        "IS NULL THEN 'invited' ELSE 'active' END, updated_at = "
                                        "now() WHERE club_id = $1::uuid AND id = $2::uuid "
                                        "RETURNING status",
                              2, p, e);
        if (!r) goto fail;
        snprintf(now_status, sizeof now_status, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        if (disable) {
            revoked = auth_revoke_user_sessions(tx, club, id, "user_disabled", NULL, &ended, e);
            if (revoked < 0) goto fail;
        }
        const char *action = disable ? "user_disabled" : "user_enabled";
        char type[48];
        snprintf(type, sizeof type, "auth.%s", action);
        if (auth_audit(tx, c, club, id, action, json_pack("{s:I}", "sessions_revoked", revoked),
                       e) != 0 ||
            svc_emit(call, tx, type, club,
                     json_pack("{s:s, s:o, s:s, s:I}", "user_id", id, "club_id",
                               public_club(club) ? json_string(club) : json_null(), "by",
                               c->user_id, "sessions_revoked", revoked),
                     e) != 0)
            goto fail;
    } else {
        snprintf(now_status, sizeof now_status, "%s", status);
    }
    if (db_commit(tx, e) != 0) {
        json_decref(ended);
        return -1;
    }
    if (changed) auth_me_changed(club, id);
    auth_revoked_publish(call->env, ended, NULL);
    json_decref(ended);
    *out = json_pack("{s:s, s:s, s:b, s:I}", "user_id", id, "status", now_status, "changed",
                     changed, "sessions_revoked", revoked);
    return 0;
fail:
    json_decref(ended);
    db_rollback(tx);
    return -1;
}

int auth_user_disable(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return set_status(call, in, 1, out, e);
}

int auth_user_enable(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return set_status(call, in, 0, out, e);
}

/* ---------------------------------------------------------------- audit log */

/* Newest first; a club admin sees its club's rows (RLS), a network admin every club's (or one
 * club's with club_id). Keyset pagination on (at, id). */
int auth_audit_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    cursor_page_t pg;
    const char *user_id = json_string_value(json_object_get(in, "user_id"));
    const char *action = json_string_value(json_object_get(in, "action"));
    const char *club = json_string_value(json_object_get(in, "club_id"));
    db_tx_t *tx = NULL;
    if (cursor_page_begin(in, 50, "audit", "iu", &pg, e) != 0) return -1;
    if (svc_begin(call, &tx, e) != 0) return -1;
    const char *p[] = {
        cursor_page_key(&pg, 0), cursor_page_key(&pg, 1), user_id, action, club, pg.fetch};
    PGresult *r = db_exec(
        tx,
        "SELECT jsonb_build_object('id', id, 'at', at, 'club_id', CASE WHEN club_id = "
        "'" AUTH_NETWORK_CLUB "' THEN NULL ELSE club_id END, 'actor_id', actor_id, 'user_id', "
        "user_id, 'action', action, 'ip', ip, 'detail', detail)::text, "
        "(extract(epoch FROM at) * 1000000)::bigint, id FROM auth.audit WHERE "
        "($1::bigint IS NULL OR (at, id) < ('epoch'::timestamptz + $1::bigint * interval "
        "'1 microsecond', $2::uuid)) AND ($3::uuid IS NULL OR user_id = $3::uuid) AND "
        "($4::text IS NULL OR action = $4) AND ($5::uuid IS NULL OR club_id = $5::uuid) "
        "ORDER BY at DESC, id DESC LIMIT $6::int",
        6, p, e);
    if (r) *out = cursor_page_output(r, pg.limit, "audit", "iu", e);
    PQclear(r);
    return db_tx_finish(&tx, r && *out ? 0 : -1, out, e);
}

/* ---------------------------------------------------------------- custom roles */

/* The club whose roles the caller manages: its own, or the one a network admin names. */
static int roles_club(const svc_caller_t *c, const char *want, char club[40], err_t *e) {
    if (c->network_admin) {
        if (!want)
            return err_set(e, 400, "missing_field", "club_id",
                           "club_id is required when a network administrator manages roles");
        snprintf(club, 40, "%s", want);
        return 0;
    }
    if (!c->club_id[0] || (want && strcmp(want, c->club_id) != 0))
        return err_set(e, 403, "forbidden", "club_id", "you can manage roles only in your club");
    snprintf(club, 40, "%s", c->club_id);
    return 0;
}

/* Built-in roles, then the custom roles of the caller's club (a network admin: of club_id, or
 * of every club). */
int auth_roles_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const svc_caller_t *c = call->caller;
    const char *want = json_string_value(json_object_get(in, "club_id"));
    db_tx_t *tx = NULL;
    if (!c->network_admin && want && strcmp(want, c->club_id) != 0)
        return err_set(e, 403, "forbidden", "club_id", "you can list roles only of your club");
    json_t *items = json_array();
    const char *b;
    for (size_t k = 0; (b = rbac_role_at(k)) != NULL; k++)
        json_array_append_new(items, json_pack("{s:s, s:b, s:n, s:s}", "name", b, "builtin", 1,
                                               "club_id", "permissions", rbac_role_perms(b)));
    if (svc_begin(call, &tx, e) != 0) goto fail;
    const char *p[] = {want};
    PGresult *r = db_exec(tx,
                          "SELECT club_id, name, perms FROM auth.roles WHERE $1::uuid IS NULL OR "
                          "club_id = $1::uuid ORDER BY club_id, name LIMIT 1000",
                          1, p, e);
    if (!r) goto fail;
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(items, json_pack("{s:s, s:b, s:s, s:s}", "name", PQgetvalue(r, i, 1),
                                               "builtin", 0, "club_id", PQgetvalue(r, i, 0),
                                               "permissions", PQgetvalue(r, i, 2)));
    PQclear(r);
    if (db_commit(tx, e) != 0) {
        json_decref(items);
        return -1;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
fail:
    db_rollback(tx);
    json_decref(items);
    return -1;
}

int auth_role_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const svc_caller_t *c = call->caller;
    const char *name = json_string_value(json_object_get(in, "name"));
    json_t *list = json_object_get(in, "permissions");
    char club[40], perms[512] = "";
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    if (roles_club(c, json_string_value(json_object_get(in, "club_id")), club, e) != 0) return -1;
    size_t i, len = 0;
    json_t *p;
    json_array_foreach(list, i, p) {
        len += (size_t)snprintf(perms + len, sizeof perms - len, "%s%s", i ? " " : "",
                                json_string_value(p));
        if (len >= sizeof perms) return err_invalid(e, "permissions", "too long");
    }
    if (auth_require_active_club_id(call, club, e) != 0) return -1;
    if (svc_begin(call, &tx, e) != 0) return -1;
    const char *q[] = {club, name, perms, c->user_id[0] ? c->user_id : NULL};
    r = db_exec(tx,
                "INSERT INTO auth.roles (club_id, name, perms, created_by) VALUES ($1::uuid, $2, "
                "$3, $4::uuid) ON CONFLICT DO NOTHING RETURNING created_at",
                4, q, e);
    if (!r) goto fail;
    if (PQntuples(r) != 1) {
        err_set(e, 409, "conflict", "name", "the club already has a role %s", name);
        goto fail;
    }
    PQclear(r);
    r = NULL;
    if (auth_audit(tx, c, club, NULL, "role_created",
                   json_pack("{s:s, s:s}", "role", name, "permissions", perms), e) != 0)
        goto fail;
    if (db_commit(tx, e) != 0) return -1;
    *out = json_pack("{s:s, s:s, s:s, s:b}", "club_id", club, "name", name, "permissions", perms,
                     "builtin", 0);
    return 0;
fail:
    PQclear(r);
    db_rollback(tx);
    return -1;
}

/* Deletes a custom role; its holders lose it (each loss audited and announced as
 * auth.permission_revoked). */
int auth_role_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const svc_caller_t *c = call->caller;
    const char *name = json_string_value(json_object_get(in, "name"));
    char club[40], perms[512];
    db_tx_t *tx = NULL;
    PGresult *holders = NULL, *r = NULL;
    if (roles_club(c, json_string_value(json_object_get(in, "club_id")), club, e) != 0) return -1;
    if (svc_begin(call, &tx, e) != 0) return -1;
    const char *p[] = {club, name};
    r = db_row(
        db_exec(tx, "SELECT perms FROM auth.roles WHERE club_id = $1::uuid AND name = $2", 2, p, e),
        e, "name", "no such custom role");
    if (!r) goto fail;
    snprintf(perms, sizeof perms, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    holders = db_exec(
        tx, "SELECT user_id FROM auth.user_roles WHERE club_id = $1::uuid AND role = $2", 2, p, e);
    if (!holders) goto fail;
    /* the holders' rows go with it (foreign key, ON DELETE CASCADE) */
    if (db_exec_cmd(tx, "DELETE FROM auth.roles WHERE club_id = $1::uuid AND name = $2", 2, p, e) <
        0)
        goto fail;
    int n = PQntuples(holders);
    for (int i = 0; i < n; i++) {
        const char *uid = PQgetvalue(holders, i, 0);
        if (auth_audit(tx, c, club, uid, "permission_revoked",
                       json_pack("{s:s, s:b}", "role", name, "role_deleted", 1), e) != 0 ||
            svc_emit(call, tx, "auth.permission_revoked", club,
                     json_pack("{s:s, s:s, s:s, s:s, s:s}", "user_id", uid, "club_id", club, "role",
                               name, "permissions", perms, "by", c->user_id),
                     e) != 0)
            goto fail;
    }
    if (auth_audit(tx, c, club, NULL, "role_deleted",
                   json_pack("{s:s, s:i}", "role", name, "holders", n), e) != 0)
        goto fail;
    PQclear(holders);
    holders = NULL;
    if (db_commit(tx, e) != 0) return -1;
    if (n > 0) auth_me_changed(club, NULL);
    *out = json_pack("{s:s, s:s, s:i}", "club_id", club, "name", name, "holders_removed", n);
    return 0;
fail:
    PQclear(r);
    PQclear(holders);
    db_rollback(tx);
    return -1;
}
