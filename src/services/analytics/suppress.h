/* suppress: statistical disclosure control for a two-way table of non-negative counts published
 * with its margins (row totals, column totals, grand total): primary suppression of small counts
 * and complementary suppression so that no suppressed entry can be derived from what is
 * published (docs/analytics.md "Charts and suppression", docs/security.md "Analytics: small-cell
 * suppression"). Pure (no database, no I/O), deterministic: the same input gives the same output.
 *
 * The table is seen as its (rows+1) x (cols+1) "augmented" form: entry (r, c) with r < rows and
 * c < cols is a cell, (r, cols) is row r's total, (rows, c) column c's total and (rows, cols) the
 * grand total. Every row and every column of the augmented form is an additive relation that a
 * reader can use, so totals are suppressed like cells:
 *   - primary: every entry (cell or total) with a count in 1..k-1 (k = 11 by default, never below
 *     SUPPRESS_K_MIN); zeros are published;
 *   - complementary: more entries, chosen greedily (4-cycles "hypercube" candidates, fewest new
 *     entries first, then cells before totals, then the smallest sum) until an exact audit finds
 *     every suppressed entry protected: its feasible range given everything published (all
 *     row/column relations and non-negativity, i.e. the LP bounds, which are the integer bounds
 *     for a two-way table) is not a single value, and for a primary entry reaches k or more, so
 *     a reader can neither compute a suppressed count nor tell that it is a small one.
 * Every suppressed entry, primary or complementary, is published with the same mark (`<k`, e.g.
 * "<11"), so the mark does not tell which entries are small.
 *
 * Ownership: suppress_apply fills a suppress_table_t whose arrays it allocates;
 * suppress_table_free releases them. Nothing is kept between calls. */
#ifndef SERVICES_ANALYTICS_SUPPRESS_H
#define SERVICES_ANALYTICS_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SUPPRESS_K_DEFAULT 11 /* counts 1..10 are small */
#define SUPPRESS_K_MIN 5      /* k below this is refused (422 on field "k") */
#define SUPPRESS_K_MAX 1000
#define SUPPRESS_MAX_DIM 400 /* rows and columns each (the audit is a max-flow per entry) */

/* flag of an entry */
#define SUPPRESS_NONE 0
#define SUPPRESS_PRIMARY 1    /* a small count (1..k-1) */
#define SUPPRESS_COMPLEMENT 2 /* suppressed so that a small count cannot be derived */

typedef struct suppress_table {
    size_t rows, cols; /* of the input cells; the augmented form is (rows+1) x (cols+1) */
    int k;
    int64_t *value;      /* [(rows+1)*(cols+1)], row-major, cells and computed totals */
    unsigned char *flag; /* [(rows+1)*(cols+1)], SUPPRESS_* of each entry */
    size_t n_primary;    /* entries flagged SUPPRESS_PRIMARY */
    size_t n_complement; /* entries flagged SUPPRESS_COMPLEMENT */
} suppress_table_t;

/* Index of entry (r, c) of the augmented form: r in 0..rows, c in 0..cols. */
static inline size_t suppress_idx(const suppress_table_t *t, size_t r, size_t c) {
    return r * (t->cols + 1) + c;
}

/* Suppresses the rows x cols table `cells` (row-major, each >= 0) with threshold k (0 means
 * SUPPRESS_K_DEFAULT). 0 and *out filled (free with suppress_table_free), or -1 with e set:
 * 422 "k" (k < SUPPRESS_K_MIN or > SUPPRESS_K_MAX), 422 "cells" (a negative count, a dimension
 * of 0 or above SUPPRESS_MAX_DIM, totals overflowing int64), 500 on allocation failure; *out is
 * then empty (safe to free). */
int suppress_apply(const int64_t *cells, size_t rows, size_t cols, int k, suppress_table_t *out,
                   err_t *e);
void suppress_table_free(suppress_table_t *t);

/* 1 when entry (r, c) of the augmented form is suppressed (primary or complementary). */
int suppress_is_hidden(const suppress_table_t *t, size_t r, size_t c);

/* The published text of entry (r, c): the count in decimal, or the mark "<k" when suppressed.
 * Writes at most cap bytes (NUL included; 24 is always enough) and returns buf. */
const char *suppress_text(const suppress_table_t *t, size_t r, size_t c, char *buf, size_t cap);

/* The feasible range [*lo, *hi] of entry (r, c) for a reader who knows everything published
 * (the unsuppressed entries, the row and column relations, non-negativity); *hi is INT64_MAX
 * when unbounded. A published entry's range is its value. The audit suppress_apply runs, exposed
 * for tests and for a caller that edits flags. 0, or -1 with e set (500, allocation). */
int suppress_range(const suppress_table_t *t, size_t r, size_t c, int64_t *lo, int64_t *hi,
                   err_t *e);

#endif
