/* idcheck: the offline verifier's duplicate-tx-id check in bounded memory. The replay does not
 * keep every tx id of the chain (32 bytes and a hash slot each: tens of GB for a day at 3,000
 * tx/s); it takes each transaction's recorded code as the duplicate flag (DUPLICATE_TXID or
 * not, ledger_block_msg_t.dup) and adds (id, position, recorded code) here as 40-byte records
 * of an external sort (sortrun.h: runs of at most IDCHECK_RUN records sorted on a helper thread
 * into unlinked temporary files); the check merges the runs and requires, for every id, its
 * first position (in chain order) to be recorded as anything but DUPLICATE_TXID and every later
 * one as DUPLICATE_TXID: exactly what the replay with the whole id set would have decided.
 * Memory: two runs and one read buffer per run file; disk: 40 bytes per decoded transaction.
 * Owns its sortrun (ledger_idcheck_free). Not thread-safe: one caller (the replay). */
#ifndef SERVICES_LEDGER_IDCHECK_H
#define SERVICES_LEDGER_IDCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define IDCHECK_RUN ((size_t)1 << 20)

typedef struct ledger_idcheck ledger_idcheck_t;

/* run: records per run (0 = IDCHECK_RUN); a smaller one exercises the merge in tests. */
ledger_idcheck_t *ledger_idcheck_new(size_t run);
void ledger_idcheck_free(ledger_idcheck_t *c);

/* The decoded transaction at (block, position) has id `id` and was recorded with `code`. Blocks
 * must be added in increasing order. */
int ledger_idcheck_add(ledger_idcheck_t *c, const uint8_t id[32], uint64_t block, uint32_t position,
                       int code, err_t *e);

/* The first violation in chain order among the records of blocks <= upto. */
typedef struct ledger_idcheck_bad {
    uint64_t block;
    uint32_t position;
    int code; /* the recorded code */
    int dup;  /* 1: the id was used before (the replay gives DUPLICATE_TXID); 0: first use */
    uint8_t id[32];
} ledger_idcheck_bad_t;

/* Checks every record added so far of a block <= upto: 0 when each id's first use is recorded as
 * not DUPLICATE_TXID and every later use as DUPLICATE_TXID; 1 with *bad = the earliest
 * violation; -1 (e) on an I/O or memory failure. The ids are split by their first byte into
 * `threads` ranges merged in parallel (sortrun_merge). */
int ledger_idcheck_run(ledger_idcheck_t *c, uint64_t upto, size_t threads,
                       ledger_idcheck_bad_t *bad, err_t *e);

/* Runs written to disk so far (for the tests and the bench). */
size_t ledger_idcheck_runs(const ledger_idcheck_t *c);

#endif
