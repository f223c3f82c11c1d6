/* reciprocal_seed: the reciprocal service's part of the demo network (reciprocal_module.seed,
 * `reciprocal seed`, `make run`), after the member and auth seeds: two active demo members in
 * each demo club (member numbers DEMO-1 and DEMO-2, created through the member service's
 * create_member) and ONE active agreement among the three demo clubs (harbour-yacht,
 * union-university, highveld-country), in force from the first day of the month a year ago,
 * whose terms let a visitor come the same day (min_notice_hours 0, two guests, three facilities
 * per host, fees in GBP / USD / ZAR; harbour-yacht and union-university bill the home club,
 * highveld-country is paid at the host): proposed by harbour-yacht and accepted by the others
 * through the operation table as a network administrator; then a year of visit history with
 * charges and last month's issued statements (reciprocal_seed_history.h). Idempotent: a member
 * number already present is kept, and an active agreement among the three clubs is not proposed
 * again. The ledger part (bootstrap, the clubs as organisations) needs the running ledger service:
 * scripts/run.sh does it over HTTP once `serve` is ready. Owns nothing. */
#ifndef SERVICES_RECIPROCAL_RECIPROCAL_SEED_H
#define SERVICES_RECIPROCAL_RECIPROCAL_SEED_H

#include "core/service.h"

/* 0 or -1 + err (prints what it did). Nothing when the demo clubs are absent. */
int reciprocal_seed(const svc_env_t *env, err_t *e);

#endif
