/* jwt: JSON Web Tokens signed with one of three algorithms (OpenSSL 3 EVP), claims handled with
 * jansson. Pure functions on caller-owned objects; no I/O, no globals.
 *   RS256  RSASSA-PKCS1-v1_5 + SHA-256, RSA 2048..8192 (JWK kty "RSA": n, e)
 *   EdDSA  Ed25519 (RFC 8037; JWK kty "OKP", crv "Ed25519", x), 64-byte signature
 *   ES256  ECDSA P-256 + SHA-256 (RFC 7518 3.4; JWK kty "EC", crv "P-256", x, y of 32 bytes
 *          each), signature R || S (64 bytes), never DER
 * A key has exactly ONE algorithm, fixed by its type: RSA -> RS256, Ed25519 -> EdDSA, P-256 ->
 * ES256; other key types (RSA-PSS, Ed448, other curves, ...) are refused.
 *
 * Owns:
 * - jwt_key_t: one key (private+public, or public only), its algorithm and its `kid`. The kid
 *   is the base64url (no padding) of the first 16 bytes of SHA-256(SubjectPublicKeyInfo DER),
 *   22 chars. RSA moduli below 2048 bits are refused everywhere (generation, PEM and JWK
 *   import).
 * - jwt_keyset_t: kid -> public key, the verifier's trust store and the source of the JWKS
 *   document. It keeps its own copy of each key's public half (never the private key, so a
 *   keyset cannot sign), so keys may be freed after adding.
 *   A keyset is not locked: build a new one on rotation and swap the pointer, or guard it with a
 *   rwlock; concurrent jwt_verify calls on one keyset are safe (read-only use of EVP_PKEY).
 *
 * Verification binds the algorithm to the key: the header's "alg" must be "RS256", "EdDSA" or
 * "ES256" (exact, case-sensitive) AND equal the algorithm of the key its kid names; "none",
 * HS256 (including HMAC keyed with the public key PEM: the key type is never chosen by the
 * token), PS256, RS512, ..., and a known algorithm with a key of another one (an EdDSA header
 * with an RSA key's kid) are refused before any cryptography runs. Header parameters
 * that would pull keys from the token (jwk, jku, x5u, x5c) are ignored: keys come only from the
 * keyset. A "crit" header is refused (no extensions are understood); "typ", when present,
 * must be "JWT" or "at+jwt" (RFC 9068). Then: kid required and
 * known, signature length == modulus size (RS256) or 64 bytes (EdDSA, ES256), signature
 * verified BEFORE the payload is parsed,
 * payload a JSON object without duplicate keys, exp required, iss and aud required and equal
 * to the expected values (aud: string, or non-empty array of strings containing it), nbf and
 * iat optional but not in the future beyond the leeway. Time claims must be JSON integers.
 *
 * Errors (status 401 unless noted; message is a fixed sentence and never contains any part of
 * the token, not even the kid):
 *   token_too_large      token longer than JWT_MAX_TOKEN_LEN (8 KiB)
 *   token_malformed      not three segments, bad base64url, header/payload not a JSON object,
 *                        duplicate keys, invalid UTF-8, wrong claim types, typ not JWT/at+jwt
 *   token_alg_invalid    alg missing, not one of RS256/EdDSA/ES256, or not the kid's key's alg
 *   token_crit_unsupported  "crit" header present
 *   token_kid_missing    kid absent, not a string or empty
 *   token_kid_unknown    kid not in the keyset
 *   token_signature_invalid  signature does not verify (tampered header, payload or signature)
 *   token_expired        now >= exp + leeway (or exp missing: token_malformed)
 *   token_not_yet_valid  nbf > now + leeway, or iat > now + leeway
 *   token_lifetime_invalid  max_lifetime set and iat missing or exp - iat > max_lifetime (a
 *                        token signed with a real key but valid for years is refused)
 *   token_issuer_invalid iss missing or different
 *   token_audience_invalid aud missing or not containing the expected audience
 *   invalid_field (400), internal (500)  caller mistakes / OpenSSL failures */
#ifndef SERVICES_AUTH_JWT_H
#define SERVICES_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

#define JWT_MAX_TOKEN_LEN 8192
#define JWT_KID_LEN 22     /* base64url of 16 bytes */
#define JWT_MAX_LEEWAY 300 /* seconds */
#define JWT_MIN_RSA_BITS 2048
#define JWT_MAX_RSA_BITS 8192

typedef struct jwt_key jwt_key_t;
typedef struct jwt_keyset jwt_keyset_t;

typedef enum { JWT_ALG_RS256 = 0, JWT_ALG_EDDSA = 1, JWT_ALG_ES256 = 2 } jwt_alg_t;

/* "RS256", "EdDSA", "ES256" ("" for an unknown value). */
const char *jwt_alg_name(jwt_alg_t alg);
/* The algorithm named exactly (case-sensitive, as in a JWS header): 0, or -1 when unknown. */
int jwt_alg_parse(const char *name, jwt_alg_t *out);

/* ---------------------------------------------------------------- keys */

/* New RSA key pair; bits must be 2048, 3072 or 4096. */
int jwt_key_generate(int bits, jwt_key_t **out, err_t *e);
/* New key pair for alg: RSA 2048, Ed25519 or P-256. */
int jwt_key_generate_alg(jwt_alg_t alg, jwt_key_t **out, err_t *e);
/* Loads a private key from unencrypted PEM (PKCS#8 "PRIVATE KEY", or PKCS#1 "RSA PRIVATE KEY" /
 * SEC1 "EC PRIVATE KEY"): RSA 2048..8192, Ed25519 or EC P-256. */
int jwt_key_from_private_pem(const char *pem, size_t len, jwt_key_t **out, err_t *e);
/* Loads a public key from a JWK object: kty "RSA" (n, e), "OKP" (crv "Ed25519", x) or "EC" (crv
 * "P-256", x, y; the point must be on the curve). alg if present must be the kty's algorithm,
 * use if present must be "sig", a private member "d" is refused. The kid is recomputed from the
 * key; a "kid" member that differs is an error (a JWKS cannot rename keys). */
int jwt_key_from_jwk(json_t *jwk, jwt_key_t **out, err_t *e);
void jwt_key_free(jwt_key_t *k);

/* The key's kid (NUL-terminated, JWT_KID_LEN chars); valid while the key lives. */
const char *jwt_key_kid(const jwt_key_t *k);
/* The key's one algorithm. */
jwt_alg_t jwt_key_alg(const jwt_key_t *k);
int jwt_key_is_private(const jwt_key_t *k);
/* PKCS#8 PEM of the private key; free with jwt_secret_free (wipes it). NULL on error. */
char *jwt_key_private_pem(const jwt_key_t *k, err_t *e);
/* SubjectPublicKeyInfo PEM ("PUBLIC KEY"); caller frees with free(). */
char *jwt_key_public_pem(const jwt_key_t *k, err_t *e);
/* {"kty":"RSA","use":"sig","alg":"RS256","kid":...,"n":...,"e":...},
 * {"kty":"OKP","crv":"Ed25519","use":"sig","alg":"EdDSA","kid":...,"x":...} or
 * {"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":...,"x":...,"y":...}; new reference. */
json_t *jwt_key_public_jwk(const jwt_key_t *k, err_t *e);
/* Overwrites a NUL-terminated secret string and frees it. NULL is fine. */
void jwt_secret_free(char *s);

/* ---------------------------------------------------------------- signing */

/* Signs `claims` (a JSON object, serialised compactly in insertion order) with a private key.
 * Header: {"alg":<the key's alg>,"typ":"JWT","kid":<kid>}. Returns a malloc'd token or NULL. The
 * claims are not validated here: the caller sets iss, sub, aud, exp, iat, nbf, jti, ... */
char *jwt_sign(const jwt_key_t *k, const json_t *claims, err_t *e);

/* ---------------------------------------------------------------- key set */

jwt_keyset_t *jwt_keyset_new(void);
void jwt_keyset_free(jwt_keyset_t *ks);
/* Adds a copy of the public half of k (k may be freed afterwards). A kid already present is an
 * error (409 "conflict"). At most 64 keys. */
int jwt_keyset_add(jwt_keyset_t *ks, const jwt_key_t *k, err_t *e);
/* 0 when removed, -1 (404 "not_found") when absent. */
int jwt_keyset_remove(jwt_keyset_t *ks, const char *kid, err_t *e);
size_t jwt_keyset_count(const jwt_keyset_t *ks);
/* {"keys":[jwk, ...]} in insertion order, for GET /.well-known/jwks.json; new reference. */
json_t *jwt_keyset_jwks(const jwt_keyset_t *ks, err_t *e);

/* ---------------------------------------------------------------- verification */

typedef struct jwt_verify_opts {
    const char *issuer;   /* required: exact match with "iss" */
    const char *audience; /* required: "aud" string equal, or array containing it */
    int64_t now;          /* Unix seconds (time(NULL) in production; fixed in tests) */
    int leeway;           /* seconds of clock skew tolerated, 0..JWT_MAX_LEEWAY */
    int64_t max_lifetime; /* > 0: iat required and exp - iat <= max_lifetime; 0 = no bound */
} jwt_verify_opts_t;

/* Verifies `token` (len bytes, need not be NUL-terminated). On success *claims is a new
 * reference to the payload object; on failure *claims is NULL and e says why (see above). */
int jwt_verify(const jwt_keyset_t *ks, const char *token, size_t len, const jwt_verify_opts_t *o,
               json_t **claims, err_t *e);

#endif
