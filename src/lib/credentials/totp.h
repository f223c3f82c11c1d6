/* totp: the building blocks of TOTP multi-factor authentication (issue 3, "MFA"): RFC 6238
 * codes (HMAC-SHA-1, 6 digits, 30 s steps, +-1 step window) computed by liboath, secrets and
 * base32 (RFC 4648), the otpauth:// enrolment URI, its QR code as SVG (libqrencode), replay
 * refusal by time step, and single-use recovery codes. Pure functions: storage of the secret,
 * of the last used step and of the recovery hashes belongs to the caller (the auth service).
 * Owns only liboath's process-wide initialisation (done once on first use; totp_global_cleanup
 * releases it at exit).
 *
 * Replays: totp_verify returns the time step the code matched. The caller stores it as
 * last_step and passes it back next time; a code whose step is <= last_step is refused
 * ("mfa_code_replayed"), so a code cannot be used twice, nor can an older code be used after a
 * newer one. Update last_step atomically with the login (e.g. UPDATE ... WHERE last_step < $n).
 *
 * Recovery codes: 10 per user, each 80 random bits shown as 16 base32 characters in groups
 * (XXXX-XXXX-XXXX-XXXX). Stored as SHA-256(salt || normalised code) with a 16-byte random
 * per-user salt. Why not argon2id: the codes are random with 80 bits of entropy, so a stolen
 * database cannot be brute-forced even at GPU SHA-256 speeds (2^79 guesses on average), and a
 * slow hash would make each recovery attempt cost 10 argon2id runs (one per stored code) for
 * no gain; a password-style slow hash only matters for low-entropy secrets. (The brief's
 * example, 10 characters = 50 bits, would NOT be safe with a fast hash; hence 16.) Input is
 * normalised before hashing: case-insensitive, '-' and spaces ignored, and the digits 0, 1, 8
 * (not in the base32 alphabet) read as O, I, B. Verification compares against every stored
 * hash in constant time (CRYPTO_memcmp, no early exit).
 *
 * Errors: 401 "mfa_code_invalid" (wrong, malformed or out-of-window code, unknown recovery
 * code), 401 "mfa_code_replayed", 422 "invalid_field" for bad caller input (field named),
 * 500 "internal". Messages never contain codes or secrets. */
#ifndef SERVICES_AUTH_TOTP_H
#define SERVICES_AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define TOTP_SECRET_LEN 20 /* bytes (160 bits, RFC 4226 recommendation) */
#define TOTP_SECRET_B32_LEN 32
#define TOTP_DIGITS 6
#define TOTP_PERIOD 30
#define TOTP_WINDOW 1 /* steps accepted either side of the current one */
#define TOTP_MAX_SECRET_LEN 64
#define TOTP_ISSUER_MAX 64
#define TOTP_ACCOUNT_MAX 254
#define TOTP_QR_TEXT_MAX 1024

#define TOTP_RECOVERY_COUNT 10
#define TOTP_RECOVERY_CODE_CHARS 16                           /* base32 chars, 80 bits */
#define TOTP_RECOVERY_CODE_LEN (TOTP_RECOVERY_CODE_CHARS + 3) /* with dashes */
#define TOTP_RECOVERY_SALT_LEN 16
#define TOTP_RECOVERY_HASH_LEN 32

/* Releases liboath (oath_done). Call once at process exit, after the last totp_* call. */
void totp_global_cleanup(void);

/* 20 bytes from the OpenSSL CSPRNG. */
int totp_secret_generate(unsigned char secret[TOTP_SECRET_LEN], err_t *e);

/* RFC 4648 base32, upper case, no padding. out needs ceil(len*8/5)+1 bytes (cap). */
int totp_base32_encode(const unsigned char *in, size_t len, char *out, size_t cap, err_t *e);
/* Case-insensitive; trailing '=' padding allowed; anything else outside the alphabet, an
 * impossible length or non-zero unused bits is an error. *out_len receives the byte count. */
int totp_base32_decode(const char *in, unsigned char *out, size_t cap, size_t *out_len, err_t *e);

/* Time step of a Unix time: floor(t / TOTP_PERIOD). t must be >= 0. */
int64_t totp_step(int64_t t);
/* The replay rule: 1 when a code matched at `step` may be accepted after `last_step` (the step
 * of the last accepted code, or -1 when none), i.e. step > last_step. */
int totp_step_is_fresh(int64_t step, int64_t last_step);

/* The code of `step` with `digits` digits (6..8) into out (digits + 1 bytes). */
int totp_code_at_step(const unsigned char *secret, size_t len, int64_t step, unsigned digits,
                      char *out, err_t *e);

/* Verifies a 6-digit code at time `now` against steps totp_step(now) - 1 .. + 1, refusing
 * steps <= last_step (pass -1 when no code was used yet). On success *matched_step is the
 * (smallest fresh) step the code matched; store it as the new last_step. */
int totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now,
                int64_t last_step, int64_t *matched_step, err_t *e);

/* otpauth://totp/<issuer>:<account>?secret=<b32>&issuer=<issuer>&algorithm=SHA1&digits=6&
 * period=30, issuer and account percent-encoded (RFC 3986 unreserved characters kept). Neither
 * may be empty, contain ':' or control characters, or exceed TOTP_ISSUER_MAX /
 * TOTP_ACCOUNT_MAX bytes. Caller frees. */
char *totp_uri(const char *issuer, const char *account, const unsigned char *secret, size_t len,
               err_t *e);

/* QR code (error correction M, 8-bit mode) of `text` as a standalone SVG document: a white
 * background and one black <path>, 4-module quiet zone, 4 px per module. Caller frees. */
char *totp_qr_svg(const char *text, err_t *e);

/* Generates the recovery codes to show once, a fresh salt and the hashes to store. */
int totp_recovery_generate(char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_CODE_LEN + 1],
                           unsigned char salt[TOTP_RECOVERY_SALT_LEN],
                           unsigned char hashes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_HASH_LEN],
                           err_t *e);
/* Hash of one code as typed by the user (normalised first, see above). */
int totp_recovery_hash(const char *code, const unsigned char salt[TOTP_RECOVERY_SALT_LEN],
                       unsigned char out[TOTP_RECOVERY_HASH_LEN], err_t *e);
/* Finds `code` among n stored hashes (n <= TOTP_RECOVERY_COUNT * 4) in constant time; *index
 * receives the matching position, which the caller then deletes (single use). */
int totp_recovery_verify(const char *code, const unsigned char salt[TOTP_RECOVERY_SALT_LEN],
                         const unsigned char (*hashes)[TOTP_RECOVERY_HASH_LEN], size_t n,
                         size_t *index, err_t *e);

#endif
