/* members_batch: member_relations_by_ids, the batch read GraphQL's loader uses so that a page of
 * members asks for all their dependents and status histories in one call instead of two per
 * member. Staff only (member:read); the result is scoped to the caller's club like every member
 * operation. Owns nothing beyond one call. */
#ifndef SERVICES_MEMBER_MEMBERS_BATCH_H
#define SERVICES_MEMBER_MEMBERS_BATCH_H

#include "core/service.h"

int members_validate_relations(json_t *in, err_t *e);
/* in: {ids: [uuid, ...] (1..100), club_id?}; out: {"dependents": {id: [member...]},
 * "status_history": {id: [change...]}} with an entry (maybe []) for every id of the club, and
 * "members": {id: member} (the staff view of get_member; GraphQL's Visit.member) for every id
 * of the club. */
int members_relations_by_ids(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
