/* gov_ledger: the ledger records of network proposals (docs/governance.md "Ledger records"):
 * governance.proposal and governance.eligible_snapshot when voting opens, governance.vote_cast
 * for every cast, governance.result when the proposal is finalised. The deciding transaction
 * queues each (governance.ledger_records, status pending, payload with club ids) so a record is
 * never lost; the sweep submits them through the ledger service's operations (config, then one
 * submit_batch per pass over svc_call: the pass's records endorsed and published in one call),
 * translating club ids into their ledger organisations, with the nonce
 * derived from the record's ids (a resubmission is the same transaction). The result waits
 * while a vote record of its proposal is pending. A record that cannot be submitted yet (a club
 * without a ledger organisation, the ledger down) stays pending with the reason. Owns no
 * state. */
#ifndef SERVICES_GOVERNANCE_GOV_LEDGER_H
#define SERVICES_GOVERNANCE_GOV_LEDGER_H

#include "core/db.h"
#include "core/service.h"

/* Queues governance.proposal and governance.eligible_snapshot of proposal id (opened in tx). */
int gov_ledger_enqueue_opening(db_tx_t *tx, const char *id, err_t *e);
/* governance.vote_cast is queued by the cast's own statement (votes.c CAST_SQL: the stored row,
 * its seq-th cast, in the payload described in docs/governance.md "Ledger records"). */
/* Queues governance.result of id (its result stored in tx). */
int gov_ledger_enqueue_result(db_tx_t *tx, const char *id, err_t *e);

/* Submits up to 50 pending records as call's caller (a network administrator), in one ledger
 * submit_batch call; each record's outcome (its tx id, or why it stays pending) stored in one
 * UPDATE. */
int gov_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e);

#endif
