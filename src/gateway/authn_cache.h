/* authn_cache: verified access tokens -> the identity they carry, so the gateway runs the JWT
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
 * So a hit gives the answer the full verification would give. Tokens are never stored, only
 * their digests.
 *
 * Beside it, authn_revset_t: the revoked sessions and suspended clubs the auth service announced
 * (auth.revoked, services/auth/auth_revoke.h), checked after every verification or cache hit, so
 * a revoked token is refused at once. Bounded (capacity entries, 8-way set associative, one
 * mutex); an entry lives until the last token it concerns has expired (the caller passes
 * at + access TTL + slack). Fail-safe when full: the entry with the oldest revocation time in
 * the set is evicted and the set's "floor" rises to that time, so every token issued at or
 * before it is refused (its holder refreshes) rather than a revoked one being accepted. */
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
    int64_t issued_at; /* iat */
} authn_ident_t;

typedef struct authn_cache authn_cache_t;

/* capacity is rounded up to a power of two, at least 4. NULL when out of memory. */
authn_cache_t *authn_cache_new(size_t capacity);
void authn_cache_free(authn_cache_t *c);
/* key = SHA-256(len(issuer) issuer len(audience) audience token), lengths as 8 little-endian
 * bytes: OpenSSL's SHA-256 (hardware SHA instructions), libsodium's when OpenSSL fails.
 * authn_cache_key_portable is the libsodium computation alone (the same digest; the test and
 * the micro-benchmark compare them). */
void authn_cache_key(const char *issuer, const char *audience, const char *token, size_t len,
                     unsigned char key[AUTHN_CACHE_KEY_LEN]);
void authn_cache_key_portable(const char *issuer, const char *audience, const char *token,
                              size_t len, unsigned char key[AUTHN_CACHE_KEY_LEN]);
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

/* ---- revoked sessions and suspended clubs ---- */

typedef struct authn_revset authn_revset_t;

#define AUTHN_REVOKED_SESSION 1 /* every token of the session is refused */
#define AUTHN_REVOKED_CLUB 2    /* tokens of the club issued at or before `at` are refused */

/* capacity rounded up to a power of two, at least 8. NULL when out of memory. */
authn_revset_t *authn_revset_new(size_t capacity);
void authn_revset_free(authn_revset_t *r);
/* Records id (kind AUTHN_REVOKED_*, a uuid string) revoked at `at` (Unix seconds), remembered
 * while now < until. A repeated id keeps the later `at` and `until`. */
void authn_revset_add(authn_revset_t *r, int kind, const char *id, int64_t at, int64_t until);
/* Refuses every token issued at or before `at` while now < until (the bound when revocations
 * may be missing: a full set, or an incomplete list from the auth service). */
void authn_revset_floor(authn_revset_t *r, int64_t at, int64_t until);
/* 1 when a token of session sid (may be "") in club (may be "") issued at iat is refused at
 * now. */
int authn_revset_revoked(authn_revset_t *r, const char *sid, const char *club, int64_t iat,
                         int64_t now);
/* Entries live at now (tests, metrics). */
size_t authn_revset_count(authn_revset_t *r, int64_t now);

#endif
