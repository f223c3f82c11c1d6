/* restrictions: see restrictions.h. */
#include "services/reciprocal/restrictions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cursor.h"
#include "core/json.h"
#include "services/reciprocal/terms.h"
#include "services/reciprocal/visits.h"

/* The two kinds: their table, the owning club's column, cursor list, events and words. */
typedef struct kind {
    const char *table, *club_col, *list, *created, *lifted, *id_key, *cause, *noun, *doc;
} kind_t;

static const kind_t k_susp = {
    "reciprocal.suspensions",
    "home_club_id",
    "reciprocity-suspensions",
    "reciprocal.suspension_created",
    "reciprocal.suspension_lifted",
    "suspension_id",
    "reciprocity suspended by the home club",
    "suspension",
    "jsonb_build_object('id', s.id, 'kind', 'suspension', 'home_club_id', s.home_club_id, "
    "'member_id', s.member_id, 'host_club_id', s.host_club_id, 'scope', CASE WHEN "
    "s.host_club_id IS NULL THEN 'everywhere' ELSE 'club' END, 'reason', s.reason, 'ends_on', "
    "s.ends_on, 'status', reciprocal.restriction_status(s.lifted_at, s.ends_on), 'created_by', "
    "s.created_by, 'created_at', reciprocal.ts(s.created_at), 'lifted_at', "
    "reciprocal.ts(s.lifted_at), 'lifted_by', s.lifted_by, 'lift_reason', s.lift_reason)::text"};

static const kind_t k_ban = {
    "reciprocal.visitor_bans",
    "host_club_id",
    "visitor-bans",
    "reciprocal.ban_created",
    "reciprocal.ban_lifted",
    "ban_id",
    "visitor banned by the host club",
    "ban",
    "jsonb_build_object('id', s.id, 'kind', 'ban', 'host_club_id', s.host_club_id, "
    "'member_id', s.member_id, 'reason', s.reason, 'ends_on', s.ends_on, 'status', "
    "reciprocal.restriction_status(s.lifted_at, s.ends_on), 'created_by', s.created_by, "
    "'created_at', reciprocal.ts(s.created_at), 'lifted_at', reciprocal.ts(s.lifted_at), "
    "'lifted_by', s.lifted_by, 'lift_reason', s.lift_reason)::text"};

/* ---- validation ---- */

/* An id field, stored back in lower case; not_found: a non-uuid names no record (404). */
static int uuid_field(json_t *in, const char *name, int required, int not_found, err_t *e) {
    if (not_found && jsonx_ref(in, name, required, "no such record", e) != 0) return -1;
    return jsonx_uuid(in, name, required, e);
}

static int create_common(json_t *in, err_t *e) {
    const char *s;
    if (uuid_field(in, "member_id", 1, 0, e) != 0 || uuid_field(in, "club_id", 0, 0, e) != 0)
        return -1;
    if (jsonx_text(in, "reason", 1, 1, 500, &s, e) != 0) return -1;
    if (jsonx_string(in, "ends_on", 0, 10, 10, &s, e) != 0) {
        if (e->status == 422) err_set(e, 422, "invalid_field", "ends_on", "ends_on must be a date");
        return -1;
    }
    if (s && !terms_is_date(s))
        return err_set(e, 422, "invalid_field", "ends_on", "ends_on must be a date YYYY-MM-DD");
    return 0;
}

int rx_validate_create_suspension(json_t *in, err_t *e) {
    static const char *const keys[] = {"member_id", "host_club_id", "reason",
                                       "ends_on",   "club_id",      NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return uuid_field(in, "host_club_id", 0, 0, e) != 0 ? -1 : create_common(in, e);
}

int rx_validate_create_ban(json_t *in, err_t *e) {
    static const char *const keys[] = {"member_id", "reason", "ends_on", "club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return create_common(in, e);
}

int rx_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"member_id", "status", "limit", "after", NULL};
    static const char *const statuses[] = {"active", "lifted", "expired", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (uuid_field(in, "member_id", 0, 0, e) != 0) return -1;
    if (jsonx_enum(in, "status", 0, statuses, &s, e) != 0) return -1;
    return cursor_page_validate(in, e);
}

int rx_validate_lift(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "reason", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_text(in, "reason", 0, 1, 500, &s, e) != 0) return -1;
    return uuid_field(in, "id", 1, 1, e);
}

/* ---- the rule ---- */

#define RESTRICTION_OF_SQL "SELECT " RESTRICTIONS_CALL_SQL("$1", "$2", "$3", "$4")

int restrictions_code(const char *code, const char *field, err_t *e) {
    if (!code) return 0;
    if (strcmp(code, "reciprocity_suspended") == 0)
        return err_set(e, 422, "reciprocity_suspended", field,
                       "the home club has suspended the member's reciprocity");
    return err_set(e, 422, "visitor_banned", field, "the host club does not admit this visitor");
}

int restrictions_check(db_tx_t *tx, const char *member, const char *home, const char *host,
                       const char *arrive, int request, const char *field, err_t *e) {
    const char *pl[] = {member};
    if (request && db_exec_cmd(tx,
                               "SELECT pg_advisory_xact_lock_shared(hashtextextended("
                               "'reciprocal.restriction:' || $1, 11))",
                               1, pl, e) < 0)
        return -1;
    const char *p[] = {member, home, host, arrive};
    PGresult *r = db_exec(tx, RESTRICTION_OF_SQL, 4, p, e);
    if (!r) return -1;
    int rc = restrictions_code(PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0), field, e);
    PQclear(r);
    return rc;
}

/* ---- creating ---- */

/* The club the caller acts for: its own, or club_id for a network administrator. */
static int acting_club(const svc_call_t *call, json_t *in, char club[40], err_t *e) {
    const svc_caller_t *who = call->caller;
    const char *c = json_string_value(json_object_get(in, "club_id"));
    if (who->club_id[0]) {
        if (c && strcasecmp(c, who->club_id) != 0)
            return err_set(e, 403, "forbidden", "club_id", "you act for your own club only");
        snprintf(club, 40, "%s", who->club_id);
        return 0;
    }
    if (who->network_admin && c) {
        snprintf(club, 40, "%s", c);
        return 0;
    }
    return err_set(e, 400, "missing_field", "club_id",
                   "club_id is required: the club a network administrator acts for");
}

/* One affected visit: cancelled, its live letter revoked, history and events. */
static int cancel_one(const svc_call_t *call, db_tx_t *tx, const kind_t *k, const char *club,
                      PGresult *r, int i, err_t *e) {
    const char *id = PQgetvalue(r, i, 0), *from = PQgetvalue(r, i, 1);
    const char *home = PQgetvalue(r, i, 2), *host = PQgetvalue(r, i, 3);
    const char *member = PQgetvalue(r, i, 5);
    int live = PQgetvalue(r, i, 4)[0] == '1';
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *p[] = {id};
    if (db_exec_cmd(tx,
                    "UPDATE reciprocal.visits SET status = 'cancelled', updated_at = now() WHERE "
                    "id = $1",
                    1, p, e) < 0 ||
        db_exec_cmd(tx,
                    "UPDATE reciprocal.lois SET revoked_at = now() WHERE visit_id = $1 AND "
                    "revoked_at IS NULL",
                    1, p, e) < 0 ||
        visit_transition_add(tx, id, club, user, "cancel", from, "cancelled", k->cause, e) != 0)
        return -1;
    if (svc_emit(call, tx, "visit.cancelled", club,
                 json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "visit_id", id, "member_id",
                           member, "home_club_id", home, "host_club_id", host, "status",
                           "cancelled", "from_status", from, "cause", k->noun),
                 e) != 0)
        return -1;
    if (!live) return 0;
    return svc_emit(call, tx, "loi.revoked", club,
                    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "visit_id", id, "member_id",
                              member, "home_club_id", home, "host_club_id", host, "status",
                              "cancelled", "from_status", from, "cause", k->noun),
                    e);
}

/* Cancels the member's visits the new restriction covers (club's side; scope: one host or
 * NULL; up to ends_on or NULL); their ids are appended to ids. */
static int cancel_affected(const svc_call_t *call, db_tx_t *tx, const kind_t *k, const char *club,
                           const char *member, const char *scope, const char *ends_on, json_t *ids,
                           err_t *e) {
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT v.id, v.status, v.home_club_id, v.host_club_id, (EXISTS (SELECT 1 FROM "
             "reciprocal.lois l WHERE l.visit_id = v.id AND l.revoked_at IS NULL))::int, "
             "v.member_id FROM reciprocal.visits v WHERE v.member_id = $1 AND v.%s = $2 AND "
             "($3::uuid IS NULL OR v.host_club_id = $3::uuid) AND v.status IN ('requested', "
             "'approved', 'confirmed') AND ($4::date IS NULL OR v.arrive_on <= $4::date) ORDER "
             "BY v.id FOR UPDATE",
             k->club_col);
    const char *p[] = {member, club, scope, ends_on};
    PGresult *r = db_exec(tx, sql, 4, p, e);
    if (!r) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        rc = cancel_one(call, tx, k, club, r, i, e);
        if (rc == 0) json_array_append_new(ids, json_string(PQgetvalue(r, i, 0)));
    }
    PQclear(r);
    return rc;
}

static json_t *load_doc(db_tx_t *tx, const kind_t *k, const char *id, err_t *e) {
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s s WHERE s.id = $1", k->doc, k->table);
    const char *p[] = {id};
    return db_row_json(db_exec(tx, sql, 1, p, e), e, "id", "no such %s", k->noun);
}

/* Inserts the restriction (scope: the suspension's host club or NULL), cancels what it covers
 * and emits its event, in one transaction in club's scope. */
static int create(const svc_call_t *call, const kind_t *k, const char *club, const char *scope,
                  json_t *in, json_t **out, err_t *e) {
    const char *member = json_string_value(json_object_get(in, "member_id"));
    const char *ends_on = json_string_value(json_object_get(in, "ends_on"));
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *p[] = {club,    member, json_string_value(json_object_get(in, "reason")),
                       ends_on, user,   scope};
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    json_t *ids = json_array();
    int rc = -1;
    char id[40];
    if (svc_begin_in(call, club, &tx, e) != 0) goto done;
    const char *pl[] = {member};
    if (db_exec_cmd(tx,
                    "SELECT pg_advisory_xact_lock(hashtextextended('reciprocal.restriction:' || "
                    "$1, 11))",
                    1, pl, e) < 0)
        goto done;
    r = k == &k_susp
            ? db_exec(tx,
                      "INSERT INTO reciprocal.suspensions (home_club_id, member_id, reason, "
                      "ends_on, created_by, host_club_id) VALUES ($1, $2, $3, $4, $5, $6) "
                      "RETURNING id",
                      6, p, e)
            : db_exec(tx,
                      "INSERT INTO reciprocal.visitor_bans (host_club_id, member_id, reason, "
                      "ends_on, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                      5, p, e);
    if (!r) goto done;
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    if (cancel_affected(call, tx, k, club, member, scope, ends_on, ids, e) != 0) goto done;
    json_t *data = json_pack("{s:s, s:s, s:s, s:s?, s:I}", k->id_key, id, "member_id", member,
                             k->club_col, club, "scope_host_club_id", scope, "cancelled_visits",
                             (json_int_t)json_array_size(ids));
    if (svc_emit(call, tx, k->created, club, data, e) != 0) goto done;
    if (!(*out = load_doc(tx, k, id, e))) goto done;
    json_object_set(*out, "cancelled_visits", ids);
    rc = 0;
done:
    PQclear(r);
    json_decref(ids);
    return db_tx_finish(&tx, rc, out, e);
}

int rx_create_suspension(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char home[40];
    if (acting_club(call, in, home, e) != 0) return -1;
    const char *host = json_string_value(json_object_get(in, "host_club_id"));
    if (host && strcmp(host, home) == 0)
        return err_set(e, 422, "invalid_field", "host_club_id",
                       "host_club_id names a partner club, not the home club");
    /* the member must be one of the home club's (404 otherwise) */
    json_t *st = visit_standing(call, home, json_string_value(json_object_get(in, "member_id")), e);
    if (!st) return -1;
    json_decref(st);
    return create(call, &k_susp, home, host, in, out, e);
}

int rx_create_ban(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char host[40];
    if (acting_club(call, in, host, e) != 0) return -1;
    return create(call, &k_ban, host, NULL, in, out, e);
}

/* ---- lifting ---- */

static int lift(const svc_call_t *call, const kind_t *k, json_t *in, json_t **out, err_t *e) {
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *p[] = {id, user, json_string_value(json_object_get(in, "reason"))};
    char sql[512], club[40], member[40];
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    snprintf(sql, sizeof sql,
             "SELECT s.%s, s.member_id, (s.lifted_at IS NOT NULL)::int FROM %s s WHERE s.id = $1 "
             "FOR UPDATE",
             k->club_col, k->table);
    if (!(r = db_exec(tx, sql, 1, p, e))) goto done;
    if (PQntuples(r) == 0) {
        err_set(e, 404, "not_found", "id", "no such %s", k->noun);
        goto done;
    }
    if (PQgetvalue(r, 0, 2)[0] == '1') {
        err_set(e, 409, "invalid_transition", "status", "the %s is already lifted", k->noun);
        goto done;
    }
    snprintf(club, sizeof club, "%s", PQgetvalue(r, 0, 0));
    snprintf(member, sizeof member, "%s", PQgetvalue(r, 0, 1));
    snprintf(sql, sizeof sql,
             "UPDATE %s SET lifted_at = now(), lifted_by = $2, lift_reason = $3 WHERE id = $1",
             k->table);
    if (db_exec_cmd(tx, sql, 3, p, e) < 0) goto done;
    if (svc_emit(
            call, tx, k->lifted, club,
            json_pack("{s:s, s:s, s:s}", k->id_key, id, "member_id", member, k->club_col, club),
            e) != 0)
        goto done;
    *out = load_doc(tx, k, id, e);
    rc = *out ? 0 : -1;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}

int rx_lift_suspension(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return lift(call, &k_susp, in, out, e);
}

int rx_lift_ban(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return lift(call, &k_ban, in, out, e);
}

/* ---- listing ---- */

static int list(const svc_call_t *call, const kind_t *k, json_t *in, json_t **out, err_t *e) {
    char sql[2048];
    cursor_page_t pg;
    if (cursor_page_begin(in, 20, k->list, "Tu", &pg, e) != 0) return -1;
    const char *p[] = {json_string_value(json_object_get(in, "member_id")),
                       json_string_value(json_object_get(in, "status")), cursor_page_key(&pg, 0),
                       cursor_page_key(&pg, 1), pg.fetch};
    snprintf(sql, sizeof sql,
             "SELECT %s, reciprocal.ts(s.created_at), s.id FROM %s s WHERE ($1::uuid IS NULL OR "
             "s.member_id = $1::uuid) AND ($2::text IS NULL OR "
             "reciprocal.restriction_status(s.lifted_at, s.ends_on) = $2) AND ($3::timestamptz "
             "IS NULL OR (s.created_at, s.id) > ($3::timestamptz, $4::uuid)) ORDER BY "
             "s.created_at, s.id LIMIT $5::int",
             k->doc, k->table);
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope, sql, 5, p, e);
    if (!r) return cursor_page_failed(e);
    *out = cursor_page_output(r, pg.limit, k->list, "Tu", e);
    PQclear(r);
    return *out ? 0 : -1;
}

int rx_list_suspensions(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return list(call, &k_susp, in, out, e);
}

int rx_list_bans(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return list(call, &k_ban, in, out, e);
}
