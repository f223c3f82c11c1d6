/* settings: see settings.h. */
#include "services/ledger/settings.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_ORIGIN "reciprocal-clubs.example/ledger"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static ledger_settings_t s = {{0, {0}}, DEFAULT_ORIGIN, 500, 20, 1};

void ledger_configure(const ledger_settings_t *c) {
    pthread_mutex_lock(&mu);
    s.kek = c->kek;
    if (c->origin[0] && strcmp(c->origin, s.origin) != 0)
        snprintf(s.origin, sizeof s.origin, "%s", c->origin);
    s.block_max_txs = c->block_max_txs > 0 ? c->block_max_txs : 500;
    s.block_ms = c->block_ms > 0 ? c->block_ms : 20;
    s.witness_k = c->witness_k > 0 ? c->witness_k : 1;
    pthread_mutex_unlock(&mu);
}

int ledger_kek(uint8_t kek[32], err_t *e) {
    if (sodium_init() < 0) return err_set(e, 500, "internal", "", "libsodium init failed");
    pthread_mutex_lock(&mu);
    cfg_key_t k = s.kek;
    pthread_mutex_unlock(&mu);
    int rc = cfg_key_require(&k, "RECIPROCAL_LEDGER_KEK", 503, "unavailable", e);
    if (rc == 0) memcpy(kek, k.key, 32);
    sodium_memzero(&k, sizeof k);
    return rc;
}

int ledger_require_kek(err_t *e) {
    pthread_mutex_lock(&mu);
    cfg_key_t k = {.set = s.kek.set};
    pthread_mutex_unlock(&mu);
    return cfg_key_require(&k, "RECIPROCAL_LEDGER_KEK", 500, "invalid_config", e);
}

const char *ledger_origin(void) {
    return s.origin; /* written only by ledger_configure, before the ledger is used */
}

#define GETTER(name, field)                                                                        \
    int name(void) {                                                                               \
        pthread_mutex_lock(&mu);                                                                   \
        int v = s.field;                                                                           \
        pthread_mutex_unlock(&mu);                                                                 \
        return v;                                                                                  \
    }
GETTER(ledger_block_max_txs, block_max_txs)
GETTER(ledger_block_ms, block_ms)
GETTER(ledger_witness_k, witness_k)
