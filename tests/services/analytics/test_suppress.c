/* test_suppress: services/analytics/suppress against an attacker written independently of it.
 * The attacker sees only what is published (unsuppressed cells and totals, the "<k" marks) and
 * the row/column relations of the table with its margins; for every suppressed entry it
 * computes the exact integer range the entry can take: interval propagation (single-unknown
 * elimination and bounds) to a fixpoint, then a backtracking search over the suppressed entries
 * for the smallest and largest value that still has a solution. Suppression fails when a range
 * is a single value (the count is derived) or when a small (primary) count's range stays within
 * 1..k-1 (the reader learns it is small). The attacker first proves itself on a table with
 * primary suppression only, which it breaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/analytics/suppress.h"
#include "test.h"

/* ---- the attacker ------------------------------------------------------------------------ */

#define ATK_MAXV 64 /* entries of the augmented table */
#define ATK_MAXEQ 32

typedef struct atk {
    size_t rows, cols, nv; /* nv = (rows+1)*(cols+1) */
    int hidden[ATK_MAXV];  /* the reader's view: 1 = a mark, else value[] is published */
    int64_t value[ATK_MAXV];
    int neq, eq_n[ATK_MAXEQ], eq_v[ATK_MAXEQ][ATK_MAXV], eq_a[ATK_MAXEQ][ATK_MAXV];
    int64_t cap; /* search bound for unbounded entries */
    long nodes;
} atk_t;

static size_t atk_idx(const atk_t *a, size_t r, size_t c) {
    return r * (a->cols + 1) + c;
}

/* Every row and column of the augmented table: sum of its first entries = its last one. */
static void atk_equations(atk_t *a) {
    a->neq = 0;
    for (size_t r = 0; r <= a->rows; r++) {
        int q = a->neq++;
        a->eq_n[q] = 0;
        for (size_t c = 0; c <= a->cols; c++) {
            a->eq_v[q][a->eq_n[q]] = (int)atk_idx(a, r, c);
            a->eq_a[q][a->eq_n[q]++] = c == a->cols ? -1 : 1;
        }
    }
    for (size_t c = 0; c <= a->cols; c++) {
        int q = a->neq++;
        a->eq_n[q] = 0;
        for (size_t r = 0; r <= a->rows; r++) {
            a->eq_v[q][a->eq_n[q]] = (int)atk_idx(a, r, c);
            a->eq_a[q][a->eq_n[q]++] = r == a->rows ? -1 : 1;
        }
    }
}

/* Narrows [lo, hi] of every entry to a fixpoint; 0 when some range empties (infeasible). */
static int atk_propagate(const atk_t *a, int64_t *lo, int64_t *hi) {
    for (int changed = 1; changed;) {
        changed = 0;
        for (int q = 0; q < a->neq; q++) {
            for (int j = 0; j < a->eq_n[q]; j++) {
                /* a_j x_j = -sum_{i != j} a_i x_i */
                int64_t smin = 0, smax = 0;
                for (int i = 0; i < a->eq_n[q]; i++) {
                    if (i == j) continue;
                    int v = a->eq_v[q][i];
                    if (a->eq_a[q][i] > 0) {
                        smin -= hi[v], smax -= lo[v];
                    } else {
                        smin += lo[v], smax += hi[v];
                    }
                }
                int v = a->eq_v[q][j];
                int64_t nl = a->eq_a[q][j] > 0 ? smin : -smax;
                int64_t nh = a->eq_a[q][j] > 0 ? smax : -smin;
                if (nl > lo[v]) lo[v] = nl, changed = 1;
                if (nh < hi[v]) hi[v] = nh, changed = 1;
                if (lo[v] > hi[v]) return 0;
            }
        }
    }
    return 1;
}

/* 1 when some integer assignment within [lo, hi] satisfies every equation. */
static int atk_feasible(atk_t *a, const int64_t *lo0, const int64_t *hi0) {
    int64_t lo[ATK_MAXV], hi[ATK_MAXV];
    memcpy(lo, lo0, sizeof lo);
    memcpy(hi, hi0, sizeof hi);
    a->nodes++;
    if (!atk_propagate(a, lo, hi)) return 0;
    int best = -1;
    for (size_t v = 0; v < a->nv; v++) {
        if (lo[v] != hi[v] && (best < 0 || hi[v] - lo[v] < hi[best] - lo[best])) best = (int)v;
    }
    if (best < 0) return 1;
    for (int64_t x = lo[best]; x <= hi[best]; x++) {
        int64_t l2[ATK_MAXV], h2[ATK_MAXV];
        memcpy(l2, lo, sizeof l2);
        memcpy(h2, hi, sizeof h2);
        l2[best] = h2[best] = x;
        if (atk_feasible(a, l2, h2)) return 1;
    }
    return 0;
}

static void atk_start(const atk_t *a, int64_t *lo, int64_t *hi) {
    for (size_t v = 0; v < a->nv; v++) {
        lo[v] = a->hidden[v] ? 0 : a->value[v];
        hi[v] = a->hidden[v] ? a->cap : a->value[v];
    }
}

/* The exact range of entry v (hi capped at a->cap). */
static void atk_range(atk_t *a, size_t v, int64_t *rlo, int64_t *rhi) {
    int64_t lo[ATK_MAXV], hi[ATK_MAXV];
    atk_start(a, lo, hi);
    atk_propagate(a, lo, hi);
    int64_t l = lo[v], h = hi[v];
    *rlo = INT64_MAX, *rhi = INT64_MIN;
    for (int64_t x = l; x <= h; x++) {
        int64_t l2[ATK_MAXV], h2[ATK_MAXV];
        atk_start(a, l2, h2);
        l2[v] = h2[v] = x;
        if (atk_feasible(a, l2, h2)) {
            *rlo = x;
            break;
        }
    }
    for (int64_t x = h; x >= l; x--) {
        int64_t l2[ATK_MAXV], h2[ATK_MAXV];
        atk_start(a, l2, h2);
        l2[v] = h2[v] = x;
        if (atk_feasible(a, l2, h2)) {
            *rhi = x;
            break;
        }
    }
}

/* The reader's view of a table: the published texts only ("<k" or a number). */
static void atk_from_published(atk_t *a, const suppress_table_t *t) {
    memset(a, 0, sizeof *a);
    a->rows = t->rows, a->cols = t->cols, a->nv = (t->rows + 1) * (t->cols + 1);
    char mark[16], buf[24];
    snprintf(mark, sizeof mark, "<%d", t->k);
    int64_t max = 0;
    for (size_t r = 0; r <= t->rows; r++) {
        for (size_t c = 0; c <= t->cols; c++) {
            size_t v = atk_idx(a, r, c);
            suppress_text(t, r, c, buf, sizeof buf);
            a->hidden[v] = strcmp(buf, mark) == 0;
            a->value[v] = a->hidden[v] ? 0 : strtoll(buf, NULL, 10);
            if (a->value[v] > max) max = a->value[v];
        }
    }
    a->cap = 2 * (max + t->k); /* enough to see a small count could be >= k */
    atk_equations(a);
}

/* Runs the attacker on every suppressed entry; counts the entries it breaks. */
static int attack(const suppress_table_t *t, int verbose) {
    static atk_t a;
    atk_from_published(&a, t);
    int broken = 0;
    for (size_t r = 0; r <= t->rows; r++) {
        for (size_t c = 0; c <= t->cols; c++) {
            size_t v = atk_idx(&a, r, c);
            if (!a.hidden[v]) continue;
            int64_t lo, hi;
            atk_range(&a, v, &lo, &hi);
            int64_t truth = t->value[suppress_idx(t, r, c)];
            int primary = truth >= 1 && truth < t->k;
            int bad = lo == hi || (primary && hi < t->k) || truth < lo || truth > hi;
            if (bad && verbose)
                fprintf(stdout, "#   entry (%zu,%zu)=%lld derived to [%lld,%lld]\n", r, c,
                        (long long)truth, (long long)lo, (long long)hi);
            broken += bad;
        }
    }
    return broken;
}

/* ---- checks on a result -------------------------------------------------------------------- */

/* Every small entry hidden, every line of the augmented table with a hidden entry has two. */
static int structure_ok(const suppress_table_t *t) {
    for (size_t r = 0; r <= t->rows; r++) {
        for (size_t c = 0; c <= t->cols; c++) {
            int64_t v = t->value[suppress_idx(t, r, c)];
            if (v >= 1 && v < t->k && !suppress_is_hidden(t, r, c)) return 0;
        }
    }
    for (size_t r = 0; r <= t->rows; r++) {
        int n = 0;
        for (size_t c = 0; c <= t->cols; c++)
            n += suppress_is_hidden(t, r, c);
        if (n == 1) return 0;
    }
    for (size_t c = 0; c <= t->cols; c++) {
        int n = 0;
        for (size_t r = 0; r <= t->rows; r++)
            n += suppress_is_hidden(t, r, c);
        if (n == 1) return 0;
    }
    return 1;
}

/* The library's own audit agrees with the attacker on every entry. */
static int audit_agrees(const suppress_table_t *t) {
    static atk_t a;
    atk_from_published(&a, t);
    for (size_t r = 0; r <= t->rows; r++) {
        for (size_t c = 0; c <= t->cols; c++) {
            if (!suppress_is_hidden(t, r, c)) continue;
            int64_t lo, hi, alo, ahi;
            err_t e;
            if (suppress_range(t, r, c, &lo, &hi, &e) < 0) return 0;
            atk_range(&a, atk_idx(&a, r, c), &alo, &ahi);
            if (lo != alo) return 0;
            if (hi < a.cap ? hi != ahi : ahi != a.cap) return 0;
        }
    }
    return 1;
}

static int run_and_attack(const int64_t *cells, size_t rows, size_t cols, suppress_table_t *t) {
    err_t e;
    if (suppress_apply(cells, rows, cols, 0, t, &e) < 0) {
        fprintf(stdout, "#   suppress_apply: %s\n", e.message);
        return -1;
    }
    return attack(t, 1);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_k_limits(void) {
    int64_t cells[4] = {3, 20, 30, 40};
    suppress_table_t t;
    err_t e;
    CHECK_EQ_INT(suppress_apply(cells, 2, 2, 4, &t, &e), -1);
    CHECK_EQ_INT(e.status, 422);
    CHECK_STR(e.field, "k");
    CHECK_EQ_INT(suppress_apply(cells, 2, 2, SUPPRESS_K_MIN, &t, &e), 0);
    CHECK_EQ_INT(t.k, 5);
    CHECK(suppress_is_hidden(&t, 0, 0));
    suppress_table_free(&t);
    CHECK_EQ_INT(suppress_apply(cells, 2, 2, 0, &t, &e), 0);
    CHECK_EQ_INT(t.k, SUPPRESS_K_DEFAULT);
    suppress_table_free(&t);
    int64_t neg[2] = {5, -1};
    CHECK_EQ_INT(suppress_apply(neg, 1, 2, 0, &t, &e), -1);
    CHECK_STR(e.field, "cells");
    CHECK_EQ_INT(suppress_apply(cells, 0, 2, 0, &t, &e), -1);
    CHECK_STR(e.field, "cells");
    suppress_table_free(&t); /* empty after a failure: safe */
}

/* The attacker is sound: with only the small cells hidden it derives them. */
static void test_attacker_breaks_primary_only(void) {
    int64_t cells[9] = {3, 40, 50, 60, 70, 80, 90, 25, 35};
    suppress_table_t t;
    err_t e;
    REQUIRE(suppress_apply(cells, 3, 3, 0, &t, &e) == 0);
    memset(t.flag, 0, (t.rows + 1) * (t.cols + 1));
    t.flag[suppress_idx(&t, 0, 0)] = SUPPRESS_PRIMARY;
    CHECK(attack(&t, 0) == 1); /* 3 = row total - 40 - 50 */
    /* hiding a second cell in the row is not enough either: the column still gives it */
    t.flag[suppress_idx(&t, 0, 1)] = SUPPRESS_COMPLEMENT;
    CHECK(attack(&t, 0) == 2);
    suppress_table_free(&t);
}

static void test_classic_table(void) {
    int64_t cells[] = {
        20, 3,  45, 12, /* */
        33, 41, 2,  27, /* */
        15, 22, 38, 19, /* */
        50, 7,  44, 31, /* */
    };
    suppress_table_t t;
    CHECK_EQ_INT(run_and_attack(cells, 4, 4, &t), 0);
    CHECK(structure_ok(&t));
    CHECK(audit_agrees(&t));
    CHECK_EQ_INT(t.n_primary, 3);
    CHECK(t.n_complement >= 3);
    char buf[24];
    CHECK_STR(suppress_text(&t, 0, 1, buf, sizeof buf), "<11");
    CHECK_STR(suppress_text(&t, 2, 0, buf, sizeof buf), "15");
    CHECK_STR(suppress_text(&t, 4, 4, buf, sizeof buf), "409"); /* grand total published */
    suppress_table_free(&t);
}

static void test_all_zeros(void) {
    int64_t cells[6] = {0};
    suppress_table_t t;
    err_t e;
    REQUIRE(suppress_apply(cells, 2, 3, 0, &t, &e) == 0);
    CHECK_EQ_INT(t.n_primary + t.n_complement, 0);
    char buf[24];
    CHECK_STR(suppress_text(&t, 2, 3, buf, sizeof buf), "0");
    suppress_table_free(&t);
}

static void test_one_row(void) {
    int64_t cells[4] = {3, 50, 20, 30};
    suppress_table_t t;
    CHECK_EQ_INT(run_and_attack(cells, 1, 4, &t), 0);
    CHECK(structure_ok(&t));
    /* the cell equals its column total: both hidden */
    CHECK(suppress_is_hidden(&t, 0, 0));
    CHECK(suppress_is_hidden(&t, 1, 0));
    suppress_table_free(&t);
}

static void test_one_column(void) {
    int64_t cells[4] = {40, 2, 25, 60};
    suppress_table_t t;
    CHECK_EQ_INT(run_and_attack(cells, 4, 1, &t), 0);
    CHECK(structure_ok(&t));
    suppress_table_free(&t);
}

/* A row whose only non-zero cell is small: its total is small too and equals it. */
static void test_single_nonzero_row(void) {
    int64_t cells[] = {
        0,  0,  4,  0,  /* */
        30, 25, 40, 18, /* */
        22, 35, 16, 27, /* */
    };
    suppress_table_t t;
    CHECK_EQ_INT(run_and_attack(cells, 3, 4, &t), 0);
    CHECK(structure_ok(&t));
    CHECK(suppress_is_hidden(&t, 0, 2));
    CHECK(suppress_is_hidden(&t, 0, 4)); /* row total 4 < 11 */
    CHECK(audit_agrees(&t));
    suppress_table_free(&t);
}

/* Small totals are suppressed like cells, the whole table small included. */
static void test_small_totals(void) {
    int64_t cells[] = {1, 2, 0, 3};
    suppress_table_t t;
    CHECK_EQ_INT(run_and_attack(cells, 2, 2, &t), 0);
    CHECK(suppress_is_hidden(&t, 2, 2)); /* grand total 6 */
    CHECK(structure_ok(&t));
    suppress_table_free(&t);
    int64_t cells2[] = {5, 4, 30, 40, 20, 35};
    CHECK_EQ_INT(run_and_attack(cells2, 3, 2, &t), 0);
    CHECK(suppress_is_hidden(&t, 0, 2)); /* row total 9 */
    CHECK(structure_ok(&t));
    suppress_table_free(&t);
}

/* Same input, same output; and many random tables full of small counts all resist. */
static void test_random_tables_deterministic(void) {
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    int failures = 0, tables = 0;
    for (int round = 0; round < 40; round++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t rows = 1 + (s >> 33) % 4, cols = 1 + (s >> 40) % 5;
        int64_t cells[20];
        for (size_t i = 0; i < rows * cols; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned x = (unsigned)(s >> 33) % 10;
            cells[i] = x < 2   ? 0
                       : x < 5 ? (int64_t)(1 + (s >> 45) % 10)
                               : (int64_t)(11 + (s >> 45) % 40);
        }
        suppress_table_t t, t2;
        err_t e;
        int broken = run_and_attack(cells, rows, cols, &t);
        if (broken < 0) {
            failures++;
            continue;
        }
        tables++;
        if (broken || !structure_ok(&t)) {
            failures++;
            fprintf(stdout, "#   round %d (%zux%zu) broken %d\n", round, rows, cols, broken);
        }
        if (suppress_apply(cells, rows, cols, 0, &t2, &e) == 0) {
            size_t n = (rows + 1) * (cols + 1);
            CHECK(memcmp(t.flag, t2.flag, n) == 0 && memcmp(t.value, t2.value, n * 8) == 0);
            suppress_table_free(&t2);
        }
        suppress_table_free(&t);
    }
    CHECK_EQ_INT(failures, 0);
    CHECK_EQ_INT(tables, 40);
}

/* A bigger table the attacker cannot enumerate: the library's audit (exact for two-way tables,
 * cross-checked with the attacker above) on every entry, and the structure. */
static void test_large_table(void) {
    enum { R = 60, C = 12 };
    static int64_t cells[R * C];
    uint64_t s = 42;
    for (size_t i = 0; i < R * C; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned x = (unsigned)(s >> 33) % 10;
        cells[i] = x < 3 ? 0 : x < 5 ? (int64_t)(1 + (s >> 45) % 10) : (int64_t)(s >> 45) % 200;
    }
    suppress_table_t t;
    err_t e;
    REQUIRE(suppress_apply(cells, R, C, 0, &t, &e) == 0);
    CHECK(structure_ok(&t));
    int bad = 0;
    for (size_t r = 0; r <= R; r++) {
        for (size_t c = 0; c <= C; c++) {
            if (!suppress_is_hidden(&t, r, c)) continue;
            int64_t lo, hi, v = t.value[suppress_idx(&t, r, c)];
            REQUIRE(suppress_range(&t, r, c, &lo, &hi, &e) == 0);
            bad += lo == hi || (v >= 1 && v < t.k && hi < t.k);
        }
    }
    CHECK_EQ_INT(bad, 0);
    fprintf(stdout, "#   60x12: %zu primary, %zu complementary\n", t.n_primary, t.n_complement);
    suppress_table_free(&t);
}

int main(void) {
    RUN(test_k_limits);
    RUN(test_attacker_breaks_primary_only);
    RUN(test_classic_table);
    RUN(test_all_zeros);
    RUN(test_one_row);
    RUN(test_one_column);
    RUN(test_single_nonzero_row);
    RUN(test_small_totals);
    RUN(test_random_tables_deterministic);
    RUN(test_large_table);
    TEST_DONE();
}
