/* visits_sweep: the visits' scheduled transitions (issue 11 "Scheduled work"), run by the
 * service's periodic job (sweep.c) every minute and by a network administrator with an
 * injected clock (POST /api/v1/visits/sweep {as_of}):
 *   - expire: a visit still `requested` or `approved` whose validity ended without check-in
 *     (its letter's valid_to, or without a letter the end of the departure day in the host's time
 *     zone) becomes `expired` (event loi.expired);
 *   - no_show: a `confirmed` visit not checked in by the end of the departure day (host time zone)
 *     plus RECIPROCAL_VISIT_NO_SHOW_GRACE_MINUTES (120) becomes `no_show` (event visit.no_show).
 * One transaction under pg_try_advisory_xact_lock(hashtext('reciprocal.visit_sweep')) (another
 * process sweeping: "ran": false), rows FOR UPDATE SKIP LOCKED; selected by time, never by
 * event, so a restart or an outage loses no transition. Transition rows have no club (the
 * scheduler). docs/reciprocal.md "Scheduled work". */
#ifndef SERVICES_RECIPROCAL_VISITS_SWEEP_H
#define SERVICES_RECIPROCAL_VISITS_SWEEP_H

#include "core/service.h"

int visit_validate_sweep(json_t *in, err_t *e);
/* {as_of?} -> {expired, no_show, as_of, ran}. */
int visit_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
