/* rbac: the one place that maps roles to permissions (issue 3, RBAC). Owns a static table.
 * Roles: network_admin (every permission, "*", incl. club:create), club_admin, club_staff (front
 * desk), club_treasurer (settlement: charges and statements), member, and custom roles a club
 * defines (auth.roles: a name and a subset of club_admin's permissions, resolved from the database
 * when a token is issued). Every signed-in user also holds auth:self (its own profile, sessions,
 * MFA). A club role is granted in one club only: the access token carries the club, and the club is
 * what the database session's RLS uses, so a club role grants nothing in another club. Thread-safe
 * (no state). */
#ifndef SERVICES_AUTH_RBAC_H
#define SERVICES_AUTH_RBAC_H

#include <jansson.h>
#include <stddef.h>

/* The i-th built-in role name (0, 1, ...), NULL past the last: network_admin first. */
const char *rbac_role_at(size_t i);
/* 1 when `role` is one of the built-in roles. */
int rbac_is_role(const char *role);
/* 1 when `perm` may be part of a custom club role: a permission of club_admin (so a custom role
 * never grants more than a club admin holds; auth:self is implied for everyone). */
int rbac_is_grantable(const char *perm);
/* 1 when `name` is a valid custom role name: [a-z][a-z0-9_]{1,39}, not a built-in role. */
int rbac_is_custom_name(const char *name);
/* Space-separated permissions of one role ("*" for network_admin), NULL when unknown. */
const char *rbac_role_perms(const char *role);
/* The union of the permissions of a JSON array of role names, space-separated, each once,
 * always including auth:self; "*" when network_admin is among them. 0, or -1 when it does not
 * fit in cap. */
int rbac_perms_for_roles(const json_t *roles, char *out, size_t cap);
/* The same, plus the space-separated permissions `extra` (those of the user's custom roles,
 * from auth.roles; NULL = none), each kept only when grantable. */
int rbac_perms_for_roles_ex(const json_t *roles, const char *extra, char *out, size_t cap);

#endif
