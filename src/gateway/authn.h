/* authn: the gateway's authentication check. Turns `Authorization: Bearer <jwt>` into the
 * svc_caller_t the operations see (user_id = sub, club_id, network_admin from the roles,
 * perms, session_id = sid), verifying the access token (RS256, EdDSA or ES256: jwt.h) with the auth
 * service's published keys. Owns a process-wide cache of that key set, fetched through the normal
 * service transport (the auth module's `jwks` operation: a local call when auth runs in this
 * process, NATS otherwise), refreshed every 5 minutes and at once when a token names an unknown kid
 * (at most once per 10 s, so forged kids cannot make it hammer the auth service; once more at
 * once after a key rotation, heard on `events.auth.signing_keys_rotated`). Thread-safe
 * (rwlock).
 *
 * A missing token leaves the caller anonymous (public operations work; the others answer 401
 * from svc_dispatch). A token that is present but invalid is an error (401 with the verifier's
 * code: token_expired, token_kid_unknown, ...) for every operation that needs a permission;
 * public operations ignore it. A token whose lifetime (exp - iat) exceeds
 * RECIPROCAL_AUTH_ACCESS_TTL_SECONDS is refused (token_lifetime_invalid).
 *
 * Revocation is immediate: the process keeps the revoked sessions and suspended clubs the auth
 * service publishes on `auth.revoked` (services/auth/auth_revoke.h; subscribed when the first
 * token is checked) in a bounded set (authn_cache.h), reads the recent ones through the auth
 * service's `revocations` operation before accepting its first token, after each NATS reconnect
 * and every 60 s, and refuses a token of a revoked session, or of a club suspended after it was
 * issued, with 401 token_revoked (docs/security.md A2). */
#ifndef GATEWAY_AUTHN_H
#define GATEWAY_AUTHN_H

#include "core/http.h"
#include "core/service.h"

/* Fills *c from the request (ids, ip, user agent) and its bearer token. 0 = caller set
 * (possibly anonymous); -1 = a token was sent but is not valid (e: 401 token_*), or the keys
 * could not be obtained (e: 503). On -1, *c is still filled as an anonymous caller. */
int authn_caller(const svc_env_t *env, const http_request_t *req, svc_caller_t *c, err_t *e);
/* Adds WWW-Authenticate to 401 answers and Retry-After to 429 answers. */
void authn_error_headers(http_response_t *resp, const err_t *e);
/* Drops the cached key set (tests). */
void authn_forget_keys(void);

#endif
