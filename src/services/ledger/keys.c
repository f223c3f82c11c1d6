/* keys: see keys.h. */
#include "services/ledger/keys.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/ledger/engine.h"
#include "services/ledger/settings.h"

int ledger_key_create(db_tx_t *tx, const char *name, const char *club_id, uint8_t pk[32],
                      err_t *e) {
    uint8_t kek[32], sk[64], nonce[24], sealed[64 + crypto_secretbox_MACBYTES];
    if (ledger_kek(kek, e) != 0) return -1;
    crypto_sign_keypair(pk, sk);
    randombytes_buf(nonce, sizeof nonce);
    crypto_secretbox_easy(sealed, sk, sizeof sk, nonce, kek);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(kek, sizeof kek);
    char hpk[65], hn[49], hs[2 * sizeof sealed + 1];
    ledger_hex(pk, 32, hpk);
    ledger_hex(nonce, 24, hn);
    ledger_hex(sealed, sizeof sealed, hs);
    const char *p[] = {name, club_id && *club_id ? club_id : NULL, hpk, hn, hs};
    long long n = db_exec_cmd(tx,
                              "INSERT INTO ledger.keys (key_name, club_id, public_key, nonce, "
                              "sealed) VALUES ($1, $2, decode($3, 'hex'), decode($4, 'hex'), "
                              "decode($5, 'hex'))",
                              5, p, e);
    return n == 1 ? 0 : -1;
}

/* Opens one row's sealed key (hex columns pk, n, s) into sk/pk: 0, or -1 + e. */
static int key_open(const char *name, const char *hpk, const char *hn, const char *hs,
                    const uint8_t kek[32], uint8_t sk[64], uint8_t pk[32], err_t *e) {
    uint8_t nonce[24], sealed[64 + crypto_secretbox_MACBYTES], dpk[32];
    if (ledger_unhex(hpk, pk, 32) != 0 || ledger_unhex(hn, nonce, 24) != 0 ||
        ledger_unhex(hs, sealed, sizeof sealed) != 0)
        return err_set(e, 500, "internal", "", "ledger key %s is malformed", name);
    if (crypto_secretbox_open_easy(sk, sealed, sizeof sealed, nonce, kek) != 0)
        return err_set(e, 500, "internal", "RECIPROCAL_LEDGER_KEK",
                       "ledger key %s does not open with this KEK", name);
    crypto_sign_ed25519_sk_to_pk(dpk, sk);
    if (memcmp(dpk, pk, 32) != 0) {
        sodium_memzero(sk, 64);
        return err_set(e, 500, "internal", "", "ledger key %s does not match its public key", name);
    }
    return 0;
}

int ledger_key_load(db_tx_t *tx, const char *name, uint8_t sk[64], uint8_t pk[32], int *found,
                    err_t *e) {
    *found = 0;
    const char *p[] = {name};
    PGresult *r = db_exec(tx,
                          "SELECT encode(public_key, 'hex') AS pk, encode(nonce, 'hex') AS n, "
                          "encode(sealed, 'hex') AS s FROM ledger.keys WHERE key_name = $1",
                          1, p, e);
    if (!r) return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    uint8_t kek[32];
    int rc = -1;
    if (ledger_kek(kek, e) != 0) goto out;
    if (key_open(name, db_val(r, 0, "pk"), db_val(r, 0, "n"), db_val(r, 0, "s"), kek, sk, pk, e) !=
        0)
        goto out;
    *found = 1;
    rc = 0;
out:
    sodium_memzero(kek, sizeof kek);
    PQclear(r);
    return rc;
}

int ledger_keys_load_many(db_tx_t *tx, ledger_loaded_key_t *keys, size_t n, err_t *e) {
    size_t cap = 3;
    for (size_t i = 0; i < n; i++) {
        keys[i].found = 0;
        cap += strlen(keys[i].name) + 3;
    }
    if (n == 0) return 0;
    char *arr = malloc(cap); /* a text[] literal: the names are [A-Za-z0-9.-/], quoted anyway */
    if (!arr) return err_set(e, 500, "internal", "", "out of memory");
    size_t at = 0;
    arr[at++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (strpbrk(keys[i].name, "\"\\")) {
            free(arr);
            return err_set(e, 500, "internal", "", "ledger key name %s is malformed", keys[i].name);
        }
        at += (size_t)snprintf(arr + at, cap - at, "%s\"%s\"", i ? "," : "", keys[i].name);
    }
    snprintf(arr + at, cap - at, "}");
    const char *p[] = {arr};
    PGresult *r = db_exec(tx,
                          "SELECT key_name, encode(public_key, 'hex') AS pk, encode(nonce, 'hex') "
                          "AS n, encode(sealed, 'hex') AS s FROM ledger.keys WHERE key_name = "
                          "ANY($1::text[])",
                          1, p, e);
    free(arr);
    if (!r) return -1;
    uint8_t kek[32];
    int rc = ledger_kek(kek, e);
    for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
        const char *name = PQgetvalue(r, row, 0);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (keys[i].found || strcmp(keys[i].name, name) != 0) continue;
            rc = key_open(name, db_val(r, row, "pk"), db_val(r, row, "n"), db_val(r, row, "s"), kek,
                          keys[i].sk, keys[i].pk, e);
            keys[i].found = rc == 0;
        }
    }
    sodium_memzero(kek, sizeof kek);
    PQclear(r);
    if (rc != 0) ledger_keys_wipe(keys, n);
    return rc;
}

void ledger_keys_wipe(ledger_loaded_key_t *keys, size_t n) {
    for (size_t i = 0; i < n; i++) {
        sodium_memzero(keys[i].sk, sizeof keys[i].sk);
        keys[i].found = 0;
    }
}
