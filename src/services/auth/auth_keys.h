/* auth_keys: the auth service's signing keys, of the algorithm RECIPROCAL_JWT_ALG names (RS256:
 * RSA 2048, EdDSA: Ed25519, ES256: P-256; column auth.signing_keys.alg). Owns the process-wide
 * cache of the active private key and of the published key set, loaded from auth.signing_keys
 * (private keys stored encrypted with the KEK, see auth_util.h) and reloaded every 60 s so that
 * a rotation made by another process (`reciprocal auth rotate-keys`) is picked up. The active
 * key is the newest unretired key of the configured algorithm; when there is none (an empty
 * database, or the algorithm was just changed) the first use generates one (under an advisory
 * lock, so concurrent processes agree) and retires nothing. Published keys: every active key
 * (any algorithm) plus every key retired less than one access-token lifetime (+ 5 min leeway)
 * ago, so tokens signed before a rotation or an algorithm change keep verifying until they
 * expire. The cache does not follow a change of the settings' algorithm within a process:
 * auth_keys_forget() first (tests). Every new key (a rotation, or the first key of an algorithm)
 * writes auth.signing_keys_rotated to the outbox in its transaction, so that every process
 * running auth reloads at once (auth_keys_follow) and gateways refetch the key set.
 * Thread-safe (rwlock: signing runs concurrently, a reload swaps under the write lock). */
#ifndef SERVICES_AUTH_AUTH_KEYS_H
#define SERVICES_AUTH_AUTH_KEYS_H

#include <jansson.h>

#include "core/config.h"
#include "core/db.h"
#include "core/err.h"
#include "core/service.h"
#include "services/auth/auth.h"

/* Signs claims with the active key; malloc'd token. */
char *auth_keys_sign(const auth_settings_t *as, db_pool_t *db, const json_t *claims, err_t *e);
/* 0 when a signing key is loaded (loading or creating it as auth_keys_sign would), so that a
 * token can be signed after a commit without a database round trip. */
int auth_keys_ready(const auth_settings_t *as, db_pool_t *db, err_t *e);
/* {"keys":[...]} of the published keys; new reference. */
json_t *auth_keys_jwks(const auth_settings_t *as, db_pool_t *db, err_t *e);
/* New active key of the configured algorithm; every other active key is retired (still
 * published until its tokens expire).
 * Writes the new kid (23 bytes) to kid_out when non-NULL. */
int auth_keys_rotate(const auth_settings_t *as, db_pool_t *db, char *kid_out, err_t *e);
/* auth_keys_jwks through the read cache "jwks" (core/rcache.h): the key set's text is kept until
 * a rotation (auth.signing_keys_rotated, written to the outbox in the rotation's transaction
 * and heard by every process running auth: auth_keys_follow) or RECIPROCAL_CACHE_TTL_SECONDS.
 * A new reference (a raw value on a hit: jsonx_raw). */
json_t *auth_keys_jwks_cached(const auth_settings_t *as, db_pool_t *db, err_t *e);
/* Follows auth.signing_keys_rotated on env's bus: a rotation made by any process (also
 * `reciprocal auth rotate-keys`) drops this process's keys and cached key set at once, not
 * after the 60 s reload (`serve`, through the auth module's start hook). */
int auth_keys_follow(const svc_env_t *env, err_t *e);
/* Drops the cache, the cached key set too (a rotation; tests: the next call reloads from the
 * database). */
void auth_keys_forget(void);

#endif
