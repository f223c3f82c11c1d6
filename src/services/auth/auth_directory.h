/* auth_directory: the service-audience operation role_holders, through which another service
 * (the notification service: statement mails to a club's treasurers) learns who in a club holds
 * a role. It is authorised like delivery_token and member.member_contact: SVC_PERM with the
 * permission auth:directory, which no role grants (not grantable to a custom role either), so
 * only a service caller holds it (svc_caller_t.perms set by the calling service, sealed with
 * RECIPROCAL_BUS_KEY over NATS); it has no REST route and no GraphQL field, and it refuses a
 * caller that carries a user id (a person, even one whose token says "*": 403 forbidden). It
 * reads in the named club's scope only (row-level security), which must be the caller's club,
 * and answers at most AUTH_ROLE_HOLDERS_MAX accounts: id and email (auth keeps no name or
 * language), active accounts only. Owns no state. */
#ifndef SERVICES_AUTH_AUTH_DIRECTORY_H
#define SERVICES_AUTH_AUTH_DIRECTORY_H

#include <jansson.h>

#include "core/service.h"

#define AUTH_ROLE_HOLDERS_MAX 100

/* {club_id, role, limit?}: club_id a club's uuid, role a club role (built-in but not
 * network_admin, or a custom role name), limit 1..AUTH_ROLE_HOLDERS_MAX (default the max). */
int auth_validate_role_holders(json_t *in, err_t *e);
/* {club_id, role, users: [{id, email}], truncated}: the club's active accounts holding role,
 * oldest grant first; truncated = there were more than limit. */
int auth_role_holders(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
