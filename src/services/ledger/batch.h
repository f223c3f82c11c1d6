/* batch: operation submit_batch (POST /api/v1/ledger/transactions/batch), N transactions in one
 * call: each item is either an endorse spec (what POST /endorse takes: built and endorsed with
 * the server-held keys) or an endorsed transaction ({tx, endorsements}, what POST /transactions
 * takes). The keys of every item are read in ONE statement (one per key and item before: two
 * reads and two unsealings per governance vote record), and the N envelopes are published to
 * LEDGER_TX in one JetStream flight (bus_js_publish_batch: one wait for all the acks) instead of
 * N round trips. Nothing waits for the commit (wait_ms 0 of POST /transactions): each item is
 * answered {tx_id, status: "pending"} once the stream acknowledged it, or {tx_id?, error:
 * {status, code, field, message}} (the same refusals as endorse and submit, per item; the
 * others go on). A transaction id is SHA-256(creator || nonce), so a batch submitted twice (two
 * processes running the same pass) is the same transactions: JetStream drops the copies within
 * its duplicate window and the committer marks a later copy DUPLICATE_TXID; each is recorded
 * once. Used by the governance ledger pass (docs/governance.md). Owns nothing; *out is the
 * caller's. */
#ifndef SERVICES_LEDGER_BATCH_H
#define SERVICES_LEDGER_BATCH_H

#include <jansson.h>

#include "core/err.h"
#include "core/service.h"

/* Items per call. */
#define LEDGER_BATCH_MAX 100

/* {items: [1..LEDGER_BATCH_MAX of an endorse spec or {tx, endorsements}]}; a bad item is 400/422
 * naming items[i].<field>. */
int ledger_v_submit_batch(json_t *in, err_t *e);
/* {results: [one per item, in order: {tx_id, status: "pending"} | {tx_id?, error: {status,
 * code, field, message}}]}. */
int ledger_h_submit_batch(const svc_call_t *c, json_t *in, json_t **out, err_t *e);

#endif
