/* statecheck: the offline verifier's MVCC check in bounded memory. The replay does not keep the
 * world state (every key's version: tens of GB for a day of blind writes at 3,000 tx/s); it
 * takes each transaction's recorded code as the MVCC outcome (MVCC_READ_CONFLICT or not,
 * ledger_block_msg_t.mvcc) and adds here every read of a transaction that reached the MVCC
 * check (recorded VALID or MVCC_READ_CONFLICT: key, expected version) and every write of a
 * VALID one (key, the version it gives: block * 2^24 + position + 1, 0 for a delete), keys by
 * their SHA-256. The records (48 bytes) are those of an external sort (sortrun.h: runs of at
 * most STATECHECK_RUN sorted on a helper thread into unlinked temporary files); the check merges
 * them per key in chain order (a transaction's reads before its writes) and requires every read of
 * a VALID transaction to see the version the writes before it left, and every MVCC_READ_CONFLICT
 * transaction to have at least one read that does not: exactly the replay's decisions, since
 * the first transaction whose recorded outcome differs is the first violation. Memory: two runs,
 * one read buffer per run file, and 40 bytes per recorded MVCC_READ_CONFLICT. Owns its sortrun
 * and the conflict list (ledger_statecheck_free). One caller (the replay). */
#ifndef SERVICES_LEDGER_STATECHECK_H
#define SERVICES_LEDGER_STATECHECK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define STATECHECK_RUN ((size_t)1 << 20)

typedef struct ledger_statecheck ledger_statecheck_t;

ledger_statecheck_t *ledger_statecheck_new(size_t run); /* run: records per run, 0 = default */
void ledger_statecheck_free(ledger_statecheck_t *c);

/* A read of key (its SHA-256) at `version` by the tx at (block, position), recorded
 * MVCC_READ_CONFLICT (conflict = 1) or VALID. Blocks in increasing order. */
int ledger_statecheck_read(ledger_statecheck_t *c, const uint8_t key[32], uint64_t block,
                           uint32_t position, uint64_t version, int conflict, err_t *e);
/* A write of a VALID tx: key now has `version` (0 = deleted). */
int ledger_statecheck_write(ledger_statecheck_t *c, const uint8_t key[32], uint64_t block,
                            uint32_t position, uint64_t version, err_t *e);
/* The tx at (block, position), id tx_id, was recorded MVCC_READ_CONFLICT. */
int ledger_statecheck_conflict(ledger_statecheck_t *c, uint64_t block, uint32_t position,
                               const uint8_t tx_id[32], err_t *e);

typedef struct ledger_statecheck_bad {
    uint64_t block;
    uint32_t position;
    int conflict;      /* 1: recorded MVCC_READ_CONFLICT, every read holds (replay: VALID);
                        * 0: recorded VALID, a read does not hold (replay: MVCC_READ_CONFLICT) */
    uint8_t key[32];   /* conflict 0: the key's SHA-256 */
    uint64_t want;     /* conflict 0: the version read */
    uint64_t have;     /* conflict 0: the version the chain had */
    uint8_t tx_id[32]; /* conflict 1 */
} ledger_statecheck_bad_t;

/* 0 when every recorded outcome of blocks <= upto holds; 1 with *bad = the earliest that does
 * not; -1 (e) on an I/O or memory failure. Keys are split by their first byte over `threads`. */
int ledger_statecheck_run(ledger_statecheck_t *c, uint64_t upto, size_t threads,
                          ledger_statecheck_bad_t *bad, err_t *e);
size_t ledger_statecheck_runs(const ledger_statecheck_t *c);

#endif
