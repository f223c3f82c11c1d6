/* auth_admin: what administrators do to other accounts of the auth service: define custom
 * roles of a club (a name and a subset of club_admin's permissions, auth.roles), grant and
 * remove roles (a club admin within its club only, and only club roles; a network admin
 * anywhere), disable and enable an account (disabling ends every session at once and refuses
 * sign-in and refresh), and read the auth audit log (club-scoped, newest first, paginated). Every
 * change is audited in auth.audit and announced through the outbox: auth.permission_granted,
 * auth.permission_revoked, auth.user_disabled, auth.user_enabled. Nobody changes their own
 * roles or status (no self-lockout, no self-promotion). Tenancy comes from the caller's
 * database scope (RLS): another club's user is "not found", even addressed by a guessed id.
 * Owns no state. */
#ifndef SERVICES_AUTH_AUTH_ADMIN_H
#define SERVICES_AUTH_AUTH_ADMIN_H

#include <jansson.h>

#include "core/service.h"

int auth_validate_role_change(json_t *in, err_t *e);
int auth_role_grant(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_role_revoke(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_user_disable(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_user_enable(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_audit_list(json_t *in, err_t *e);
int auth_validate_roles_list(json_t *in, err_t *e);
int auth_roles_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_role_create(json_t *in, err_t *e);
int auth_role_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_role_name(json_t *in, err_t *e);
int auth_role_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_audit_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
