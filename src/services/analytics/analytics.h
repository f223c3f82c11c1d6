/* analytics (service module): reciprocity reports built from other services' events only
 * (docs/analytics.md). Consumers (svc_module_t.consumers) on visit, LOI, charge, statement,
 * agreement, club, member and auth events turn each event into pseudonymous facts (ingest.c:
 * members only as an HMAC member key per club, never names, emails, member numbers or free
 * text), applied once per event (inbox_claim) by analytics.ingest: the raw store (partitioned by
 * month), the visit state and exactly the touched days of the daily rollups. Reports
 * (reports.c): a club's figures over any day/week/month/year range in its time zone, pairwise
 * with its partners, and network figures for network administrators with k-suppression.
 * Its data: schema `analytics` (migrations/). Owns the retention job (analytics_start/stop). */
#ifndef SERVICES_ANALYTICS_ANALYTICS_H
#define SERVICES_ANALYTICS_ANALYTICS_H

#include "core/config.h"
#include "core/service.h"

extern const svc_module_t analytics_module;

/* RECIPROCAL_ANALYTICS_* (README.md "Analytics"). */
typedef struct analytics_settings {
    cfg_key_t key;      /* member-key HMAC secret; unset = derived from RECIPROCAL_BUS_KEY */
    int retention_days; /* raw store: partitions older than this are dropped */
    int k;              /* network reports: cells of 1..k-1 are suppressed (>= 5) */
    int retention_period_s;
} analytics_settings_t;

const analytics_settings_t *analytics_settings(const svc_env_t *env);

#endif
