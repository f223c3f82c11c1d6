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
    uint8_t kek[32], nonce[24], sealed[64 + crypto_secretbox_MACBYTES];
    int rc = -1;
    if (ledger_kek(kek, e) != 0) goto out;
    if (ledger_unhex(db_val(r, 0, "pk"), pk, 32) != 0 ||
        ledger_unhex(db_val(r, 0, "n"), nonce, 24) != 0 ||
        ledger_unhex(db_val(r, 0, "s"), sealed, sizeof sealed) != 0) {
        err_set(e, 500, "internal", "", "ledger key %s is malformed", name);
        goto out;
    }
    if (crypto_secretbox_open_easy(sk, sealed, sizeof sealed, nonce, kek) != 0) {
        err_set(e, 500, "internal", "RECIPROCAL_LEDGER_KEK",
                "ledger key %s does not open with this KEK", name);
        goto out;
    }
    uint8_t dpk[32];
    crypto_sign_ed25519_sk_to_pk(dpk, sk);
    if (memcmp(dpk, pk, 32) != 0) {
        sodium_memzero(sk, 64);
        err_set(e, 500, "internal", "", "ledger key %s does not match its public key", name);
        goto out;
    }
    *found = 1;
    rc = 0;
out:
    sodium_memzero(kek, sizeof kek);
    PQclear(r);
    return rc;
}
