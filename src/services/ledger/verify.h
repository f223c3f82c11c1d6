/* verify: the offline verifier of an exported chain (api.c ledger_export, `reciprocal ledger
 * export FILE`). With no network and no database it replays everything from genesis: block
 * numbers and header hash links, every transaction's envelope, validation code (endorsement
 * policies against the config in force at that height, revoked keys, MVCC replay, duplicate tx
 * ids), data root, validation root, write-set hash, header hash; then every checkpoint: the
 * log's signature, its root recomputed from the leaves, consistency with the previous one, and
 * the witness cosignatures (keys = admin identities of the final config). Owns nothing. */
#ifndef SERVICES_LEDGER_VERIFY_H
#define SERVICES_LEDGER_VERIFY_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

typedef struct ledger_verify_report {
    size_t blocks, txs, valid_txs, checkpoints, cosignatures;
} ledger_verify_report_t;

/* 0 when everything verifies; otherwise -1 with e->message naming the first bad block/tx/field.
 * log_key_hex: the trusted log public key (NULL = take the export's, and say so). */
int ledger_verify_export(json_t *export, const char *log_key_hex, ledger_verify_report_t *rep,
                         err_t *e);

#endif
