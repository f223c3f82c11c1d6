/* agreements: see agreements.h. */
#include "services/reciprocal/agreements.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cursor.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "core/log.h"
#include "services/reciprocal/ledger_record.h"
#include "services/reciprocal/visit_ledger.h"
#include "services/reciprocal/lifecycle.h"
#include "services/reciprocal/terms.h"

#define TODAY_SQL "(now() AT TIME ZONE 'UTC')::date"
#define DOC_SQL "reciprocal.agreement_doc(a)::text"

static const char *const status_values[] = {"proposed", "active",    "suspended", "terminated",
                                            "rejected", "withdrawn", "expired",   NULL};

/* ---- validation ---- */

static int lower_uuid(json_t *arr, size_t i) {
    char buf[40];
    snprintf(buf, sizeof buf, "%s", json_string_value(json_array_get(arr, i)));
    for (char *c = buf; *c; c++)
        if (*c >= 'A' && *c <= 'F') *c = (char)(*c + 32);
    return json_array_set_new(arr, i, json_string(buf));
}

int ag_validate_create(json_t *in, err_t *e) {
    static const char *const keys[] = {"clubs",       "starts_on", "ends_on", "terms",
                                       "notice_days", "club_id",   NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    json_t *clubs = json_object_get(in, "clubs");
    if (!clubs || json_is_null(clubs)) return err_missing(e, "clubs");
    if (!json_is_array(clubs))
        return err_type(e, "clubs", "clubs must be an array of 2 to 16 club ids (the parties)");
    if (json_array_size(clubs) < 2 || json_array_size(clubs) > 16)
        return err_invalid(e, "clubs", "clubs must be an array of 2 to 16 club ids (the parties)");
    for (size_t i = 0; i < json_array_size(clubs); i++) {
        const char *s = json_string_value(json_array_get(clubs, i));
        char f[32];
        snprintf(f, sizeof f, "clubs[%zu]", i);
        if (!s || !jsonx_is_uuid(s)) return err_invalid(e, f, "%s must be a club id (uuid)", f);
        lower_uuid(clubs, i);
        for (size_t k = 0; k < i; k++)
            if (json_equal(json_array_get(clubs, k), json_array_get(clubs, i)))
                return err_invalid(e, f, "%s: the club is listed twice", f);
    }
    if (jsonx_date(in, "starts_on", 1, e) != 0) return -1;
    if (jsonx_date(in, "ends_on", 0, e) != 0) return -1;
    const char *ends = json_string_value(json_object_get(in, "ends_on"));
    if (ends && strcmp(ends, json_string_value(json_object_get(in, "starts_on"))) < 0)
        return err_invalid(e, "ends_on", "ends_on must not be before starts_on");
    long long notice;
    if (jsonx_int(in, "notice_days", 0, 0, 365, 30, &notice, e) != 0) return -1;
    json_object_set_new(in, "notice_days", json_integer(notice));
    if (jsonx_uuid(in, "club_id", 0, e) != 0) return -1;
    /* terms: per host club, every key a party; parties without terms get the defaults */
    json_t *terms = json_object_get(in, "terms");
    if (terms && !json_is_null(terms) && !json_is_object(terms))
        return err_type(e, "terms", "terms must be an object {<host club id>: {...}}");
    const char *k;
    json_t *v;
    json_object_foreach(terms, k, v) {
        char lk[40];
        snprintf(lk, sizeof lk, "%.36s", k);
        for (char *c = lk; *c; c++)
            if (*c >= 'A' && *c <= 'F') *c = (char)(*c + 32);
        int party = 0;
        for (size_t i = 0; i < json_array_size(clubs); i++)
            if (strcmp(json_string_value(json_array_get(clubs, i)), lk) == 0 && strlen(k) == 36)
                party = 1;
        if (!party) {
            err_invalid(e, "", "terms.%.40s: not one of the clubs", k);
            snprintf(e->field, sizeof e->field, "terms.%.40s", k);
            return -1;
        }
    }
    json_t *norm = json_object();
    for (size_t i = 0; i < json_array_size(clubs); i++) {
        const char *id = json_string_value(json_array_get(clubs, i));
        json_t *given = NULL;
        json_object_foreach(terms, k, v) {
            if (strcasecmp(k, id) == 0) given = v;
        }
        char path[64];
        snprintf(path, sizeof path, "terms.%s", id);
        json_t *t = terms_parse(given, path, e);
        if (!t) {
            json_decref(norm);
            return -1;
        }
        json_object_set_new(norm, id, t);
    }
    json_object_set_new(in, "terms", norm);
    return 0;
}

int ag_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"status", "partner", "limit", "after", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "status", 0, status_values, &s, e) != 0) return -1;
    if (jsonx_uuid(in, "partner", 0, e) != 0) return -1;
    return cursor_page_validate(in, e);
}

int ag_validate_ref(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return jsonx_uuid(in, "id", 1, e);
}

int ag_validate_transition(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "reason", "club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "reason", 0, 1, 500, &s, e) != 0) return -1;
    if (jsonx_uuid(in, "club_id", 0, e) != 0) return -1;
    return jsonx_uuid(in, "id", 1, e);
}

int ag_validate_partners(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "status", "format", NULL};
    static const char *const formats[] = {"json", "csv", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "status", 0, status_values, &s, e) != 0) return -1;
    if (jsonx_enum(in, "format", 0, formats, &s, e) != 0) return -1;
    return jsonx_uuid(in, "id", 1, e);
}

int ag_validate_sweep(json_t *in, err_t *e) {
    static const char *const keys[] = {"as_of", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return jsonx_date(in, "as_of", 0, e);
}

/* ---- helpers ---- */

/* The club the call acts for: the caller's club (a different in.club_id is 403); a network
 * administrator names one with club_id (400 when absent). */
static int acting_club(const svc_call_t *call, json_t *in, char club[40], err_t *e) {
    const char *named = json_string_value(json_object_get(in, "club_id"));
    if (call->caller->club_id[0]) {
        if (named && strcasecmp(named, call->caller->club_id) != 0)
            return err_set(e, 403, "forbidden", "club_id", "you act for your own club only");
        snprintf(club, 40, "%s", call->caller->club_id);
        return 0;
    }
    if (!call->caller->network_admin || !named)
        return err_set(e, 400, "missing_field", "club_id",
                       "club_id is required: the party club a network administrator acts for");
    snprintf(club, 40, "%s", named);
    for (char *c = club; *c; c++)
        if (*c >= 'A' && *c <= 'F') *c = (char)(*c + 32);
    return 0;
}

/* The clubs among ids (array of uuid strings) through the member service: *items gets its
 * answer's "items" (club or null per id, in order). */
static int fetch_clubs(const svc_call_t *call, json_t *ids, json_t **items, err_t *e) {
    json_t *in = json_pack("{s:O}", "ids", ids), *res = NULL;
    int status = 0;
    int rc = svc_call(call->env, "member", "get_clubs_by_ids", call->caller, in, &status, &res, e);
    json_decref(in);
    if (rc != 0) return -1;
    *items = json_incref(json_object_get(res, "items"));
    json_decref(res);
    if (!json_is_array(*items) || json_array_size(*items) != json_array_size(ids)) {
        json_decref(*items);
        *items = NULL;
        return err_set(e, 502, "bad_gateway", "", "the member service answered no club list");
    }
    return 0;
}

/* Writes one transition row and its event. */
static int record(const svc_call_t *call, db_tx_t *tx, const char *id, const char *club,
                  const char *action, const char *from, const char *to, const char *reason,
                  const char *event, const char *tenant, err_t *e) {
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *p[] = {id, club, user, action, from, to, reason};
    if (db_exec_cmd(tx,
                    "INSERT INTO reciprocal.agreement_transitions (agreement_id, club_id, "
                    "actor_user_id, action, from_status, to_status, reason) VALUES ($1, $2, $3, "
                    "$4, $5, $6, $7)",
                    7, p, e) < 0)
        return -1;
    if (!event) return 0;
    json_t *data = json_pack("{s:s, s:s, s:s}", "agreement_id", id, "action", action, "status", to);
    if (from) json_object_set_new(data, "from_status", json_string(from));
    if (club) json_object_set_new(data, "club_id", json_string(club));
    return svc_emit(call, tx, event, tenant, data, e);
}

/* The agreement document (new reference) of id in tx; 404 when the caller cannot see it. */
static json_t *load_doc(db_tx_t *tx, const char *id, err_t *e) {
    const char *p[] = {id};
    PGresult *r =
        db_exec(tx, "SELECT " DOC_SQL " FROM reciprocal.agreements a WHERE a.id = $1", 1, p, e);
    return db_row_json(r, e, "id", "no such agreement");
}

/* ---- operations ---- */

/* The party clubs must exist and be active (member service); allowed facilities default to,
 * and must come from, each host's facility list. */
static int check_parties(const svc_call_t *call, json_t *in, err_t *e) {
    json_t *clubs = json_object_get(in, "clubs"), *terms = json_object_get(in, "terms");
    json_t *items = NULL;
    if (fetch_clubs(call, clubs, &items, e) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(clubs); i++) {
        json_t *club = json_array_get(items, i);
        const char *id = json_string_value(json_array_get(clubs, i));
        char f[32], path[64];
        snprintf(f, sizeof f, "clubs[%zu]", i);
        snprintf(path, sizeof path, "terms.%s", id);
        if (!json_is_object(club))
            rc = err_invalid(e, f, "%s: no such club", f);
        else if (strcmp(json_string_value(json_object_get(club, "status")), "active") != 0)
            rc = err_invalid(e, f, "%s: the club is not active", f);
        else
            rc = terms_apply_facilities(json_object_get(terms, id),
                                        json_object_get(club, "facilities"), path, e);
    }
    json_decref(items);
    return rc;
}

int ag_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char club[40];
    if (acting_club(call, in, club, e) != 0) return -1;
    json_t *clubs = json_object_get(in, "clubs");
    int party = 0;
    for (size_t i = 0; i < json_array_size(clubs); i++)
        if (strcmp(json_string_value(json_array_get(clubs, i)), club) == 0) party = 1;
    if (!party) return err_invalid(e, "clubs", "clubs must include the proposing club (%s)", club);
    if (check_parties(call, in, e) != 0) return -1;
    int rc = -1;
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    char *clubs_s = jsonx_dump(clubs), *terms_s = jsonx_dump(json_object_get(in, "terms"));
    char notice[24], id[40] = "";
    snprintf(notice, sizeof notice, "%lld",
             (long long)json_integer_value(json_object_get(in, "notice_days")));
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *p[] = {club,
                       clubs_s,
                       json_string_value(json_object_get(in, "starts_on")),
                       json_string_value(json_object_get(in, "ends_on")),
                       notice,
                       terms_s,
                       user};
    if (svc_begin_in(call, club, &tx, e) != 0) goto done;
    r = db_exec(tx,
                "INSERT INTO reciprocal.agreements (proposer_club_id, club_ids, starts_on, "
                "ends_on, notice_days, terms, created_by) VALUES ($1, ARRAY(SELECT "
                "jsonb_array_elements_text($2::jsonb)::uuid), $3, $4, $5::int, $6::jsonb, $7) "
                "RETURNING id",
                7, p, e);
    if (!r) goto done;
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    const char *pp[] = {id, club, user};
    if (db_exec_cmd(tx,
                    "INSERT INTO reciprocal.parties (agreement_id, club_id, role, accepted_at, "
                    "accepted_by) SELECT $1, c, CASE WHEN c = $2::uuid THEN 'proposer' ELSE "
                    "'party' END, CASE WHEN c = $2::uuid THEN now() END, CASE WHEN c = $2::uuid "
                    "THEN $3::uuid END FROM unnest((SELECT club_ids FROM reciprocal.agreements "
                    "WHERE id = $1)) AS c",
                    3, pp, e) < 0)
        goto done;
    if (record(call, tx, id, club, "propose", NULL, "proposed", NULL, "agreement.proposed", club,
               e) != 0)
        goto done;
    if (svc_emit(call, tx, "reciprocal.agreement_created", club,
                 json_pack("{s:s, s:O, s:s, s:s}", "agreement_id", id, "clubs", clubs,
                           "proposer_club_id", club, "status", "proposed"),
                 e) != 0)
        goto done;
    *out = load_doc(tx, id, e);
    rc = *out ? 0 : -1;
done:
    PQclear(r);
    free(clubs_s), free(terms_s);
    return db_tx_finish(&tx, rc, out, e);
}

int ag_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    cursor_page_t pg;
    if (cursor_page_begin(in, 20, "agreements", "Tu", &pg, e) != 0) return -1;
    const char *p[] = {json_string_value(json_object_get(in, "status")),
                       json_string_value(json_object_get(in, "partner")), cursor_page_key(&pg, 0),
                       cursor_page_key(&pg, 1), pg.fetch};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT " DOC_SQL ", reciprocal.ts(a.created_at), a.id "
                          "FROM reciprocal.agreements a WHERE ($1::text IS NULL OR a.status = $1) "
                          "AND ($2::uuid IS NULL OR $2::uuid = ANY (a.club_ids)) AND "
                          "($3::timestamptz IS NULL OR (a.created_at, a.id) > ($3::timestamptz, "
                          "$4::uuid)) ORDER BY a.created_at, a.id LIMIT $5::int",
                          5, p, e);
    if (!r) return cursor_page_failed(e);
    *out = cursor_page_output(r, pg.limit, "agreements", "Tu", e);
    PQclear(r);
    return *out ? 0 : -1;
}

int ag_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *p[] = {json_string_value(json_object_get(in, "id"))};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(
        call->env->db, &scope,
        "SELECT (reciprocal.agreement_doc(a) || jsonb_build_object('history', " LC_HISTORY_SQL(
            "agreement_transitions", "agreement_id",
            "a") "))::text "
                 "FROM reciprocal.agreements a WHERE a.id = $1",
        1, p, e);
    *out = db_row_json(r, e, "id", "no such agreement");
    return *out ? 0 : -1;
}

/* ---- transitions ---- */

typedef struct ag_row {
    char status[16], proposer[40], suspended_by[40], notice_days[16];
    int started;  /* starts_on <= today and (ends_on null or >= today) */
    int noticed;  /* notice of termination given */
    int accepted; /* the acting club has accepted */
    int party;    /* the acting club is a party */
} ag_row_t;

static int lock_row(db_tx_t *tx, const char *id, const char *club, ag_row_t *a, err_t *e) {
    const char *p[] = {id, club};
    PGresult *r = db_exec(
        tx,
        "SELECT a.status, a.proposer_club_id, coalesce(a.suspended_by::text, ''), "
        "a.notice_days::text, (a.starts_on <= " TODAY_SQL " AND (a.ends_on IS NULL OR a.ends_on "
        ">= " TODAY_SQL "))::int, (a.notice_given_at IS NOT NULL)::int, coalesce((SELECT "
        "(p.accepted_at IS NOT NULL)::int FROM reciprocal.parties p WHERE p.agreement_id = a.id "
        "AND p.club_id = $2::uuid), 0), ($2::uuid = ANY (a.club_ids))::int FROM "
        "reciprocal.agreements a WHERE a.id = $1 FOR UPDATE",
        2, p, e);
    if (!r) return -1;
    int rc = 0;
    if (PQntuples(r) == 0 || PQgetvalue(r, 0, 7)[0] != '1') {
        rc = err_set(e, 404, "not_found", "id", "no such agreement");
    } else {
        snprintf(a->status, sizeof a->status, "%s", PQgetvalue(r, 0, 0));
        snprintf(a->proposer, sizeof a->proposer, "%s", PQgetvalue(r, 0, 1));
        snprintf(a->suspended_by, sizeof a->suspended_by, "%s", PQgetvalue(r, 0, 2));
        snprintf(a->notice_days, sizeof a->notice_days, "%s", PQgetvalue(r, 0, 3));
        a->started = PQgetvalue(r, 0, 4)[0] == '1';
        a->noticed = PQgetvalue(r, 0, 5)[0] == '1';
        a->accepted = PQgetvalue(r, 0, 6)[0] == '1';
        a->party = 1;
    }
    PQclear(r);
    return rc;
}

static int set_status(db_tx_t *tx, const char *id, const char *to, const char *extra_sql,
                      const char *club, err_t *e) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE reciprocal.agreements SET status = $2, updated_at = now()%s WHERE id = $1",
             extra_sql ? extra_sql : "");
    const char *p[] = {id, to, club};
    return db_exec_cmd(tx, sql, extra_sql && strstr(extra_sql, "$3") ? 3 : 2, p, e) < 0 ? -1 : 0;
}

/* Activates id (proposed -> active) when every party accepted and its start date came. */
static int maybe_activate(const svc_call_t *call, db_tx_t *tx, const char *id, const char *club,
                          const char *tenant, err_t *e) {
    const char *p[] = {id};
    PGresult *r = db_exec(tx,
                          "SELECT (NOT EXISTS (SELECT 1 FROM reciprocal.parties p WHERE "
                          "p.agreement_id = $1 AND p.accepted_at IS NULL))::int",
                          1, p, e);
    if (!r) return -1;
    int all = PQgetvalue(r, 0, 0)[0] == '1';
    PQclear(r);
    if (!all) return 0;
    int held = 0; /* a club holding its own ledger keys: proposed until the ledger commits */
    if (ag_ledger_hold(call, tx, id, &held, e) != 0) return -1;
    if (held) return 0;
    if (set_status(tx, id, "active", ", activated_at = now()", NULL, e) != 0) return -1;
    if (ag_ledger_enqueue(tx, id, e) != 0) return -1;
    return record(call, tx, id, club, "activate", "proposed", "active", NULL, "agreement.activated",
                  tenant, e);
}

static int transition(const svc_call_t *call, json_t *in, const char *action, json_t **out,
                      err_t *e) {
    char club[40];
    if (acting_club(call, in, club, e) != 0) return -1;
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    if (!reason && (strcmp(action, "suspend") == 0 || strcmp(action, "terminate") == 0))
        return err_set(e, 400, "missing_field", "reason", "reason is required to %s", action);
    int rc = -1;
    db_tx_t *tx = NULL;
    ag_row_t a = {0};
    char allowed[128];
    if (svc_begin_in(call, club, &tx, e) != 0) goto done;
    if (lock_row(tx, id, club, &a, e) != 0) goto done;
    const char *to = lc_next(action, a.status);
    if (!to) {
        err_set(e, 409, "invalid_transition", "status",
                "cannot %s an agreement that is %s; allowed: %s", action, a.status,
                lc_allowed(a.status, allowed, sizeof allowed));
        goto done;
    }
    int proposer = strcmp(a.proposer, club) == 0;
    if (strcmp(action, "accept") == 0) {
        if (a.accepted) {
            err_set(e, 409, "already_accepted", "status", "your club has already accepted");
            goto done;
        }
        const char *p[] = {id, club, call->caller->user_id[0] ? call->caller->user_id : NULL};
        if (db_exec_cmd(tx,
                        "UPDATE reciprocal.parties SET accepted_at = now(), accepted_by = $3 "
                        "WHERE agreement_id = $1 AND club_id = $2",
                        3, p, e) < 0)
            goto done;
        if (record(call, tx, id, club, "accept", a.status, a.status, reason, "agreement.accepted",
                   club, e) != 0)
            goto done;
        if (a.started && maybe_activate(call, tx, id, club, club, e) != 0) goto done;
    } else if (strcmp(action, "reject") == 0 && proposer) {
        err_set(e, 403, "forbidden", "id", "the proposing club withdraws its proposal instead");
        goto done;
    } else if (strcmp(action, "withdraw") == 0 && !proposer) {
        err_set(e, 403, "forbidden", "id", "only the proposing club may withdraw; reject instead");
        goto done;
    } else if (strcmp(action, "resume") == 0 && a.suspended_by[0] &&
               strcmp(a.suspended_by, club) != 0) {
        err_set(e, 403, "forbidden", "id", "only the club that suspended the agreement resumes it");
        goto done;
    } else if (strcmp(action, "terminate") == 0) {
        if (a.noticed) {
            err_set(e, 409, "invalid_transition", "status",
                    "notice of termination has already been given");
            goto done;
        }
        const char *p[] = {id, club, reason};
        if (strcmp(a.notice_days, "0") == 0) {
            if (db_exec_cmd(tx,
                            "UPDATE reciprocal.agreements SET status = 'terminated', notice_by = "
                            "$2, notice_given_at = now(), notice_reason = $3, terminates_on "
                            "= " TODAY_SQL ", ended_at = now(), updated_at = now() WHERE id = $1",
                            3, p, e) < 0)
                goto done;
            if (record(call, tx, id, club, "terminate", a.status, "terminated", reason,
                       "agreement.terminated", club, e) != 0)
                goto done;
        } else {
            if (db_exec_cmd(tx,
                            "UPDATE reciprocal.agreements SET notice_by = $2, notice_given_at = "
                            "now(), notice_reason = $3, terminates_on = " TODAY_SQL
                            " + notice_days, updated_at = now() WHERE id = $1",
                            3, p, e) < 0)
                goto done;
            if (record(call, tx, id, club, "terminate", a.status, a.status, reason,
                       "agreement.termination_noticed", club, e) != 0)
                goto done;
        }
    } else {
        const char *extra = strcmp(action, "suspend") == 0  ? ", suspended_by = $3"
                            : strcmp(action, "resume") == 0 ? ", suspended_by = NULL"
                                                            : ", ended_at = now()";
        static const struct {
            const char *action, *event;
        } events[] = {{"reject", "agreement.rejected"},
                      {"withdraw", "agreement.withdrawn"},
                      {"suspend", "agreement.suspended"},
                      {"resume", "agreement.resumed"}};
        const char *event = NULL;
        for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
            if (strcmp(events[i].action, action) == 0) event = events[i].event;
        if (set_status(tx, id, to, extra, club, e) != 0) goto done;
        if (record(call, tx, id, club, action, a.status, to, reason, event, club, e) != 0)
            goto done;
    }
    *out = load_doc(tx, id, e);
    rc = *out ? 0 : -1;
done:
    return db_tx_finish(&tx, rc, out, e);
}

int ag_accept(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "accept", out, e);
}
int ag_reject(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "reject", out, e);
}
int ag_withdraw(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "withdraw", out, e);
}
int ag_suspend(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "suspend", out, e);
}
int ag_resume(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "resume", out, e);
}
int ag_terminate(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "terminate", out, e);
}

/* ---- partner directory ---- */

/* One CSV cell: always quoted; a leading formula character is neutralised with an apostrophe
 * (spreadsheet formula injection, docs/security.md D1). */
static void csv_cell(strbuf_t *b, const char *v, int last) {
    strbuf_puts(b, "\"");
    if (v && (*v == '=' || *v == '+' || *v == '-' || *v == '@' || *v == '\t' || *v == '\r' ||
              *v == '\n'))
        strbuf_puts(b, "'");
    for (const char *c = v ? v : ""; *c; c++)
        strbuf_puts(b, *c == '"' ? "\"\"" : (char[2]){*c, 0});
    strbuf_puts(b, last ? "\"\n" : "\",");
}

static void csv_int(strbuf_t *b, const json_t *v, int last) {
    if (json_is_integer(v))
        strbuf_printf(b, "%lld%s", (long long)json_integer_value(v), last ? "\n" : ",");
    else
        strbuf_puts(b, last ? "\n" : ",");
}

static json_t *partners_csv(const char *club, json_t *items) {
    strbuf_t b = {0};
    strbuf_puts(&b, "partner_club_id,partner_name,agreement_id,status,starts_on,ends_on,"
                    "terminates_on,at_partner_visits_month,at_partner_days_year,"
                    "at_partner_days_per_stay,at_partner_guests,at_partner_payment,"
                    "at_us_visits_month,at_us_days_year,at_us_days_per_stay,"
                    "at_us_guests,at_us_payment\n");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *there = json_object_get(it, "at_partner"), *here = json_object_get(it, "at_us");
        static const char *const cols[] = {
            "partner_club_id", "partner_name", "agreement_id",  "status",
            "starts_on",       "ends_on",      "terminates_on", NULL};
        for (const char *const *c = cols; *c; c++)
            csv_cell(&b, json_string_value(json_object_get(it, *c)), 0);
        json_t *sides[] = {there, here};
        for (int s = 0; s < 2; s++) {
            csv_int(&b, json_object_get(sides[s], "max_visits_month"), 0);
            csv_int(&b, json_object_get(sides[s], "max_days_year"), 0);
            csv_int(&b, json_object_get(sides[s], "max_days_per_stay"), 0);
            csv_int(&b, json_object_get(sides[s], "max_guests"), 0);
            csv_cell(&b, json_string_value(json_object_get(sides[s], "payment_mode")), s == 1);
        }
    }
    char *body = strbuf_take(&b);
    char name[80];
    snprintf(name, sizeof name, "partners-%s.csv", club);
    json_t *out = body ? svc_raw_output("text/csv; charset=utf-8", name, body) : NULL;
    free(body);
    return out;
}

/* Adds partner_name / partner_slug from the member service (batches of 100). */
static int name_partners(const svc_call_t *call, json_t *items, err_t *e) {
    for (size_t start = 0; start < json_array_size(items); start += 100) {
        json_t *ids = json_array(), *clubs = NULL;
        for (size_t i = start; i < json_array_size(items) && i < start + 100; i++)
            json_array_append(ids, json_object_get(json_array_get(items, i), "partner_club_id"));
        int rc = fetch_clubs(call, ids, &clubs, e);
        json_decref(ids);
        if (rc != 0) return -1;
        for (size_t i = start; i < json_array_size(items) && i < start + 100; i++) {
            json_t *c = json_array_get(clubs, i - start), *it = json_array_get(items, i);
            json_object_set(it, "partner_name",
                            json_is_object(c) ? json_object_get(c, "name") : json_null());
            json_object_set(it, "partner_slug",
                            json_is_object(c) ? json_object_get(c, "slug") : json_null());
        }
        json_decref(clubs);
    }
    return 0;
}

int ag_partners(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char club[40];
    snprintf(club, sizeof club, "%s", json_string_value(json_object_get(in, "id")));
    for (char *c = club; *c; c++)
        if (*c >= 'A' && *c <= 'F') *c = (char)(*c + 32);
    if (!call->caller->network_admin && strcasecmp(club, call->caller->club_id) != 0)
        return err_set(e, 403, "forbidden", "id", "a club sees its own partner directory only");
    const char *p[] = {club, json_string_value(json_object_get(in, "status"))};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(
        call->env->db, &scope,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('partner_club_id', c, 'agreement_id', a.id, "
        "'status', a.status, 'starts_on', a.starts_on, 'ends_on', a.ends_on, 'terminates_on', "
        "a.terminates_on, 'at_partner', a.terms -> c::text, 'at_us', a.terms -> $1) ORDER BY "
        "a.created_at, a.id, c), '[]')::text FROM reciprocal.agreements a CROSS JOIN LATERAL "
        "unnest(a.club_ids) AS c WHERE $1::uuid = ANY (a.club_ids) AND c <> $1::uuid AND "
        "(($2::text IS NULL AND a.status IN ('proposed', 'active', 'suspended')) OR a.status = "
        "$2)",
        2, p, e);
    if (!r) return -1;
    json_t *items = db_json(r, 0, 0, e);
    PQclear(r);
    if (!items) return -1;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_object_set_new(it, "at_partner", terms_summary(json_object_get(it, "at_partner")));
        json_object_set_new(it, "at_us", terms_summary(json_object_get(it, "at_us")));
    }
    if (name_partners(call, items, e) != 0) {
        json_decref(items);
        return -1;
    }
    const char *format = json_string_value(json_object_get(in, "format"));
    if (format && strcmp(format, "csv") == 0) {
        *out = partners_csv(club, items);
        json_decref(items);
        return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
    }
    *out = json_pack("{s:s, s:o}", "club_id", club, "items", items);
    return 0;
}

/* ---- scheduled work ---- */

/* Applies `action` to every due row the query selects (id, status, proposer): status, transition
 * row (club NULL: the scheduler) and event. *n gets the count. */
static int sweep_step(const svc_call_t *call, db_tx_t *tx, const char *select_sql,
                      const char *as_of, const char *action, const char *extra, const char *event,
                      long long *n, err_t *e) {
    const char *p[] = {as_of};
    PGresult *r = db_exec(tx, select_sql, 1, p, e);
    if (!r) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0), *from = PQgetvalue(r, i, 1);
        const char *to = lc_next(action, from);
        if (!to) continue;
        int held = 0;
        if (strcmp(action, "activate") == 0 && (rc = ag_ledger_hold(call, tx, id, &held, e)) != 0)
            break;
        if (held) continue;
        rc = set_status(tx, id, to, extra, NULL, e);
        if (rc == 0 && strcmp(action, "activate") == 0) rc = ag_ledger_enqueue(tx, id, e);
        if (rc == 0)
            rc = record(call, tx, id, NULL, action, from, to, NULL, event, PQgetvalue(r, i, 2), e);
        if (rc == 0) (*n)++;
    }
    PQclear(r);
    return rc;
}

/* After the sweep committed: submits pending ledger records (ledger_record.h) and adds
 * ledger_submitted / ledger_pending to out. A failure is logged, never the sweep's. */
static void ledger_pass_into(const svc_call_t *call, json_t *out) {
    long long submitted = 0, pending = 0;
    err_t e = {0};
    if (ag_ledger_pass(call, &submitted, &pending, &e) != 0)
        log_warn("agreement ledger records: %s (retried next sweep)", e.message);
    json_object_set_new(out, "ledger_submitted", json_integer(submitted));
    json_object_set_new(out, "ledger_pending", json_integer(pending));
    submitted = pending = 0;
    if (visit_ledger_pass(call, &submitted, &pending, &e) != 0)
        log_warn("visit ledger records: %s (retried next sweep)", e.message);
    json_object_set_new(out, "visit_ledger_submitted", json_integer(submitted));
    json_object_set_new(out, "visit_ledger_pending", json_integer(pending));
}

int ag_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *as_of_in = json_string_value(json_object_get(in, "as_of"));
    long long activated = 0, terminated = 0, expired = 0;
    int rc = -1, locked = 0;
    db_tx_t *tx = NULL;
    char as_of[16];
    PGresult *r = NULL;
    long long endorsed = 0; /* held activations whose transaction committed: activated below */
    err_t ce = {0};
    if (ag_ledger_commits(call, &endorsed, &ce) != 0)
        log_warn("agreement ledger commits: %s (retried next sweep)", ce.message);
    if (svc_begin(call, &tx, e) != 0) goto done;
    const char *p[] = {as_of_in};
    r = db_exec(tx,
                "SELECT coalesce($1::date, " TODAY_SQL ")::text, "
                "pg_try_advisory_xact_lock(hashtext('reciprocal.agreement_sweep'))::int",
                1, p, e);
    if (!r) goto done;
    snprintf(as_of, sizeof as_of, "%s", PQgetvalue(r, 0, 0));
    locked = PQgetvalue(r, 0, 1)[0] == '1';
    if (locked &&
        (sweep_step(call, tx,
                    "SELECT a.id, a.status, a.proposer_club_id FROM reciprocal.agreements a "
                    "WHERE a.status IN ('active', 'suspended') AND a.terminates_on <= $1::date "
                    "ORDER BY a.id FOR UPDATE SKIP LOCKED",
                    as_of, "enact", ", ended_at = now()", "agreement.terminated", &terminated,
                    e) != 0 ||
         sweep_step(call, tx,
                    "SELECT a.id, a.status, a.proposer_club_id FROM reciprocal.agreements a "
                    "WHERE a.status IN ('active', 'suspended') AND a.ends_on < $1::date "
                    "ORDER BY a.id FOR UPDATE SKIP LOCKED",
                    as_of, "expire", ", ended_at = now()", "agreement.expired", &expired, e) != 0 ||
         sweep_step(call, tx,
                    "SELECT a.id, a.status, a.proposer_club_id FROM reciprocal.agreements a "
                    "WHERE a.status = 'proposed' AND a.starts_on <= $1::date AND (a.ends_on IS "
                    "NULL OR a.ends_on >= $1::date) AND NOT EXISTS (SELECT 1 FROM "
                    "reciprocal.parties p WHERE p.agreement_id = a.id AND p.accepted_at IS NULL) "
                    "ORDER BY a.id FOR UPDATE SKIP LOCKED",
                    as_of, "activate", ", activated_at = now()", "agreement.activated", &activated,
                    e) != 0))
        goto done;
    *out = json_pack("{s:I, s:I, s:I, s:s, s:b}", "activated", (json_int_t)activated, "terminated",
                     (json_int_t)terminated, "expired", (json_int_t)expired, "as_of", as_of, "ran",
                     locked);
    rc = 0;
done:
    PQclear(r);
    rc = db_tx_finish(&tx, rc, out, e);
    if (rc == 0 && locked) ledger_pass_into(call, *out);
    return rc;
}
