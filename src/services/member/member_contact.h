/* member_contact: the service-audience operation member_contact, through which the
 * notification service resolves a member to the person it reaches (docs/security.md M4). It is
 * authorised like auth.delivery_token: SVC_PERM with the permission member:contact, which no
 * role grants, so only a service caller (svc_caller_t.perms set by the calling service, sealed
 * with RECIPROCAL_BUS_KEY over NATS) holds it; it has no REST route and no GraphQL field. It
 * answers the contact fields only (account, address, phone, language, names, status), never the
 * whole member document. Owns no state. */
#ifndef SERVICES_MEMBER_CONTACT_H
#define SERVICES_MEMBER_CONTACT_H

#include <jansson.h>

#include "core/service.h"

/* {club_id, id}: both uuids, nothing else (400/422 naming the field). */
int member_contact_validate(json_t *in, err_t *e);
/* {id, club_id, status, auth_user_id, email, phone, language, first_name, preferred_name}
 * (absent values null) of member id in club club_id; 404 not_found id when there is none. */
int member_contact(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
