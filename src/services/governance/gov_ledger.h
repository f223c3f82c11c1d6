/* gov_ledger: the ledger records of network proposals (docs/governance.md "Ledger records"):
 * governance.proposal and governance.eligible_snapshot when voting opens, governance.vote_cast
 * for every cast, governance.result when the proposal is finalised. The deciding transaction
 * queues each (governance.ledger_records, status pending, payload with club ids) so a record is
 * never lost; the ledger pass (the ledger records job every RECIPROCAL_GOVERNANCE_LEDGER_SECONDS,
 * and the sweep's last step) submits them through the ledger service's operations (config, then
 * one submit_batch per batch of 100 over svc_call: a batch's records endorsed and published in
 * one call; full batches follow each other until the backlog is drained),
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

/* The next batch of pending records of a pass: a result waits for the votes of its proposal;
 * records never tried first, then the least recently tried: records that cannot be submitted (a
 * club not on the ledger) take turns instead of filling every pass (50 of them starved every
 * later proposal). Read in that order through ledger_records_next_idx (migration 0006): the
 * LIMIT stops after the batch instead of sorting every pending record. The OFFSET 0 keeps the
 * result's check a sub-plan run for result records alone: without it the planner hashed it, a
 * read of every pending record of every proposal on each batch. */
#define GOV_LEDGER_BATCH 100
#define GOV_LEDGER_BATCH_S "100"
#define GOV_LEDGER_NEXT_SQL                                                                        \
    "SELECT l.id, l.kind, l.proposal_id, l.payload::text, l.tx, l.endorsements::text FROM "        \
    "governance.ledger_records l "                                                                 \
    "WHERE l.status = 'pending' AND NOT (l.kind = 'governance.result' AND EXISTS (SELECT 1 "       \
    "FROM governance.ledger_records v WHERE v.proposal_id = l.proposal_id AND v.status = "         \
    "'pending' AND v.kind <> 'governance.result' OFFSET 0)) ORDER BY l.attempts > 0, "             \
    "l.updated_at, "                                                                               \
    "l.id LIMIT " GOV_LEDGER_BATCH_S

/* Submits the pending records as call's caller (a network administrator) in batches of 100, one
 * ledger submit_batch call each; each batch's outcomes (a record's tx id, or why it stays
 * pending) stored in one UPDATE. A full batch that submitted something is followed by the next
 * (at most 100 batches a pass), so a backlog drains in one pass. *pending: what the last batch
 * left pending. */
int gov_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e);
/* The operation governance_ledger_pass ({} -> {ledger_submitted, ledger_pending}; no route): the
 * ledger records job (sweep.c). */
int gov_validate_ledger_pass(json_t *in, err_t *e);
int gov_ledger_pass_op(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
