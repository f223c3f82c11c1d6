/* test_sortrun: the external sort shared by the verifier's duplicate-id and MVCC checks
 * (src/services/ledger/sortrun.c). No PostgreSQL, no NATS. Records of 48 bytes (key, order, a
 * payload) are added in runs small enough to spill many run files to disk, then merged over 1, 3
 * and 7 threads: every record comes back exactly once, in (key, order) order, each key's records
 * in one range, `first` only on a key's first record, the run files unlinked and closed by
 * sortrun_free; also empty input, keys repeated across runs (and identical records), adding after
 * a merge, a visitor that stops the merge, an unwritable TMPDIR, and bad sizes. */
#include <dirent.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "services/ledger/sortrun.h"
#include "test.h"

typedef struct rec {
    sortrun_head_t h;
    uint64_t payload;
} rec_t;

/* One range's view of the merged stream. */
typedef struct seen {
    size_t n, firsts;
    uint64_t sum; /* of the payloads */
    int ordered;  /* every record >= the previous one */
    int first_ok; /* first == (the key differs from the previous record's) */
    int lo, hi;   /* the first key bytes seen */
    rec_t prev;
    int have_prev;
    size_t stop_after; /* > 0: return -1 at that record */
} seen_t;

static int rec_cmp(const rec_t *a, const rec_t *b) {
    int c = memcmp(a->h.key, b->h.key, 32);
    return c ? c : a->h.order < b->h.order ? -1 : a->h.order > b->h.order;
}

static int visit(void *state, const void *p, int first) {
    seen_t *s = state;
    const rec_t *r = p;
    if (s->stop_after && s->n + 1 == s->stop_after) return -1;
    if (s->have_prev && rec_cmp(&s->prev, r) > 0) s->ordered = 0;
    int new_key = !s->have_prev || memcmp(s->prev.h.key, r->h.key, 32) != 0;
    if (first != new_key) s->first_ok = 0;
    if (r->h.key[0] < s->lo) s->lo = r->h.key[0];
    if (r->h.key[0] > s->hi) s->hi = r->h.key[0];
    s->n++;
    s->firsts += (size_t)first;
    s->sum += r->payload;
    s->prev = *r;
    s->have_prev = 1;
    return 0;
}

static char tmpdir[512];

/* Entries of the private TMPDIR (the run files must be unlinked at once). */
static int tmp_entries(void) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    for (struct dirent *x; d && (x = readdir(d));)
        n += x->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *x; d && (x = readdir(d));)
        n += x->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* Merges over `threads` ranges; checks the stream and returns the totals in *all. */
static int merge_check(sortrun_t *s, size_t threads, seen_t *all) {
    seen_t st[SORTRUN_MAX_THREADS], init = {.ordered = 1, .first_ok = 1, .lo = 256, .hi = -1};
    err_t e = {0};
    size_t want = threads;
    int rc = sortrun_merge(s, &threads, visit, st, sizeof st[0], &init, &e);
    CHECK_EQ_INT(threads, want);
    *all = (seen_t){.ordered = 1, .first_ok = 1};
    for (size_t t = 0; t < threads; t++) {
        all->n += st[t].n;
        all->firsts += st[t].firsts;
        all->sum += st[t].sum;
        all->ordered &= st[t].ordered;
        all->first_ok &= st[t].first_ok;
        if (st[t].n) { /* the range holds only its first bytes */
            CHECK(st[t].lo >= (int)(256 * t / threads));
            CHECK(st[t].hi < (int)(256 * (t + 1) / threads));
        }
    }
    return rc;
}

static void test_empty(void) {
    sortrun_t *s = sortrun_new(sizeof(rec_t), 10, "test");
    REQUIRE(s != NULL);
    for (size_t t = 1; t <= 3; t += 2) {
        seen_t all;
        CHECK_EQ_INT(merge_check(s, t, &all), 0);
        CHECK_EQ_INT(all.n, 0);
    }
    CHECK_EQ_INT(sortrun_runs(s), 0);
    sortrun_free(s);
    sortrun_free(NULL);
}

/* 20,000 random keys in runs of 150 (133 run files and the buffer), payloads summed. */
static void test_spill(void) {
    enum { N = 20000 };
    int fds = open_fds();
    sortrun_t *s = sortrun_new(sizeof(rec_t), 150, "test");
    REQUIRE(s != NULL);
    uint64_t sum = 0;
    err_t e = {0};
    int ok = 1;
    for (uint64_t k = 0; k < N; k++) {
        rec_t r = {.h.order = randombytes_random(), .payload = k * 7 + 1};
        randombytes_buf(r.h.key, 32);
        sum += r.payload;
        if (sortrun_add(s, &r, &e) != 0) ok = 0;
    }
    CHECK(ok);
    CHECK_EQ_INT(sortrun_runs(s), N / 150);
    CHECK(open_fds() >= fds + N / 150 - 1);
    size_t threads[] = {1, 3, 7};
    for (size_t i = 0; i < 3; i++) {
        seen_t all;
        CHECK_EQ_INT(merge_check(s, threads[i], &all), 0);
        CHECK_EQ_INT(all.n, N);
        CHECK_EQ_INT(all.firsts, N);
        CHECK(all.sum == sum);
        CHECK(all.ordered);
        CHECK(all.first_ok);
    }
    CHECK_EQ_INT(tmp_entries(), 0); /* unlinked (the merge waited for the writer) */
    sortrun_free(s);
    CHECK_EQ_INT(open_fds(), fds); /* the run files are closed */
}

/* 50 keys, each added 40 times in decreasing order (so in many runs), and each key's order 5
 * twice (identical records): all come back, per key in increasing order, one first each. */
static void test_duplicates_across_runs(void) {
    enum { KEYS = 50, REPS = 40 };
    uint8_t key[KEYS][32];
    for (int k = 0; k < KEYS; k++)
        randombytes_buf(key[k], 32);
    sortrun_t *s = sortrun_new(sizeof(rec_t), 64, "test");
    REQUIRE(s != NULL);
    err_t e = {0};
    int ok = 1;
    uint64_t sum = 0;
    for (int rep = REPS; rep-- > 0;)
        for (int k = 0; k < KEYS; k++) {
            rec_t r = {.h.order = (uint64_t)rep, .payload = (uint64_t)(k * 1000 + rep)};
            memcpy(r.h.key, key[k], 32);
            sum += r.payload;
            if (sortrun_add(s, &r, &e) != 0) ok = 0;
            if (rep == 5) {
                sum += r.payload;
                if (sortrun_add(s, &r, &e) != 0) ok = 0;
            }
        }
    CHECK(ok);
    CHECK(sortrun_runs(s) >= 30);
    for (size_t t = 1; t <= 3; t += 2) {
        seen_t all;
        CHECK_EQ_INT(merge_check(s, t, &all), 0);
        CHECK_EQ_INT(all.n, KEYS * (REPS + 1));
        CHECK_EQ_INT(all.firsts, KEYS);
        CHECK(all.sum == sum);
        CHECK(all.ordered);
        CHECK(all.first_ok);
    }
    /* added after a merge: part of the next one */
    rec_t r = {.h.order = 0, .payload = 1};
    memset(r.h.key, 0xff, 32);
    CHECK_EQ_INT(sortrun_add(s, &r, &e), 0);
    seen_t all;
    CHECK_EQ_INT(merge_check(s, 2, &all), 0);
    CHECK_EQ_INT(all.n, KEYS * (REPS + 1) + 1);
    CHECK_EQ_INT(all.firsts, KEYS + 1);
    sortrun_free(s);
}

/* A visitor's -1 fails the merge ("out of memory": the verifier's visitors fail only so). */
static void test_visitor_stops(void) {
    sortrun_t *s = sortrun_new(sizeof(rec_t), 10, "test");
    REQUIRE(s != NULL);
    err_t e = {0};
    for (int k = 0; k < 100; k++) {
        rec_t r = {.h.order = (uint64_t)k};
        randombytes_buf(r.h.key, 32);
        CHECK_EQ_INT(sortrun_add(s, &r, &e), 0);
    }
    seen_t st, init = {.stop_after = 50};
    size_t threads = 0; /* clamped to 1 */
    CHECK_EQ_INT(sortrun_merge(s, &threads, visit, &st, sizeof st, &init, &e), -1);
    CHECK_EQ_INT(threads, 1);
    CHECK_EQ_INT(st.n, 49);
    CHECK_EQ_INT(e.status, 500);
    sortrun_free(s);
}

/* A TMPDIR that cannot hold the run files: the add that hands over the next run (or the merge)
 * fails, naming tmpdir and the data. */
static void test_unwritable_tmpdir(void) {
    char bad[600];
    snprintf(bad, sizeof bad, "%s/missing/dir", tmpdir);
    setenv("TMPDIR", bad, 1);
    sortrun_t *s = sortrun_new(sizeof(rec_t), 10, "world-state");
    REQUIRE(s != NULL);
    err_t e = {0};
    int rc = 0;
    for (int k = 0; k < 25 && rc == 0; k++) {
        rec_t r = {.h.order = (uint64_t)k};
        randombytes_buf(r.h.key, 32);
        rc = sortrun_add(s, &r, &e);
    }
    if (rc == 0) {
        seen_t st, init = {0};
        size_t threads = 1;
        rc = sortrun_merge(s, &threads, visit, &st, sizeof st, &init, &e);
    }
    CHECK_EQ_INT(rc, -1);
    CHECK_STR(e.field, "tmpdir");
    CHECK(strstr(e.message, "world-state run file") != NULL);
    sortrun_free(s);
    setenv("TMPDIR", tmpdir, 1);
}

static void test_bad_sizes(void) {
    CHECK(sortrun_new(32, 10, "x") == NULL); /* smaller than the head */
    CHECK(sortrun_new(44, 10, "x") == NULL); /* not a multiple of 8 */
    CHECK(sortrun_new(40, 0, "x") == NULL);  /* no run size */
    sortrun_t *s = sortrun_new(40, 1, NULL);
    CHECK(s != NULL);
    sortrun_free(s);
    s = sortrun_new(40, 1, NULL);
    REQUIRE(s != NULL);
    seen_t st[SORTRUN_MAX_THREADS], init = {0};
    size_t threads = 1000; /* clamped */
    err_t e = {0};
    CHECK_EQ_INT(sortrun_merge(s, &threads, visit, st, sizeof st[0], &init, &e), 0);
    CHECK_EQ_INT(threads, SORTRUN_MAX_THREADS);
    sortrun_free(s);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/sortrun-%d", tmp ? tmp : "/tmp", (int)getpid());
    mkdir(tmp ? tmp : "/tmp", 0700);
    if (mkdir(tmpdir, 0700) != 0) return 1;
    setenv("TMPDIR", tmpdir, 1);
    RUN(test_empty);
    RUN(test_spill);
    RUN(test_duplicates_across_runs);
    RUN(test_visitor_stops);
    RUN(test_unwritable_tmpdir);
    RUN(test_bad_sizes);
    rmdir(tmpdir);
    TEST_DONE();
}
