/* statecheck: see statecheck.h. The runs and their merge are sortrun.c's. */
#include "services/ledger/statecheck.h"

#include <stdlib.h>
#include <string.h>

#include "services/ledger/sortrun.h"

/* One record: a sortrun_head_t (the key's SHA-256, then order = block << 14 | position << 2 |
 * write << 1 | conflict; positions are below 2^12), so records sort by key, then in chain order
 * with a tx's reads before its writes; ver: the version read or written. */
typedef struct strec {
    sortrun_head_t h;
    uint64_t ver;
} strec_t;

#define POS(block, position, write, conflict)                                                      \
    ((uint64_t)(block) << 14 | (uint64_t)(position) << 2 | (uint64_t)(write) << 1 |                \
     (uint64_t)(conflict))
#define POS_TX(p) ((p) >> 2) /* block << 12 | position: the tx in chain order */
#define POS_BLOCK(p) ((p) >> 14)

/* A recorded MVCC_READ_CONFLICT. */
typedef struct stconf {
    uint64_t tx; /* block << 12 | position */
    uint8_t id[32];
} stconf_t;

struct ledger_statecheck {
    sortrun_t *runs;
    stconf_t *conf;
    size_t nconf, confcap;
};

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int oom(err_t *e) {
    return err_set(e, 500, "internal", "", "out of memory");
}

ledger_statecheck_t *ledger_statecheck_new(size_t run) {
    ledger_statecheck_t *c = calloc(1, sizeof *c);
    if (c) c->runs = sortrun_new(sizeof(strec_t), run ? run : STATECHECK_RUN, "world-state");
    if (c && !c->runs) {
        free(c);
        c = NULL;
    }
    return c;
}

void ledger_statecheck_free(ledger_statecheck_t *c) {
    if (!c) return;
    sortrun_free(c->runs);
    free(c->conf);
    free(c);
}

size_t ledger_statecheck_runs(const ledger_statecheck_t *c) {
    return sortrun_runs(c->runs);
}

static int add(ledger_statecheck_t *c, const uint8_t key[32], uint64_t pos, uint64_t ver,
               err_t *e) {
    strec_t r = {.h.order = pos, .ver = ver};
    memcpy(r.h.key, key, 32);
    return sortrun_add(c->runs, &r, e);
}

int ledger_statecheck_read(ledger_statecheck_t *c, const uint8_t key[32], uint64_t block,
                           uint32_t position, uint64_t version, int conflict, err_t *e) {
    return add(c, key, POS(block, position, 0, conflict ? 1 : 0), version, e);
}

int ledger_statecheck_write(ledger_statecheck_t *c, const uint8_t key[32], uint64_t block,
                            uint32_t position, uint64_t version, err_t *e) {
    return add(c, key, POS(block, position, 1, 0), version, e);
}

int ledger_statecheck_conflict(ledger_statecheck_t *c, uint64_t block, uint32_t position,
                               const uint8_t tx_id[32], err_t *e) {
    if (c->nconf == c->confcap) {
        size_t nc = c->confcap ? c->confcap * 2 : 64;
        stconf_t *p = realloc(c->conf, nc * sizeof *p);
        if (!p) return oom(e);
        c->conf = p;
        c->confcap = nc;
    }
    c->conf[c->nconf].tx = block << 12 | position;
    memcpy(c->conf[c->nconf++].id, tx_id, 32);
    return 0;
}

/* ---- the check: per first-byte range, the earliest violation ---- */

typedef struct sjob {
    uint64_t upto;
    uint64_t cur; /* the current key's version so far */
    int found;
    strec_t bad; /* a VALID tx's read that does not hold */
    uint64_t bad_have;
    uint64_t *miss; /* txs recorded MVCC_READ_CONFLICT with a read that does not hold */
    size_t nmiss, misscap;
} sjob_t;

/* A read of a recorded conflict that does not hold: as recorded. */
static int add_miss(sjob_t *j, uint64_t tx) {
    if (j->nmiss == j->misscap) {
        size_t nc = j->misscap ? j->misscap * 2 : 64;
        uint64_t *p = realloc(j->miss, nc * sizeof *p);
        if (!p) return -1;
        j->miss = p;
        j->misscap = nc;
    }
    j->miss[j->nmiss++] = tx;
    return 0;
}

/* One record of the merged stream (sortrun_visit_fn), the key's version so far in j->cur. */
static int visit(void *state, const void *rec, int first) {
    sjob_t *j = state;
    const strec_t *r = rec;
    if (POS_BLOCK(r->h.order) > j->upto) return 0;
    if (first) j->cur = 0; /* a new key: absent */
    if (r->h.order & 2) {  /* a write */
        j->cur = r->ver;
        return 0;
    }
    if (r->ver == j->cur) return 0;
    if (r->h.order & 1) return add_miss(j, POS_TX(r->h.order));
    if (!j->found || POS_TX(r->h.order) < POS_TX(j->bad.h.order)) {
        j->found = 1;
        j->bad = *r;
        j->bad_have = j->cur;
    }
    return 0;
}

/* The jobs' misses in one sorted array (*out, NULL when none); -1 out of memory. */
static int collect_miss(sjob_t *job, size_t threads, uint64_t **out, size_t *n) {
    *n = 0;
    for (size_t t = 0; t < threads; t++)
        *n += job[t].nmiss;
    *out = NULL;
    if (*n == 0) return 0;
    uint64_t *miss = malloc(*n * sizeof *miss);
    if (!miss) return -1;
    for (size_t t = 0, k = 0; t < threads; t++)
        for (size_t x = 0; x < job[t].nmiss; x++)
            miss[k++] = job[t].miss[x];
    qsort(miss, *n, sizeof *miss, u64_cmp);
    *out = miss;
    return 0;
}

/* The first recorded conflict (of a block <= upto) with no read that does not hold, or NULL. */
static const stconf_t *first_unfounded(const ledger_statecheck_t *c, uint64_t upto,
                                       const uint64_t *miss, size_t nmiss) {
    for (size_t i = 0, k = 0; i < c->nconf && (c->conf[i].tx >> 12) <= upto; i++) {
        while (k < nmiss && miss[k] < c->conf[i].tx)
            k++;
        if (k == nmiss || miss[k] != c->conf[i].tx) return &c->conf[i];
    }
    return NULL;
}

/* *bad from the earliest of a recorded conflict that does not hold (cbad) and a VALID tx's read
 * that does not hold (best); 0 when neither, else 1. */
static int report(const stconf_t *cbad, const sjob_t *best, ledger_statecheck_bad_t *bad) {
    if (!best && !cbad) return 0;
    memset(bad, 0, sizeof *bad);
    if (cbad && (!best || cbad->tx < POS_TX(best->bad.h.order))) {
        bad->block = cbad->tx >> 12;
        bad->position = (uint32_t)(cbad->tx & 0xfff);
        bad->conflict = 1;
        memcpy(bad->tx_id, cbad->id, 32);
    } else {
        bad->block = POS_BLOCK(best->bad.h.order);
        bad->position = (uint32_t)(POS_TX(best->bad.h.order) & 0xfff);
        memcpy(bad->key, best->bad.h.key, 32);
        bad->want = best->bad.ver;
        bad->have = best->bad_have;
    }
    return 1;
}

int ledger_statecheck_run(ledger_statecheck_t *c, uint64_t upto, size_t threads,
                          ledger_statecheck_bad_t *bad, err_t *e) {
    sjob_t job[SORTRUN_MAX_THREADS], init = {.upto = upto};
    uint64_t *miss = NULL;
    size_t nmiss = 0;
    int rc = sortrun_merge(c->runs, &threads, visit, job, sizeof job[0], &init, e);
    if (rc == 0 && collect_miss(job, threads, &miss, &nmiss) != 0) rc = oom(e);
    const sjob_t *best = NULL;
    for (size_t t = 0; t < threads; t++) {
        if (job[t].found && (!best || POS_TX(job[t].bad.h.order) < POS_TX(best->bad.h.order)))
            best = &job[t];
    }
    if (rc == 0) rc = report(first_unfounded(c, upto, miss, nmiss), best, bad);
    for (size_t t = 0; t < threads; t++)
        free(job[t].miss);
    free(miss);
    return rc;
}
