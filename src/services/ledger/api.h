/* api: the ledger service's operations (the Fabric Gateway shape) as C functions and as the
 * handlers of the operation table in ledger.c. Owns no state but a "bootstrapped" flag.
 * Bytes in JSON: ids, keys and hashes in lower-case hex; transactions, envelopes and signatures
 * in standard base64. */
#ifndef SERVICES_LEDGER_API_H
#define SERVICES_LEDGER_API_H

#include <jansson.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/db.h"
#include "core/service.h"
#include "services/ledger/engine.h"

/* Creates the log key and the network operator's admin key, and commits the genesis config
 * (org "network"). Idempotent. */
int ledger_bootstrap(db_pool_t *db, bus_t *b, err_t *e);

/* Builds the canonical tx from {"type","creator","payload" (any JSON, stored as its compact
 * text, or a string stored as is),"reads":[{"key","version"}],"writes":[{"key","value"|
 * "delete":true}],"nonce"?} with the creator's public key; *tx malloc'd. */
int ledger_build_tx(json_t *spec, const uint8_t creator_pk[32], uint8_t **tx, size_t *len,
                    uint8_t id[32], err_t *e);

/* Publishes an endorsed transaction and waits (up to wait_ms, pumping the cutter and the
 * committer) for its block to be committed. *status: see ledger_tx_status. */
int ledger_submit(db_pool_t *db, bus_t *b, const uint8_t *tx, size_t tx_len,
                  ledger_endorsement_t *end, size_t n_end, int wait_ms, json_t **status, err_t *e);
/* {"tx_id","status":"committed"|"pending","validation_code","block_number","position",
 *  "log_index"}; waits up to wait_ms for the commit. */
int ledger_tx_status(db_pool_t *db, bus_t *b, const uint8_t id[32], int wait_ms, json_t **out,
                     err_t *e);

/* The ledger streams exist (ensured once per bus, not per transaction): 0, or -1 + e.
 * ledger_streams_unready forgets it after a failed publish, so the next call ensures again. */
int ledger_streams_ready(bus_t *b, err_t *e);
void ledger_streams_unready(bus_t *b);
/* May the caller act for org? (network admin, or the club the org belongs to): 0, or 403. */
int ledger_may_act_for(const svc_call_t *c, const char *org, err_t *e);
/* The (first) unrevoked member identity of org in the current config: 0, or 404 naming
 * creator. */
int ledger_member_identity(db_pool_t *db, const char *org, uint8_t pk[32], err_t *e);

/* Registers (or replaces) an organization with generated member and admin keys (sealed in
 * ledger.keys), through a config.update endorsed by the network operator. */
int ledger_register_org(db_pool_t *db, bus_t *b, const char *org, const char *club_id,
                        const char *name, int wait_ms, json_t **status, err_t *e);
/* The same with keys the club generated and keeps (member_pk, admin_pk: both or neither);
 * nothing is stored here and the club signs its own endorsements (POST /transactions). When
 * the server does not hold a majority of the current admin keys, *status is
 * {"status":"needs_endorsements",...} (see docs/ledger.md). */
int ledger_register_org_keys(db_pool_t *db, bus_t *b, const char *org, const char *club_id,
                             const char *name, const uint8_t *member_pk, const uint8_t *admin_pk,
                             int wait_ms, json_t **status, err_t *e);
int ledger_revoke_key(db_pool_t *db, bus_t *b, const uint8_t pk[32], const char *reason,
                      int wait_ms, json_t **status, err_t *e);
/* Loads the secret key "<org>/<role>" (writer scope). */
int ledger_org_key(db_pool_t *db, const char *org, const char *role, uint8_t sk[64], uint8_t pk[32],
                   err_t *e);
/* The latest checkpoint with its cosignatures merged: {"size","root","note","block_number",
 * "cosigners":[...]}; 404 before the first block. */
int ledger_latest_checkpoint(db_tx_t *tx, json_t **out, err_t *e);
/* A witness cosigns the latest checkpoint (or `note` when given). */
int ledger_cosign(db_pool_t *db, const char *org, const char *note, json_t **out, err_t *e);
/* Is block `number` final for cross-club purposes (k witnesses cosigned a checkpoint covering
 * it)? k = RECIPROCAL_LEDGER_WITNESS_K (default 1). */
int ledger_block_final(db_pool_t *db, uint64_t number, int *final, int *cosigners, err_t *e);
/* The whole chain for the offline verifier (docs/ledger.md). */
int ledger_export(db_pool_t *db, json_t **out, err_t *e);

/* Committed blocks and their transactions from (from_block, from_position), at most `limit`
 * blocks and 2000 transactions; waits up to wait_ms for something new when there is nothing.
 * {"blocks":[{"block_number","header_hash","timestamp_ms","tx_count","txs":[{"position",
 * "tx_id","type","creator","validation_code","log_index"}]}],"next":{"from_block",
 * "from_position"},"height"}: pass `next` back to resume. */
int ledger_events(db_pool_t *db, bus_t *b, uint64_t from_block, uint32_t from_pos, uint64_t limit,
                  int wait_ms, json_t **out, err_t *e);

/* Handlers of the operation table. */
int ledger_h_bootstrap(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_register_org(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_revoke(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_config(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_endorse(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_submit(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_status(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_get_tx(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_get_block(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_checkpoint(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_consistency(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_inclusion(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_evaluate(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_cosign(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_export(const svc_call_t *c, json_t *in, json_t **out, err_t *e);
int ledger_h_events(const svc_call_t *c, json_t *in, json_t **out, err_t *e);

#endif
