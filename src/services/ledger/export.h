/* export: the streaming export of the chain, format reciprocal-ledger-export/v2 (NDJSON: one
 * JSON object per line, in log order):
 *   {"format":"reciprocal-ledger-export/v2","log_public_key":hex,"origin":str}
 *   {"block":{number, prev_hash, data_root, validation_root, writeset_hash, timestamp_ms,
 *             tx_count, first_log_index, header_hash, txs:[{envelope, validation_code,
 *             digests}]}}                        one line per block, in block order
 *   {"checkpoint":"<signed note with cosignature lines>"}   after the block ending at its size
 * A block's object is the same as in the whole-document v1 format (api.c ledger_export, still
 * answered by GET /export); `reciprocal ledger verify` reads v2 one line at a time (verify.c),
 * so neither side holds more than a batch of blocks. The writers below own nothing; the caller
 * keeps its FILE and json. */
#ifndef SERVICES_LEDGER_EXPORT_H
#define SERVICES_LEDGER_EXPORT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "core/db.h"
#include "core/err.h"

#define LEDGER_EXPORT_V1 "reciprocal-ledger-export/v1"
#define LEDGER_EXPORT_V2 "reciprocal-ledger-export/v2"

/* Line writers of the v2 format: 0, or -1 with *e (a write error). */
int ledger_export_write_header(FILE *f, const char *origin, const char *log_pk_hex, err_t *e);
int ledger_export_write_block(FILE *f, json_t *block, err_t *e);
int ledger_export_write_checkpoint(FILE *f, const char *note, err_t *e);
/* A whole v1 document written as v2, in log order: each checkpoint (in the document's order)
 * after the first block at whose end the count of transactions reaches its size (a note whose
 * size does not parse goes where it stands; the rest after the last block). */
int ledger_export_write_doc(FILE *f, json_t *doc, err_t *e);

typedef struct ledger_export_stats {
    uint64_t blocks, txs, checkpoints;
} ledger_export_stats_t;

/* Writes the chain as v2 to f from ONE snapshot (a dedicated connection to conninfo, REPEATABLE
 * READ READ ONLY, three cursors read 1000 rows at a time: blocks, transactions, checkpoints with
 * their cosignatures), so memory stays constant whatever the chain's length and a ledger that
 * keeps committing exports consistently. The log public key is read through db (the writer
 * scope unseals the log key). */
int ledger_export_stream(db_pool_t *db, const char *conninfo, FILE *f, ledger_export_stats_t *st,
                         err_t *e);

#endif
