/* auth_directory: see auth_directory.h. */
#include "services/auth/auth_directory.h"

#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "services/auth/rbac.h"

int auth_validate_role_holders(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "role", "limit", NULL};
    const char *s;
    long long limit;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_string(in, "club_id", 1, 36, 36, &s, e) != 0) return -1;
    if (!jsonx_is_uuid(s)) return err_invalid(e, "club_id", "club_id must be a club id");
    if (jsonx_string(in, "role", 1, 2, 40, &s, e) != 0) return -1;
    if ((!rbac_is_role(s) && !rbac_is_custom_name(s)) || strcmp(s, "network_admin") == 0)
        return err_invalid(e, "role", "role must be a club role");
    if (jsonx_int(in, "limit", 0, 1, AUTH_ROLE_HOLDERS_MAX, AUTH_ROLE_HOLDERS_MAX, &limit, e) != 0)
        return -1;
    return json_object_set_new(in, "limit", json_integer(limit)) == 0
               ? 0
               : err_set(e, 500, "internal", "", "out of memory");
}

int auth_role_holders(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const svc_caller_t *c = call->caller;
    const char *club = json_string_value(json_object_get(in, "club_id"));
    const char *role = json_string_value(json_object_get(in, "role"));
    long long limit = json_integer_value(json_object_get(in, "limit")); /* set by validate */
    if (c->user_id[0])
        return err_set(e, 403, "forbidden", "", "role_holders is a service operation");
    if (strcmp(c->club_id, club) != 0)
        return err_set(e, 403, "forbidden", "club_id", "a service acts in its caller's club");
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", limit + 1); /* one more: was the list cut? */
    db_scope_t s = {.club_id = club};
    const char *p[] = {club, role, lim};
    PGresult *r = db_read(call->env->db, &s,
                          "SELECT u.id, u.email FROM auth.user_roles r JOIN auth.users u ON "
                          "u.club_id = r.club_id AND u.id = r.user_id WHERE r.club_id = $1::uuid "
                          "AND r.role = $2 AND u.status = 'active' ORDER BY r.granted_at, u.id "
                          "LIMIT $3::int",
                          3, p, e);
    if (!r) return -1;
    int n = PQntuples(r), shown = n > limit ? (int)limit : n;
    json_t *users = json_array();
    for (int i = 0; users && i < shown; i++)
        if (json_array_append_new(users, json_pack("{s:s, s:s}", "id", PQgetvalue(r, i, 0), "email",
                                                   PQgetvalue(r, i, 1))) != 0) {
            json_decref(users);
            users = NULL;
        }
    PQclear(r);
    *out = users ? json_pack("{s:s, s:s, s:o, s:b}", "club_id", club, "role", role, "users", users,
                             "truncated", n > limit)
                 : NULL;
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}
