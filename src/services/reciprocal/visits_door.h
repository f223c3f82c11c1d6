/* visits_door: the host's front desk. POST /lois/verify checks a letter of introduction
 * (signature against the home club's LOI keys, the caller's club as host, validity window,
 * stored and unrevoked, the member still active at home via member.member_standing) and answers
 * {valid, reason, visit, member, facilities, restrictions}; POST /visits/check-in does the same
 * checks and moves the confirmed visit to checked_in (staff and time recorded; a second check-in
 * the same day, host time, answers the visit unchanged). Reasons: ok, malformed, unknown_key,
 * bad_signature, wrong_host, not_yet_valid, expired, unknown_letter, revoked, member_not_active;
 * check-in refuses with 422 loi_<reason>. */
#ifndef SERVICES_RECIPROCAL_VISITS_DOOR_H
#define SERVICES_RECIPROCAL_VISITS_DOOR_H

#include "core/service.h"

int visit_validate_token(json_t *in, err_t *e);
int visit_verify_loi(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int visit_check_in(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
