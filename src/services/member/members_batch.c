/* members_batch: see members_batch.h. */
#include "services/member/members_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "services/member/member_common.h"

/* Each primary's dependents as member documents (M_DOC_EXPR: member_doc, inlined). */
static const char k_dependents_sql[] = "SELECT m.id::text, coalesce((SELECT jsonb_agg(" M_DOC_EXPR(
    "d", "dp", "d.club_id", "d.id",
    "true") " ORDER BY d.created_at, d.id) FROM member.members d LEFT JOIN member.profiles dp "
            "ON dp.club_id = d.club_id AND dp.member_id = d.id WHERE d.club_id = m.club_id AND "
            "d.primary_member_id = m.id), '[]')::text FROM member.members m WHERE m.club_id = "
            "core.current_club() AND m.id = ANY($1::uuid[])";

int members_validate_relations(json_t *in, err_t *e) {
    static const char *const keys[] = {"ids", "club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    json_t *ids = json_object_get(in, "ids");
    if (!ids || json_is_null(ids)) return err_missing(e, "ids");
    if (!json_is_array(ids)) return err_type(e, "ids", "ids must be an array of member ids");
    if (json_array_size(ids) < 1 || json_array_size(ids) > 100)
        return err_invalid(e, "ids", "ids must be an array of 1 to 100 ids");
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v)) return err_type(e, "ids", "ids[%zu] must be a string", i);
        if (!jsonx_is_uuid(json_string_value(v)))
            return err_invalid(e, "ids", "ids[%zu] must be a member id", i);
    }
    return 0;
}

/* Runs one "SELECT key, json-array" statement and files each row under out[name][key]. */
static int collect(mctx_t *c, const char *sql, const char *ids, json_t *into, err_t *e) {
    const char *p[] = {ids};
    PGresult *r = db_exec(c->tx, sql, 1, p, e);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *items = db_json(r, i, 1, e);
        if (!items) {
            PQclear(r);
            return -1;
        }
        json_object_set_new(into, PQgetvalue(r, i, 0), items);
    }
    PQclear(r);
    return 0;
}

int members_relations_by_ids(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    if (member_begin(call, in, &c, e) != 0) return -1;
    if (!c.can_read) {
        member_rollback(&c);
        return err_set(e, 403, "forbidden", "", "reading other members needs member:read");
    }
    /* a PostgreSQL uuid[] literal from validated ids */
    strbuf_t ids = {0};
    strbuf_puts(&ids, "{");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(in, "ids"), i, v) {
        if (i) strbuf_puts(&ids, ",");
        strbuf_puts(&ids, json_string_value(v));
    }
    strbuf_puts(&ids, "}");
    char *ids_text = strbuf_take(&ids);
    json_t *deps = json_object(), *hist = json_object(), *members = json_object();
    /* every requested member of this club gets an entry, [] when it has none */
    int rc = ids_text ? 0 : err_set(e, 500, "internal", "", "out of memory");
    if (rc == 0) rc = collect(&c, k_dependents_sql, ids_text, deps, e);
    if (rc == 0)
        rc = collect(&c,
                     "SELECT m.id::text, coalesce((SELECT jsonb_agg(jsonb_build_object('from', "
                     "h.from_status, 'to', h.to_status, 'reason', h.reason, 'changed_by', "
                     "h.changed_by, 'request_id', h.request_id, 'cascade_of', h.cascade_of, "
                     "'changed_at', to_char(h.changed_at AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) ORDER BY h.changed_at) FROM "
                     "member.status_history h WHERE h.club_id = m.club_id AND h.member_id = m.id), "
                     "'[]')::text FROM member.members m WHERE m.club_id = core.current_club() AND "
                     "m.id = ANY($1::uuid[])",
                     ids_text, hist, e);
    if (rc == 0) /* the members themselves (the staff view, as get_member answers staff) */
        rc = collect(&c,
                     "SELECT m.id::text, " M_DOC_EXPR("m", "p", "m.club_id", "m.id",
                                                      "true") "::text FROM member.members m LEFT "
                                                              "JOIN member.profiles p ON "
                                                              "p.club_id = m.club_id AND "
                                                              "p.member_id = m.id WHERE m.club_id "
                                                              "= core.current_club() AND m.id = "
                                                              "ANY($1::uuid[])",
                     ids_text, members, e);
    free(ids_text);
    if (rc != 0 || member_commit(&c, e) != 0) {
        if (rc != 0) member_rollback(&c);
        json_decref(deps);
        json_decref(hist);
        json_decref(members);
        return -1;
    }
    *out = json_pack("{s:o, s:o, s:o}", "dependents", deps, "status_history", hist, "members",
                     members);
    return 0;
}
