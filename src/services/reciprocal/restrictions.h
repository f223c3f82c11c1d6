/* restrictions: suspensions of reciprocity and visitor bans (issue 11). A home club suspends one
 * member's reciprocity at every partner (host_club_id omitted) or at one partner club; a host
 * club bans a visitor (a member of another club) at its own club. Each has a reason, an optional
 * last day (ends_on), the actor and the time; it is lifted (ended early) with actor, time and an
 * optional reason; it is listed by its own club only (row-level security: a suspension is the
 * home club's, a ban the host club's). Creating one cancels, in the same transaction, the
 * member's visits it affects that have not been checked in (requested, approved, confirmed,
 * arriving on or before ends_on): status cancelled, a live letter revoked, events
 * visit.cancelled (+ loi.revoked when a letter was live). Lifting restores nothing.
 *
 * restrictions_check is the rule the visit request and the confirmation call (the check-in reads
 * it in its rules' facts, visits.h visit_rules_queue):
 * 422 reciprocity_suspended / visitor_banned. It reads both kinds through the SECURITY DEFINER
 * function reciprocal.restriction_of, which answers only the code, so neither club learns the
 * other's reasons. Permission visit:restrict (club administrators). API: docs/reciprocal.md
 * "Suspensions of reciprocity and visitor bans". Owns no state. */
#ifndef SERVICES_RECIPROCAL_RESTRICTIONS_H
#define SERVICES_RECIPROCAL_RESTRICTIONS_H

#include "core/db.h"
#include "core/service.h"

int rx_validate_create_suspension(json_t *in, err_t *e);
int rx_validate_create_ban(json_t *in, err_t *e);
int rx_validate_list(json_t *in, err_t *e);
int rx_validate_lift(json_t *in, err_t *e);

int rx_create_suspension(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int rx_list_suspensions(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int rx_lift_suspension(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int rx_create_ban(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int rx_list_bans(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int rx_lift_ban(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* 0 when no suspension of member's reciprocity (home club home, everywhere or at host) and no
 * ban of member at host covers a visit arriving on arrive (YYYY-MM-DD); else -1 + 422
 * reciprocity_suspended or visitor_banned naming field. Any scope: reads through
 * reciprocal.restriction_of. request = 1 at a new visit request: takes the member's restriction
 * lock shared first (a suspension or ban being created holds it exclusively while it cancels the
 * member's visits, so a request either sees it or is committed before and gets cancelled); 0 at
 * confirmation and check-in, which hold the visit's row lock (the creation locks those rows). */
int restrictions_check(db_tx_t *tx, const char *member, const char *home, const char *host,
                       const char *arrive, int request, const char *field, err_t *e);
/* The rule's read as an SQL expression over the parameters m (member), h (home), o (host) and
 * a (arrive), e.g. "$9", for a statement that folds it in (POST /visits: the rules' facts, one
 * statement; the door: visit_rules_queue); restrictions_code judges its value (NULL when none)
 * like restrictions_check. */
#define RESTRICTIONS_CALL_SQL(m, h, o, a)                                                          \
    "reciprocal.restriction_of(" m "::uuid, " h "::uuid, " o "::uuid, " a "::date)"
int restrictions_code(const char *code, const char *field, err_t *e);

#endif
