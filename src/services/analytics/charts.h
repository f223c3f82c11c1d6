/* charts: the club report drawn as SVG (lib/svgchart), served as image/svg+xml
 * (docs/analytics.md "Charts"): kind "visits" (visits in and out per month over the trailing
 * 12 months, this year against the year before: grouped bars), "balance" (net visits per
 * partner over the range: diverging bars), "seasonality" (visits in per month, this year and
 * the year before: heatmap). Same inputs, same bytes. */
#ifndef SERVICES_ANALYTICS_CHARTS_H
#define SERVICES_ANALYTICS_CHARTS_H

#include "core/service.h"

int analytics_validate_chart(json_t *in, err_t *e);
int analytics_club_chart(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
