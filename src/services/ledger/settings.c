/* settings: see settings.h. */
#include "services/ledger/settings.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_ORIGIN "reciprocal-clubs.example/ledger"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int kek_set;
    uint8_t kek[32];
    char origin[128];
    int block_max_txs, block_ms, witness_k;
} s = {0, {0}, DEFAULT_ORIGIN, 500, 20, 1};

void ledger_configure(const cfg_t *c) {
    pthread_mutex_lock(&mu);
    s.kek_set = c->ledger_kek_set;
    memcpy(s.kek, c->ledger_kek, 32);
    if (c->ledger_origin[0] && strcmp(c->ledger_origin, s.origin) != 0)
        snprintf(s.origin, sizeof s.origin, "%s", c->ledger_origin);
    s.block_max_txs = c->ledger_block_max_txs > 0 ? c->ledger_block_max_txs : 500;
    s.block_ms = c->ledger_block_ms > 0 ? c->ledger_block_ms : 20;
    s.witness_k = c->ledger_witness_k > 0 ? c->ledger_witness_k : 1;
    pthread_mutex_unlock(&mu);
}

int ledger_kek(uint8_t kek[32], err_t *e) {
    if (sodium_init() < 0) return err_set(e, 500, "internal", "", "libsodium init failed");
    pthread_mutex_lock(&mu);
    int set = s.kek_set;
    if (set) memcpy(kek, s.kek, 32);
    pthread_mutex_unlock(&mu);
    if (!set)
        return err_set(e, 503, "unavailable", "RECIPROCAL_LEDGER_KEK",
                       "RECIPROCAL_LEDGER_KEK (base64 of 32 random bytes) is not set");
    return 0;
}

int ledger_require_kek(err_t *e) {
    pthread_mutex_lock(&mu);
    int set = s.kek_set;
    pthread_mutex_unlock(&mu);
    if (set) return 0;
    return err_set(e, 500, "invalid_config", "RECIPROCAL_LEDGER_KEK",
                   "RECIPROCAL_LEDGER_KEK is not set: the ledger needs a 32-byte key-encryption "
                   "key in base64 (head -c 32 /dev/urandom | base64)");
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
