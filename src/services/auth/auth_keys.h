/* auth_keys: the auth service's RS256 signing keys. Owns the process-wide cache of the active
 * private key and of the published key set, loaded from auth.signing_keys (private keys stored
 * encrypted with the KEK, see auth_util.h) and reloaded every 60 s so that a rotation made by
 * another process (`reciprocal auth rotate-keys`) is picked up. The first use in an empty
 * database generates the first key (under an advisory lock, so concurrent processes agree).
 * Published keys: the active one plus every key retired less than one access-token lifetime
 * (+ 5 min leeway) ago, so tokens signed before a rotation keep verifying until they expire.
 * Thread-safe (rwlock: signing runs concurrently, a reload swaps under the write lock). */
#ifndef SERVICES_AUTH_AUTH_KEYS_H
#define SERVICES_AUTH_AUTH_KEYS_H

#include <jansson.h>

#include "core/config.h"
#include "core/db.h"
#include "core/err.h"
#include "services/auth/auth.h"

/* Signs claims with the active key; malloc'd token. */
char *auth_keys_sign(const auth_settings_t *as, db_pool_t *db, const json_t *claims, err_t *e);
/* {"keys":[...]} of the published keys; new reference. */
json_t *auth_keys_jwks(const auth_settings_t *as, db_pool_t *db, err_t *e);
/* New active key; the previous one is retired (still published until its tokens expire).
 * Writes the new kid (23 bytes) to kid_out when non-NULL. */
int auth_keys_rotate(const auth_settings_t *as, db_pool_t *db, char *kid_out, err_t *e);
/* Drops the cache (tests; the next call reloads from the database). */
void auth_keys_forget(void);

#endif
