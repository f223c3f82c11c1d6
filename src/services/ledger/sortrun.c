/* sortrun: see sortrun.h. */
#include "services/ledger/sortrun.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A sorted run on disk and where each first key byte starts. */
typedef struct run_file {
    int fd;
    uint64_t start[257]; /* record index of the first key with that first byte; [256] = count */
} run_file_t;

struct sortrun {
    size_t rec_size, run;
    char what[32];
    uint8_t *buf[2]; /* buf[cur] fills; the other may be on the writer thread */
    size_t n, cap[2];
    int cur;
    pthread_t th;
    int busy;  /* the writer thread has buf[cur ^ 1] */
    size_t wn; /* its record count */
    int wrc;   /* its result */
    err_t werr;
    run_file_t *runs;
    size_t nruns, rcap;
};

static int rec_cmp(const void *a, const void *b) {
    const sortrun_head_t *x = a, *y = b;
    int c = memcmp(x->key, y->key, 32);
    return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

static int oom(err_t *e) {
    return err_set(e, 500, "internal", "", "out of memory");
}

sortrun_t *sortrun_new(size_t rec_size, size_t run, const char *what) {
    if (rec_size < sizeof(sortrun_head_t) || rec_size % 8 != 0 || run == 0) return NULL;
    sortrun_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->rec_size = rec_size;
    s->run = run;
    snprintf(s->what, sizeof s->what, "%s", what ? what : "sorted");
    return s;
}

static void join_writer(sortrun_t *s) {
    if (!s->busy) return;
    pthread_join(s->th, NULL);
    s->busy = 0;
}

void sortrun_free(sortrun_t *s) {
    if (!s) return;
    join_writer(s);
    for (size_t i = 0; i < s->nruns; i++)
        if (s->runs[i].fd >= 0) close(s->runs[i].fd);
    free(s->runs);
    free(s->buf[0]);
    free(s->buf[1]);
    free(s);
}

size_t sortrun_runs(const sortrun_t *s) {
    return s->nruns;
}

/* An unlinked temporary file in $TMPDIR (else /tmp); -1 on failure. */
static int temp_fd(const char *what) {
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/reciprocal-%s.XXXXXX", dir && *dir ? dir : "/tmp", what);
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
static int write_run(const sortrun_t *s, uint8_t *b, size_t n, run_file_t *r, err_t *e) {
    qsort(b, n, s->rec_size, rec_cmp);
    size_t k = 0;
    for (int byte = 0; byte < 256; byte++) {
        r->start[byte] = k;
        while (k < n && b[k * s->rec_size] == byte)
            k++;
    }
    r->start[256] = n;
    r->fd = temp_fd(s->what);
    if (r->fd < 0 || write_all(r->fd, b, n * s->rec_size) != 0) {
        if (r->fd >= 0) close(r->fd);
        r->fd = -1;
        return err_set(e, 500, "internal", "tmpdir",
                       "cannot write the %s run file (TMPDIR full or not writable?)", s->what);
    }
    return 0;
}

/* Writes the full buffer, then frees it: between runs the memory is the filling buffer's only. */
static void *writer(void *arg) {
    sortrun_t *s = arg;
    int k = s->cur ^ 1;
    s->wrc = write_run(s, s->buf[k], s->wn, &s->runs[s->nruns - 1], &s->werr);
    free(s->buf[k]);
    s->buf[k] = NULL;
    s->cap[k] = 0;
    return NULL;
}

/* Waits for the writer thread; its error, if any. */
static int writer_done(sortrun_t *s, err_t *e) {
    join_writer(s);
    if (s->wrc == 0) return 0;
    *e = s->werr;
    return -1;
}

/* Hands the full buffer to the writer thread (after the previous one finished). */
static int flush(sortrun_t *s, err_t *e) {
    if (writer_done(s, e) != 0) return -1;
    if (s->nruns == s->rcap) {
        size_t nc = s->rcap ? s->rcap * 2 : 16;
        run_file_t *r = realloc(s->runs, nc * sizeof *r);
        if (!r) return oom(e);
        s->runs = r;
        s->rcap = nc;
    }
    s->runs[s->nruns++] = (run_file_t){.fd = -1};
    s->wn = s->n;
    s->cur ^= 1;
    s->n = 0;
    if (pthread_create(&s->th, NULL, writer, s) == 0) {
        s->busy = 1;
        return 0;
    }
    writer(s);
    return writer_done(s, e);
}

int sortrun_add(sortrun_t *s, const void *rec, err_t *e) {
    if (s->n == s->run && flush(s, e) != 0) return -1;
    int k = s->cur;
    if (s->n == s->cap[k]) {
        size_t nc = s->cap[k] ? s->cap[k] * 2 : 1024;
        if (nc > s->run) nc = s->run;
        uint8_t *b = realloc(s->buf[k], nc * s->rec_size);
        if (!b) return oom(e);
        s->buf[k] = b;
        s->cap[k] = nc;
    }
    memcpy(s->buf[k] + s->n++ * s->rec_size, rec, s->rec_size);
    return 0;
}

/* ---- the merge: a k-way merge of the runs (and the sorted buffer), per first-byte range ---- */

/* A source of sorted records: a run file [at, end) read through a buffer, or memory. */
typedef struct src {
    int fd;
    const uint8_t *mem;
    uint64_t at, end;
    uint8_t *b; /* the file's read buffer */
    size_t bn, bi;
    const uint8_t *head; /* the current record */
} src_t;

typedef struct job {
    const sortrun_t *s;
    int lo, hi; /* first key bytes [lo, hi) */
    sortrun_visit_fn visit;
    void *state;
    int rc; /* 0, -1 read failure, -2 the visitor stopped, -3 out of memory */
} job_t;

/* Advances to the next record; 0, 1 at the end, -1 on a read error. */
static int src_adv(const sortrun_t *s, src_t *x) {
    if (x->at >= x->end) return 1;
    if (x->mem) {
        x->head = x->mem + x->at++ * s->rec_size;
        return 0;
    }
    if (x->bi == x->bn) {
        uint64_t want = x->end - x->at;
        size_t n = want < SORTRUN_READ ? (size_t)want : SORTRUN_READ;
        ssize_t r = pread(x->fd, x->b, n * s->rec_size, (off_t)(x->at * s->rec_size));
        if (r != (ssize_t)(n * s->rec_size)) return -1;
        x->bn = n;
        x->bi = 0;
    }
    x->head = x->b + x->bi++ * s->rec_size;
    x->at++;
    return 0;
}

static void heap_down(src_t **h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && rec_cmp(h[l]->head, h[m]->head) < 0) m = l;
        if (l + 1 < n && rec_cmp(h[l + 1]->head, h[m]->head) < 0) m = l + 1;
        if (m == i) return;
        src_t *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Opens source i of the job: run file i, or (i == nruns) the sorted buffer's part of the range. */
static int src_open(job_t *j, size_t i, src_t *x) {
    const sortrun_t *s = j->s;
    if (i < s->nruns) {
        x->fd = s->runs[i].fd;
        x->at = s->runs[i].start[j->lo];
        x->end = s->runs[i].start[j->hi];
        x->b = malloc(SORTRUN_READ * s->rec_size);
        return x->b ? 0 : -3;
    }
    x->mem = s->buf[s->cur];
    while (x->at < s->n && x->mem[x->at * s->rec_size] < j->lo)
        x->at++;
    x->end = x->at;
    while (x->end < s->n && x->mem[x->end * s->rec_size] < j->hi)
        x->end++;
    return 0;
}

/* Visits the records of the heap's sources in order until they end or fail. */
static int merge_heap(job_t *j, src_t **h, size_t nh) {
    for (size_t i = nh; i-- > 0;)
        heap_down(h, nh, i);
    uint8_t prev[32];
    int have_prev = 0;
    while (nh > 0) {
        const uint8_t *r = h[0]->head;
        int first = !have_prev || memcmp(prev, r, 32) != 0;
        if (j->visit(j->state, r, first) != 0) return -2;
        memcpy(prev, r, 32);
        have_prev = 1;
        int a = src_adv(j->s, h[0]);
        if (a < 0) return -1;
        if (a != 0) h[0] = h[--nh];
        heap_down(h, nh, 0);
    }
    return 0;
}

static void *merge_job(void *arg) {
    job_t *j = arg;
    size_t ns = j->s->nruns + 1, nh = 0;
    src_t *src = calloc(ns, sizeof *src);
    src_t **h = calloc(ns, sizeof *h);
    j->rc = src && h ? 0 : -3;
    for (size_t i = 0; j->rc == 0 && i < ns; i++) {
        j->rc = src_open(j, i, &src[i]);
        int r = j->rc == 0 ? src_adv(j->s, &src[i]) : 1;
        if (r < 0) j->rc = -1;
        if (r == 0) h[nh++] = &src[i];
    }
    if (j->rc == 0) j->rc = merge_heap(j, h, nh);
    for (size_t i = 0; src && i < ns; i++)
        free(src[i].b);
    free(src);
    free(h);
    return NULL;
}

int sortrun_merge(sortrun_t *s, size_t *nthreads, sortrun_visit_fn visit, void *states,
                  size_t state_size, const void *init, err_t *e) {
    size_t threads = *nthreads < 1                     ? 1
                     : *nthreads > SORTRUN_MAX_THREADS ? SORTRUN_MAX_THREADS
                                                       : *nthreads;
    *nthreads = threads;
    for (size_t t = 0; t < threads; t++)
        memcpy((char *)states + t * state_size, init, state_size);
    if (writer_done(s, e) != 0) return -1;
    if (s->n) qsort(s->buf[s->cur], s->n, s->rec_size, rec_cmp);
    job_t job[SORTRUN_MAX_THREADS];
    pthread_t th[SORTRUN_MAX_THREADS];
    int started[SORTRUN_MAX_THREADS] = {0};
    for (size_t t = 0; t < threads; t++) {
        job[t] = (job_t){.s = s,
                         .lo = (int)(256 * t / threads),
                         .hi = (int)(256 * (t + 1) / threads),
                         .visit = visit,
                         .state = (char *)states + t * state_size};
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
    for (size_t t = 0; t < threads; t++)
        if (job[t].rc < rc) rc = job[t].rc;
    if (rc == 0) return 0;
    if (rc == -1)
        return err_set(e, 500, "internal", "tmpdir", "cannot read the %s run files", s->what);
    return oom(e);
}
