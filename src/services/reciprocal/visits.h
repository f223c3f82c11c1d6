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

/* ---- the rules (docs/reciprocal.md "The rules"): one function at every stage ---- */

/* Where the rules are checked: at the request, again when the host confirms, again at the door.
 * Only the clock rules differ: notice, advance and "not in the past" at request, opening hours
 * at check-in; the limits count pending visits at request, confirmed ones after. */
typedef enum visit_stage { VISIT_AT_REQUEST, VISIT_AT_CONFIRM, VISIT_AT_CHECK_IN } visit_stage_t;

/* One visit as the rules see it. visit_rules_free releases what it owns. */
typedef struct vreq {
    char id[40]; /* "" at request */
    char home[40], host[40], member[40], agreement[40], tz[72], today[16];
    char arrive[16], depart[16];
    const char *as_of; /* request: the injected clock (ISO 8601) or NULL = now */
    long long at;      /* check-in: its time, unix seconds */
    long long guests, days;
    json_t *facilities; /* borrowed (the input or the stored visit's document) */
    json_t *terms;      /* owned: the host's terms of the agreement (visit_rules_check) */
    json_t *standing;   /* owned: member_standing at home; fetched when NULL */
    json_t *host_club;  /* owned: the host's club document; fetched when needed */
} vreq_t;

void visit_rules_free(vreq_t *r);
/* r from a stored visit's document doc (which must outlive r: facilities are borrowed). */
int visit_rules_from_doc(const json_t *doc, vreq_t *r, err_t *e);
/* Every rule of the host's terms for r at stage, in tx; the caller holds the (member, host)
 * lock. At request the agreement is the one between home and host (r->agreement filled), later
 * the visit's own. 0, or -1 + 422 with the rule's code (or the service's error). */
int visit_rules_check(const svc_call_t *call, db_tx_t *tx, vreq_t *r, visit_stage_t stage,
                      err_t *e);
/* The same in two steps, for a pipeline (core/db.h db_batch_*): visit_rules_queue queues the
 * rules' facts statement (its index, or -1; parameters copied), with the member's restriction at
 * the home and the host on the arrival day in the same statement (restriction_of, its own
 * snapshot: what restrictions_check reads); visit_rules_restriction judges that (0, or -1 + 422
 * reciprocity_suspended / visitor_banned naming field), visit_rules_check_facts the rules, on
 * its result q (borrowed) after the batch ran. */
int visit_rules_queue(db_batch_t *b, const vreq_t *r, visit_stage_t stage);
int visit_rules_restriction(const PGresult *q, const char *field, err_t *e);
int visit_rules_check_facts(const svc_call_t *call, db_tx_t *tx, vreq_t *r, visit_stage_t stage,
                            const PGresult *q, err_t *e);
/* The (member, host) lock every stage takes before checking the limits (visit_lock_queue: the
 * same statement queued in a batch; its index or -1). VISIT_LOCK_MEMBER_HOST_SQL(m, h): the lock
 * as an SQL expression over the parameters m (member) and h (host), for a statement that takes
 * it with other work (the door's row lock). */
#define VISIT_LOCK_MEMBER_HOST_SQL(m, h)                                                           \
    "pg_advisory_xact_lock(hashtextextended(" m " || '/' || " h ", 11))"
int visit_lock_member_host(db_tx_t *tx, const char *member, const char *host, err_t *e);
int visit_lock_queue(db_batch_t *b, const char *member, const char *host);
/* 1 when s is an ISO 8601 timestamp YYYY-MM-DDTHH:MM:SS[fraction][zone]. */
int visit_is_timestamp(const char *s);

/* One row of a visit's history (reciprocal.visit_transitions), written by every move of the
 * state machine: club (the acting club), user (the actor), from (the state left) and reason may
 * be NULL (the scheduler has no club and no actor; a request leaves no state). 0 or -1 + err. */
int visit_transition_add(db_tx_t *tx, const char *id, const char *club, const char *user,
                         const char *action, const char *from, const char *to, const char *reason,
                         err_t *e);
/* The same row queued in a pipeline batch (written when it runs): its index or -1. */
int visit_transition_queue(db_batch_t *b, const char *id, const char *club, const char *user,
                           const char *action, const char *from, const char *to,
                           const char *reason);

/* Shared with visits_flow.c. The signed-in member's own member id (member.get_me). */
int visit_self_member(const svc_call_t *call, char id[40], err_t *e);
/* The member's standing at home (member.member_standing in the home club's scope, with
 * visit:verify whoever asks): new reference or NULL + err. */
json_t *visit_standing(const svc_call_t *call, const char *home, const char *member, err_t *e);
/* The visit document of id in tx (new reference); 404 when the caller cannot see it. */
json_t *visit_load_doc(db_tx_t *tx, const char *id, err_t *e);

#endif
