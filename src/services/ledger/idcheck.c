/* idcheck: see idcheck.h. The runs and their merge are sortrun.c's. */
#include "services/ledger/idcheck.h"

#include <stdlib.h>
#include <string.h>

#include "services/ledger/engine.h"
#include "services/ledger/sortrun.h"

/* One record is a sortrun_head_t: the id, then order = block << 20 | position << 8 | recorded
 * code (positions are below LEDGER_MAX_BLOCK_TXS = 2^12), so records sort by id and then in
 * chain order. */
#define POS(block, position, code)                                                                 \
    ((uint64_t)(block) << 20 | (uint64_t)(position) << 8 | ((uint64_t)(code)&0xff))
#define POS_BLOCK(p) ((p) >> 20)
#define POS_CODE(p) ((int)((p)&0xff))

struct ledger_idcheck {
    sortrun_t *runs;
};

ledger_idcheck_t *ledger_idcheck_new(size_t run) {
    ledger_idcheck_t *c = calloc(1, sizeof *c);
    if (c) c->runs = sortrun_new(sizeof(sortrun_head_t), run ? run : IDCHECK_RUN, "tx-id");
    if (c && !c->runs) {
        free(c);
        c = NULL;
    }
    return c;
}

void ledger_idcheck_free(ledger_idcheck_t *c) {
    if (!c) return;
    sortrun_free(c->runs);
    free(c);
}

size_t ledger_idcheck_runs(const ledger_idcheck_t *c) {
    return sortrun_runs(c->runs);
}

int ledger_idcheck_add(ledger_idcheck_t *c, const uint8_t id[32], uint64_t block, uint32_t position,
                       int code, err_t *e) {
    sortrun_head_t r = {.order = POS(block, position, code)};
    memcpy(r.key, id, 32);
    return sortrun_add(c->runs, &r, e);
}

/* ---- the check: per first-byte range, the earliest violation ---- */

typedef struct ijob {
    uint64_t upto;
    int found;
    sortrun_head_t bad;
    int bad_dup;
} ijob_t;

/* Each record of the merged stream: an id's first use must not be DUPLICATE_TXID, every later
 * one must. Keeps the earliest violation in chain order. */
static int visit(void *state, const void *rec, int first) {
    ijob_t *j = state;
    const sortrun_head_t *r = rec;
    if (POS_BLOCK(r->order) > j->upto) return 0;
    int rec_dup = POS_CODE(r->order) == LEDGER_DUPLICATE_TXID;
    if (first != rec_dup) return 0;
    if (j->found && (j->bad.order >> 8) <= (r->order >> 8)) return 0;
    j->found = 1;
    j->bad = *r;
    j->bad_dup = !first;
    return 0;
}

int ledger_idcheck_run(ledger_idcheck_t *c, uint64_t upto, size_t threads,
                       ledger_idcheck_bad_t *bad, err_t *e) {
    ijob_t job[SORTRUN_MAX_THREADS], init = {.upto = upto};
    if (sortrun_merge(c->runs, &threads, visit, job, sizeof job[0], &init, e) != 0) return -1;
    const ijob_t *best = NULL;
    for (size_t t = 0; t < threads; t++)
        if (job[t].found && (!best || (job[t].bad.order >> 8) < (best->bad.order >> 8)))
            best = &job[t];
    if (!best) return 0;
    *bad = (ledger_idcheck_bad_t){.block = POS_BLOCK(best->bad.order),
                                  .position = (uint32_t)(best->bad.order >> 8 & 0xfff),
                                  .code = POS_CODE(best->bad.order),
                                  .dup = best->bad_dup};
    memcpy(bad->id, best->bad.key, 32);
    return 1;
}
