/* signkey: the Ed25519 signing-key machinery shared by every service that signs tokens (member
 * cards, reciprocal letters of introduction). Pure: no database, no configuration; the caller
 * stores what this module produces and owns every buffer it passes in.
 * - key pairs and their kid (base64url of the first 12 bytes of SHA-256(public key), 16 chars);
 * - the private half sealed with XChaCha20-Poly1305 under a 32-byte key-encryption key (KEK),
 *   with associated data naming the owner (e.g. the club id), so a sealed key cannot be moved to
 *   another owner;
 * - public keys as JSON: {"kid","alg":"Ed25519","public_key":<base64url>} (the form the card and
 *   LOI key endpoints publish) or as an RFC 8037 JWK {"kty":"OKP","crv":"Ed25519","x",...};
 *   a key set read from either form, looked up by kid;
 * - compact tokens "<PREFIX>" base64url(payload) "." base64url(signature over everything before
 *   the second dot), with a strict split (length limit, canonical base64url, 64-byte signature).
 * Secrets are wiped (sodium_memzero) by signkey_wipe and on every failure path. */
#ifndef LIB_CREDENTIALS_SIGNKEY_H
#define LIB_CREDENTIALS_SIGNKEY_H

#include <jansson.h>
#include <stddef.h>

#define SIGNKEY_PK_BYTES 32
#define SIGNKEY_SK_BYTES 64
#define SIGNKEY_SIG_BYTES 64
#define SIGNKEY_KID_MAX 40 /* buffer size for a kid, NUL included; kids are 16 chars */
#define SIGNKEY_NONCE_BYTES 24
#define SIGNKEY_SEALED_BYTES (SIGNKEY_SK_BYTES + 16) /* ciphertext + Poly1305 tag */

typedef struct {
    char kid[SIGNKEY_KID_MAX];
    unsigned char pk[SIGNKEY_PK_BYTES];
    unsigned char sk[SIGNKEY_SK_BYTES];
} signkey_t;

/* A public key of a key set. */
typedef struct {
    char kid[SIGNKEY_KID_MAX];
    unsigned char pk[SIGNKEY_PK_BYTES];
} signkey_pub_t;

/* The private half sealed under a KEK. */
typedef struct {
    unsigned char enc[SIGNKEY_SEALED_BYTES];
    unsigned char nonce[SIGNKEY_NONCE_BYTES];
} signkey_sealed_t;

/* A new random key pair with its kid. 0, or -1 when libsodium cannot start. */
int signkey_generate(signkey_t *k);
/* The kid of a public key into kid (SIGNKEY_KID_MAX bytes). */
void signkey_kid(const unsigned char pk[SIGNKEY_PK_BYTES], char kid[SIGNKEY_KID_MAX]);
/* Wipes the private half (and the rest) of k. */
void signkey_wipe(signkey_t *k);

/* Seals sk under kek with associated data ad (NUL-terminated, may be ""); fresh random nonce. */
int signkey_seal(const unsigned char sk[SIGNKEY_SK_BYTES], const unsigned char kek[32],
                 const char *ad, signkey_sealed_t *out);
/* Opens a sealed private key (enc: enc_len bytes, nonce: nonce_len bytes, as read back from
 * storage). 0, or -1 (sk wiped) when the lengths are wrong, the KEK or ad differ, or the
 * ciphertext was altered. */
int signkey_unseal(const unsigned char *enc, size_t enc_len, const unsigned char *nonce,
                   size_t nonce_len, const unsigned char kek[32], const char *ad,
                   unsigned char sk[SIGNKEY_SK_BYTES]);

/* {"kid","alg":"Ed25519","public_key":<base64url>} (new reference) or NULL on allocation
 * failure. */
json_t *signkey_public_json(const char *kid, const unsigned char pk[SIGNKEY_PK_BYTES]);

/* Keys as their owners store them (a public key table, a sealed-secret table; bytea columns
 * read as encode(x, 'hex') and written as '\x...' literals): the one code cards and letters of
 * introduction share.
 * signkey_hex: out = "\\x" + the hex of b (2 * n + 3 bytes), a bytea parameter.
 * signkey_unhex: hex into out (at most cap bytes, *n of them); 0, or -1 when not hex.
 * signkey_unseal_hex: signkey_unseal of a sealed key read back as hex; 0, or -1 (sk wiped).
 * signkey_published_json: one published key, signkey_public_json of kid and the hex public key
 *   with "created_at" and "retired_at" (NULL: null); NULL when pk_hex is not a 32-byte key. */
void signkey_hex(const unsigned char *b, size_t n, char *out);
int signkey_unhex(const char *hex, unsigned char *out, size_t cap, size_t *n);
int signkey_unseal_hex(const char *enc_hex, const char *nonce_hex, const unsigned char kek[32],
                       const char *ad, unsigned char sk[SIGNKEY_SK_BYTES]);
json_t *signkey_published_json(const char *kid, const char *pk_hex, const char *created_at,
                               const char *retired_at);
/* {"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid","x"} (RFC 8037), new reference. */
json_t *signkey_jwk(const char *kid, const unsigned char pk[SIGNKEY_PK_BYTES]);
/* One key from either JSON form: kid (1..SIGNKEY_KID_MAX-1 chars) and a 32-byte base64url key
 * under "public_key" or "x"; a JWK must say kty OKP / crv Ed25519. 0 or -1. */
int signkey_pub_from_json(const json_t *key, signkey_pub_t *out);
/* A key set from a JSON array of keys, or from an object with such an array under "keys" (the
 * key endpoints' answer, or a JWKS). *out is malloc'd (caller frees; NULL when empty). Keys that
 * do not parse are skipped. 0, or -1 when keys is neither form or more than 64 keys. */
int signkey_set_from_json(const json_t *keys, signkey_pub_t **out, size_t *n);
/* The key with this kid, or NULL. */
const signkey_pub_t *signkey_set_find(const signkey_pub_t *set, size_t n, const char *kid);

/* Detached signature over msg. */
void signkey_sign(const unsigned char *msg, size_t len, const unsigned char sk[SIGNKEY_SK_BYTES],
                  unsigned char sig[SIGNKEY_SIG_BYTES]);
/* 1 when sig is a valid signature of msg under pk, else 0. */
int signkey_verify(const unsigned char *msg, size_t len, const unsigned char sig[SIGNKEY_SIG_BYTES],
                   const unsigned char pk[SIGNKEY_PK_BYTES]);

/* prefix + base64url(payload) + "." + base64url(signature); malloc'd, NULL on allocation
 * failure. */
char *signkey_token_sign(const char *prefix, const unsigned char *payload, size_t len,
                         const unsigned char sk[SIGNKEY_SK_BYTES]);
/* Splits a compact token: it must be at most max_len chars, start with prefix, have exactly two
 * dots after it, canonical base64url parts and a 64-byte signature. *payload (malloc'd, NUL
 * appended, caller frees) and *len get the decoded payload, sig the signature, *signed_len the
 * length of the signed prefix of token. 0, or -1 (nothing allocated). */
int signkey_token_split(const char *token, size_t max_len, const char *prefix,
                        unsigned char **payload, size_t *len, unsigned char sig[SIGNKEY_SIG_BYTES],
                        size_t *signed_len);

#endif
