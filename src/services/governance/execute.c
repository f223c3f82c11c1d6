/* execute: see execute.h. */
#include "services/governance/execute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "services/governance/common.h"

/* One call of another service's operation as the system caller: 0 + *out, or -1 + why. */
static int call_op(const svc_call_t *call, const char *svc, const char *op, json_t *in,
                   json_t **out, err_t *e) {
    svc_caller_t sys;
    gov_system_caller(call, &sys);
    int status = 0;
    json_t *res = NULL;
    int rc = svc_call(call->env, svc, op, &sys, in, &status, &res, e);
    json_decref(in);
    if (out)
        *out = res;
    else
        json_decref(res);
    return rc;
}

/* The agreements of club in the given statuses through reciprocal.club_partners: a new array
 * of agreement ids (unique). */
static json_t *club_agreements(const svc_call_t *call, const char *club, const char *const *st,
                               err_t *e) {
    json_t *ids = json_array();
    for (; *st; st++) {
        json_t *res = NULL;
        if (call_op(call, "reciprocal", "club_partners",
                    json_pack("{s:s, s:s}", "id", club, "status", *st), &res, e) != 0) {
            json_decref(ids);
            return NULL;
        }
        size_t i, j;
        json_t *it, *seen;
        json_array_foreach(json_object_get(res, "items"), i, it) {
            json_t *aid = json_object_get(it, "agreement_id");
            int dup = 0;
            json_array_foreach(ids, j, seen) dup |= json_equal(seen, aid);
            if (!dup && json_is_string(aid)) json_array_append(ids, aid);
        }
        json_decref(res);
    }
    return ids;
}

/* Applies op (suspend_agreement / terminate_agreement) to each of ids acting for club. */
static int each_agreement(const svc_call_t *call, json_t *ids, const char *op, const char *club,
                          const char *reason, err_t *e) {
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        err_t ae = {0};
        if (call_op(call, "reciprocal", op,
                    json_pack("{s:O, s:s, s:s}", "id", id, "club_id", club, "reason", reason), NULL,
                    &ae) != 0 &&
            ae.status != 409) /* already suspended / noticed: done before */
            return err_set(e, ae.status, ae.code, ae.field, "%s %s: %s", op, json_string_value(id),
                           ae.message);
    }
    return 0;
}

static int act_admit(const svc_call_t *call, json_t *a, json_t *result, err_t *e) {
    json_t *club = json_object_get(a, "club");
    if (!json_is_string(json_object_get(result, "club_id"))) {
        json_t *in = json_deep_copy(club), *res = NULL;
        json_object_set_new(in, "status", json_string("active"));
        if (call_op(call, "member", "create_club", in, &res, e) != 0) return -1;
        json_object_set(result, "club_id", json_object_get(res, "id"));
        json_decref(res);
    }
    if (json_object_get(result, "ledger_org")) return 0;
    /* a network without a ledger yet (not bootstrapped: no network organisation in its
     * config): nothing to register, said so */
    err_t le = {0};
    json_t *config = NULL;
    if (call_op(call, "ledger", "config", json_object(), &config, &le) != 0)
        return err_set(e, le.status, le.code, le.field, "ledger config: %s", le.message);
    int bootstrapped = 0;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(config, "orgs"), i, o) bootstrapped |=
        json_is_string(json_object_get(o, "org")) &&
        strcmp(json_string_value(json_object_get(o, "org")), "network") == 0;
    json_decref(config);
    if (!bootstrapped) {
        json_object_set_new(result, "ledger_org", json_null());
        json_object_set_new(result, "ledger", json_string("not bootstrapped: not registered"));
        return 0;
    }
    const char *slug = json_string_value(json_object_get(club, "slug"));
    if (call_op(call, "ledger", "register_org",
                json_pack("{s:s, s:O, s:O}", "org", slug, "club_id",
                          json_object_get(result, "club_id"), "name",
                          json_object_get(club, "name")),
                NULL, &le) != 0)
        return err_set(e, le.status, le.code, le.field, "ledger register_org: %s", le.message);
    json_object_set_new(result, "ledger_org", json_string(slug));
    return 0;
}

static int act_suspend(const svc_call_t *call, const char *pid, json_t *a, json_t *result,
                       int expel, err_t *e) {
    const char *club = json_string_value(json_object_get(a, "club_id"));
    char reason[96];
    snprintf(reason, sizeof reason, "%s by governance proposal %s",
             expel ? "expelled" : "suspended", pid);
    if (!json_is_true(json_object_get(result, "club_deactivated"))) {
        err_t de = {0};
        if (call_op(call, "member", "deactivate_club",
                    json_pack("{s:s, s:s}", "id", club, "reason", reason), NULL, &de) != 0 &&
            de.status != 409)
            return err_set(e, de.status, de.code, de.field, "member deactivate_club: %s",
                           de.message);
        json_object_set_new(result, "club_deactivated", json_true());
    }
    static const char *const live[] = {"active", "suspended", "proposed", NULL};
    static const char *const active[] = {"active", NULL};
    json_t *ids = club_agreements(call, club, expel ? live : active, e);
    if (!ids) return -1;
    int rc = each_agreement(call, ids, expel ? "terminate_agreement" : "suspend_agreement", club,
                            reason, e);
    if (rc == 0) json_object_set(result, "agreements", ids);
    if (!expel && json_is_string(json_object_get(a, "until")))
        json_object_set(result, "until", json_object_get(a, "until"));
    json_decref(ids);
    return rc;
}

static int act_terminate(const svc_call_t *call, const char *pid, json_t *a, err_t *e) {
    json_t *ag = NULL;
    if (call_op(call, "reciprocal", "get_agreement",
                json_pack("{s:O}", "id", json_object_get(a, "id")), &ag, e) != 0)
        return -1;
    const char *st = json_string_value(json_object_get(ag, "status"));
    int rc = 0;
    if (st && strcmp(st, "terminated") != 0 && strcmp(st, "expired") != 0) {
        json_t *ids = json_pack("[O]", json_object_get(a, "id"));
        char reason[96];
        snprintf(reason, sizeof reason, "terminated by governance proposal %s", pid);
        json_t *clubs = json_object_get(ag, "clubs");
        if (!clubs) clubs = json_object_get(ag, "club_ids");
        rc = each_agreement(call, ids, "terminate_agreement",
                            json_string_value(json_array_get(clubs, 0)), reason, e);
        json_decref(ids);
    }
    json_decref(ag);
    return rc;
}

static int act_term(const svc_call_t *call, const char *pid, json_t *a, err_t *e) {
    db_tx_t *tx = NULL;
    char *v = jsonx_dump(json_object_get(a, "value"));
    const char *p[] = {json_string_value(json_object_get(a, "key")), v, pid};
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (db_exec_cmd(tx,
                    "INSERT INTO governance.network_terms (key, value, proposal_id) VALUES ($1, "
                    "$2::jsonb, $3) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                    "proposal_id = EXCLUDED.proposal_id, updated_at = now()",
                    3, p, e) < 0)
        goto done;
    rc = svc_emit(call, tx, "governance.network_term_set", NULL,
                  json_pack("{s:O, s:s}", "key", json_object_get(a, "key"), "proposal_id", pid), e);
done:
    free(v);
    return db_tx_finish(&tx, rc, NULL, e);
}

static int act_reinstate(const svc_call_t *call, json_t *a, json_t *result, const char *now,
                         err_t *e);

/* Runs action a (index idx) unless done; stores its outcome. 0 done, -1 + e failed. */
static int run_action(const svc_call_t *call, const char *pid, int idx, json_t *a, json_t *prev,
                      const char *now, err_t *e) {
    const char *kind = json_string_value(json_object_get(a, "type"));
    json_t *result = json_is_object(prev) ? json_deep_copy(prev) : json_object();
    int rc;
    if (strcmp(kind, "admit_club") == 0)
        rc = act_admit(call, a, result, e);
    else if (strcmp(kind, "suspend_club") == 0 || strcmp(kind, "expel_club") == 0)
        rc = act_suspend(call, pid, a, result, kind[0] == 'e', e);
    else if (strcmp(kind, "terminate_agreement") == 0)
        rc = act_terminate(call, pid, a, e);
    else if (strcmp(kind, "reinstate_club") == 0)
        rc = act_reinstate(call, a, result, now, e);
    else
        rc = act_term(call, pid, a, e);
    char idx_s[16];
    snprintf(idx_s, sizeof idx_s, "%d", idx);
    char *res_s = jsonx_dump(result);
    json_decref(result);
    const char *p[] = {
        pid, idx_s, kind, rc == 0 ? "done" : "failed", res_s, rc == 0 ? NULL : e->message};
    db_tx_t *tx = NULL;
    err_t se = {0};
    int stored = svc_begin(call, &tx, &se);
    if (stored == 0)
        stored = db_exec_cmd(tx,
                             "INSERT INTO governance.action_runs (proposal_id, idx, kind, status, "
                             "result, error) VALUES ($1, $2::int, $3, $4, $5::jsonb, $6) ON "
                             "CONFLICT (proposal_id, idx) DO UPDATE SET status = EXCLUDED.status, "
                             "result = EXCLUDED.result, error = EXCLUDED.error, attempts = "
                             "action_runs.attempts + 1, at = now()",
                             6, p, &se) < 0
                     ? -1
                     : 0;
    stored = db_tx_finish(&tx, stored, NULL, &se);
    free(res_s);
    if (stored != 0 && rc == 0) {
        *e = se;
        return -1;
    }
    return rc;
}

/* queued | execution_failed -> executing (one UPDATE: exactly one claimant). *actions the
 * proposal's actions, *club its club. 1 claimed, 0 nothing to claim. */
static int claim(const svc_call_t *call, const char *id, const char *now, json_t **actions,
                 char club[40], err_t *e) {
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1;
    const char *p[] = {id, now};
    if (svc_begin(call, &tx, e) != 0) goto done;
    r = db_exec(tx,
                "UPDATE governance.proposals p SET status = 'executing', executing_since = "
                "$2::timestamptz, updated_at = $2::timestamptz FROM (SELECT id, status AS old "
                "FROM governance.proposals WHERE id = $1 FOR UPDATE) o WHERE p.id = o.id AND "
                "p.status IN ('queued', 'execution_failed') AND p.executable_at <= "
                "$2::timestamptz AND p.expires_at > $2::timestamptz RETURNING p.actions::text, "
                "p.club_id, o.old",
                2, p, e);
    if (!r) goto done;
    if (PQntuples(r) == 0) {
        rc = 0;
        goto done;
    }
    snprintf(club, 40, "%s", PQgetvalue(r, 0, 1));
    if (!(*actions = db_json(r, 0, 0, e))) goto done;
    const char *ph[] = {id, PQgetvalue(r, 0, 2), now};
    if (db_exec_cmd(tx,
                    "INSERT INTO governance.transitions (proposal_id, from_status, to_status, "
                    "reason, at) VALUES ($1, $2, 'executing', 'timelock over', $3::timestamptz)",
                    3, ph, e) < 0)
        goto done;
    rc = 1;
done:
    PQclear(r);
    rc = db_tx_finish(&tx, rc < 0 ? -1 : 0, NULL, e) == 0 ? rc : -1;
    if (rc != 1) {
        json_decref(*actions);
        *actions = NULL;
    }
    return rc;
}

/* The done / partial results of earlier runs: {idx: {status, result}}. */
static json_t *previous_runs(const svc_call_t *call, const char *id, err_t *e) {
    const char *p[] = {id};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT coalesce(jsonb_object_agg(idx::text, jsonb_build_object("
                          "'status', status, 'result', result)), '{}')::text FROM "
                          "governance.action_runs WHERE proposal_id = $1",
                          1, p, e);
    if (!r) return NULL;
    json_t *runs = db_json(r, 0, 0, e);
    PQclear(r);
    return runs;
}

int gov_execute_run(const svc_call_t *call, const char *id, const char *now, int *ok, err_t *e) {
    *ok = 0;
    json_t *actions = NULL;
    char club[40];
    int got = claim(call, id, now, &actions, club, e);
    if (got <= 0) return got;
    json_t *runs = previous_runs(call, id, e);
    err_t ae = {0};
    int failed = runs ? 0 : -1;
    if (!runs) ae = *e;
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a) {
        if (failed) break;
        char k[24];
        snprintf(k, sizeof k, "%d", (int)i);
        json_t *prev = json_object_get(runs, k);
        const char *st = json_string_value(json_object_get(prev, "status"));
        if (st && strcmp(st, "done") == 0) continue;
        if (run_action(call, id, (int)i, a, json_object_get(prev, "result"), now, &ae) != 0)
            failed = 1;
    }
    json_decref(runs);
    json_decref(actions);
    db_tx_t *tx = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (failed) {
        char err[600];
        snprintf(err, sizeof err, "action %s", ae.message[0] ? ae.message : "failed");
        const char *p[] = {id, err};
        if (db_exec_cmd(tx,
                        "UPDATE governance.proposals SET last_error = left($2, 600) WHERE id = $1",
                        2, p, e) < 0)
            goto done;
        if (gov_transition(call, tx, id, "executing", "execution_failed", now,
                           ", executing_since = NULL", err, "execution_failed", club,
                           json_pack("{s:s}", "error", err), e) != 0)
            goto done;
    } else {
        if (gov_transition(call, tx, id, "executing", "executed", now,
                           ", executed_at = $4::timestamptz, executing_since = NULL, last_error "
                           "= NULL",
                           "executed", "executed", club, NULL, e) != 0)
            goto done;
        *ok = 1;
    }
    rc = 1;
done:
    return db_tx_finish(&tx, rc < 0 ? -1 : 0, NULL, e) == 0 ? rc : -1;
}

int gov_execute(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char now[40];
    if (gov_clock(call, in, now, e) != 0) return -1;
    const char *id = json_string_value(json_object_get(in, "id"));
    /* the caller must see the proposal (a club proposal: its own club's) */
    db_tx_t *tx = NULL;
    if (svc_begin(call, &tx, e) != 0) return -1;
    json_t *doc = gov_load_doc(tx, id, e);
    if (db_tx_finish(&tx, doc ? 0 : -1, NULL, e) != 0) {
        json_decref(doc);
        return -1;
    }
    json_decref(doc);
    int ok = 0;
    int got = gov_execute_run(call, id, now, &ok, e);
    if (got < 0) return -1;
    if (got == 0)
        return err_set(e, 409, "not_executable", "status",
                       "the proposal is not queued (or execution_failed) past its timelock and "
                       "before its expiry, or is being executed");
    if (svc_begin(call, &tx, e) != 0) return -1;
    *out = gov_load_doc(tx, id, e);
    return db_tx_finish(&tx, *out ? 0 : -1, out, e);
}

int gov_validate_terms(json_t *in, err_t *e) {
    static const char *const keys[] = {NULL};
    return jsonx_only_keys(in, keys, "", e);
}

int gov_network_terms(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r =
        db_read(call->env->db, &scope,
                "SELECT jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object("
                "'key', key, 'value', value, 'proposal_id', proposal_id, 'updated_at', "
                "governance.ts(updated_at)) ORDER BY key), '[]'))::text FROM "
                "governance.network_terms",
                0, NULL, e);
    if (!r) return -1;
    *out = db_json_raw(r, 0, 0, e);
    PQclear(r);
    return *out ? 0 : -1;
}

/* Lifts one suspension (action_runs row pid/idx): 0 or -1 + err. */
static int resume_one(const svc_call_t *call, const char *pid, const char *idx, json_t *result,
                      const char *now, err_t *e) {
    const char *club = json_string_value(json_object_get(result, "club_id"));
    err_t ae = {0};
    if (call_op(call, "member", "activate_club", json_pack("{s:s}", "id", club), NULL, &ae) != 0 &&
        ae.status != 409)
        return err_set(e, ae.status, ae.code, ae.field, "member activate_club: %s", ae.message);
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(result, "agreements"), i, id) {
        err_t re = {0};
        if (call_op(call, "reciprocal", "resume_agreement",
                    json_pack("{s:O, s:s, s:s}", "id", id, "club_id", club, "reason",
                              "suspension ended"),
                    NULL, &re) != 0 &&
            re.status != 409 && re.status != 403)
            return err_set(e, re.status, re.code, re.field, "reciprocal resume_agreement: %s",
                           re.message);
    }
    db_tx_t *tx = NULL;
    const char *p[] = {pid, idx, now};
    if (svc_begin(call, &tx, e) != 0) return -1;
    int rc = db_exec_cmd(tx,
                         "UPDATE governance.action_runs SET result = result || jsonb_build_object("
                         "'resumed_at', $3::text) WHERE proposal_id = $1 AND idx = $2::int",
                         3, p, e) < 0
                 ? -1
                 : 0;
    return db_tx_finish(&tx, rc, NULL, e);
}

int gov_execute_resume(const svc_call_t *call, const char *now, long long *n, err_t *e) {
    *n = 0;
    /* club_id is the suspended club: the action's */
    const char *p[] = {now};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT a.proposal_id, a.idx::text, (a.result || jsonb_build_object("
                          "'club_id', p.actions -> a.idx -> 'club_id'))::text FROM "
                          "governance.action_runs a JOIN governance.proposals p ON p.id = "
                          "a.proposal_id WHERE a.kind = 'suspend_club' AND a.status = 'done' AND "
                          "a.result ? 'until' AND NOT a.result ? 'resumed_at' AND (a.result->>"
                          "'until')::date <= ($1::timestamptz AT TIME ZONE 'UTC')::date ORDER BY "
                          "a.at LIMIT 50",
                          1, p, e);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        err_t re = {0};
        json_t *result = db_json(r, i, 2, &re);
        if (result &&
            resume_one(call, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), result, now, &re) == 0)
            (*n)++;
        else
            log_warn("governance: lifting the suspension of proposal %s: %s", PQgetvalue(r, i, 0),
                     re.message);
        json_decref(result);
    }
    PQclear(r);
    return 0;
}

/* reinstate_club{club_id}: every suspension of the club by a governance proposal not lifted yet
 * is lifted as when its `until` comes (resume_one: the club activated, the agreements that
 * suspension suspended resumed, the suspension's result marked resumed_at, so a retry or the
 * `until` sweep does not lift it twice); the club is activated even when no suspension by
 * governance is on record. result gets the lifted proposals and the agreements resumed. */
static int act_reinstate(const svc_call_t *call, json_t *a, json_t *result, const char *now,
                         err_t *e) {
    const char *club = json_string_value(json_object_get(a, "club_id"));
    err_t ae = {0};
    if (call_op(call, "member", "activate_club", json_pack("{s:s}", "id", club), NULL, &ae) != 0 &&
        ae.status != 409)
        return err_set(e, ae.status, ae.code, ae.field, "member activate_club: %s", ae.message);
    json_object_set_new(result, "club_activated", json_true());
    const char *p[] = {club};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT a.proposal_id, a.idx::text, (a.result || jsonb_build_object("
                          "'club_id', p.actions -> a.idx -> 'club_id'))::text FROM "
                          "governance.action_runs a JOIN governance.proposals p ON p.id = "
                          "a.proposal_id WHERE a.kind = 'suspend_club' AND a.status = 'done' AND "
                          "NOT a.result ? 'resumed_at' AND p.actions -> a.idx ->> 'club_id' = "
                          "$1 ORDER BY a.at",
                          1, p, e);
    if (!r) return -1;
    json_t *lifted = json_object_get(result, "lifted");
    if (!json_is_array(lifted)) {
        lifted = json_array();
        json_object_set_new(result, "lifted", lifted);
    }
    json_t *resumed = json_object_get(result, "agreements");
    if (!json_is_array(resumed)) {
        resumed = json_array();
        json_object_set_new(result, "agreements", resumed);
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        json_t *one = db_json(r, i, 2, e);
        rc = one ? resume_one(call, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), one, now, e) : -1;
        if (rc == 0) {
            json_array_append_new(lifted, json_string(PQgetvalue(r, i, 0)));
            json_array_extend(resumed, json_object_get(one, "agreements"));
        }
        json_decref(one);
    }
    PQclear(r);
    return rc;
}
