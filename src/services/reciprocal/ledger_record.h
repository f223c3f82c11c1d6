/* ledger_record: the ledger record of an agreement's activation. The activating transaction
 * queues it (reciprocal.ledger_records, status pending) so an activation is never lost; the
 * sweep then submits it through the ledger service's operations (endorse + submit over
 * svc_call: type agreement.activated, payload {agreement_id, clubs: [ledger orgs]}, endorsed by
 * every party's admin identity the ledger holds keys for, nonce derived from the agreement id so
 * a resubmission is the same transaction). A record that cannot be submitted yet (a party with
 * no ledger organisation, the ledger not bootstrapped or unreachable, a club holding its own
 * keys) stays pending with the reason and is retried by every sweep. Owns no state. */
#ifndef SERVICES_RECIPROCAL_LEDGER_RECORD_H
#define SERVICES_RECIPROCAL_LEDGER_RECORD_H

#include "core/db.h"
#include "core/service.h"

/* Queues the record of agreement_id's activation inside tx (idempotent). 0 or -1 + err. */
int ag_ledger_enqueue(db_tx_t *tx, const char *agreement_id, err_t *e);

/* Tries up to 20 pending records as call's caller (a network administrator: the sweep).
 * *submitted / *pending get the counts of records submitted now and still pending. */
int ag_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e);

/* Clubs that hold their own ledger keys: called where an agreement would activate (the last
 * acceptance, the sweep on starts_on). When the ledger holds no key for a party's admin (or the
 * creator's member) identity, endorses the activation with every key it holds, stores the
 * record as needs_endorsements (tx_id, tx, endorsements, policy; holds_activation) in tx and
 * sets *held: the agreement stays proposed until that transaction commits. A record already
 * held keeps *held until it is submitted (committed). When the ledger cannot be asked or a party
 * is not on it, *held = 0 (the record waits as pending, as before). 0 or -1 + err. */
int ag_ledger_hold(const svc_call_t *call, db_tx_t *tx, const char *agreement_id, int *held,
                   err_t *e);
/* For every needs_endorsements record asks the ledger (commit_status): committed VALID ->
 * submitted (the sweep's activation step then activates the agreement); committed otherwise ->
 * last_error names the validation code. *committed counts the first. */
int ag_ledger_commits(const svc_call_t *call, long long *committed, err_t *e);

/* Shared with visit_ledger.c. The ledger organisation of each club id (JSON array of ids) from
 * the ledger config's orgs (registered with club_id): a new array, or NULL + why when a club
 * has none. */
json_t *ag_ledger_orgs(json_t *clubs, json_t *config, char *why, size_t cap);
/* ledger endorse (spec, as call's caller) then submit without waiting: 0 + tx_id (64 hex), or
 * -1 + why (the ledger's error). */
int ag_ledger_submit_spec(const svc_call_t *call, json_t *spec, char tx_id[65], char *why,
                          size_t cap);

/* One kind of ledger record (agreement activation, visit, statement acceptance): what differs
 * between the sweeps' passes. The pass, the ledger config call, endorse + submit and the retry
 * are ag_ledger_record_pass's. */
typedef struct {
    /* up to 20 pending records, oldest first; column 0 the record's id */
    const char *pending_sql;
    /* the row update: $1 id, $2 tx_id (NULL: still pending), $3 why (NULL once submitted) */
    const char *store_sql;
    /* row i's transaction spec from the ledger config: 0 + *spec (new ref), 1 + why (cannot be
     * submitted yet: stays pending), or -1 + e (the pass fails) */
    int (*spec)(PGresult *r, int i, json_t *config, json_t **spec, char *why, size_t cap, err_t *e);
} ag_ledger_kind_t;

/* Tries kind's pending records as call's caller: asks the ledger config once, submits each
 * record's spec and stores tx_id or the reason it stays pending. *submitted / *pending get the
 * counts. 0 or -1 + err. */
int ag_ledger_record_pass(const svc_call_t *call, const ag_ledger_kind_t *kind,
                          long long *submitted, long long *pending, err_t *e);

#endif
