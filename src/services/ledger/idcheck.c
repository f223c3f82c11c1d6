/* idcheck: see idcheck.h. */
#include "services/ledger/idcheck.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "services/ledger/engine.h"

/* One record: the id, then block << 20 | position << 8 | recorded code (positions are below
 * LEDGER_MAX_BLOCK_TXS = 2^12), so records sort by id and then in chain order. */
typedef struct idrec {
    uint8_t id[32];
    uint64_t pos;
} idrec_t;

#define POS(block, position, code)                                                                 \
    ((uint64_t)(block) << 20 | (uint64_t)(position) << 8 | ((uint64_t)(code)&0xff))
#define POS_BLOCK(p) ((p) >> 20)
#define POS_CODE(p) ((int)((p)&0xff))

/* A sorted run on disk (an unlinked temporary file) and where each first id byte starts. */
typedef struct idrun {
    int fd;
    uint64_t start[257]; /* record index of the first id with that first byte; [256] = count */
} idrun_t;

struct ledger_idcheck {
    size_t run;
    idrec_t *buf[2]; /* buf[cur] fills; the other may be on the writer thread */
    size_t n, cap[2];
    int cur;
    pthread_t th;
    int busy;      /* the writer thread has buf[cur ^ 1] */
    size_t wn;     /* its record count */
    int wrc;       /* its result */
    err_t werr;    /* its error */
    idrun_t *runs; /* written runs */
    size_t nruns, rcap;
};

static int rec_cmp(const void *a, const void *b) {
    const idrec_t *x = a, *y = b;
    int c = memcmp(x->id, y->id, 32);
    return c ? c : x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int oom(err_t *e) {
    return err_set(e, 500, "internal", "", "out of memory");
}

ledger_idcheck_t *ledger_idcheck_new(size_t run) {
    ledger_idcheck_t *c = calloc(1, sizeof *c);
    if (c) c->run = run ? run : IDCHECK_RUN;
    return c;
}

static void join_writer(ledger_idcheck_t *c) {
    if (!c->busy) return;
    pthread_join(c->th, NULL);
    c->busy = 0;
}

void ledger_idcheck_free(ledger_idcheck_t *c) {
    if (!c) return;
    join_writer(c);
    for (size_t i = 0; i < c->nruns; i++)
        close(c->runs[i].fd);
    free(c->runs);
    free(c->buf[0]);
    free(c->buf[1]);
    free(c);
}

size_t ledger_idcheck_runs(const ledger_idcheck_t *c) {
    return c->nruns;
}

/* An unlinked temporary file in $TMPDIR (else /tmp); -1 on failure. */
static int temp_fd(void) {
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/reciprocal-idcheck.XXXXXX", dir && *dir ? dir : "/tmp");
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

/* Sorts n records of b and writes them as run r. */
static int write_run(idrec_t *b, size_t n, idrun_t *r, err_t *e) {
    qsort(b, n, sizeof *b, rec_cmp);
    size_t k = 0;
    for (int byte = 0; byte < 256; byte++) {
        r->start[byte] = k;
        while (k < n && b[k].id[0] == byte)
            k++;
    }
    r->start[256] = n;
    r->fd = temp_fd();
    if (r->fd < 0 || write_all(r->fd, b, n * sizeof *b) != 0) {
        if (r->fd >= 0) close(r->fd);
        r->fd = -1;
        return err_set(e, 500, "internal", "tmpdir",
                       "cannot write the tx-id run file (TMPDIR full or not writable?)");
    }
    return 0;
}

static void *writer(void *arg) {
    ledger_idcheck_t *c = arg;
    c->wrc = write_run(c->buf[c->cur ^ 1], c->wn, &c->runs[c->nruns - 1], &c->werr);
    return NULL;
}

/* Hands the full buffer to the writer thread (after the previous one finished). */
static int flush(ledger_idcheck_t *c, err_t *e) {
    join_writer(c);
    if (c->wrc != 0) {
        *e = c->werr;
        return -1;
    }
    if (c->nruns == c->rcap) {
        size_t nc = c->rcap ? c->rcap * 2 : 16;
        idrun_t *r = realloc(c->runs, nc * sizeof *r);
        if (!r) return oom(e);
        c->runs = r;
        c->rcap = nc;
    }
    c->runs[c->nruns++] = (idrun_t){.fd = -1};
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

int ledger_idcheck_add(ledger_idcheck_t *c, const uint8_t id[32], uint64_t block, uint32_t position,
                       int code, err_t *e) {
    if (c->n == c->run && flush(c, e) != 0) return -1;
    int k = c->cur;
    if (c->n == c->cap[k]) {
        size_t nc = c->cap[k] ? c->cap[k] * 2 : 1024;
        if (nc > c->run) nc = c->run;
        idrec_t *b = realloc(c->buf[k], nc * sizeof *b);
        if (!b) return oom(e);
        c->buf[k] = b;
        c->cap[k] = nc;
    }
    idrec_t *r = &c->buf[k][c->n++];
    memcpy(r->id, id, 32);
    r->pos = POS(block, position, code);
    return 0;
}

/* ---- the check: a k-way merge of the runs (and the sorted buffer), per first-byte range ---- */

/* A source of sorted records: a run file [at, end) read through a buffer, or memory. */
typedef struct isrc {
    int fd;
    const idrec_t *mem;
    uint64_t at, end;
    idrec_t *b; /* the file's read buffer */
    size_t bn, bi;
    idrec_t head;
} isrc_t;

#define ISRC_BUF 1024 /* records per read (40 KB) */

/* Advances to the next record; 0, 1 at the end, -1 on a read error. */
static int src_adv(isrc_t *s) {
    if (s->at >= s->end) return 1;
    if (s->mem) {
        s->head = s->mem[s->at++];
        return 0;
    }
    if (s->bi == s->bn) {
        uint64_t want = s->end - s->at;
        size_t n = want < ISRC_BUF ? (size_t)want : ISRC_BUF;
        ssize_t r = pread(s->fd, s->b, n * sizeof *s->b, (off_t)(s->at * sizeof *s->b));
        if (r != (ssize_t)(n * sizeof *s->b)) return -1;
        s->bn = n;
        s->bi = 0;
    }
    s->head = s->b[s->bi++];
    s->at++;
    return 0;
}

typedef struct ijob {
    ledger_idcheck_t *c;
    int lo, hi; /* first id bytes [lo, hi) */
    uint64_t upto;
    int found, rc;
    idrec_t bad;
    int bad_dup;
} ijob_t;

static void heap_down(isrc_t **h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && rec_cmp(&h[l]->head, &h[m]->head) < 0) m = l;
        if (l + 1 < n && rec_cmp(&h[l + 1]->head, &h[m]->head) < 0) m = l + 1;
        if (m == i) return;
        isrc_t *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Records one violation, keeping the earliest in chain order. */
static void violation(ijob_t *j, const idrec_t *r, int dup) {
    if (j->found && (j->bad.pos >> 8) <= (r->pos >> 8)) return;
    j->found = 1;
    j->bad = *r;
    j->bad_dup = dup;
}

static void *merge_job(void *arg) {
    ijob_t *j = arg;
    ledger_idcheck_t *c = j->c;
    size_t ns = c->nruns + 1, nh = 0;
    isrc_t *src = calloc(ns, sizeof *src);
    isrc_t **h = calloc(ns, sizeof *h);
    j->rc = src && h ? 0 : -1;
    for (size_t i = 0; j->rc == 0 && i < ns; i++) {
        isrc_t *s = &src[i];
        if (i < c->nruns) {
            s->fd = c->runs[i].fd;
            s->at = c->runs[i].start[j->lo];
            s->end = c->runs[i].start[j->hi];
            s->b = malloc(ISRC_BUF * sizeof *s->b);
            if (!s->b) j->rc = -1;
        } else { /* the buffer, sorted: its range found by the first byte */
            s->mem = c->buf[c->cur];
            while (s->at < c->n && s->mem[s->at].id[0] < j->lo)
                s->at++;
            s->end = s->at;
            while (s->end < c->n && s->mem[s->end].id[0] < j->hi)
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
    while (j->rc == 0 && nh > 0) {
        idrec_t r = h[0]->head;
        int a = src_adv(h[0]);
        if (a < 0) j->rc = -1;
        if (a != 0) h[0] = h[--nh];
        heap_down(h, nh, 0);
        if (POS_BLOCK(r.pos) > j->upto) continue;
        int first = !have_prev || memcmp(prev, r.id, 32) != 0;
        int rec_dup = POS_CODE(r.pos) == LEDGER_DUPLICATE_TXID;
        if (first == rec_dup) violation(j, &r, !first);
        memcpy(prev, r.id, 32);
        have_prev = 1;
    }
    for (size_t i = 0; src && i < ns; i++)
        free(src[i].b);
    free(src);
    free(h);
    return NULL;
}

int ledger_idcheck_run(ledger_idcheck_t *c, uint64_t upto, size_t threads,
                       ledger_idcheck_bad_t *bad, err_t *e) {
    join_writer(c);
    if (c->wrc != 0) {
        *e = c->werr;
        return -1;
    }
    if (c->n) qsort(c->buf[c->cur], c->n, sizeof *c->buf[c->cur], rec_cmp);
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    ijob_t job[64];
    pthread_t th[64];
    int started[64] = {0};
    for (size_t t = 0; t < threads; t++) {
        job[t] = (ijob_t){.c = c,
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
    const ijob_t *best = NULL;
    for (size_t t = 0; t < threads; t++) {
        if (job[t].rc != 0)
            return err_set(e, 500, "internal", "tmpdir", "cannot read the tx-id run files");
        if (job[t].found && (!best || (job[t].bad.pos >> 8) < (best->bad.pos >> 8))) best = &job[t];
    }
    if (!best) return 0;
    *bad = (ledger_idcheck_bad_t){.block = POS_BLOCK(best->bad.pos),
                                  .position = (uint32_t)(best->bad.pos >> 8 & 0xfff),
                                  .code = POS_CODE(best->bad.pos),
                                  .dup = best->bad_dup};
    memcpy(bad->id, best->bad.id, 32);
    return 1;
}
