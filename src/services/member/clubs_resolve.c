/* clubs_resolve: see clubs_resolve.h. */
#include "services/member/clubs_resolve.h"

#include "core/json.h"

int clubs_validate_resolve(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "slug", NULL};
    const char *id = NULL, *slug = NULL;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_string(in, "id", 0, 36, 36, &id, e) != 0 ||
        jsonx_string(in, "slug", 0, 1, 63, &slug, e) != 0)
        return -1;
    if (!id == !slug)
        return err_set(e, 400, "missing_field", id ? "slug" : "id",
                       "exactly one of id and slug is required");
    if (id && !jsonx_is_uuid(id)) return err_invalid(e, "id", "id must be a UUID");
    return 0;
}

int clubs_resolve(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *p[] = {id ? id : json_string_value(json_object_get(in, "slug"))};
    db_scope_t scope = {.user_id = call->caller->user_id};
    PGresult *r = db_read(call->env->db, &scope,
                          id ? "SELECT id::text, slug, status FROM member.clubs WHERE id = $1::uuid"
                             : "SELECT id::text, slug, status FROM member.clubs WHERE slug = $1",
                          1, p, e);
    if (!r) return -1;
    json_t *club = PQntuples(r) == 1
                       ? json_pack("{s:s, s:s, s:s}", "id", PQgetvalue(r, 0, 0), "slug",
                                   PQgetvalue(r, 0, 1), "status", PQgetvalue(r, 0, 2))
                       : json_null();
    PQclear(r);
    *out = json_pack("{s:o}", "club", club);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}
