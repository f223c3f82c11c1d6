/* suppress: see suppress.h. The audit of one entry is two max-flows on the bipartite graph whose
 * nodes are the rows and columns of the augmented table and whose edges are the suppressed
 * entries: with y = x for cells and the grand total and y = -x for row/column totals, every row
 * and column of y sums to 0, so what a reader cannot see is exactly a circulation z added to the
 * suppressed y. Entry f allows z_f up to +inf one way and down to the point where its count
 * reaches 0 the other way; the largest increase of entry e is the largest flow that can return
 * from one end of e to the other through the other suppressed entries. */
#include "services/analytics/suppress.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUP_INF ((int64_t)1 << 60)
#define SUP_MAX_TOTAL ((int64_t)1000000000000000) /* 1e15: grand totals beyond are refused */

/* Scratch of the audit: an n x n residual capacity matrix and the BFS arrays. */
typedef struct sup_flow {
    size_t n;
    int64_t *cap;
    size_t *prev, *queue;
} sup_flow_t;

static size_t sup_n(const suppress_table_t *t) {
    return (t->rows + 1) * (t->cols + 1);
}

/* 1 for cells and the grand total, -1 for row and column totals. */
static int sup_sign(const suppress_table_t *t, size_t r, size_t c) {
    return ((r == t->rows) == (c == t->cols)) ? 1 : -1;
}

static int sup_flow_init(sup_flow_t *f, const suppress_table_t *t) {
    f->n = t->rows + t->cols + 2;
    f->cap = malloc(f->n * f->n * sizeof *f->cap);
    f->prev = malloc(f->n * sizeof *f->prev);
    f->queue = malloc(f->n * sizeof *f->queue);
    return f->cap && f->prev && f->queue ? 0 : -1;
}

static void sup_flow_free(sup_flow_t *f) {
    free(f->cap);
    free(f->prev);
    free(f->queue);
}

/* Residual graph of the suppressed entries other than (er, ec). */
static void sup_flow_build(sup_flow_t *f, const suppress_table_t *t, size_t er, size_t ec) {
    memset(f->cap, 0, f->n * f->n * sizeof *f->cap);
    for (size_t r = 0; r <= t->rows; r++) {
        for (size_t c = 0; c <= t->cols; c++) {
            size_t i = suppress_idx(t, r, c);
            if (!t->flag[i] || (r == er && c == ec)) continue;
            size_t u = r, w = t->rows + 1 + c;
            int64_t x = t->value[i];
            /* z > 0 is the arc u -> w; it raises the count when the sign is +1 */
            if (sup_sign(t, r, c) > 0) {
                f->cap[u * f->n + w] = SUP_INF;
                f->cap[w * f->n + u] = x;
            } else {
                f->cap[u * f->n + w] = x;
                f->cap[w * f->n + u] = SUP_INF;
            }
        }
    }
}

/* Edmonds-Karp from s to d on the built graph (consumed), stopping at SUP_INF. */
static int64_t sup_maxflow(sup_flow_t *f, size_t s, size_t d) {
    int64_t flow = 0;
    size_t n = f->n;
    while (flow < SUP_INF) {
        for (size_t i = 0; i < n; i++)
            f->prev[i] = SIZE_MAX;
        f->prev[s] = s;
        size_t head = 0, tail = 0;
        f->queue[tail++] = s;
        while (head < tail && f->prev[d] == SIZE_MAX) {
            size_t u = f->queue[head++];
            for (size_t v = 0; v < n; v++) {
                if (f->prev[v] == SIZE_MAX && f->cap[u * n + v] > 0) {
                    f->prev[v] = u;
                    f->queue[tail++] = v;
                }
            }
        }
        if (f->prev[d] == SIZE_MAX) break;
        int64_t b = SUP_INF;
        for (size_t v = d; v != s; v = f->prev[v]) {
            int64_t c = f->cap[f->prev[v] * n + v];
            if (c < b) b = c;
        }
        for (size_t v = d; v != s; v = f->prev[v]) {
            f->cap[f->prev[v] * n + v] -= b;
            f->cap[v * n + f->prev[v]] += b;
        }
        flow += b;
    }
    return flow < SUP_INF ? flow : SUP_INF;
}

static void sup_range(sup_flow_t *f, const suppress_table_t *t, size_t r, size_t c, int64_t *lo,
                      int64_t *hi) {
    size_t i = suppress_idx(t, r, c);
    int64_t x = t->value[i];
    if (!t->flag[i]) {
        *lo = *hi = x;
        return;
    }
    size_t u = r, w = t->rows + 1 + c;
    int pos = sup_sign(t, r, c) > 0;
    /* raising the count: z_e > 0 (sign +1) returns w -> u; z_e < 0 (sign -1) returns u -> w */
    sup_flow_build(f, t, r, c);
    int64_t up = pos ? sup_maxflow(f, w, u) : sup_maxflow(f, u, w);
    sup_flow_build(f, t, r, c);
    int64_t down = pos ? sup_maxflow(f, u, w) : sup_maxflow(f, w, u);
    if (down > x) down = x;
    *lo = x - down;
    *hi = up >= SUP_INF ? INT64_MAX : x + up;
}

static int sup_protected(const suppress_table_t *t, size_t i, int64_t lo, int64_t hi) {
    if (lo >= hi) return 0;
    return t->flag[i] != SUPPRESS_PRIMARY || hi >= t->k;
}

int suppress_is_hidden(const suppress_table_t *t, size_t r, size_t c) {
    return t->flag[suppress_idx(t, r, c)] != SUPPRESS_NONE;
}

const char *suppress_text(const suppress_table_t *t, size_t r, size_t c, char *buf, size_t cap) {
    if (suppress_is_hidden(t, r, c))
        snprintf(buf, cap, "<%d", t->k);
    else
        snprintf(buf, cap, "%" PRId64, t->value[suppress_idx(t, r, c)]);
    return buf;
}

int suppress_range(const suppress_table_t *t, size_t r, size_t c, int64_t *lo, int64_t *hi,
                   err_t *e) {
    sup_flow_t f = {0};
    int rc = -1;
    if (sup_flow_init(&f, t) < 0) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    sup_range(&f, t, r, c, lo, hi);
    rc = 0;
done:
    sup_flow_free(&f);
    return rc;
}

/* A complementary candidate: the other three corners of a rectangle through the failing entry. */
typedef struct sup_cand {
    size_t r2, c2;
    int n_new, n_margin;
    int64_t sum;
} sup_cand_t;

static int sup_cand_cmp(const void *a, const void *b) {
    const sup_cand_t *x = a, *y = b;
    if (x->n_new != y->n_new) return x->n_new < y->n_new ? -1 : 1;
    if (x->n_margin != y->n_margin) return x->n_margin < y->n_margin ? -1 : 1;
    if (x->sum != y->sum) return x->sum < y->sum ? -1 : 1;
    if (x->r2 != y->r2) return x->r2 < y->r2 ? -1 : 1;
    if (x->c2 != y->c2) return x->c2 < y->c2 ? -1 : 1;
    return 0;
}

static void sup_corners(size_t r, size_t c, size_t r2, size_t c2, size_t rr[3], size_t cc[3]) {
    rr[0] = r, cc[0] = c2;
    rr[1] = r2, cc[1] = c;
    rr[2] = r2, cc[2] = c2;
}

/* Hides the corners of candidate k that are visible (mark) or unhides them again (!mark). */
static void sup_apply_cand(suppress_table_t *t, const sup_cand_t *k, size_t r, size_t c,
                           unsigned char *added, int mark) {
    size_t rr[3], cc[3];
    sup_corners(r, c, k->r2, k->c2, rr, cc);
    for (int j = 0; j < 3; j++) {
        size_t i = suppress_idx(t, rr[j], cc[j]);
        if (mark) {
            added[j] = t->flag[i] == SUPPRESS_NONE;
            if (added[j]) t->flag[i] = SUPPRESS_COMPLEMENT;
        } else if (added[j]) {
            t->flag[i] = SUPPRESS_NONE;
        }
    }
}

static int sup_is_margin(const suppress_table_t *t, size_t r, size_t c) {
    return r == t->rows || c == t->cols;
}

/* Adds complementary suppressions until entry (r, c) is protected or nothing more can be
 * hidden. Returns the number of entries hidden, or -1 on allocation failure. */
static int sup_fix(sup_flow_t *f, suppress_table_t *t, size_t r, size_t c) {
    size_t nc = 0, R = t->rows + 1, C = t->cols + 1;
    sup_cand_t *cand = malloc(R * C * sizeof *cand);
    if (!cand) return -1;
    for (size_t r2 = 0; r2 < R; r2++) {
        for (size_t c2 = 0; c2 < C; c2++) {
            if (r2 == r || c2 == c) continue;
            sup_cand_t k = {r2, c2, 0, 0, 0};
            size_t rr[3], cc[3];
            sup_corners(r, c, r2, c2, rr, cc);
            for (int j = 0; j < 3; j++) {
                size_t i = suppress_idx(t, rr[j], cc[j]);
                if (t->flag[i]) continue;
                k.n_new++;
                k.n_margin += sup_is_margin(t, rr[j], cc[j]);
                k.sum += t->value[i];
            }
            if (k.n_new) cand[nc++] = k;
        }
    }
    qsort(cand, nc, sizeof *cand, sup_cand_cmp);
    size_t e = suppress_idx(t, r, c);
    int64_t lo0, hi0, lo, hi;
    sup_range(f, t, r, c, &lo0, &hi0);
    /* the first candidate (cheapest) that protects the entry; else the one widening its range
     * the most (the highest upper bound, then the widest range) */
    size_t best = SIZE_MAX;
    int64_t best_hi = hi0, best_w = hi0 - lo0;
    unsigned char added[3];
    for (size_t j = 0; j < nc; j++) {
        sup_apply_cand(t, &cand[j], r, c, added, 1);
        sup_range(f, t, r, c, &lo, &hi);
        sup_apply_cand(t, &cand[j], r, c, added, 0);
        if (sup_protected(t, e, lo, hi)) {
            best = j;
            break;
        }
        if (hi > best_hi || (hi == best_hi && hi - lo > best_w)) {
            best = j, best_hi = hi, best_w = hi - lo;
        }
    }
    int n = 0;
    if (best != SIZE_MAX) {
        sup_apply_cand(t, &cand[best], r, c, added, 1);
        n = added[0] + added[1] + added[2];
    } else {
        /* no rectangle helps: hide the entry's whole row and column of the augmented table */
        for (size_t i = 0; i < R * C; i++) {
            if (t->flag[i] || (i / C != r && i % C != c)) continue;
            t->flag[i] = SUPPRESS_COMPLEMENT;
            n++;
        }
        /* and when they were all hidden already, everything: then every entry can grow */
        int all = n == 0;
        for (size_t i = 0; all && i < R * C; i++) {
            if (t->flag[i]) continue;
            t->flag[i] = SUPPRESS_COMPLEMENT;
            n++;
        }
    }
    free(cand);
    return n;
}

static int sup_check_input(const int64_t *cells, size_t rows, size_t cols, int k, err_t *e) {
    if (k < SUPPRESS_K_MIN || k > SUPPRESS_K_MAX)
        return err_invalid(e, "k", "k must be between %d and %d", SUPPRESS_K_MIN, SUPPRESS_K_MAX);
    if (rows == 0 || cols == 0 || rows > SUPPRESS_MAX_DIM || cols > SUPPRESS_MAX_DIM)
        return err_invalid(e, "cells", "the table must have 1 to %d rows and columns",
                           SUPPRESS_MAX_DIM);
    int64_t total = 0;
    for (size_t i = 0; i < rows * cols; i++) {
        if (cells[i] < 0) return err_invalid(e, "cells", "counts must not be negative");
        if (cells[i] > SUP_MAX_TOTAL - total)
            return err_invalid(e, "cells", "the grand total must not exceed 10^15");
        total += cells[i];
    }
    return 0;
}

/* Fills values (cells and margins) and the primary flags. */
static void sup_primary(suppress_table_t *t, const int64_t *cells) {
    size_t R = t->rows, C = t->cols;
    for (size_t r = 0; r < R; r++) {
        for (size_t c = 0; c < C; c++) {
            int64_t v = cells[r * C + c];
            t->value[suppress_idx(t, r, c)] = v;
            t->value[suppress_idx(t, r, C)] += v;
            t->value[suppress_idx(t, R, c)] += v;
            t->value[suppress_idx(t, R, C)] += v;
        }
    }
    for (size_t i = 0; i < sup_n(t); i++) {
        if (t->value[i] >= 1 && t->value[i] < t->k) {
            t->flag[i] = SUPPRESS_PRIMARY;
            t->n_primary++;
        }
    }
}

int suppress_apply(const int64_t *cells, size_t rows, size_t cols, int k, suppress_table_t *out,
                   err_t *e) {
    memset(out, 0, sizeof *out);
    if (k == 0) k = SUPPRESS_K_DEFAULT;
    if (sup_check_input(cells, rows, cols, k, e) < 0) return -1;
    sup_flow_t f = {0};
    int rc = -1;
    out->rows = rows, out->cols = cols, out->k = k;
    out->value = calloc(sup_n(out), sizeof *out->value);
    out->flag = calloc(sup_n(out), 1);
    if (!out->value || !out->flag || sup_flow_init(&f, out) < 0) goto oom;
    sup_primary(out, cells);
    /* Hiding more only widens the ranges of entries already hidden, so passes until none adds
     * an entry end with every hidden entry protected. */
    for (int changed = out->n_primary > 0; changed;) {
        changed = 0;
        for (size_t r = 0; r <= rows; r++) {
            for (size_t c = 0; c <= cols; c++) {
                size_t i = suppress_idx(out, r, c);
                int64_t lo, hi;
                if (!out->flag[i]) continue;
                sup_range(&f, out, r, c, &lo, &hi);
                if (sup_protected(out, i, lo, hi)) continue;
                int n = sup_fix(&f, out, r, c);
                if (n < 0) goto oom;
                out->n_complement += (size_t)n;
                changed |= n > 0;
            }
        }
    }
    rc = 0;
    goto done;
oom:
    err_set(e, 500, "internal", "", "out of memory");
    suppress_table_free(out);
done:
    sup_flow_free(&f);
    return rc;
}

void suppress_table_free(suppress_table_t *t) {
    if (!t) return;
    free(t->value);
    free(t->flag);
    memset(t, 0, sizeof *t);
}
