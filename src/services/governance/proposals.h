/* proposals: the proposal operations of the governance service (propose, list, get, sponsor,
 * cancel). Owns the SQL over governance.proposals / transitions for these and the events they
 * write. The proposing and sponsoring clubs' standing and the clubs an action names are checked
 * through the member service's operations (get_clubs_by_ids), never its tables. Rules and API:
 * docs/governance.md. */
#ifndef SERVICES_GOVERNANCE_PROPOSALS_H
#define SERVICES_GOVERNANCE_PROPOSALS_H

#include "core/service.h"

int gov_validate_create(json_t *in, err_t *e);
int gov_validate_list(json_t *in, err_t *e);
int gov_validate_ref(json_t *in, err_t *e);
int gov_validate_action(json_t *in, err_t *e);

/* POST /governance/proposals {type, title, body?, scope?, actions?, options?, club_id?, as_of?}
 * -> 201: draft (network: waits for its sponsor) or pending (club scope, or a type needing no
 * sponsor) with its voting window. One live (draft, pending, active) proposal per proposer:
 * 409 live_proposal_exists. */
int gov_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int gov_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* One proposal with its history (state, live tally, eligible count, deadlines). */
int gov_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* draft -> pending: another member club in good standing sponsors a network proposal. */
int gov_sponsor(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* -> canceled: the proposing club before active, a network administrator (guardian) before
 * executed. */
int gov_cancel(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* The voting window of a proposal sponsored (or created pending) at `at` under rule, as SQL
 * "col = ..." assignments ($4 = at) for gov_transition / the insert: voting_starts_at = at +
 * max(voting_delay_s, notice_days days), voting_ends_at = start + voting_period_s. Into buf. */
void gov_window_sql(json_t *rule, char *buf, size_t cap);

/* The clubs among ids (JSON array) through the member service (items: club or null per id). */
int gov_fetch_clubs(const svc_call_t *call, json_t *ids, json_t **items, err_t *e);

#endif
