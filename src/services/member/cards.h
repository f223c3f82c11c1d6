/* cards: the digital membership card. Owns the per-club Ed25519 key pairs (member.club_keys
 * public, member.club_key_secrets private half encrypted with XChaCha20-Poly1305 under the
 * key-encryption key RECIPROCAL_CARD_KEK, base64 of 32 bytes, with the club id as associated
 * data), card issue (token + QR code SVG), online verification against member.card_registry,
 * and the public-key endpoint for offline verification. Key generation, sealing, kids, token
 * signing and the public-key JSON are lib/credentials/signkey's; the QR code is
 * lib/credentials/qrsvg's. Token: "MC1." base64url(payload JSON) "." base64url(Ed25519 signature of
 * everything before the second dot). Payload: v, kid, club, mid, num, cat, st, exp (membership
 * expiry date or null), iat, tex (token expiry, unix seconds). Format and offline check:
 * docs/member.md. */
#ifndef SERVICES_MEMBER_CARDS_H
#define SERVICES_MEMBER_CARDS_H

#include <stddef.h>

#include "core/service.h"

int cards_validate_get(json_t *in, err_t *e);
int cards_validate_verify(json_t *in, err_t *e);
int cards_validate_key(json_t *in, err_t *e);
int cards_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int cards_verify(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int cards_public_key(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* Retires the club's current card key and makes a new one (member:admin). A retired key is
 * still published by cards_public_key until the last token it signed has expired. */
int cards_validate_rotate(json_t *in, err_t *e);
int cards_rotate_key(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Offline check of a token with the issuing club's public key at time now (unix seconds):
 * signature, token expiry, membership expiry and status in the payload. Returns 1 when valid;
 * else 0 and reason ("malformed", "bad_signature", "token_expired", "membership_expired",
 * "member_<status>"). *payload (may be NULL) receives the decoded payload when readable. */
int card_check_offline(const char *token, const unsigned char pk[32], long long now,
                       json_t **payload, char *reason, size_t cap);

#endif
