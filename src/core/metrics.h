/* metrics: a small registry of counters, gauges and histograms with labels, rendered in the
 * Prometheus text exposition format (version 0.0.4) for GET /metrics. Thread-safe. Owns every
 * series it creates; names and label values are copied. */
#ifndef CORE_METRICS_H
#define CORE_METRICS_H

#include <stddef.h>

/* Declare a family once (idempotent). labels: comma-separated label names, e.g. "route,status". */
void metrics_counter_declare(const char *name, const char *help, const char *labels);
void metrics_gauge_declare(const char *name, const char *help, const char *labels);
/* Histograms use the default latency buckets in seconds (0.0005 .. 10). */
void metrics_histogram_declare(const char *name, const char *help, const char *labels);

/* label_values: comma-free values in declared order, as a NULL-terminated array (or NULL). */
void metrics_counter_add(const char *name, const char *const *label_values, double v);
void metrics_gauge_set(const char *name, const char *const *label_values, double v);
void metrics_histogram_observe(const char *name, const char *const *label_values, double v);

/* Renders every family; caller frees. Callbacks registered below run first (to refresh gauges
 * such as pool size). */
char *metrics_render(void);
void metrics_on_render(void (*fn)(void *ud), void *ud);
void metrics_reset(void); /* tests only: drops everything */

#endif
