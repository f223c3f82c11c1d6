/* sortrun: the external sort shared by the offline verifier's checks at scale (idcheck.c: tx
 * ids; statecheck.c: world-state reads and writes). A record is a sortrun_head_t (a 32-byte key,
 * e.g. a SHA-256, then a u64 `order`) followed by the caller's payload, rec_size bytes in all
 * (a multiple of 8); records sort by key (memcmp), then by order. The caller adds records; every
 * `run` records the buffer is handed to a helper thread that sorts it and writes it to an
 * unlinked temporary file ($TMPDIR, else /tmp) with the index of where each first key byte
 * starts, while the caller fills the other buffer. sortrun_merge merges the run files and the
 * records still in memory and hands every record, in sorted order, to a visitor; the keys are
 * split by their first byte into `threads` ranges merged in parallel, each range with its own
 * visitor state (the caller's array). Memory: the buffer being filled (growing to `run`
 * records) and, while the helper writes a run, the full one (freed once written, so the peak is
 * reached with the first run and RSS does not grow after it), and at the merge per range one
 * read buffer of SORTRUN_READ records per run file; disk: rec_size bytes per record added.
 * Owns its buffers, run files and their descriptors (sortrun_free closes and frees them); the
 * records passed to sortrun_add are copied; the visitor states are the caller's. Not
 * thread-safe: one caller. Records may still be added after a merge, and merged again. */
#ifndef SERVICES_LEDGER_SORTRUN_H
#define SERVICES_LEDGER_SORTRUN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SORTRUN_MAX_THREADS 64
#define SORTRUN_READ 1024 /* records per read of a run file */

/* The head of every record. */
typedef struct sortrun_head {
    uint8_t key[32];
    uint64_t order;
} sortrun_head_t;

typedef struct sortrun sortrun_t;

/* rec_size: bytes per record (>= sizeof(sortrun_head_t), a multiple of 8); run: records per run
 * (> 0; a small one exercises the merge in tests); what: names the data in I/O errors ("tx-id").
 * NULL on a bad size or no memory. */
sortrun_t *sortrun_new(size_t rec_size, size_t run, const char *what);
void sortrun_free(sortrun_t *s);

/* Copies rec_size bytes of rec; -1 (e) when a run cannot be written or memory runs out. */
int sortrun_add(sortrun_t *s, const void *rec, err_t *e);

/* Run files written so far (for the tests and the bench). */
size_t sortrun_runs(const sortrun_t *s);

/* Called for each record of a range in sorted order; first = 1 for its key's first record.
 * Returns 0 to go on, -1 to stop the merge (out of memory). */
typedef int (*sortrun_visit_fn)(void *state, const void *rec, int first);

/* Merges everything added so far over *threads ranges (clamped to 1..SORTRUN_MAX_THREADS and
 * written back). Range t holds the keys whose first byte is in [256 t / n, 256 (t + 1) / n) and is
 * visited on its own thread (range 0 on the caller's) with state (char *)states + t * state_size,
 * a copy of the state_size bytes of init made before the merge (states: room for the clamped
 * count; SORTRUN_MAX_THREADS always fits). 0, or -1 (e) on a write or read failure of the run
 * files or a visitor's -1. */
int sortrun_merge(sortrun_t *s, size_t *threads, sortrun_visit_fn visit, void *states,
                  size_t state_size, const void *init, err_t *e);

#endif
