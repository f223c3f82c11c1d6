/* auth: the auth service module (issue 3). Owns the PostgreSQL schema `auth` (accounts, roles,
 * signing keys, sessions, refresh tokens, one-time tokens, TOTP, throttling, audit) and declares
 * the service's single operation table (auth.c). Handlers live in auth_sessions.c (login,
 * refresh, logout, sessions, me, JWKS), auth_accounts.c (invitations, registration, password
 * reset/change, email verification, users), auth_mfa.c (TOTP); roles and permissions in rbac.c;
 * the command line (`reciprocal auth ...`) in auth_cli.c. See docs/auth.md. */
#ifndef SERVICES_AUTH_AUTH_H
#define SERVICES_AUTH_AUTH_H

#include "core/service.h"

extern const svc_module_t auth_module;

#endif
