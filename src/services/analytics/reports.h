/* reports: the analytics operations that read the rollups (docs/analytics.md "Reports").
 * A club's report (its own figures and, per partner, the pairwise ones: RLS gives a club only
 * the rows where it is host or home) over a range resolved in the club's time zone; the
 * network report for network administrators; the rebuild and retention operations.
 * Handlers follow core/service.h (0 + new reference, or -1 + e). */
#ifndef SERVICES_ANALYTICS_REPORTS_H
#define SERVICES_ANALYTICS_REPORTS_H

#include "core/service.h"

int analytics_validate_report(json_t *in, err_t *e);
int analytics_club_report(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* The club report's JSON document (validated input as for club_report; format ignored). */
int analytics_club_doc(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int analytics_validate_network(json_t *in, err_t *e);
int analytics_network_report(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int analytics_validate_none(json_t *in, err_t *e);
/* set_capacity: a club's bookable rooms (the denominator of room utilisation). */
int analytics_validate_capacity(json_t *in, err_t *e);
int analytics_set_capacity(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* Nonzero: the club report reads the daily rollups only (the implementation before the monthly
 * rollups, kept as the reference the tests and bench/analytics_report compare with). 0 in the
 * server. */
extern int analytics_report_reference;
/* rebuild: every rollup level from the raw store (analytics.rebuild_all). */
int analytics_rebuild(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int analytics_retention(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* The retention job's run: drops the raw partitions older than the retention. 0 or -1 + e. */
int analytics_retention_run(const svc_env_t *env, void *arg, err_t *e);

#endif
