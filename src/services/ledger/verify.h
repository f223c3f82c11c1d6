/* verify: the offline verifier of an exported chain (api.c ledger_export, `reciprocal ledger
 * export FILE`). With no network and no database it replays everything from genesis: block
 * numbers and header hash links, every transaction's envelope, validation code (endorsement
 * policies against the config in force at that height, revoked keys, MVCC replay, duplicate tx
 * ids), data root, validation root, write-set hash, header hash; then every checkpoint: the
 * log's signature, its root recomputed from the leaves, consistency with the previous one, and
 * the witness cosignatures (keys = admin identities of the config in force at the checkpoint's
 * size; lines by any other key, e.g. an org registered later or a key revoked before, are
 * ignored as unknown signers and not counted), and each checkpoint's block line ("block N
 * <header hash>", engine.h): block N must replay to that header hash and end at the signed size.
 * The last block must be bound that way (prev_hash links bind the others), so a rewrite of
 * boundaries, timestamps or validation codes, an export without checkpoints or one cut short
 * below its last checkpoint fails; --min-size catches a consistent rollback. Every failure names
 * the block/tx (or checkpoint) and the field. Owns nothing. */
#ifndef SERVICES_LEDGER_VERIFY_H
#define SERVICES_LEDGER_VERIFY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

typedef struct ledger_verify_report {
    size_t blocks, txs, valid_txs, checkpoints, cosignatures;
    size_t unbound_blocks; /* blocks after the last one a signed checkpoint binds */
} ledger_verify_report_t;

typedef struct ledger_verify_opts {
    const char *log_key_hex; /* the trusted log public key (NULL = take the export's) */
    uint64_t min_size;       /* the replayed log must have at least this many leaves */
    int allow_unbound;       /* accept blocks no signed checkpoint binds (exports made before
                              * checkpoints carried block lines); reported in unbound_blocks */
    size_t threads;          /* worker threads (0 = one per online CPU; at most 256) */
} ledger_verify_opts_t;

/* 0 when everything verifies; otherwise -1 with e->message naming the first bad block/tx/field.
 * log_key_hex: the trusted log public key (NULL = take the export's, and say so). */
int ledger_verify_export(json_t *export, const char *log_key_hex, ledger_verify_report_t *rep,
                         err_t *e);
int ledger_verify_export_opts(json_t *export, const ledger_verify_opts_t *o,
                              ledger_verify_report_t *rep, err_t *e);
/* The same for a streamed export (reciprocal-ledger-export/v2, export.h) read from f one line
 * at a time: memory bounded by a batch of blocks (about 4,096 transactions, and the largest
 * block), whatever the file's size. */
int ledger_verify_stream(FILE *f, const ledger_verify_opts_t *o, ledger_verify_report_t *rep,
                         err_t *e);
/* The file at path: v2 streamed, anything else loaded whole as a v1 document. An unreadable
 * file: 400 with field "file". */
int ledger_verify_file(const char *path, const ledger_verify_opts_t *o, ledger_verify_report_t *rep,
                       err_t *e);

/* Per-field digests of one envelope, written by the export beside it: {"type", "timestamp",
 * "nonce", "creator", "payload", "read_set", "write_set", "endorsements"} (hex SHA-256 of each
 * field's canonical bytes). They are a diagnostic, not a trust anchor: the verifier compares
 * them with the decoded envelope only to NAME the altered field; a consistent alteration of
 * envelope and digests is still caught by signatures, leaf hashes and roots. NULL (e filled)
 * when the envelope does not decode. */
json_t *ledger_tx_digests(const uint8_t *env, size_t len, err_t *e);

#endif
