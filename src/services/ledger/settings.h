/* settings: the ledger's settings, the module's RECIPROCAL_LEDGER_* variables
 * (ledger_module.config, rows in ledger.c, loaded with every module's by svc_settings_load), copied
 * by ledger_configure(): the KEK that seals the ledger keys, the checkpoint origin, block size and
 * time, and the witness quorum k.
 * Owns one process-wide copy (the ledger runs once per process); until ledger_configure() is
 * called the defaults apply and there is no KEK. */
#ifndef SERVICES_LEDGER_SETTINGS_H
#define SERVICES_LEDGER_SETTINGS_H

#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/service.h"

typedef struct ledger_settings {
    cfg_key_t kek;     /* RECIPROCAL_LEDGER_KEK (required where the ledger runs) */
    char origin[128];  /* RECIPROCAL_LEDGER_ORIGIN: checkpoint origin line */
    int block_max_txs; /* RECIPROCAL_LEDGER_BLOCK_MAX_TXS (500) */
    int block_ms;      /* RECIPROCAL_LEDGER_BLOCK_MS (20) */
    int witness_k;     /* RECIPROCAL_LEDGER_WITNESS_K (1) */
} ledger_settings_t;

/* Only the ledger's variables, from get (NULL = getenv), for tools and tests without a module
 * registry: 0 or -1 + 500 invalid_config naming the variable. */
int ledger_settings_load(ledger_settings_t *out, cfg_getenv_fn get, err_t *e);
/* The module's settings of env (svc_settings): never NULL. */
const ledger_settings_t *ledger_settings(const svc_env_t *env);

/* Copies the ledger's settings from c. Call before using the ledger (the service's start hook,
 * the `reciprocal ledger` command, tests). Thread-safe; later calls replace the values. */
void ledger_configure(const ledger_settings_t *c);

/* The KEK: 0, or -1 with 503 "unavailable", field RECIPROCAL_LEDGER_KEK when not configured. */
int ledger_kek(uint8_t kek[32], err_t *e);
/* 0 when a KEK is configured, else -1 with 500 "invalid_config" and how to make one (for
 * startup checks). */
int ledger_require_kek(err_t *e);
const char *ledger_origin(void); /* static storage, stable after configure */
int ledger_block_max_txs(void);
int ledger_block_ms(void);
int ledger_witness_k(void);

#endif
