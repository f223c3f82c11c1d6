/* member_sweep: the member service's scheduled lapse sweep. A core/periodic job (started by the
 * member module's start hook) runs the lapse_sweep operation for every club as a network
 * administrator every RECIPROCAL_MEMBER_SWEEP_SECONDS, so members whose expiry has passed become
 * `lapsed` without a cron job. Owns that job. Several processes may sweep: periodic runs one at
 * a time (advisory lock `periodic:member.lapse_sweep`) and the sweep is idempotent (it only
 * lapses members still active past their expiry). */
#ifndef SERVICES_MEMBER_MEMBER_SWEEP_H
#define SERVICES_MEMBER_MEMBER_SWEEP_H

#include "core/service.h"

int member_sweep_start(const svc_env_t *env, err_t *e);
void member_sweep_stop(void);
/* Runs one sweep now (what the thread does each period); *lapsed gets the count. */
int member_sweep_once(const svc_env_t *env, long long *lapsed, err_t *e);

#endif
