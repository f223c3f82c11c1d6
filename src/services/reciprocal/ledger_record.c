/* ledger_record: see ledger_record.h. */
#include "services/reciprocal/ledger_record.h"

#include <stdio.h>
#include <string.h>

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

/* endorse + submit of one record; 0 + tx_id (65 bytes), or -1 + why. */
static int submit_one(const svc_call_t *call, const char *id, json_t *orgs, char tx_id[65],
                      char *why, size_t cap) {
    char nonce[80], key[80];
    snprintf(nonce, sizeof nonce, "agreement.activated:%s", id);
    snprintf(key, sizeof key, "agreement/%s", id);
    /* the creator (first party, its member identity) endorses too: the ledger requires the
     * creator's own signature besides the policy's admins */
    json_t *sign_as = json_pack("[{s:O, s:s}]", "org", json_array_get(orgs, 0), "role", "member");
    size_t i;
    json_t *o;
    json_array_foreach(orgs, i, o) {
        json_array_append_new(sign_as, json_pack("{s:O, s:s}", "org", o, "role", "admin"));
    }
    json_t *spec = json_pack("{s:s, s:O, s:s, s:{s:s, s:O}, s:[{s:s, s:s}], s:o}", "type",
                             "agreement.activated", "creator", json_array_get(orgs, 0), "nonce",
                             nonce, "payload", "agreement_id", id, "clubs", orgs, "writes", "key",
                             key, "value", "activated", "sign_as", sign_as);
    int rc = ag_ledger_submit_spec(call, spec, tx_id, why, cap);
    json_decref(spec);
    return rc;
}

static int store(const svc_call_t *call, const char *id, const char *tx_id, const char *why,
                 err_t *e) {
    db_tx_t *tx = NULL;
    const char *p[] = {id, tx_id, why};
    if (svc_begin(call, &tx, e) != 0) return -1;
    int rc = db_exec_cmd(tx,
                         "UPDATE reciprocal.ledger_records SET attempts = attempts + 1, status = "
                         "CASE WHEN $2::text IS NULL THEN 'pending' ELSE 'submitted' END, tx_id "
                         "= $2, last_error = left($3, 400), updated_at = now() WHERE "
                         "agreement_id = $1 AND status = 'pending'",
                         3, p, e) < 0
                 ? -1
                 : 0;
    return db_tx_finish(&tx, rc, NULL, e);
}

int ag_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e) {
    *submitted = *pending = 0;
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r =
        db_read(call->env->db, &scope,
                "SELECT l.agreement_id, to_jsonb(a.club_ids)::text FROM "
                "reciprocal.ledger_records l JOIN reciprocal.agreements a ON a.id = "
                "l.agreement_id WHERE l.status = 'pending' ORDER BY l.created_at LIMIT 20",
                0, NULL, e);
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
        const char *id = PQgetvalue(r, i, 0);
        char why[400] = "", tx_id[65] = "";
        json_t *clubs = db_json(r, i, 1, e);
        if (!clubs) {
            rc = -1;
            break;
        }
        json_t *orgs = NULL;
        if (cfg_why[0])
            snprintf(why, sizeof why, "%s", cfg_why);
        else if ((orgs = ag_ledger_orgs(clubs, config, why, sizeof why)) != NULL &&
                 submit_one(call, id, orgs, tx_id, why, sizeof why) == 0)
            why[0] = 0;
        json_decref(orgs);
        json_decref(clubs);
        rc = store(call, id, tx_id[0] ? tx_id : NULL, why[0] ? why : NULL, e);
        if (tx_id[0])
            (*submitted)++;
        else
            (*pending)++;
    }
    json_decref(config);
    PQclear(r);
    return rc;
}
