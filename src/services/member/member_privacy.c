/* member_privacy: see member_privacy.h. */
#include "services/member/member_privacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "services/member/member_common.h"

static int fail_with(mctx_t *c, json_t **out) {
    if (*out) {
        json_decref(*out);
        *out = NULL;
    }
    member_rollback(c);
    return -1;
}

static int audit(mctx_t *c, const char *id, const char *action, const char *fields, err_t *e) {
    const svc_caller_t *k = c->call->caller;
    const char *p[] = {id, action, k->user_id[0] ? k->user_id : NULL,
                       k->request_id[0] ? k->request_id : NULL, fields};
    return db_exec_cmd(c->tx,
                       "INSERT INTO member.audit_log (club_id, member_id, action, actor, "
                       "request_id, fields) VALUES (core.current_club(), $1::uuid, $2, $3::uuid, "
                       "$4, coalesce($5::text[], '{}'))",
                       5, p, e) < 0
               ? -1
               : 0;
}

static int export_one(mctx_t *c, const char *id, json_t **out, err_t *e) {
    json_t *doc = member_load(c, id, 0, 1, NULL, NULL, e);
    if (!doc) return -1;
    const char *p[] = {id};
    PGresult *r = db_exec(
        c->tx,
        "SELECT coalesce((SELECT jsonb_agg(jsonb_build_object('from', h.from_status, 'to', "
        "h.to_status, 'reason', h.reason, 'changed_at', to_char(h.changed_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) ORDER BY h.changed_at) FROM member.status_history h "
        "WHERE h.club_id = core.current_club() AND h.member_id = $1::uuid), '[]')::text, "
        "coalesce((SELECT jsonb_agg(jsonb_build_object('id', m.id, 'member_number', "
        "m.member_number, 'relationship', m.relationship) ORDER BY m.created_at) FROM "
        "member.members m WHERE m.club_id = core.current_club() AND m.primary_member_id = "
        "$1::uuid), '[]')::text, "
        "coalesce((SELECT jsonb_agg(jsonb_build_object('action', a.action, 'fields', a.fields, "
        "'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) ORDER BY a.at) "
        "FROM member.audit_log a WHERE a.club_id = core.current_club() AND a.member_id = "
        "$1::uuid), '[]')::text, to_char(now() AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        1, p, e);
    if (!r) {
        json_decref(doc);
        return -1;
    }
    json_t *hist = db_json(r, 0, 0, e);
    json_t *deps = db_json(r, 0, 1, e);
    json_t *aud = db_json(r, 0, 2, e);
    json_t *data = json_pack("{s:i, s:s, s:o, s:o*, s:o*, s:o*}", "format", 1, "exported_at",
                             PQgetvalue(r, 0, 3), "member", doc, "status_history", hist,
                             "dependents", deps, "audit", aud);
    PQclear(r);
    if (!data) return err_set(e, 500, "internal", "", "could not build the export");
    if (audit(c, id, "export", NULL, e) != 0) {
        json_decref(data);
        return -1;
    }
    char *body = json_dumps(data, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char fname[96];
    snprintf(fname, sizeof fname, "member-%s.json",
             json_string_value(json_object_get(doc, "member_number")));
    *out = svc_raw_output("application/json; charset=utf-8", fname, body);
    free(body);
    json_decref(data);
    return *out ? 0 : err_set(e, 500, "internal", "", "could not build the export");
}

int privacy_export_me(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    const char *u = call->caller->user_id;
    if (member_begin(call, in, &c, e) != 0) return -1; /* signed in: SVC_SIGNED_IN */
    const char *p[] = {u};
    PGresult *r = db_exec(c.tx,
                          "SELECT id FROM member.members WHERE club_id = core.current_club() AND "
                          "auth_user_id = $1::uuid",
                          1, p, e);
    if (!r) return fail_with(&c, out);
    if (PQntuples(r) == 0) {
        PQclear(r);
        err_set(e, 404, "not_found", "", "you are not a member of this club");
        return fail_with(&c, out);
    }
    char id[40];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (export_one(&c, id, out, e) != 0) return fail_with(&c, out);
    return member_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

int privacy_export_member(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    if (member_begin(call, in, &c, e) != 0) return -1;
    if (export_one(&c, json_string_value(json_object_get(in, "id")), out, e) != 0)
        return fail_with(&c, out);
    return member_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

#define ERASED_FIELDS                                                                              \
    "{profile.first_name,profile.last_name,profile.preferred_name,profile.email,profile.phone,"    \
    "profile.date_of_birth,profile.photo_url,profile.language,profile.staff_notes,addresses,"      \
    "auth_user_id,directory_opt_in,status_history.reason}"

int privacy_erase(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char status[16];
    const char *id = json_string_value(json_object_get(in, "id"));
    if (member_begin(call, in, &c, e) != 0) return -1;
    json_t *doc = member_load(&c, id, 1, 1, NULL, status, e);
    if (!doc) return fail_with(&c, out);
    int erased = json_is_true(json_object_get(doc, "erased"));
    json_decref(doc);
    if (erased) {
        err_set(e, 409, "erased", "id", "this member was already erased");
        return fail_with(&c, out);
    }
    if (strcmp(status, "resigned") && strcmp(status, "deceased") && strcmp(status, "lapsed")) {
        err_set(e, 409, "conflict", "status",
                "a %s member cannot be erased: end the membership first (resigned, lapsed or "
                "deceased)",
                status);
        return fail_with(&c, out);
    }
    const char *p[] = {id};
    if (db_exec_cmd(c.tx,
                    "UPDATE member.profiles SET first_name = 'Erased', last_name = 'Member', "
                    "preferred_name = NULL, email = NULL, phone = NULL, date_of_birth = NULL, "
                    "photo_url = NULL, language = NULL, staff_notes = NULL, updated_at = now() "
                    "WHERE club_id = core.current_club() AND member_id = $1::uuid",
                    1, p, e) < 0 ||
        db_exec_cmd(c.tx,
                    "DELETE FROM member.addresses WHERE club_id = core.current_club() AND "
                    "member_id = $1::uuid",
                    1, p, e) < 0 ||
        db_exec_cmd(c.tx,
                    "UPDATE member.status_history SET reason = NULL WHERE club_id = "
                    "core.current_club() AND member_id = $1::uuid AND reason IS NOT NULL",
                    1, p, e) < 0 ||
        db_exec_cmd(c.tx,
                    "UPDATE member.members SET auth_user_id = NULL, directory_opt_in = false, "
                    "erased_at = now(), updated_at = now() WHERE club_id = core.current_club() "
                    "AND id = $1::uuid",
                    1, p, e) < 0 ||
        audit(&c, id, "erase", ERASED_FIELDS, e) != 0)
        return fail_with(&c, out);
    json_t *fields = json_loads("[\"profile.first_name\",\"profile.last_name\","
                                "\"profile.preferred_name\",\"profile.email\",\"profile.phone\","
                                "\"profile.date_of_birth\",\"profile.photo_url\","
                                "\"profile.language\",\"profile.staff_notes\",\"addresses\","
                                "\"auth_user_id\",\"directory_opt_in\",\"status_history.reason\"]",
                                0, NULL);
    if (member_emit(&c, "member.erased",
                    json_pack("{s:s, s:O}", "member_id", id, "erased_fields", fields), e) != 0) {
        json_decref(fields);
        return fail_with(&c, out);
    }
    *out = member_load(&c, id, 0, 1, NULL, NULL, e);
    if (*out)
        json_object_set_new(*out, "erased_fields", fields);
    else
        json_decref(fields);
    if (!*out) return fail_with(&c, out);
    return member_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}
