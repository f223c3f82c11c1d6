/* statement_ledger: see statement_ledger.h. */
#include "services/reciprocal/statement_ledger.h"

#include <stdio.h>
#include <string.h>

/* The ledger org of club in the ledger config's orgs, or NULL. */
static const char *org_of(json_t *config, const char *club) {
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(config, "orgs"), i, o) {
        const char *c = json_string_value(json_object_get(o, "club_id"));
        if (c && strcmp(c, club) == 0) return json_string_value(json_object_get(o, "org"));
    }
    return NULL;
}

/* endorse + submit of one record; 0 + tx_id, or -1 + why. */
static int submit_one(const svc_call_t *call, const char *id, const char *number, const char *hash,
                      const char *host_org, const char *home_org, char tx_id[65], char *why,
                      size_t cap) {
    char nonce[80], key[80];
    snprintf(nonce, sizeof nonce, "statement.accepted:%s", id);
    snprintf(key, sizeof key, "statement/%s", id);
    json_t *spec = json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:[s, s]}, s:[{s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s}, "
        "{s:s, s:s}]}",
        "type", "statement.accepted", "creator", host_org, "nonce", nonce, "payload",
        "statement_id", id, "number", number, "hash", hash, "clubs", host_org, home_org, "writes",
        "key", key, "value", hash, "sign_as", "org", host_org, "role", "member", "org", host_org,
        "role", "admin", "org", home_org, "role", "admin");
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
    json_decref(spec), json_decref(endorsed), json_decref(in), json_decref(res);
    return rc;
}

static int store(const svc_call_t *call, const char *id, const char *tx_id, const char *why,
                 err_t *e) {
    db_tx_t *tx = NULL;
    const char *p[] = {id, tx_id, why};
    if (svc_begin(call, &tx, e) != 0) return -1;
    int rc = db_exec_cmd(tx,
                         "UPDATE reciprocal.statements SET ledger_status = CASE WHEN $2::text IS "
                         "NULL THEN 'pending' ELSE 'submitted' END, ledger_tx_id = $2, "
                         "ledger_error = left($3, 400), updated_at = now() WHERE id = $1::uuid "
                         "AND ledger_status = 'pending'",
                         3, p, e) < 0
                 ? -1
                 : 0;
    return db_tx_finish(&tx, rc, NULL, e);
}

int stmt_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e) {
    *submitted = *pending = 0;
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT id, number, hash, host_club_id, home_club_id FROM "
                          "reciprocal.statements WHERE ledger_status = 'pending' ORDER BY "
                          "accepted_at, id LIMIT 20",
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
        const char *id = PQgetvalue(r, i, 0), *host = PQgetvalue(r, i, 3),
                   *home = PQgetvalue(r, i, 4);
        char why[400] = "", tx_id[65] = "";
        const char *ho = cfg_why[0] ? NULL : org_of(config, host);
        const char *mo = cfg_why[0] ? NULL : org_of(config, home);
        if (cfg_why[0])
            snprintf(why, sizeof why, "%s", cfg_why);
        else if (!ho || !mo)
            snprintf(why, sizeof why, "club %s is not an organisation on the ledger",
                     ho ? home : host);
        else
            submit_one(call, id, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), ho, mo, tx_id, why,
                       sizeof why);
        rc = store(call, id, tx_id[0] ? tx_id : NULL, tx_id[0] ? NULL : why, e);
        if (tx_id[0])
            (*submitted)++;
        else
            (*pending)++;
    }
    json_decref(config);
    PQclear(r);
    return rc;
}
