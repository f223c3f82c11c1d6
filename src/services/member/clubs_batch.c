/* clubs_batch: see clubs_batch.h. */
#include "services/member/clubs_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "services/member/clubs.h"

int clubs_validate_batch(json_t *in, err_t *e) {
    static const char *const keys[] = {"ids", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    json_t *ids = json_object_get(in, "ids");
    if (!ids || json_is_null(ids)) return err_missing(e, "ids");
    if (!json_is_array(ids)) return err_type(e, "ids", "ids must be an array of strings");
    if (json_array_size(ids) < 1 || json_array_size(ids) > 100)
        return err_invalid(e, "ids", "ids must be an array of 1 to 100 strings");
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v)) return err_type(e, "ids", "ids[%zu] must be a string", i);
        if (json_string_length(v) < 1 || json_string_length(v) > 63)
            return err_invalid(e, "ids", "ids[%zu] must be 1 to 63 characters", i);
    }
    return 0;
}

int clubs_get_batch(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    json_t *ids = json_object_get(in, "ids");
    json_t *uuids = json_array(), *slugs = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        json_array_append(jsonx_is_uuid(json_string_value(v)) ? uuids : slugs, v);
    }
    char *pu = jsonx_dump(uuids), *ps = jsonx_dump(slugs);
    json_decref(uuids), json_decref(slugs);
    const char *p[] = {pu, ps};
    int rc = -1;
    json_t *byid = json_object(), *items = NULL;
    /* one read, one round trip (db_read) */
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT id::text, slug, " CLUB_JSON " FROM member.clubs WHERE id IN "
                          "(SELECT jsonb_array_elements_text($1::jsonb)::uuid) OR slug IN (SELECT "
                          "jsonb_array_elements_text($2::jsonb))",
                          2, p, e);
    if (!r) goto done;
    for (int row = 0; row < PQntuples(r); row++) {
        json_t *club = db_json(r, row, 2, e);
        if (!club) goto done;
        json_object_set(byid, PQgetvalue(r, row, 0), club);
        json_object_set(byid, PQgetvalue(r, row, 1), club);
        json_decref(club);
    }
    items = json_array();
    json_array_foreach(ids, i, v) {
        char key[64];
        snprintf(key, sizeof key, "%s", json_string_value(v));
        if (jsonx_is_uuid(key))
            for (char *c = key; *c; c++)
                if (*c >= 'A' && *c <= 'F') *c = (char)(*c + 32);
        json_t *club = json_object_get(byid, key);
        json_array_append(items, club ? club : json_null());
    }
    *out = json_pack("{s:o}", "items", items);
    rc = 0;
done:
    PQclear(r);
    json_decref(byid);
    free(pu), free(ps);
    return rc;
}
