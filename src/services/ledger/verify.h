/* verify: the offline verifier of an exported chain (api.c ledger_export, `reciprocal ledger
 * export FILE`). With no network and no database it replays everything from genesis: block
 * numbers and header hash links, every transaction's envelope, validation code (endorsement
 * policies against the config in force at that height, revoked keys, MVCC replay, duplicate tx
 * ids), data root, validation root, write-set hash, header hash; then every checkpoint: the
 * log's signature, its root recomputed from the leaves, consistency with the previous one, and
 * the witness cosignatures (keys = admin identities of the config in force at the checkpoint's
 * size; lines by any other key, e.g. an org registered later or a key revoked before, are
 * ignored as unknown signers and not counted). Every failure names the block/tx (or checkpoint) and
 * the field. Owns nothing. */
#ifndef SERVICES_LEDGER_VERIFY_H
#define SERVICES_LEDGER_VERIFY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct ledger_verify_report {
    size_t blocks, txs, valid_txs, checkpoints, cosignatures;
} ledger_verify_report_t;

/* 0 when everything verifies; otherwise -1 with e->message naming the first bad block/tx/field.
 * log_key_hex: the trusted log public key (NULL = take the export's, and say so). */
int ledger_verify_export(json_t *export, const char *log_key_hex, ledger_verify_report_t *rep,
                         err_t *e);

/* Per-field digests of one envelope, written by the export beside it: {"type", "timestamp",
 * "nonce", "creator", "payload", "read_set", "write_set", "endorsements"} (hex SHA-256 of each
 * field's canonical bytes). They are a diagnostic, not a trust anchor: the verifier compares
 * them with the decoded envelope only to NAME the altered field; a consistent alteration of
 * envelope and digests is still caught by signatures, leaf hashes and roots. NULL (e filled)
 * when the envelope does not decode. */
json_t *ledger_tx_digests(const uint8_t *env, size_t len, err_t *e);

#endif
