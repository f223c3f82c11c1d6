/* webhook_seal: webhook secrets at rest (docs/notification.md "Sealed webhook secrets"). A
 * secret ("whsec_" + base64 of 32 bytes) is stored as the XChaCha20-Poly1305 seal of its 32
 * key bytes under RECIPROCAL_WEBHOOK_KEK, with a random nonce and "webhook:<endpoint id>" as
 * associated data (a sealed secret opens only for its own endpoint), in bytea columns written as
 * "\x<hex>" parameters and read back with encode(..., 'hex') (lib/credentials/signkey.h's
 * helpers, the form card keys use). Also the start-up sealing of rows stored in clear before
 * migration 0009. Secrets never reach a log or an error message; buffers are wiped. Owns
 * nothing. */
#ifndef SERVICES_NOTIFICATION_WEBHOOK_SEAL_H
#define SERVICES_NOTIFICATION_WEBHOOK_SEAL_H

#include "core/service.h"
#include "services/notification/webhook_http.h"

#define WEBHOOK_ENC_BYTES 48   /* 32 key bytes + the Poly1305 tag */
#define WEBHOOK_NONCE_BYTES 24 /* XChaCha20 */
#define WEBHOOK_ENC_PARAM (2 * WEBHOOK_ENC_BYTES + 3)
#define WEBHOOK_NONCE_PARAM (2 * WEBHOOK_NONCE_BYTES + 3)

/* The KEK from the settings: 0, or -1 + 503 webhook_secrets_unconfigured naming the variable. */
int webhook_kek(const svc_env_t *env, unsigned char kek[32], err_t *e);

/* Seals secret for endpoint id: enc and nonce as bytea parameters ("\x..."). 0 or -1 (not a
 * whsec_ secret of 32 bytes). */
int webhook_seal(const char *secret, const unsigned char kek[32], const char *id,
                 char enc[WEBHOOK_ENC_PARAM], char nonce[WEBHOOK_NONCE_PARAM]);
/* Opens the seal read back as hex for endpoint id into secret. 0, or -1 (secret wiped) when the
 * KEK or the endpoint differ or the columns were altered. */
int webhook_unseal(const char *enc_hex, const char *nonce_hex, const unsigned char kek[32],
                   const char *id, char secret[WEBHOOK_SECRET_MAX]);

/* At start: every endpoint whose secret (or previous secret) is still in clear is sealed and its
 * clear column emptied, in one transaction. Returns how many endpoints were sealed, -1 + e. */
int notify_webhooks_seal_legacy(const svc_env_t *env, err_t *e);

#endif
