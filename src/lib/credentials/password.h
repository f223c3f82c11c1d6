/* password: password hashing, verification and the password policy (issue 3, "Passwords").
 * Owns no state except a lazily computed dummy hash (password_verify_dummy) and libsodium's
 * one-time initialisation; every function is thread-safe.
 *
 * Hashing: argon2id through libsodium crypto_pwhash_str, PASSWORD_OPSLIMIT = 2 passes over
 * PASSWORD_MEMLIMIT = 19 MiB (19456 KiB), 1 lane: exactly OWASP's first recommended argon2id
 * configuration (m=19456 KiB, t=2, p=1), i.e. at the minimum, not below it. Measured on this
 * machine (2 vCPU AMD EPYC, Debian 12, libsodium 1.0.18, -O2), load average 1.0: 19.2-21.7 ms
 * per hash, median 19.8 ms (under load 2.6 from parallel builds: 25-38 ms; the dependency
 * notes measured 15.9 ms idle). Same run, other settings: t=3/19 MiB 27 ms, t=1/46 MiB 43 ms,
 * t=2/32 MiB 41 ms, t=2/46 MiB 57 ms, t=3/64 MiB 114 ms. Why not more:
 * every login pays this on a 2-core box, and memory is per concurrent hash (19 MiB x workers);
 * 64 MiB would cut login capacity ~5x and make login floods a memory DoS, for a margin OWASP
 * does not ask for. Raising the constants later is safe: password_verify reports needs_rehash
 * for hashes with other parameters, so they are upgraded at the next login.
 *
 * Verification accepts:
 * - "$argon2id$" (and legacy "$argon2i$") via crypto_pwhash_str_verify; parameters in the
 *   string are bounded (m <= 256 MiB, t <= 16) so a corrupted row cannot make one login
 *   allocate gigabytes;
 * - legacy bcrypt "$2a$", "$2b$", "$2y$" (60 characters, cost 04..16) via libxcrypt crypt_rn,
 *   result compared to the stored string with sodium_memcmp (constant time). Note bcrypt only
 *   uses the first 72 bytes of a password; that is the legacy hash's property, not ours.
 * needs_rehash is 1 for bcrypt, argon2i and argon2id with parameters other than the current
 * ones (crypto_pwhash_str_needs_rehash), else 0: callers re-hash with password_hash after a
 * successful login and store the new string.
 *
 * Policy (password_check_policy): 12..128 Unicode code points (not bytes), valid UTF-8
 * (overlong forms, surrogates and > U+10FFFF refused), no control characters (U+0000..U+001F,
 * U+007F), no composition rules, not on the shipped common-password list (common_passwords.h,
 * ASCII case-insensitive), not equal (case-insensitively) to a context string such as the
 * email address, its local part, or the user name. No Unicode normalisation is applied.
 *
 * Errors: 422 with field "password" and codes password_too_short, password_too_long,
 * password_invalid (bad UTF-8 / control characters), password_too_common,
 * password_matches_identity; verification failure is 401 "invalid_credentials" (a message
 * that does not say whether the account exists); an unknown or corrupt stored hash is 500
 * "invalid_hash"; 500 "internal" when libsodium fails (e.g. out of memory). */
#ifndef SERVICES_AUTH_PASSWORD_H
#define SERVICES_AUTH_PASSWORD_H

#include <stddef.h>

#include "core/err.h"

#define PASSWORD_OPSLIMIT 2ULL
#define PASSWORD_MEMLIMIT ((size_t)19456 * 1024) /* 19 MiB */
#define PASSWORD_MIN_CHARS 12
#define PASSWORD_MAX_CHARS 128
/* Hard limit on bytes accepted by hash/verify (128 code points x 4 bytes, with margin). */
#define PASSWORD_MAX_BYTES 1024
/* Buffer size for a stored hash string (crypto_pwhash_STRBYTES). */
#define PASSWORD_HASH_MAX 128
#define PASSWORD_BCRYPT_MAX_COST 16

/* Hashes a password (not policy-checked here: call password_check_policy first when the user
 * chooses it). out receives a NUL-terminated "$argon2id$v=19$m=19456,t=2,p=1$..." string. */
int password_hash(const char *password, char out[PASSWORD_HASH_MAX], err_t *e);

/* 0 when `password` matches `stored` (argon2id/argon2i/bcrypt); *needs_rehash (may be NULL)
 * is set on success. -1 otherwise (401 invalid_credentials, 500 invalid_hash or internal). */
int password_verify(const char *password, const char *stored, int *needs_rehash, err_t *e);

/* Costs the same as a failed password_verify against a current argon2id hash; call it when
 * the account does not exist so response times do not reveal that. */
void password_verify_dummy(const char *password);

/* Checks a new password. `context` is an optional NULL-terminated list of strings the
 * password must not equal (email, user name, club slug ...); NULL entries are not allowed
 * inside the list, pass NULL for none. */
int password_check_policy(const char *password, const char *const *context, err_t *e);

/* Number of Unicode code points of a valid UTF-8 string (strict: no overlongs, surrogates or
 * code points above U+10FFFF); -1 when invalid. */
long password_utf8_length(const char *s, size_t max_bytes);

#endif
