/* members_lifecycle: a member's status over time: status transitions (the lifecycle in
 * member.allowed_next, cascade to dependents, status history), renewal, the status history
 * read and the lapse sweep (one transaction per club). Owns the member.status_changed and
 * member.renewed events and the renew audit row. Handlers set *out (the caller's, json_decref)
 * only on success. API: docs/member.md. */
#ifndef SERVICES_MEMBER_MEMBERS_LIFECYCLE_H
#define SERVICES_MEMBER_MEMBERS_LIFECYCLE_H

#include "core/service.h"
#include "services/member/members.h"

/* The member statuses (NULL-terminated), as member.member_status_enum spells them. */
extern const char *const members_status_values[];

int members_validate_status(json_t *in, err_t *e);
int members_validate_sweep(json_t *in, err_t *e);
int members_set_status(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_history(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_lapse_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* Renewal: a new expires_on (later than the current one, not in the past); a lapsed member
 * becomes active again (cascade), dependents' earlier expiries follow; audited, events
 * member.renewed (+ member.status_changed). */
int members_validate_renew(json_t *in, err_t *e);
int members_renew(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Changes one member's status inside the caller's transaction (lifecycle check, cascade,
 * history, events). changes (may be NULL) receives the array of changes (the caller's). */
int members_transition(mctx_t *c, const char *id, const char *to, const char *reason,
                       json_t **changes, err_t *e);

#endif
