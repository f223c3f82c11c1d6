/* gov_e2e: see gov_e2e.h. */
#include "support/gov_e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/db.h"

int gov_e2e_fresh_network(void) {
    return e2e_owner_exec("fresh network",
                          "UPDATE member.clubs SET status = 'suspended' WHERE status = 'active'", 0,
                          NULL, NULL, 0);
}

int gov_e2e_ledger_network(const e2e_proc_t *p) {
    if (gov_e2e_fresh_network() != 0) return -1;
    long st = e2e_call(p, NULL, "POST", "/api/v1/ledger/bootstrap", "{}", NULL);
    if (st == 200) return 0;
    printf("#   ledger bootstrap: %ld\n", st);
    return -1;
}

int gov_e2e_ledger_club(const e2e_proc_t *p, const char *name, const char *slug, const char *org,
                        const char *public_keys, char *id, json_t **out) {
    char body[1024];
    json_t *v = NULL;
    if (out) *out = NULL;
    if (e2e_club(p, name, slug, NULL, id) != 0) return -1;
    snprintf(body, sizeof body, "{\"org\":\"%s\",\"club_id\":\"%s\"%s%s}", org, id,
             public_keys ? ",\"public_keys\":" : "", public_keys ? public_keys : "");
    long st = e2e_call(p, NULL, "POST", "/api/v1/ledger/orgs", body, &v);
    if (st != 200) {
        char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
        printf("#   register %s on the ledger: %ld %s\n", org, st, s ? s : "");
        free(s);
        json_decref(v);
        return -1;
    }
    if (out)
        *out = v;
    else
        json_decref(v);
    return 0;
}

long long gov_e2e_pending(const char *proposal, int print) {
    err_t e = {0};
    long long n = -1;
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    if (!db) return -1;
    db_scope_t s = {.network_admin = 1};
    db_tx_t *tx = NULL;
    const char *p[] = {proposal};
    if (db_begin(db, &s, &tx, &e) == 0) {
        PGresult *r = db_exec(tx,
                              "SELECT kind, coalesce(last_error, '') FROM "
                              "governance.ledger_records WHERE status = 'pending' AND "
                              "proposal_id = $1",
                              1, p, &e);
        if (r) n = PQntuples(r);
        for (int i = 0; print && r && i < PQntuples(r); i++)
            printf("#   pending %s: %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        if (r) PQclear(r);
        db_rollback(tx);
    }
    db_pool_close(db);
    return n;
}

long long gov_e2e_drain(const e2e_proc_t *p, const char *proposal, const char *as_of, int tries) {
    char body[96];
    long long pending = -1;
    snprintf(body, sizeof body, "{\"as_of\":\"%s\"}", as_of);
    for (int i = 0; i < tries && pending != 0; i++) {
        long st = e2e_call(p, NULL, "POST", "/api/v1/governance/sweep", body, NULL);
        if (st != 200) printf("#   sweep: %ld\n", st);
        pending = gov_e2e_pending(proposal, 0);
        if (pending) usleep(250 * 1000);
    }
    if (pending) gov_e2e_pending(proposal, 1);
    return pending;
}
