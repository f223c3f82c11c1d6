/* metrics: see metrics.h. One global registry behind one mutex. Families are kept in declaration
 * order, series in creation order, so the rendered text is stable. Series are found through a
 * small per-family hash table keyed by the joined label values. Each family holds at most
 * METRICS_MAX_SERIES series; observations for new label sets beyond that are dropped (a guard
 * against label-cardinality blow-ups). */
#include "core/metrics.h"
#include "core/strbuf.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX_LABELS 8
#define METRICS_MAX_SERIES 10000
#define METRICS_HASH_SLOTS 256
#define METRICS_MAX_CALLBACKS 32

enum { M_COUNTER, M_GAUGE, M_HISTOGRAM };

static const double hist_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define HIST_N ((int)(sizeof hist_bounds / sizeof hist_bounds[0]))

typedef struct series {
    struct series *next_hash; /* chain in the family hash table */
    struct series *next;      /* creation order */
    unsigned long hash;
    char **values;                          /* n_labels copies */
    double value;                           /* counter / gauge */
    unsigned long long buckets[HIST_N + 1]; /* non-cumulative; last = +Inf */
    double sum;
    unsigned long long count;
} series_t;

typedef struct family {
    struct family *next;
    char *name;
    char *help;
    int type;
    int n_labels;
    char *labels[METRICS_MAX_LABELS];
    series_t *slots[METRICS_HASH_SLOTS];
    series_t *first, *last;
    int n_series;
} family_t;

typedef struct callback {
    void (*fn)(void *ud);
    void *ud;
} callback_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static family_t *families, *families_last;
static callback_t callbacks[METRICS_MAX_CALLBACKS];
static int n_callbacks;

static void sb_escaped(strbuf_t *b, const char *s, int escape_quote) {
    for (; *s; s++) {
        if (*s == '\\')
            strbuf_putn(b, "\\\\", 2);
        else if (*s == '\n')
            strbuf_putn(b, "\\n", 2);
        else if (*s == '"' && escape_quote)
            strbuf_putn(b, "\\\"", 2);
        else
            strbuf_putn(b, s, 1);
    }
}

/* Shortest decimal that reads back as the same double; +Inf/-Inf/NaN spelled as Prometheus
 * expects. */
static void fmt_double(char *out, size_t n, double v) {
    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, n, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

/* ---- registry -------------------------------------------------------------------------------- */

static family_t *find_family(const char *name) {
    for (family_t *f = families; f; f = f->next)
        if (strcmp(f->name, name) == 0) return f;
    return NULL;
}

static unsigned long hash_values(const char *const *values, int n) {
    unsigned long h = 1469598103934665603UL;
    for (int i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++) {
            h ^= *p;
            h *= 1099511628211UL;
        }
        h ^= 0xff; /* separator, so ("ab","c") != ("a","bc") */
        h *= 1099511628211UL;
    }
    return h;
}

static void free_series(series_t *s, int n_labels) {
    if (!s) return;
    if (s->values)
        for (int i = 0; i < n_labels; i++)
            free(s->values[i]);
    free(s->values);
    free(s);
}

static void free_family(family_t *f) {
    series_t *s = f->first;
    while (s) {
        series_t *n = s->next;
        free_series(s, f->n_labels);
        s = n;
    }
    for (int i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

/* Caller holds mu. Returns the series for these label values, creating it when new; NULL when
 * the values don't fit the family or the family is full. */
static series_t *get_series(family_t *f, const char *const *values) {
    int n = 0;
    if (values)
        while (values[n] && n <= f->n_labels)
            n++;
    if (n != f->n_labels) return NULL;
    static const char *const none[1] = {NULL};
    if (!values) values = none;
    unsigned long h = hash_values(values, n);
    series_t **slot = &f->slots[h % METRICS_HASH_SLOTS];
    for (series_t *s = *slot; s; s = s->next_hash) {
        if (s->hash != h) continue;
        int same = 1;
        for (int i = 0; i < n && same; i++)
            same = strcmp(s->values[i], values[i]) == 0;
        if (same) return s;
    }
    if (f->n_series >= METRICS_MAX_SERIES) return NULL;
    series_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->values = calloc((size_t)(n ? n : 1), sizeof *s->values);
    if (!s->values) goto fail;
    for (int i = 0; i < n; i++) {
        s->values[i] = strdup(values[i]);
        if (!s->values[i]) goto fail;
    }
    s->hash = h;
    s->next_hash = *slot;
    *slot = s;
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    f->n_series++;
    return s;
fail:
    free_series(s, n);
    return NULL;
}

static int valid_name(const char *s, int allow_colon) {
    if (!s || !*s) return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (allow_colon && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    return 1;
}

static void declare(const char *name, const char *help, const char *labels, int type) {
    if (!valid_name(name, 1)) return;
    pthread_mutex_lock(&mu);
    if (find_family(name)) goto out; /* idempotent */
    family_t *f = calloc(1, sizeof *f);
    if (!f) goto out;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help) goto fail;
    if (labels && *labels) {
        const char *p = labels;
        while (*p) {
            while (*p == ' ')
                p++;
            const char *end = p;
            while (*end && *end != ',')
                end++;
            const char *tail = end;
            while (tail > p && tail[-1] == ' ')
                tail--;
            if (f->n_labels == METRICS_MAX_LABELS) goto fail;
            char *l = strndup(p, (size_t)(tail - p));
            if (!l) goto fail;
            f->labels[f->n_labels++] = l;
            if (!valid_name(l, 0) || strncmp(l, "__", 2) == 0 ||
                (type == M_HISTOGRAM && strcmp(l, "le") == 0))
                goto fail;
            p = *end ? end + 1 : end;
        }
    }
    /* A family without labels has exactly one series: create it now so it renders as 0. */
    if (f->n_labels == 0 && !get_series(f, NULL)) goto fail;
    if (families_last)
        families_last->next = f;
    else
        families = f;
    families_last = f;
    goto out;
fail:
    free_family(f);
out:
    pthread_mutex_unlock(&mu);
}

void metrics_counter_declare(const char *name, const char *help, const char *labels) {
    declare(name, help, labels, M_COUNTER);
}
void metrics_gauge_declare(const char *name, const char *help, const char *labels) {
    declare(name, help, labels, M_GAUGE);
}
void metrics_histogram_declare(const char *name, const char *help, const char *labels) {
    declare(name, help, labels, M_HISTOGRAM);
}

void metrics_counter_add(const char *name, const char *const *label_values, double v) {
    if (!name || !(v >= 0)) return; /* counters only go up; also rejects NaN */
    pthread_mutex_lock(&mu);
    family_t *f = find_family(name);
    series_t *s = f && f->type == M_COUNTER ? get_series(f, label_values) : NULL;
    if (s) s->value += v;
    pthread_mutex_unlock(&mu);
}

void metrics_gauge_set(const char *name, const char *const *label_values, double v) {
    if (!name) return;
    pthread_mutex_lock(&mu);
    family_t *f = find_family(name);
    series_t *s = f && f->type == M_GAUGE ? get_series(f, label_values) : NULL;
    if (s) s->value = v;
    pthread_mutex_unlock(&mu);
}

void metrics_histogram_observe(const char *name, const char *const *label_values, double v) {
    if (!name || isnan(v)) return;
    pthread_mutex_lock(&mu);
    family_t *f = find_family(name);
    series_t *s = f && f->type == M_HISTOGRAM ? get_series(f, label_values) : NULL;
    if (s) {
        int i = 0;
        while (i < HIST_N && v > hist_bounds[i])
            i++;
        s->buckets[i]++;
        s->sum += v;
        s->count++;
    }
    pthread_mutex_unlock(&mu);
}

/* name{l1="v1",...,extra_label="extra_value"} value\n */
static void render_sample(strbuf_t *b, const family_t *f, const series_t *s, const char *suffix,
                          const char *extra_label, const char *extra_value, const char *value) {
    strbuf_puts(b, f->name);
    strbuf_puts(b, suffix);
    if (f->n_labels || extra_label) {
        strbuf_putn(b, "{", 1);
        for (int i = 0; i < f->n_labels; i++) {
            if (i) strbuf_putn(b, ",", 1);
            strbuf_puts(b, f->labels[i]);
            strbuf_putn(b, "=\"", 2);
            sb_escaped(b, s->values[i], 1);
            strbuf_putn(b, "\"", 1);
        }
        if (extra_label) {
            if (f->n_labels) strbuf_putn(b, ",", 1);
            strbuf_puts(b, extra_label);
            strbuf_putn(b, "=\"", 2);
            strbuf_puts(b, extra_value);
            strbuf_putn(b, "\"", 1);
        }
        strbuf_putn(b, "}", 1);
    }
    strbuf_putn(b, " ", 1);
    strbuf_puts(b, value);
    strbuf_putn(b, "\n", 1);
}

char *metrics_render(void) {
    callback_t cbs[METRICS_MAX_CALLBACKS];
    int n_cbs;
    pthread_mutex_lock(&mu);
    n_cbs = n_callbacks;
    memcpy(cbs, callbacks, sizeof cbs);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n_cbs; i++)
        cbs[i].fn(cbs[i].ud); /* may call metrics_gauge_set */

    strbuf_t b = {0};
    strbuf_reserve(&b, 4096);
    if (b.p) b.p[0] = '\0';
    pthread_mutex_lock(&mu);
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    char num[64];
    for (const family_t *f = families; f; f = f->next) {
        strbuf_puts(&b, "# HELP ");
        strbuf_puts(&b, f->name);
        strbuf_putn(&b, " ", 1);
        sb_escaped(&b, f->help, 0);
        strbuf_puts(&b, "\n# TYPE ");
        strbuf_puts(&b, f->name);
        strbuf_putn(&b, " ", 1);
        strbuf_puts(&b, type_names[f->type]);
        strbuf_putn(&b, "\n", 1);
        for (const series_t *s = f->first; s; s = s->next) {
            if (f->type != M_HISTOGRAM) {
                fmt_double(num, sizeof num, s->value);
                render_sample(&b, f, s, "", NULL, NULL, num);
                continue;
            }
            unsigned long long cum = 0;
            char le[32];
            for (int i = 0; i <= HIST_N; i++) {
                cum += s->buckets[i];
                fmt_double(le, sizeof le, i < HIST_N ? hist_bounds[i] : INFINITY);
                snprintf(num, sizeof num, "%llu", cum);
                render_sample(&b, f, s, "_bucket", "le", le, num);
            }
            fmt_double(num, sizeof num, s->sum);
            render_sample(&b, f, s, "_sum", NULL, NULL, num);
            snprintf(num, sizeof num, "%llu", s->count);
            render_sample(&b, f, s, "_count", NULL, NULL, num);
        }
    }
    pthread_mutex_unlock(&mu);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

void metrics_on_render(void (*fn)(void *ud), void *ud) {
    if (!fn) return;
    pthread_mutex_lock(&mu);
    if (n_callbacks < METRICS_MAX_CALLBACKS) callbacks[n_callbacks++] = (callback_t){fn, ud};
    pthread_mutex_unlock(&mu);
}

void metrics_reset(void) {
    pthread_mutex_lock(&mu);
    family_t *f = families;
    while (f) {
        family_t *n = f->next;
        free_family(f);
        f = n;
    }
    families = families_last = NULL;
    n_callbacks = 0;
    pthread_mutex_unlock(&mu);
}
