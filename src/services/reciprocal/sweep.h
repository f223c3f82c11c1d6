/* sweep: the reciprocal service's scheduled work. A core/periodic job (started by the module's
 * start hook) runs the agreement_sweep operation as a network administrator every
 * RECIPROCAL_SWEEP_PERIOD_S (60) seconds: activations, terminations after notice, expiries;
 * then the visit_sweep operation (visits_sweep.h): expired letters, no-shows.
 * Owns that job. Several processes may run it: periodic runs one at a time (advisory lock
 * `periodic:reciprocal.sweep`), the operation takes its own transaction-scoped advisory lock
 * (the others skip that turn) and locks rows FOR UPDATE SKIP LOCKED; a transition
 * missed while no process ran is made by the next sweep (it selects by date, not by event). */
#ifndef SERVICES_RECIPROCAL_SWEEP_H
#define SERVICES_RECIPROCAL_SWEEP_H

#include <jansson.h>

#include "core/service.h"

#define RECIPROCAL_SWEEP_PERIOD_S 60

int reciprocal_sweep_start(const svc_env_t *env, err_t *e);
void reciprocal_sweep_stop(void);
/* Runs one sweep now as of `as_of` (YYYY-MM-DD; NULL = today UTC): the injectable clock of the
 * tests. *out (may be NULL) gets the operation's answer. */
int reciprocal_sweep_once(const svc_env_t *env, const char *as_of, json_t **out, err_t *e);
/* The visits' part (visit_sweep, visits_sweep.h) as of `as_of` (ISO 8601; NULL = now), run by the
 * same job after the agreements'. */
int reciprocal_visit_sweep_once(const svc_env_t *env, const char *as_of, json_t **out, err_t *e);

#endif
