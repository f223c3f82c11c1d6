/* charts: see charts.h. The figures come from the club report (reports.c), so a chart shows
 * exactly what the report says. */
#include "services/analytics/charts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "lib/svgchart/svgchart.h"
#include "services/analytics/reports.h"

static const char *const k_kinds[] = {"visits", "balance", "seasonality", NULL};
static const char *const k_month[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int analytics_validate_chart(json_t *in, err_t *e) {
    const char *kind;
    if (jsonx_enum(in, "kind", 0, k_kinds, &kind, e) != 0) return -1;
    json_object_del(in, "format");
    return analytics_validate_report(in, e);
}

/* "Jan 2026" of "2026-01" into out (16 bytes). */
static const char *month_label(const char *ym, char out[16]) {
    int m = ym && strlen(ym) == 7 ? atoi(ym + 5) : 0;
    snprintf(out, 16, "%s %.4s", m >= 1 && m <= 12 ? k_month[m - 1] : "?", ym ? ym : "");
    return out;
}

static int visits_chart(strbuf_t *b, json_t *doc, int heat, err_t *e) {
    json_t *seas = json_object_get(doc, "seasonality");
    size_t n = json_array_size(seas);
    if (n == 0 || n > 12) return err_set(e, 500, "internal", "", "no months to draw");
    char labels[12][16];
    const char *cats[12];
    double in[12], out[12], lin[12], lout[12];
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(seas, i);
        cats[i] = month_label(json_string_value(json_object_get(m, "month")), labels[i]);
        in[i] = (double)json_integer_value(json_object_get(m, "visits_in"));
        out[i] = (double)json_integer_value(json_object_get(m, "visits_out"));
        lin[i] = (double)json_integer_value(json_object_get(m, "last_year_in"));
        lout[i] = (double)json_integer_value(json_object_get(m, "last_year_out"));
    }
    if (heat) {
        double v[24];
        const char *rows[] = {"Year before", "Last 12 months"}, *cols[12];
        for (size_t i = 0; i < n; i++) {
            v[i] = lin[i];
            v[n + i] = in[i];
            cols[i] = labels[i];
        }
        svgchart_meta_t m = {.title = "Seasonality: visitors per month",
                             .desc = "Visits to the club per month over the last 12 months "
                                     "and the 12 months before (checked in or completed).",
                             .id = "seasonality",
                             .value_label = "visits"};
        return svgchart_heatmap(b, &m, rows, 2, cols, n, v, e);
    }
    svgchart_series_t s[] = {{"Visits in, last 12 months", in},
                             {"Visits in, year before", lin},
                             {"Visits out, last 12 months", out},
                             {"Visits out, year before", lout}};
    svgchart_meta_t m = {.title = "Visits per month",
                         .desc = "Visitors received (in) and members' visits to partners (out) "
                                 "per month, the last 12 months against the year before.",
                         .id = "visits",
                         .value_label = "visits"};
    return svgchart_series(b, &m, cats, n, s, 4, SVGCHART_BARS, e);
}

static int balance_chart(strbuf_t *b, json_t *doc, err_t *e) {
    json_t *parts = json_object_get(doc, "partners");
    size_t n = json_array_size(parts);
    if (n > SVGCHART_MAX_BARS) n = SVGCHART_MAX_BARS;
    const char **labels = calloc(n + 1, sizeof *labels);
    double *v = calloc(n + 1, sizeof *v);
    if (!labels || !v) {
        free(labels);
        free(v);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(parts, i);
        const char *name = json_string_value(json_object_get(p, "partner_name"));
        labels[i] = name ? name : json_string_value(json_object_get(p, "partner_club_id"));
        v[i] = (double)json_integer_value(json_object_get(p, "net_visits"));
    }
    svgchart_meta_t m = {.title = "Balance per partner",
                         .desc = "Visits received from each partner's members minus this club's "
                                 "members' visits to that partner, over the report's range.",
                         .id = "balance",
                         .value_label = "visits",
                         .positive_label = "More visitors received",
                         .negative_label = "More visits made"};
    int rc = svgchart_diverging(b, &m, labels, v, n, e);
    free(labels);
    free(v);
    return rc;
}

int analytics_club_chart(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    json_t *doc = NULL;
    if (analytics_club_doc(call, in, &doc, e) != 0) return -1;
    const char *kind = json_string_value(json_object_get(in, "kind"));
    if (!kind) kind = "visits";
    strbuf_t b = {0};
    int rc = strcmp(kind, "balance") == 0
                 ? balance_chart(&b, doc, e)
                 : visits_chart(&b, doc, strcmp(kind, "seasonality") == 0, e);
    json_decref(doc);
    char *body = strbuf_take(&b);
    if (rc == 0) {
        *out = body ? svc_raw_output("image/svg+xml", NULL, body) : NULL;
        if (!*out) rc = err_set(e, 500, "internal", "", "out of memory");
    }
    free(body);
    return rc;
}
