/* proposals: see proposals.h. */
#include "services/governance/proposals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cursor.h"
#include "core/json.h"
#include "services/governance/common.h"
#include "services/governance/types.h"

static const char *const scopes[] = {"network", "club", NULL};
static const char *const status_values[] = {
    "draft",     "pending",  "active",  "defeated",         "succeeded", "queued",
    "executing", "executed", "expired", "execution_failed", "canceled",  NULL};

int gov_validate_create(json_t *in, err_t *e) {
    static const char *const keys[] = {"type",    "title",   "body",  "scope", "actions",
                                       "options", "club_id", "as_of", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "type", 1, gov_type_names, &s, e) != 0) return -1;
    if (jsonx_string(in, "title", 1, 1, 200, &s, e) != 0) return -1;
    if (jsonx_text(in, "body", 0, 0, 20000, &s, e) != 0) return -1;
    if (jsonx_enum(in, "scope", 0, scopes, &s, e) != 0) return -1;
    if (!s) json_object_set_new(in, "scope", json_string("network"));
    json_t *actions = json_object_get(in, "actions");
    if (!actions || json_is_null(actions)) json_object_set_new(in, "actions", json_array());
    if (!json_is_array(json_object_get(in, "actions")))
        return err_type(e, "actions", "actions must be an array of {type, ...}");
    json_t *options = json_object_get(in, "options");
    if (options && !json_is_null(options)) {
        if (!json_is_array(options) || json_array_size(options) < 2 ||
            json_array_size(options) > 50)
            return err_invalid(e, "options", "options must be 2 to 50 distinct names");
        for (size_t i = 0; i < json_array_size(options); i++) {
            const char *o = json_string_value(json_array_get(options, i));
            char f[32];
            snprintf(f, sizeof f, "options[%zu]", i);
            if (!o || !*o || strlen(o) > 200 || strcmp(o, "abstain") == 0 ||
                strcmp(o, "for") == 0 || strcmp(o, "against") == 0)
                return err_invalid(e, f, "%s must be a name (not for, against or abstain)", f);
            for (size_t k = 0; k < i; k++)
                if (json_equal(json_array_get(options, k), json_array_get(options, i)))
                    return err_invalid(e, f, "%s is listed twice", f);
        }
    }
    if (gov_valid_uuid(in, "club_id", 0, e) != 0) return -1;
    return gov_valid_as_of(in, e);
}

int gov_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"status", "scope", "type", "limit", "after", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "status", 0, status_values, &s, e) != 0) return -1;
    if (jsonx_enum(in, "scope", 0, scopes, &s, e) != 0) return -1;
    if (jsonx_enum(in, "type", 0, gov_type_names, &s, e) != 0) return -1;
    return cursor_page_validate(in, e);
}

int gov_validate_ref(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return gov_valid_uuid(in, "id", 1, e);
}

int gov_validate_action(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "reason", "club_id", "as_of", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "reason", 0, 1, 500, &s, e) != 0) return -1;
    if (gov_valid_uuid(in, "club_id", 0, e) != 0) return -1;
    if (gov_valid_as_of(in, e) != 0) return -1;
    return gov_valid_uuid(in, "id", 1, e);
}

/* ---- helpers ---- */

int gov_fetch_clubs(const svc_call_t *call, json_t *ids, json_t **items, err_t *e) {
    svc_caller_t sys;
    gov_system_caller(call, &sys);
    json_t *in = json_pack("{s:O}", "ids", ids), *res = NULL;
    int status = 0;
    int rc = svc_call(call->env, "member", "get_clubs_by_ids", &sys, in, &status, &res, e);
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

/* The club must exist and be active ("in good standing"): 0, or -1 + 422 naming field. */
static int club_in_standing(const svc_call_t *call, const char *club, const char *field, err_t *e) {
    json_t *ids = json_pack("[s]", club), *items = NULL;
    int rc = gov_fetch_clubs(call, ids, &items, e);
    json_decref(ids);
    if (rc != 0) return -1;
    json_t *c = json_array_get(items, 0);
    if (!json_is_object(c))
        rc = err_invalid(e, field, "%s: no such club", field);
    else if (strcmp(json_string_value(json_object_get(c, "status")), "active") != 0)
        rc = err_set(e, 422, "not_in_good_standing", field, "the club is not in good standing");
    json_decref(items);
    return rc;
}

/* The clubs suspend_club / expel_club / reinstate_club name must exist (422 naming
 * actions[i].club_id). */
static int check_action_clubs(const svc_call_t *call, json_t *actions, err_t *e) {
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a) {
        const char *kind = json_string_value(json_object_get(a, "type"));
        if (strcmp(kind, "suspend_club") != 0 && strcmp(kind, "expel_club") != 0 &&
            strcmp(kind, "reinstate_club") != 0)
            continue;
        json_t *ids = json_pack("[O]", json_object_get(a, "club_id")), *items = NULL;
        int rc = gov_fetch_clubs(call, ids, &items, e);
        json_decref(ids);
        if (rc != 0) return -1;
        int found = json_is_object(json_array_get(items, 0));
        json_decref(items);
        if (!found) {
            char f[48];
            snprintf(f, sizeof f, "actions[%zu].club_id", i);
            return err_invalid(e, f, "%s: no such club", f);
        }
    }
    return 0;
}

void gov_window_sql(json_t *rule, char *buf, size_t cap) {
    long long delay = json_integer_value(json_object_get(rule, "voting_delay_s"));
    long long notice = json_integer_value(json_object_get(rule, "notice_days")) * 86400;
    long long period = json_integer_value(json_object_get(rule, "voting_period_s"));
    long long start = delay > notice ? delay : notice;
    snprintf(buf, cap,
             ", voting_starts_at = $4::timestamptz + interval '%lld seconds', voting_ends_at = "
             "$4::timestamptz + interval '%lld seconds'",
             start, start + period);
}

/* ---- operations ---- */

int gov_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char club[40], now[40], hash[65], window[256], id[40] = "";
    if (gov_acting_club(call, in, club, e) != 0) return -1;
    if (gov_clock(call, in, now, e) != 0) return -1;
    const char *scope = json_string_value(json_object_get(in, "scope"));
    const char *type = json_string_value(json_object_get(in, "type"));
    json_t *actions = json_object_get(in, "actions"), *options = json_object_get(in, "options");
    int network = strcmp(scope, "network") == 0;
    if (network && club_in_standing(call, club, "club_id", e) != 0) return -1;
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *proposer_key = network || !user ? club : user;
    int rc = -1;
    db_tx_t *tx = NULL;
    json_t *rule = NULL;
    char *rule_s = NULL, *actions_s = NULL, *options_s = NULL;
    PGresult *r = NULL;
    if (svc_begin_in(call, club, &tx, e) != 0) goto done;
    if (!(rule = gov_type_rule(tx, type, e))) goto done;
    int scope_ok = 0;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(rule, "scopes"), i, s) scope_ok |=
        strcmp(json_string_value(s), scope) == 0;
    if (!scope_ok) {
        err_invalid(e, "scope", "a %s proposal cannot have scope %s", type, scope);
        goto done;
    }
    if (gov_validate_actions(actions, rule, e) != 0) goto done;
    if (check_action_clubs(call, actions, e) != 0) goto done;
    int plurality = strcmp(json_string_value(json_object_get(rule, "kind")), "plurality") == 0;
    if (plurality && !json_is_array(options)) {
        err_set(e, 400, "missing_field", "options", "options (the candidates) are required");
        goto done;
    }
    if (!plurality && json_is_array(options)) {
        err_invalid(e, "options", "only a plurality vote (board_election) has options");
        goto done;
    }
    const char *pl[] = {scope, proposer_key};
    r = db_exec(tx,
                "SELECT 1 FROM governance.proposals WHERE scope = $1 AND proposer_key = $2 AND "
                "status IN ('draft', 'pending', 'active')",
                2, pl, e);
    if (!r) goto done;
    if (PQntuples(r) > 0) {
        err_set(e, 409, "live_proposal_exists", "",
                "the proposer already has a live proposal (draft, pending or active)");
        goto done;
    }
    PQclear(r);
    r = NULL;
    int needs_sponsor = network && json_integer_value(json_object_get(rule, "sponsors")) > 0;
    gov_actions_hash(actions, hash);
    rule_s = jsonx_dump(rule);
    actions_s = jsonx_dump(actions);
    options_s = json_is_array(options) ? jsonx_dump(options) : NULL;
    gov_window_sql(rule, window, sizeof window);
    char sql[1400];
    /* $4 is the clock in both the insert and the window */
    snprintf(sql, sizeof sql,
             "INSERT INTO governance.proposals (scope, club_id, proposer_user_id, type, title, "
             "body, options, actions, actions_hash, rule, status, proposer_key, created_at, "
             "updated_at) VALUES ($1, $2, $3, $5, $6, coalesce($7, ''), $8::jsonb, $9::jsonb, "
             "$10, $11::jsonb, $12, $13, $4::timestamptz, $4::timestamptz) RETURNING id");
    const char *status = needs_sponsor ? "draft" : "pending";
    const char *p[] = {scope,
                       club,
                       user,
                       now,
                       type,
                       json_string_value(json_object_get(in, "title")),
                       json_string_value(json_object_get(in, "body")),
                       options_s,
                       actions_s,
                       hash,
                       rule_s,
                       status,
                       proposer_key};
    r = db_exec(tx, sql, 13, p, e);
    if (!r) {
        if (e->status == 409)
            err_set(e, 409, "live_proposal_exists", "",
                    "the proposer already has a live proposal (draft, pending or active)");
        goto done;
    }
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    if (!needs_sponsor) {
        char upd[512];
        snprintf(upd, sizeof upd,
                 "UPDATE governance.proposals SET updated_at = $2::timestamptz%s "
                 "WHERE id = $1",
                 window);
        /* the window's $4 -> $2 here */
        char *w = strstr(upd, "$4");
        while (w) {
            w[1] = '2';
            w = strstr(w, "$4");
        }
        const char *pw[] = {id, now};
        if (db_exec_cmd(tx, upd, 2, pw, e) < 0) goto done;
    }
    const char *ph[] = {id, club, user, status, now};
    if (db_exec_cmd(tx,
                    "INSERT INTO governance.transitions (proposal_id, club_id, actor_user_id, "
                    "from_status, to_status, reason, at) VALUES ($1, $2, $3, NULL, $4, "
                    "'proposed', $5::timestamptz)",
                    5, ph, e) < 0)
        goto done;
    if (svc_emit(call, tx, "governance.proposal_created", club,
                 json_pack("{s:s, s:s, s:s, s:s, s:s}", "proposal_id", id, "scope", scope, "type",
                           type, "club_id", club, "status", status),
                 e) != 0)
        goto done;
    *out = gov_load_doc(tx, id, e);
    rc = *out ? 0 : -1;
done:
    PQclear(r);
    json_decref(rule);
    free(rule_s), free(actions_s), free(options_s);
    return db_tx_finish(&tx, rc, out, e);
}

int gov_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    cursor_page_t pg;
    if (cursor_page_begin(in, 20, "proposals", "Tu", &pg, e) != 0) return -1;
    const char *p[] = {json_string_value(json_object_get(in, "status")),
                       json_string_value(json_object_get(in, "scope")),
                       json_string_value(json_object_get(in, "type")),
                       cursor_page_key(&pg, 0),
                       cursor_page_key(&pg, 1),
                       pg.fetch};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT " GOV_DOC_SQL ", governance.ts(p.created_at), p.id FROM "
                          "governance.proposals p WHERE ($1::text IS NULL OR p.status = $1) AND "
                          "($2::text IS NULL OR p.scope = $2) AND ($3::text IS NULL OR p.type = "
                          "$3) AND ($4::timestamptz IS NULL OR (p.created_at, p.id) > "
                          "($4::timestamptz, $5::uuid)) ORDER BY p.created_at, p.id LIMIT $6::int",
                          6, p, e);
    if (!r) return cursor_page_failed(e);
    *out = cursor_page_output(r, pg.limit, "proposals", "Tu", e);
    PQclear(r);
    return *out ? 0 : -1;
}

int gov_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *p[] = {json_string_value(json_object_get(in, "id"))};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(
        call->env->db, &scope,
        "SELECT (governance.proposal_doc(p) || jsonb_build_object('history', (SELECT "
        "coalesce(jsonb_agg(jsonb_build_object('from', t.from_status, 'to', t.to_status, "
        "'club_id', t.club_id, 'actor_user_id', t.actor_user_id, 'reason', t.reason, 'at', "
        "governance.ts(t.at)) ORDER BY t.id), '[]') FROM governance.transitions t WHERE "
        "t.proposal_id = p.id), 'actions_run', (SELECT coalesce(jsonb_agg(jsonb_build_object("
        "'index', a.idx, 'type', a.kind, 'status', a.status, 'result', a.result, 'error', "
        "a.error, 'attempts', a.attempts) ORDER BY a.idx), '[]') FROM governance.action_runs a "
        "WHERE a.proposal_id = p.id)))::text FROM governance.proposals p WHERE p.id = $1",
        1, p, e);
    if (!r) return -1;
    int rc = -1;
    /* answered as PostgreSQL built it (db_json_raw: no parse, no print; jsonb) */
    if (PQntuples(r) == 0)
        err_set(e, 404, "not_found", "id", "no such proposal");
    else if ((*out = db_json_raw(r, 0, 0, e)) != NULL)
        rc = 0;
    PQclear(r);
    return rc;
}

typedef struct {
    char status[24], club[40], scope[12];
    json_t *rule;
} prop_row_t;

static int lock_prop(db_tx_t *tx, const char *id, prop_row_t *row, err_t *e) {
    const char *p[] = {id};
    PGresult *r = db_exec(tx,
                          "SELECT status, club_id, scope, rule::text FROM governance.proposals "
                          "WHERE id = $1 FOR UPDATE",
                          1, p, e);
    if (!r) return -1;
    int rc = 0;
    if (PQntuples(r) == 0) {
        rc = err_set(e, 404, "not_found", "id", "no such proposal");
    } else {
        snprintf(row->status, sizeof row->status, "%s", PQgetvalue(r, 0, 0));
        snprintf(row->club, sizeof row->club, "%s", PQgetvalue(r, 0, 1));
        snprintf(row->scope, sizeof row->scope, "%s", PQgetvalue(r, 0, 2));
        row->rule = db_json(r, 0, 3, e);
        if (!row->rule) rc = -1;
    }
    PQclear(r);
    return rc;
}

int gov_sponsor(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char club[40], now[40], window[256];
    if (gov_acting_club(call, in, club, e) != 0) return -1;
    if (gov_clock(call, in, now, e) != 0) return -1;
    if (club_in_standing(call, club, "club_id", e) != 0) return -1;
    const char *id = json_string_value(json_object_get(in, "id"));
    int rc = -1;
    db_tx_t *tx = NULL;
    prop_row_t row = {0};
    if (svc_begin_in(call, club, &tx, e) != 0) goto done;
    if (lock_prop(tx, id, &row, e) != 0) goto done;
    if (strcmp(row.scope, "network") != 0 || strcmp(row.status, "draft") != 0) {
        err_set(e, 409, "invalid_transition", "status",
                "only a draft network proposal is sponsored; this one is %s", row.status);
        goto done;
    }
    if (strcmp(row.club, club) == 0) {
        err_set(e, 403, "forbidden", "id", "the proposing club cannot sponsor its own proposal");
        goto done;
    }
    gov_window_sql(row.rule, window, sizeof window);
    if (gov_transition(call, tx, id, "draft", "pending", now, window, "sponsored", NULL, NULL, NULL,
                       e) != 0)
        goto done;
    const char *ps[] = {id, club, now};
    if (db_exec_cmd(tx,
                    "UPDATE governance.proposals SET sponsor_club_id = $2, sponsored_at = "
                    "$3::timestamptz WHERE id = $1",
                    3, ps, e) < 0)
        goto done;
    *out = gov_load_doc(tx, id, e);
    rc = *out ? 0 : -1;
done:
    json_decref(row.rule);
    return db_tx_finish(&tx, rc, out, e);
}

int gov_cancel(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char now[40];
    if (gov_clock(call, in, now, e) != 0) return -1;
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    int guardian = call->caller->network_admin;
    int rc = -1;
    db_tx_t *tx = NULL;
    prop_row_t row = {0};
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (lock_prop(tx, id, &row, e) != 0) goto done;
    int early = strcmp(row.status, "draft") == 0 || strcmp(row.status, "pending") == 0;
    int open = early || strcmp(row.status, "active") == 0 || strcmp(row.status, "queued") == 0 ||
               strcmp(row.status, "succeeded") == 0 || strcmp(row.status, "execution_failed") == 0;
    if (!guardian && strcmp(row.club, call->caller->club_id) != 0) {
        err_set(e, 403, "forbidden", "id",
                "only the proposing club (before voting) or a network guardian cancels");
        goto done;
    }
    if (!(guardian ? open : early)) {
        err_set(e, 409, "invalid_transition", "status",
                guardian ? "a %s proposal can no longer be canceled"
                         : "the proposer cancels before voting opens; this proposal is %s",
                row.status);
        goto done;
    }
    if (gov_transition(call, tx, id, row.status, "canceled", now, NULL,
                       reason ? reason : (guardian ? "canceled by a guardian" : "withdrawn"),
                       "canceled", row.club, NULL, e) != 0)
        goto done;
    const char *pc[] = {id, call->caller->user_id[0] ? call->caller->user_id : NULL};
    if (db_exec_cmd(tx, "UPDATE governance.proposals SET canceled_by = $2 WHERE id = $1", 2, pc,
                    e) < 0)
        goto done;
    *out = gov_load_doc(tx, id, e);
    rc = *out ? 0 : -1;
done:
    json_decref(row.rule);
    return db_tx_finish(&tx, rc, out, e);
}
