/* clubs_resolve: resolve_club, the internal operation (no REST route) through which another
 * service learns a club's id and status from its id or slug: auth checks the club of a login,
 * invitation or role with it instead of reading member.clubs, so auth and member can live in
 * separate processes (and, later, databases). Public, like the directory entry it reads
 * (member.clubs is readable network-wide). Owns no state. */
#ifndef SERVICES_MEMBER_CLUBS_RESOLVE_H
#define SERVICES_MEMBER_CLUBS_RESOLVE_H

#include "core/service.h"

/* Input: exactly one of {"id": uuid} or {"slug": string of 1..63}. */
int clubs_validate_resolve(json_t *in, err_t *e);
/* Output {"club": {"id", "slug", "status"}} or {"club": null} when no club has that id/slug. */
int clubs_resolve(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
