/* execute: the execution of a queued proposal's typed actions after its timelock, each through
 * the owning service's operations (svc_call as the network's system caller), never its tables:
 *   admit_club{club}            member.create_club (active), ledger.register_org (org = slug;
 *                               skipped, and said so, while the ledger is not bootstrapped)
 *   suspend_club{club_id,until} member.deactivate_club, reciprocal.suspend_agreement of each of
 *                               its active agreements (acting for the club)
 *   expel_club{club_id}         member.deactivate_club, reciprocal.terminate_agreement of each
 *                               of its live agreements
 *   set_network_term{key,value} governance.network_terms (the governance service's own table)
 *   terminate_agreement{id}     reciprocal.terminate_agreement (acting for its first party)
 * Exactly once: a run first claims the proposal (queued | execution_failed -> executing, one
 * UPDATE: a second process finds nothing to claim); each action's outcome is kept in
 * governance.action_runs, so a retry after execution_failed skips the actions done and resumes
 * a half-done one from its partial result (the club admit_club created). All done -> executed
 * (event governance.proposal_executed), else execution_failed with the error (retryable by POST
 * .../execute or the sweep until expires_at). Owns the SQL over action_runs and network_terms. */
#ifndef SERVICES_GOVERNANCE_EXECUTE_H
#define SERVICES_GOVERNANCE_EXECUTE_H

#include "core/service.h"

/* Claims and runs proposal id as of now: 1 + *ok (1 executed, 0 execution_failed) when this call
 * ran it, 0 when there was nothing to claim (not queued / failed, before its timelock, expired,
 * or another process runs it), -1 + err. */
int gov_execute_run(const svc_call_t *call, const char *id, const char *now, int *ok, err_t *e);

/* suspend_club{until}: the suspensions whose `until` date came (as of now) are lifted through
 * the owning services (member.activate_club, reciprocal.resume_agreement of the agreements the
 * suspension suspended), once each (the action's result records `resumed_at`). *n counts them. */
int gov_execute_resume(const svc_call_t *call, const char *now, long long *n, err_t *e);

/* POST /governance/proposals/{id}/execute {as_of?}: runs it now (409 not_executable when there
 * is nothing to run) and answers the proposal. */
int gov_execute(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* GET /governance/network-terms: the terms set by proposals {items: [{key, value, proposal_id,
 * updated_at}]}. */
int gov_validate_terms(json_t *in, err_t *e);
int gov_network_terms(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
