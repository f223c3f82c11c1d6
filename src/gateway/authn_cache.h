/* authn_cache: verified access tokens -> the identity they carry, so the gateway runs the RS256
 * signature check and the claims parsing once per token instead of once per request (an RSA
 * verification was ~15% of the CPU of an authenticated GET /api/v1/auth/me).
 *
 * Owns a fixed-size table (bounded memory: capacity entries, 4-way set associative, the entry
 * expiring soonest is evicted from a full set) guarded by one mutex; thread-safe.
 *
 * Only successful verifications are stored. The key is SHA-256 over the whole token and the
 * issuer and audience it was checked against, so a token differing in any byte (tampered
 * header, payload or signature) or checked under another configuration never hits: it gets the
 * full verification. Keys are compared in constant time. An entry answers only while
 *   - the key set generation is the one the token was verified with (the gateway bumps it
 *     whenever it installs a newly fetched key set, so a key that disappears from the JWKS takes
 *     its tokens' entries with it), and
 *   - valid_from <= now < valid_until, which the gateway sets to exactly the window in which
 *     jwt_verify would accept the token (nbf/iat - leeway, exp + leeway).
 * So a hit gives the answer the full verification would give; revocation semantics are unchanged
 * (an access token is honoured until it expires, docs/auth.md). Tokens are never stored, only
 * their digests. */
#ifndef GATEWAY_AUTHN_CACHE_H
#define GATEWAY_AUTHN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define AUTHN_CACHE_KEY_LEN 32

/* What a verified token says about its bearer (the svc_caller_t fields it sets). */
typedef struct authn_ident {
    char user_id[40];
    char club_id[40];
    char perms[512];
    char session_id[40];
    int network_admin;
} authn_ident_t;

typedef struct authn_cache authn_cache_t;

/* capacity is rounded up to a power of two, at least 4. NULL when out of memory. */
authn_cache_t *authn_cache_new(size_t capacity);
void authn_cache_free(authn_cache_t *c);
/* key = SHA-256(len(issuer) issuer len(audience) audience token) */
void authn_cache_key(const char *issuer, const char *audience, const char *token, size_t len,
                     unsigned char key[AUTHN_CACHE_KEY_LEN]);
/* 1 and *out filled when a live entry matches (key, generation, window); 0 otherwise. */
int authn_cache_get(authn_cache_t *c, const unsigned char key[AUTHN_CACHE_KEY_LEN],
                    uint64_t keyset_gen, int64_t now, authn_ident_t *out);
/* Stores (or replaces) an entry valid for valid_from <= now < valid_until. */
void authn_cache_put(authn_cache_t *c, const unsigned char key[AUTHN_CACHE_KEY_LEN],
                     uint64_t keyset_gen, int64_t valid_from, int64_t valid_until,
                     const authn_ident_t *id);
/* Drops every entry. */
void authn_cache_clear(authn_cache_t *c);
/* Entries live at `now` under generation keyset_gen (tests, metrics). */
size_t authn_cache_count(authn_cache_t *c, uint64_t keyset_gen, int64_t now);

#endif
