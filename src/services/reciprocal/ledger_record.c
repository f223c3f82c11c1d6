/* ledger_record: see ledger_record.h. */
#include "services/reciprocal/ledger_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

int ag_ledger_enqueue(db_tx_t *tx, const char *agreement_id, err_t *e) {
    const char *p[] = {agreement_id};
    return db_exec_cmd(tx,
                       "INSERT INTO reciprocal.ledger_records (agreement_id) VALUES ($1) ON "
                       "CONFLICT (agreement_id) DO NOTHING",
                       1, p, e) < 0
               ? -1
               : 0;
}

json_t *ag_ledger_orgs(json_t *clubs, json_t *config, char *why, size_t cap) {
    json_t *orgs = json_array();
    size_t i, j;
    json_t *c, *o;
    json_array_foreach(clubs, i, c) {
        const char *found = NULL;
        json_array_foreach(json_object_get(config, "orgs"), j, o) {
            if (json_equal(json_object_get(o, "club_id"), c))
                found = json_string_value(json_object_get(o, "org"));
        }
        if (!found) {
            snprintf(why, cap, "club %s is not an organisation on the ledger",
                     json_string_value(c));
            json_decref(orgs);
            return NULL;
        }
        json_array_append_new(orgs, json_string(found));
    }
    return orgs;
}

int ag_ledger_submit_spec(const svc_call_t *call, json_t *spec, char tx_id[65], char *why,
                          size_t cap) {
    json_t *endorsed = NULL, *res = NULL, *in = NULL;
    int status = 0, rc = -1;
    err_t e = {0};
    if (svc_call(call->env, "ledger", "endorse", call->caller, spec, &status, &endorsed, &e) != 0) {
        snprintf(why, cap, "ledger endorse: %s", e.message);
        goto done;
    }
    in = json_pack("{s:O, s:O, s:i}", "tx", json_object_get(endorsed, "tx"), "endorsements",
                   json_object_get(endorsed, "endorsements"), "wait_ms", 0);
    if (svc_call(call->env, "ledger", "submit", call->caller, in, &status, &res, &e) != 0) {
        snprintf(why, cap, "ledger submit: %s", e.message);
        goto done;
    }
    snprintf(tx_id, 65, "%s", json_string_value(json_object_get(endorsed, "tx_id")));
    rc = 0;
done:
    json_decref(endorsed), json_decref(in), json_decref(res);
    return rc;
}

/* The activation transaction's spec: sign_as the creator's member identity (the first party:
 * the ledger requires the creator's own signature) and every party's admin identity, except
 * the signers in `skip` ("<org>/<role>" strings: keys the ledger does not hold). New ref. */
static json_t *activation_spec(const char *id, json_t *orgs, json_t *skip) {
    char nonce[80], key[80], name[128];
    snprintf(nonce, sizeof nonce, "agreement.activated:%s", id);
    snprintf(key, sizeof key, "agreement/%s", id);
    json_t *sign_as = json_array();
    for (size_t i = 0; i <= json_array_size(orgs); i++) {
        json_t *o = json_array_get(orgs, i == 0 ? 0 : i - 1);
        const char *role = i == 0 ? "member" : "admin";
        snprintf(name, sizeof name, "%s/%s", json_string_value(o), role);
        int skipped = 0;
        for (size_t j = 0; j < json_array_size(skip); j++)
            skipped |= strcmp(json_string_value(json_array_get(skip, j)), name) == 0;
        if (!skipped)
            json_array_append_new(sign_as, json_pack("{s:O, s:s}", "org", o, "role", role));
    }
    return json_pack("{s:s, s:O, s:s, s:{s:s, s:O}, s:[{s:s, s:s}], s:o}", "type",
                     "agreement.activated", "creator", json_array_get(orgs, 0), "nonce", nonce,
                     "payload", "agreement_id", id, "clubs", orgs, "writes", "key", key, "value",
                     "activated", "sign_as", sign_as);
}

/* The activation spec of pending row i (agreement id, club ids). */
static int agreement_spec(PGresult *r, int i, json_t *config, json_t **spec, char *why, size_t cap,
                          err_t *e) {
    json_t *clubs = db_json(r, i, 1, e);
    if (!clubs) return -1;
    json_t *orgs = ag_ledger_orgs(clubs, config, why, cap);
    json_decref(clubs);
    if (!orgs) return 1;
    *spec = activation_spec(PQgetvalue(r, i, 0), orgs, NULL);
    json_decref(orgs);
    return 0;
}

/* ---- clubs that hold their own keys ---- */

/* The scheduler's identity for the ledger calls (network administrator). */
static void system_caller(const svc_call_t *call, svc_caller_t *sys) {
    memset(sys, 0, sizeof *sys);
    sys->network_admin = 1;
    snprintf(sys->perms, sizeof sys->perms, "*");
    snprintf(sys->request_id, sizeof sys->request_id, "%s", call->caller->request_id);
}

/* Endorses the activation with every key the ledger holds: *endorsed the ledger's answer
 * {tx_id, tx, endorsements}, *skip the signers it holds no key for ("<org>/<role>"). 0, or -1
 * when the ledger cannot be asked (then nothing is decided). */
static int endorse_held(const svc_call_t *sys, const char *id, json_t *orgs, json_t **endorsed,
                        json_t **skip) {
    *skip = json_array();
    *endorsed = NULL;
    for (size_t round = 0; round <= json_array_size(orgs) + 1; round++) {
        json_t *spec = activation_spec(id, orgs, *skip);
        err_t e = {0};
        int status = 0;
        int rc = svc_call(sys->env, "ledger", "endorse", sys->caller, spec, &status, endorsed, &e);
        json_decref(spec);
        if (rc == 0) return 0;
        /* "no key <org>/<role>": a club that keeps its keys; sign for the others */
        if (e.status != 404 || strcmp(e.field, "org") != 0 || strncmp(e.message, "no key ", 7))
            break;
        json_array_append_new(*skip, json_string(e.message + 7));
    }
    json_decref(*skip);
    *skip = NULL;
    return -1;
}

int ag_ledger_hold(const svc_call_t *call, db_tx_t *tx, const char *agreement_id, int *held,
                   err_t *e) {
    *held = 0;
    const char *p[] = {agreement_id};
    PGresult *r =
        db_exec(tx,
                "SELECT to_jsonb(a.club_ids)::text, l.status, coalesce(l.holds_activation, "
                "false)::int FROM reciprocal.agreements a LEFT JOIN "
                "reciprocal.ledger_records l ON l.agreement_id = a.id WHERE a.id = $1",
                1, p, e);
    if (!r) return -1;
    if (PQntuples(r) == 0 || PQgetvalue(r, 0, 2)[0] == '1') {
        /* already decided: held until its transaction commits ('submitted') */
        *held = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 1), "submitted") != 0;
        PQclear(r);
        return 0;
    }
    json_t *clubs = db_json(r, 0, 0, e);
    PQclear(r);
    if (!clubs) return -1;
    svc_caller_t who;
    system_caller(call, &who);
    svc_call_t sys = {.env = call->env, .caller = &who};
    json_t *in = json_object(), *config = NULL, *orgs = NULL, *endorsed = NULL, *skip = NULL;
    int status = 0, rc = 0;
    char why[400];
    err_t ce = {0};
    /* the ledger unreachable or a party not on it: the record waits as before (pending) */
    if (svc_call(call->env, "ledger", "config", &who, in, &status, &config, &ce) != 0 ||
        !(orgs = ag_ledger_orgs(clubs, config, why, sizeof why)) ||
        endorse_held(&sys, agreement_id, orgs, &endorsed, &skip) != 0 || json_array_size(skip) == 0)
        goto done;
    char policy[2048];
    size_t n = (size_t)snprintf(policy, sizeof policy, "AND(");
    for (size_t i = 0; i < json_array_size(orgs) && n < sizeof policy; i++)
        n += (size_t)snprintf(policy + n, sizeof policy - n, "%s'%s.admin'", i ? ", " : "",
                              json_string_value(json_array_get(orgs, i)));
    if (n < sizeof policy) snprintf(policy + n, sizeof policy - n, ")");
    char *ends = jsonx_dump(json_object_get(endorsed, "endorsements"));
    char *skipped = jsonx_dump(skip);
    const char *pi[] = {agreement_id,
                        json_string_value(json_object_get(endorsed, "tx_id")),
                        json_string_value(json_object_get(endorsed, "tx")),
                        ends,
                        policy,
                        skipped};
    rc = db_exec_cmd(tx,
                     "INSERT INTO reciprocal.ledger_records (agreement_id, holds_activation, "
                     "status, tx_id, tx, endorsements, policy, last_error) VALUES ($1, true, "
                     "'needs_endorsements', $2, $3, $4::jsonb, $5, left('waiting for the "
                     "endorsements of ' || $6, 400)) ON CONFLICT (agreement_id) DO UPDATE SET "
                     "holds_activation = true, status = 'needs_endorsements', tx_id = $2, tx = "
                     "$3, endorsements = $4::jsonb, policy = $5, last_error = "
                     "EXCLUDED.last_error, updated_at = now()",
                     6, pi, e) < 0
             ? -1
             : 0;
    free(ends);
    free(skipped);
    if (rc == 0) *held = 1;
done:
    json_decref(in), json_decref(config), json_decref(orgs), json_decref(endorsed);
    json_decref(skip), json_decref(clubs);
    return rc;
}

int ag_ledger_commits(const svc_call_t *call, long long *committed, err_t *e) {
    *committed = 0;
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT agreement_id, tx_id FROM reciprocal.ledger_records WHERE "
                          "status = 'needs_endorsements' ORDER BY updated_at LIMIT 50",
                          0, NULL, e);
    if (!r) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        json_t *in = json_pack("{s:s, s:i}", "tx_id", PQgetvalue(r, i, 1), "wait_ms", 0),
               *st = NULL;
        err_t se = {0};
        int status = 0;
        int asked =
            svc_call(call->env, "ledger", "commit_status", call->caller, in, &status, &st, &se);
        json_decref(in);
        const char *s = json_string_value(json_object_get(st, "status"));
        const char *code = json_string_value(json_object_get(st, "validation_code"));
        if (asked == 0 && s && strcmp(s, "committed") == 0) {
            int valid = code && strcmp(code, "VALID") == 0;
            char why[200];
            snprintf(why, sizeof why, "the transaction committed %s", code ? code : "?");
            const char *p[] = {PQgetvalue(r, i, 0), valid ? NULL : why};
            db_tx_t *tx = NULL;
            if ((rc = svc_begin(call, &tx, e)) == 0) {
                rc = db_exec_cmd(tx,
                                 "UPDATE reciprocal.ledger_records SET status = CASE WHEN "
                                 "$2::text IS NULL THEN 'submitted' ELSE status END, last_error "
                                 "= $2, attempts = attempts + 1, updated_at = now() WHERE "
                                 "agreement_id = $1 AND status = 'needs_endorsements'",
                                 2, p, e) < 0
                         ? -1
                         : 0;
                rc = db_tx_finish(&tx, rc, NULL, e);
            }
            if (rc == 0 && valid) (*committed)++;
        }
        json_decref(st);
    }
    PQclear(r);
    return rc;
}

/* Row update of one record: $1 id, $2 tx_id (NULL: still pending), $3 why. */
static int store(const svc_call_t *call, const char *sql, const char *id, const char *tx_id,
                 const char *why, err_t *e) {
    db_tx_t *tx = NULL;
    const char *p[] = {id, tx_id, why};
    if (svc_begin(call, &tx, e) != 0) return -1;
    int rc = db_exec_cmd(tx, sql, 3, p, e) < 0 ? -1 : 0;
    return db_tx_finish(&tx, rc, NULL, e);
}

int ag_ledger_record_pass(const svc_call_t *call, const ag_ledger_kind_t *kind,
                          long long *submitted, long long *pending, err_t *e) {
    *submitted = *pending = 0;
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope, kind->pending_sql, 0, NULL, e);
    if (!r) return -1;
    json_t *config = NULL;
    char cfg_why[400] = "";
    int status = 0, rc = 0;
    if (PQntuples(r) > 0) {
        json_t *in = json_object();
        err_t ce = {0};
        if (svc_call(call->env, "ledger", "config", call->caller, in, &status, &config, &ce) != 0)
            snprintf(cfg_why, sizeof cfg_why, "ledger config: %s", ce.message);
        json_decref(in);
    }
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        char why[400] = "", tx_id[65] = "";
        json_t *spec = NULL;
        if (cfg_why[0])
            snprintf(why, sizeof why, "%s", cfg_why);
        else if (kind->spec(r, i, config, &spec, why, sizeof why, e) < 0) {
            rc = -1;
            break;
        } else if (spec && ag_ledger_submit_spec(call, spec, tx_id, why, sizeof why) == 0)
            why[0] = 0;
        json_decref(spec);
        rc = store(call, kind->store_sql, PQgetvalue(r, i, 0), tx_id[0] ? tx_id : NULL,
                   why[0] ? why : NULL, e);
        if (tx_id[0])
            (*submitted)++;
        else
            (*pending)++;
    }
    json_decref(config);
    PQclear(r);
    return rc;
}

static const ag_ledger_kind_t agreement_kind = {
    .pending_sql =
        "SELECT l.agreement_id, to_jsonb(a.club_ids)::text FROM "
        "reciprocal.ledger_records l JOIN reciprocal.agreements a ON a.id = "
        "l.agreement_id WHERE l.status = 'pending' ORDER BY l.attempts, l.updated_at LIMIT 20",
    .store_sql = "UPDATE reciprocal.ledger_records SET attempts = attempts + 1, status = CASE "
                 "WHEN $2::text IS NULL THEN 'pending' ELSE 'submitted' END, tx_id = $2, "
                 "last_error = left($3, 400), updated_at = now() WHERE agreement_id = $1 AND "
                 "status = 'pending'",
    .spec = agreement_spec,
};

int ag_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e) {
    return ag_ledger_record_pass(call, &agreement_kind, submitted, pending, e);
}
