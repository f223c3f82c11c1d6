/* member_contact: see member_contact.h. */
#include "services/member/member_contact.h"

#include <libpq-fe.h>

#include "core/db.h"
#include "core/json.h"

int member_contact_validate(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "id", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    for (const char *const *k = keys; *k; k++) {
        if (jsonx_string(in, *k, 1, 36, 36, &s, e) != 0) return -1;
        if (!jsonx_is_uuid(s)) return err_invalid(e, *k, "%s must be a uuid", *k);
    }
    return 0;
}

static const char k_sql[] =
    "SELECT json_build_object('id', m.id, 'club_id', m.club_id, 'status', m.status, "
    "'auth_user_id', m.auth_user_id, 'email', p.email, 'phone', p.phone, 'language', "
    "p.language, 'first_name', p.first_name, 'preferred_name', p.preferred_name)::text FROM "
    "member.members m LEFT JOIN member.profiles p ON p.club_id = m.club_id AND p.member_id = "
    "m.id WHERE m.club_id = $1::uuid AND m.id = $2::uuid";

int member_contact(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = json_string_value(json_object_get(in, "club_id"));
    const char *p[] = {club, json_string_value(json_object_get(in, "id"))};
    /* the scope of the named club, no user: the caller is a service */
    db_scope_t scope = svc_scope(call, club);
    PGresult *r = db_read(call->env->db, &scope, k_sql, 2, p, e);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_set(e, 404, "not_found", "id", "no member with this id");
    }
    *out = db_json(r, 0, 0, e);
    PQclear(r);
    return *out ? 0 : -1;
}
