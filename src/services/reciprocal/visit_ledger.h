/* visit_ledger: the ledger record of a verified visit (issue 11). The check-in's transaction
 * queues it (reciprocal.visit_ledger_records, status pending) with a fresh random 32-byte salt
 * and the commitment SHA-256(salt || member number) (txcodec_commit), so the door never waits
 * for the ledger and a check-in is never without its record; the sweep then submits it through
 * the ledger service's operations (submit_batch over svc_call, up to 100 records a call, until
 * none is left: type visit.verified, creator
 * the host's ledger organisation, payload {visit_id, host, home, member: hex commitment,
 * checked_in_on}, one write visit/<id> = verified, endorsed by the host's and the home club's
 * member identities, nonce derived from the visit id so a resubmission is the same
 * transaction). A record that cannot be submitted yet stays pending with the reason and is
 * retried by every sweep; one the ledger refuses for a key it does not hold (the host or the
 * home club holds its own keys) is endorsed with the keys the server holds and stored
 * needs_endorsements (tx_id, tx, endorsements, policy): the club signs tx and submits it to the
 * ledger (POST /ledger/transactions), and the sweep marks it submitted once committed VALID. GET
 * /visits/{id}/ledger shows it to both clubs with the salt, so either can open the commitment to an
 * auditor. Owns no state. */
#ifndef SERVICES_RECIPROCAL_VISIT_LEDGER_H
#define SERVICES_RECIPROCAL_VISIT_LEDGER_H

#include "core/db.h"
#include "core/service.h"

/* Queues the record of visit_id's check-in inside tx (idempotent): member_number is committed
 * to with a fresh salt and never stored in clear. 0 or -1 + err. */
int visit_ledger_enqueue(db_tx_t *tx, const char *visit_id, const char *member_number, err_t *e);
/* The same row queued in a pipeline batch (core/db.h), written when it runs. 0 or -1 + err. */
int visit_ledger_queue(db_batch_t *b, const char *visit_id, const char *member_number, err_t *e);

/* The record's row for a statement the caller writes (a data-modifying CTE beside the check-in's
 * UPDATE, so the move, its event and its record are one statement): sql, the INSERT (idempotent)
 * of the visit $1 with the salt and the commitment as parameters $first and $first+1; vals, those
 * two values. 0 or -1 + err. */
typedef struct visit_ledger_row {
    char sql[224];
    char salt[2 * 32 + 3];   /* "\x" + hex */
    char commit[2 * 32 + 3]; /* "\x" + hex */
    const char *vals[2];
} visit_ledger_row_t;
int visit_ledger_row(visit_ledger_row_t *row, int first, const char *member_number, err_t *e);

/* Tries the pending records as call's caller (a network administrator: the sweep): first asks
 * the ledger about the held (needs_endorsements) ones, then submits the pending ones in batches
 * of 100 (one submit_batch call and one store statement a batch; the pass stops at a batch that
 * leaves a record pending, or after 100 batches), then holds the ones refused for a missing key.
 * *submitted / *pending: records submitted now / tried and left pending. */
int visit_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e);

/* GET /visits/{id}/ledger: {visit_id, type, status, tx_id, attempts, last_error, tx,
 * endorsements, policy, commitment, salt} (hex), 404 when the visit has none or the caller cannot
 * see it. */
int visit_ledger_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
