/* store: the ledger in PostgreSQL (schema `ledger`, see migrations/0001_ledger.up.sql).
 * Owns the SQL for: the chain head, the network config tables, the global RFC 6962 log kept as
 * stored complete-subtree hashes (roots and proofs in O(log n) rows, two queries), the commit of
 * one ordered block (validation through engine.c, then blocks, txs, log nodes, world state,
 * config, head, a signed checkpoint and the outbox events, all in the caller's transaction), and
 * the witness rules. Every function runs inside a db_tx_t the caller opened; writes need the
 * ledger writer scope (db_scope_t.ledger_writer = 1). */
#ifndef SERVICES_LEDGER_STORE_H
#define SERVICES_LEDGER_STORE_H

#include <stdint.h>

#include "core/db.h"
#include "core/err.h"
#include "lib/ledger/checkpoint.h"
#include "lib/ledger/merkle.h"
#include "services/ledger/engine.h"

#define LEDGER_LOG_KEY "log"
#define LEDGER_DEFAULT_ORIGIN "reciprocal-clubs.example/ledger"
/* The event a block that changes the configuration emits (outbox, in its commit): {block_number}
 * on events.ledger.config_changed. */
#define LEDGER_CONFIG_CHANGED_EVENT "ledger.config_changed"

typedef struct ledger_head {
    int64_t height; /* -1 = empty chain */
    uint8_t hash[32];
    uint64_t log_size;
    uint64_t js_seq;
} ledger_head_t;

/* The log origin: ledger_origin() in settings.h (RECIPROCAL_LEDGER_ORIGIN). */
#include "services/ledger/settings.h"

int ledger_store_head(db_tx_t *tx, ledger_head_t *h, int for_update, err_t *e);
/* Which of the n tx ids are already on the chain (a row whose code is neither BAD_PAYLOAD nor
 * DUPLICATE_TXID, as validation's duplicate check): on[i] = 1, and *js_seq = the LEDGER_BLOCKS
 * sequence of the committed head in the same snapshot (the ids of the blocks above it are the
 * stream's: pending.h). One round trip (db_read), one index lookup per id. For the cutter: a
 * re-delivered envelope of a committed transaction is acked and dropped instead of being
 * ordered again. */
int ledger_store_on_chain(db_pool_t *db, const uint8_t (*ids)[32], size_t n, int *on,
                          uint64_t *js_seq, err_t *e);
int ledger_store_config(db_tx_t *tx, ledger_config_t *c, err_t *e);

/* Roots and proofs from stored subtrees (size <= committed log size). */
int ledger_tree_root(db_tx_t *tx, uint64_t size, uint8_t root[32], err_t *e);
int ledger_tree_inclusion(db_tx_t *tx, uint64_t index, uint64_t size, merkle_hash_t *proof,
                          size_t *len, err_t *e);
int ledger_tree_consistency(db_tx_t *tx, uint64_t m, uint64_t n, merkle_hash_t *proof, size_t *len,
                            err_t *e);

/* The checkpoint signer (key "log", name = origin). */
int ledger_log_signer(db_tx_t *tx, checkpoint_signer_t *s, err_t *e);

typedef struct ledger_commit_info {
    uint64_t number;
    size_t n_txs, n_valid;
    uint64_t log_size;
} ledger_commit_info_t;

/* Validates and commits the ordered block `msg` (stream sequence js_seq) on top of head (read
 * FOR UPDATE by the caller in the same transaction). The block number must be head.height + 1. */
int ledger_commit_block(db_tx_t *tx, const ledger_head_t *head, const uint8_t *msg, size_t len,
                        uint64_t js_seq, ledger_commit_info_t *info, err_t *e);

/* Witness: org's view checks the signed checkpoint `note` (log signature; consistency proof
 * from org's last cosigned size, computed from the stored subtrees and verified with
 * merkle_verify_consistency; never backwards; never a different root for the same size),
 * persists the new size/root, signs with org's admin key and stores the cosignature.
 * 409 "rollback" / "fork" / 422 "invalid_proof" on refusal. *line (may be NULL) receives the
 * malloc'd signature line. */
int ledger_witness_cosign(db_tx_t *tx, const char *org, const char *note, size_t note_len,
                          char **line, err_t *e);
/* Number of distinct witnesses whose last cosigned size covers log size `size`. */
int ledger_witness_count(db_tx_t *tx, uint64_t size, int *count, err_t *e);

/* Array literal {"a","b"} of C strings for text[] parameters (appends to b, NUL-terminated
 * when finished with ledger_arr_end). */
void ledger_arr_add(ledger_buf_t *b, const char *s);
void ledger_arr_add_hex(ledger_buf_t *b, const uint8_t *d, size_t n);
const char *ledger_arr_end(ledger_buf_t *b);

#endif
