/* sweep: the governance service's scheduled work: core/periodic jobs (each one process at a time
 * by advisory lock): the state machine (lifecycle.h, operation governance_sweep) every
 * RECIPROCAL_GOVERNANCE_SWEEP_SECONDS, so proposals open, close, queue, execute and expire by
 * themselves, and the ledger records pass (gov_ledger.h, operation governance_ledger_pass) every
 * RECIPROCAL_GOVERNANCE_LEDGER_SECONDS. Owns their periodic_t. */
#ifndef SERVICES_GOVERNANCE_SWEEP_H
#define SERVICES_GOVERNANCE_SWEEP_H

#include "core/service.h"

/* One pass now as of `as_of` (ISO 8601; NULL = now) as the network's system caller: the
 * injectable clock of the tests. *out (may be NULL) gets the counts. */
int governance_sweep_once(const svc_env_t *env, const char *as_of, json_t **out, err_t *e);
int governance_sweep_start(const svc_env_t *env, err_t *e);
void governance_sweep_stop(void);

#endif
