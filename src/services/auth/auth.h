/* auth: the auth service module (issue 3). Owns the PostgreSQL schema `auth` (accounts, roles,
 * signing keys, sessions, refresh tokens, one-time tokens, TOTP, throttling, audit) and declares
 * the service's single operation table (auth.c). Handlers live in auth_sessions.c (login,
 * refresh, logout, sessions, me, JWKS), auth_accounts.c (invitations, registration, password
 * reset/change, email verification, users), auth_mfa.c (TOTP); roles and permissions in rbac.c;
 * the command line (`reciprocal auth ...`) and demo accounts in auth_cli.c; its variables in
 * auth.c. See docs/auth.md. */
#ifndef SERVICES_AUTH_AUTH_H
#define SERVICES_AUTH_AUTH_H

#include "core/service.h"

extern const svc_module_t auth_module;

/* The auth service's RECIPROCAL_AUTH_* variables (auth_module.config, rows in auth.c), also
 * read by the gateway's token check (issuer, audience, access-token lifetime). */
typedef struct auth_settings {
    cfg_key_t kek;       /* RECIPROCAL_AUTH_KEK (required where auth runs) */
    char issuer[128];    /* RECIPROCAL_AUTH_ISSUER: `iss` of access tokens */
    char audience[128];  /* RECIPROCAL_AUTH_AUDIENCE: `aud` of access tokens */
    int access_ttl_s;    /* RECIPROCAL_AUTH_ACCESS_TTL_SECONDS (900) */
    int session_max_s;   /* RECIPROCAL_AUTH_SESSION_MAX_SECONDS (30 days) */
    int session_idle_s;  /* RECIPROCAL_AUTH_SESSION_IDLE_SECONDS (7 days) */
    int invite_ttl_s;    /* RECIPROCAL_AUTH_INVITE_TTL_SECONDS (7 days) */
    int reset_ttl_s;     /* RECIPROCAL_AUTH_RESET_TTL_SECONDS (3600) */
    int max_failures;    /* RECIPROCAL_AUTH_MAX_FAILURES (5) */
    int ip_max_failures; /* RECIPROCAL_AUTH_IP_MAX_FAILURES (50) */
    int jwt_alg;         /* RECIPROCAL_JWT_ALG: jwt_alg_t of new signing keys (RS256) */
} auth_settings_t;

/* The settings of env (svc_settings): never NULL. */
const auth_settings_t *auth_settings(const svc_env_t *env);

#endif
