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

/* Scratch of the audit: the residual graph of the suppressed entries (one edge per entry between
 * its row node and its column node, a capacity each way), in CSR form, and the BFS arrays. */
typedef struct sup_flow {
    size_t n, m;              /* nodes (rows+1 + cols+1), edges */
    size_t *eu, *ew;          /* edge endpoints: row node, column node */
    int64_t *cap_uw, *cap_wu; /* residual capacities */
    size_t *off, *adj;        /* node -> incident edges: adj[off[v] .. off[v+1]) */
    size_t *prev_e, *queue;   /* BFS: the edge that reached a node (SIZE_MAX: none), queue */
} sup_flow_t;

static size_t sup_n(const suppress_table_t *t) {
    return (t->rows + 1) * (t->cols + 1);
}

/* 1 for cells and the grand total, -1 for row and column totals. */
static int sup_sign(const suppress_table_t *t, size_t r, size_t c) {
    return ((r == t->rows) == (c == t->cols)) ? 1 : -1;
}

static int sup_flow_init(sup_flow_t *f, const suppress_table_t *t) {
    size_t n = t->rows + t->cols + 2, m = sup_n(t);
    f->n = n;
    f->eu = malloc(m * sizeof *f->eu);
    f->ew = malloc(m * sizeof *f->ew);
    f->cap_uw = malloc(m * sizeof *f->cap_uw);
    f->cap_wu = malloc(m * sizeof *f->cap_wu);
    f->off = malloc((n + 1) * sizeof *f->off);
    f->adj = malloc(2 * m * sizeof *f->adj);
    f->prev_e = malloc(n * sizeof *f->prev_e);
    f->queue = malloc(n * sizeof *f->queue);
    return f->eu && f->ew && f->cap_uw && f->cap_wu && f->off && f->adj && f->prev_e && f->queue
               ? 0
               : -1;
}

static void sup_flow_free(sup_flow_t *f) {
    free(f->eu);
    free(f->ew);
    free(f->cap_uw);
    free(f->cap_wu);
    free(f->off);
    free(f->adj);
    free(f->prev_e);
    free(f->queue);
}

/* Residual graph of the suppressed entries other than (er, ec). An entry's z > 0 runs from its
 * row node to its column node and raises the count when the sign is +1. */
static void sup_flow_build(sup_flow_t *f, const suppress_table_t *t, size_t er, size_t ec) {
    f->m = 0;
    memset(f->off, 0, (f->n + 1) * sizeof *f->off);
    for (size_t r = 0; r <= t->rows; r++) {
        for (size_t c = 0; c <= t->cols; c++) {
            size_t i = suppress_idx(t, r, c);
            if (!t->flag[i] || (r == er && c == ec)) continue;
            size_t k = f->m++;
            int64_t x = t->value[i];
            f->eu[k] = r, f->ew[k] = t->rows + 1 + c;
            f->cap_uw[k] = sup_sign(t, r, c) > 0 ? SUP_INF : x;
            f->cap_wu[k] = sup_sign(t, r, c) > 0 ? x : SUP_INF;
            f->off[f->eu[k] + 1]++;
            f->off[f->ew[k] + 1]++;
        }
    }
    for (size_t v = 0; v < f->n; v++)
        f->off[v + 1] += f->off[v];
    /* fill with prev_e as the per-node cursor */
    for (size_t v = 0; v < f->n; v++)
        f->prev_e[v] = f->off[v];
    for (size_t k = 0; k < f->m; k++) {
        f->adj[f->prev_e[f->eu[k]]++] = k;
        f->adj[f->prev_e[f->ew[k]]++] = k;
    }
}

/* The residual capacity of edge k leaving node v. */
static int64_t *sup_cap_from(sup_flow_t *f, size_t k, size_t v) {
    return v == f->eu[k] ? &f->cap_uw[k] : &f->cap_wu[k];
}

/* Edmonds-Karp from s to d on the built graph (consumed), stopping once the flow reaches limit
 * (at most SUP_INF): min(max flow, limit). */
static int64_t sup_maxflow(sup_flow_t *f, size_t s, size_t d, int64_t limit) {
    int64_t flow = 0;
    while (flow < limit) {
        for (size_t v = 0; v < f->n; v++)
            f->prev_e[v] = SIZE_MAX;
        size_t head = 0, tail = 0;
        f->queue[tail++] = s;
        while (head < tail && f->prev_e[d] == SIZE_MAX) {
            size_t u = f->queue[head++];
            for (size_t a = f->off[u]; a < f->off[u + 1]; a++) {
                size_t k = f->adj[a], v = f->eu[k] == u ? f->ew[k] : f->eu[k];
                if (v == s || f->prev_e[v] != SIZE_MAX || *sup_cap_from(f, k, u) <= 0) continue;
                f->prev_e[v] = k;
                f->queue[tail++] = v;
            }
        }
        if (f->prev_e[d] == SIZE_MAX) break;
        int64_t b = limit - flow;
        for (size_t v = d; v != s;) {
            size_t k = f->prev_e[v], u = f->eu[k] == v ? f->ew[k] : f->eu[k];
            int64_t c = *sup_cap_from(f, k, u);
            if (c < b) b = c;
            v = u;
        }
        for (size_t v = d; v != s;) {
            size_t k = f->prev_e[v], u = f->eu[k] == v ? f->ew[k] : f->eu[k];
            *sup_cap_from(f, k, u) -= b;
            *sup_cap_from(f, k, v) += b;
            v = u;
        }
        flow += b;
    }
    return flow < limit ? flow : limit;
}

/* How far entry (r, c) can rise (up = 1) or fall (up = 0) given everything published, at most
 * limit. */
static int64_t sup_slack(sup_flow_t *f, const suppress_table_t *t, size_t r, size_t c, int up,
                         int64_t limit) {
    size_t u = r, w = t->rows + 1 + c;
    int pos = sup_sign(t, r, c) > 0;
    /* raising the count: z_e > 0 (sign +1) returns w -> u; z_e < 0 (sign -1) returns u -> w */
    int from_w = pos == up;
    sup_flow_build(f, t, r, c);
    int64_t x = t->value[suppress_idx(t, r, c)];
    if (!up && limit > x) limit = x;
    return limit > 0 ? sup_maxflow(f, from_w ? w : u, from_w ? u : w, limit) : 0;
}

static void sup_range(sup_flow_t *f, const suppress_table_t *t, size_t r, size_t c, int64_t *lo,
                      int64_t *hi) {
    size_t i = suppress_idx(t, r, c);
    int64_t x = t->value[i];
    if (!t->flag[i]) {
        *lo = *hi = x;
        return;
    }
    int64_t up = sup_slack(f, t, r, c, 1, SUP_INF), down = sup_slack(f, t, r, c, 0, SUP_INF);
    *lo = x - down;
    *hi = up >= SUP_INF ? INT64_MAX : x + up;
}

/* The rule: a suppressed entry's range is not one value, and a small count's reaches k. Returns
 * how much of the needed rise there is (0 .. need; need when protected) so candidates can be
 * ranked; a complement that cannot rise but can fall counts as protected. */
static int64_t sup_check(sup_flow_t *f, const suppress_table_t *t, size_t r, size_t c,
                         int64_t *need) {
    size_t i = suppress_idx(t, r, c);
    int64_t x = t->value[i];
    *need = t->flag[i] == SUPPRESS_PRIMARY && t->k - x > 1 ? t->k - x : 1;
    int64_t up = sup_slack(f, t, r, c, 1, *need);
    if (up >= *need || t->flag[i] == SUPPRESS_PRIMARY) return up;
    return sup_slack(f, t, r, c, 0, 1) >= 1 ? *need : 0;
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
    /* the first candidate (cheapest) that protects the entry; else the one that lets it rise the
     * most towards what it needs */
    int64_t need, best_got = sup_check(f, t, r, c, &need);
    size_t best = SIZE_MAX;
    unsigned char added[3];
    for (size_t j = 0; j < nc; j++) {
        sup_apply_cand(t, &cand[j], r, c, added, 1);
        int64_t got = sup_check(f, t, r, c, &need);
        sup_apply_cand(t, &cand[j], r, c, added, 0);
        if (got > best_got) best = j, best_got = got;
        if (got >= need) break;
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
    unsigned char *ok = calloc(sup_n(out), 1); /* entries found protected */
    if (!out->value || !out->flag || !ok || sup_flow_init(&f, out) < 0) goto oom;
    sup_primary(out, cells);
    /* Hiding more only widens the ranges of entries already hidden, so passes until none adds
     * an entry end with every hidden entry protected. */
    for (int changed = out->n_primary > 0; changed;) {
        changed = 0;
        for (size_t r = 0; r <= rows; r++) {
            for (size_t c = 0; c <= cols; c++) {
                size_t i = suppress_idx(out, r, c);
                int64_t need;
                if (!out->flag[i] || ok[i]) continue;
                if (sup_check(&f, out, r, c, &need) >= need) {
                    ok[i] = 1; /* for good: hiding more only widens its range */
                    continue;
                }
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
    free(ok);
    sup_flow_free(&f);
    return rc;
}

void suppress_table_free(suppress_table_t *t) {
    if (!t) return;
    free(t->value);
    free(t->flag);
    memset(t, 0, sizeof *t);
}
