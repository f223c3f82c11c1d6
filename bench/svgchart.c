/* bench/svgchart: `make bench` rows for the analytics charts (lib/svgchart, goal < 20 ms per chart)
 * and for small-cell suppression (services/analytics/suppress) on report-sized tables. Each
 * target runs N times (argv[1], default 500; suppression N/10); one line per target:
 *   svgchart-bench name=<target> n=<runs> p50_ms= p99_ms= max_ms= cpu_p50_ms= cpu_p99_ms= bytes=
 * (wall and thread CPU time: on a shared box the CPU figures are the cost of one run)
 * No server, database or I/O inside the timed part. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/svgchart/svgchart.h"
#include "services/analytics/suppress.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* CPU time of this thread: what a render costs, whatever else the box runs. */
static double cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng = 88172645463325252ULL;
static double rnd(int mod) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng % (uint64_t)mod);
}

static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const DAYS[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static char names[100][40];
static const char *labels[100];
static double s4[4][12], bal[100], heat[84];

/* Renders one chart kind into b; returns its size. */
static size_t render(int kind, strbuf_t *b) {
    err_t e;
    svgchart_meta_t m = {.title = "Visits per month",
                         .desc = "Visits in and out per month, this year against last year.",
                         .value_label = "visits",
                         .missing_label = "<11"};
    int rc = -1;
    if (kind <= 1) {
        svgchart_series_t s[4] = {{"Visits in 2026", s4[0]},
                                  {"Visits in 2025", s4[1]},
                                  {"Visits out 2026", s4[2]},
                                  {"Visits out 2025", s4[3]}};
        rc = svgchart_series(b, &m, MONTHS, 12, s, 4, kind, &e);
    } else if (kind == 2) {
        m.title = "Balance per partner";
        rc = svgchart_diverging(b, &m, labels, bal, 100, &e);
    } else {
        m.title = "Seasonality";
        rc = svgchart_heatmap(b, &m, MONTHS, 12, DAYS, 7, heat, &e);
    }
    if (rc < 0) {
        fprintf(stderr, "svgchart-bench: %s\n", e.message);
        exit(1);
    }
    return b->len;
}

/* t: wall times, c: CPU times of the n runs (both sorted here). */
static void report(const char *name, double *t, double *c, int n, size_t bytes) {
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    qsort(c, (size_t)n, sizeof *c, cmp_d);
    int p99 = (int)((n - 1) * 0.99);
    printf("svgchart-bench name=%s n=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f cpu_p50_ms=%.3f "
           "cpu_p99_ms=%.3f bytes=%zu\n",
           name, n, t[n / 2], t[p99], t[n - 1], c[n / 2], c[p99], bytes);
}

static void bench_charts(int n, double *t, double *c) {
    static const char *const kinds[] = {"monthly-bars-4x12", "monthly-lines-4x12",
                                        "diverging-100-partners", "heatmap-12x7"};
    for (int k = 0; k < 4; k++) {
        size_t bytes = 0;
        for (int i = 0; i < n; i++) {
            strbuf_t b = {0};
            double t0 = now_ms(), c0 = cpu_ms();
            bytes = render(k, &b);
            t[i] = now_ms() - t0, c[i] = cpu_ms() - c0;
            strbuf_free(&b);
        }
        report(kinds[k], t, c, n, bytes);
    }
}

static void bench_suppress(int n, double *t, double *c) {
    enum { R = 100, C = 12 };
    static int64_t cells[R * C];
    size_t hidden = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < R * C; j++) {
            double x = rnd(10);
            cells[j] = x < 3 ? 0 : x < 5 ? 1 + (int64_t)rnd(10) : (int64_t)rnd(300);
        }
        suppress_table_t st;
        err_t e;
        double t0 = now_ms(), c0 = cpu_ms();
        if (suppress_apply(cells, R, C, 0, &st, &e) < 0) {
            fprintf(stderr, "svgchart-bench: %s\n", e.message);
            exit(1);
        }
        t[i] = now_ms() - t0, c[i] = cpu_ms() - c0;
        hidden += st.n_primary + st.n_complement;
        suppress_table_free(&st);
    }
    report("suppress-100x12", t, c, n, hidden / (size_t)n);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 500;
    if (n < 10) n = 10;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 12; i++)
            s4[k][i] = 20 + rnd(400);
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof names[i], "Partner club %d & Co <%d>", i, i);
        labels[i] = names[i];
        bal[i] = i % 17 == 0 ? NAN : rnd(200) - 100;
    }
    for (int i = 0; i < 84; i++)
        heat[i] = i % 29 == 0 ? NAN : rnd(500);
    double *t = malloc((size_t)n * sizeof *t), *c = malloc((size_t)n * sizeof *c);
    if (!t || !c) return 1;
    bench_charts(n, t, c);
    bench_suppress(n / 10 < 10 ? 10 : n / 10, t, c);
    free(t);
    free(c);
    return 0;
}
