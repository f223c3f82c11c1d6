/* ledger: the ledger service module. Owns the PostgreSQL schema `ledger` (chain, world state,
 * log subtrees, checkpoints, witnesses, sealed keys), the JetStream streams LEDGER_TX and
 * LEDGER_BLOCKS, and declares the service's single operation table (REST under
 * /api/v1/ledger/, permissions ledger:read and ledger:write), its variables
 * (RECIPROCAL_LEDGER_*) and the `reciprocal ledger` command (export, verify). See docs/ledger.md.
 */
#ifndef SERVICES_LEDGER_LEDGER_H
#define SERVICES_LEDGER_LEDGER_H

#include "core/config.h"
#include "core/service.h"

extern const svc_module_t ledger_module;

/* `reciprocal ledger export FILE` | `reciprocal ledger verify FILE [--log-key HEX]`.
 * Returns the process exit status (0 = valid / written). */
int ledger_cli(const svc_env_t *env, int argc, char **argv);

#endif
