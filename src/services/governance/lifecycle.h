/* lifecycle: the governance state machine run by time (docs/governance.md "State machine"),
 * evaluated in a fixed order on every pass as of a clock (now, or the as_of a network
 * administrator injects): pending -> active when voting opens (the eligible snapshot with
 * weights and delegations is taken then), the 24 h reminder, active -> defeated | succeeded ->
 * queued at the deadline (counted with tally.c; zero votes -> defeated), queued ->
 * executed | execution_failed after the timelock (execute.h), queued | execution_failed ->
 * expired after the grace period, an execution interrupted for 10 minutes -> execution_failed.
 * Every step locks its proposal row (FOR UPDATE SKIP LOCKED) and re-checks the status, so two
 * processes sweeping at once never apply a step twice. Owns the SQL of these transitions. */
#ifndef SERVICES_GOVERNANCE_LIFECYCLE_H
#define SERVICES_GOVERNANCE_LIFECYCLE_H

#include "core/service.h"

int gov_validate_sweep(json_t *in, err_t *e);
/* POST /governance/sweep {as_of?} (network administrator; the periodic job) -> {opened,
 * reminded, defeated, queued, executed, execution_failed, expired, ledger_submitted,
 * ledger_pending, as_of}. */
int gov_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Counts proposal id (active, row locked in tx) from its snapshot and votes with tally.c:
 * *result the canonical tally object (gov_tally_json), *succeeded its outcome. */
int gov_count(db_tx_t *tx, const char *id, json_t **result, int *succeeded, err_t *e);

#endif
