/* visits: a member's visit to a partner club under an active agreement (issue 11): the request
 * with every rule of the host's terms enforced (each refusal a 422 with its own code naming the
 * rule), reading one visit and listing visits. Rules, codes and the state machine:
 * docs/reciprocal.md "Visits". The member service is asked over its operation table (get_me,
 * member_standing, get_clubs_by_ids), never its tables.
 *
 * Who: staff holding member:write request for a member of their club (member_id); a signed-in
 * member requests for themself (member_id omitted or their own). A club sees only the visits
 * where it is the home or the host club (row-level security); a member sees only their own. A
 * network administrator acts for a home club with club_id and may inject the clock with as_of
 * (an ISO 8601 timestamp; tests of notice, advance and month boundaries). */
#ifndef SERVICES_RECIPROCAL_VISITS_H
#define SERVICES_RECIPROCAL_VISITS_H

#include "core/service.h"

int visit_validate_create(json_t *in, err_t *e);
int visit_validate_list(json_t *in, err_t *e);
int visit_validate_ref(json_t *in, err_t *e);

int visit_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int visit_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int visit_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Shared with visits_flow.c. The signed-in member's own member id (member.get_me). */
int visit_self_member(const svc_call_t *call, char id[40], err_t *e);
/* The member's standing at home (member.member_standing in the home club's scope, with
 * visit:verify whoever asks): new reference or NULL + err. */
json_t *visit_standing(const svc_call_t *call, const char *home, const char *member, err_t *e);
/* The visit document of id in tx (new reference); 404 when the caller cannot see it. */
json_t *visit_load_doc(db_tx_t *tx, const char *id, err_t *e);

#endif
