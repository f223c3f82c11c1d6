/* members: the member record of the member service: create (with dependents, optionally
 * inviting the member's account), get, me, update, dependents and addresses, and the
 * validators of those inputs. Owns the SQL that writes member.members/profiles/addresses and
 * the member.created/updated events. The list/search and directory are in members_search,
 * status/renewal/history/lapse sweep in members_lifecycle, per-club settings and categories in
 * members_settings. Handlers set *out (the caller's, json_decref) only on success.
 * API: docs/member.md. */
#ifndef SERVICES_MEMBER_MEMBERS_H
#define SERVICES_MEMBER_MEMBERS_H

#include "core/service.h"
#include "services/member/member_common.h"

int members_validate_create(json_t *in, err_t *e);
int members_validate_ref(json_t *in, err_t *e);
int members_validate_club(json_t *in, err_t *e);
int members_validate_update(json_t *in, err_t *e);
int members_validate_dependent(json_t *in, err_t *e);
int members_validate_address(json_t *in, err_t *e);
int members_validate_address_ref(json_t *in, err_t *e);

int members_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_me(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_add_dependent(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_list_dependents(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_put_address(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_delete_address(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Shared by the members_* handlers. The failure exit of a handler: drops *out (if set, and
 * sets it NULL), rolls c's transaction back; returns -1 (e as set by the caller). */
int members_fail(mctx_t *c, json_t **out);
/* The member linked to the signed-in caller in c's club, into id (40 bytes): 404 when the caller
 * is not a member of the club. Only for operations whose access rule admits no anonymous caller
 * (SVC_SIGNED_IN, SVC_PERM_OR_SELF: svc_dispatch answers those 401). */
int members_find_self(mctx_t *c, char *id, err_t *e);

#endif
