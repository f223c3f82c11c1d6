/* statement_ledger: see statement_ledger.h. */
#include "services/reciprocal/statement_ledger.h"

#include <stdio.h>
#include <string.h>

#include "services/reciprocal/ledger_record.h"

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

/* The statement.accepted spec of pending row i (id, number, hash, host, home club). */
static int statement_spec(PGresult *r, int i, json_t *config, json_t **spec, char *why, size_t cap,
                          err_t *e) {
    (void)e;
    const char *id = PQgetvalue(r, i, 0), *host = PQgetvalue(r, i, 3), *home = PQgetvalue(r, i, 4);
    const char *host_org = org_of(config, host), *home_org = org_of(config, home);
    if (!host_org || !home_org) {
        snprintf(why, cap, "club %s is not an organisation on the ledger", host_org ? home : host);
        return 1;
    }
    const char *hash = PQgetvalue(r, i, 2);
    char nonce[80], key[80];
    snprintf(nonce, sizeof nonce, "statement.accepted:%s", id);
    snprintf(key, sizeof key, "statement/%s", id);
    *spec = json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:[s, s]}, s:[{s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s}, "
        "{s:s, s:s}]}",
        "type", "statement.accepted", "creator", host_org, "nonce", nonce, "payload",
        "statement_id", id, "number", PQgetvalue(r, i, 1), "hash", hash, "clubs", host_org,
        home_org, "writes", "key", key, "value", hash, "sign_as", "org", host_org, "role", "member",
        "org", host_org, "role", "admin", "org", home_org, "role", "admin");
    return 0;
}

static const ag_ledger_kind_t statement_kind = {
    .pending_sql = "SELECT id, number, hash, host_club_id, home_club_id FROM "
                   "reciprocal.statements WHERE ledger_status = 'pending' ORDER BY "
                   "accepted_at, id LIMIT 20",
    .store_sql = "UPDATE reciprocal.statements SET ledger_status = CASE WHEN $2::text IS "
                 "NULL THEN 'pending' ELSE 'submitted' END, ledger_tx_id = $2, "
                 "ledger_error = left($3, 400), updated_at = now() WHERE id = $1::uuid "
                 "AND ledger_status = 'pending'",
    .spec = statement_spec,
};

int stmt_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e) {
    return ag_ledger_record_pass(call, &statement_kind, submitted, pending, e);
}
