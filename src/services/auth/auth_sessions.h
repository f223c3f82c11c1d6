/* auth_sessions: sign-in and sessions of the auth service: login (club slug + email +
 * password, or global for network administrators), refresh-token rotation with reuse
 * detection, logout, the caller's sessions, an admin's "revoke every session of a user" and the
 * JWKS document (`me`: auth_me.h). A session is one refresh-token family (auth.sessions); access
 * tokens are JWTs (RECIPROCAL_JWT_ALG: RS256, EdDSA or ES256) signed by auth_keys. A refresh is one
 * statement (auth.refresh_rotate) in one round trip. Owns no state. */
#ifndef SERVICES_AUTH_AUTH_SESSIONS_H
#define SERVICES_AUTH_AUTH_SESSIONS_H

#include <jansson.h>

#include "core/db.h"
#include "core/service.h"

int auth_validate_login(json_t *in, err_t *e);
int auth_login(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_refresh(json_t *in, err_t *e);
int auth_refresh(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_logout(json_t *in, err_t *e);
int auth_logout(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_none(json_t *in, err_t *e);
int auth_sessions_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_id(json_t *in, err_t *e);
int auth_session_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_user_revoke_sessions(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_jwks(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* The contract access tokens are issued under, for the token verifiers (the gateway):
 * {issuer, audience, access_ttl_s}. Internal (no route). */
int auth_token_contract(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Opens a session for a user who has just proved who they are (password, then MFA when
 * enrolled) inside tx (scope: the user's club), and builds the login response:
 * {access_token, token_type, expires_in, refresh_token, session_id, user{...}}. */
int auth_open_session(const svc_call_t *call, db_tx_t *tx, const char *club_id, const char *user_id,
                      int mfa, json_t **out, err_t *e);

#endif
