/* members_lifecycle: see members_lifecycle.h. */
#include "services/member/members_lifecycle.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/json.h"

const char *const members_status_values[] = {"pending",  "active",   "suspended", "lapsed",
                                             "resigned", "deceased", NULL};

/* ---- validation ---- */

int members_validate_status(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", "status", "reason", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    if (member_valid_id(in, "id", e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "status", 1, members_status_values, &s, e) != 0) return -1;
    return jsonx_string(in, "reason", 0, 1, 500, &s, e);
}

int members_validate_sweep(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "as_of", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    return member_valid_date(in, "as_of", e);
}

/* ---- status ---- */

int members_transition(mctx_t *c, const char *id, const char *to, const char *reason,
                       json_t **changes, err_t *e) {
    const char *p0[] = {id, to};
    PGresult *r = db_exec(c->tx,
                          "SELECT m.status::text, $2::member.member_status_enum = ANY "
                          "(member.allowed_next(m.status)), array_to_string(member.allowed_next("
                          "m.status), ', '), coalesce(m.expires_on < current_date, false), "
                          "coalesce(to_char(m.expires_on, 'YYYY-MM-DD'), '') FROM member.members "
                          "m WHERE m.club_id = core.current_club() AND m.id = $1::uuid FOR UPDATE",
                          2, p0, e);
    if (!r) return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(e, 404, "not_found", "id", "no member with this id");
    }
    if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
        const char *allowed = PQgetvalue(r, 0, 2);
        err_set(e, 409, "invalid_transition", "status", "a %s member cannot become %s; allowed: %s",
                PQgetvalue(r, 0, 0), to, *allowed ? allowed : "none (final status)");
        PQclear(r);
        return -1;
    }
    if (strcmp(PQgetvalue(r, 0, 0), "lapsed") == 0 && strcmp(to, "active") == 0 &&
        strcmp(PQgetvalue(r, 0, 3), "t") == 0) {
        err_set(e, 409, "renewal_required", "expires_on",
                "the membership expired on %s: renew it with POST /api/v1/members/{id}/renew "
                "and a new expires_on",
                PQgetvalue(r, 0, 4));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    const svc_caller_t *k = c->call->caller;
    const char *p[] = {id, to, reason, k->user_id[0] ? k->user_id : NULL,
                       k->request_id[0] ? k->request_id : NULL};
    r = db_exec(c->tx,
                "SELECT member_id, from_status::text, to_status::text, cascade_of FROM "
                "member.change_status($1::uuid, $2::member.member_status_enum, $3, $4::uuid, $5)",
                5, p, e);
    if (!r) return -1;
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *ch = json_pack("{s:s, s:s, s:s, s:s?}", "member_id", PQgetvalue(r, i, 0), "from",
                               PQgetvalue(r, i, 1), "to", PQgetvalue(r, i, 2), "cascade_of",
                               PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3));
        json_array_append(list, ch);
        if (member_emit(c, "member.status_changed", ch, e) != 0) {
            PQclear(r);
            json_decref(list);
            return -1;
        }
    }
    PQclear(r);
    if (changes)
        *changes = list;
    else
        json_decref(list);
    return 0;
}

int members_set_status(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    json_t *changes = NULL;
    const char *id = json_string_value(json_object_get(in, "id"));
    if (member_begin(call, in, &c, e) != 0) return -1;
    if (members_transition(&c, id, json_string_value(json_object_get(in, "status")),
                           json_string_value(json_object_get(in, "reason")), &changes, e) != 0)
        return members_fail(&c, out);
    *out = member_load(&c, id, 0, 1, NULL, NULL, e);
    if (!*out) {
        json_decref(changes);
        return members_fail(&c, out);
    }
    json_object_set_new(*out, "changes", changes);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}

/* ---- renewal ---- */

int members_validate_renew(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", "expires_on", "reason", "dependents", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    if (member_valid_id(in, "id", e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "expires_on", 1, 10, 10, &s, e) != 0) return -1;
    if (member_valid_date(in, "expires_on", e) != 0) return -1;
    if (jsonx_string(in, "reason", 0, 1, 500, &s, e) != 0) return -1;
    json_t *d = json_object_get(in, "dependents");
    if (d && !json_is_boolean(d))
        return err_type(e, "dependents", "dependents must be true or false");
    return 0;
}

static json_t *renewed_event(const char *id, const char *with, const char *prev, const char *to) {
    return json_pack("{s:s, s:s?, s:s?, s:s}", "member_id", id, "renewed_with", with,
                     "previous_expires_on", prev && *prev ? prev : NULL, "expires_on", to);
}

int members_renew(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char status[16];
    json_t *changes = NULL, *extended = json_array();
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *until = json_string_value(json_object_get(in, "expires_on"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    int with_deps = !json_is_false(json_object_get(in, "dependents"));
    const svc_caller_t *k = call->caller;
    char why[600];
    if (member_begin(call, in, &c, e) != 0) {
        json_decref(extended);
        return -1;
    }
    json_t *before = member_load(&c, id, 1, 1, NULL, status, e);
    if (!before) goto fail;
    const char *prev = json_string_value(json_object_get(before, "expires_on"));
    if (json_is_true(json_object_get(before, "erased")) || !strcmp(status, "resigned") ||
        !strcmp(status, "deceased")) {
        err_set(e, 409, "conflict", "status", "a %s membership cannot be renewed",
                json_is_true(json_object_get(before, "erased")) ? "erased" : status);
        goto fail;
    }
    if (!json_is_null(json_object_get(before, "primary_member_id"))) {
        err_set(e, 409, "conflict", "id",
                "dependents are renewed with their primary member (POST "
                "/api/v1/members/{primary}/renew)");
        goto fail;
    }
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    if (strcmp(until, today) < 0 || (prev && strcmp(until, prev) <= 0)) {
        err_invalid(e, "expires_on",
                    "expires_on must be today or later and later than the current expiry%s%s",
                    prev ? " " : "", prev ? prev : "");
        goto fail;
    }
    const char *p[] = {id, until};
    if (db_exec_cmd(c.tx,
                    "UPDATE member.members SET expires_on = $2::date, updated_at = now() WHERE "
                    "club_id = core.current_club() AND id = $1::uuid",
                    2, p, e) < 0)
        goto fail;
    if (member_emit(&c, "member.renewed", renewed_event(id, NULL, prev, until), e) != 0) goto fail;
    if (with_deps) { /* dependents with an earlier expiry follow (not ended ones) */
        PGresult *r = db_exec(c.tx,
                              "WITH d AS (SELECT id, to_char(expires_on, 'YYYY-MM-DD') AS prev "
                              "FROM member.members WHERE club_id = core.current_club() AND "
                              "primary_member_id = $1::uuid AND expires_on < $2::date AND status "
                              "NOT IN ('resigned', 'deceased') AND erased_at IS NULL FOR UPDATE) "
                              "UPDATE member.members m SET expires_on = $2::date, updated_at = "
                              "now() FROM d WHERE m.club_id = core.current_club() AND m.id = d.id "
                              "RETURNING m.id, d.prev",
                              2, p, e);
        if (!r) goto fail;
        for (int i = 0; i < PQntuples(r); i++) {
            json_array_append_new(extended, json_string(PQgetvalue(r, i, 0)));
            if (member_emit(&c, "member.renewed",
                            renewed_event(PQgetvalue(r, i, 0), id, PQgetvalue(r, i, 1), until),
                            e) != 0) {
                PQclear(r);
                goto fail;
            }
        }
        PQclear(r);
    }
    snprintf(why, sizeof why, "%s", reason ? reason : "renewed");
    if (!strcmp(status, "lapsed") && members_transition(&c, id, "active", why, &changes, e) != 0)
        goto fail;
    const char *pa[] = {id, k->user_id[0] ? k->user_id : NULL,
                        k->request_id[0] ? k->request_id : NULL,
                        changes ? "{expires_on,status}" : "{expires_on}"};
    if (db_exec_cmd(c.tx,
                    "INSERT INTO member.audit_log (club_id, member_id, action, actor, request_id, "
                    "fields) VALUES (core.current_club(), $1::uuid, 'renew', $2::uuid, $3, "
                    "$4::text[])",
                    4, pa, e) < 0)
        goto fail;
    *out = member_load(&c, id, 0, 1, NULL, NULL, e);
    if (!*out) goto fail;
    json_object_set_new(*out, "changes", changes ? changes : json_array());
    changes = NULL;
    json_object_set_new(*out, "extended_dependents", extended);
    extended = NULL;
    json_decref(before);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
fail:
    json_decref(before);
    json_decref(changes);
    json_decref(extended);
    return members_fail(&c, out);
}

int members_history(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    const char *id = json_string_value(json_object_get(in, "id"));
    if (member_begin(call, in, &c, e) != 0) return -1;
    const char *p[] = {id};
    PGresult *r = db_exec(
        c.tx,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('from', h.from_status, 'to', h.to_status, "
        "'reason', h.reason, 'changed_by', h.changed_by, 'request_id', h.request_id, "
        "'cascade_of', h.cascade_of, 'changed_at', to_char(h.changed_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) ORDER BY h.changed_at), '[]')::text, "
        "EXISTS (SELECT 1 FROM member.members m WHERE m.club_id = core.current_club() AND m.id = "
        "$1::uuid) FROM member.status_history h WHERE h.club_id = core.current_club() AND "
        "h.member_id = $1::uuid",
        1, p, e);
    if (!r) return members_fail(&c, out);
    if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
        PQclear(r);
        err_set(e, 404, "not_found", "id", "no member with this id");
        return members_fail(&c, out);
    }
    json_t *items = db_json(r, 0, 0, e);
    PQclear(r);
    if (!items) return members_fail(&c, out);
    *out = json_pack("{s:o}", "items", items);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}

/* ---- lapse sweep ---- */

static int sweep_club(const svc_call_t *call, const char *club, const char *as_of, long long *n,
                      err_t *e) {
    json_t *in = json_pack("{s:s}", "club_id", club);
    svc_caller_t k = *call->caller;
    k.network_admin = 1; /* the sweep names each club it visits */
    svc_call_t sub = *call;
    sub.caller = &k;
    mctx_t c;
    int rc = member_begin(&sub, in, &c, e);
    json_decref(in);
    if (rc != 0) return -1;
    const char *p[] = {as_of};
    PGresult *r = db_exec(c.tx,
                          "SELECT id FROM member.members WHERE club_id = core.current_club() AND "
                          "status = 'active' AND expires_on < coalesce($1::date, current_date) "
                          "ORDER BY (primary_member_id IS NOT NULL), id",
                          1, p, e);
    if (!r) goto fail;
    for (int i = 0; i < PQntuples(r); i++) {
        char reason[64];
        snprintf(reason, sizeof reason, "membership expired (sweep as of %s)",
                 as_of ? as_of : "today");
        /* an earlier primary may have lapsed this dependent by cascade already */
        const char *q[] = {PQgetvalue(r, i, 0)};
        PGresult *s = db_exec(c.tx,
                              "SELECT status = 'active' FROM member.members WHERE club_id = "
                              "core.current_club() AND id = $1::uuid",
                              1, q, e);
        if (!s) goto fail_r;
        int still = strcmp(PQgetvalue(s, 0, 0), "t") == 0;
        PQclear(s);
        if (!still) continue;
        json_t *changes = NULL;
        if (members_transition(&c, PQgetvalue(r, i, 0), "lapsed", reason, &changes, e) != 0)
            goto fail_r;
        *n += (long long)json_array_size(changes);
        json_decref(changes);
    }
    PQclear(r);
    return member_commit(&c, e);
fail_r:
    PQclear(r);
fail:
    member_rollback(&c);
    return -1;
}

int members_lapse_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = json_string_value(json_object_get(in, "club_id"));
    const char *as_of = json_string_value(json_object_get(in, "as_of"));
    long long n = 0;
    int clubs = 0;
    if (club || call->caller->club_id[0] || !call->caller->network_admin) {
        mctx_t c; /* resolves and checks the club exactly like every other operation */
        if (member_begin(call, in, &c, e) != 0) return -1;
        char resolved[40];
        snprintf(resolved, sizeof resolved, "%s", c.club_id);
        member_rollback(&c);
        if (sweep_club(call, resolved, as_of, &n, e) != 0) return -1;
        clubs = 1;
    } else { /* a network administrator without club_id: every club, one transaction each */
        db_tx_t *tx = NULL;
        if (svc_begin(call, &tx, e) != 0) return -1;
        PGresult *r = db_exec(tx, "SELECT id FROM member.clubs ORDER BY id", 0, NULL, e);
        if (!r) {
            db_rollback(tx);
            return -1;
        }
        if (db_commit(tx, e) != 0) {
            PQclear(r);
            return -1;
        }
        for (int i = 0; i < PQntuples(r); i++, clubs++)
            if (sweep_club(call, PQgetvalue(r, i, 0), as_of, &n, e) != 0) {
                PQclear(r);
                return -1;
            }
        PQclear(r);
    }
    *out = json_pack("{s:I, s:i}", "lapsed", (json_int_t)n, "clubs", clubs);
    return 0;
}
