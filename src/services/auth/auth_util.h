/* auth_util: what every part of the auth service shares: the check that the key-encryption key
 * (KEK, auth_settings(env)->kek from RECIPROCAL_AUTH_KEK; every RECIPROCAL_AUTH_* value lives in
 * the module's table, auth.c) is configured, and the small helpers around it: opaque token
 * generation and hashing, refresh tokens (MAC'd club, session, generation), secretbox sealing with
 * the KEK, bytea codecs, login throttling (auth.throttle), the audit log and outbox events.
 * Thread-safe; owns no state beyond libsodium's one-time initialisation. */
#ifndef SERVICES_AUTH_AUTH_UTIL_H
#define SERVICES_AUTH_AUTH_UTIL_H

#include <jansson.h>
#include <stddef.h>

#include "core/config.h"
#include "core/db.h"
#include "core/err.h"
#include "core/service.h"
#include "services/auth/auth.h"

/* The tenant id of network administrators (they belong to no club). */
#define AUTH_NETWORK_CLUB "00000000-0000-0000-0000-000000000000"
#define AUTH_TOKEN_LEN 43 /* base64url of 32 random bytes */
#define AUTH_HASH_HEX 65  /* SHA-256 hex + NUL */
#define AUTH_KEK_LEN 32

/* 0 when RECIPROCAL_AUTH_KEK is configured (as->kek.set), else -1 with 503
 * "auth_not_configured" naming the variable (cfg_key_require). The other RECIPROCAL_AUTH_*
 * values are read from the settings (auth_settings(env)) directly. */
int auth_conf_require(const auth_settings_t *as, err_t *e);

/* 32 random bytes as base64url (43 chars). */
int auth_token_new(char out[AUTH_TOKEN_LEN + 1], err_t *e);
/* SHA-256 of a string, lower-case hex. */
void auth_sha256_hex(const char *s, size_t len, char out[AUTH_HASH_HEX]);

/* Refresh tokens (migration auth 0007): base64url of club (16 bytes) || session (16) ||
 * generation (4, big-endian) || MAC (16: HMAC-SHA256 of the 36 bytes before it, truncated, keyed
 * with a subkey of RECIPROCAL_AUTH_KEK), 70 characters. Nothing secret is stored: the session
 * row keeps the generation of its live token (auth.sessions.refresh_gen), so every token the
 * service ever issued is recognised exactly (live, or rotated = reuse) and no other can be named.
 * make: the token of generation gen of session sid in club (uuid text). open: 1 when tok is such
 * a token and its MAC is right (constant-time), with club and sid (lower-case uuid text) and
 * *gen; 0 otherwise (a 43-character token is one from before 0007: auth.refresh_tokens). */
#define AUTH_REFRESH_LEN 70
int auth_refresh_token_make(const auth_settings_t *as, const char *club, const char *sid, int gen,
                            char out[AUTH_REFRESH_LEN + 1], err_t *e);
int auth_refresh_token_open(const auth_settings_t *as, const char *tok, char club[37], char sid[37],
                            int *gen);

/* secretbox with the KEK: out = nonce || ciphertext (malloc'd). */
int auth_seal(const auth_settings_t *as, const unsigned char *pt, size_t n, unsigned char **out,
              size_t *out_len, err_t *e);
int auth_open(const auth_settings_t *as, const unsigned char *ct, size_t n, unsigned char **out,
              size_t *out_len, err_t *e);

/* bytea <-> PostgreSQL hex text ("\x0a1b..."). encode: malloc'd; decode: malloc'd. */
char *auth_bytea_encode(const unsigned char *b, size_t n);
unsigned char *auth_bytea_decode(const char *s, size_t *n);

/* Throttling (exponential backoff, then lockout), keyed by auth_sha256_hex of a subject such as
 * "acct|<club>|<lower email>" or "ip|<ip>". check: 429 "too_many_attempts" while locked (the
 * message ends with "Try again in N seconds."). fail: records a failure, locking the key for
 * 15 s x 2^(failures - max) (capped at 15 minutes) once failures >= max; failures older than
 * 15 minutes are forgotten. reset: forgets the key. The 429 is lib/credentials/throttle's
 * (throttle_refuse), which the gateway reads back as Retry-After. */
int auth_throttle_check(db_tx_t *tx, const char *subject, err_t *e);
int auth_throttle_fail(db_tx_t *tx, const char *subject, int max, err_t *e);
int auth_throttle_reset(db_tx_t *tx, const char *subject, err_t *e);

/* An audit row (club scope of the transaction); detail is stolen (decref'd). Events go
 * through svc_emit (core/service.h). */
int auth_audit(db_tx_t *tx, const svc_caller_t *c, const char *club_id, const char *user_id,
               const char *action, json_t *detail, err_t *e);

/* The tenant of a caller's own rows: its club, or AUTH_NETWORK_CLUB for a network admin. */
const char *auth_caller_club(const svc_caller_t *c);
/* The club of an opaque token (auth.token_club); "" (and 0) when unknown. */
int auth_token_club(const svc_env_t *env, const char *kind, const char *hash, char club[40],
                    err_t *e);

/* Clubs belong to the member service: auth asks it (operation member.resolve_club, through
 * svc_call: in this process or over NATS), never reads member.clubs, and never inside one of its
 * own transactions. auth_club_resolve: the club whose key ("id" or "slug") is value; club = its
 * id ("" when none), *active = 1 when its status is active. */
int auth_club_resolve(const svc_env_t *env, const svc_caller_t *caller, const char *key,
                      const char *value, char club[40], int *active, err_t *e);
/* The id of an active club by slug; "" when none. */
int auth_club_by_slug(const svc_call_t *call, const char *slug, char club[40], err_t *e);
/* 0 when club_id names an active club, else 422 invalid_field club_id (not the suspension
 * check: that is auth_require_club_active, on auth's own table). */
int auth_require_active_club_id(const svc_call_t *call, const char *club_id, err_t *e);

/* Validation helpers: the named string field holds an email / an opaque token. */
int auth_v_email(json_t *in, const char *name, int required, err_t *e);
int auth_v_token(json_t *in, const char *name, err_t *e);
int auth_v_password(json_t *in, const char *name, err_t *e);

#endif
