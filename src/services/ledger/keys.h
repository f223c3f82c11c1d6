/* keys: the ledger's private keys at rest. Each key (an organization identity "<org>/<role>", or
 * "log", the checkpoint signing key) is an Ed25519 key pair whose 64-byte libsodium secret key is
 * sealed with crypto_secretbox (XSalsa20-Poly1305, random 24-byte nonce) under the key-encryption
 * key RECIPROCAL_LEDGER_KEK (base64 of 32 bytes), and stored in ledger.keys. Owns nothing beyond
 * the caller's buffers; secret keys are wiped by the caller (sodium_memzero). */
#ifndef SERVICES_LEDGER_KEYS_H
#define SERVICES_LEDGER_KEYS_H

#include <stdint.h>

#include "core/db.h"
#include "core/err.h"

/* The KEK: ledger_kek() in settings.h. */
#include "services/ledger/settings.h"
/* Generates and stores a key pair (writer scope). 409 if the name exists. */
int ledger_key_create(db_tx_t *tx, const char *name, const char *club_id, uint8_t pk[32], err_t *e);
/* Loads and opens a key; *found = 0 when absent. */
int ledger_key_load(db_tx_t *tx, const char *name, uint8_t sk[64], uint8_t pk[32], int *found,
                    err_t *e);

/* One key to load by name ("<org>/<role>"); found, sk and pk are set by ledger_keys_load_many. */
typedef struct ledger_loaded_key {
    char name[96];
    int found;
    uint8_t sk[64], pk[32];
} ledger_loaded_key_t;
/* Loads and opens the n keys named in keys[i].name in ONE statement (a batch endorsement: one
 * read per pass instead of one per key); a key that is absent keeps found = 0. The caller wipes
 * the secret keys with ledger_keys_wipe (also on failure, where they are wiped already). */
int ledger_keys_load_many(db_tx_t *tx, ledger_loaded_key_t *keys, size_t n, err_t *e);
void ledger_keys_wipe(ledger_loaded_key_t *keys, size_t n);

#endif
