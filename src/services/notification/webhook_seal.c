/* webhook_seal: see webhook_seal.h. */
#include "services/notification/webhook_seal.h"

#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "lib/credentials/signkey.h"
#include "services/notification/notification.h"

static const db_scope_t k_system = {NULL, NULL, 0, 1};

int webhook_kek(const svc_env_t *env, unsigned char kek[32], err_t *e) {
    const cfg_key_t *k = &notification_settings(env)->webhook_kek;
    if (cfg_key_require(k, "RECIPROCAL_WEBHOOK_KEK", 503, "webhook_secrets_unconfigured", e) != 0)
        return -1;
    memcpy(kek, k->key, 32);
    return 0;
}

static void ad_of(const char *id, char ad[64]) {
    snprintf(ad, 64, "webhook:%s", id);
}

int webhook_seal(const char *secret, const unsigned char kek[32], const char *id,
                 char enc[WEBHOOK_ENC_PARAM], char nonce[WEBHOOK_NONCE_PARAM]) {
    unsigned char key[32], n[WEBHOOK_NONCE_BYTES], c[WEBHOOK_ENC_BYTES];
    size_t klen = 0;
    unsigned long long clen = 0;
    char ad[64];
    if (strncmp(secret, "whsec_", 6) != 0 ||
        sodium_base642bin(key, sizeof key, secret + 6, strlen(secret + 6), NULL, &klen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        klen != sizeof key) {
        sodium_memzero(key, sizeof key);
        return -1;
    }
    ad_of(id, ad);
    randombytes_buf(n, sizeof n);
    crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, key, sizeof key, (const unsigned char *)ad,
                                               strlen(ad), NULL, n, kek);
    sodium_memzero(key, sizeof key);
    if (clen != sizeof c) return -1;
    signkey_hex(c, sizeof c, enc);
    signkey_hex(n, sizeof n, nonce);
    return 0;
}

int webhook_unseal(const char *enc_hex, const char *nonce_hex, const unsigned char kek[32],
                   const char *id, char secret[WEBHOOK_SECRET_MAX]) {
    unsigned char key[32], n[WEBHOOK_NONCE_BYTES], c[WEBHOOK_ENC_BYTES];
    size_t nn = 0, cn = 0;
    unsigned long long klen = 0;
    char ad[64];
    secret[0] = '\0';
    if (signkey_unhex(enc_hex, c, sizeof c, &cn) != 0 || cn != sizeof c ||
        signkey_unhex(nonce_hex, n, sizeof n, &nn) != 0 || nn != sizeof n)
        return -1;
    ad_of(id, ad);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            key, &klen, NULL, c, sizeof c, (const unsigned char *)ad, strlen(ad), n, kek) != 0 ||
        klen != sizeof key) {
        sodium_memzero(key, sizeof key);
        return -1;
    }
    memcpy(secret, "whsec_", 6);
    sodium_bin2base64(secret + 6, WEBHOOK_SECRET_MAX - 6, key, sizeof key,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof key);
    return 0;
}

/* Seals one row's clear secrets (the current one, and the previous one when there is one). */
static int seal_row(db_tx_t *tx, PGresult *r, int i, const unsigned char kek[32], err_t *e) {
    const char *id = PQgetvalue(r, i, 0);
    char enc[WEBHOOK_ENC_PARAM], nonce[WEBHOOK_NONCE_PARAM];
    char penc[WEBHOOK_ENC_PARAM], pnonce[WEBHOOK_NONCE_PARAM];
    int has_cur = !PQgetisnull(r, i, 1), has_prev = !PQgetisnull(r, i, 2);
    if ((has_cur && webhook_seal(PQgetvalue(r, i, 1), kek, id, enc, nonce) != 0) ||
        (has_prev && webhook_seal(PQgetvalue(r, i, 2), kek, id, penc, pnonce) != 0))
        return err_set(e, 500, "internal", "", "webhook %s: a stored secret is not whsec_", id);
    const char *p[] = {id, has_cur ? enc : NULL, has_cur ? nonce : NULL, has_prev ? penc : NULL,
                       has_prev ? pnonce : NULL};
    return db_exec_cmd(tx,
                       "UPDATE notification.webhooks SET secret_enc = coalesce($2::bytea, "
                       "secret_enc), secret_nonce = coalesce($3::bytea, secret_nonce), "
                       "secret = NULL, previous_enc = coalesce($4::bytea, previous_enc), "
                       "previous_nonce = coalesce($5::bytea, previous_nonce), previous_secret "
                       "= NULL WHERE id = $1::uuid",
                       5, p, e) < 0
               ? -1
               : 0;
}

int notify_webhooks_seal_legacy(const svc_env_t *env, err_t *e) {
    unsigned char kek[32];
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1, n = 0;
    if (webhook_kek(env, kek, e) != 0) return -1;
    if (db_begin(env->db, &k_system, &tx, e) != 0) goto done;
    r = db_exec(tx,
                "SELECT id::text, secret, previous_secret FROM notification.webhooks WHERE "
                "secret IS NOT NULL OR previous_secret IS NOT NULL FOR UPDATE",
                0, NULL, e);
    if (!r) goto done;
    n = PQntuples(r);
    for (int i = 0; i < n; i++)
        if (seal_row(tx, r, i, kek, e) != 0) goto done;
    rc = 0;
done:
    if (r) {
        /* the clear secrets were in this result: wipe them before it is freed */
        for (int i = 0; i < PQntuples(r); i++)
            for (int c = 1; c <= 2; c++)
                if (!PQgetisnull(r, i, c))
                    sodium_memzero(PQgetvalue(r, i, c), (size_t)PQgetlength(r, i, c));
        PQclear(r);
    }
    sodium_memzero(kek, sizeof kek);
    rc = db_tx_finish(&tx, rc, NULL, e);
    return rc == 0 ? n : -1;
}
