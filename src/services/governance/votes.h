/* votes: casting and reading votes, and delegations. One vote per voter per proposal, enforced
 * by the primary key of governance.votes (concurrent casts store one row; a second cast changes
 * it only where the type's rule allows, else 409 vote_exists). A network vote is its club's
 * (governance:vote holders act for it) and queues its ledger record (gov_ledger.h); a club vote
 * is a member's (their user id, as snapshotted). The voter must be in the eligible snapshot taken
 * when voting opened. When a cast first brings the turnout to the quorum within the last 24
 * hours, the deadline moves to now + 24 h (late-quorum extension). Delegations (PUT
 * /delegations) are read when the next proposal opens. Owns the SQL over governance.votes and
 * governance.delegations. */
#ifndef SERVICES_GOVERNANCE_VOTES_H
#define SERVICES_GOVERNANCE_VOTES_H

#include "core/service.h"

int gov_validate_cast(json_t *in, err_t *e);
int gov_validate_votes_list(json_t *in, err_t *e);
int gov_validate_delegation(json_t *in, err_t *e);
int gov_validate_prepare(json_t *in, err_t *e);

/* POST /governance/proposals/{id}/votes {choice, reason?, club_id?, as_of?, on_behalf_of?} -> 201
 * the vote {proposal_id, voter_id, choice, weight, cast_at, changed, signed, delegate_id,
 * delegation_id, voting_ends_at, extended}. on_behalf_of (club scope): the caller casts that
 * member's vote as its delegate (the delegation in the snapshot and still in force; once per
 * member; a member's own vote overrides it), stored as the member's with delegate_id and
 * delegation_id (docs/governance.md "Delegated club votes"). One statement (CAST_SQL).
 * A pre-signed network vote {tx, signature, reason?, club_id?} (presigned.h): the choice and
 * cast time are the record's; its ledger record is submitted with the club's endorsement. */
int gov_cast(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* POST /governance/proposals/{id}/votes/prepare {choice, reason?, club_id?, as_of?} -> the
 * club's vote record to sign {tx_id, tx, sign_bytes, signer {org, role, public_key}, choice,
 * cast_at, cast_at_ms, proposal_id, voter_id}; checks what a cast checks, stores nothing. */
int gov_prepare_vote(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* GET /governance/proposals/{id}/votes: a cursor page of the direct votes. */
int gov_votes_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* PUT /governance/delegations {scope?, delegate_id|null, type?, club_id?} -> the delegation
 * {id, scope, delegator_id, type, delegate_id} (no id once cleared). */
int gov_delegate(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
