/* auth: the auth service's one operation table (see service.h for the pattern). Operations with
 * permission NULL are public on purpose: they are how a caller obtains or gives up credentials
 * (login, MFA step, refresh, logout, invitation acceptance, password reset, email
 * verification) or the public keys (JWKS). */
#include "services/auth/auth.h"

#include "services/auth/auth_accounts.h"
#include "services/auth/auth_admin.h"
#include "services/auth/auth_mfa.h"
#include "services/auth/auth_revoke.h"
#include "services/auth/auth_sessions.h"

static const svc_op_t auth_ops[] = {
    {"login", "POST", "/api/v1/auth/login", 200, NULL, auth_validate_login, auth_login},
    {"mfa_verify", "POST", "/api/v1/auth/mfa/verify", 200, NULL, auth_validate_mfa_verify,
     auth_mfa_verify},
    {"refresh", "POST", "/api/v1/auth/refresh", 200, NULL, auth_validate_refresh, auth_refresh},
    {"logout", "POST", "/api/v1/auth/logout", 204, NULL, auth_validate_logout, auth_logout},
    {"register", "POST", "/api/v1/auth/register", 200, NULL, auth_validate_token_password,
     auth_register},
    {"password_forgot", "POST", "/api/v1/auth/password/forgot", 202, NULL, auth_validate_forgot,
     auth_password_forgot},
    {"password_reset", "POST", "/api/v1/auth/password/reset", 200, NULL,
     auth_validate_token_password, auth_password_reset},
    {"email_verify", "POST", "/api/v1/auth/email/verify", 200, NULL, auth_validate_token_only,
     auth_email_verify},
    {"jwks", "GET", "/.well-known/jwks.json", 200, NULL, auth_validate_none, auth_jwks},

    {"me", "GET", "/api/v1/auth/me", 200, "auth:self", auth_validate_none, auth_me},
    {"sessions_list", "GET", "/api/v1/auth/sessions", 200, "auth:self", auth_validate_none,
     auth_sessions_list},
    {"session_delete", "DELETE", "/api/v1/auth/sessions/{id}", 204, "auth:self", auth_validate_id,
     auth_session_delete},
    {"password_change", "POST", "/api/v1/auth/password/change", 200, "auth:self",
     auth_validate_change, auth_password_change},
    {"email_verify_request", "POST", "/api/v1/auth/email/verify-request", 202, "auth:self",
     auth_validate_none, auth_email_verify_request},
    {"mfa_enrol", "POST", "/api/v1/auth/mfa/totp/enrol", 200, "auth:self", auth_validate_none,
     auth_mfa_enrol},
    {"mfa_confirm", "POST", "/api/v1/auth/mfa/totp/confirm", 200, "auth:self",
     auth_validate_mfa_code, auth_mfa_confirm},
    {"mfa_disable", "POST", "/api/v1/auth/mfa/totp/disable", 200, "auth:self",
     auth_validate_mfa_disable, auth_mfa_disable},
    {"mfa_recovery_codes", "POST", "/api/v1/auth/mfa/recovery-codes", 200, "auth:self",
     auth_validate_mfa_code, auth_mfa_recovery_regenerate},

    /* NATS only (no route): the notification path fetches a one-time token by the id its event
     * carries (docs/security.md N3); auth:deliver is held by no role, only by a service caller */
    {"delivery_token", NULL, NULL, 200, "auth:deliver", auth_validate_delivery_token,
     auth_delivery_token},

    {"invite", "POST", "/api/v1/auth/invites", 201, "auth:invite", auth_validate_invite,
     auth_invite},
    {"invite_member", NULL, NULL, 201, "auth:invite", auth_validate_invite, auth_invite_member},
    {"users_list", "GET", "/api/v1/auth/users", 200, "auth:admin", auth_validate_none,
     auth_users_list},
    {"user_revoke_sessions", "POST", "/api/v1/auth/users/{id}/revoke-sessions", 200, "auth:admin",
     auth_validate_id, auth_user_revoke_sessions},
    {"user_role_grant", "POST", "/api/v1/auth/users/{id}/roles", 200, "auth:admin",
     auth_validate_role_change, auth_role_grant},
    {"user_role_revoke", "DELETE", "/api/v1/auth/users/{id}/roles/{role}", 200, "auth:admin",
     auth_validate_role_change, auth_role_revoke},
    {"user_disable", "POST", "/api/v1/auth/users/{id}/disable", 200, "auth:admin", auth_validate_id,
     auth_user_disable},
    {"user_enable", "POST", "/api/v1/auth/users/{id}/enable", 200, "auth:admin", auth_validate_id,
     auth_user_enable},
    {"audit_list", "GET", "/api/v1/auth/audit", 200, "auth:admin", auth_validate_audit_list,
     auth_audit_list},
    {"roles_list", "GET", "/api/v1/auth/roles", 200, "auth:admin", auth_validate_roles_list,
     auth_roles_list},
    {"role_create", "POST", "/api/v1/auth/roles", 201, "auth:admin", auth_validate_role_create,
     auth_role_create},
    {"role_delete", "DELETE", "/api/v1/auth/roles/{name}", 200, "auth:admin",
     auth_validate_role_name, auth_role_delete},

    /* internal (no REST route): gateways, and the member service on behalf of its caller */
    {"revocations", NULL, NULL, 200, NULL, auth_validate_revocations, auth_revocations},
    {"club_suspend", NULL, NULL, 200, "club:admin", auth_validate_club_ref, auth_club_suspend},
    {"club_resume", NULL, NULL, 200, "club:admin", auth_validate_club_ref, auth_club_resume},
    {"users_in_club", NULL, NULL, 200, "member:admin", auth_validate_users_in_club,
     auth_users_in_club},
};

const svc_module_t auth_module = {
    .name = "auth",
    .schema = "auth",
    .ops = auth_ops,
    .n_ops = sizeof auth_ops / sizeof auth_ops[0],
};
