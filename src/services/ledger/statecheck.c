/* statecheck: see statecheck.h. The run files and their merge follow idcheck.c. */
#include "services/ledger/statecheck.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One record: the key's SHA-256, then block << 14 | position << 2 | write << 1 | conflict
 * (positions are below 2^12), so records sort by key, then in chain order with a tx's reads
 * before its writes; ver: the version read or written. */
typedef struct strec {
    uint8_t key[32];
    uint64_t pos;
    uint64_t ver;
} strec_t;

#define POS(block, position, write, conflict)                                                      \
    ((uint64_t)(block) << 14 | (uint64_t)(position) << 2 | (uint64_t)(write) << 1 |                \
     (uint64_t)(conflict))
#define POS_TX(p) ((p) >> 2) /* block << 12 | position: the tx in chain order */
#define POS_BLOCK(p) ((p) >> 14)

typedef struct strun {
    int fd;
    uint64_t start[257];
} strun_t;

/* A recorded MVCC_READ_CONFLICT. */
typedef struct stconf {
    uint64_t tx; /* block << 12 | position */
    uint8_t id[32];
} stconf_t;

struct ledger_statecheck {
    size_t run;
    strec_t *buf[2];
    size_t n, cap[2];
    int cur;
    pthread_t th;
    int busy;
    size_t wn;
    int wrc;
    err_t werr;
    strun_t *runs;
    size_t nruns, rcap;
    stconf_t *conf;
    size_t nconf, confcap;
};

static int rec_cmp(const void *a, const void *b) {
    const strec_t *x = a, *y = b;
    int c = memcmp(x->key, y->key, 32);
    return c ? c : x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int oom(err_t *e) {
    return err_set(e, 500, "internal", "", "out of memory");
}

ledger_statecheck_t *ledger_statecheck_new(size_t run) {
    ledger_statecheck_t *c = calloc(1, sizeof *c);
    if (c) c->run = run ? run : STATECHECK_RUN;
    return c;
}

static void join_writer(ledger_statecheck_t *c) {
    if (!c->busy) return;
    pthread_join(c->th, NULL);
    c->busy = 0;
}

void ledger_statecheck_free(ledger_statecheck_t *c) {
    if (!c) return;
    join_writer(c);
    for (size_t i = 0; i < c->nruns; i++)
        if (c->runs[i].fd >= 0) close(c->runs[i].fd);
    free(c->runs);
    free(c->buf[0]);
    free(c->buf[1]);
    free(c->conf);
    free(c);
}

size_t ledger_statecheck_runs(const ledger_statecheck_t *c) {
    return c->nruns;
}

static int temp_fd(void) {
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/reciprocal-statecheck.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd >= 0) unlink(path);
    return fd;
}

static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_run(strec_t *b, size_t n, strun_t *r, err_t *e) {
    qsort(b, n, sizeof *b, rec_cmp);
    size_t k = 0;
    for (int byte = 0; byte < 256; byte++) {
        r->start[byte] = k;
        while (k < n && b[k].key[0] == byte)
            k++;
    }
    r->start[256] = n;
    r->fd = temp_fd();
    if (r->fd < 0 || write_all(r->fd, b, n * sizeof *b) != 0) {
        if (r->fd >= 0) close(r->fd);
        r->fd = -1;
        return err_set(e, 500, "internal", "tmpdir",
                       "cannot write the world-state run file (TMPDIR full or not writable?)");
    }
    return 0;
}

static void *writer(void *arg) {
    ledger_statecheck_t *c = arg;
    c->wrc = write_run(c->buf[c->cur ^ 1], c->wn, &c->runs[c->nruns - 1], &c->werr);
    return NULL;
}

static int flush(ledger_statecheck_t *c, err_t *e) {
    join_writer(c);
    if (c->wrc != 0) {
        *e = c->werr;
        return -1;
    }
    if (c->nruns == c->rcap) {
        size_t nc = c->rcap ? c->rcap * 2 : 16;
        strun_t *r = realloc(c->runs, nc * sizeof *r);
        if (!r) return oom(e);
        c->runs = r;
        c->rcap = nc;
    }
    c->runs[c->nruns++] = (strun_t){.fd = -1};
    c->wn = c->n;
    c->cur ^= 1;
    c->n = 0;
    if (pthread_create(&c->th, NULL, writer, c) == 0) {
        c->busy = 1;
        return 0;
    }
    writer(c);
    if (c->wrc != 0) *e = c->werr;
    return c->wrc;
}

static int add(ledger_statecheck_t *c, const uint8_t key[32], uint64_t pos, uint64_t ver,
               err_t *e) {
    if (c->n == c->run && flush(c, e) != 0) return -1;
    int k = c->cur;
    if (c->n == c->cap[k]) {
        size_t nc = c->cap[k] ? c->cap[k] * 2 : 1024;
        if (nc > c->run) nc = c->run;
        strec_t *b = realloc(c->buf[k], nc * sizeof *b);
        if (!b) return oom(e);
        c->buf[k] = b;
        c->cap[k] = nc;
    }
    strec_t *r = &c->buf[k][c->n++];
    memcpy(r->key, key, 32);
    r->pos = pos;
    r->ver = ver;
    return 0;
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

/* ---- the check ------------------------------------------------------------------------------ */

typedef struct ssrc {
    int fd;
    const strec_t *mem;
    uint64_t at, end;
    strec_t *b;
    size_t bn, bi;
    strec_t head;
} ssrc_t;

#define SSRC_BUF 1024

static int src_adv(ssrc_t *s) {
    if (s->at >= s->end) return 1;
    if (s->mem) {
        s->head = s->mem[s->at++];
        return 0;
    }
    if (s->bi == s->bn) {
        uint64_t want = s->end - s->at;
        size_t n = want < SSRC_BUF ? (size_t)want : SSRC_BUF;
        ssize_t r = pread(s->fd, s->b, n * sizeof *s->b, (off_t)(s->at * sizeof *s->b));
        if (r != (ssize_t)(n * sizeof *s->b)) return -1;
        s->bn = n;
        s->bi = 0;
    }
    s->head = s->b[s->bi++];
    s->at++;
    return 0;
}

typedef struct sjob {
    ledger_statecheck_t *c;
    int lo, hi;
    uint64_t upto;
    int found, rc;
    strec_t bad; /* a VALID tx's read that does not hold */
    uint64_t bad_have;
    uint64_t *miss; /* txs recorded MVCC_READ_CONFLICT with a read that does not hold */
    size_t nmiss, misscap;
} sjob_t;

static void heap_down(ssrc_t **h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && rec_cmp(&h[l]->head, &h[m]->head) < 0) m = l;
        if (l + 1 < n && rec_cmp(&h[l + 1]->head, &h[m]->head) < 0) m = l + 1;
        if (m == i) return;
        ssrc_t *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* One record of the merged stream, its key's version so far in *cur. */
static void step(sjob_t *j, const strec_t *r, uint64_t *cur) {
    if (r->pos & 2) { /* a write */
        *cur = r->ver;
        return;
    }
    if (r->ver == *cur) return;
    if (r->pos & 1) { /* a read of a recorded conflict that does not hold: as recorded */
        if (j->nmiss == j->misscap) {
            size_t nc = j->misscap ? j->misscap * 2 : 64;
            uint64_t *p = realloc(j->miss, nc * sizeof *p);
            if (!p) {
                j->rc = -1;
                return;
            }
            j->miss = p;
            j->misscap = nc;
        }
        j->miss[j->nmiss++] = POS_TX(r->pos);
    } else if (!j->found || POS_TX(r->pos) < POS_TX(j->bad.pos)) {
        j->found = 1;
        j->bad = *r;
        j->bad_have = *cur;
    }
}

static void *merge_job(void *arg) {
    sjob_t *j = arg;
    ledger_statecheck_t *c = j->c;
    size_t ns = c->nruns + 1, nh = 0;
    ssrc_t *src = calloc(ns, sizeof *src);
    ssrc_t **h = calloc(ns, sizeof *h);
    j->rc = src && h ? 0 : -1;
    for (size_t i = 0; j->rc == 0 && i < ns; i++) {
        ssrc_t *s = &src[i];
        if (i < c->nruns) {
            s->fd = c->runs[i].fd;
            s->at = c->runs[i].start[j->lo];
            s->end = c->runs[i].start[j->hi];
            s->b = malloc(SSRC_BUF * sizeof *s->b);
            if (!s->b) j->rc = -1;
        } else {
            s->mem = c->buf[c->cur];
            while (s->at < c->n && s->mem[s->at].key[0] < j->lo)
                s->at++;
            s->end = s->at;
            while (s->end < c->n && s->mem[s->end].key[0] < j->hi)
                s->end++;
        }
        int r = j->rc == 0 ? src_adv(s) : 1;
        if (r < 0) j->rc = -1;
        if (r == 0) h[nh++] = s;
    }
    for (size_t i = nh; i-- > 0;)
        heap_down(h, nh, i);
    uint8_t prev[32];
    int have_prev = 0;
    uint64_t cur = 0;
    while (j->rc == 0 && nh > 0) {
        strec_t r = h[0]->head;
        int a = src_adv(h[0]);
        if (a < 0) j->rc = -1;
        if (a != 0) h[0] = h[--nh];
        heap_down(h, nh, 0);
        if (POS_BLOCK(r.pos) > j->upto) continue;
        if (!have_prev || memcmp(prev, r.key, 32) != 0) cur = 0; /* a new key: absent */
        memcpy(prev, r.key, 32);
        have_prev = 1;
        step(j, &r, &cur);
    }
    for (size_t i = 0; src && i < ns; i++)
        free(src[i].b);
    free(src);
    free(h);
    return NULL;
}

int ledger_statecheck_run(ledger_statecheck_t *c, uint64_t upto, size_t threads,
                          ledger_statecheck_bad_t *bad, err_t *e) {
    join_writer(c);
    if (c->wrc != 0) {
        *e = c->werr;
        return -1;
    }
    if (c->n) qsort(c->buf[c->cur], c->n, sizeof *c->buf[c->cur], rec_cmp);
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    sjob_t job[64];
    pthread_t th[64];
    int started[64] = {0};
    for (size_t t = 0; t < threads; t++) {
        job[t] = (sjob_t){.c = c,
                          .lo = (int)(256 * t / threads),
                          .hi = (int)(256 * (t + 1) / threads),
                          .upto = upto};
        if (t > 0) started[t] = pthread_create(&th[t], NULL, merge_job, &job[t]) == 0;
    }
    merge_job(&job[0]);
    for (size_t t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            merge_job(&job[t]);
    }
    int rc = 0;
    const sjob_t *best = NULL;
    size_t nmiss = 0;
    for (size_t t = 0; t < threads; t++) {
        if (job[t].rc != 0) rc = -1;
        nmiss += job[t].nmiss;
        if (job[t].found && (!best || POS_TX(job[t].bad.pos) < POS_TX(best->bad.pos)))
            best = &job[t];
    }
    uint64_t *miss = rc == 0 ? malloc((nmiss ? nmiss : 1) * sizeof *miss) : NULL;
    if (rc == 0 && !miss) rc = -1;
    for (size_t t = 0, k = 0; rc == 0 && t < threads; t++)
        for (size_t x = 0; x < job[t].nmiss; x++)
            miss[k++] = job[t].miss[x];
    for (size_t t = 0; t < threads; t++)
        free(job[t].miss);
    if (rc != 0) {
        free(miss);
        return err_set(e, 500, "internal", "tmpdir", "cannot read the world-state run files");
    }
    if (nmiss) qsort(miss, nmiss, sizeof *miss, u64_cmp);
    /* the first recorded conflict (of a block <= upto) with no read that does not hold */
    const stconf_t *cbad = NULL;
    for (size_t i = 0, k = 0; i < c->nconf && (c->conf[i].tx >> 12) <= upto; i++) {
        while (k < nmiss && miss[k] < c->conf[i].tx)
            k++;
        if (k == nmiss || miss[k] != c->conf[i].tx) {
            cbad = &c->conf[i];
            break;
        }
    }
    free(miss);
    if (!best && !cbad) return 0;
    memset(bad, 0, sizeof *bad);
    if (cbad && (!best || cbad->tx < POS_TX(best->bad.pos))) {
        bad->block = cbad->tx >> 12;
        bad->position = (uint32_t)(cbad->tx & 0xfff);
        bad->conflict = 1;
        memcpy(bad->tx_id, cbad->id, 32);
    } else {
        bad->block = POS_BLOCK(best->bad.pos);
        bad->position = (uint32_t)(POS_TX(best->bad.pos) & 0xfff);
        memcpy(bad->key, best->bad.key, 32);
        bad->want = best->bad.ver;
        bad->have = best->bad_have;
    }
    return 1;
}
