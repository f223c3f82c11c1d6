/* svgchart: charts as standalone SVG 1.1 documents for reports (the analytics service):
 *   - svgchart_series: values per category (e.g. month) for a few series, as grouped vertical
 *     bars or as lines ("visits in/out per month, this year vs last year");
 *   - svgchart_diverging: one horizontal bar per label from a zero axis, positive to the right
 *     and negative to the left ("balance per partner");
 *   - svgchart_heatmap: a rows x columns grid shaded by value ("seasonality: month x weekday").
 * Every chart: <title> and <desc> (ids <id>-title/<id>-desc) named by role="img"
 * aria-labelledby on the root; a value axis with "nice" ticks (1, 2 or 5 x 10^n) and gridlines,
 * axis and category labels, a legend; the Okabe-Ito colour-blind-safe palette (series also
 * differ by dash pattern, the heatmap is one hue from light to dark with its values written in
 * the cells); every plotted number written in the document (a <title> per bar, point or cell,
 * value labels on diverging bars and heatmap cells). Labels are XML-escaped, control characters
 * dropped, invalid UTF-8 replaced by U+FFFD; long labels are shortened with "..." on the chart
 * and kept whole in the <title>s. Output is deterministic: numbers are formatted by integer
 * arithmetic (fixed decimals, '.' separator, no locale), so the same input gives the same bytes.
 * A value that is NaN or infinite is "missing" (no bar/point, a hatched heatmap cell) and shown
 * with meta.missing_label (e.g. "<11" for a suppressed count).
 * Owns nothing: each function appends one document to the caller's strbuf_t (on error it may have
 * appended part of one; the caller discards the buffer). */
#ifndef LIB_SVGCHART_H
#define LIB_SVGCHART_H

#include <stddef.h>

#include "core/err.h"
#include "core/strbuf.h"

#define SVGCHART_MAX_SERIES 6
#define SVGCHART_MAX_CATEGORIES 120
#define SVGCHART_MAX_BARS 200   /* diverging bars */
#define SVGCHART_MAX_GRID 60    /* heatmap rows and columns each */
#define SVGCHART_MAX_VALUE 1e14 /* |value| beyond is refused (422 "values") */
#define SVGCHART_MAX_LABEL 28   /* characters of a label drawn on the chart */

#define SVGCHART_BARS 0
#define SVGCHART_LINES 1

typedef struct svgchart_meta {
    const char *title;          /* required: the heading and <title> */
    const char *desc;           /* required: one or two sentences for screen readers (<desc>) */
    const char *id;             /* element id prefix: [A-Za-z][A-Za-z0-9_-]{0,31}; NULL = "chart" */
    const char *value_label;    /* the value axis title and the unit in <title>s, e.g. "visits" */
    const char *missing_label;  /* text of a missing value; NULL = "no data" */
    int decimals;               /* digits after the point in values (0..4); ticks use at least
                                   1 x 10^-decimals as their step */
    int width, height;          /* 0 = the chart's default size; else 200..4000 */
    const char *positive_label; /* diverging legend; NULL = "Positive" */
    const char *negative_label; /* diverging legend; NULL = "Negative" */
} svgchart_meta_t;

typedef struct svgchart_series {
    const char *name;     /* legend entry, e.g. "Visits in 2026" */
    const double *values; /* one per category */
} svgchart_series_t;

/* Grouped bars (style SVGCHART_BARS) or lines with point markers (SVGCHART_LINES) of n_series
 * series (1..SVGCHART_MAX_SERIES) over n_cat categories (1..SVGCHART_MAX_CATEGORIES). 0, or -1
 * with e set (422 naming "title", "desc", "id", "categories", "series", "values" or "decimals"). */
int svgchart_series(strbuf_t *b, const svgchart_meta_t *m, const char *const *categories,
                    size_t n_cat, const svgchart_series_t *series, size_t n_series, int style,
                    err_t *e);

/* One horizontal bar per label (0..SVGCHART_MAX_BARS; none draws "no data"), in the given order.
 * Errors as svgchart_series ("labels" for the count). */
int svgchart_diverging(strbuf_t *b, const svgchart_meta_t *m, const char *const *labels,
                       const double *values, size_t n, err_t *e);

/* A rows x cols grid (each 1..SVGCHART_MAX_GRID), values row-major; negative values are refused
 * (the scale runs from 0 to the largest value). Errors as svgchart_series ("rows", "cols"). */
int svgchart_heatmap(strbuf_t *b, const svgchart_meta_t *m, const char *const *row_labels,
                     size_t rows, const char *const *col_labels, size_t cols, const double *values,
                     err_t *e);

#endif
