/* settings: the ledger's settings, taken from the process configuration (cfg_t, read once by
 * core/config from RECIPROCAL_LEDGER_* variables) by ledger_configure(): the KEK that seals the
 * ledger keys, the checkpoint origin, block size and time, and the witness quorum k.
 * Owns one process-wide copy (the ledger runs once per process); until ledger_configure() is
 * called the defaults apply and there is no KEK. */
#ifndef SERVICES_LEDGER_SETTINGS_H
#define SERVICES_LEDGER_SETTINGS_H

#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

/* Copies the ledger's settings from c. Call before using the ledger (the service's start hook,
 * the `reciprocal ledger` command, tests). Thread-safe; later calls replace the values. */
void ledger_configure(const cfg_t *c);

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
