/* fcm_auth: the OAuth 2 access token of FCM HTTP v1 pushes, minted from a Google service account
 * (RECIPROCAL_PUSH_SERVICE_ACCOUNT_FILE: the JSON key file with client_email, private_key,
 * private_key_id, token_uri) instead of a static RECIPROCAL_PUSH_AUTH: a JWT assertion signed
 * RS256 with the account's key ({iss: client_email, scope: firebase.messaging, aud: token_uri,
 * iat, exp = iat + 1 h}) is exchanged at token_uri (grant_type
 * urn:ietf:params:oauth:grant-type:jwt-bearer, POSTed through webhook_http's checked, pinned
 * request: https and public addresses unless allow-listed) for {access_token, expires_in}. Owns
 * one process-wide cache (mutex): the token is reused until 60 s before it expires (a token
 * valid for 60 s or less is used once). The key and the token are never logged. */
#ifndef SERVICES_NOTIFICATION_FCM_AUTH_H
#define SERVICES_NOTIFICATION_FCM_AUTH_H

#include <stddef.h>

#include "core/err.h"
#include "services/notification/notification.h"

#define NOTIFY_FCM_TOKEN_MAX 2048

/* "Bearer <access token>" into out (cached, else minted). 0, or -1 + e: 500 invalid_config (the
 * file is unreadable or lacks a field, the key is not an RSA private key), 503 unavailable (the
 * token endpoint failed or answered no token: the push is retried), or the URL check's error. */
int notify_fcm_bearer(const notification_settings_t *s, char out[NOTIFY_FCM_TOKEN_MAX], err_t *e);

/* Forgets the cached token (tests; a rotated key file). */
void notify_fcm_forget(void);

#endif
