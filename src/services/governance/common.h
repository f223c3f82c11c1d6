/* common: what the governance handlers share: the clock (now, or the `as_of` a network
 * administrator injects: tests and operators move time), the club a caller acts for, the system
 * caller of the scheduler, a proposal's document, and one transition (status change, history
 * row, event). Owns nothing. */
#ifndef SERVICES_GOVERNANCE_COMMON_H
#define SERVICES_GOVERNANCE_COMMON_H

#include "core/service.h"

#define GOV_DOC_SQL "governance.proposal_doc(p)::text"

/* The operation's clock into now (ISO 8601 UTC): in.as_of when given (a network administrator
 * only: anyone else 403 naming as_of), else the current time. 0 or -1 + err. */
int gov_clock(const svc_call_t *call, json_t *in, char now[40], err_t *e);
/* Validates an optional as_of (ISO 8601 timestamp): 0 or -1 + 422 naming as_of. */
int gov_valid_as_of(json_t *in, err_t *e);
/* Validates an optional (or required) uuid field, lower-casing it: 0 or -1 + 400/422. */
int gov_valid_uuid(json_t *in, const char *name, int required, err_t *e);

/* The club the call acts for: the caller's club (another in.club_id is 403); a network
 * administrator names one with club_id (400 when absent). */
int gov_acting_club(const svc_call_t *call, json_t *in, char club[40], err_t *e);

/* A network administrator caller for the scheduler's calls (request id from call). */
void gov_system_caller(const svc_call_t *call, svc_caller_t *sys);

/* The proposal document of id in tx (new reference); 404 when the caller cannot see it. */
json_t *gov_load_doc(db_tx_t *tx, const char *id, err_t *e);

/* One transition of proposal id at `at`: the status update (extra_sql: more "col = ..." with
 * $4 the time, may be NULL), the history row (club/user of call, NULL for the scheduler) and the
 * event governance.proposal_<event> (NULL = none) for tenant. 0 or -1 + err. */
int gov_transition(const svc_call_t *call, db_tx_t *tx, const char *id, const char *from,
                   const char *to, const char *at, const char *extra_sql, const char *reason,
                   const char *event, const char *tenant, json_t *event_extra, err_t *e);

#endif
